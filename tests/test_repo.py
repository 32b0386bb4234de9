"""The repository's promises: layout, badges derived from one URL, Binder and data set-up."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gannotes.links import REPO_URL, badges_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_top_level_layout():
    for name in (
        "README.md",
        "environment.yml",
        "notebooks",
        "gannotes",
        "tests",
        "data",
        "binder",
        "pyproject.toml",
        "Makefile",
        ".ci/run",
    ):
        assert (ROOT / name).exists(), name


def test_readme_has_the_two_commands_and_badges_from_the_one_url():
    text = (ROOT / "README.md").read_text()
    assert "make lab" in text and "make test" in text
    assert badges_markdown("00_welcome.ipynb") in text
    urls = set(re.findall(r"github(?:\.com)?/([\w-]+/[\w-]+)", text))
    assert urls <= {REPO_URL.removeprefix("https://github.com/"), "zalandoresearch/fashion-mnist"}


def test_dependencies_are_lower_bounds_not_pins():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not [d for d in deps if "==" in d or "<" in d]
    names = {re.split(r"[<>=\[ ]", d)[0] for d in deps}
    assert {
        "torch",
        "numpy",
        "matplotlib",
        "tqdm",
        "jupyterlab",
        "ipywidgets",
        "nbval",
        "papermill",
        "torchvision",
    } <= names


def test_one_torch_minimum_everywhere():
    """torch 2.6 added torch.nn.utils.get_total_norm and clip_grads_with_norm_, which the
    training step uses: every install route states that minimum."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch>=2.6" in project["dependencies"]
    assert "pytorch>=2.6" in (ROOT / "environment.yml").read_text()
    assert "torch>=2.6" in (ROOT / "binder" / "requirements.txt").read_text().split()
    assert "`torch>=2.6`" in (ROOT / "README.md").read_text()
    import torch

    assert hasattr(torch.nn.utils, "get_total_norm") and hasattr(
        torch.nn.utils, "clip_grads_with_norm_"
    )


def test_binder_uses_cpu_torch_and_installs_without_resolving():
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in requirements
    assert "torch>=2.6" in requirements.split()
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post


def test_data_readme_lists_the_shipped_files_checksums():
    readme = (ROOT / "data" / "README.md").read_text()
    subset = ROOT / "data" / "fashion-mnist-subset"
    for path in sorted(subset.glob("*.gz")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in readme, path.name
    assert "MIT" in readme


def test_the_package_imports_without_jupyter():
    code = (
        "import sys, gannotes.cli, gannotes.data, gannotes.losses, gannotes.models, "
        "gannotes.training, gannotes.viz, gannotes.checkpoint, gannotes.widgets, gannotes.metrics, "
        "gannotes.features, gannotes.evaluation, gannotes.tricks, gannotes.hardware, "
        "gannotes.exercises, gannotes.gans, gannotes.config, gannotes.wasserstein, "
        "gannotes.translation\n"
        "bad = {m.split('.')[0] for m in sys.modules} & {'IPython', 'ipywidgets', 'jupyterlab',"
        " 'nbformat', 'ipykernel'}\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_make_lab_opens_the_first_notebook_with_every_notebook_in_reach():
    """`make lab` opens 00_welcome.ipynb (not JupyterLab's Launcher) on a server whose root is
    notebooks/, so the file browser shows every notebook; LAB_ARGS still reach the command."""
    makefile = (ROOT / "Makefile").read_text()
    if shutil.which("make"):
        # -o: treat the venv's stamp as up to date, so the dry run prints only the lab command.
        out = subprocess.run(
            [
                "make",
                "-n",
                "lab",
                "LAB_ARGS=--no-browser",
                "VENV=/no/venv",
                "-o",
                "/no/venv/.installed",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (command,) = [line for line in out.splitlines() if " lab " in line]
    else:
        (command,) = re.findall(r"^\t\$\(BIN\)/jupyter lab .*$", makefile, flags=re.MULTILINE)
        command += " --no-browser"
    args = command.split()
    assert "notebooks/00_welcome.ipynb" in args and (ROOT / "notebooks/00_welcome.ipynb").exists()
    assert "--ServerApp.root_dir=notebooks" in args
    assert "notebooks/" not in args  # the old form: a directory, which opens the Launcher
    assert args[-1] == "--no-browser"
