"""Build the course as a static HTML book from the notebooks as they were executed.

    python scripts/build_book.py [--executed build/notebooks] [--out build/book]

`make test` executes every notebook with papermill into ``build/notebooks/`` (the default
budget, the run whose numbers the tests check); this script turns those executed notebooks
into one HTML page each, without running anything again. A notebook with no executed copy
there is executed first (papermill, default budget, ``OUT_DIR=build/results``), and the script
says so: ``make book`` on a fresh clone takes the time of one run of the course.

The book is plain, self-contained HTML made with nbconvert (the Jupyter project's own
converter; its "lab" template):

* ``index.html``: the course map (each notebook's title, its time in whole sentences and its
  first paragraph), linked;
* ``NN_name.html``: the notebook with its figures (PNG, embedded) and animations (our
  self-contained player), a bar on top with the course map, previous and next, and the two
  ways to run it (Binder, Colab);
* ``mathjax/``: MathJax 3 (its single-file TeX-to-SVG build, 2.3 MB, from the
  ``django-static-mathjax`` package of the test extra), which every page loads by a relative
  path: formulas render with no network;
* an interactive widget needs a running kernel; each widget of the package carries a still
  (gannotes.viz.with_still: what it shows at a few chosen settings, drawn when the notebook
  ran), which the page shows with its settings and the links to run the notebook; a widget
  without a still shows as it stood when the notebook was saved (its images and text, from the
  saved widget state); progress bars are dropped;
* code cells whose input is hidden in JupyterLab (``metadata.jupyter.source_hidden``: the
  Colab set-up and parameters cells) are collapsed under a summary; papermill's
  ``injected-parameters`` cell (machine paths) is dropped.

The pages ask nothing of the network: the Binder and Colab badges (images on the network)
are their links' text, and nothing else is loaded from elsewhere.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # gannotes.links, without requiring an install

from gannotes.links import REPO_URL, binder_url, colab_url  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
STILL_KEY = "gannotes/still"  # gannotes.viz.STILL_KEY (not imported: that would import torch)
MATHJAX = "mathjax/tex-svg-full.js"  # in the book, relative to every page
# MathJax 3's configuration: the delimiters of Jupyter's Markdown, no menu (it would fetch).
MATHJAX_HEAD = f"""<script>
window.MathJax = {{
  tex: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
        displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'}},
  options: {{enableMenu: false}},
  svg: {{fontCache: 'global'}}
}};
</script>
<script defer src="{MATHJAX}"></script>"""
# The book's template: nbconvert's lab template, with MathJax from the book itself and hidden
# inputs collapsed.
TEMPLATE = (
    """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mathjax -%}
"""
    + MATHJAX_HEAD
    + """
{%- endblock html_head_js_mathjax -%}
{% block input_group -%}
{%- if cell.metadata.get('jupyter', {}).get('source_hidden') -%}
<details class="book-hidden"><summary>{{ cell.metadata.get('book_summary', 'Hidden code') }}"""
    + """</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock input_group %}
