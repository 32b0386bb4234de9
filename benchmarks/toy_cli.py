"""The toy acceptance path, exactly as a learner types it, scored twice.

    python benchmarks/toy_cli.py --dataset grid --seeds 0 1 2            # the recipe
    python benchmarks/toy_cli.py --dataset grid --seeds 0 1 2 -- --pack 4  # extra train flags

For each seed: ``python -m gannotes train mlp --dataset D --minutes 1 --seed S``, then
``sample --n 2500`` and ``evaluate``. The samples are scored by ``evaluate``
(``gannotes.metrics.mode_coverage``) and again by the independent counter below, written from
the protocol of VEEGAN (Srivastava et al. 2017, Sec. 5.1) and PacGAN (Lin et al. 2018, Sec. 5):
a sample is high quality within 3 standard deviations of its nearest mode centre; a mode is
captured when at least one high-quality sample is nearest to it. The counter uses numpy and the
published constants only (grid: centres {-4, -2, 0, 2, 4}^2, std 0.05; ring: 8 centres on the
unit circle, std 0.01), nothing from gannotes.

Runs one seed at a time (a minute is wall-clock training time, so run this on an idle machine)
and writes results/toy_cli.json: one row per run, with the machine's load average at its start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "toy_cli.json"


def published_centres(dataset: str) -> tuple[np.ndarray, float]:
    """Mode centres ``[M, 2]`` and std of the published benchmarks."""
    if dataset == "grid":
        v = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        return np.array([(a, b) for a in v for b in v]), 0.05
    angles = 2 * math.pi * np.arange(8) / 8
    return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01


def count_modes(samples: np.ndarray, dataset: str) -> tuple[int, float]:
    """(modes captured, high-quality fraction) of ``samples`` ``[N, 2]``."""
    centres, std = published_centres(dataset)
    d = np.sqrt(((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1))  # [N, M]
    nearest, dist = d.argmin(1), d.min(1)
    good = dist <= 3 * std
    return len(set(nearest[good].tolist())), float(good.mean())


def gannotes(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "gannotes", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if out.returncode:
        sys.exit(f"gannotes {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def one_run(dataset: str, seed: int, minutes: float, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run, npy = Path(tmp) / "run", Path(tmp) / "samples.npy"
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        train = ["train", "mlp", "--dataset", dataset, "--minutes", str(minutes)]
        said = gannotes(*train, "--out", str(run), "--seed", str(seed), "--quiet", *extra)
        wall = time.perf_counter() - t0
        gannotes("sample", str(run), "--n", "2500", "--out", str(npy))
        scored = json.loads(gannotes("evaluate", str(npy), "--dataset", dataset))
        modes, hq = count_modes(np.load(npy), dataset)
    m = re.search(r"trained to step (\d+) in ([\d.]+) min", said)
    return dict(
        dataset=dataset,
        seed=seed,
        flags=" ".join(extra),
        minutes=minutes,
        steps=int(m.group(1)),
        train_min=float(m.group(2)),
        wall_s=round(wall, 1),
        load_avg_1min=round(load, 2),
        modes=scored["modes"],
        high_quality=round(scored["high_quality"], 4),
        modes_independent=modes,
        high_quality_independent=round(hq, 4),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="grid", choices=("grid", "ring"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("extra", nargs="*", help="extra train flags, after --")
    args = parser.parse_args()
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    new = []
    for seed in args.seeds:
        row = one_run(args.dataset, seed, args.minutes, args.extra)
        print(json.dumps(row), flush=True)
        new.append(row)
    keys = {(r["dataset"], r["seed"], r["flags"], r["minutes"]) for r in new}
    rows = [r for r in rows if (r["dataset"], r["seed"], r["flags"], r["minutes"]) not in keys]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows + new, indent=1) + "\n")
    mean = statistics.mean
    print(
        f"{args.dataset} {' '.join(args.extra) or '(recipe)'}: modes "
        f"{mean(r['modes_independent'] for r in new):.2f}, high quality "
        f"{mean(r['high_quality_independent'] for r in new):.3f}, steps "
        f"{mean(r['steps'] for r in new):.0f} over seeds {args.seeds}"
    )


if __name__ == "__main__":
    main()
