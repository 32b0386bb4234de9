"""The notebooks: stored clean, start and end the same way, and run end to end with sane results.

Two kinds of test:

* structure (fast, json only): no outputs (nbval's expected ones live in cell metadata, see
  conftest.py), one ``parameters`` cell,
  the title/setup/parameters opening, the Summary/Try next ending, badges and the Colab URL
  derived from ``gannotes.links``;
* execution (slow, marked ``notebook``): papermill runs every notebook into
  ``build/notebooks/`` with ``OUT_DIR`` set to ``build/results``, then the JSON each notebook
  records is checked against thresholds measured on a 2-core CPU (the measured value is noted
  next to each threshold).

nbval is not called from here: ``pytest --nbval-lax notebooks`` (or ``testpaths`` including
``notebooks``) collects each notebook as a test of its own.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

from gannotes.data import CLASSES
from gannotes.links import REPO_URL, badges_markdown
from gannotes.quality import QUALITY_GATES, gate_failures
from gannotes.recorded import separated

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
BUILD = ROOT / "build"
CHECK_OUTPUT_MARKER = "# NBVAL_CHECK_OUTPUT"

# conftest.py sets JUPYTER_PREFER_ENV_PATH (the venv's kernel) and OMP_NUM_THREADS=1: on a CPU
# shared with other jobs torch's spinning OpenMP threads made notebook 01 15-45x slower
# (measured: DCGAN 1.7 vs 25 steps/s at load 8 on 2 cores). Kernels inherit both.


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _strip_script():
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", ROOT / "scripts/strip_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ids = [p.name for p in NOTEBOOKS]


def test_the_course_has_its_first_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"00_welcome.ipynb", "01_gan_from_scratch.ipynb"} <= names


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_stored_without_outputs(path):
    nb = _load(path)
    assert "widgets" not in nb["metadata"] and "papermill" not in nb["metadata"]
    for i, cell in enumerate(nb["cells"]):
        assert "execution" not in cell.get("metadata", {}), f"cell {i} keeps run timings"
        if cell["cell_type"] != "code":
            continue
        assert cell["outputs"] == [], f"cell {i} stores outputs (run make clean-notebooks)"
        assert cell["execution_count"] is None, f"cell {i} has an execution_count"
        if _source(cell).startswith(CHECK_OUTPUT_MARKER):
            # nbval's expected output lives in the metadata (see conftest.py)
            assert cell["metadata"].get("expected_output"), f"cell {i}: no expected_output"
    # ... and the strip script agrees that there is nothing to strip.
    assert _strip_script().strip(_load(path)) == nb


def test_nbval_sees_the_expected_outputs_and_fails_on_a_difference():
    """The conftest shim turns metadata["expected_output"] into the stored output nbval checks.

    The notebook is written under the repository (conftest.py applies to files below it)."""
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(CHECK_OUTPUT_MARKER + "\nprint(6 * 7)")
    nb.cells = [cell]
    tmp_path = BUILD / "nbval-selftest"
    tmp_path.mkdir(parents=True, exist_ok=True)
    for expected, code in (("42\n", 0), ("41\n", 1)):
        cell.metadata["expected_output"] = expected
        nbformat.write(nb, tmp_path / "check.ipynb")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(tmp_path / "check.ipynb"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == code, result.stdout[-2000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_opening_cells(path):
    """Title (with what you will learn, time, badges), Colab setup, parameters: in that order."""
    cells = _load(path)["cells"]
    title, setup, params = cells[0], cells[1], cells[2]

    assert title["cell_type"] == "markdown"
    text = _source(title)
    assert text.startswith("# "), "the first line is the notebook's title"
    assert "What you will learn" in text
    assert re.search(r"about \d+(\.\d+)? min on one CPU core", _time_line(text)), text
    assert badges_markdown(path.name) in text.splitlines()

    assert setup["cell_type"] == "code"
    assert _source(setup) == COLAB_SETUP, "the same set-up cell in every notebook"

    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged parameters (papermill)"
    assert params is tagged[0] and params["cell_type"] == "code"
    assert re.search(r"^OUT_DIR = ", _source(params), re.M)
    assert re.search(r"^FAST = False", _source(params), re.M)


# The set-up cell: on Colab it clones the course and runs scripts/colab_setup.py in the kernel
# (install, import path, working directory); anywhere else it does nothing.
COLAB_SETUP = (
    'if "google.colab" in str(get_ipython()):  # Colab only: fetch and install the course\n'
    f"    ![ -d /content/gannotes ] || git clone -q --depth 1 {REPO_URL} /content/gannotes\n"
    "    %run /content/gannotes/scripts/colab_setup.py"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_boilerplate_cells_are_collapsed(path):
    """The set-up and parameters cells are short and collapsed (JupyterLab shows "..."; the book
    hides them too), so a notebook opens on its title and what you will learn."""
    setup, params = _load(path)["cells"][1:3]
    assert setup["metadata"] == {"jupyter": {"source_hidden": True}, "tags": ["setup"]}
    assert len(_source(setup).splitlines()) <= 3
    assert params["metadata"] == {"jupyter": {"source_hidden": True}, "tags": ["parameters"]}
    # a parameters cell shows no machine's path (papermill's injected cell, in the book, may)
    assert not re.search(r"[\"'](/|~|[A-Za-z]:\\)", _source(params)), "an absolute path"
    # ... and the strip script keeps this metadata
    assert _strip_script().strip(_load(path))["cells"][1:3] == [setup, params]


def test_colab_setup_script_installs_imports_and_moves_to_the_notebooks(monkeypatch, tmp_path):
    """scripts/colab_setup.py, as the set-up cell's %run runs it on Colab (pip faked): an editable
    install without dependencies, the clone first on sys.path, the working directory notebooks/."""
    import os
    import runpy
    import subprocess
    import sys

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(ROOT)])
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # running the cell again changes nothing more
        runpy.run_path(str(ROOT / "scripts" / "colab_setup.py"))
    (cmd, kw), _ = calls
    assert cmd == [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)]
    assert kw == {"check": True}
    assert sys.path[0] == str(ROOT) and sys.path.count(str(ROOT)) == 1
    assert Path(os.getcwd()) == NOTEBOOK_DIR


def _time_line(title: str) -> str:
    """The title cell's 'Time:' paragraph, on one line."""
    paragraph = re.search(r"^\*\*Time:\*\*.*?(?=\n\s*\n|\Z)", title, re.M | re.S)
    assert paragraph, "the title cell has a **Time:** paragraph"
    return " ".join(paragraph.group(0).split())


def test_time_line_guard_catches_unmeasured_gpu_times():
    """The guard below rejects the GPU times and estimates the titles once stated."""
    for bad in (
        "**Time:** about 2 min on a laptop CPU, 40 s on a GPU.",
        "**Time:** about 2 min on one CPU core; 60s on a GPU (an estimate).",
        "**Time:** about 2 min on one CPU core; on a GPU about 1 min.",
    ):
        assert _unmeasured_time(_time_line(bad)), bad
    good = "**Time:** about 2 min on one CPU core, as recorded by `x`; on a GPU: not measured yet."
    assert not _unmeasured_time(_time_line(good))


def _unmeasured_time(line: str) -> list[str]:
    """What in a Time: line states a time nobody measured: any GPU time, any estimate."""
    found = re.findall(r"\d+(?:\.\d+)? ?(?:s|sec\w*|min\w*) on (?:a|the|your) GPU", line)
    found += re.findall(r"GPU[^.;]*?\d+(?:\.\d+)? ?(?:s|sec\w*|min\w*)\b", line)
    found += re.findall(r"estimat\w*", line, re.I)
    return found


def test_time_lines_quote_the_recorded_notebook_budget():
    """Each 'Time:' line's CPU minutes within 45 s of benchmarks/notebook_budget.py's record,
    and "an older CPU took N min" within 45 s of the older machine's time. No GPU time has been
    measured: a Time: line says so and states none (no "N s on a GPU", no estimate)."""
    record = _results("notebook_budget.json")
    runs = {r["notebook"]: r["seconds"] for r in record["runs"]}
    for path in NOTEBOOKS:
        text = _time_line(_source(_load(path)["cells"][0]))
        assert not _unmeasured_time(text), (path.name, _unmeasured_time(text))
        assert "on a GPU: not measured yet" in text, (path.name, text)
        assert "as recorded by `benchmarks/notebook_budget.py`" in text, (path.name, text)
        minutes = float(re.search(r"about (\d+(?:\.\d+)?) min on one CPU core", text).group(1))
        assert abs(60 * minutes - runs[path.name]) <= 45, (path.name, minutes, runs[path.name])
        older = re.search(r"an older CPU took (\d+(?:\.\d+)?) min", text)
        if older:
            was = record["earlier"]["seconds"][path.name]
            assert abs(60 * float(older.group(1)) - was) <= 45, (path.name, older.group(1), was)


def test_every_notebook_ran_within_the_binder_budget():
    """The course's budget (3 min and 1.5 GB on Binder's one CPU), as recorded by
    benchmarks/notebook_budget.py: every notebook has a row, measured on one pinned CPU."""
    record = _results("notebook_budget.json")
    rows = {r["notebook"]: r for r in record["runs"]}
    assert sorted(rows) == sorted(p.name for p in NOTEBOOKS)
    for name, r in rows.items():
        assert r["seconds"] <= record["budget_s"] == 180, (name, r["seconds"])
        assert r["peak_rss_mb"] <= record["budget_mb"] == 1536, (name, r["peak_rss_mb"])
        assert r["measured_by"]["cpus_per_notebook"] == 1, name
    # the table in benchmarks/README.md is this record
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for name, r in rows.items():
        assert f"| {r['seconds']} | {r['peak_rss_mb']:,} |" in readme, name


def test_00_times_the_dcgan_steps_notebook_01_trains():
    """Notebook 00's estimate for notebook 01 uses 01's own DCGAN_STEPS (its parameters cell)."""
    nb00 = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "00_welcome.ipynb")["cells"])
    params01 = _source(_load(NOTEBOOK_DIR / "01_gan_from_scratch.ipynb")["cells"][2])
    steps = int(re.search(r"^DCGAN_STEPS = (\d+)", params01, re.M).group(1))
    assert re.search(rf"^DCGAN_STEPS_01 = {steps}  #", nb00, re.M)
    assert f"for {steps:,} steps" in " ".join(nb00.split())


def test_01_summary_quotes_its_own_budgets():
    """Notebook 01's summary compares the MLP and the DCGAN at the steps its parameters give."""
    cells = _load(NOTEBOOK_DIR / "01_gan_from_scratch.ipynb")["cells"]
    params = _source(cells[2])
    mlp, dcgan = (
        int(re.search(rf"^{k}_STEPS = (\d+)", params, re.M).group(1)) for k in ("MLP", "DCGAN")
    )
    summary = " ".join(_source(cells[-2]).split())
    assert f"in this run ({mlp:,} MLP steps, {dcgan:,} DCGAN steps)" in summary


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_closing_cells_and_exercises(path):
    cells = _load(path)["cells"]
    assert cells[-2]["cell_type"] == "markdown" and _source(cells[-2]).startswith("## Summary")
    assert cells[-1]["cell_type"] == "markdown" and _source(cells[-1]).startswith("## Try next")
    assert any("Your turn" in _source(c) for c in cells if c["cell_type"] == "markdown")
    # every exercise's solution can be revealed: a markdown line tells how, with solution(...)
    assert any('solution("' in _source(c) for c in cells if c["cell_type"] == "markdown")


def _exercises(r: dict, keys: dict[str, str]) -> None:
    """A fresh run: the learner's answer (``keys[NAME]``), still the stub or None, is not attempted
    (None). That each solution passes its check is tests/test_exercises.py's job."""
    for name, learner in keys.items():
        assert r[learner] is None, (name, learner)


# ----------------------------------------------------------------------------- execution


def _check_00(r: dict) -> None:
    assert r["images_per_class"] in ([6000] * 10, [1000] * 10)  # full set or shipped subset
    assert r["pixel_min"] == -1.0 and r["pixel_max"] == 1.0
    assert r["notebooks"][:2] == ["00_welcome.ipynb", "01_gan_from_scratch.ipynb"]
    assert r["dcgan_steps_per_s_probe"] > 0
    _exercises(r, {"to_bytes": "exercise_to_bytes_ok"})


