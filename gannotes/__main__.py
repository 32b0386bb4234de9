"""``python -m gannotes``: see :mod:`gannotes.cli`."""

import sys

from .cli import main

sys.exit(main())
