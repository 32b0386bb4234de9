"""Colab only: install the course's package from its clone and work in its notebooks/ folder.

Each notebook's first (set-up) cell clones the repository to /content/gannotes on Colab and then
runs this file in the notebook's own Python process, so that what it does to ``sys.path`` and to
the working directory lasts for the session:

    if "google.colab" in str(get_ipython()):  # Colab only: fetch and install the course
        ![ -d /content/gannotes ] || git clone -q --depth 1 https://github.com/gannotes/gannotes ...
        %run /content/gannotes/scripts/colab_setup.py

Elsewhere (your machine, Binder) the package is installed already and the cell does nothing.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the clone

# --no-deps: reuse Colab's own torch, numpy and ipywidgets instead of replacing them. The editable
# install serves new processes (torchrun, `python -m gannotes` in notebooks 08 and 09) ...
subprocess.run(
    [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True
)
# ... and this one sees it only after a restart, so it imports from the clone directly.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The notebooks read ../data, ../benchmarks and write ../build from the folder they are in.
os.chdir(ROOT / "notebooks")