def _check_01(r: dict) -> None:
    _exercises(
        r,
        {
            "d_star": "exercise_d_star_ok",
            "g_loss": "exercise_g_loss_ok",
            "equilibrium_value": "exercise_equilibrium_value_ok",
        },
    )
    # The theory part is exact up to float64 integration error.
    assert r["d_star_max_error"] < 1e-12  # measured 2e-16
    assert r["value_identity_error"] < 1e-6  # measured 7e-16 (on [-8, 10])
    w, b = r["dstar_fit_w_b"]
    assert (
        abs(w + 2) < 0.3 and abs(b - 2) < 0.3
    )  # D* has w = -2, b = 2; measured w = -2.00, b = 2.04
    assert r["g_grad_at_logit_minus_10"]["minimax"] < 1e-3  # saturates: sigmoid(-10) = 4.5e-5
    assert r["g_grad_at_logit_minus_10"]["nonsaturating"] > 0.99  # 1 - 4.5e-5
    # The hand-written ring GAN (3,000 steps, seed 0).
    assert r["ring_modes_covered"] >= 6  # measured 8 of 8 (1 thread), 6 (2 threads; batch 256)
    # "the points are still spread along the circle between modes"
    assert 0.05 < r["ring_high_quality_fraction"] < 0.8  # measured 0.20
    assert sum(r["ring_samples_per_mode"]) > 0
    for name in ("mlp", "dcgan"):
        m = r[name]
        assert m["steps_per_s"] > 0 and m["images_per_s"] > 0
        assert math.isfinite(m["final_loss_d"]) and math.isfinite(m["final_loss_g"])
        # Neither network has won outright: D still separates, but is not saturated.
        assert 0.2 < m["final_d_real"] < 0.98  # measured MLP 0.62, DCGAN 0.63 (2,500 steps)
        assert 0.02 < m["final_d_fake"] < 0.8  # measured MLP 0.39, DCGAN 0.37 (2,500 steps)
        assert m["final_d_real"] > m["final_d_fake"]
    # Sample quality of the default runs (2,000 samples against the 2,000 held-out test images).
    # The DCGAN is held to its gate in gannotes.quality.QUALITY_GATES (measured FID 150,
    # precision 0.68, recall 0.40, 10 classes); tests/test_quality.py shows that an untrained
    # generator and one collapsed to two classes fail that gate.
    q = r["quality"]
    assert q["dcgan"]["n"] == 2000
    # "The DCGAN spreads its samples over all ten classes here ... its FID is far below the
    # untrained generator's (the first line)": untrained FID 1,070, 1 class; DCGAN 151.5, 10
    assert q["dcgan"]["classes_covered"] == 10
    assert q["untrained"]["fid"] > 4 * q["dcgan"]["fid"] and q["untrained"]["classes_covered"] <= 2
    assert gate_failures(q["dcgan"], QUALITY_GATES["dcgan"]) == [], q["dcgan"]
    assert q["dcgan"]["passes_dcgan_gate"] is True
    # The MLP GAN (G with BatchNorm, lr 5e-4): "its samples spread over most of the ten classes,
    # yet its FID is far above the DCGAN's and its recall ... is near 0" (measured FID 331, 9
    # classes, recall 0.001 against the DCGAN's FID 152;
    # the recipe before BatchNorm collapsed to 1 class). Held to its own gate.
    m = q["mlp"]
    assert m["classes_covered"] >= 8 and m["recall"] < 0.05, m
    # "its precision says that most of them land near some real image ... Its coverage ... is
    # low too": precision 0.85, coverage 0.126 (the DCGAN's 0.383)
    assert m["precision"] > 0.5 and m["coverage"] < 0.3 and m["coverage"] < q["dcgan"]["coverage"]
    assert m["fid"] > 1.5 * q["dcgan"]["fid"]
    assert gate_failures(m, QUALITY_GATES["mlp"]) == [], m
    assert m["passes_dcgan_gate"] is False


def _decreasing(values: list[float]) -> bool:
    return all(a > b for a, b in zip(values, values[1:], strict=False))


def _check_07(r: dict) -> None:
    """The orderings notebook 07 teaches (2,000 images per set; measured values in comments)."""
    # the scripted player of solution("game") beats chance on the 20-image deck (it uses the
    # dark grey haze around generated garments: 20 of 20 seeds at 50 and at 1,500 DCGAN steps)
    _exercises(r, {"fid": "exercise_fid_ok", "game": "exercise_game_beats_chance"})
    m = r["metrics"]
    real, dcgan = m["real"], m["DCGAN"]
    # The floor: 2,000 training images against the 2,000 reference test images.
    assert real["fid"] < 10  # measured 3.9
    assert real["precision"] > 0.8 and real["recall"] > 0.8  # 0.865, 0.879
    assert real["coverage"] > 0.9 and real["classes_covered"] == 10  # 0.97
    assert 7 < real["inception_score"] < 10  # 8.00
    # Sample size: FID's bias shrinks with N; KID of real data is ~0 at every N.
    by_n = r["sample_size"]
    fids = by_n["real"]["fid"]
    assert _decreasing(fids), fids  # 23.4, 10.1, 6.1, 3.9, 2.0
    assert fids[0] > 3 * fids[-1]
    assert all(abs(k) < 2 for k in by_n["real"]["kid"])  # 1.27, 0.22, -0.04, -0.13, -0.44
    assert all(k > 10 for k in by_n["DCGAN"]["kid"])  # 33-36
    # "The DCGAN's FID moves much less in relative terms": 200 -> 179 against 23.4 -> 2.0
    dcgan_fids = by_n["DCGAN"]["fid"]
    assert dcgan_fids[0] / dcgan_fids[-1] < 0.5 * fids[0] / fids[-1]
    # Fidelity: FID orders the defects; precision drops with blur.
    fid = {name: m[name]["fid"] for name in m}
    assert fid["real"] < fid["blur 3x3"] < fid["blur 5x5"] < fid["1 class"]  # 4 < 229 < 415 < 874
    assert fid["noise"] > fid["blur 5x5"]  # 962
    assert m["blur 5x5"]["precision"] < m["blur 3x3"]["precision"] < real["precision"]
    # 0.69 < 0.81 < 0.865
    # "Recall collapses for the blurs as well": 0.001, 0.001
    assert all(m[b]["recall"] < 0.25 * real["recall"] for b in ("blur 3x3", "blur 5x5"))
    # Naeem et al.: noise fools precision (outliers' balls) but not density or coverage.
    noise = m["noise"]
    assert noise["precision"] > 0.6  # measured 0.81
    assert noise["density"] < 0.5 * real["density"]  # 0.33 vs 1.01
    assert noise["coverage"] < 0.05  # 0.004
    assert r["noise_accepting_real_images"] < 50  # 4 of 2,000
    assert r["noise_accepting_radius_ratio"] > 1.2  # 1.65
    assert r["noise_balls_per_accepted_sample"] < 3  # 1.37: "only one or two balls"
    # Dropping classes: precision stays, recall and coverage fall.
    collapse = [real, m["5 classes"], m["2 classes"], m["1 class"]]
    assert all(abs(c["precision"] - real["precision"]) < 0.1 for c in collapse)  # 0.85-0.87
    assert all(abs(c["density"] - real["density"]) < 0.15 for c in collapse)  # 0.96-1.01
    recalls = [c["recall"] for c in collapse]  # 0.88, 0.62, 0.21, 0.10
    coverages = [c["coverage"] for c in collapse]  # 0.97, 0.58, 0.24, 0.135
    assert _decreasing(recalls), recalls
    assert _decreasing(coverages), coverages
    assert recalls[-1] < 0.2 and coverages[-1] < 0.2
    assert [c["classes_covered"] for c in collapse] == [10, 5, 2, 1]
    # The Inception Score ignores diversity within a class.
    ten = m["ten images"]
    assert ten["inception_score"] > real["inception_score"]  # 9.75 > 8.00
    assert m["1 class"]["inception_score"] < 1.5  # 1.14
    assert ten["recall"] < 0.05 and ten["coverage"] < 0.05  # 0.000, 0.005
    # Memorisation: copies score the floor FID, but sit at distance 0 from the training set.
    nn = r["nn_median_distance"]
    assert r["nn_max_distance_copies"] == 0.0 and nn["copies (train)"] == 0.0
    assert nn["held-out test"] > 3  # 6.88
    # 11.3: "The DCGAN's samples are *farther* from the training set than new real images are"
    assert nn["DCGAN"] > nn["held-out test"]
    # The DCGAN (1,500 steps, seed 0): better than one class, worse than real data.
    assert real["fid"] < dcgan["fid"] < fid["1 class"]  # 194
    assert dcgan["classes_covered"] >= 9  # 10
    # "the two can have FIDs of the same order": five real classes against the DCGAN (214, 179)
    assert 0.5 < fid["5 classes"] / dcgan["fid"] < 2
    # The game: a coin is at chance; the discriminator is not.
    game = r["game"]
    assert game["coin_p"] > 0.05  # 0.64 (98 of 200)
    assert game["discriminator_accuracy"] > 0.6  # 0.78
    # The verdict table, filled from the numbers above.
    v = r["verdict"]
    assert v["fid"]["copying the training set"] is False
    assert v["nearest-neighbour distance"]["copying the training set"] is True
    assert v["precision"]["noise"] is False and v["density"]["noise"] is True
    # "Precision misses blur, noise and missing classes ... It catches the ten images only
    # because some of those ten lie outside every real ball" (precision 0.50: 5 of 10)
    assert v["precision"]["blur"] is False and v["precision"]["missing classes"] is False
    assert v["precision"]["no diversity in a class"] is True
    assert round(ten["precision"] * 10) < 10
    # "for the missing classes precision and density stay at their real values while recall
    # and coverage fall"
    assert v["recall"]["missing classes"] and v["coverage"]["missing classes"]
    # "clearly better than chance (its 95% interval above lies wholly above 50%)": 131 of 200,
    # Wilson interval 59%-72%
    assert game["discriminator_interval"][0] > 0.5
    assert v["inception_score"]["no diversity in a class"] is False
    assert v["recall"]["missing classes"] is True
    # "Density ... like precision, cannot see missing classes"; "The Inception Score and the
    # class count miss a collapse within classes"; "Recall and coverage catch every defect here
    # but copying, as FID does"
    assert v["density"]["missing classes"] is False and v["precision"]["missing classes"] is False
    assert v["classes_covered"]["no diversity in a class"] is False
    defects = ("blur", "noise", "missing classes", "no diversity in a class")
    assert all(v[k][d] is True for k in ("recall", "coverage", "fid") for d in defects)


CHECKS = {
    "00_welcome": _check_00,
    "01_gan_from_scratch": _check_01,
    "07_evaluation_metrics": _check_07,
}


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_and_records_sane_numbers(path):
    papermill = pytest.importorskip("papermill")
    out_dir = BUILD / "results"
    record = out_dir / f"{path.stem}.json"
    record.unlink(missing_ok=True)
    (BUILD / "notebooks").mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                str(path),
                str(BUILD / "notebooks" / path.name),
                parameters={"OUT_DIR": str(out_dir)},
                kernel_name="python3",
                cwd=str(NOTEBOOK_DIR),
                progress_bar=False,
            )
            break
        except RuntimeError as e:
            # A kernel that dies before its first reply (seen once in a full run: two workers
            # starting kernels at the same moment) is a start-up race, not the notebook's fault:
            # one retry. Errors inside the notebook raise PapermillExecutionError, never retried.
            if attempt == 2 or "Kernel died before replying" not in str(e):
                raise
    assert record.is_file(), f"{path.name} did not write {record}"
    results = json.loads(record.read_text(encoding="utf-8"))
    if path.stem in CHECKS:
        CHECKS[path.stem](results)


# ----------------------------------------------------------------------------- notebook 02
# Notebook 02 (training process: tricks and pitfalls). Its record is checked by the generic
# execution test above through CHECKS. Measured values: default parameters, 1 thread, 2-core CPU.

TRICKS_02 = (
    "plain",
    "label smoothing 0.1",
    "label noise 0.05",
    "instance noise 0.1",
    "grad clip 1.0",
    "augment jitter",
    "minibatch std",
    "pack 2",
    "pack 4",
    "TTUR (lr_d 2x, lr_g 1/2x)",
    "RMSprop",
    "EMA 0.99",
    "spectral norm",
    "R1 penalty 3",
    "top-k 0.5",
)


def _check_02(r: dict) -> None:
    # 1. The loop: the naive version leaks gradients both ways; the package's step does not.
    loop = r["loop"]
    assert loop["naive_g_grad_from_d_loss"] > 0  # measured 0.052
    assert loop["naive_d_grad_from_g_loss"] > 0  # measured 0.92
    assert loop["package_d_unchanged_by_g_step"] is True
    assert loop["package_g_changed"] is True and loop["package_d_trainable_after"] is True
    # 2. D pre-training on the ring: recorded for every seed (no direction is claimed).
    pre = r["pretrain_ring"]
    assert len(pre) == 2
    for runs in pre.values():
        assert len(runs) == len(r["seeds"])
        assert all(0 <= x["modes"] <= 8 and 0 <= x["high_quality"] <= 1 for x in runs)
        # the text calls both runs early at this budget (measured high quality 0.0-0.02)
        assert all(x["high_quality"] < 0.3 for x in runs) or r["toy_steps"] > 400
    # 3. Monitoring: FID falls during the short DCGAN run while G's loss does not.
    mon = r["monitoring"]
    fid = mon["fid"]
    assert len(fid) == len(mon["fid_steps"]) >= 2 and all(math.isfinite(f) for f in fid)
    # the text: "FID falls to less than half while neither loss moves by more than a quarter
    # (G's falls by about a seventh, D's stays level)"; measured FID 1070 -> 431 (500 samples,
    # 150 steps), G's loss 2.29 -> 1.97, D's 0.94 -> 0.96
    assert fid[-1] < 0.5 * fid[0]
    (g0, g1), (d0, d1) = mon["loss_g_first_last"], mon["loss_d_first_last"]
    assert abs(g1 / g0 - 1) < 0.25 and abs(d1 / d0 - 1) < 0.25
    assert 0.05 < 1 - g1 / g0 < 0.25 and abs(d1 / d0 - 1) < 0.1  # "a seventh", "level"
    assert all(math.isfinite(v) for v in mon["loss_d_first_last"] + mon["loss_g_first_last"])
    assert mon["grad_norm_d_last"] > 0 and mon["grad_norm_g_last"] > 0
    # 4. Every trick was run on the grid; the plain recipe loses modes on this budget.
    tricks = r["tricks_grid"]
    assert set(tricks) == set(TRICKS_02)
    for t in tricks.values():
        assert len(t["modes"]) == len(r["seeds"]) and all(0 <= m <= 25 for m in t["modes"])
        assert all(0 <= q <= 1 for q in t["high_quality"])
    assert tricks["plain"]["mean_modes"] < 25  # measured 1, then 5 (400 steps, seed 0)
    # The text calls the plain run early, almost no sample on a mode, at this budget (measured
    # high-quality fraction 0.003-0.007, then 0.021). No trick is gated against it: one 400-step
    # seed per trick is noise-sized (measured, two package versions: label smoothing 20 then 0
    # modes, label noise 18 both times, plain 1 then 5); the recorded 3-seed results are tied
    # to the prose by test_02_prose_quotes_the_recorded_results_and_they_say_what_it_concludes.
    assert tricks["plain"]["high_quality"][0] < 0.2
    # 5. Mode-collapse lab: both toy sets, plain and recipe, scored with the 3-std protocol.
    lab = r["collapse_lab"]
    for ds, total in (("ring", 8), ("grid", 25)):
        for which in ("plain", "recipe"):
            assert 0 <= lab[ds][which]["modes"] <= total
    assert lab["grid"]["plain"]["modes"] < 25  # measured 1, then 5 (package being tuned)
    # 6a. Too high a learning rate: recorded; spectral norm at lr 1e-2 freezes D(x) (measured
    # swing 0.0002 vs 0.063 without, then 0.0006 vs 0.017; 0 modes both times).
    hi = r["pitfall_high_lr"]
    assert len(hi) == 3 and all(math.isfinite(v["d_real_std_second_half"]) for v in hi.values())
    plain_hi, sn_hi = hi["lr 0.01 for both"], hi["... + spectral norm"]
    assert sn_hi["d_real_std_second_half"] < 0.5 * plain_hi["d_real_std_second_half"]
    assert abs(sn_hi["d_real_mean_second_half"] - 0.5) < 0.05  # measured 0.4998: D stopped
    # 6b. Imbalance: the skew shows in the samples; oversampling reduces the majority's share.
    imb = r["pitfall_imbalance"]
    assert imb["skewed"]["Trouser"] > 0.6  # data 0.9; measured 0.968
    assert imb["oversampled"]["Trouser"] < imb["skewed"]["Trouser"]  # measured 0.20
    # 6c. Overfitting: D's accuracies are recorded (measured plain 0.48 train / 0.30 held out,
    # augmented 0.80 / 0.80); no gate on the gap, which is one seed of a short run.
    for v in r["pitfall_overfit"].values():
        assert 0 <= v["d_acc_train"] <= 1 and 0 <= v["d_acc_held_out"] <= 1
    _exercises(r, {"smooth_targets": "exercise_smooth_targets_ok"})


