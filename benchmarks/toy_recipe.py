"""The course's toy recipe against the plain one: modes and high-quality samples on ring and grid.

    python benchmarks/toy_recipe.py run NAME [NAME ...] --dataset grid --seeds 0 1 2 --steps 2000 6000
    python benchmarks/toy_recipe.py run NAME --set '{"r1": 1.0}' --dataset grid  # a candidate
    python benchmarks/toy_recipe.py table          # the markdown table of benchmarks/toy_recipe.md

Protocol (VEEGAN, PacGAN): 2,500 samples from ``Trainer.sample`` (seed 123); a sample is high
quality within 3 std of its nearest mode centre; a mode is captured when it is the nearest centre
of at least one high-quality sample (``gannotes.metrics.mode_coverage``). Torch runs on one
thread; time is the process's CPU time of the training steps (the machine is shared, so
wall-clock is not a usable clock), and quality is recorded at fixed step counts, which is
deterministic. Results are appended, one JSON object a line, to results/toy_recipe.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gannotes.metrics import mode_coverage  # noqa: E402
from gannotes.training import TrainConfig, Trainer, default_config  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "toy_recipe.jsonl"

# name -> function of dataset giving the TrainConfig keyword arguments (seed added later)
RECIPES = {
    # Goodfellow et al. 2014 style: the plain MLP GAN, every trick off (TrainConfig defaults:
    # Adam 2e-4, betas (0.5, 0.999), batch 64, k = 1, non-saturating G loss).
    "plain": lambda ds: dict(model="mlp", dataset=ds),
    # the course's toy recipe: whatever default_config("mlp", ds) is now
    "default": lambda ds: "default",
}


def extra_recipes() -> None:
    """Candidates tried while choosing the default (kept so the table can be reproduced)."""
    d = dict
    RECIPES.update(
        {
            "b256_lr1e-3": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3),
            # the default with PacGAN packing on top (what `train ... --pack 4` runs)
            "default_pack4": lambda ds: "default_pack4",
            # the default without the minibatch std (faster, fewer modes)
            "h128_lr2e-3_lin": lambda ds: d(
                batch_size=256, lr_g=2e-3, lr_d=2e-3, lr_decay="linear", model_config=d(hidden=128)
            ),
            "pack4": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3, pack=4),
            "pack4_ema": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3, pack=4, ema=0.999),
            "pack4_lr5e-4_ema": lambda ds: d(
                batch_size=256, lr_g=5e-4, lr_d=5e-4, pack=4, ema=0.999
            ),
            "pack4_mbstd_ema": lambda ds: d(
                batch_size=256, lr_g=1e-3, lr_d=1e-3, pack=4, ema=0.999, minibatch_std=True
            ),
            "pack2_ema": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3, pack=2, ema=0.999),
            "b256_lr1e-3_ema": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3, ema=0.999),
            "b256_lr5e-4_ema": lambda ds: d(batch_size=256, lr_g=5e-4, lr_d=5e-4, ema=0.999),
            "b256_lr2e-4_ema": lambda ds: d(batch_size=256, lr_g=2e-4, lr_d=2e-4, ema=0.999),
            "ttur_b256": lambda ds: d(batch_size=256, lr_g=2e-4, lr_d=1e-3),
            "ttur_b256_ema": lambda ds: d(batch_size=256, lr_g=2e-4, lr_d=1e-3, ema=0.999),
            "ttur_pack2_ema": lambda ds: d(batch_size=256, lr_g=2e-4, lr_d=1e-3, pack=2, ema=0.999),
            "b256_lr1e-3_ema99": lambda ds: d(batch_size=256, lr_g=1e-3, lr_d=1e-3, ema=0.99),
            "b64_lr5e-4_ema": lambda ds: d(batch_size=64, lr_g=5e-4, lr_d=5e-4, ema=0.999),
            "b128_lr5e-4_ema": lambda ds: d(batch_size=128, lr_g=5e-4, lr_d=5e-4, ema=0.999),
            "b256_lr1e-3_d512": lambda ds: d(
                batch_size=256, lr_g=1e-3, lr_d=1e-3, ema=0.999, model_config=d(hidden=512)
            ),
        }
    )


def config_for_recipe(
    name: str, dataset: str, seed: int, overrides: dict | None = None
) -> TrainConfig:
    if overrides is not None:  # a named candidate: the default with these knobs changed
        return default_config("mlp", dataset, seed=seed, **overrides)
    spec = RECIPES[name](dataset)
    if spec == "default":
        return default_config("mlp", dataset, seed=seed)
    if spec == "default_pack4":
        return default_config("mlp", dataset, seed=seed, pack=4)
    if "model" in spec:
        return TrainConfig(**spec, seed=seed)
    return TrainConfig(model="mlp", dataset=dataset, seed=seed, snapshot_every=10**6, **spec)


def measure(
    name: str, dataset: str, seed: int, steps: list[int], overrides: dict | None = None
) -> list[dict]:
    torch.set_num_threads(1)
    cfg = config_for_recipe(name, dataset, seed, overrides)
    trainer = Trainer(cfg, device="cpu")
    rows, cpu = [], 0.0
    for target in sorted(steps):
        t0 = time.process_time()
        trainer.run(steps=target, progress=False)
        cpu += time.process_time() - t0
        mc = mode_coverage(trainer.sample(2500, seed=123), dataset)
        row = dict(
            recipe=name,
            dataset=dataset,
            seed=seed,
            steps=target,
            modes=mc.modes,
            high_quality=round(mc.high_quality, 4),
            cpu_s=round(cpu, 1),
            config={k: v for k, v in vars(cfg).items() if k != "model_config"}
            | {"model_config": cfg.model_config},
        )
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return rows


def table() -> str:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["recipe"], r["dataset"], r["steps"]), []).append(r)
    lines = [
        "| recipe | dataset | steps | seeds | modes (mean) | high quality (mean) | CPU s (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (recipe, ds, steps), rs in sorted(groups.items()):
        by_seed = {r["seed"]: r for r in rs}  # the latest measurement of each seed
        rs = list(by_seed.values())
        lines.append(
            f"| {recipe} | {ds} | {steps} | {len(rs)} | "
            f"{statistics.mean(r['modes'] for r in rs):.2f} "
            f"({', '.join(str(r['modes']) for r in rs)}) | "
            f"{statistics.mean(r['high_quality'] for r in rs):.3f} | "
            f"{statistics.mean(r['cpu_s'] for r in rs):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    extra_recipes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument(
        "recipes", nargs="+", help=f"{', '.join(sorted(RECIPES))}, or a new name with --set"
    )
    run.add_argument(
        "--set",
        type=json.loads,
        default=None,
        metavar="JSON",
        help="the default recipe with these knobs changed, e.g. '{\"r1\": 1.0}' (one NAME)",
    )
    run.add_argument("--dataset", default="grid", choices=("grid", "ring"))
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    run.add_argument("--steps", type=int, nargs="+", default=[2000, 4000, 6000])
    sub.add_parser("table")
    args = parser.parse_args()
    if args.cmd == "run" and args.set is None:
        unknown = [n for n in args.recipes if n not in RECIPES]
        if unknown:
            parser.error(f"unknown recipe {unknown[0]!r} (a new name needs --set)")
    if args.cmd == "table":
        print(table())
        return
    for name in args.recipes:
        for seed in args.seeds:
            measure(name, args.dataset, seed, args.steps, args.set)


if __name__ == "__main__":
    main()
