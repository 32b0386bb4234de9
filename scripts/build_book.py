"""Build the course as a static HTML book from the notebooks as they were executed.

    python scripts/build_book.py [--executed build/notebooks] [--out build/book]

`make test` executes every notebook with papermill into ``build/notebooks/`` (the default
budget, the run whose numbers the tests check); this script turns those executed notebooks
into one HTML page each, without running anything again. A notebook with no executed copy
there is executed first (papermill, default budget, ``OUT_DIR=build/results``), and the script
says so: ``make book`` on a fresh clone takes the time of one run of the course.

The book is plain, self-contained HTML made with nbconvert (the Jupyter project's own
converter; its "lab" template):

* ``index.html``: the course map (each notebook's title, time and first paragraph), linked;
* ``NN_name.html``: the notebook with its figures (PNG, embedded) and animations (our
  self-contained player), a bar on top with the course map, previous and next, and the two
  ways to run it (Binder, Colab);
* interactive widgets need a running kernel, so in the book each one is replaced by a line
  saying so, with the links; progress bars are dropped.

Offline, the pages show everything but the Binder/Colab badge images, and formulas as TeX
(MathJax is loaded from its CDN when online).
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # gannotes.links, without requiring an install

from gannotes.links import REPO_URL, binder_url, colab_url  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PROGRESS = re.compile(r"\b(FloatProgress|IntProgress)\(")
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
</style>
"""


def notebook_title(nb: dict) -> tuple[str, str, str]:
    """(title, time line, first paragraph) of a notebook, from its first (title) cell."""
    lines = "".join(nb["cells"][0]["source"]).splitlines()
    title = next(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
    when = next((line for line in lines if "Time:" in line), "")
    when = when.replace("**Time:**", "").strip()
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
    first = next((p for p in paragraphs if p.strip() and not p.lstrip().startswith("#")), "")
    return title, when, " ".join(first.split())


def _inline_markdown(text: str) -> str:
    """Escaped text with Markdown's *emphasis*, **strong** and `code` as HTML."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", out)


def _widget_note(name: str) -> dict:
    text = (
        '<div class="book-widget">Interactive widget: it needs a running notebook. '
        f'<a href="{binder_url(name)}">Run on Binder</a>, '
        f'<a href="{colab_url(name)}">open in Colab</a>, or <code>make lab</code>.</div>'
    )
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": text}}


def prepare(nb: dict, name: str) -> dict:
    """A copy of an executed notebook ready for the page: each widget output (which a static
    page cannot run, and would show as ``VBox(children=...)``) becomes a note with the links
    to run it; progress-bar widgets are dropped; no widget state is kept."""
    nb = copy.deepcopy(nb)
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                if PROGRESS.search("".join(data.get("text/plain", ""))):
                    continue
                out = _widget_note(name)
            outputs.append(out)
        cell["outputs"] = outputs
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
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    node = nbformat.reads(json.dumps(prepare(nb, name)), as_version=4)
    body, _ = exporter.from_notebook_node(node)
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
