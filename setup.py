"""Copies the repository's data/ into the built package as gannotes/_data/ (see pyproject.toml).

Everything else about the package is declared in pyproject.toml. The copy is made only in the
build directory, never in the source tree, and not for an editable install, which reads data/
where it is (gannotes.paths.data_dir).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = Path(__file__).resolve().parent / "data"


class build_py_with_data(build_py):
    def run(self):
        if getattr(self, "editable_mode", False):
            return super().run()
        # a fresh copy of the package: no module or data file left over from an earlier build
        shutil.rmtree(Path(self.build_lib) / "gannotes", ignore_errors=True)
        super().run()
        if not (DATA / "fashion-mnist-subset").is_dir():
            raise SystemExit(f"{DATA} lacks fashion-mnist-subset/: build from a full clone")
        target = Path(self.build_lib) / "gannotes" / "_data"
        shutil.copytree(DATA, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))


setup(cmdclass={"build_py": build_py_with_data})
