"""The package as a user installs it: a wheel, not the checkout.

The wheel is built from a copy of the repository's packaging files (so the checkout's build/ is
neither read nor written), offline, with the test venv's setuptools; it is installed into a fresh
venv that cannot see the checkout: the test venv's packages (torch, numpy, ...) are lent to it
through a folder of links that leaves out the editable gannotes install. Then, from a folder
outside the repository, every module is imported and the CLI trains, samples (a run and a
shipped checkpoint by name) and evaluates (the shipped subset and feature network), all from
the wheel's own copy of data/ (gannotes/_data). About 30 s of CPU time (40-90 s on a busy 2-core machine).
"""

from __future__ import annotations

import json
import os
import pkgutil
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

import gannotes
from gannotes import cli, data, paths
from gannotes.links import REPO_URL

ROOT = Path(__file__).resolve().parents[1]
# What a wheel is built from: pyproject.toml and setup.py, README.md (the long description),
# LICENSE, the package and the data/ it carries.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(
        PYTHONNOUSERSITE="1",  # no ~/.local packages
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        OMP_NUM_THREADS="1",
    )
    return env


def _run(cmd: list, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def _lend_packages(purelib: Path, links: Path) -> None:
    """Make this venv's packages importable in the fresh venv at ``purelib``, except gannotes:
    one symlink per entry of our site-packages (not the editable install's finder, .pth and
    dist-info, which would lead back to the checkout), named by a .pth file."""
    links.mkdir()
    ours = {Path(p).resolve() for p in site.getsitepackages()}
    for directory in ours:
        for entry in directory.iterdir():
            name = entry.name
            if name.startswith(("gannotes", "__editable__")) or name.endswith(".pth"):
                continue
            if not (links / name).exists():
                (links / name).symlink_to(entry)
    (purelib / "_lent_packages.pth").write_text(f"{links}\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with the wheel installed, a working folder outside the repo)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        shutil.copy2(ROOT / name, src / name)
    for name in ("gannotes", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    dist = tmp / "dist"
    # --no-build-isolation: the test venv's setuptools builds it (no download).
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "--no-index", "-w", dist, src], cwd=tmp)
    (wheel,) = dist.glob("gannotes-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp
        ).stdout.strip()
    )
    _lend_packages(purelib, tmp / "lent")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=tmp)
    work = tmp / "work"
    work.mkdir()
    return python, work, wheel


@pytest.mark.wheel
def test_wheel_holds_every_module_and_the_data(installed):
    import zipfile

    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gannotes").rglob("*.py")}
    assert modules <= names, f"left out of the wheel: {sorted(modules - names)}"
    shipped = {
        "gannotes/_data/" + p.relative_to(ROOT / "data").as_posix()
        for p in (ROOT / "data").rglob("*")
        if p.is_file()
    }
    assert shipped <= names, f"data left out of the wheel: {sorted(shipped - names)}"
    assert not any(n.startswith(("data/", "tests/", "notebooks/")) for n in names)


@pytest.mark.wheel
def test_installed_package_imports_every_module_from_the_wheel(installed):
    python, work, _ = installed
    script = (
        "import importlib, json, pkgutil, gannotes\n"
        "from gannotes.paths import data_dir\n"
        "names = [m.name for m in pkgutil.walk_packages(gannotes.__path__, 'gannotes.')]\n"
        "for n in names: n.endswith('__main__') or importlib.import_module(n)\n"
        "print(json.dumps({'file': gannotes.__file__, 'data': str(data_dir()), 'modules': names}))"
    )
    out = json.loads(_run([python, "-c", script], cwd=work).stdout)
    venv = python.parent.parent
    assert Path(out["file"]).is_relative_to(venv), out["file"]  # the wheel's, not the checkout's
    assert Path(out["data"]) == Path(out["file"]).parent / "_data"
    ours = {m.name for m in pkgutil.walk_packages(gannotes.__path__, "gannotes.")}
    assert set(out["modules"]) == ours