CHECKS["02_training_process"] = _check_02


def test_02_structure_names_every_trick_and_the_published_tables():
    """Notebook 02 (json only): runs each trick, cites VEEGAN/PacGAN, shows the GAN Lab."""
    nb = _load(NOTEBOOK_DIR / "02_training_process.ipynb")
    text = "\n".join(_source(c) for c in nb["cells"])
    from gannotes.experiments import toy_trick_variants  # the notebook's (and benchmark's) list

    assert tuple(toy_trick_variants("grid", 1)) == TRICKS_02
    assert 'toy_trick_variants("grid", TOY_STEPS)' in text
    for cited in (
        "Srivastava et al. 2017",
        "Lin et al. 2018",
        "99.3",
        "52.9",
        "24.6",
        "94.8",
        "93.6",
    ):
        assert cited in text, cited
    assert 'gan_lab("ring")' in text and "mode_coverage" in text
    assert "02_training_process.json" in text


def test_02_one_minute_table_is_the_recorded_benchmark():
    """Notebook 02's table of the one-minute CLI runs quotes benchmarks/results/toy_cli.json
    (written by benchmarks/toy_cli.py), and that record meets the issue's acceptance: >= 24.5
    modes and >= 70% high quality over 3 seeds, by the independent counter."""
    rows = json.loads((ROOT / "benchmarks/results/toy_cli.json").read_text())
    grid = [r for r in rows if r["dataset"] == "grid" and r["flags"] == "" and r["minutes"] == 1]
    assert sorted(r["seed"] for r in grid) == [0, 1, 2]
    modes = [r["modes_independent"] for r in grid]
    hq = sum(r["high_quality_independent"] for r in grid) / 3
    assert sum(modes) / 3 >= 24.5 and hq >= 0.7
    assert all(r["modes"] == r["modes_independent"] for r in grid)  # the two counters agree
    text = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "02_training_process.ipynb")["cells"])
    quoted = f"{sum(modes) / 3:.1f} ({', '.join(map(str, modes))})"
    assert quoted in text and f"{100 * hq:.1f}%" in text
    # the table's training time and the runs the minute cut short are the record's: "57-60 s,
    # machine busy (42-49 s idle)" (the idle figure recorded in benchmarks/toy_recipe.md);
    # "these runs shared the machine with another job, and seeds 0 and 2 stopped at steps 7,876
    # and 7,735 of 8,000"
    flat = " ".join(text.split())
    secs = sorted(round(60 * r["train_min"]) for r in grid)
    assert f"{secs[0]}-{secs[-1]} s, machine busy (42-49 s idle)" in flat
    recipe_md = " ".join((ROOT / "benchmarks/toy_recipe.md").read_text().split())
    assert "8,000 steps take 42-49 s of training time" in recipe_md
    # the plain GAN's row, "18.3 (17, 23, 15) | 7.2% | 26 CPU-s", is the screen's plain row
    assert "| plain | grid | 8000 | 3 | 18.33 (17, 23, 15) | 0.072 | 26.2 |" in recipe_md
    assert "| 18.3 (17, 23, 15) | 7.2% | 26 CPU-s |" in flat
    assert all(r["load_avg_1min"] > 1 for r in grid)
    short = sorted((r for r in grid if r["steps"] < 8000), key=lambda r: r["seed"])
    said = " and ".join(str(r["seed"]) for r in short) + " stopped at steps "
    assert said + " and ".join(f"{r['steps']:,}" for r in short) + " of 8,000" in flat
    # the pack-4 row is the record's `--pack 4` runs (re-run after R1 became R1 on the packs)
    packed = sorted((r for r in rows if r["flags"] == "--pack 4"), key=lambda r: r["seed"])
    assert [r["seed"] for r in packed] == [0, 1, 2]
    modes4 = [r["modes_independent"] for r in packed]
    hq4 = sum(r["high_quality_independent"] for r in packed) / 3
    secs4 = sorted(round(60 * r["train_min"]) for r in packed)
    row4 = f"| {sum(modes4) / 3:.1f} ({', '.join(map(str, modes4))}) | {100 * hq4:.1f}% |"
    assert f"`--pack 4` {row4} {secs4[0]}-{secs4[-1]} s |" in flat
    # the README quotes the same runs: the mean and each seed's high-quality fraction
    readme = " ".join((ROOT / "README.md").read_text().split())
    per_seed = ", ".join(f"{100 * r['high_quality_independent']:.1f}%" for r in grid)
    assert f"{100 * hq:.1f}% of samples within 3 std of a mode ({per_seed})" in readme


# Notebook 02's full-budget results: python benchmarks/training_process.py (3 seeds).
RECORDED_02 = ROOT / "benchmarks/results/training_process.json"
# "mean (seed 0, seed 1, seed 2)": how notebook 02's prose quotes a recorded number
_QUOTE_02 = re.compile(r"-?\d+(?:\.\d+)? \(-?\d[\d.]*, -?\d[\d.]*, -?\d[\d.]*\)")


def _quote_02(values: list, digits: int) -> str:
    return f"{sum(values) / len(values):.{digits}f} ({', '.join(f'{v:g}' for v in values)})"


def test_02_recorded_results_record_their_command_budgets_and_three_seeds():
    rec = json.loads(RECORDED_02.read_text())
    assert rec["command"] == "python benchmarks/training_process.py"
    sections = rec["sections"]
    assert set(sections) == {"pretrain", "tricks", "high_lr", "imbalance", "overfit"}
    assert set(sections["tricks"]["variants"]) == set(TRICKS_02)
    for name, sec in sections.items():
        assert sec["command"].startswith("python benchmarks/training_process.py"), name
        assert sec["seeds"] == [0, 1, 2] and sec["steps"] >= 1000, name
        for variant, row in sec["variants"].items():
            metrics = [k for k in row if not k.endswith("_summary")]
            assert metrics, (name, variant)
            for m in metrics:
                values, summary = row[m], row[m + "_summary"]
                assert len(values) == 3, (name, variant, m)
                assert summary["mean"] == pytest.approx(sum(values) / 3, abs=1e-4)
                assert (summary["min"], summary["max"]) == (min(values), max(values))


def test_02_prose_quotes_the_recorded_results_and_they_say_what_it_concludes():
    """Every "mean (a, b, c)" in notebook 02's prose (outside section 5's table of the
    one-minute CLI runs, tied to toy_cli.json above) is a recorded per-seed result from
    benchmarks/results/training_process.json, and each conclusion the prose draws from them
    holds in that file: a difference is called one only where the seeds' ranges do not overlap."""
    sec = json.loads(RECORDED_02.read_text())["sections"]
    cells = _load(NOTEBOOK_DIR / "02_training_process.ipynb")["cells"]
    prose = "\n".join(
        _source(c)
        for c in cells
        if c["cell_type"] == "markdown" and "benchmarks/toy_cli.py" not in _source(c)
    )
    recorded = {
        _quote_02(values, digits)
        for s in sec.values()
        for row in s["variants"].values()
        for m, values in row.items()
        if not m.endswith("_summary")
        for digits in (1, 2, 3, 4)
    }
    quoted = _QUOTE_02.findall(prose)
    assert len(quoted) >= 12, quoted
    for q in quoted:
        assert q in recorded, f"notebook 02 quotes {q!r}, which is not a recorded result"
    for s in sec.values():  # the budgets and the command are named beside the numbers
        assert f"{s['steps']:,} steps" in prose, s["steps"]
    assert "python benchmarks/training_process.py" in prose

    def v(section, variant, metric="modes"):
        return sec[section]["variants"][variant][metric]

    def below(a, b):  # every seed of a under every seed of b
        return max(a) < min(b)

    # 2. Pre-training D: all 8 modes on every seed without it; with it, fewer on two seeds of
    # three and a lower high-quality fraction on every seed.
    none, pre = "d_pretrain_steps=0", f"d_pretrain_steps={sec['pretrain']['d_pretrain_steps']}"
    assert sec["pretrain"]["d_pretrain_steps"] == 500  # "500 of the 2,000 steps"
    assert v("pretrain", none) == [8, 8, 8]
    assert sum(m < 8 for m in v("pretrain", pre)) == 2
    assert below(v("pretrain", pre, "high_quality"), v("pretrain", none, "high_quality"))
    for q in (_quote_02(v("pretrain", pre), 1), _quote_02(v("pretrain", none, "high_quality"), 3)):
        assert q in prose, q
    # 4. Tricks on the grid: R1 and spectral norm capture more modes than the plain GAN on every
    # seed, none fewer; eleven tricks put fewer samples on the modes (high quality) on every
    # seed, none more; the others overlap it.
    plain = v("tricks", "plain")
    worse = {n for n in TRICKS_02 if below(v("tricks", n), plain)}
    better = {n for n in TRICKS_02 if below(plain, v("tricks", n))}
    assert better == {"R1 penalty 3", "spectral norm"}
    assert worse == set()
    # the notebook prints the same verdict from gannotes.recorded.separated
    side = separated(sec["tricks"]["variants"], "modes")
    assert (set(side["above"]), set(side["below"])) == (better, worse)
    for n in sorted(better) + ["plain", "label smoothing 0.1", "minibatch std"]:
        assert _quote_02(v("tricks", n), 1) in prose, n
    hq = "high_quality"
    hq_plain = v("tricks", "plain", hq)
    assert not any(below(hq_plain, v("tricks", n, hq)) for n in TRICKS_02)
    hq_worse = {n for n in TRICKS_02 if below(v("tricks", n, hq), hq_plain)}
    assert hq_worse == set(TRICKS_02) - {
        "plain",
        "instance noise 0.1",
        "augment jitter",
        "EMA 0.99",
    }
    for n in ("plain", "R1 penalty 3", "spectral norm", "EMA 0.99"):
        assert _quote_02(v("tricks", n, hq), 3) in prose, n
    # 6a. lr 1e-2: spectral norm stops D (D(x) 0.5, no mode) on every seed; TTUR finds more
    # modes than the plain high-lr run on every seed, with a larger swing of D(x).
    hi, sn, tt = "lr 0.01 for both", "... + spectral norm", "... + TTUR (lr_g 10x lower)"
    assert v("high_lr", sn) == [0, 0, 0]
    assert all(2 <= m <= 3 for m in v("high_lr", hi))  # "two or three ring modes"
    assert all(abs(m - 0.5) < 0.01 for m in v("high_lr", sn, "d_real_mean_second_half"))
    assert below(v("high_lr", hi), v("high_lr", tt))
    assert sum(q > 0.9 for q in v("high_lr", hi, "high_quality")) == 2  # sharp, on 2-3 modes
    swing = "d_real_std_second_half"
    assert below(v("high_lr", hi, swing), v("high_lr", tt, swing))
    for q in (
        _quote_02(v("high_lr", hi), 1),
        _quote_02(v("high_lr", tt), 1),
        _quote_02(v("high_lr", hi, swing), 4),
        _quote_02(v("high_lr", tt, swing), 4),
    ):
        assert q in prose, q
    # 6b. Imbalance: on the skewed data the minorities get less than their data share on every
    # seed (amplified); oversampled, every class gets between a fifth and 0.35.
    data = sec["imbalance"]["data_shares"]
    assert data == {"Trouser": 0.9, "Sneaker": 0.05, "Bag": 0.05}
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    assert "SKEW = {1: 0.9, 7: 0.05, 8: 0.05}" in code  # the live run's skew is the recorded one
    assert min(v("imbalance", "skewed", "Trouser")) >= data["Trouser"]
    for c in ("Sneaker", "Bag"):
        assert max(v("imbalance", "skewed", c)) < data[c], c
    for c in data:
        assert all(0.2 <= x <= 0.35 for x in v("imbalance", "oversampled", c)), c
        for which in ("skewed", "oversampled"):
            assert _quote_02(v("imbalance", which, c), 3) in prose, (which, c)
    # 6c. Overfitting: the plain D calls most training reals real and most held-out reals fake
    # on every seed; DiffAugment's gap is below the plain one on every seed.
    aug = "augment translation,cutout"
    assert min(v("overfit", "plain", "d_acc_train")) > 0.5
    assert max(v("overfit", "plain", "d_acc_held_out")) < 0.5
    assert below(v("overfit", aug, "gap"), v("overfit", "plain", "gap"))
    for which, m in [("plain", m) for m in ("d_acc_train", "d_acc_held_out", "gap")] + [
        (aug, "gap"),
        (aug, "d_acc_held_out"),
    ]:
        assert _quote_02(v("overfit", which, m), 3) in prose, (which, m)


