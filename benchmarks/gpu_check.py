"""The course's GPU check (issue 26), on one NVIDIA GPU in under 8 minutes.

Every GAN's training step, every notebook, the 3-minute bf16 DCGAN against its quality gate
and torchrun:

    bash benchmarks/gpu_check.sh                        # one GPU: writes benchmarks/results/gpu_<gpu>.json
    bash benchmarks/gpu_check.sh --dry-run [--out DIR]  # the same steps on a CPU, tiny budgets

Every step is a command a user would type (``python -m gannotes bench``, ``train``, ``sample``,
``evaluate``, ``torchrun``; the notebooks through ``benchmarks/notebook_budget.py``'s
``measure``), run in its own process group with a time limit, its output in a log. A step that
fails is recorded with its error's last line and the next one runs. The plan, in three phases
(:func:`plan`):

1. ``bench_<gan>``, alone on the GPU: fp32, bf16 and fp16, NCHW and channels-last, eager;
2. side by side, each on its own CPUs: ``bench_compile_<gan>`` (bf16, eager beside compiled:
   compilation is CPU work), ``train_dcgan_bf16`` then ``quality_gate`` (2,000 samples scored
   by ``evaluate`` and judged by ``gannotes.quality.QUALITY_GATES["dcgan"]``), and
   ``notebook_<name>`` for every notebook (``--jobs`` at a time, one CPU each, as
   notebook_budget.py runs them). Their times share the GPU, and the JSON says so;
3. ``torchrun`` with 2 processes: first as the course launches it on GPUs (NCCL, one GPU per
   process, which one GPU cannot give two processes), then gloo with both on ``cuda:0``.

``--dry-run`` runs the same steps through the same code on the CPU with tiny budgets (steps
instead of minutes, one bench configuration or two per GAN, compile for the DCGAN only, the
welcome notebook, torchrun on gloo), into a temporary directory, in about 1-2 minutes on one
core; there the quality gate is scored but not enforced (20 steps cannot pass it).
Results: ``OUT/gpu_<slug>.json`` (written after every step) and ``OUT/gpu_<slug>/`` (each
step's log and the bench JSONs). Exit 0 when every step is ok.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

T0 = time.monotonic()  # the deadline counts from here: imports and CUDA's start included
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FAMILIES = ("dcgan", "cgan", "pix2pix", "cyclegan", "stylegan")  # bench's model names
TOTAL_S = {"gpu": 465.0, "dry-run": 600.0}  # the whole run's deadline (8 min = 480 s)


class StepFailed(Exception):
    """A step's failure: ``line`` is what the JSON records; ``result`` what it had measured."""

    def __init__(self, line: str, result: dict | None = None, status: str = "failed"):
        super().__init__(line)
        self.line, self.result, self.status = line, result or {}, status


_ERROR = re.compile(r"(Error|Exception)\b|\berror:|\bTimeout")


def error_line(text: str) -> str:
    """The line of a command's output that says what went wrong: the last line naming an error
    (an exception, ``gannotes X: error: ...``), not torchrun's wrapper; else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    hits = [line for line in lines if _ERROR.search(line) and "ChildFailedError" not in line]
    return (hits or lines or ["(no output)"])[-1][:300]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a step's process and everything it started (a Jupyter kernel starts its own
    session, so the process group alone would miss it)."""
    for p in [pid, *_descendants(pid)]:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:  # and whatever is left of its process group (it was started as a session)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Step:
    name: str
    kind: str  # bench, notebook, train, quality, torchrun
    limit_s: float  # its own time limit (the run's deadline may cut it shorter)
    fn: Callable[[Context, Step, float], dict]  # (run, this step, seconds it may take)
    cpus: list[int] | None = None  # CPUs its processes may use (None: all)
    args: dict = field(default_factory=dict)


@dataclass
class Phase:
    name: str
    tracks: list[list[Step]]  # tracks run side by side, the steps of a track one after another
    reserve_s: float = 0.0  # time left for the phases after this one
    pool: int = 1  # the notebooks' track runs this many steps at a time (the others one)


