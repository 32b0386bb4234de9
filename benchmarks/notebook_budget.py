"""Time and peak memory of each notebook's default run (the course's budget: 3 min, 1.5 GB).

    .venv/bin/python benchmarks/notebook_budget.py [--jobs 2] [notebooks/01_gan_from_scratch.ipynb ...]

Each notebook is executed by papermill in a child process pinned to one CPU, as Binder gives
one: papermill, the kernel and torch's threads (the course caps them at the CPUs it may use)
all share that CPU. The wall time is measured around the child and the peak RSS is the largest
resident set of any descendant process (the kernel), read from ``getrusage(RUSAGE_CHILDREN)``
after the child has exited. ``--jobs 2`` runs two notebooks at a time, each on its own CPU.
Results go to ``benchmarks/results/notebook_budget.json``. This is a benchmark, not a test: run
it on a quiet machine, since other load stretches the times.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gannotes.bench import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUDGET_S, BUDGET_MB = 180.0, 1536.0


def measure(notebook: Path, out_dir: Path, cpu: int) -> dict:
    """Run one notebook in a fresh child pinned to ``cpu``; return wall seconds and the child
    tree's peak RSS."""
    code = (
        "import sys, papermill as pm; "
        "pm.execute_notebook(sys.argv[1], sys.argv[2], cwd=sys.argv[3], kernel_name='python3', "
        "progress_bar=False, parameters={'OUT_DIR': sys.argv[4]})"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
    env.pop("OMP_NUM_THREADS", None)  # the course's own cap (one CPU: one thread) decides
    start = time.perf_counter()
    # A wrapper process, pinned to one CPU (inherited by papermill and the kernel), so that its
    # RUSAGE_CHILDREN covers papermill and the kernel only.
    wrapper = (
        "import os, resource, subprocess, sys; "
        "os.sched_setaffinity(0, {int(sys.argv[1])}); "
        "subprocess.run(sys.argv[2:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            str(cpu),
            sys.executable,
            "-c",
            code,
            str(notebook),
            str(out_dir / notebook.name),
            str(notebook.parent),
            str(out_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    peak_mb = int(result.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux
    return {
        "notebook": notebook.name,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_mb),
        "within_budget": seconds <= BUDGET_S and peak_mb <= BUDGET_MB,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="notebooks at a time, one CPU each")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    if not 1 <= args.jobs <= len(cpus):
        parser.error(f"--jobs must be between 1 and the {len(cpus)} CPUs here, got {args.jobs}")
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    free: queue.Queue[int] = queue.Queue()
    for cpu in cpus[: args.jobs]:
        free.put(cpu)

    def run(nb: Path) -> dict:
        cpu = free.get()
        try:
            row = measure(nb.resolve(), ROOT / "build" / "budget", cpu)
        finally:
            free.put(cpu)
        print(json.dumps(row), flush=True)
        return row

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, notebooks))
    RESULTS.mkdir(parents=True, exist_ok=True)
    here = machine()
    machine_row = {
        "cpu": here["cpu"],
        "cpu_bf16_native": here["cpu_bf16_native"],
        "cpus": os.cpu_count(),
        "cpus_per_notebook": 1,
        "notebooks_at_a_time": args.jobs,
        "load_avg_1min_at_end": os.getloadavg()[0],
    }
    command = "python benchmarks/notebook_budget.py" + (
        f" --jobs {args.jobs}" if args.jobs > 1 else ""
    )
    for row in rows:
        row["measured_by"] = {"command": command, **machine_row}
    # notebooks named on the command line replace their rows; the others keep theirs
    path = RESULTS / "notebook_budget.json"
    old = json.loads(path.read_text())["runs"] if path.is_file() and args.notebooks else []
    mine = {r["notebook"] for r in rows}
    merged = sorted(
        [r for r in old if r["notebook"] not in mine] + rows, key=lambda r: r["notebook"]
    )
    data = {"budget_s": BUDGET_S, "budget_mb": BUDGET_MB, "runs": merged}
    if path.is_file() and "earlier" in (before := json.loads(path.read_text())):
        data["earlier"] = before["earlier"]  # an older machine's times, quoted by notebooks
    path.write_text(json.dumps(data, indent=1) + "\n")
    return 0 if all(r["within_budget"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
