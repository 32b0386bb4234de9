"""Time and peak memory of each notebook's default run (the course's budget: 3 min, 1.5 GB).

    .venv/bin/python benchmarks/notebook_budget.py [notebooks/01_gan_from_scratch.ipynb ...]

Each notebook is executed by papermill in a child process; the wall time is measured around it
and the peak RSS is the largest resident set of any descendant process (the kernel), read from
``getrusage(RUSAGE_CHILDREN)`` after the child has exited. Results go to
``benchmarks/results/notebook_budget.json``. This is a benchmark, not a test: run it on a quiet
machine, since other load stretches the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUDGET_S, BUDGET_MB = 180.0, 1536.0


def measure(notebook: Path, out_dir: Path) -> dict:
    """Run one notebook in a fresh child; return wall seconds and the child tree's peak RSS."""
    code = (
        "import sys, papermill as pm; "
        "pm.execute_notebook(sys.argv[1], sys.argv[2], cwd=sys.argv[3], kernel_name='python3', "
        "progress_bar=False, parameters={'OUT_DIR': sys.argv[4]})"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
    start = time.perf_counter()
    # A wrapper process, so that its RUSAGE_CHILDREN covers papermill and the kernel only.
    wrapper = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
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
    notebooks = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    rows = [measure(nb.resolve(), ROOT / "build" / "budget") for nb in notebooks]
    for row in rows:
        print(json.dumps(row))
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "load_avg_1min_at_end": os.getloadavg()[0]}
    (RESULTS / "notebook_budget.json").write_text(
        json.dumps({"machine": machine, "runs": rows}, indent=1) + "\n"
    )
    return 0 if all(r["within_budget"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
