"""Notebook 09's bias measurements: a DCGAN trained on a skewed class mix, its class shares
against the data's, what z-truncation does to them, and rebalanced data as the mitigation.
After Maluleke et al. 2022, "Studying bias in GANs through the lens of race" (ECCV).

    python benchmarks/bias.py [--steps 2000] [--n 6000] [--samples 5000]

* The data: ``gannotes.fairness.skewed_subset`` of the 60,000 training images, ``--n`` images of
  Trouser 70% / Sneaker 20% / Bag 10% (seed 0); classes the course's classifier tells apart
  well, so that its shares can be trusted (its accuracy on the real test images of the three
  classes, and its shares of the skewed training set itself, are recorded as the error bar).
* "skewed": the course's DCGAN recipe (``default_config("dcgan", "fashion-mnist", seed=0)``)
  trained ``--steps`` steps on that set through ``gannotes.training.Trainer``; "rebalanced":
  the same on ``gannotes.fairness.rebalanced`` of it (Sneakers and Bags duplicated to the
  Trousers' count: a class-balanced sampler). Runs in benchmarks/.runs/ (reused when present),
  exported with ``python -m gannotes export`` to data/checkpoints/dcgan_skewed.pt and
  dcgan_rebalanced.pt.
* ``--samples`` samples of each at psi = none, 1.5, 1.0, 0.5, 0.25 (BigGAN's truncation: z
  resampled inside [-psi, psi]) and psi = 0.7, 0.5 of the scaling form (psi z); and the shipped
  StyleGAN (trained on all ten classes in equal shares) at w-truncation psi = 1, 0.7, 0.5.
  Shares by the course's classifier (``gannotes.fairness.class_shares``); "other" is the share
  put in none of the three classes.

One thread; numbers to benchmarks/results/bias.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from gannotes import fairness  # noqa: E402
from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import CLASSES, load_fashion_mnist  # noqa: E402
from gannotes.features import class_probabilities  # noqa: E402
from gannotes.training import Trainer, default_config, load_family  # noqa: E402

RUNS = ROOT / ".runs"
CHECKPOINTS = ROOT.parent / "data" / "checkpoints"
RESULT = ROOT / "results" / "bias.json"
MIX = {1: 0.7, 7: 0.2, 8: 0.1}  # Trouser, Sneaker, Bag
RESAMPLE_PSIS = (None, 1.5, 1.0, 0.5, 0.25)
SCALE_PSIS = (0.7, 0.5)
STYLEGAN_PSIS = (1.0, 0.7, 0.5)
CHECK = {"n": 500, "seed": 12345}  # re-measured by tests/test_fairness.py


def shares_row(shares: np.ndarray, data_shares: np.ndarray) -> dict:
    """The three classes' shares, the rest as "other", the majority's and the minority's
    amplification (share in the samples over share in the data)."""
    minority = min(MIX, key=MIX.get)
    return {
        "shares": {str(c): round(float(shares[c]), 4) for c in MIX},
        "other": round(float(1 - sum(shares[c] for c in MIX)), 4),
        "majority_amplification": round(fairness.amplification(shares, data_shares), 3),
        "minority_amplification": round(
            fairness.amplification(shares, data_shares, cls=minority), 3
        ),
    }


def train(name: str, images: torch.Tensor, steps: int) -> tuple[Path, int]:
    """Train the course's DCGAN on ``images`` (unless the run exists), export it; returns the
    exported file and the run's steps."""
    run_dir = RUNS / f"ethics_dcgan_{name}"
    if not (run_dir / "checkpoint.pt").exists():
        trainer = Trainer(
            default_config("dcgan", "fashion-mnist", seed=0), run_dir, device="cpu",
            data={"images": images},
        )  # fmt: skip
        start = time.process_time()
        trainer.run(steps=steps, progress=False)
        print(f"{name}: {steps} steps in {time.process_time() - start:.0f} CPU-s", flush=True)
    out = CHECKPOINTS / f"dcgan_{name}.pt"
    cmd = [sys.executable, "-m", "gannotes", "export", str(run_dir), "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT.parent)
    return out, int(torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--samples", type=int, default=5000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    RUNS.mkdir(exist_ok=True)
    t0 = time.time()
    full = load_fashion_mnist("train")
    x, y = fairness.skewed_subset(full.images, full.labels, MIX, args.n, seed=0)
    xb, yb = fairness.rebalanced(x, y, seed=0)
    data_shares = fairness.label_shares(y.numpy())

    test = load_fashion_mnist("test")
    keep = torch.isin(test.labels, torch.tensor(list(MIX)))
    predicted = class_probabilities(test.images[keep]).argmax(1)
    truth = test.labels[keep].numpy()
    result = {
        "command": f"python benchmarks/bias.py --steps {args.steps} --n {args.n} "
        f"--samples {args.samples}",
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores, 1 thread",
        "classes": {str(c): CLASSES[c] for c in MIX},
        "mix": {str(c): s for c, s in MIX.items()},
        "data_shares": {
            "labels": {str(c): round(float(data_shares[c]), 4) for c in MIX},
            "classifier": shares_row(fairness.class_shares(x), data_shares),
            "rebalanced_labels": {
                str(c): round(float(fairness.label_shares(yb.numpy())[c]), 4) for c in MIX
            },
            "n": len(y),
            "n_rebalanced": len(yb),
        },
        "classifier_accuracy_on_real": {
            "all": round(float((predicted == truth).mean()), 4),
            **{str(c): round(float((predicted[truth == c] == c).mean()), 4) for c in MIX},
            "n_test_images": int(keep.sum()),
        },
        "shares": {str(c): CLASSES[c] for c in MIX},
        "amplification": "a class's share in the samples over its share in the skewed data "
        "(labels), for both models; majority: Trouser, minority: Bag",
        "models": {},
    }

    for name, images in (("skewed", x), ("rebalanced", xb)):
        path, steps = train(name, images, args.steps)
        fam = load_family(path)
        entry = {
            "file": f"data/checkpoints/{path.name}",
            "steps": steps,
            "trained_on": f"{len(images)} images",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
            "truncation": {},
            "scale": {},
        }
        for psi in RESAMPLE_PSIS:
            samples = fairness.z_truncated_sample(fam, args.samples, psi, seed=0)
            row = shares_row(fairness.class_shares(samples), data_shares)
            entry["truncation"]["none" if psi is None else f"{psi:g}"] = row
            print(name, "resample", psi, json.dumps(row), flush=True)
        for psi in SCALE_PSIS:
            samples = fairness.z_truncated_sample(fam, args.samples, psi, seed=0, method="scale")
            entry["scale"][f"{psi:g}"] = shares_row(fairness.class_shares(samples), data_shares)
        result["models"][name] = entry
        if name == "skewed":
            check = fairness.z_truncated_sample(fam, CHECK["n"], None, seed=CHECK["seed"])
            shares = fairness.class_shares(check)
            result["check"] = {**CHECK, "shares": {str(c): round(float(shares[c]), 4) for c in MIX}}

    # the shipped StyleGAN, trained on all ten classes in equal shares: truncation's effect on
    # a balanced set (the smallest and largest class shares)
    style = load_family(CHECKPOINTS / "stylegan.pt")
    result["stylegan_balanced"] = {}
    for psi in STYLEGAN_PSIS:
        shares = fairness.class_shares(style.sample(args.samples, seed=0, truncation=psi))
        result["stylegan_balanced"][f"{psi:g}"] = {
            "shares": [round(float(s), 4) for s in shares],
            "largest": CLASSES[int(shares.argmax())],
            "smallest": CLASSES[int(shares.argmin())],
            "max_over_min": round(float(shares.max() / max(shares.min(), 1e-9)), 2),
        }
    result["seconds"] = round(time.time() - t0)
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
