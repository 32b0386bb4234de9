"""The book (`make book`, scripts/build_book.py): one static page per executed notebook.

* the builder, on small executed notebooks made here: pages with their figures and
  animations, the course map as index (times in whole sentences), each widget as its still
  with a caption of its settings and the links to run it (or, without a still, as the saved
  widget state shows it), progress bars dropped, no widget state and no require.js fetch,
  MathJax copied into the book and loaded from it, hidden inputs collapsed, papermill's
  injected parameters dropped and no machine path left; a missing executed copy is executed
  (papermill), the others are not run again;
* the real book (marked ``book``; `make test` runs it with ``--book`` after building the book
  from the notebooks its own pytest run executed): every notebook in notebooks/ has its page,
  with at least as many embedded figures as the executed notebook has PNG outputs (and at
  least one), its animations, an image at every widget and no line saying a kernel is needed,
  its hidden cells collapsed, no path of the machine, and the Binder and Colab links; the
  course map's times are whole sentences of the notebooks' own; and in Chromium, with every
  request that would leave the machine refused, every page loads and its formulas render.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import os
import re
import shutil
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
                    "\n",
                    "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/x)\n",
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


def _widget(text: str, still: str | None = None, model_id: str = "abc") -> dict:
    """A widget's output; with ``still``, as gannotes.viz.with_still displays it."""
    out = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": model_id, "version_major": 2},
            "text/plain": [text],
        },
    }
    if still is not None:
        out["data"]["image/png"] = PNG
        out["metadata"] = {book.STILL_KEY: {"settings": still}}
    return out


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
        _widget("VBox(children=(FloatSlider(value=0.0),))", still="psi = 1, 0.5 <&>"),
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
    assert page.count(f"data:image/png;base64,{PNG}") == 3  # both figures and the still
    assert 'class="gan-anim"' in page
    assert "VBox(children" not in page and "FloatProgress" not in page
    assert page.count('class="book-widget"') == 1  # the still's caption; the progress bar dropped
    assert "Shown at psi = 1, 0.5 &lt;&amp;&gt;; run the notebook for the live widget" in page
    assert "it needs a running notebook" not in page
    assert "badge_logo.svg" not in page and '<a href="https://mybinder.org/x">Binder</a>' in page
    assert binder_url("00_a.ipynb") in page and colab_url("00_a.ipynb") in page
    assert 'href="01_b.html"' in page and 'href="index.html"' in page  # next, course map
    assert not re.search(r'<script[^>]*src="https?://[^"]*require', page)
    assert "application/vnd.jupyter.widget-state" not in page
    assert 'href="00_a.html"' in pages[2].read_text()  # previous


def test_a_widget_without_a_still_shows_its_saved_state(tmp_path):
    """A widget from elsewhere (no still in its bundle) shows its images and texts as the
    saved widget state holds them; one without saved state gets only its caption."""
    nb = _nb("A", [_widget("VBox()", model_id="box"), _widget("VBox()", model_id="gone")])
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_t", "IPY_MODEL_i"]}},
        "t": {"model_name": "HTMLModel", "state": {"value": "Image 1 of 20:"}},
        "i": {
            "model_name": "ImageModel",
            "state": {},
            "buffers": [{"path": ["value"], "encoding": "base64", "data": PNG}],
        },
    }
    nb["metadata"]["widgets"] = {book.STATE_MIME: {"state": state, "version_major": 2}}
    cell = book.prepare(nb, "00_a.ipynb")["cells"][1]
    shown = [json.dumps(out["data"]) for out in cell["outputs"]]
    assert len(shown) == 3
    assert "Image 1 of 20:" in shown[0] and f"data:image/png;base64,{PNG}" in shown[0]
    assert "as it stood when the notebook ran" in shown[1]
    assert "not saved with this run" in shown[2]