# ----------------------------------------------------------------------------- notebook 06


def _screen() -> dict:
    rows = [json.loads(line) for line in (ROOT / "benchmarks/results/wgan_screen.jsonl").open()]
    return {r["name"]: r for r in rows}


def test_06_and_the_recipe_quote_the_recorded_screen():
    """The numbers behind "why n_critic = 1" (notebook 06, gans/classic.py) are those of
    benchmarks/results/wgan_screen.jsonl (python benchmarks/wgan_recipe.py screen)."""
    screen = _screen()
    paper = screen["paper: k5 lr1e-4 b(.5,.9) batch64"]
    best = screen["k1 lr1e-3 b(0,.9)"]
    logistic = screen["logistic (course recipe)"]
    k2 = [
        r["fid"]
        for r in screen.values()
        if r["overrides"].get("d_steps") == 2 and "model_config" not in r["overrides"]
    ]
    quoted = [
        f"{paper['fid']:.0f} with {paper['classes_covered']} of 10",
        f"{screen['k5 lr5e-4']['fid']:.0f}",
        f"{min(k2):.0f}-{max(k2):.0f}",
        f"{best['fid']:.0f}",
        f"{logistic['fid']:.0f}",
    ]
    text = _text_06()
    recipe = (ROOT / "gannotes/gans/classic.py").read_text()
    for q in quoted:
        assert q in text, q
        assert q.split(" with")[0] in recipe, q
    assert best["fid"] == min(r["fid"] for r in screen.values())  # the recipe is the best run
    from gannotes.training import default_config

    cfg = default_config("dcgan", "fashion-mnist", loss="wasserstein")
    o = best["overrides"]
    assert (cfg.d_steps, cfg.lr_g, cfg.lr_d, list(cfg.betas)) == (
        o["d_steps"],
        o["lr_g"],
        o["lr_d"],
        o["betas"],
    )


def test_the_recorded_wgan_gp_acceptance_run():
    """benchmarks/results/wgan_cli.json (python benchmarks/wgan_recipe.py cli): the commands
    as typed, 3 minutes each, 5,000 samples scored by the independent classifier. WGAN-GP
    covers all 10 classes and its Frechet distance is within 1.5x of the logistic DCGAN's on
    every seed (measured: 118/116/113 against 138/131/121)."""
    rows = json.loads((ROOT / "benchmarks/results/wgan_cli.json").read_text())
    wgan = {r["seed"]: r for r in rows if "--loss wasserstein --gp 10" in r["command"]}
    logistic = {r["seed"]: r for r in rows if "wasserstein" not in r["command"]}
    assert sorted(wgan) == sorted(logistic) == [0, 1, 2]
    for seed, r in wgan.items():
        assert r["classes_covered"] == 10 and r["fid"] <= 1.5 * logistic[seed]["fid"]
        assert 170 <= r["wall_s"] <= 240  # three minutes of training, as asked

    def three(runs):
        return f"{runs[0]['fid']:.0f}, {runs[1]['fid']:.0f} and {runs[2]['fid']:.0f}"

    text = _text_06()
    assert f"gave FID {three(wgan)} against the logistic DCGAN's {three(logistic)}" in text


def _check_06(r: dict) -> None:
    """Notebook 06's live numbers (default parameters, 1 thread; measured values in comments)."""
    # 1. Example 1: the minimax gradient vanishes with distance, the Wasserstein one stays ~1.
    ex = r["example1"]
    mm, ns, w = ex["minimax"], ex["nonsaturating"], ex["wasserstein"]
    assert all(abs(g) < 0.1 for g in mm)  # 0.046, 0.0035, 0.0010
    assert abs(mm[-1]) < abs(mm[0]) / 5  # "vanishes faster the farther away"
    assert abs(ns[-1]) < abs(ns[0])  # 52, 11, 5.7: larger near the data
    assert all(0.8 < abs(g) < 1.25 for g in w)  # 1.03, 1.02, 1.05
    # 3. The penalised critic measures W1 = |v| (max error 7.6%), clipping only ranks.
    ruler = r["ruler"]
    assert ruler["gp_max_rel_error"] < 0.1  # "within 10%"
    assert ruler["clip_rank_correlation"] == 1.0
    # "about a hundred times too small": 93 to 112 times smaller than |v|
    lo, hi = ruler["clip_times_too_small"]
    assert 50 < lo <= hi < 200
    # 4. The live gauge: FID falls (440 -> 262); the correlation is printed, not asserted.
    fid = r["gauge"]["fid"]
    assert fid[-1] < 0.8 * fid[0]
    # its rank correlation with the critic's gap is noise on one short run (0.21 measured; the
    # recorded seeds disagree too), and the prose only asks the learner to read it
    assert math.isfinite(r["gauge"]["rank_correlation"])
    # 6a. BatchNorm mixes samples into a gradient (15%), layer norm does not (0).
    mix = r["batchnorm_mixing"]
    assert mix["layer"] < 1e-5 and mix["batch"] > 0.02
    # 6b. Without the double backward the slope runs away (1888 vs 1.07), gap far past W1 = 2.
    db = r["double_backward"]
    assert abs(db["good"]["slope"] - 1) < 0.2 and abs(db["good"]["gap"] - 2) < 0.4
    assert db["broken"]["slope"] > 5 and db["broken"]["gap"] > 5
    # 6c. The critic's loss: the penalty dominates its first log (-1.011 + 4.373), it falls to
    # its lowest within the first few dozen steps (step 20: -6.187 + 1.558), then rises as the
    # gap shrinks (step 400: -1.260 + 0.215); the recorded runs: higher at 2,000 than at 200.
    cl = r["critic_loss"]
    assert cl["penalty"][0] > cl["gap_train"][0] and cl["loss_d"][0] > 0
    assert cl["steps"][1] <= 100 and cl["gap_train"][1] > 2 * cl["gap_train"][0]
    assert cl["loss_d"][2] > cl["loss_d"][1] + 1 and cl["gap_train"][2] < cl["gap_train"][1] / 2
    assert cl["penalty"][2] < cl["gap_train"][2]  # the rise is the gap's, not the penalty's
    assert all(b > a for a, b in cl["recorded_first_last"].values())
    # A critic refined on one half of held-out reals and samples, measured on the other half,
    # finds a much larger gap (1.42 -> 3.92; per unit slope 1.40 -> 3.18), and on its own
    # training half a larger one again (5.14): "a critic also learns the images it trains on".
    lag = r["critic_lag"]
    assert lag["gap_refined"] > 1.5 * lag["gap_before"]
    per_slope = lag["gap_refined"] / lag["slope_refined"], lag["gap_before"] / lag["slope_before"]
    assert per_slope[0] > 1.5 * per_slope[1]
    assert lag["slope_refined"] > lag["slope_before"]  # "part of its gain is a steeper slope"
    assert lag["gap_refined_on_its_training_half"] > lag["gap_refined"]
    _exercises(r, {"gradient_penalty": "exercise_gradient_penalty_ok"})


CHECKS["06_wasserstein_gan"] = _check_06


def _recorded(name: str) -> dict:
    return json.loads((ROOT / "benchmarks/results" / name).read_text())["summary"]


def _text_06() -> str:
    cells = _load(NOTEBOOK_DIR / "06_wasserstein_gan.ipynb")["cells"]
    return " ".join(" ".join(_source(c).split()) for c in cells)


def _span(values) -> str:
    return f"{min(values):.0f}-{max(values):.0f}"


def test_06_robustness_prose_describes_the_recorded_runs():
    """benchmarks/results/wgan_robust.json (python benchmarks/wgan_lessons.py robust): at 1e-2
    neither GAN loses a class; at 1e-1 the logistic DCGAN loses classes on every seed (one
    collapses to one class), WGAN-GP keeps at least 9. The notebook quotes those numbers."""
    r = _recorded("wgan_robust.json")
    low_l, low_w = r["logistic lr 0.01"], r["wgan-gp lr 0.01"]
    high_l, high_w = r["logistic lr 0.1"], r["wgan-gp lr 0.1"]
    assert low_l["classes"] == low_w["classes"] == [10, 10, 10]
    assert all(c < 10 for c in high_l["classes"]) and min(high_l["classes"]) == 1
    # "collapsed to a single class on one seed of three ... and lost two classes on the other two"
    assert sorted(high_l["classes"]) == [1, 8, 8]
    assert all(c >= 9 for c in high_w["classes"])
    text = _text_06()
    assert f"(logistic {_span(low_l['fid'])}, WGAN-GP {_span(low_w['fid'])})" in text
    assert f"(FID {max(high_l['fid']):.0f})" in text
    assert f"classes on every seed (FID {_span(high_w['fid'])})" in text


def test_06_batchnorm_prose_describes_the_recorded_runs():
    r = _recorded("wgan_batchnorm.json")
    bn, ln = r["batch norm"]["fid"], r["layer norm (recipe)"]["fid"]
    assert max(bn) <= max(ln) + 5  # "as good or better"
    assert f"({_span(bn)} against {_span(ln)})" in _text_06()


def test_06_gauge_prose_describes_the_recorded_runs():
    """benchmarks/results/wgan_gauge.json (python benchmarks/wgan_lessons.py gauge): the critic's
    held-out gap does not track FID on every seed, the logistic generator's loss tracks it at
    least as well as the critic's loss does. The notebook says so, with the numbers."""
    r = _recorded("wgan_gauge.json")
    gap, critic_loss = r["wgan-gp"]["critic_gap"], r["wgan-gp"]["minus_loss_d"]
    loss_g = r["logistic"]["loss_g"]
    assert min(gap) < 0.3 and min(loss_g) >= min(critic_loss)  # "the claim does not hold"
    for run in r["wgan-gp"]["fid_first_last"] + r["logistic"]["fid_first_last"]:
        assert run[1] < run[0] / 2  # every run improved: everything falls together

    def listed(values):
        return ", ".join(f"{v:.2f}" for v in values[:-1]) + f" and {values[-1]:.2f}"

    text = _text_06()
    assert "at this budget the claim does not hold" in text
    # "The critic's gap on held-out images wanders (between about -0.1 and 1.3)"
    gaps = [
        row["critic_gap"]
        for run in json.loads((ROOT / "benchmarks/results/wgan_gauge.json").read_text())["runs"]
        if run["kind"] == "wgan-gp"
        for row in run["rows"]
    ]
    assert f"(between about {min(gaps):.1f} and {max(gaps):.1f})" in text  # -0.13, 1.33
    # section 6c: "in each of the three recorded runs the critic's loss was higher at step 2,000"
    for run in json.loads((ROOT / "benchmarks/results/wgan_gauge.json").read_text())["runs"]:
        if run["kind"] == "wgan-gp":
            assert run["rows"][-1]["loss_d"] > run["rows"][0]["loss_d"]
    assert "higher at step 2,000 than at step 200" in text
    assert f"rank correlation with FID is {listed(gap)} on the three seeds" in text
    assert f"({', '.join(f'{v:.2f}' for v in critic_loss)})" in text
    assert f"({', '.join(f'{v:.2f}' for v in loss_g)})" in text


def test_benchmarks_readme_quotes_the_recorded_wgan_and_engine_results():
    """The WGAN-GP and engine tables of benchmarks/README.md are the recorded results."""
    text = " ".join((ROOT / "benchmarks/README.md").read_text().split())

    def joined(values, fmt="{:.1f}"):
        return ", ".join(fmt.format(v) for v in values)

    gauge = _recorded("wgan_gauge.json")
    for kind, signal in (
        ("wgan-gp", "critic_gap"),
        ("wgan-gp", "minus_loss_d"),
        ("logistic", "value"),
        ("logistic", "loss_g"),
    ):
        assert f"| {joined(gauge[kind][signal], '{:.2f}')} |" in text, (kind, signal)
    for name in ("wgan_robust.json", "wgan_batchnorm.json"):
        for kind, cell in _recorded(name).items():
            assert joined(cell["fid"]) in text, (name, kind)
    rows = json.loads((ROOT / "benchmarks/results/wgan_cli.json").read_text())
    for r in rows:
        assert f"{r['steps']:,} / " in text and f"{r['fid']:.1f}" in text, r["command"]
    speed = json.loads((ROOT / "benchmarks/results/engine_speed.json").read_text())["results"]
    for recipe in ("dcgan", "toy grid"):
        before = speed[f"{recipe} [compare]"]["steps_per_cpu_s"]
        after = speed[f"{recipe} [this]"]["steps_per_cpu_s"]
        assert f"| {before} | {after} |" in text, recipe
        assert after >= 0.95 * before  # "no slower"


# ----------------------------------------------------------------------------- notebook 03