@pytest.mark.wheel
def test_installed_cli_trains_samples_and_evaluates(installed):
    python, work, _ = installed
    venv = python.parent.parent
    gan = [python, "-m", "gannotes"]
    _run(
        [*gan, "train", "dcgan", "--dataset", "fashion-mnist", "--steps", "2", "--out", "run"], work
    )
    assert (work / "run" / "checkpoint.pt").is_file()
    source = json.loads((work / "run" / "run.json").read_text())["sessions"][-1]["data"]
    # The full set where Debian's package is installed, else the wheel's subset; never the
    # checkout's data/.
    assert "/usr/share/datasets/fashion-mnist" in source or str(venv) in source, source
    assert str(ROOT / "data") not in source

    _run([*gan, "sample", "run", "--n", "4", "--out", "x.npy"], work)
    # A shipped checkpoint by name, and the metrics (the shipped subset and feature network).
    _run([*gan, "sample", "dcgan", "--n", "64", "--out", "d.npy"], work)
    scores = json.loads(
        _run([*gan, "evaluate", "d.npy", "--dataset", "fashion-mnist"], work).stdout
    )
    assert scores["n"] == 64 and scores["fid"] > 0
    assert (work / "x.npy").is_file() and (work / "d.npy").is_file()


@pytest.mark.wheel
def test_installed_cli_without_its_data_says_where_to_get_it(installed):
    python, work, _ = installed
    package = python.parent.parent / "lib"
    (shipped,) = package.glob("python*/site-packages/gannotes/_data")
    hidden = shipped.with_name("_data_hidden")
    shipped.rename(hidden)
    try:
        gan = [python, "-m", "gannotes"]
        for cmd, what in (
            (["sample", "dcgan", "--n", "4", "--out", "y.npy"], "data/checkpoints"),
            # the place the wheel's copy belongs, not a data/ beside the package
            (["evaluate", "x.npy", "--dataset", "fashion-mnist"], "gannotes/_data/"),
        ):
            proc = _run([*gan, *cmd], work, check=False)
            assert proc.returncode == 1, proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
            assert REPO_URL in lines[0] and what in lines[0], lines[0]
    finally:
        hidden.rename(shipped)


# ----------------------------------------------------------------------------- in this process


def test_the_checkout_reads_its_own_data_folder():
    """A clone (or the editable install CI uses) reads data/ beside the package."""
    assert paths.data_dir() == ROOT / "data"
    assert data._SUBSET_DIR == ROOT / "data" / "fashion-mnist-subset"
    assert paths.shipped_checkpoint("dcgan") == ROOT / "data" / "checkpoints" / "dcgan.pt"
    assert paths.shipped_checkpoint("dcgan.pt") == paths.shipped_checkpoint("dcgan")
    assert paths.shipped_checkpoint("data/checkpoints/dcgan") is None
    assert paths.shipped_checkpoint("nothing") is None


def test_train_without_any_fashion_mnist_is_one_line(tmp_path, monkeypatch, capsys):
    """No Debian package, cache, download or subset: one line naming where to get the data."""
    monkeypatch.delenv("GANNOTES_DATA", raising=False)
    monkeypatch.setattr(data, "_SYSTEM_DIRS", (tmp_path / "none-system",))
    monkeypatch.setattr(data, "_CACHE_ROOTS", (tmp_path / "none-cache",))
    monkeypatch.setattr(data, "_SUBSET_DIR", tmp_path / "none-subset")
    monkeypatch.setattr(data, "_network_available", lambda timeout=2.0: False)
    monkeypatch.chdir(tmp_path)
    argv = ["train", "dcgan", "--dataset", "fashion-mnist", "--steps", "2", "--out", "run"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gannotes train: error: Fashion-MNIST was not found")
    assert f"data/fashion-mnist-subset of {REPO_URL}" in err[0]


def test_venv_used_here_can_build_a_wheel_offline():
    """`pip wheel --no-build-isolation` needs setuptools in this venv (the test extra)."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    assert (major, minor) >= (70, 1), setuptools.__version__  # bdist_wheel without `wheel`
