#!/usr/bin/env python3
"""Strip outputs from Jupyter notebooks (json only, no nbformat needed).

For every code cell: clear ``outputs`` and ``execution_count`` and drop
``metadata.execution`` (timings) and ``metadata.papermill``. Also drops the
notebook-level ``metadata.papermill`` and ``metadata.widgets`` (widget state).
Everything else a cell's metadata says is kept: its ``tags`` (``parameters``, ``setup``) and
``jupyter.source_hidden`` (the set-up and parameters cells open collapsed in JupyterLab).
Files are rewritten atomically, and only when their content changes
(formatting alone never makes a notebook dirty).

    python scripts/strip_notebooks.py notebooks            # strip in place
    python scripts/strip_notebooks.py --check notebooks    # exit 1 and list dirty notebooks

Arguments may be notebooks or directories (searched recursively, skipping
.ipynb_checkpoints).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

CELL_META_DROP = ("execution", "papermill")
NB_META_DROP = ("papermill", "widgets")


def strip(nb: dict) -> dict:
    """Return nb with outputs and run-time metadata removed (mutates and returns nb)."""
    for key in NB_META_DROP:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in CELL_META_DROP:
            meta.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def dump(nb: dict) -> str:
    # Jupyter's own on-disk style: indent 1, keys sorted, non-ASCII kept, final newline.
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def find(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb":
            found.append(p)
        else:
            raise SystemExit(f"not a notebook or directory: {p}")
    return found


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("notebooks")])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 listing notebooks that need stripping",
    )
    args = parser.parse_args(argv)

    dirty = []
    for path in find(args.paths):
        original = json.loads(path.read_text(encoding="utf-8"))
        stripped = strip(copy.deepcopy(original))
        if stripped == original:  # compare content, not formatting
            continue
        dirty.append(path)
        if not args.check:
            write_atomic(path, dump(stripped))
            print(f"stripped {path}")
    if args.check and dirty:
        print(
            "notebooks with outputs or run metadata (run `make clean-notebooks`):", file=sys.stderr
        )
        for path in dirty:
            print(f"  {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
