"""Steps per second of the training engine, for the DCGAN recipe and the toy recipe.

    .venv/bin/python benchmarks/engine_speed.py                      # this checkout
    .venv/bin/python benchmarks/engine_speed.py --compare ../before  # this vs another checkout

Each measurement runs in a fresh child process (``--child``) with torch on one thread and
times ``Trainer.run`` (logging, snapshots and all, no checkpoints) by the child's CPU time, after
a warm-up. With ``--compare`` the two checkouts alternate, A B A B ..., ``--rounds`` times, so
that load on a shared machine hits both alike; the medians are reported and written to
``results/engine_speed.json``. The public API used here (``Trainer``, ``default_config``,
``run``) is the same before and after the engine redesign.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECIPES = {
    # name: (model, dataset, overrides, steps per timed run)
    "dcgan": ("dcgan", "fashion-mnist", {}, 300),
    "toy grid": ("mlp", "grid", {}, 600),
    "dcgan wgan-gp": ("dcgan", "fashion-mnist", {"loss": "wasserstein", "gp": 10.0}, 60),
}


def child(recipe: str) -> dict:
    """Time one recipe in this process: steps/s of CPU time and of wall time."""
    import torch

    torch.set_num_threads(1)
    from gannotes.data import load_fashion_mnist
    from gannotes.training import Trainer, default_config

    model, dataset, overrides, steps = RECIPES[recipe]
    data = load_fashion_mnist("train", limit=20000).images if dataset == "fashion-mnist" else None
    try:
        cfg = default_config(model, dataset, lr_decay="", **overrides)
    except (TypeError, ValueError):  # an engine without this objective
        return {"recipe": recipe, "skipped": True}
    trainer = Trainer(cfg, device="cpu", data=data)
    trainer.run(steps=20, progress=False)  # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    trainer.run(steps=20 + steps, progress=False)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {"recipe": recipe, "steps_per_cpu_s": steps / cpu, "steps_per_wall_s": steps / wall}


def run_child(checkout: Path, recipe: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(HERE / "engine_speed.py"), "--child", recipe],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=Path, help="another checkout to alternate with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES))
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    checkouts = {"this": ROOT}
    if args.compare:
        checkouts["compare"] = args.compare.resolve()
    rows: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        for recipe in args.recipes:
            for label, path in checkouts.items():
                r = run_child(path, recipe)
                if r.get("skipped"):
                    continue
                cell = rows.setdefault(f"{recipe} [{label}]", {"cpu": [], "wall": []})
                cell["cpu"].append(r["steps_per_cpu_s"])
                cell["wall"].append(r["steps_per_wall_s"])
                print(
                    f"{recipe:14s} {label:8s} {r['steps_per_cpu_s']:7.1f} steps/CPU-s", flush=True
                )
    summary = {
        name: {
            "steps_per_cpu_s": round(statistics.median(v["cpu"]), 1),
            "steps_per_wall_s": round(statistics.median(v["wall"]), 1),
            "rounds_cpu": [round(x, 1) for x in v["cpu"]],
        }
        for name, v in rows.items()
    }
    record = {
        "command": "python benchmarks/engine_speed.py" + (" --compare DIR" if args.compare else ""),
        "compare": str(args.compare) if args.compare else None,
        "threads": 1,
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "results": summary,
    }
    print(json.dumps(record, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "engine_speed.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
