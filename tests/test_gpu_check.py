"""benchmarks/gpu_check.sh, the check a session with a GPU runs (issue 26).

Its dry run on this CPU goes through every kind of step the GPU run has (`bench` of every GAN,
compiled and not, a notebook's default run, the bf16 DCGAN and its quality gate, torchrun),
by the same code with tiny budgets; without CUDA the real run refuses in one line. The JSON is
checked for what each step ran and recorded, never for how long it took.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = sys.modules["gpu_check"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)

FAMILIES = ("dcgan", "cgan", "pix2pix", "cyclegan", "stylegan")
DRY_STEPS = [
    *(f"bench_{f}" for f in FAMILIES),
    "bench_compile_dcgan",
    "train_dcgan_bf16",
    "quality_gate",
    "notebook_00_welcome",
    "torchrun",
]


def _run(*args, timeout=1200):
    # no GPU may be used even where one exists: the dry run is a CPU check
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        ["bash", str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    done = _run("--dry-run", "--out", out)
    return done, out


@pytest.fixture(scope="module")
def record(dry_run):
    done, out = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = list(out.glob("gpu_*.json"))
    assert [f.name for f in files] == ["gpu_cpu-dry-run.json"], files
    return json.loads(files[0].read_text())


def test_dry_run_records_the_machine_and_every_step_ok(record, dry_run):
    import torch

    assert record["mode"] == "dry-run" and record["device"] == "cpu"
    assert record["gpu_name"] is None
    assert record["torch"] == torch.__version__ and "cuda" in record
    assert record["environment"]["machine"]["cpu"]
    assert list(record["steps"]) == [s for p in record["phases"].values() for s in p]
    assert sorted(record["steps"]) == sorted(DRY_STEPS)
    bad = {n: s.get("error") for n, s in record["steps"].items() if s["status"] != "ok"}
    assert not bad and record["ok"] is True
    for name, step in record["steps"].items():
        assert (dry_run[1] / step["log"]).is_file(), name


def test_dry_run_benches_every_gan_on_the_cpu(record, dry_run):
    _, out = dry_run
    labels = []
    for f in FAMILIES:
        configs = record["steps"][f"bench_{f}"]["result"]["configs"]
        assert configs and all(c["device"] == "cpu" for c in configs), configs
        assert all(c["losses_finite"] and c["images_per_s"] > 0 for c in configs), configs
        labels += [c["label"] for c in configs]
        assert (out / "gpu_cpu-dry-run" / f"bench_{f}.json").is_file()
    # between them, the dry run's configurations use every precision and channels-last
    assert {lab.split()[1] for lab in labels} == {"fp32", "bf16", "fp16"}
    assert any("channels_last" in lab for lab in labels)
    compiled = record["steps"]["bench_compile_dcgan"]["result"]["configs"]
    assert [c["compiled"] for c in compiled] == [[], ["G", "D"]]


def test_dry_run_trains_the_bf16_dcgan_and_scores_it_by_the_gate(record):
    from gannotes.quality import QUALITY_GATES, gate_failures

    train = record["steps"]["train_dcgan_bf16"]["result"]
    assert train["steps"] == 20 and train["device"] == "cpu"
    assert "--precision bf16" in train["command"] and "--steps 20" in train["command"]
    q = record["steps"]["quality_gate"]["result"]
    assert q["n"] == 2000 and q["gate"] == QUALITY_GATES["dcgan"]._asdict()
    # 20 steps cannot pass the gate: the dry run scores it without enforcing it
    assert q["gate_failures"] == gate_failures(q, QUALITY_GATES["dcgan"]) != []
    assert q["passes_gate"] is False and q["gate_enforced"] is False


def test_dry_run_times_a_notebook_and_trains_with_torchrun_on_gloo(record):
    nb = record["steps"]["notebook_00_welcome"]["result"]
    assert nb["notebook"] == "00_welcome.ipynb" and nb["peak_rss_mb"] > 0
    ddp = record["steps"]["torchrun"]["result"]
    assert (ddp["processes"], ddp["backend"], ddp["device"]) == (2, "gloo", "cpu")
    assert ddp["steps"] == 10 and ddp["attempts"] == [
        {"backend": "gloo", "device": "cpu", "ok": True}
    ]


def test_the_gpu_run_plans_every_gan_notebook_and_step():
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    phases = gpu_check.plan(False, list(range(16)), 6, notebooks)
    steps = {s.name: s for p in phases for t in p.tracks for s in t}
    for f in FAMILIES:
        eager, compiled = steps[f"bench_{f}"].args, steps[f"bench_compile_{f}"].args
        assert eager["precisions"] == ["fp32", "bf16", "fp16"] and eager["channels_last"]
        assert not eager["compile"] and compiled["compile"]
    assert {f"notebook_{nb.stem}" for nb in notebooks} <= set(steps)
    assert steps["train_dcgan_bf16"].args["budget"] == ["--minutes", "3"]
    assert steps["quality_gate"].args["enforce"] is True
    assert steps["torchrun"].args["attempts"] == [("nccl", "cuda"), ("gloo", "cuda:0")]
    # the dry run's steps are the GPU run's, fewer of them
    dry = gpu_check.plan(True, [0], 1, notebooks[:1])
    assert {s.name for p in dry for t in p.tracks for s in t} <= set(steps)
    # phase 2's CPUs: one per notebook, two for the training, the rest compile; none shared
    nb_cpus = {steps[f"notebook_{nb.stem}"].args["cpu"] for nb in notebooks}
    train, comp = set(steps["train_dcgan_bf16"].cpus), set(steps["bench_compile_dcgan"].cpus)
    assert len(nb_cpus) == 6 and len(train) == 2 and not (nb_cpus & train or nb_cpus & comp)


def test_real_mode_refuses_without_cuda_in_one_line(tmp_path):
    done = _run("--out", tmp_path / "out", timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU" in lines[0] and "--dry-run" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_help_names_the_dry_run():
    done = _run("--help", timeout=300)
    assert done.returncode == 0 and "--dry-run" in done.stdout and "--out" in done.stdout


def test_error_line_finds_the_error_not_the_launchers_summary():
    text = (
        "[rank1]: Traceback (most recent call last):\n"
        "[rank1]: ValueError: process 1 needs GPU 1, but 1 are visible\n"
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n"
        "  error_file: <N/A>\n"
    )
    assert (
        gpu_check.error_line(text)
        == "[rank1]: ValueError: process 1 needs GPU 1, but 1 are visible"
    )
    assert gpu_check.error_line("gannotes bench: error: no\nbye\n") == "gannotes bench: error: no"
    assert gpu_check.error_line("just\nthe last line\n") == "the last line"
    assert gpu_check.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_a_step_past_its_limit_is_stopped_with_everything_it_started(tmp_path):
    from types import SimpleNamespace

    args = SimpleNamespace(dry_run=True, budget_s=600)
    ctx = gpu_check.Context(args, {"steps": {}}, tmp_path / "r.json", tmp_path, tmp_path)
    step = gpu_check.Step("slow", "bench", 600, fn=None)
    pid_file = tmp_path / "grandchild"
    parent = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)"
    )
    with pytest.raises(gpu_check.StepFailed, match="timed out after 10 s"):
        ctx.run(step, [sys.executable, "-c", parent], timeout=10)
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    for _ in range(100):  # killed: gone, or a zombie until its new parent reaps it
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the step's grandchild outlived it")