def test_hidden_cells_collapse_and_machine_paths_go(tmp_path):
    """Cells hidden in JupyterLab (the Colab set-up, the parameters) are collapsed under a
    summary; papermill's injected cell is dropped and the paths it and the repository root
    give are made relative in the outputs."""
    nb = _nb("A", [{"output_type": "stream", "name": "stdout", "text": [f"wrote {ROOT}/x.json\n"]}])
    hidden = {"jupyter": {"source_hidden": True}}
    nb["cells"][1:1] = [
        {
            **nb["cells"][1],
            "metadata": {**hidden, "tags": ["setup"]},
            "outputs": [],
            "source": ["%pip install -q gannotes  # SETUP-CODE"],
        },
        {
            **nb["cells"][1],
            "metadata": {**hidden, "tags": ["parameters"]},
            "outputs": [],
            "source": ["OUT_DIR = 'results'  # PARAMETERS-CODE"],
        },
        {
            **nb["cells"][1],
            "metadata": {"tags": ["injected-parameters"]},
            "outputs": [],
            "source": ["# Parameters\n", 'OUT_DIR = "/somewhere/else/results"\n'],
        },
    ]
    nb["cells"][-1]["outputs"].append(
        {"output_type": "stream", "name": "stdout", "text": "to /somewhere/else/results/r.json"}
    )
    page = book.render_page(nb, "00_a.ipynb", None, None)
    assert str(ROOT) not in page and "/somewhere/else" not in page
    assert "wrote x.json" in page and "to OUT_DIR/r.json" in page
    assert "# Parameters" not in page
    blocks = re.findall(
        r'<details class="book-hidden"><summary>(.*?)</summary>(.*?)</details>', page, re.S
    )
    assert [summary.split(" (")[0] for summary, _ in blocks] == ["Set-up code", "Parameters"]
    assert "SETUP-CODE" in blocks[0][1] and "PARAMETERS-CODE" in blocks[1][1]
    assert page.count("SETUP-CODE") == 1  # the code is inside the collapsed block only


def test_the_course_map_keeps_whole_sentences():
    """A Time line that breaks mid-sentence is continued to its sentence's end, and no
    further; "1.5" and "e.g." do not end a sentence."""
    cell = (
        "# T\n\nFirst.\n\n**Time:** about 1.5 min on a CPU (e.g. a laptop; the live training\n"
        "takes 40 s of it). On a GPU: not measured.\nEverything here is small.\n\n[badges]"
    )
    assert book.time_line(cell) == (
        "about 1.5 min on a CPU (e.g. a laptop; the live training takes 40 s of it)."
    )
    assert book.time_line("# T\n\n**Time:** about 1 min.\nMore text.") == "about 1 min."
    assert book.time_line("# T\n\n**Time:** about 1 min\non a CPU") == "about 1 min on a CPU"
    assert book.time_line("# T\n\nNo time given.") == ""


def test_notebook_00s_map_shows_whole_sentences_too():
    """Notebook 00 prints its course map from each notebook's "Time:" line alone (it cannot
    import this script on Colab): so that line must hold whole sentences, what the book's
    map shows."""
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        source = "".join(json.loads(path.read_text())["cells"][0]["source"])
        line = next(x for x in source.splitlines() if "Time:" in x)
        line = " ".join(line.replace("**Time:**", "").split())
        assert book.time_line(source) == line, f"{path.name}: its Time line ends mid-sentence"


def test_formulas_render_from_the_books_own_mathjax(tmp_path):
    src, ran, out = tmp_path / "nb", tmp_path / "ran", tmp_path / "book"
    nb = _nb("A", [])
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["$$x^2$$ and $y$"]})
    _write(src, "00_a.ipynb", nb)
    _write(ran, "00_a.ipynb", nb)
    pages = book.build(src, ran, out, tmp_path / "results")
    assert (out / book.MATHJAX).stat().st_size > 1_000_000  # MathJax 3, TeX to SVG, one file
    page = pages[1].read_text()
    assert f'src="{book.MATHJAX}"' in page and "$$x^2$$" in page
    assert "ajax/libs/mathjax" not in page and not re.search(r'<script[^>]*src="https?:', page)


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


def _widget_outputs(nb: dict) -> list[dict]:
    """The widget outputs of an executed notebook (progress bars left out)."""
    states = nb["metadata"].get("widgets", {}).get(book.STATE_MIME, {}).get("state", {})
    return [
        out
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        and not book.is_progress(out["data"], states)
    ]