def _check_03(r: dict) -> None:
    """Notebook 03's live numbers (default parameters, 1 thread; measured values in comments)."""
    real = r["real_per_class"]  # the course's classifier on real test images: mean 0.915
    live, shipped = r["obeys"]["live"], r["obeys"]["shipped"]
    # "within ten points of the classifier's own accuracy on real images in every class"
    assert shipped["label_accuracy"] > 0.85  # 0.920
    assert all(s > r_ - 0.1 for s, r_ in zip(shipped["per_class"], real, strict=True))  # -0.083
    # "where the classifier struggles on real images (Shirt) it struggles on generated ones too"
    # (real: Shirt 0.716, next lowest 0.869; shipped: Shirt 0.633, next lowest 0.823)
    assert min(range(10), key=real.__getitem__) == 6
    assert sorted(range(10), key=shipped["per_class"].__getitem__).index(6) < 2
    # "the live model ... already obeys the label in most classes": 8 of 10 above 50%
    assert sum(a > 0.5 for a in live["per_class"]) >= 6
    assert shipped["fid"] < live["fid"]  # 46.9 < 243.5
    # FID per class against label accuracy: "its two highest values ... classes whose samples
    # the classifier labels right almost every time" (Sandal 173.3 at 99.7%, Bag 159.4 at 99.7%);
    # "the samples of those two classes fill well under half of the real class's feature
    # variance" (spread 0.38, 0.43); "as many real images of each class ... land far below the
    # generated ones"; "the sample size costs a few points of FID per class" (real 2.9-10.5)
    fid, spread, real_fid = shipped["fid_per_class"], shipped["spread"], r["real_fid_per_class"]
    worst = r["highest_fid_classes"]
    assert worst == sorted(range(10), key=lambda c: -fid[c])[:2]
    assert all(shipped["per_class"][c] > 0.95 and spread[c] < 0.5 for c in worst)
    assert all(real_fid[c] < 0.3 * fid[c] for c in range(10)) and max(real_fid) < 15
    assert all(0 < s < 1 for s in spread)  # every generated class is less varied than real
    # the double softmax's range, log(1 + 9/e) to log(9 + e) ("between ... 1.46 and ... 2.46"),
    # and its vanishing gradient where D is wrong
    assert abs(r["double_softmax_floor"] - math.log(1 + 9 / math.e)) < 1e-3
    assert abs(r["double_softmax_ceiling"] - math.log(9 + math.e)) < 1e-3
    g = r["wrong_and_sure_grad"]
    assert g["double softmax"] < 1e-6 < 0.1 < g["cross-entropy"]  # 8e-10, 0.45
    gan = r["gan_train"]  # GAN-train 0.741 against 0.834 from as many real images
    assert 0.5 < gan["GAN-train (generated only)"] < gan["real baseline (as many real)"]
    # knowledge transfer: on each of 3 draws of 100 real images a class the generated images
    # raised the accuracy (0.735 -> 0.788, 0.741 -> 0.791, 0.750 -> 0.804), as the summary says
    small = r["small_set"]
    assert small["per_class"] == 100 and [t["seed"] for t in small["trials"]] == [0, 1, 2]
    assert len({t["alone"] for t in small["trials"]}) == 3  # three different draws
    assert all(t["with_extra"] > t["alone"] for t in small["trials"])
    t = r["translation"]
    l1, both = t["L1"], t["L1 + cGAN"]
    # the ablation pattern: L1 + cGAN's FID far below L1's (16.0, 43.1) for a small rise in
    # pixel error (0.117, 0.109)
    assert both["fid"] < 0.75 * l1["fid"] and l1["l1"] <= both["l1"] < 1.25 * l1["l1"]
    # "the cGAN term alone makes sharp images whose details need not match the input" (pixel
    # error 0.133 against 0.117; FID 23.5 against L1's 43.1)
    assert t["cGAN"]["l1"] > both["l1"] and t["cGAN"]["fid"] < l1["fid"]
    assert both["class_agreement"] > 0.8  # 0.860
    # "nearly deterministic": dropout moves pixels far less than a change of input
    d = r["dropout_std"]
    assert d["across_seeds"] < 0.25 * d["across_inputs"]  # 0.076, 0.556
    _exercises(
        r,
        {
            "projection_score": "exercise_projection_ok",
            "ac_class_loss": "exercise_ac_class_loss_ok",
        },
    )
    assert r["copied_class_loss_ok"] is False  # the check says "not yet" to the copied code


CHECKS["03_conditional_gans"] = _check_03


def _results(name: str) -> dict:
    return json.loads((ROOT / "benchmarks/results" / name).read_text())


def test_the_recorded_conditional_acceptance_run():
    """Issue 9's acceptance as recorded by benchmarks/conditional_acceptance.py."""
    r = _results("conditional_acceptance.json")
    cgan = r["cgan_projection"]
    assert cgan["label_accuracy_mean"] >= 0.85 and cgan["worst_relative"] >= 0.7
    assert cgan["fid_5000"] <= r["dcgan"]["fid_5000"]
    p2p, l1 = r["pix2pix"], r["pix2pix_l1_only"]
    assert p2p["class_agreement"] >= 0.85
    assert p2p["fid"] <= 0.75 * l1["fid"] and p2p["pixel_l1"] <= 1.25 * l1["pixel_l1"]


def test_03_prose_describes_the_recorded_comparisons():
    """What notebook 03 says of the recorded runs (benchmarks/conditional_ablation.py)."""
    r = _results("conditional_ablation.json")
    cgan = r["cgan"]
    proj, concat, acgan = cgan["projection"], cgan["concat"], cgan["acgan"]
    paper, bug = cgan["acgan, as in the paper"], cgan["acgan, double softmax"]
    # "projection ... a high label accuracy and by far the lowest FID"
    assert proj["label_accuracy_mean"] > 0.85
    assert all(proj["fid_5000"] < 0.5 * c["fid_5000"] for n, c in cgan.items() if c is not proj)
    # "concatenation learns the label less well at equal steps, and less evenly"
    assert concat["label_accuracy_mean"] < proj["label_accuracy_mean"]
    assert concat["worst_relative"] < 0.6 < proj["worst_relative"]
    # "AC-GAN obeys the label best of all (in the recorded run its shirts were labelled Shirt
    # more often than real shirts are), but its FID is several times the projection's"
    assert acgan["label_accuracy_mean"] == max(c["label_accuracy_mean"] for c in cgan.values())
    assert CLASSES[6] == "Shirt" and acgan["relative_to_real"][6] > 1  # 1.389
    assert acgan["fid_5000"] > 3 * proj["fid_5000"]
    # "as in the paper ... G and D agreed on a labelling of their own (in the recorded run,
    # Pullover, Dress, Coat, Sandal, Bag and Ankle boot samples were never called their class;
    # 32.5% overall)"
    assert paper["label_accuracy_mean"] < 0.5
    nb = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "03_conditional_gans.ipynb")["cells"])
    nb = " ".join(nb.split())
    never = [CLASSES[i] for i, a in enumerate(paper["label_accuracy"]) if a == 0]
    assert f"{', '.join(never[:-1])} and {never[-1]} samples were never called their class" in nb
    assert f"{paper['label_accuracy_mean']:.1%} overall" in nb
    assert "seed material" not in nb and "is not augmentation" in nb  # the transfer, named
    # the bug: "a few points of label accuracy and nothing in FID"
    assert 0 < acgan["label_accuracy_mean"] - bug["label_accuracy_mean"] < 0.05
    assert bug["fid_5000"] <= 1.05 * acgan["fid_5000"]
    # pix2pix: "the cGAN term alone makes sharp images whose details need not match the input"
    p = r["pix2pix"]
    l1, gan, both = p["pix2pix_l1_only"], p["pix2pix_cgan_only"], p["pix2pix"]
    assert gan["pixel_l1"] > both["pixel_l1"] >= l1["pixel_l1"]
    assert gan["fid"] < l1["fid"] and both["fid"] < l1["fid"]


def test_benchmarks_readme_quotes_the_recorded_conditional_results():
    text = (ROOT / "benchmarks/README.md").read_text()
    a, b = _results("conditional_acceptance.json"), _results("conditional_ablation.json")
    cg = a["cgan_projection"]
    assert f"| {cg['steps']:,} | {cg['label_accuracy_mean']:.1%} |" in text
    assert f"| {a['dcgan']['fid_5000']:.1f} |" in text
    for name, r in b["cgan"].items():
        assert f"| {name} | {r['label_accuracy_mean']:.1%} | {r['worst_relative']:.2f} | " in text
    for r in (*b["pix2pix"].values(), a["pix2pix"], a["pix2pix_l1_only"]):
        assert f"| {r['class_agreement']:.1%} | {r['pixel_l1']:.4f} | {r['fid']:.1f} |" in text


def test_benchmarks_readme_quotes_the_recorded_family_speeds():
    text = (ROOT / "benchmarks/README.md").read_text()
    speeds = _results("family_speed.json")["images_per_s"]
    assert set(speeds) >= {"classic: dcgan", "conditional: cgan, projection", "pix2pix: L1 only"}
    for name, rate in speeds.items():
        assert f"| {name} | {rate:,} |" in text
    # "a pix2pix step with its discriminator costs about 1.7 L1-only steps"
    assert 1.5 < speeds["pix2pix: L1 only"] / speeds["pix2pix: L1 + cGAN"] < 1.9
    assert speeds["conditional: cgan, concat"] == min(
        v for k, v in speeds.items() if k.startswith("conditional")
    )


# ----------------------------------------------------------------------------- notebook 04


def _check_04(r: dict) -> None:
    """Notebook 04's live numbers (default parameters, 1 thread; measured values in comments)."""
    s = r["scores"]
    cheat, live = s["cheat (random real garment)"], s["live CycleGAN"]
    cg, p2p = s["CycleGAN (10 min)"], s["pix2pix (paired, 5 min)"]
    # "close to chance agreement, an FID no generator can beat"
    assert cheat["class_agreement"] < 0.2 and cheat["fid"] < min(cg["fid"], p2p["fid"], live["fid"])
    # the shipped model follows its input; the paired pix2pix stays ahead on every score
    assert cg["class_agreement"] > 0.6 > live["class_agreement"]  # 0.696, 0.489 (FAST 0.195)
    assert p2p["class_agreement"] > cg["class_agreement"]
    assert p2p["pixel_l1"] < cg["pixel_l1"] and p2p["fid"] < cg["fid"]
    assert max(r["reconstruction_l1"].values()) < 0.08  # 0.051, 0.055
    # checkerboards: at initialisation the transposed G prints them, resize-convolution does not
    # (below real garments: 0.0016 against 0.0073); "training learns to cancel most of it" (the
    # recorded 5-minute transposed model: 0.0063 against 0.029 at initialisation)
    b = r["checkerboard"]
    assert b["transposed"] > 5 * b["resize"] and b["transposed"] > 2 * b["real garments"]
    assert b["resize"] < b["real garments"]
    trained = _results("cyclegan.json")["ablation"]["cyclegan_transposed"]["checkerboard"]
    assert trained < 0.5 * b["transposed"]
    # steganography: F(b) tells G far more than b's real edge map, through grey pixels
    st = r["steganography"]
    # "about a third of the pixel error ... about 0.16 from real edge maps, against about 0.06"
    assert 0.2 < st["G(F(b)) vs b"] / st["G(edges of b) vs b"] < 0.45  # 0.058 / 0.159
    assert 0.12 < st["G(edges of b) vs b"] < 0.2 and st["G(F(b)) vs b"] < 0.08
    assert st["grey pixels in F(b)"] > 0.02 and st["grey pixels in real edge maps"] == 0
    s2b = r["sneaker2boot"]
    assert s2b["translated sneakers called Ankle boot"] > 0.8  # 0.989
    assert s2b["translated boots called Sneaker"] > 0.8  # 0.976
    assert s2b["pixel L1 to own input"] < s2b["pixel L1 to another input"]  # 0.187, 0.215
    _exercises(r, {"cycle_loss": "exercise_cycle_ok", "identity_loss": "exercise_identity_ok"})


CHECKS["04_cyclegan"] = _check_04


def test_the_recorded_cyclegan_acceptance_run():
    """Issue 10's acceptance as recorded by benchmarks/cyclegan_acceptance.py."""
    r = _results("cyclegan.json")
    e, s = r["edges2fashion"], r["sneaker2boot"]
    assert e["class_agreement"] >= 0.70 and s["a2b_ankle_boot_share"] >= 0.80
    # alone (as a user runs it) the 10 minutes give twice the steps: both criteria hold
    alone = r["edges2fashion_alone"]
    assert alone["class_agreement"] >= 0.70 and alone["reconstruction_l1"] <= 0.05
    assert e["reconstruction_l1"] < 0.06  # two at a time, 1,700 steps: 0.0546


def test_04_prose_describes_the_recorded_ablation():
    """What notebook 04 says of the recorded runs (benchmarks/cyclegan_acceptance.py)."""
    a = _results("cyclegan.json")["ablation"]
    rows = ["cycle_alone", "gan_alone", "gan_forward_cycle", "gan_backward_cycle"]
    full, recipe = a["cyclegan_no_identity"], a["cyclegan"]
    cyc = [a[r] for r in (*rows, "cyclegan_no_identity", "cyclegan", "cyclegan_transposed")]
    # "Cycle alone ... the worst FID and the lowest agreement"
    assert a["cycle_alone"]["fid"] == max(r["fid"] for r in cyc)
    assert a["cycle_alone"]["class_agreement"] == min(r["class_agreement"] for r in cyc)
    # "GAN alone keeps more of its input than the theory promises" (a cheat scores chance, 10%)
    assert a["gan_alone"]["class_agreement"] > 0.4
    # "GAN alone ... the round trip fails: its round-trip L1 (0.31) is several times that of
    # every model with the forward cycle (0.05-0.07); the backward cycle alone ... (0.17)"
    bwd_l1 = a["gan_backward_cycle"]["reconstruction_l1"]
    gan_l1 = a["gan_alone"]["reconstruction_l1"]
    forward = [r["reconstruction_l1"] for r in cyc if r is not a["gan_alone"]]
    forward = [x for x in forward if x != bwd_l1]  # every model with the forward cycle
    assert len(forward) == len(cyc) - 2 and gan_l1 > 3 * max(forward)
    assert max(forward) < bwd_l1 < gan_l1
    nb = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "04_cyclegan.ipynb")["cells"])
    nb = " ".join(nb.split())
    assert f"round-trip L1 ({gan_l1:.2f})" in nb and f"between ({bwd_l1:.2f})" in nb
    assert f"({min(forward):.2f}-{max(forward):.2f})" in nb
    # "the forward cycle brings the agreement up; the backward cycle the better FID of the two"
    fwd, bwd = a["gan_forward_cycle"], a["gan_backward_cycle"]
    assert fwd["class_agreement"] > a["gan_alone"]["class_agreement"] + 0.05
    assert bwd["fid"] < fwd["fid"]
    # "both together reach about the forward cycle's agreement"; identity adds none here
    assert abs(full["class_agreement"] - fwd["class_agreement"]) < 0.03
    assert recipe["class_agreement"] < full["class_agreement"] + 0.02
    # "pix2pix ... ahead on every score, by a wide margin in pixel L1 and FID"
    p2p = a["pix2pix_paired"]
    assert all(p2p["class_agreement"] > r["class_agreement"] for r in cyc)
    assert all(p2p["pixel_l1"] < 0.5 * r["pixel_l1"] and p2p["fid"] < 0.5 * r["fid"] for r in cyc)
    # checkerboards: "the transposed model's outputs score a little higher ... both below real"
    from gannotes.data import load_fashion_mnist
    from gannotes.translation import checkerboard_score

    real = checkerboard_score(load_fashion_mnist("test").images)  # 0.0070
    assert recipe["checkerboard"] < a["cyclegan_transposed"]["checkerboard"] < real
    # "the screening ... found no gain in class agreement from noise of std 0.1 or 0.3"
    screen = _results("cyclegan_screen.json")["runs"]
    base = screen["recipe, D 18x18 patches (d_layers 2)"]["class_agreement"]  # 0.5523
    for std in ("0.1", "0.3"):  # 0.5555, 0.5452
        assert screen[f"cycle noise {std} (d_layers 2)"]["class_agreement"] < base + 0.02


