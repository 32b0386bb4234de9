"""The repository's address, defined once; every badge and install line derives from it."""

from __future__ import annotations

__all__ = ["BRANCH", "REPO", "REPO_URL", "badges_markdown", "binder_url", "colab_url"]

REPO = "gannotes/gannotes"  # owner/name on GitHub
REPO_URL = f"https://github.com/{REPO}"
BRANCH = "main"


def binder_url(notebook: str) -> str:
    """Binder link that opens ``notebook`` (e.g. "00_welcome.ipynb") in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def colab_url(notebook: str) -> str:
    """Colab link that opens ``notebook`` from the repository."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{notebook}"


def badges_markdown(notebook: str) -> str:
    """The two badges (Binder, Colab) for ``notebook``, as one Markdown line."""
    return (
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)}) "
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook)})"
    )