def _png_outputs(nb: dict) -> int:
    """The figures of an executed notebook (a widget's still is counted with its widget)."""
    return sum(
        "image/png" in out.get("data", {})
        and "application/vnd.jupyter.widget-view+json" not in out["data"]
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

    # Every widget is a picture: its still (gannotes.viz.with_still), or what its saved state
    # shows; never a line saying it needs a kernel.
    widgets = _widget_outputs(nb)
    assert "it needs a running notebook" not in html and "not saved with this run" not in html
    shown = html.count("; run the notebook for the live widget")
    assert shown == len(widgets), f"{len(widgets)} widgets, {shown} shown"
    stills = sum("image/png" in out["data"] for out in widgets)
    assert html.count("data:image/png;base64,") >= figures + len(widgets)
    assert html.count("Shown at ") == stills
    # Hidden inputs collapsed; no path of the machine that ran or built it.
    hidden = sum(
        bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
        for cell in nb["cells"]
    )
    assert html.count('<details class="book-hidden">') == hidden
    assert "injected-parameters" not in html and "# Parameters" not in html
    for machine in {str(ROOT), str(Path.home())} - {"/"}:
        assert machine not in html, f"{path.name}: its page shows the machine path {machine}"


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


@pytest.mark.book
def test_the_course_map_shows_each_time_in_whole_sentences():
    """Each entry's time ends a sentence and is the notebook's own Time paragraph, or its
    first sentences (at least its whole first line)."""
    index = (ROOT / "build" / "book" / "index.html").read_text()
    entries = re.findall(r'<li><a href="(\d\d_\w+)\.html">.*?<br><em>(.*?)</em>', index, re.S)
    assert len(entries) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    for stem, when in entries:
        nb = json.loads((ROOT / "build" / "notebooks" / f"{stem}.ipynb").read_text())
        source = "".join(nb["cells"][0]["source"])
        para = next(p for p in re.split(r"\n\s*\n", source) if "Time:" in p)
        line = next(x for x in para.splitlines() if "Time:" in x).replace("**Time:**", "")
        whole = " ".join(para[para.index("Time:") :].replace("Time:**", "").split())
        when = " ".join(html.unescape(when).split())
        assert when, f"{stem}: no time"
        assert book.SENTENCE_END.search(when[-3:]), f"{stem}: {when!r} ends mid-sentence"
        assert whole.startswith(when), f"{stem}: {when!r} is not the start of {whole!r}"
        assert len(when) >= len(" ".join(line.split())), f"{stem}: {when!r} cuts its first line"


@pytest.mark.book
def test_every_page_renders_offline_with_its_formulas():
    """Chromium opens every page from disk with every request that would leave the machine
    refused: none is made, every local file it asks for exists, and MathJax (the book's own
    copy) turns every formula into SVG, leaving no TeX delimiters in the text."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("GANNOTES_CHROMIUM") or shutil.which("chromium") or ""
    if not Path(chromium).exists():
        pytest.skip("no Chromium (Debian: apt install chromium; or set GANNOTES_CHROMIUM)")
    pages = sorted((ROOT / "build" / "book").glob("*.html"))
    assert len(pages) >= 2
    left, missing, with_math = [], [], []

    def route(r):
        url = r.request.url
        if url.startswith(("file://", "data:", "blob:")):
            if url.startswith("file://") and not Path(url[7:].split("#")[0].split("?")[0]).exists():
                missing.append(url)
            return r.continue_()
        left.append(url)
        return r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.route("**/*", route)
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                if path.name == "index.html":
                    continue
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                    timeout=30_000,
                )
                page.evaluate("() => MathJax.startup.promise")
                rendered = page.locator("mjx-container svg").count()
                text = page.evaluate(
                    """() => Array.from(document.querySelectorAll('.jp-MarkdownCell'))
                        .map(e => e.innerText).join('\\n')"""
                )
                raw = [m for m in ("$$", "\\(", "\\[", "\\frac", "\\mathbb") if m in text]
                assert not raw, f"{path.name}: TeX left as text: {raw}"
                source = json.loads(
                    (ROOT / "build" / "notebooks" / f"{path.stem}.ipynb").read_text()
                )
                has_math = any(
                    cell["cell_type"] == "markdown" and "$" in "".join(cell["source"])
                    for cell in source["cells"]
                )
                if has_math:
                    assert rendered > 0, f"{path.name}: its formulas did not render"
                    with_math.append(path.name)
        finally:
            browser.close()
    assert not left, f"requests that would leave the machine: {left[:5]}"
    assert not missing, f"local files the pages ask for but the book lacks: {missing[:5]}"
    assert with_math, "no page has a formula: nothing was checked"
