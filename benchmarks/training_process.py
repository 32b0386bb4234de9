"""Notebook 02's comparisons at a full budget, over several seeds: the numbers its prose quotes.

    python benchmarks/training_process.py                      # everything, seeds 0 1 2
    python benchmarks/training_process.py --only tricks        # one section, merged into the file
    python benchmarks/training_process.py --smoke              # tiny budgets, writes nothing

The notebook runs each comparison once, at a small budget and (mostly) one seed, and says so.
This script runs the same comparisons, with the same package code (``gannotes.experiments.toy_run``,
``toy_trick_variants``, ``high_lr_variants``, ``late_swing``; ``gannotes.fairness.skewed_subset``,
``rebalanced`` and ``class_shares``; ``gannotes.evaluation.discriminator_accuracy``), at the
budgets below and on every seed (the config's seed: weights, noise, data order; for 6b also the
draw of the skewed subset):

* ``pretrain``: section 2, the MLP GAN on the ring with and without ``d_pretrain_steps`` (a
  quarter of the budget), modes of 8 and high-quality fraction;
* ``tricks``: section 4, each trick alone on the 5x5 grid, modes of 25 and high quality;
* ``high_lr``: section 6a, lr 1e-2 for both networks, + spectral norm, + TTUR, on the ring:
  the swing of D(x) over the second half of the run, and the modes;
* ``imbalance``: section 6b, the DCGAN on 1,000 Fashion-MNIST images (90% trousers, 5%
  sneakers, 5% bags), skewed against oversampled: the class shares of 500 samples;
* ``overfit``: section 6c, the DCGAN on 200 images, plain against DiffAugment: D's accuracy on
  its 200 training reals and on 200 held-out reals.

One process, torch on one thread (set ``OMP_NUM_THREADS=1`` on a shared machine). Each section
records its budget, its seeds, every seed's numbers and their mean, standard deviation (n - 1),
min and max, and is merged into ``benchmarks/results/training_process.json`` with the command
that produced it. ``tests/test_notebooks.py`` ties the notebook's prose to that file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO))

from gannotes.bench import machine  # noqa: E402
from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.config import trick_defaults  # noqa: E402
from gannotes.data import CLASSES, load_fashion_mnist  # noqa: E402
from gannotes.evaluation import discriminator_accuracy  # noqa: E402
from gannotes.experiments import (  # noqa: E402
    high_lr_variants,
    late_swing,
    toy_run,
    toy_trick_variants,
)
from gannotes.fairness import class_shares, rebalanced, skewed_subset  # noqa: E402
from gannotes.training import TrainConfig, Trainer, default_config  # noqa: E402

RESULT = ROOT / "results" / "training_process.json"
SECTIONS = ("pretrain", "tricks", "high_lr", "imbalance", "overfit")
PLAIN = trick_defaults(TrainConfig)
SKEW = {1: 0.9, 7: 0.05, 8: 0.05}  # notebook 02, 6b: trousers, sneakers, bags
SKEW_N = 1000
TINY = 200  # notebook 02, 6c


def summary(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation (n - 1; 0 for one value), min and max of per-seed values."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "mean": round(statistics.fmean(values), 4),
        "sd": round(sd, 4),
        "min": min(values),
        "max": max(values),
    }


def per_seed(rows: list[dict]) -> dict:
    """Per-seed rows -> {metric: [per seed]} plus {metric + "_summary": summary}."""
    out: dict = {}
    for key in rows[0]:
        values = [r[key] for r in rows]
        out[key] = values
        out[key + "_summary"] = summary(values)
    return out


def pretrain(seeds: list[int], steps: int) -> dict:
    pre = max(steps // 4, 1)
    variants = {}
    for p in (0, pre):
        rows = [toy_run("ring", steps, seed=s, d_pretrain_steps=p)[1] for s in seeds]
        variants[f"d_pretrain_steps={p}"] = per_seed(rows)
    return {"steps": steps, "d_pretrain_steps": pre, "variants": variants}


def tricks(seeds: list[int], steps: int) -> dict:
    variants = {}
    for name, extra in toy_trick_variants("grid", steps).items():
        rows = [toy_run("grid", steps, seed=s, **{**PLAIN, **extra})[1] for s in seeds]
        variants[name] = per_seed(rows)
        print(f"  {name:28s} modes {variants[name]['modes']}", flush=True)
    return {"steps": steps, "variants": variants}


def high_lr(seeds: list[int], steps: int, lr: float = 1e-2) -> dict:
    variants = {}
    for name, extra in high_lr_variants(lr).items():
        rows = []
        for s in seeds:
            trainer, r = toy_run("ring", steps, seed=s, **{**PLAIN, **extra})
            rows.append({**r, **late_swing(trainer.history)})
        variants[name] = per_seed(rows)
    return {"steps": steps, "lr": lr, "variants": variants}


def _dcgan(images: torch.Tensor, steps: int, seed: int, **knobs) -> Trainer:
    cfg = default_config("dcgan", "fashion-mnist", seed=seed, **knobs)
    trainer = Trainer(cfg, device="cpu", data=images)
    trainer.run(steps=steps, progress=False)
    return trainer


def imbalance(seeds: list[int], steps: int) -> dict:
    fm = load_fashion_mnist("train", limit=20000)
    variants: dict = {"skewed": [], "oversampled": []}
    for s in seeds:
        x, y = skewed_subset(fm.images, fm.labels, SKEW, SKEW_N, seed=s)
        for name, data in (("skewed", x), ("oversampled", rebalanced(x, y, seed=s)[0])):
            shares = class_shares(_dcgan(data, steps, s).sample(500, seed=s))
            variants[name].append({CLASSES[c]: round(float(shares[c]), 3) for c in SKEW})
    return {
        "steps": steps,
        "data_shares": {CLASSES[c]: share for c, share in SKEW.items()},
        "variants": {k: per_seed(v) for k, v in variants.items()},
    }


def overfit(seeds: list[int], steps: int) -> dict:
    tiny = load_fashion_mnist("train", limit=20000).images[:TINY]
    held_out = load_fashion_mnist("test", subset=True).images[:TINY]
    variants = {}
    for name, aug in (("plain", ""), ("augment translation,cutout", "translation,cutout")):
        rows = []
        for s in seeds:
            trainer = _dcgan(tiny, steps, s, augment=aug)
            acc_train = round(discriminator_accuracy(trainer.D, tiny), 3)
            acc_held = round(discriminator_accuracy(trainer.D, held_out), 3)
            rows.append(
                {
                    "d_acc_train": acc_train,
                    "d_acc_held_out": acc_held,
                    "gap": round(acc_train - acc_held, 3),
                }
            )
        variants[name] = per_seed(rows)
    return {"steps": steps, "images": TINY, "variants": variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--toy-steps", type=int, default=2000)
    parser.add_argument("--pitfall-steps", type=int, default=1000, help="6b; 6c runs twice as many")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets, write nothing")
    args = parser.parse_args()
    if args.smoke:
        args.toy_steps, args.pitfall_steps, args.seeds = 20, 4, [0]
    torch.set_num_threads(1)
    toy, pit = args.toy_steps, args.pitfall_steps
    runs = {
        "pretrain": lambda: pretrain(args.seeds, toy),
        "tricks": lambda: tricks(args.seeds, toy),
        "high_lr": lambda: high_lr(args.seeds, toy),
        "imbalance": lambda: imbalance(args.seeds, pit),
        "overfit": lambda: overfit(args.seeds, 2 * pit),
    }
    record = {} if args.smoke or not RESULT.exists() else json.loads(RESULT.read_text())
    record.setdefault("sections", {})
    for name in args.only:
        t0 = time.process_time()
        print(f"{name} ...", flush=True)
        section = runs[name]()
        section["seeds"] = args.seeds
        section["cpu_seconds"] = round(time.process_time() - t0, 1)
        section["command"] = " ".join(["python benchmarks/training_process.py", *sys.argv[1:]])
        record["sections"][name] = section
        print(f"{name}: {section['cpu_seconds']} CPU-s", flush=True)
        if not args.smoke:  # after each section, so an interrupted run keeps what it finished
            record["command"] = "python benchmarks/training_process.py"
            record["machine"] = machine()
            write_json(RESULT, record)
    if not args.smoke:
        print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