"""
)
PROGRESS = re.compile(r"\b(FloatProgress|IntProgress)\(|\|\s*\d+/\d+ \[")  # repr, or tqdm's text
PROGRESS_MODELS = ("FloatProgressModel", "IntProgressModel")
# A Markdown image from the network (the Binder and Colab badges): its alt text instead.
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)\s]+\)")
# Scripts that fetch from the network and serve no purpose in a static page (nbconvert's lab
# template loads require.js for widget managers; the book has no widget manager).
NETWORK_SCRIPT = re.compile(r'<script[^>]*src="https?://[^"]*require[^"]*"[^>]*>\s*</script>\s*')

STYLE = """
<style>
.book-bar { position: sticky; top: 0; z-index: 10; background: #f5f7fa;
  border-bottom: 1px solid #d0d7de; padding: 8px 16px; font: 14px/1.4 sans-serif; }
.book-bar a { margin-right: 14px; }
.book-bar .run { float: right; }
.book-widget { border-left: 4px solid #6f42c1; background: #f6f3fb; padding: 6px 10px;
  font: 13px/1.4 sans-serif; margin: 4px 0; }
.book-still img { max-width: 100%; }
details.book-hidden > summary { cursor: pointer; font: 13px/1.6 sans-serif; color: #57606a;
  padding: 2px 8px; }
</style>
"""


# A sentence ends at ".", "!" or "?" (then closing marks) before a space or the end, but not
# after an abbreviation ("e.g.") or inside a number ("1.5" has no space after the point).
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)[.!?][)\]*_`'\"]*(?=\s|$)")


def whole_sentences(text: str, at_least: int) -> str:
    """The shortest run of ``text``'s first sentences that covers its first ``at_least``
    characters (the whole text if no sentence end comes after them)."""
    for end in SENTENCE_END.finditer(text):
        if end.end() >= at_least:
            return text[: end.end()]
    return text


def time_line(first_cell: str) -> str:
    """The title cell's time, in whole sentences: its "Time:" line, continued into the next
    lines of its paragraph until the sentence that line leaves open ends."""
    paragraphs = re.split(r"\n\s*\n", first_cell)
    for para in paragraphs:
        lines = para.splitlines()
        at = next((i for i, line in enumerate(lines) if "Time:" in line), None)
        if at is None:
            continue
        head = lines[at].replace("**Time:**", "").strip()
        rest = " ".join(line.strip() for line in lines[at + 1 :])
        return whole_sentences(" ".join(f"{head} {rest}".split()), len(" ".join(head.split())))
    return ""


def notebook_title(nb: dict) -> tuple[str, str, str]:
    """(title, time in whole sentences, first paragraph) of a notebook, from its first (title)
    cell."""
    source = "".join(nb["cells"][0]["source"])
    lines = source.splitlines()
    title = next(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
    paragraphs = re.split(r"\n\s*\n", source)
    first = next((p for p in paragraphs if p.strip() and not p.lstrip().startswith("#")), "")
    return title, time_line(source), " ".join(first.split())


def _inline_markdown(text: str) -> str:
    """Escaped text with Markdown's *emphasis*, **strong** and `code` as HTML."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", out)


def _html(text: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": text}}


def _widget_caption(name: str, shown: str) -> dict:
    """The line under a widget's picture: what it shows, and how to get the live widget."""
    return _html(
        f'<div class="book-widget">{shown}; run the notebook for the live widget: '
        f'<a href="{binder_url(name)}">Binder</a>, <a href="{colab_url(name)}">Colab</a> '
        "or <code>make lab</code>.</div>"
    )


def _saved_view(states: dict, model_id: str) -> str:
    """A widget as it stood when the notebook was saved, from the saved widget state: its
    images and its HTML and Label texts, in the order of its children ("" if none saved)."""
    parts: list[str] = []

    def walk(mid: str) -> None:
        model = states.get(mid)
        if model is None:
            return
        kind, state = model.get("model_name", ""), model.get("state", {})
        if kind == "ImageModel":
            png = next((b["data"] for b in model.get("buffers", []) if b["path"] == ["value"]), "")
            if png and model.get("buffers", [{}])[0].get("encoding", "base64") == "base64":
                parts.append(f'<img src="data:image/png;base64,{png}" alt="widget image">')
        elif kind == "HTMLModel" and state.get("value"):
            parts.append(f"<div>{state['value']}</div>")
        elif kind == "LabelModel" and state.get("value"):
            parts.append(f"<div>{html.escape(state['value'])}</div>")
        for child in state.get("children", []):
            walk(child.removeprefix("IPY_MODEL_"))

    walk(model_id)
    return "".join(parts) if any(p.startswith("<img") for p in parts) else ""


def _injected_paths(nb: dict) -> dict[str, str]:
    """The absolute paths papermill injected (``OUT_DIR = "/abs/..."``), each mapped to what
    the page says instead: its path in the repository, or the parameter's name."""
    paths = {}
    for cell in nb["cells"]:
        if "injected-parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        for key, value in re.findall(
            r"^(\w+) = [\"'](/[^\"']+)[\"']", "".join(cell["source"]), re.M
        ):
            path = Path(value)
            paths[value] = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else key
    return paths


def _no_machine_paths(out: dict, paths: dict[str, str]) -> dict:
    """An output with the machine's paths made relative: the repository's root and papermill's
    injected paths."""
    swaps = {**paths, f"{ROOT}{os.sep}": "", str(ROOT): "."}

    def fix(text):
        if isinstance(text, list):
            return [fix(t) for t in text]
        if not isinstance(text, str):
            return text
        for old, new in swaps.items():
            text = text.replace(old, new)
        return text

    if "text" in out:
        out["text"] = fix(out["text"])
    for mime in ("text/plain", "text/html", "text/markdown"):
        if mime in out.get("data", {}):
            out["data"][mime] = fix(out["data"][mime])
    return out


def is_progress(data: dict, states: dict) -> bool:
    """Whether a widget output is a progress bar (tqdm's, or any with a progress model)."""
    if PROGRESS.search("".join(data.get("text/plain", ""))):
        return True
    model = states.get(data.get(WIDGET_MIME, {}).get("model_id", ""), {})
    children = [c.removeprefix("IPY_MODEL_") for c in model.get("state", {}).get("children", [])]
    return model.get("model_name") in PROGRESS_MODELS or any(
        states.get(c, {}).get("model_name") in PROGRESS_MODELS for c in children
    )


def _hidden_summary(cell: dict) -> str:
    tags = cell.get("metadata", {}).get("tags", [])
    if "setup" in tags:
        return "Set-up code (installs the course where it is missing, e.g. on Colab)"
    if "parameters" in tags:
        return "Parameters (the budgets; papermill can change them)"
    return "Hidden code"


def prepare(nb: dict, name: str) -> dict:
    """A copy of an executed notebook ready for the page.

    Each widget output (which a static page cannot run, and would show as
    ``VBox(children=...)``) becomes its still (the ``image/png`` of its bundle) with a
    caption of its settings and the links to run it; a widget without a still becomes what the
    saved widget state holds of it; progress-bar widgets are dropped; no widget state is kept.
    Markdown images from the network (the badges) become their alt text. Hidden inputs get
    their summary; papermill's injected parameters are dropped, and the paths
    they and the repository's root give are made relative in the outputs.
    """
    nb = copy.deepcopy(nb)
    states = nb["metadata"].pop("widgets", {}).get(STATE_MIME, {}).get("state", {})
    paths = _injected_paths(nb)
    cells = []
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        if "injected-parameters" in meta.get("tags", []):
            continue  # papermill's: OUT_DIR and such, paths of the machine that ran it
        if meta.get("jupyter", {}).get("source_hidden"):
            meta["book_summary"] = _hidden_summary(cell)
        cells.append(cell)
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            cell["source"] = REMOTE_IMAGE.sub(lambda m: m.group(1), source)
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                if is_progress(data, states):
                    continue
                if "image/png" in data:
                    still = out.get("metadata", {}).get(STILL_KEY, {})
                    shown = f"Shown at {html.escape(still.get('settings', 'chosen settings'))}"
                    outputs.append(
                        {
                            "output_type": "display_data",
                            "metadata": {},
                            "data": {"image/png": data["image/png"], "text/plain": ["widget"]},
                        }
                    )
                    outputs.append(_widget_caption(name, shown))
                    continue
                saved = _saved_view(states, data[WIDGET_MIME].get("model_id", ""))
                if saved:
                    outputs.append(_html(f'<div class="book-still">{saved}</div>'))
                    outputs.append(_widget_caption(name, "Shown as it stood when the notebook ran"))
                else:
                    outputs.append(_widget_caption(name, "A widget (not saved with this run)"))
                continue
            outputs.append(_no_machine_paths(out, paths))
        cell["outputs"] = outputs
    nb["cells"] = cells
    return nb


def _bar(name: str, prev: str | None, nxt: str | None) -> str:
    links = ['<a href="index.html">Course map</a>']
    if prev:
        links.append(f'<a href="{Path(prev).stem}.html">&larr; {html.escape(prev)}</a>')
    if nxt:
        links.append(f'<a href="{Path(nxt).stem}.html">{html.escape(nxt)} &rarr;</a>')
    run = (
        f'<span class="run">Run this notebook: <a href="{binder_url(name)}">Binder</a>'
        f'<a href="{colab_url(name)}">Colab</a> or <code>make lab</code></span>'
    )
    return f'<div class="book-bar">{run}{"".join(links)}</div>'


def render_page(nb: dict, name: str, prev: str | None, nxt: str | None) -> str:
    """One notebook as a self-contained HTML page (figures embedded as data URIs)."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})],
        template_file="book.html.j2",
    )
    node = nbformat.reads(json.dumps(prepare(nb, name)), as_version=4)
    body, _ = exporter.from_notebook_node(node)
    if MATHJAX not in body:
        raise RuntimeError("nbconvert's lab template no longer takes the book's MathJax block")
    body = NETWORK_SCRIPT.sub("", body)
    body = body.replace("</head>", STYLE + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _bar(name, prev, nxt), body, count=1)


def render_index(entries: list[tuple[str, dict]]) -> str:
    """The course map: every notebook in order, its title, time and first paragraph."""
    items = []
    for name, nb in entries:
        title, when, first = notebook_title(nb)
        items.append(
            f'<li><a href="{Path(name).stem}.html"><strong>{html.escape(title)}</strong></a>'
            f"<br><em>{html.escape(when)}</em><br>{_inline_markdown(first)}</li>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gannotes: the course map</title>
{STYLE}<style>body {{ font: 16px/1.5 sans-serif; max-width: 52em; margin: 2em auto;
padding: 0 1em; }} li {{ margin-bottom: 1em; }}</style></head>
<body>
<h1>gannotes: Generative Adversarial Networks, measured</h1>
<p>This is the course as it ran in our tests: every figure and number below was produced by
executing the notebooks at their default budget. To run it yourself: <code>make lab</code>
(see the <a href="{REPO_URL}">repository</a>), or open a notebook on Binder or Colab from
the bar at the top of its page.</p>
<h2>The course map</h2>
<ol start="0">
{chr(10).join(items)}
</ol>
</body></html>
"""


def execute(path: Path, dest: Path, results: Path) -> None:
    """Run one notebook at its default budget (only when no executed copy exists)."""
    import papermill

    dest.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(dest),
        parameters={"OUT_DIR": str(results)},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
    )


