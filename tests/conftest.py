"""Fixtures shared by the test modules."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_cli():
    """Run ``python -m gannotes ARGS`` in a subprocess, as a user would; returns the result."""

    def run(*args, cwd=None):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, "-m", "gannotes", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=300,
        )

    return run


def pytest_addoption(parser):
    parser.addoption(
        "--book",
        action="store_true",
        help="also check the built book (build/book); `make test` passes it after building it",
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked ``book`` check the book built from this run's executed notebooks, so they
    run only in `make test`'s last step (``pytest --book``), after `scripts/build_book.py`."""
    if config.getoption("--book"):
        return
    skip = pytest.mark.skip(reason="checks build/book: run by `make test` (pytest --book)")
    for item in items:
        if "book" in item.keywords:
            item.add_marker(skip)