class Context:
    """The run: where things go, the deadline, and the JSON record, written after each step."""

    def __init__(self, args, record: dict, out_json: Path, logs: Path, work: Path):
        self.args, self.record, self.out_json = args, record, out_json
        self.logs, self.work = logs, work  # logs and bench JSONs; runs, notebooks, caches
        self.dry = args.dry_run
        self.device = "cpu" if self.dry else "cuda"
        self.start = T0
        self.deadline = self.start + args.budget_s
        self.lock = threading.Lock()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_PREFER_ENV_PATH": "1"}
        # cold compilations, as a learner's first --compile, and nothing left in their cache
        self.env["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor")
        self.env["TRITON_CACHE_DIR"] = str(work / "triton")

    def update(self, name: str, **fields) -> None:
        """Change a step's entry and write the JSON (from any of the run's threads)."""
        with self.lock:
            self.record["steps"][name].update(fields)
        self.save()

    def save(self) -> None:
        from gannotes.checkpoint import write_json

        with self.lock:
            self.record["seconds"] = round(time.monotonic() - self.start, 1)
            write_json(self.out_json, self.record)

    def status(self, name: str) -> str:
        return self.record["steps"][name]["status"]

    def run(self, step: Step, cmd: list[str], timeout: float, env: dict | None = None) -> str:
        """Run ``cmd`` from the repository root, its output appended to the step's log; its
        output, or StepFailed with the error's line (or the time limit it ran past)."""
        log = self.logs / f"{step.name}.log"
        if step.cpus:  # pinned before exec: the affinity is inherited by all it starts
            pin = "import os, sys; os.sched_setaffinity(0, {*map(int, sys.argv[1].split(','))}); "
            pin += "os.execv(sys.argv[2], sys.argv[2:])"
            cmd = [sys.executable, "-c", pin, ",".join(map(str, step.cpus)), *cmd]
        env = {**self.env, **(env or {})}
        if step.cpus and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(len(step.cpus))
        with open(log, "a") as f:
            f.write(f"$ {shlex.join(cmd)}\n")
            f.flush()
            offset = f.tell()
            proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            try:
                code = proc.wait(timeout=max(timeout, 1.0))
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()
                raise StepFailed(f"timed out after {timeout:.0f} s (see {log.name})") from None
        with open(log) as f:
            f.seek(offset)
            output = f.read()
        if code != 0:
            raise StepFailed(error_line(output) + f" (exit {code})")
        return output


# ----------------------------------------------------------------------------- the steps


def py(*args: str) -> list[str]:
    return [sys.executable, "-m", "gannotes", *map(str, args)]


def bench(ctx: Context, step: Step, timeout: float) -> dict:
    a = step.args
    out = ctx.logs / f"{step.name}.json"
    cmd = py("bench", "--family", a["family"], "--precision", *a["precisions"])
    cmd += ["--device", ctx.device, "--steps", str(a["steps"]), "--json", str(out)]
    cmd += ["--channels-last"] * a["channels_last"] + ["--compile"] * a["compile"]
    ctx.run(step, cmd, timeout)
    keep = ("label", "device", "batch_size", "compiled", "first_step_s", "step_ms")
    keep += ("images_per_s", "peak_memory_mb", "memory_kind", "losses_finite", "error")
    rows = [{k: r[k] for k in keep if k in r} for r in json.loads(out.read_text())["results"]]
    result = {"command": shlex.join(["python", *cmd[1:]]), "configs": rows}
    bad = [f"{r['label']}: {r['error']}" for r in rows if "error" in r]
    bad += [f"{r['label']}: losses not finite" for r in rows if r.get("losses_finite") is False]
    if bad:
        raise StepFailed(bad[-1], result)
    return result


NOTEBOOK = (
    "import json, sys; from pathlib import Path; sys.path.insert(0, 'benchmarks'); "
    "from notebook_budget import measure; "
    "print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))))"
)


def notebook(ctx: Context, step: Step, timeout: float) -> dict:
    """The notebook's default run, timed by notebook_budget.measure (papermill, one CPU)."""
    nb, cpu = step.args["notebook"], step.args["cpu"]
    out = ctx.work / "notebooks"
    output = ctx.run(step, [sys.executable, "-c", NOTEBOOK, str(nb), str(out), str(cpu)], timeout)
    row = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    return {**row, "cpu": cpu, "ran_beside": step.args["beside"]}