def test_benchmarks_readme_quotes_the_recorded_cyclegan_results():
    text = (ROOT / "benchmarks/README.md").read_text()
    r = _results("cyclegan.json")
    e, s = r["edges2fashion"], r["sneaker2boot"]
    for row in (e, r["edges2fashion_alone"]):
        assert (
            f"| {row['steps']:,} | {row['class_agreement']:.1%} | {row['pixel_l1']:.4f} |" in text
        )
    assert f"| {s['steps']:,} | {s['a2b_ankle_boot_share']:.1%} |" in text
    for name, row in r["ablation"].items():
        if isinstance(row, dict) and "class_agreement" in row:
            assert f"| {name} |" in text and f"| {row['class_agreement']:.1%} |" in text
    screen = _results("cyclegan_screen.json")["runs"]
    for name, row in screen.items():
        assert f"| {name} | {row['class_agreement']:.1%} | {row['fid']:.1f} |" in text


# ----------------------------------------------------------------------------- notebook 05


def _check_05(r: dict) -> None:
    """Notebook 05's numbers (default parameters, 1 thread; measured values in comments). Every
    measurement but the live run's is made on the shipped model, so it is the same on every
    run; the prose of the notebook quotes what these gates hold."""
    _exercises(r, {"modulation": "exercise_modulation_ok", "truncation": "exercise_truncation_ok"})
    s = r["output_std"]
    # "every sample's every channel ... close to 1; without it ... by a factor of several"
    lo, hi = s["demodulated: range"]
    assert 0.85 < lo and hi < 1.15 and abs(s["demodulated: mean"] - 1) < 0.03
    lo, hi = s["modulated only: range"]
    assert hi / lo > 2.5
    # truncation in W: density rises and coverage falls from psi 1 to 0.5 and on to 0.3;
    # precision rises and recall falls from 1 to 0.5
    w = r["truncation_w"]
    assert w["1"]["density"] < w["0.7"]["density"] < w["0.5"]["density"] < w["0.3"]["density"]
    assert w["1"]["coverage"] > w["0.5"]["coverage"] > w["0.3"]["coverage"]
    assert w["0.5"]["precision"] > w["1"]["precision"] and w["0.5"]["recall"] < w["1"]["recall"]
    # truncating z moves far less than truncating w: at its tightest threshold (0.5) the
    # density gains less than psi = 0.7 does
    z = r["truncation_z"]
    assert z["0.5"]["density"] - z["inf"]["density"] < w["0.7"]["density"] - w["1"]["density"]
    # "Recall does not: it rises again at 0.3" (0.189 at 0.4, 0.266 at 0.3); "coverage ...
    # keeps falling through 0.4 and 0.3" (0.533, 0.457, 0.348); "the median radius falls
    # steadily with psi" (7.86 ... 4.55); "at psi = 0.3 the largest radius is the widest of the
    # table" (23.3); "a far larger share of the recall comes from the widest 5% of the balls
    # alone than at psi = 1" (0.227 against 0.035); "with the other two seeds recall keeps
    # falling from 0.4 to 0.3" (0.178 -> 0.061, 0.206 -> 0.150)
    assert w["0.3"]["recall"] > w["0.4"]["recall"]
    assert w["0.5"]["coverage"] > w["0.4"]["coverage"] > w["0.3"]["coverage"]
    rise = r["recall_rise"]
    median = [rise["median_radius"][p] for p in ("1", "0.9", "0.8", "0.7", "0.6", "0.5", "0.4")]
    assert median == sorted(median, reverse=True) and rise["median_radius"]["0.3"] < median[-1]
    assert rise["largest_radius"]["0.3"] == max(rise["largest_radius"].values())
    widest = rise["recalled_only_by_widest_5pct"]
    assert widest["0.3"] > 3 * widest["1"] and widest["0.3"] > 0.5 * w["0.3"]["recall"]
    by_seed = rise["recall_04_03_by_seed"]
    assert sorted(by_seed) == ["0", "1", "2"]
    assert [round(v, 4) for v in by_seed["0"]] == [w["0.4"]["recall"], w["0.3"]["recall"]]
    assert all(by_seed[s][1] < by_seed[s][0] for s in ("1", "2"))
    # style mixing: the coarse styles keep the class, the first style alone does not
    m = r["mixing_keeps_class"]
    coarse = m["3"]["coarse seed's class"]
    assert coarse > 0.7 and m["1"]["coarse seed's class"] < 0.4  # 0.784: "about 80%"
    # "though the two seeds' own images differ in class nine times out of ten"; "the first
    # style alone keeps it far less often than the fine seed's class"
    assert r["mixing_pairs_of_different_classes"] > 0.85  # 0.894
    assert m["1"]["coarse seed's class"] < 0.5 * m["1"]["fine seed's class"]  # 0.174, 0.44
    assert m["7"]["coarse seed's class"] == 1.0 and m["0"]["fine seed's class"] == 1.0
    # noise: redrawing it moves pixels more than ten times less than redrawing w; most of it at
    # the 28x28 layers
    p = r["pixel_std"]
    assert p["w (noise kept)"] > 10 * p["noise, all layers"]
    assert p["noise, 28x28 layers"] > max(p["noise, 7x7 layers"], p["noise, 14x14 layers"])
    # "a few hundredths on average ... the largest part of that from the 28x28 layers' noise"
    # (shipped model, 64 images x 8 redraws: all layers 0.048, 28x28 layers 0.044)
    assert 0.01 < p["noise, all layers"] < 0.1
    assert p["noise, 28x28 layers"] > 0.5 * p["noise, all layers"]
    # the path length: W's below Z's in this model
    assert r["ppl"]["W"] < r["ppl"]["Z"]
    # "a few steps jump far more than the rest": the 99th percentile over the median
    assert min(r["ppl_p99_over_median"].values()) > 10  # Z 63.7, W 90.5
    rec = r["recorded_vs_dcgan"]
    recorded = _results("stylegan.json")
    assert rec["StyleGAN (psi = 1)"]["fid"] == recorded["stylegan"]["psi_1"]["fid_5000"]
    assert rec["DCGAN"]["fid"] == recorded["dcgan"]["samples"]["fid_5000"]
    # "a little lower than the DCGAN's ... precision and density well above the DCGAN's and its
    # recall is less than half of it"
    sg, dc = recorded["stylegan"]["psi_1"], recorded["dcgan"]["samples"]
    assert dc["fid_5000"] - 10 < sg["fid_5000"] <= dc["fid_5000"]  # 67.4, 70.4
    assert sg["precision"] > 1.4 * dc["precision"] and sg["density"] > 2 * dc["density"]
    assert sg["recall"] < 0.5 * dc["recall"]


CHECKS["05_stylegan"] = _check_05


def test_05_prose_quotes_the_recorded_stylegan_results():
    """Notebook 05's sentences on benchmarks/results/stylegan.json."""
    nb = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "05_stylegan.ipynb")["cells"])
    nb = " ".join(nb.split())
    r = _results("stylegan.json")
    sg, dc = r["stylegan"]["psi_1"], r["dcgan"]["samples"]
    # "its recall is less than half of it, though its coverage is higher (0.46 against 0.30)"
    assert sg["recall"] < 0.5 * dc["recall"] and sg["coverage"] > dc["coverage"]
    quote = f"though its coverage is higher ({sg['coverage']:.2f} against {dc['coverage']:.2f})"
    assert quote in nb
    # "keeps A's class in about 80% of the mixes (82% in the recorded run ...)"
    coarse = r["mixing"]["coarse"]["keeps_coarse_class"]
    assert 0.75 <= coarse <= 0.85 and f"({coarse:.0%} in the recorded run" in nb


def test_the_recorded_stylegan_acceptance_run():
    """Issue 11's acceptance as recorded by benchmarks/stylegan_acceptance.py."""
    r = _results("stylegan.json")
    sg, dc = r["stylegan"], r["dcgan"]
    assert sg["psi_1"]["classes_present"] == 10 and sg["psi_1"]["smallest_class_share"] > 0.02
    assert sg["psi_1"]["fid_5000"] <= dc["samples"]["fid_5000"]
    density = [sg[f"psi_{p}"]["density"] for p in ("1", "0.7", "0.5")]
    coverage = [sg[f"psi_{p}"]["coverage"] for p in ("1", "0.7", "0.5")]
    assert density == sorted(density) and len(set(density)) == 3
    assert coverage == sorted(coverage, reverse=True) and len(set(coverage)) == 3
    assert r["mixing"]["coarse"]["keeps_coarse_class"] >= 0.70
    assert r["mixing"]["all"]["keeps_coarse_class"] == 1.0


