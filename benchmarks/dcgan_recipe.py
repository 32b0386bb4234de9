"""The course's DCGAN recipe against the one before it, at 3 CPU-minutes of one core, 3 seeds.

    python benchmarks/dcgan_recipe.py throughput            # images/s of both, interleaved
    python benchmarks/dcgan_recipe.py train RECIPE --seed S # RECIPE: current | previous
    python benchmarks/dcgan_recipe.py report                # results/dcgan_recipe.json
    python benchmarks/dcgan_recipe.py tables                # the tables of benchmarks/README.md

What ``train dcgan --minutes 3`` learns depends on how many steps fit in the 3 minutes, and on a
shared machine wall-clock rates swing with other jobs. So, as benchmarks/dcgan_time_to_quality.py
does, the two are measured apart:

1. ``throughput``: both recipes run in interleaved bursts of CPU time on one thread (the median
   of ``--rounds``); the budget becomes steps, steps = 180 s * images/s / images per step.
2. ``train``: one recipe and seed trained for its steps (deterministic given the steps), then
   5,000 samples of its sampling network (the EMA copy where the recipe keeps one) scored by the
   independent classifier of benchmarks/classifier.py (not the course's features): Fréchet
   distance to the 10,000 real test images and the classes its samples cover.
3. ``report``: the means over seeds and the ratio previous / current, written to
   benchmarks/results/dcgan_recipe.json.

``current`` is ``gannotes.training.default_config("dcgan")``, what ``train dcgan`` uses;
``previous`` is the recipe before it (batch 32, Adam 5e-4 for both networks, betas (0.5, 0.999),
constant rates, no EMA), what ``train dcgan --lr-g 5e-4 --lr-d 5e-4 --lr-decay '' --ema 0``
trains today.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict

import classifier
import torch
from common import ROOT, OursRecipe, measure_throughput

from gannotes.training import default_config, generate

BUDGET_S = 180.0  # 3 CPU-minutes of one core
SEEDS = (0, 1, 2)
OUT = ROOT / "results" / "dcgan_recipe.json"
PARTS = ROOT / ".cache" / "dcgan_recipe"
SCREEN = ROOT / "results" / "dcgan_recipe_screen.jsonl"  # dcgan_recipe_screen.py
# The recipe before this one (gannotes.gans.classic.recipe until December 2026).
PREVIOUS = {
    "batch_size": 32,
    "lr_g": 5e-4,
    "lr_d": 5e-4,
    "betas": (0.5, 0.999),
    "model_config": {"g_width": 32, "d_width": 32, "z_dim": 64},
}
RECIPE_KNOBS = ("batch_size", "lr_g", "lr_d", "betas", "ema", "lr_decay", "lr_decay_start")


def current() -> dict:
    """What ``train dcgan`` uses: the course's recipe's knobs."""
    cfg = asdict(default_config("dcgan", "fashion-mnist"))
    spec = {k: cfg[k] for k in RECIPE_KNOBS if k in cfg}
    spec["betas"] = tuple(spec["betas"])
    spec["model_config"] = {"g_width": 32, "d_width": 32, "z_dim": 64, **cfg["model_config"]}
    return spec


def specs() -> dict[str, dict]:
    return {"current": current(), "previous": dict(PREVIOUS)}


def throughput(rounds: int, burst_s: float) -> dict:
    tp = measure_throughput(
        [{"name": n, "kind": "ours", **s} for n, s in specs().items()],
        rounds=rounds,
        seconds=burst_s,
    )
    out = {}
    for name, spec in specs().items():
        rate = tp[name]["images_per_s"]
        out[name] = {**tp[name], "steps": int(BUDGET_S * rate / spec["batch_size"])}
    return out


def train(name: str, seed: int, steps: int) -> dict:
    spec = dict(specs()[name])
    if spec.get("lr_decay"):
        spec["lr_decay_steps"] = steps  # --minutes 3: the decay's horizon is the budget
    recipe = OursRecipe(name, seed=seed, **spec)
    c0 = time.process_time()
    for _ in range(steps):
        recipe.step()
    cpu_s = time.process_time() - c0
    score = classifier.score(generate(recipe.trainer.sampling_generator, 5000, seed=0))
    return {"recipe": name, "seed": seed, "steps": steps, "train_cpu_s": round(cpu_s, 1), **score}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--rounds", type=int, default=5)
    t.add_argument("--burst-s", type=float, default=6.0)
    r = sub.add_parser("train")
    r.add_argument("recipe", choices=("current", "previous"))
    r.add_argument("--seed", type=int, required=True)
    sub.add_parser("report")
    sub.add_parser("tables")
    args = ap.parse_args()
    if args.cmd == "tables":
        print(tables())
        return
    torch.set_num_threads(1)
    PARTS.mkdir(parents=True, exist_ok=True)
    if args.cmd == "throughput":
        result = throughput(args.rounds, args.burst_s)
        (PARTS / "throughput.json").write_text(json.dumps(result, indent=1))
    elif args.cmd == "train":
        tp = json.loads((PARTS / "throughput.json").read_text())
        result = train(args.recipe, args.seed, tp[args.recipe]["steps"])
        (PARTS / f"{args.recipe}_{args.seed}.json").write_text(json.dumps(result))
    else:
        result = report()
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def report() -> dict:
    tp = json.loads((PARTS / "throughput.json").read_text())
    recipes = {}
    for name, spec in specs().items():
        runs = [json.loads((PARTS / f"{name}_{s}.json").read_text()) for s in SEEDS]
        recipes[name] = {
            "spec": spec,
            "throughput": tp[name],
            "runs": runs,
            "fid_mean": round(statistics.mean(r["fid"] for r in runs), 2),
            "classes_covered_min": min(r["classes_covered"] for r in runs),
        }
    return {
        "command": "python benchmarks/dcgan_recipe.py throughput; ... train {current,previous} "
        "--seed {0,1,2}; ... report",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        "1 thread",
        "budget_cpu_s": BUDGET_S,
        "seeds": list(SEEDS),
        "classifier_test_accuracy": round(classifier.test_accuracy(), 4),
        "recipes": recipes,
        "fid_ratio_previous_over_current": round(
            recipes["previous"]["fid_mean"] / recipes["current"]["fid_mean"], 2
        ),
    }


def tables() -> str:
    """The Markdown tables of benchmarks/README.md, from the recorded files (a test compares)."""
    screen = [json.loads(line) for line in SCREEN.read_text().splitlines() if line.strip()]
    lines = [
        "| candidate (Adam, batch 32, width 32 unless named) | steps | FID | classes covered |",
        "|---|---|---|---|",
        "| previous: 5e-4, betas (0.5, 0.999) (`dcgan_time_to_quality.json`) | 6,337 | 85.9 | 10 |",
    ]
    for r in sorted(screen, key=lambda r: r["fid"]):
        lines.append(f"| {r['name']} | {r['steps']:,} | {r['fid']:.1f} | {r['classes_covered']} |")
    result = json.loads(OUT.read_text())
    lines += ["", "| recipe | steps in 180 CPU-s | FID, seeds 0 / 1 / 2 | mean | classes |"]
    lines.append("|---|---|---|---|---|")
    for name, r in result["recipes"].items():
        fids = " / ".join(f"{run['fid']:.1f}" for run in r["runs"])
        lines.append(
            f"| {name} | {r['runs'][0]['steps']:,} | {fids} | {r['fid_mean']:.1f} | "
            f"{r['classes_covered_min']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