def mathjax_source() -> Path:
    """MathJax 3's single-file TeX-to-SVG build, from the ``django-static-mathjax`` package
    (the test extra; it installs static files only)."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    places = (spec.submodule_search_locations or []) if spec else []
    for where in places:
        path = Path(where) / "static" / "mathjax" / "es5" / Path(MATHJAX).name
        if path.is_file():
            return path
    raise SystemExit(
        "the book needs MathJax for its formulas: pip install django-static-mathjax "
        "(make installs it: the [test] extra)"
    )


def copy_mathjax(out: Path) -> Path:
    """MathJax into the book (and its licence), once: every page loads it by a relative path."""
    src = mathjax_source()
    dest = out / MATHJAX
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.is_file() or dest.stat().st_size != src.stat().st_size:
        shutil.copyfile(src, dest)
    licence = src.parents[1] / "LICENSE"
    if licence.is_file():
        shutil.copyfile(licence, dest.parent / "LICENSE")
    return dest


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: a page is whole or absent


def build(notebooks: Path, executed: Path, out: Path, results: Path) -> list[Path]:
    """Build the book; returns the pages written (index first)."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise SystemExit(f"no notebooks NN_name.ipynb in {notebooks}")
    entries = []
    for src in sources:
        ran = executed / src.name
        if not ran.is_file():
            print(f"{src.name}: no executed copy in {executed}; executing it (default budget)")
            execute(src, ran, results)
        entries.append((src.name, json.loads(ran.read_text(encoding="utf-8"))))
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    pages = [out / "index.html"]
    _write(pages[0], render_index(entries))
    names = [name for name, _ in entries]
    for i, (name, nb) in enumerate(entries):
        prev = names[i - 1] if i > 0 else None
        nxt = names[i + 1] if i + 1 < len(names) else None
        page = out / f"{Path(name).stem}.html"
        _write(page, render_page(nb, name, prev, nxt))
        pages.append(page)
        print(f"{page} ({page.stat().st_size / 1e6:.1f} MB)")
    return pages


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    p.add_argument("--executed", type=Path, default=ROOT / "build" / "notebooks")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    p.add_argument("--results", type=Path, default=ROOT / "build" / "results")
    a = p.parse_args(argv)
    pages = build(a.notebooks, a.executed, a.out, a.results)
    print(f"the book: {pages[0]} ({len(pages) - 1} notebooks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