def test_benchmarks_readme_quotes_the_recorded_stylegan_results():
    text = (ROOT / "benchmarks/README.md").read_text()
    r = _results("stylegan.json")
    for psi in ("1", "0.7", "0.5"):
        s = r["stylegan"][f"psi_{psi}"]
        assert (
            f"| StyleGAN, psi = {psi} | {r['stylegan']['steps']:,} | {s['fid_5000']:.1f} |" in text
        )
    assert f"| {r['dcgan']['steps']:,} | {r['dcgan']['samples']['fid_5000']:.1f} |" in text
    m = r["mixing"]["coarse"]
    assert f"| coarse | {m['keeps_coarse_class']:.1%} | {m['keeps_fine_class']:.1%} |" in text
    for line in (ROOT / "benchmarks/results/stylegan_screen.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert f"| {row['name']} | {row['minutes']:g} | {row['steps']:,} |" in text
        assert f"| {row['fid']:.1f} |" in text


def test_benchmarks_readme_stylegan_prose_matches_the_screen():
    """The numbers the StyleGAN section's prose quotes, read back from the recorded screen."""
    text = (ROOT / "benchmarks/README.md").read_text().split("# StyleGAN (issue 11")[1]
    rows = {}
    for line in (ROOT / "benchmarks/results/stylegan_screen.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["name"]] = row
    quoted = {  # prose -> screen row
        "(FID 217 at\n4 minutes)": "sg_w12",
        "(338)": "sg_w12_nonoise",
        "(4e-3: 155)": "sg_w12_lr4",
        "more (126:": "sg_w12_lr4_tanh",
        "(16: 93, 8: 76, 4: 113)": None,
        "from 77.3 to 67.4": None,
    }
    for phrase, name in quoted.items():
        assert phrase in text, phrase
        if name is not None:
            assert f"{rows[name]['fid']:.0f}" in phrase
    assert [
        round(rows[n]["fid"]) for n in ("sg_w12_lr4_tanh_b16", "sg_b8_lr4_tanh", "sg_b4_lr4_tanh")
    ] == [93, 76, 113]
    assert (round(rows["10min_no_decay"]["fid"], 1), round(rows["10min_decay_b8"]["fid"], 1)) == (
        77.3,
        67.4,
    )
    # "the coarse styles then kept the class in 68-72% ... against 34-51%" (K = 3 with the
    # StyleGAN2 indexing, K = 2 with a style of its own for the upsampling layer)
    sg2 = [
        rows[n]["keeps_coarse_class_by_K"][3]
        for n in rows
        if n.startswith("sg2idx") or n == "sg2_ch64_16_8"
    ]
    own = [
        rows[n]["keeps_coarse_class_by_K"][2]
        for n in ("sg_b8_lr4_tanh", "sg_w12_lr4_tanh_b16", "sg_w12")
    ]
    assert 0.68 <= min(sg2) and max(sg2) <= 0.72 and 0.34 <= min(own) and max(own) <= 0.51


# ----------------------------------------------------------------------------- notebook 08


def _positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


PHASES_08 = [
    "G forward (D's batch)", "D forward (real + fake)", "D backward", "D optimizer step",
    "G forward + D forward (G's loss)", "G backward (through D)", "G optimizer step",
]  # fmt: skip


def _check_08(r: dict) -> None:
    """Notebook 08's record (default parameters, 1 thread). Its timings, shares, speed ratios
    and the step counts of its timed runs move with the machine and with whatever else runs on
    it, so none of them is gated. What is gated cannot be moved by load: every verdict the
    notebook printed is the one its own recorded numbers give (words chosen by
    ``gannotes.bench.compared``, which tests/test_bench.py checks on hand-made ratios), the
    numbers are positive and finite, recorded files are quoted exactly, and fixed-step runs
    compute what they must (the payback formula, the scaler's skips, the data-parallel
    gradients)."""
    from gannotes.bench import compared

    _exercises(r, {"payback": "exercise_payback_ok", "unscale": "exercise_unscale_ok"})
    v = r["verdicts"]
    # 2. The profile and the phases: the printed verdicts follow the recorded numbers.
    split, phases = r["profile_split"], r["phases_ms"]
    assert set(split) == {"forward", "backward", "optimizer"}
    assert math.isclose(sum(split.values()), 1.0, abs_tol=1e-3) and min(split.values()) >= 0
    assert list(phases) == PHASES_08 and _positive(*phases.values())
    d_ratio = phases["D backward"] / phases["D forward (real + fake)"]
    assert math.isclose(r["d_backward_over_forward"], d_ratio)
    word = compared(d_ratio, "longer", "shorter", "about as long")
    assert f"{d_ratio:.2f}x its forward pass on the same two batches ({word})" in v["d_backward"]
    step_ratio = split["backward"] / split["forward"]
    assert math.isclose(r["step_backward_over_forward"], step_ratio)
    word = compared(step_ratio / d_ratio, "above", "below", "close to")
    assert v["step_backward"].endswith(f"a ratio of {step_ratio:.2f}, {word} D's own {d_ratio:.2f}")
    share = r["conv_share"]
    assert 0 < share <= 1
    assert v["convolutions"].startswith(f"convolutions: {share:.0%} of the step's operator time (")
    assert ("(more than half;" in v["convolutions"]) == (share > 0.5)
    top = "a convolution" if "conv" in r["top_op"] else "not a convolution"
    assert v["convolutions"].endswith(f"the largest operator is {top}")
    assert v["optimizer"].endswith(f"{split['optimizer']:.0%} of operator time")
    d = r["d_update_share"]
    assert 0 < d < 1
    word = compared(d / (1 - d), "D costs more", "G costs more", "about the same")
    assert v["updates"].endswith(f"{d:.0%} of the step; G's update: {1 - d:.0%} ({word})")
    # 3. Each optimisation: bf16, channels-last, threads, compile, batch size.
    bench = r["bench"]
    assert len(bench) == 8 and _positive(*bench.values())
    bf16 = bench["dcgan bf16"] / bench["dcgan fp32"]
    assert math.isclose(r["dcgan_bf16_speedup"], bf16)
    native = "yes" if r["machine"]["cpu_bf16_native"] else "no"
    assert v["bf16"] == (
        f"bf16 ran the DCGAN at {bf16:.2f}x fp32's speed here: "
        f"{compared(bf16, 'faster', 'slower', 'about as fast')} (native bf16 on this CPU: {native})"
    )
    cl = bench["dcgan fp32 channels_last"] / bench["dcgan fp32"]
    assert v["channels_last"].endswith(
        f"{cl:.2f}x the usual layout's speed: {compared(cl, 'faster', 'slower', 'about as fast')}"
    )
    threads = {int(k): x for k, x in r["threads_images_per_s"].items()}
    assert 1 in threads and _positive(*threads.values())
    best = max(threads, key=threads.get)
    assert v["threads"].startswith(f"{best} thread(s) was fastest on this machine right now")
    assert ("ran slower" in v["threads"]) == (best < max(threads))
    # the payback printed is the formula's on the recorded figures, which are quoted exactly
    c = r["recorded_compile"]
    rec = {x["label"]: x for x in _results("bench_cpu.json")["results"]}
    eager, comp = rec["dcgan fp32"], rec["dcgan fp32 compile"]
    assert c == {"compile_s": comp["first_step_s"] - eager["first_step_s"],
                 "eager_ms": eager["step_ms"], "compiled_ms": comp["step_ms"]}  # fmt: skip
    saved = (c["eager_ms"] - c["compiled_ms"]) / 1000
    want = c["compile_s"] / saved if saved > 0 else math.inf
    assert r["compile_payback_steps"] == want
    change = c["compiled_ms"] / c["eager_ms"] - 1
    spread = abs(r["recorded_repeat_ms"][0] / r["recorded_repeat_ms"][1] - 1)
    assert v["compile"].startswith(f"recorded: the compiled step is {change:+.0%}")
    assert ("within that spread" in v["compile"]) == (abs(change) <= spread)
    # batch size: the live verdict follows the live numbers; the recorded screen is quoted
    b = r["batch_images_per_s"]
    assert sorted(b, key=int) == ["32", "64", "256"] and _positive(*b.values())
    more = r["batch_256_over_32"]
    assert math.isclose(more["images_per_s"], b["256"] / b["32"]) and _positive(*more.values())
    for key, unit in (("images_per_s", "images"), ("steps_per_s", "updates")):
        word = compared(more[key], "more", "fewer", "about as many")
        assert f"{more[key]:.2f}x the {unit} per second ({word})" in v["batch"], key
    first = {}
    for entry in _results("sweep.json"):
        first.setdefault(entry["name"], entry)
    fid = r["recorded_batch_fid_30s"]
    assert fid == {"32": first["b32"]["eval"]["fid"], "64": first["default"]["eval"]["fid"],
                   "128": first["b128"]["eval"]["fid"]}  # fmt: skip
    assert fid["32"] < fid["64"] < fid["128"]  # recorded: 363, 443, 519 ("batch 32 ... lowest")
    # 4. Data: the printed verdicts follow the rows shown
    loaders = r["data_loading"]
    assert [x["loader"] for x in loaders] == ["in memory (index a tensor)"] + [
        "DataLoader(TensorDataset)", "DataLoader(decode + flip per item)"] * 2  # fmt: skip
    assert _positive(*(x["batches_per_s"] for x in loaders), r["step_batches_per_s"])
    need = r["step_batches_per_s"]
    assert math.isclose(need, bench["dcgan fp32"] / 32)
    fastest_loader = max(x["batches_per_s"] for x in loaders[1:])
    ratio = loaders[0]["batches_per_s"] / fastest_loader
    word = compared(ratio, "faster", "slower", "about as fast")
    assert v["in_memory"].startswith(
        f"indexing a tensor gave {ratio:.1f}x the fastest DataLoader's batches/s ({word}) and "
        f"{loaders[0]['batches_per_s'] / need:.1f}x what the step needs"
    )
    slowest = min(x["batches_per_s"] for x in loaders)
    assert ("every way here feeds the step faster" in v["loaders"]) == (slowest > need)
    # 5. Precision and quality: the timed runs' step counts are not gated, only the verdicts
    # printed from them; fp32's rerun is a fixed-step run of exactly bf16's steps
    live = r["precision_live"]
    assert list(live) == ["fp32", "bf16", "fp32, bf16's steps"]
    assert live["fp32, bf16's steps"]["steps"] == live["bf16"]["steps"]
    assert all(x["steps"] >= 1 and _positive(x["fid"]) for x in live.values())
    steps = live["bf16"]["steps"] / live["fp32"]["steps"]
    word = compared(steps, "more steps", "fewer steps", "about as many steps")
    assert v["live_speed"].endswith(f"{steps:.2f}x, {word}")
    a, b16 = live["fp32, bf16's steps"]["fid"], live["bf16"]["fid"]
    word = compared(b16 / a, "bf16's is higher (worse)", "bf16's is lower (better)",
                    "within 10% of each other")  # fmt: skip
    assert v["live_quality"].endswith(f"FID {a:.1f} in fp32, {b16:.1f} in bf16: {word}")
    assert r["recorded_amp"] == {k: x["fid"] for k, x in _results("amp.json")["runs"].items()}
    # the scaler (16 fixed steps on seeded data): the first steps overflow at 2^24 and are
    # skipped, the scale halves, then steps go through and G's weights move
    scales = r["fp16_scales"]
    assert len(scales) == r["fp16_steps"] and scales[0] < 2.0**24
    assert scales == sorted(scales, reverse=True)  # halved, never grown (it grows after 2,000)
    assert 1 <= r["fp16_skipped"] < r["fp16_steps"] and r["fp16_g_moved"] is True
    # 6. Data-parallel: the gradients equal one process's with the doubled batch and DDP's
    assert r["ddp_grad_error_one_process"] < 1e-6 and r["ddp_grad_error_ddp"] < 1e-6
    ddp = r["ddp"]
    assert ddp["returncode"] == 0 and ddp["checkpoint"] and ddp["samples_shape"] == [8, 1, 28, 28]
    assert _positive(ddp["images_per_s_2proc"], ddp["images_per_s_1proc"])
    scaling = ddp["images_per_s_2proc"] / ddp["images_per_s_1proc"]
    assert math.isclose(ddp["scaling"], scaling)
    word = compared(scaling / 2, "above", "below", "close to")
    assert v["ddp"].endswith(f"scaling {scaling:.2f}x, {word} the ideal 2x")
    assert r["readings"]["peak_rss_mb"] < 1500  # memory, not time
    if not r["gpu"]:
        assert "gpu_bench" not in r


CHECKS["08_hardware_and_amp"] = _check_08


def test_the_recorded_precision_acceptance_run():
    """Issue 12's acceptance as recorded by benchmarks/amp_acceptance.py (a recorded file, not
    a live timing): fp32 passed notebook 01's gate in 3 minutes; bf16 on the recording CPU,
    which has no bf16 instructions, did not, and at bf16's step count fp32 scored the same (so
    bf16 cost speed there, not quality)."""
    r = _results("amp.json")
    runs = r["runs"]
    assert r["minutes"] == 3 and not r["machine"]["cpu_bf16_native"]
    assert runs["fp32"]["passes_gate"] and runs["fp32"]["gate_failures"] == []
    assert not runs["bf16"]["passes_gate"]
    assert (
        "--precision bf16" in runs["bf16"]["command"] and "--minutes 3" in runs["bf16"]["command"]
    )
    assert runs["fp32_same_steps"]["steps"] == runs["bf16"]["steps"]
    a, b = runs["fp32_same_steps"]["fid"], runs["bf16"]["fid"]
    assert abs(a - b) < 0.05 * a  # 479.9 vs 475.6
    assert runs["fp32"]["steps"] > 8 * runs["bf16"]["steps"]  # 1,910 vs 160
    assert r["bf16_slowdown"] == round(
        runs["fp32"]["images_per_s"] / runs["bf16"]["images_per_s"], 2
    )


def test_08_and_the_readmes_quote_the_recorded_hardware_figures():
    amp = _results("amp.json")
    runs = amp["runs"]
    nb = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "08_hardware_and_amp.ipynb")["cells"])
    nb = " ".join(nb.split())
    quoted = (
        f"{runs['fp32_same_steps']['fid']:.1f} in fp32 against {runs['bf16']['fid']:.1f} in bf16",
        f"the bf16 run managed {runs['bf16']['steps']} steps",
        f"fp32 managed {runs['fp32']['steps']:,}",
        f"about {amp['bf16_slowdown']:.1f}x slower",
    )
    for text in quoted:
        assert text in nb, text
    # each recorded figure is labelled with the machine and the command that made it
    m = amp["machine"]
    assert not m["cpu_bf16_native"] and amp["minutes"] == 3
    where = f"a {m['cores']}-core {m['cpu']} without bf16 instructions"
    command = "python benchmarks/amp_acceptance.py --minutes 3"
    assert nb.count(where) >= 2 and nb.count(command) >= 2
    assert "recorded, not measured here" in nb.lower()
    for readme in ("README.md", "benchmarks/README.md"):
        text = " ".join((ROOT / readme).read_text().split())
        assert f"about {amp['bf16_slowdown']:.1f}x slower" in text, readme
        assert "amp_acceptance.py --minutes 3" in text, readme
    bench = _results("bench_cpu.json")["results"] + _results("bench_cpu_stylegan.json")["results"]
    text = (ROOT / "benchmarks/README.md").read_text()
    for x in bench:
        assert f"| {x['label']} | {x['batch_size']} | {x['step_ms']:.1f} |" in text, x["label"]
    for runs_row in amp["runs"].values():
        row = f"| {runs_row['steps']:,} | {runs_row['images_per_s']:.1f} | {runs_row['fid']:.1f} |"
        assert row in text
    rec = {x["label"]: x for x in bench}
    eager, comp = rec["dcgan fp32"], rec["dcgan fp32 compile"]
    compile_s = comp["first_step_s"] - eager["first_step_s"]
    again = _results("bench_cpu_batch_threads.json")["results"]
    same = next(x for x in again if x["batch_size"] == 32 and x["threads"] == 1)
    spread = abs(eager["step_ms"] / same["step_ms"] - 1)
    # "a cold compilation of the DCGAN took about 40 s and its compiled step was not faster,
    # beyond the spread between two timings of the same step"
    assert 30 < compile_s < 50 and comp["step_ms"] > eager["step_ms"] * (1 - spread)
    assert "a cold compilation of the DCGAN took about 40 s" in nb
    # "on the reference CPU its [channels-last's] effect on the fp32 DCGAN was within the timing
    # noise": 67.8 against 65.6 ms, while two timings of the same step differ by 23%
    assert abs(rec["dcgan fp32 channels_last"]["step_ms"] / eager["step_ms"] - 1) <= spread
    assert "effect on the fp32 DCGAN was within the timing noise" in nb
    assert rec["stylegan fp32 compile"]["compiled"] == ["G"]
    # "every bf16 and fp16 configuration is 3.8-13.2x slower than the same GAN's eager fp32 step"
    slower = [x["step_ms"] / rec[f"{x['model']} fp32"]["step_ms"] for x in bench
              if x["precision"] != "fp32"]  # fmt: skip
    assert f"is {min(slower):.1f}-{max(slower):.1f}x slower than the same GAN's eager" in " ".join(
        text.split()
    )


