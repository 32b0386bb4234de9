"""Screen DCGAN recipes at 3 CPU-minutes of one core, scored by the independent classifier.

    python benchmarks/dcgan_recipe_screen.py NAME --steps N [--seed S] [--out FILE.jsonl]
    python benchmarks/dcgan_recipe_screen.py NAME [--budget-s 180]   # CPU time instead of steps

Each candidate trains with torch on one thread for ``--steps`` steps: 3 CPU-minutes of the
recipe it varies (6,337 steps at batch 32 and width 32, results/dcgan_time_to_quality.json's
throughput on an idle machine; 8,100 for width 24 and 11,280 for batch 16, from their measured
throughput relative to it). Quality at a number of steps does not depend on the machine's load;
steps in a CPU budget do (``--budget-s``, this process's CPU time, moves with other jobs). Then
5,000 samples of its sampling network (the EMA copy when the recipe keeps one) are scored by
benchmarks/classifier.py: the Fréchet distance of its features to the 10,000 real test images
(eval-mode BatchNorm, and train mode as ``fid_train_mode``), and the classes its samples cover.
A linear decay's horizon is the run's steps, as ``--minutes`` makes it the budget. One JSON line
is appended to ``--out`` per run (benchmarks/results/dcgan_recipe_screen.jsonl by default).
"""

from __future__ import annotations

import argparse
import json
import time

import classifier
import torch
from common import ROOT, make, sample_train_mode

from gannotes.training import generate

BASE = {"kind": "ours", "batch_size": 32, "lr_g": 5e-4, "lr_d": 5e-4, "betas": (0.5, 0.999)}
WIDTHS = {"g_width": 32, "d_width": 32, "z_dim": 64}
CANDIDATES: dict[str, dict] = {
    # the recipe before this screen (gannotes.gans.classic.recipe until December 2026); at
    # 6,337 steps it is results/dcgan_time_to_quality.json's "ours": FID 85.9
    "previous": {**BASE, "model_config": WIDTHS},
    "ema999_lr1e3": {**BASE, "ema": 0.999, "lr_g": 1e-3, "lr_d": 1e-3, "model_config": WIDTHS},
    "decay": {**BASE, "lr_decay": "linear", "lr_decay_start": 0.5, "model_config": WIDTHS},
    "lr1e3_decay": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr2e3_decay": {
        **BASE,
        "lr_g": 2e-3,
        "lr_d": 2e-3,
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_decay_b99": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.5, 0.99),
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_decay_ttur": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 2e-3,
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_decay_hinge": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "loss": "hinge",
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_decay0": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "lr_decay": "linear",
        "lr_decay_start": 0.0,
        "model_config": WIDTHS,
    },
    "lr1e3_decay_b9": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.5, 0.9),
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_decay_b0": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.0, 0.99),
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr2e3_decay_b99": {
        **BASE,
        "lr_g": 2e-3,
        "lr_d": 2e-3,
        "betas": (0.5, 0.99),
        "lr_decay": "linear",
        "lr_decay_start": 0.5,
        "model_config": WIDTHS,
    },
    "lr1e3_b99": {**BASE, "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.5, 0.99), "model_config": WIDTHS},
    "lr1e3_b99_w24": {
        **BASE,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.5, 0.99),
        "model_config": {**WIDTHS, "g_width": 24, "d_width": 24},
    },
    "lr1e3_b99_b16": {
        **BASE,
        "batch_size": 16,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.5, 0.99),
        "model_config": WIDTHS,
    },
}


def run(name: str, spec: dict, budget_s: float, seed: int, steps: int | None = None) -> dict:
    """Train ``name`` for ``steps`` steps, or (without) for ``budget_s`` CPU seconds."""
    spec = dict(spec)
    if spec.get("lr_decay") and steps:
        spec["lr_decay_steps"] = steps  # the horizon is the budget, as with --minutes
    recipe = make({"name": name, **spec}, seed=seed)
    trainer = recipe.trainer
    t0, w0, done = time.process_time(), time.perf_counter(), 0
    while (done < steps) if steps else (time.process_time() - t0 < budget_s):
        recipe.step()
        done += 1
    cpu_s, wall_s = time.process_time() - t0, time.perf_counter() - w0
    score = classifier.score(generate(trainer.sampling_generator, 5000, seed=0))
    # BatchNorm with batch statistics (train mode) instead of its running averages
    score["fid_train_mode"] = classifier.score(
        sample_train_mode(trainer.sampling_generator, 5000, seed=0)
    )["fid"]
    return {
        "name": name,
        "seed": seed,
        "budget_s": None if steps else budget_s,
        "steps": done,
        "cpu_s": round(cpu_s, 1),
        "wall_s": round(wall_s, 1),
        **score,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name", choices=sorted(CANDIDATES))
    ap.add_argument("--budget-s", type=float, default=180.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="train this many steps instead")
    ap.add_argument("--out", default=str(ROOT / "results" / "dcgan_recipe_screen.jsonl"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    row = run(args.name, CANDIDATES[args.name], args.budget_s, args.seed, args.steps)
    print(json.dumps(row))
    with open(args.out, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