def train(ctx: Context, step: Step, timeout: float) -> dict:
    run = ctx.work / "runs" / "dcgan_bf16"
    cmd = py("train", "dcgan", "--dataset", "fashion-mnist", "--precision", "bf16")
    cmd += ["--out", str(run), "--quiet", "--device", ctx.device, *step.args["budget"]]
    if run.exists():
        subprocess.run(["rm", "-rf", str(run)], check=True)
    ctx.run(step, cmd, timeout)
    hist = json.loads((run / "history.json").read_text())
    session = json.loads((run / "run.json").read_text())["sessions"][-1]
    rates = sorted(hist["images_per_s"][len(hist["images_per_s"]) // 2 :])
    return {
        "command": shlex.join(["python", *cmd[1:]]),
        "steps": hist["step"][-1],
        "train_seconds": round(hist["seconds"][-1], 1),
        "images_per_s": round(rates[len(rates) // 2], 1),
        "device": session["device"],
        "ran_beside": step.args["beside"],
    }


def quality(ctx: Context, step: Step, timeout: float) -> dict:
    """2,000 samples of the run, scored by ``evaluate``, judged by the course's DCGAN gate."""
    from gannotes.quality import QUALITY_GATES, gate_failures

    if ctx.status("train_dcgan_bf16") != "ok":
        raise StepFailed("no run to judge: train_dcgan_bf16 did not finish", status="skipped")
    run, samples = ctx.work / "runs" / "dcgan_bf16", ctx.work / "samples_2000.npy"
    end = time.monotonic() + timeout
    ctx.run(step, py("sample", run, "--n", 2000, "--out", samples, "--seed", 0), timeout)
    output = ctx.run(
        step, py("evaluate", samples, "--dataset", "fashion-mnist"), end - time.monotonic()
    )
    scores = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    gate = QUALITY_GATES["dcgan"]
    fails = gate_failures(scores, gate)
    keep = ("fid", "kid", "precision", "recall", "density", "coverage", "classes_covered")
    result = {k: scores[k] for k in keep} | {
        "n": scores["n"],
        "gate": gate._asdict(),
        "gate_failures": fails,
        "passes_gate": not fails,
        "gate_enforced": step.args["enforce"],
    }
    if fails and step.args["enforce"]:
        raise StepFailed("quality gate: " + "; ".join(fails), result)
    return result


def torchrun(ctx: Context, step: Step, timeout: float) -> dict:
    """Two processes on the one device: each way in ``attempts`` until one trains."""
    tried, end = [], time.monotonic() + timeout
    for backend, device in step.args["attempts"]:
        run = ctx.work / "runs" / f"ddp_{backend}"
        subprocess.run(["rm", "-rf", str(run)], check=True)
        train = ["train", "dcgan", "--dataset", "fashion-mnist", "--steps", str(step.args["steps"])]
        train += ["--out", str(run), "--quiet", "--device", device]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += ["--nproc_per_node", "2", "-m", "gannotes", *train]
        try:  # like gannotes.parallel.torchrun: one OpenMP thread per process
            env = {"OMP_NUM_THREADS": "1"}
            output = ctx.run(step, cmd, end - time.monotonic(), env=env)
        except StepFailed as exc:
            tried.append({"backend": backend, "device": device, "ok": False, "error": exc.line})
            continue
        world = re.search(r"(\d+) processes \((\w+)\)", output)
        rates = json.loads((run / "history.json").read_text()).get("images_per_s") or [None]
        session = json.loads((run / "run.json").read_text())["sessions"][-1]
        tried.append({"backend": backend, "device": device, "ok": True})
        return {
            "command": "torchrun --nproc_per_node 2 -m gannotes " + shlex.join(train),
            "processes": int(world.group(1)) if world else None,
            "backend": world.group(2) if world else None,
            "device": session["device"],
            "steps": session["to_step"],
            "images_per_s": rates[-1] and round(rates[-1], 1),  # the last history row's
            "attempts": tried,
            "note": step.args["note"],
        }
    raise StepFailed(tried[-1]["error"], {"attempts": tried, "note": step.args["note"]})


# ----------------------------------------------------------------------------- the plan


def plan(dry: bool, cpus: list[int], jobs: int, notebooks: list[Path]) -> list[Phase]:
    """The steps of a run; ``dry`` changes only budgets, sizes and the device."""
    if dry:  # each precision and layout once over the GANs; compile for the DCGAN only
        grid = {"dcgan": (["fp16"], True), "cgan": (["bf16"], False)}
        grid |= {"pix2pix": (["fp32"], False), "cyclegan": (["fp32"], False)}
        grid |= {"stylegan": (["bf16"], False)}
        compiled, steps = ["dcgan"], 1
    else:
        grid = {f: (["fp32", "bf16", "fp16"], True) for f in FAMILIES}
        compiled, steps = list(FAMILIES), 20
    # CPUs in phase 2: the notebooks one each (from the top), the training two, compile the rest
    nb_cpus = [cpus[-1 - (i % len(cpus))] for i in range(jobs)]
    spare = [c for c in cpus if c not in nb_cpus]
    train_cpus = spare[-2:] if len(spare) >= 4 else None
    compile_cpus = spare[:-2] if len(spare) >= 4 else None
    eager = [
        Step(f"bench_{f}", "bench", 90, bench, args=dict(family=f, precisions=p,
             channels_last=cl, compile=False, steps=steps))
        for f, (p, cl) in grid.items()
    ]  # fmt: skip
    compiles = [
        Step(f"bench_compile_{f}", "bench", 150, bench, compile_cpus, dict(family=f,
             precisions=["bf16"] if not dry else ["fp32"], channels_last=False, compile=True,
             steps=steps))
        for f in compiled
    ]  # fmt: skip
    beside = ["bench_compile_*", "train_dcgan_bf16", "notebook_*"]
    budget = ["--steps", "20"] if dry else ["--minutes", "3"]
    training = [
        Step("train_dcgan_bf16", "train", 270, train, train_cpus, dict(budget=budget,
             beside=beside)),
        Step("quality_gate", "quality", 120, quality, train_cpus, dict(enforce=not dry)),
    ]  # fmt: skip
    nbs = [
        Step(f"notebook_{nb.stem}", "notebook", 300, notebook, None,
             dict(notebook=nb, cpu=nb_cpus[i % jobs], beside=beside))
        for i, nb in enumerate(notebooks)
    ]  # fmt: skip
    attempts = [("gloo", "cpu")] if dry else [("nccl", "cuda"), ("gloo", "cuda:0")]
    note = (
        "The course starts one process per GPU with NCCL (gannotes.parallel): with one GPU "
        "the second process is refused, and NCCL rejects two ranks on one GPU anyway "
        "('Duplicate GPU detected'). gloo runs both processes on cuda:0 (its collectives on "
        "CUDA tensors go through host memory): the data-parallel step on a GPU, not NCCL's speed."
    )
    if dry:
        note = "On CPUs the course's data-parallel training uses gloo (gannotes.parallel)."
    ddp = Step("torchrun", "torchrun", 120, torchrun, None, dict(
        attempts=attempts, steps=10 if dry else 60, note=note))  # fmt: skip
    return [
        Phase("bench", [eager], reserve_s=285),  # on a GPU: done by 180 s
        Phase("side_by_side", [compiles, training, nbs], reserve_s=55, pool=jobs),  # by 410 s
        Phase("torchrun", [[ddp]]),
    ]


def run_step(ctx: Context, step: Step, phase: Phase) -> None:
    """Run one step within its limit and the phase's share of the deadline; record it."""
    timeout = min(step.limit_s, ctx.deadline - phase.reserve_s - time.monotonic())
    log = str((ctx.logs / f"{step.name}.log").relative_to(ctx.out_json.parent))
    if timeout < 10:
        done = {"status": "skipped", "error": f"out of time ({timeout:.0f} s left for it)"}
    else:
        ctx.update(step.name, status="running", limit_s=round(timeout), log=log)
        t0 = time.monotonic()
        try:
            done = {"status": "ok", "result": step.fn(ctx, step, timeout)}
        except StepFailed as exc:
            done = {"status": exc.status, "error": exc.line, "result": exc.result}
        except Exception as exc:  # a bug in this script: recorded, and the run goes on
            done = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
        done["seconds"] = round(time.monotonic() - t0, 1)
    ctx.update(step.name, **done)
    took = f" ({done['seconds']} s)" if "seconds" in done else ""
    why = f": {done['error']}" if done.get("error") else ""
    print(f"[{time.monotonic() - ctx.start:6.0f} s] {step.name} {done['status']}{took}{why}",
          flush=True)  # fmt: skip


def run_track(ctx: Context, steps: list[Step], phase: Phase, pool: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, pool)) as ex:
        list(ex.map(lambda s: run_step(ctx, s, phase), steps))


def run_phases(ctx: Context, phases: list[Phase]) -> None:
    for phase in phases:
        threads = []
        for track in phase.tracks:
            pool = phase.pool if track and track[0].kind == "notebook" else 1
            threads.append(threading.Thread(target=run_track, args=(ctx, track, phase, pool)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# ----------------------------------------------------------------------------- main


def environment(dry: bool) -> dict:
    import torch

    from gannotes.bench import machine

    info = {
        "device": "cpu" if dry else "cuda",
        "gpu_name": None if dry else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "machine": machine(),
    }
    if not dry:
        props = torch.cuda.get_device_properties(0)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["gpu_capability"] = f"{props.major}.{props.minor}"
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            info["driver"] = smi.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            info["driver"] = None
    return info


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="gpu_check.sh", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without --dry-run it needs CUDA and refuses to start without it.",
    )  # fmt: skip
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny budgets, a temporary --out")
    ap.add_argument("--out", type=Path, help="results folder (default: benchmarks/results; "
                    "with --dry-run a new temporary folder)")  # fmt: skip
    ap.add_argument("--jobs", type=int, default=None, help="notebooks at a time (GPU: 6)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="deadline of the whole run in seconds (GPU: 465, dry run: 600)")  # fmt: skip
    args = ap.parse_args(argv)
    mode = "dry-run" if args.dry_run else "gpu"
    args.budget_s = args.budget_s or TOTAL_S[mode]
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA GPU here (torch {torch.__version__}, CUDA "
            f"{torch.version.cuda or 'none'}); run it on a GPU machine, or add --dry-run",
            file=sys.stderr,
        )
        return 2
    info = environment(args.dry_run)
    name = "cpu-dry-run" if args.dry_run else slug(info["gpu_name"])
    out = args.out or (Path(tempfile.mkdtemp(prefix="gpu_check_")) if args.dry_run else RESULTS)
    out = out.resolve()
    logs = out / f"gpu_{name}"
    work = ROOT / "build" / "gpu_check" if out == RESULTS.resolve() else logs / "work"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    for d in (logs, work):
        d.mkdir(parents=True, exist_ok=True)
    cpus = sorted(os.sched_getaffinity(0))
    jobs = args.jobs or (1 if args.dry_run else min(6, max(1, len(cpus) - 4)))
    if args.dry_run:
        notebooks = [ROOT / "notebooks" / "00_welcome.ipynb"]
    else:  # the longest first (as recorded on a CPU), so that the pool ends together
        recorded = json.loads((RESULTS / "notebook_budget.json").read_text())["runs"]
        seconds = {r["notebook"]: r["seconds"] for r in recorded}
        notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"),
                           key=lambda p: -seconds.get(p.name, 0))  # fmt: skip
    phases = plan(args.dry_run, cpus, jobs, notebooks)
    record = {
        "check": "benchmarks/gpu_check.py",
        "mode": mode,
        **{k: info[k] for k in ("device", "gpu_name", "torch", "cuda")},
        "command": shlex.join(["bash", "benchmarks/gpu_check.sh", *argv]),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "budget_s": args.budget_s,
        "notebooks_at_a_time": jobs,
        "environment": info,
        "phases": {p.name: [s.name for t in p.tracks for s in t] for p in phases},
        "steps": {
            s.name: {"kind": s.kind, "phase": p.name, "status": "pending"}
            for p in phases
            for t in p.tracks
            for s in t
        },
    }
    ctx = Context(args, record, out / f"gpu_{name}.json", logs, work)
    print(f"gpu_check ({mode}) on {info['gpu_name'] or 'cpu'}, torch {info['torch']}, "
          f"CUDA {info['cuda']}: {len(record['steps'])} steps -> {ctx.out_json}", flush=True)  # fmt: skip
    ctx.save()
    run_phases(ctx, phases)
    record["ok"] = all(s["status"] == "ok" for s in record["steps"].values())
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ctx.save()
    failed = [n for n, s in record["steps"].items() if s["status"] != "ok"]
    print(f"{'all steps ok' if not failed else 'not ok: ' + ', '.join(failed)} in "
          f"{record['seconds']:.0f} s; wrote {ctx.out_json}")  # fmt: skip
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
