#!/usr/bin/env python3
"""Binder and Colab badges for README.md, derived from the one REPO_URL comment in it.

python scripts/badges.py           # print the badge lines for the README's REPO_URL
python scripts/badges.py --check   # exit 1 unless README.md contains exactly those lines
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BRANCH = "main"
NOTEBOOK = "notebooks/00_welcome.ipynb"


def repo_url(text: str) -> str:
    m = re.search(r"<!-- REPO_URL: (https://github\.com/[\w.-]+/[\w.-]+)", text)
    if not m:
        raise SystemExit(f"{README}: no '<!-- REPO_URL: https://github.com/OWNER/NAME' comment")
    return m.group(1)


def badges(url: str) -> list[str]:
    slug = url.removeprefix("https://github.com/")
    binder = f"https://mybinder.org/v2/gh/{slug}/{BRANCH}?urlpath=lab/tree/{NOTEBOOK}"
    colab = f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/{NOTEBOOK}"
    return [
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})",
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify README.md instead of printing")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    lines = badges(repo_url(text))
    if not args.check:
        print("\n".join(lines))
        return 0
    missing = [line for line in lines if line not in text.splitlines()]
    for line in missing:
        print(f"README.md lacks: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