def test_08_states_no_speed_it_did_not_measure():
    """Notebook 08's prose (its markdown) states no speed-up nobody measured: every "Nx" in it
    is a recorded figure (bf16's slowdown) or the ideal 2x of two processes and the goal "at
    least 2x" (the live verdicts are printed by the cells that measure them). And it names its
    sources by name."""
    amp = _results("amp.json")
    cells = _load(NOTEBOOK_DIR / "08_hardware_and_amp.ipynb")["cells"]
    prose = " ".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    factors = set(re.findall(r"(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?)x\b", prose))
    assert factors <= {f"{amp['bf16_slowdown']:.1f}", "2"}, factors
    assert "StyleGAN2-ADA wraps its networks in DDP" in " ".join(prose.split())
    for text in (prose, (ROOT / "gannotes/bench.py").read_text()):
        assert not re.search(r"\bseed (course|material)|\bthe seed's", text, re.I)


# ----------------------------------------------------------------------------- notebook 09


def _check_09(r: dict) -> None:
    """Notebook 09's numbers (default parameters, 1 thread; measured values in comments): every
    conclusion its prose draws from the live run."""
    _exercises(r, {"roc_auc": "exercise_roc_auc_ok", "threshold": "exercise_threshold_ok"})
    # Detection: "about 95% ... AP about 0.99"; "noise, 8-bit quantisation and JPEG barely move it"
    t = r["detector_tests"]
    own = t["DCGAN (its own)"]
    assert 0.94 <= own["accuracy"] < 0.965 and own["ap"] >= 0.98  # 0.951 (0.956 before), 0.992
    for edit in ("noise 0.05", "8-bit", "JPEG 75"):
        assert abs(t[f"DCGAN, {edit}"]["accuracy"] - own["accuracy"]) < 0.02, edit  # 0.952-0.956
    # "The conditional GAN's and StyleGAN's fakes mostly pass as real ... AP falls towards 0.5"
    for other in ("conditional GAN", "StyleGAN"):
        assert t[other]["fake"] < 0.4 and t[other]["ap"] < 0.75, other  # 0.12 / 0.62, 0.13 / 0.62
        assert t[other]["real"] > 0.9  # "the real images are still called real"
    # "A blur moves the errors onto real images"; "a better threshold would win back ... little
    # more than the 0.5 one under blur"; "the ranking itself degrades too"
    blur = t["DCGAN, blur 3x3"]
    assert blur["real"] < own["real"] - 0.08 and blur["real"] < blur["fake"]  # 0.797 vs 0.958
    assert blur["best"] - blur["accuracy"] < 0.05  # 0.86 vs 0.848
    assert own["ap"] - blur["ap"] > 0.03  # 0.994 vs 0.932
    # Privacy: "Neither generator is flagged beyond the 1% that fresh images would give; in
    # fact none of their samples is" (with the full data set, as in CI; 0.0, 0.0)
    assert all(a["flagged"] <= 0.02 for a in r["audit"].values())
    if r["full_data"]:
        assert all(a["flagged"] == 0.0 for a in r["audit"].values())
        # "because samples of these generators sit *farther* from the training set than real
        # images do": median distance 10.03 against 6.86 (DCGAN), 12.19 against 10.22 (overfit)
        assert all(a["median_distance"] > a["heldout_median_distance"] for a in r["audit"].values())
    m = r["membership"]
    over, aug, full = (
        m["overfit (256 images)"],
        m["overfit + DiffAugment"],
        m["full data (60,000 images)"],
    )
    if r["full_data"]:
        # the members are the images these GANs trained on (CI has the full Fashion-MNIST)
        assert over["logan"]["auc"] >= 0.95 and over["logan"]["tpr"] > 0.8  # 0.980, 0.99
        assert over["gan_leaks"]["auc"] < 0.65  # 0.520: "its samples alone give little away"
        assert max(full["logan"]["auc"], full["gan_leaks"]["auc"]) <= 0.6  # 0.549, 0.450
        # "each of its AUCs lies within about two standard errors of 0.5" (+1.9, -2.0 SE; the
        # standard error about 0.026 for 256 + 256 images); "An AUC is a finding only when it is
        # many standard errors from 0.5, as the overfit GAN's LOGAN AUC is" (+81 SE)
        assert all(abs(a["auc"] - 0.5) <= 2.2 * a["se"] for a in full.values()), full
        assert all(0.02 < a["se"] < 0.03 for g in m.values() for a in g.values() if a["auc"] < 0.6)
        assert over["logan"]["auc"] - 0.5 > 10 * over["logan"]["se"]
        assert aug["logan"]["auc"] <= 0.6  # 0.526: "brought the white-box attack back to chance"
    else:
        # "With only the shipped subset ... every AUC above sits near chance" (measured with
        # the subset: LOGAN 0.495, 0.525, 0.541; GAN-Leaks 0.525, 0.535, 0.444)
        assert all(0.35 < a["auc"] < 0.65 for g in m.values() for a in g.values()), m
    # Bias (shares of Trouser, Sneaker, Bag): the skew reproduced, the minority under-produced,
    # truncation erasing it; rebalancing fixes the untruncated shares only.
    b = r["bias"]
    assert abs(b["skewed None"][0] - 0.7) < 0.05 and b["skewed None"][2] < 0.1  # 0.680, 0.077
    bags = [b[f"skewed {psi}"][2] for psi in (None, 1.0, 0.5, 0.25)]
    assert bags == sorted(bags, reverse=True) and bags[-1] < 0.01  # 0.077 .053 .014 .000
    assert b["skewed 0.25"][0] < 0.7  # 0.007: "did not push the samples towards the majority"
    assert all(0.25 < x < 0.42 for x in b["rebalanced None"])  # 0.329 0.290 0.309
    assert b["rebalanced 0.25"][2] < 0.05  # 0.006
    ratios = [r["stylegan_ratio"][p] for p in ("1.0", "0.7", "0.5")]
    assert ratios == sorted(ratios) and ratios[-1] > 2 * ratios[0]  # 2.4, 6.0, 33.8
    # Provenance
    # "A run of a few seconds fails the course's quality gate, and its card says so ... The audit
    # finds no copies"
    card = r["card"]
    assert card["has_fid"] and card["fails_gate"] and card["no_copies"] and card["same_precision"]
    # "Yet its precision is about as high as real images' ... density agrees that they sit where
    # real images are dense ... recall and coverage ... are near 0 ... FID ... far from it"
    run, real = card["measured"]["this run"], card["measured"]["real images"]
    assert run["precision"] >= 0.9 * real["precision"]  # 0.874 vs 0.863
    assert run["density"] >= 0.75 * real["density"]  # 0.96 vs 0.99
    assert run["recall"] < 0.05 and run["coverage"] < 0.15  # 0.000, 0.053
    assert run["fid"] > 20 * real["fid"]  # 491.9 vs 4.7
    assert r["psnr_min"] >= 35  # 36.7
    w = r["watermark"]
    assert w["marked samples, right key"] >= 0.99  # 1.0
    for null in ("marked samples, other key", "unmarked samples", "real held-out images"):
        assert w[null] <= 0.01, (
            null
        )  # 0.0, 0.0, 0.001: "at most at about the rate the bound allows"
    for broken in (
        "marked, then blurred 3x3",
        "marked, then shifted 1 px",
        "marked, cropped 2 px + padded",
    ):
        assert w[broken] <= 0.05, broken  # 0.0: "what breaks it"
    fp = r["fingerprint"]
    assert fp["trained on marked data"] > 0.9 and fp["trained on clean data"] <= 0.01  # .987, 0


CHECKS["09_ethics"] = _check_09


def _check_10(r: dict) -> None:
    """Notebook 10's live run (default parameters: 8 garments, 100 optimisation steps, encoders
    of 200 steps; measured values in comments, 1 thread, 2-core CPU): what its prose says."""
    _exercises(
        r,
        {
            "reconstruction_loss": "exercise_reconstruction_loss_ok",
            "boundary_distance": "exercise_boundary_distance_ok",
        },
    )
    inv = r["inversion"]
    assert len(inv) == 9 and all(0 <= v["class_kept"] <= 1 for v in inv.values())
    # "In every space the best inversion came closer to the garments than the nearest of 2,000
    # random samples" (RMS 0.207 vs 0.373 in z, 0.222 vs 0.316 in w, 0.153 vs 0.316 in w+)
    assert len(r["nearest_baseline"]) == 3
    for name, b in r["nearest_baseline"].items():
        assert b["inversion_rms"] < b["nearest_rms"], (name, b)
    w = r["w_vs_wplus"]
    assert w["w+"]["pixel_rms"] < w["w"]["pixel_rms"]  # "W+ fits better than w": 0.159, 0.222
    assert {"edit_toward_verdict", "interfacegan_verdict"} <= set(w)  # printed, as measured
    assert r["tradeoff"]["toward"][0] == [0.0, 0.0]  # strength 0 changes nothing
    if not r["fast"]:
        assert r["encoder_worst_everywhere"] is True  # "trained for seconds, fits worst"
        # "one direction per class falls short for most garment classes" (1 of 10 reached for
        # 70% of samples; worst Shirt 25%); edit_toward reaches every class (94-100%)
        assert sum(x >= 0.7 for x in r["reach_global"]) <= 4
        assert min(r["reach_toward"]) >= 0.8
        # "switched off, the share of trousers falls by more than half, while as many random
        # units of the same layer barely move it" (9.7% -> 0.3%; random 9.6%)
        d = r["dissection"]
        base, top_off = d["shares"][0], d["shares"][-1]
        random_mean = sum(d["random_shares"]) / len(d["random_shares"])
        assert top_off < base / 2 and abs(random_mean - base) < 0.15 * base, d


CHECKS["10_inside_a_generator"] = _check_10


def _check_11(r: dict) -> None:
    """Notebook 11's live run (default parameters: class 0, 1,500 GAN steps; measured values in
    comments): every detector scored, the tables it prints are complete, TensorBoard wrote."""
    _exercises(
        r, {"fanogan_score": "exercise_fanogan_score_ok", "nn_distance": "exercise_nn_distance_ok"}
    )
    auc = r["auroc"]
    assert set(auc) == {"combined", "fanogan", "discriminator", "pixel-nn", "feature-nn"}
    assert all(0 <= v <= 1 for v in auc.values())
    if not r["fast"]:
        # the detectors the prose discusses work on T-shirts; the classifier knows more
        assert auc["combined"] > 0.85 and auc["pixel-nn"] > 0.85  # measured 0.9xx, 0.9xx
        assert auc["feature-nn"] > max(auc["fanogan"], auc["pixel-nn"])  # "a ceiling"
        assert r["anogan"]["n"] == 200
    assert len(r["per_class_combined"]) == 9 and sum(r["missed_16"].values()) == 16
    assert r["encoder"]["last_loss"] < r["encoder"]["first_loss"]
    tb = r["tensorboard"]
    assert tb["scalars"] >= 8 and tb["images"] >= 1 and tb["histograms"] >= 1
    assert tb["loss_d_points"] >= 2


CHECKS["11_gans_at_work"] = _check_11


def test_09_quotes_the_recorded_ethics_results():
    """The numbers notebook 09's prose quotes from benchmarks/results/*.json."""
    nb = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "09_ethics.ipynb")["cells"])
    nb = " ".join(nb.split())
    det = _results("detection.json")["detectors"]["plain"]["rows"]["dcgan"]
    assert f"{det['accuracy']:.1%}, AP {det['average_precision']:.3f}" in nb  # 96.7%, AP 0.994
    gans = _results("membership.json")["gans"]
    early = gans["overfit_early_stop"]
    assert early["steps"] == 1000 and gans["overfit"]["steps"] == 3000
    assert f"sits in between at AUC {early['attacks']['logan']['auc']:.2f}" in nb  # 0.77
    assert gans["overfit"]["train_images"] == 256
    assert f"256 images {round(3000 * 32 / 256)} times" in nb  # batch 32: 375 passes
    fp = _results("fingerprint.json")
    assert fp["steps"] == 3696 and f"as many steps as `dcgan.pt` ({fp['steps']:,})" in nb
    rows = _results("detection.json")["detectors"]["plain"]["rows"]
    w = rows["wgan_gp"]
    # "ranks most fakes above reals (AP 0.94) while a third of the fakes fall below its 0.5
    # threshold (accuracy 0.82)"; "the best threshold reaches 0.86 there"; "caught more often
    # than those two, less often than the DCGAN"
    assert f"(AP {w['average_precision']:.2f})" in nb and f"(accuracy {w['accuracy']:.2f})" in nb
    assert 0.25 < 1 - w["fake_accuracy"] < 0.4  # 0.32
    assert f"the best threshold reaches {w['best_accuracy']:.2f} there" in nb
    others = max(rows["cgan_projection"]["fake_accuracy"], rows["stylegan"]["fake_accuracy"])
    assert others < w["fake_accuracy"] < rows["dcgan"]["fake_accuracy"]
    blur = rows["dcgan_blur"]
    assert blur["best_accuracy"] - blur["accuracy"] < 0.05  # "little more than the 0.5 one"


def test_the_benchmarks_readme_quotes_the_recorded_ethics_tables():
    text = (ROOT / "benchmarks/README.md").read_text()
    det = _results("detection.json")["detectors"]
    for k, r in det["plain"]["rows"].items():
        a = det["augmented"]["rows"][k]
        row = (
            f"| {k} | {r['accuracy']:.3f} | {r['average_precision']:.3f} | "
            f"{r['real_accuracy']:.3f} | {r['fake_accuracy']:.3f} | {a['accuracy']:.3f} | "
            f"{a['average_precision']:.3f} |"
        )
        assert row in text, k
    for k, g in _results("membership.json")["gans"].items():
        at = g["attacks"]
        assert (
            f"| {k} | {g['train_images']:,} | {g['steps']:,} | {at['logan']['auc']:.3f} |" in text
        )
    for k, g in _results("watermark.json")["generators"].items():
        assert f"| {k} | {g['marked']['fraction']:.3f} | {g['unmarked']['fraction']:.3f} |" in text
    fp = _results("fingerprint.json")
    assert f"{fp['trained_on_marked_data']['fraction']:.1%} carry the mark" in text
