"""Where the course's files are: one function decides, :func:`data_dir`.

The repository keeps its files in ``data/`` beside the package: the Fashion-MNIST subset
(``fashion-mnist-subset/``), the feature network (``features/fashion_cnn.pt``) and the shipped
checkpoints (``checkpoints/*.pt``). A clone and an editable install (``pip install -e .``) read
that folder. A wheel (``pip install .``, ``pip wheel .``) carries a copy of it as
``gannotes/_data/`` (``setup.py`` copies it in at build time; the source tree never has one), so
an installed package works offline and outside the repository.
"""

from __future__ import annotations

from pathlib import Path

from .links import REPO_URL

__all__ = ["data_dir", "missing_message", "shipped_checkpoint", "shipped_checkpoints"]

_PACKAGE = Path(__file__).resolve().parent
_INSTALLED_DATA = _PACKAGE / "_data"  # only a built wheel has it
_REPO_DATA = _PACKAGE.parent / "data"  # a clone or an editable install


def data_dir() -> Path:
    """The course's ``data/``: the installed package's copy where there is one (a wheel), else
    the repository's ``data/`` beside the package (a clone or an editable install).

    The installed copy is asked for first: ``_data`` exists only in a wheel, whereas a
    ``data`` folder beside an installed package may be some other distribution's files in
    site-packages. A checkout is told by its pyproject.toml. The folder returned may not exist
    (a package without its data); its files are checked where they are used, with
    :func:`missing_message` as the error."""
    if _INSTALLED_DATA.is_dir() or not (_PACKAGE.parent / "pyproject.toml").is_file():
        return _INSTALLED_DATA
    return _REPO_DATA


def missing_message(what: str, relative: str, path: Path | None = None) -> str:
    """One line: ``what`` is not at ``path`` (default ``data_dir() / relative``) and where to
    get it: ``data/<relative>`` of the repository."""
    path = data_dir() / relative if path is None else path
    return (
        f"{what} not found at {path}; get the folder data/{relative} of "
        f"{REPO_URL} (a clone of the repository has it)"
    )


def shipped_checkpoints() -> list[str]:
    """The names of the checkpoints the course ships (``dcgan``, ``stylegan``, ...)."""
    return sorted(p.stem for p in (data_dir() / "checkpoints").glob("*.pt"))


def shipped_checkpoint(name: str) -> Path | None:
    """The shipped checkpoint called ``name`` (``"dcgan"`` or ``"dcgan.pt"``), if there is one."""
    if not name or Path(name).name != name:
        return None
    path = data_dir() / "checkpoints" / (name if name.endswith(".pt") else f"{name}.pt")
    return path if path.is_file() else None
