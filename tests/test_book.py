"""The book (`make book`, scripts/build_book.py): one static page per executed notebook.

* the builder, on small executed notebooks made here: pages with their figures and
  animations, the course map as index, widgets replaced by a note with the links to run them,
  progress bars dropped, no widget state and no require.js fetch; a missing executed copy is
  executed (papermill), the others are not run again;
* the real book (marked ``book``; `make test` runs it with ``--book`` after building the book
  from the notebooks its own pytest run executed): every notebook in notebooks/ has its page,
  with at least as many embedded figures as the executed notebook has PNG outputs (and at
  least one), its animations, and the Binder and Colab links.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import pytest

from gannotes.links import binder_url, colab_url

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book)

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082"
    )
).decode()


def _nb(title: str, outputs: list[dict]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": [
                    f"# {title}\n",
                    "\n",
                    "A *first* paragraph,\n",
                    "on two lines.\n",
                    "\n",
                    "**Time:** about 1 min on a laptop CPU.\n",
                ],
            },
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": ["print('hi')"],
                "outputs": outputs,
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _widget(text: str) -> dict:
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
            "text/plain": [text],
        },
    }


def _figure() -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG}}


def _write(dir_: Path, name: str, nb: dict) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / name).write_text(json.dumps(nb))


def test_pages_keep_figures_and_replace_widgets(tmp_path):
    src, ran, out = tmp_path / "nb", tmp_path / "ran", tmp_path / "book"
    anim = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": ['<div class="gan-anim"><img id="x-frame"></div>']},
    }
    one = [
        _figure(),
        _figure(),
        _widget("VBox(children=(FloatSlider(value=0.0),))"),
        _widget("HBox(children=(HTML(value=''), FloatProgress(value=0.0, max=10.0)))"),
        anim,
    ]
    for name, outputs in (("00_a.ipynb", one), ("01_b.ipynb", [_figure()])):
        _write(src, name, _nb(f"Notebook {name[:2]}", []))  # the source: no outputs
        _write(ran, name, _nb(f"Notebook {name[:2]}", outputs))
    pages = book.build(src, ran, out, tmp_path / "results")
    assert [p.name for p in pages] == ["index.html", "00_a.html", "01_b.html"]

    index = pages[0].read_text()
    assert 'href="00_a.html"' in index and 'href="01_b.html"' in index
    assert "<em>first</em> paragraph, on two lines." in index
    assert "about 1 min on a laptop CPU." in index

    page = pages[1].read_text()
    assert page.count(f"data:image/png;base64,{PNG}") == 2  # both figures, embedded
    assert 'class="gan-anim"' in page
    assert "VBox(children" not in page and "FloatProgress" not in page
    assert page.count('class="book-widget"') == 1  # the slider's note; the progress bar dropped
    assert binder_url("00_a.ipynb") in page and colab_url("00_a.ipynb") in page
    assert 'href="01_b.html"' in page and 'href="index.html"' in page  # next, course map
    assert not re.search(r'<script[^>]*src="https?://[^"]*require', page)
    assert "application/vnd.jupyter.widget-state" not in page
    assert 'href="00_a.html"' in pages[2].read_text()  # previous


def test_a_notebook_without_executed_copy_is_executed_once(tmp_path, monkeypatch, capsys):
    src, ran = tmp_path / "nb", tmp_path / "ran"
    _write(src, "00_a.ipynb", _nb("A", []))
    _write(src, "01_b.ipynb", _nb("B", []))
    _write(ran, "00_a.ipynb", _nb("A", [_figure()]))
    executed = []

    def fake_execute(path, dest, results):
        executed.append(path.name)
        _write(dest.parent, dest.name, _nb("B", [_figure()]))

    monkeypatch.setattr(book, "execute", fake_execute)
    book.build(src, ran, tmp_path / "book", tmp_path / "results")
    assert executed == ["01_b.ipynb"]  # 00 had its executed copy: not run again
    assert "01_b.ipynb: no executed copy" in capsys.readouterr().out


def test_no_notebooks_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no notebooks NN_name.ipynb in"):
        book.build(tmp_path, tmp_path, tmp_path / "book", tmp_path)


def _png_outputs(nb: dict) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )


@pytest.mark.book
@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem
)
def test_every_notebook_is_a_page_with_its_figures(path):
    executed = ROOT / "build" / "notebooks" / path.name
    page = ROOT / "build" / "book" / f"{path.stem}.html"
    assert executed.is_file(), f"no executed {path.name}: run `make test` or `make book`"
    assert page.is_file(), f"no page for {path.name}: run `make book`"
    assert page.stat().st_mtime >= executed.stat().st_mtime, "the page predates the run"
    nb = json.loads(executed.read_text())
    html = page.read_text()
    figures = _png_outputs(nb)
    assert figures >= 1, f"{path.name}: the executed notebook has no figure"
    assert html.count("data:image/png;base64,") >= figures
    anims = sum(
        "gan-anim" in "".join(out.get("data", {}).get("text/html", ""))
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )
    assert html.count('class="gan-anim"') >= anims
    assert "VBox(children" not in html and "HBox(children" not in html
    assert binder_url(path.name) in html and colab_url(path.name) in html
    index = (ROOT / "build" / "book" / "index.html").read_text()
    assert f'href="{path.stem}.html"' in index


@pytest.mark.book
def test_a_learners_saved_notebook_stays_a_few_mb():
    """Issue 14: notebook 01 saved after a run weighed 8.9 MB (a 6.2 MB animation). Every
    notebook as executed at its default budget (what a learner saves) stays under 3 MB."""
    sizes = {
        p.name: p.stat().st_size / 1e6 for p in sorted((ROOT / "build" / "notebooks").glob("*"))
    }
    assert len(sizes) >= 10, sizes
    big = {name: round(mb, 2) for name, mb in sizes.items() if mb > 3.0}
    assert not big, f"executed notebooks over 3 MB: {big}"
