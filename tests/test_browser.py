"""The course as a learner meets it: every notebook opened, run and clicked in a real browser.

A JupyterLab server is started the way ``make lab`` starts it (headless here, with a token, on
a free port) over a copy of ``notebooks/`` whose parameters cell says ``FAST = True`` (the
small-budget switch; papermill and nbval check the default budget's numbers elsewhere).
Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright cannot download its own
browsers offline). For each notebook the test:

1. opens it and runs every cell with *Run > Run All Cells*, then waits until no cell is
   queued or running;
2. fails on an error output, and on a code cell left unexecuted (Run All stopped early);
3. for each widget the notebook shows, checks that it rendered as a widget (not as the text
   ``VBox(children=...)`` nor "Loading widget...") and that one interaction (a button, or a
   slider moved one step with the keyboard) changes the image or text it shows: a widget whose
   callback is broken changes nothing and fails here;
4. presses "next frame" on each animation and checks that the frame changed.

A failure saves a full-page screenshot to ``build/browser/``. Without Chromium or Playwright
the test is skipped with the reason, except under CI (``CI=true``), where it fails:
``.ci/run`` installs Chromium and ``make test`` installs Playwright.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "build" / "browser"
CHROMIUM = os.environ.get("GANNOTES_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's background services try the network; this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
RUN_TIMEOUT_S = 420  # one notebook at its FAST budget (measured 20-70 s each, idle machine)
# The widgets each notebook displays (top-level widget outputs after Run All).
WIDGETS = {
    "01_gan_from_scratch": 1,  # the latent interpolation
    "02_training_process": 1,  # GAN Lab
    "03_conditional_gans": 1,  # the class widget
    "04_cyclegan": 1,  # the translation browser
    "05_stylegan": 2,  # style mixing, truncation
    "07_evaluation_metrics": 1,  # the real-or-fake game
    "10_inside_a_generator": 1,  # editing an inverted garment
}
# A button that changes what a widget shows, by preference (GAN Lab: one frame; the game: one
# answer; the interpolation: new endpoints). "Play" is never pressed: it starts a loop.
PREFERRED_BUTTONS = ("Step", "real", "new endpoints")

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make test installs it: the [test] extra)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt install chromium; or set GANNOTES_CHROMIUM)"
    return None


def _fast_copy(dest: Path, out_dir: Path) -> Path:
    """Copy the course into ``dest`` with each parameters cell switched to FAST = True and
    OUT_DIR set to ``out_dir``; data/ and benchmarks/ are linked so ``../data`` resolves."""
    nb_dir = dest / "notebooks"
    nb_dir.mkdir(parents=True)
    for name in ("data", "benchmarks"):
        (dest / name).symlink_to(ROOT / name)
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, path.name
        src = "".join(params[0]["source"])
        src, n_fast = re.subn(r"^FAST = False", "FAST = True", src, flags=re.M)
        src, n_out = re.subn(r"^OUT_DIR = .*$", f"OUT_DIR = {str(out_dir)!r}", src, flags=re.M)
        assert n_fast == 1 and n_out == 1, f"{path.name}: parameters cell without FAST/OUT_DIR"
        params[0]["source"] = src
        (nb_dir / path.name).write_text(json.dumps(nb))
    return nb_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server over ``root``, started as ``make lab`` starts it, stopped cleanly."""

    def __init__(self, root: Path, home: Path):
        self.root, self.port, self.token = root, _free_port(), "gannotes-browser-test"
        env = {
            **os.environ,
            "JUPYTER_PREFER_ENV_PATH": "1",  # the Makefile's: the venv's kernel "python3"
            "OMP_NUM_THREADS": "1",
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        }
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            f"--ServerApp.root_dir={root}",
            "--no-browser",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")  # as the Makefile does for root
        # Settings: no "get notified about Jupyter news?" toast over the notebook (no news
        # fetch); every cell in the page (JupyterLab otherwise renders only the cells in view,
        # so the prompts and outputs of the others could not be checked).
        for plugin, setting in (
            ("apputils-extension/notification", '{"fetchNews": "false"}'),
            ("notebook-extension/tracker", '{"windowingMode": "none"}'),
        ):
            file = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(setting)
        self.log = open(home / "lab.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: see {self.log.name}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer in 90 s: see {self.log.name}")

    def api(self, path: str, method: str = "GET") -> object:
        req = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def wait_for_kernel(self, notebook: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in self.api("sessions"):
                kernel = session.get("kernel") or {}
                if session["path"] == notebook and kernel.get("execution_state") == "idle":
                    return
            time.sleep(0.5)
        raise AssertionError(f"{notebook}: no idle kernel after {timeout:.0f} s")

    def shutdown_kernels(self) -> None:
        for k in self.api("kernels"):
            self.api(f"kernels/{k['id']}", method="DELETE")

    def stop(self) -> None:
        try:
            self.api("shutdown", method="POST")
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 (already gone, or stuck: then kill)
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = _missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {why}")
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("browser")
    root = _fast_copy(tmp / "course", tmp / "results")
    server = Lab(root, tmp)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ----------------------------------------------------------------------------- page helpers

# What a widget shows (its images and texts), leaving out its controls' own readouts: a slider
# that moves but whose callback is broken must not count as a change.
_SHOWN_JS = """el => JSON.stringify([
  Array.from(el.querySelectorAll('img')).map(i => i.src.length + ':' + i.src.slice(-64)),
  Array.from(el.querySelectorAll('.widget-label, .widget-html-content, .jp-OutputArea-output'))
    .map(e => e.innerText)])"""

_PROMPTS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')).map(e => e.innerText.trim())"""


def _run_all(page, name: str) -> list[str]:
    """Run All Cells from the menu; return once no cell is queued or running."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    started = False
    while time.monotonic() < deadline:
        prompts = page.evaluate(_PROMPTS_JS)
        busy = any("*" in p for p in prompts)
        started = started or busy or all(re.search(r"\d", p) for p in prompts)
        if started and not busy:
            page.wait_for_timeout(1500)  # outputs of the last cell settle
            if not any("*" in p for p in page.evaluate(_PROMPTS_JS)):
                return page.evaluate(_PROMPTS_JS)
        page.wait_for_timeout(1000)
    raise AssertionError(f"{name}: cells still running after {RUN_TIMEOUT_S} s")


def _save(page, file: Path) -> dict:
    """Save the notebook (Ctrl+S) and return it as written to disk."""
    before = file.stat().st_mtime_ns
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus the notebook
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while file.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"{file.name}: Ctrl+S did not save in 30 s"
        page.wait_for_timeout(250)
    page.wait_for_timeout(500)  # the write completes
    return json.loads(file.read_text())


def _interact(page, widget) -> str:
    """One interaction that should change what the widget shows; returns what was done."""
    buttons = widget.locator("button.jupyter-button")
    labels = [b.inner_text().strip() for b in buttons.all()]
    for want in PREFERRED_BUTTONS:
        if want in labels:
            buttons.nth(labels.index(want)).click()
            return f"pressed {want!r}"
    handles = widget.locator(".widget-slider .noUi-handle")
    if handles.count():
        handles.first.focus()
        page.keyboard.press("ArrowLeft" if _at_max(handles.first) else "ArrowRight")
        return "moved a slider one step"
    raise AssertionError(f"no button {PREFERRED_BUTTONS} nor slider in widget: {labels}")


def _at_max(handle) -> bool:
    now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
    return now is not None and top is not None and float(now) >= float(top)


def _check_widget(page, widget, what: str, wait_s: float = 30) -> None:
    before = widget.evaluate(_SHOWN_JS)
    done = _interact(page, widget)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if widget.evaluate(_SHOWN_JS) != before:
            return
        page.wait_for_timeout(250)
    raise AssertionError(
        f"{what}: {done}, but what the widget shows did not change in {wait_s:.0f} s"
    )


def _check_animation(anim, what: str) -> None:
    frame = anim.locator("img[id$='-frame']")
    before = frame.get_attribute("src")
    anim.locator("button[id$='-next']").click()
    anim.page.wait_for_timeout(300)
    assert frame.get_attribute("src") != before, f"{what}: 'next frame' did not change the frame"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_the_browser(path, lab, browser):
    name = path.stem
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/{path.name}?reset&token={lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        # Run All before the notebook's kernel session exists asks the learner to pick a kernel:
        # wait for the session's kernel to be idle first, as a person would.
        lab.wait_for_kernel(path.name)
        _run_all(page, name)

        # What the browser ran, as JupyterLab saves it: error outputs and unexecuted cells.
        saved = _save(page, lab.root / path.name)
        for i, cell in enumerate(c for c in saved["cells"] if c["cell_type"] == "code"):
            for out in cell.get("outputs", []):
                if out["output_type"] == "error":
                    raise AssertionError(
                        f"{name}: code cell {i} raised {out['ename']}: {out['evalue']}\n"
                        + "".join(cell["source"])[:600]
                    )
            assert cell.get("execution_count"), f"{name}: code cell {i} was not executed"

        outputs = page.locator(".jp-OutputArea-output")
        texts = "\n".join(outputs.all_inner_texts())
        assert "Loading widget" not in texts, f"{name}: a widget never loaded"
        as_text = re.search(
            r"^\s*(VBox|HBox|Box|Image|FloatSlider|IntSlider|Button)\(", texts, re.M
        )
        assert not as_text, f"{name}: a widget shown as text: {as_text.group(0)!r}"

        # Every widget output (progress bars included) rendered as a widget, checked above;
        # the interactive ones (a button or a slider) must respond.
        widgets = page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)").filter(
            has=page.locator("button.jupyter-button, .widget-slider")
        )
        assert widgets.count() == WIDGETS.get(name, 0), (
            f"{name}: {widgets.count()} interactive widgets rendered, "
            f"expected {WIDGETS.get(name, 0)}"
        )
        for i in range(widgets.count()):
            widget = widgets.nth(i)
            widget.scroll_into_view_if_needed()
            _check_widget(page, widget, f"{name}: widget {i + 1}")

        anims = page.locator(".gan-anim")
        for i in range(anims.count()):
            anims.nth(i).scroll_into_view_if_needed()
            _check_animation(anims.nth(i), f"{name}: animation {i + 1}")
    except Exception:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-failure.png"), full_page=True)
        raise
    finally:
        context.close()
        lab.shutdown_kernels()


def test_a_broken_widget_callback_is_caught(lab, browser):
    """The widget check's own oracle: in the same browser, a widget whose callback updates what
    it shows passes, and the same widget with its callback broken (it raises) fails."""
    code = (
        "import ipywidgets as w\n"
        "def widget(works):\n"
        "    label, button = w.Label('0 clicks'), w.Button(description='Step')\n"
        "    def on_click(_):\n"
        "        if not works:\n"
        "            raise RuntimeError('broken callback')\n"
        "        label.value = f'{int(label.value.split()[0]) + 1} clicks'\n"
        "    button.on_click(on_click)\n"
        "    return w.VBox([button, label])\n"
    )
    cells = [code, "widget(works=True)", "widget(works=False)"]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": c,
                "outputs": [],
                "execution_count": None,
            }
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / "widget_oracle.ipynb").write_text(json.dumps(nb))
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/widget_oracle.ipynb?reset&token={lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        lab.wait_for_kernel("widget_oracle.ipynb")
        _run_all(page, "widget_oracle")
        widgets = page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
        widgets.nth(1).wait_for(timeout=30_000)
        _check_widget(page, widgets.nth(0), "working widget")
        with pytest.raises(AssertionError, match="did not change"):
            _check_widget(page, widgets.nth(1), "broken widget", wait_s=5)
    finally:
        context.close()
        lab.shutdown_kernels()
