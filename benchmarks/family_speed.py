"""Images per second of every GAN family's default recipe (one thread, training steps only).

    python benchmarks/family_speed.py [--steps 300] [--rounds 3]

For each model (mlp on the ring, dcgan, cgan with each discriminator, pix2pix and its L1-only
ablation) a fresh Trainer runs ``--steps`` steps, ``--rounds`` times, the models alternating;
the median of ``Trainer.history['images_per_s']`` over the rounds is reported (real images
consumed per second of training time: batch size x batches per step / step time). Results:
benchmarks/results/family_speed.json. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import dataset_tensors  # noqa: E402
from gannotes.training import Trainer, default_config  # noqa: E402

RECIPES = {
    "classic: mlp (ring)": ("mlp", "ring", {}),
    "classic: dcgan": ("dcgan", "fashion-mnist", {}),
    "classic: dcgan, WGAN-GP": ("dcgan", "fashion-mnist", {"loss": "wasserstein"}),
    "conditional: cgan, concat": ("cgan", "fashion-mnist", {"d_cond": "concat"}),
    "conditional: cgan, projection": ("cgan", "fashion-mnist", {"d_cond": "projection"}),
    "conditional: cgan, acgan": ("cgan", "fashion-mnist", {"d_cond": "acgan"}),
    "pix2pix: L1 + cGAN": ("pix2pix", "edges2fashion", {}),
    "pix2pix: L1 only": ("pix2pix", "edges2fashion", {"l1_only": True}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = {name: dataset_tensors(name)[0] for name in ("fashion-mnist", "edges2fashion")}
    rates: dict[str, list[float]] = {name: [] for name in RECIPES}
    for _ in range(args.rounds):
        for name, (model, dataset, overrides) in RECIPES.items():
            cfg = default_config(model, dataset, log_every=args.steps, **overrides)
            trainer = Trainer(cfg, device="cpu", data=data.get(dataset))
            trainer.run(steps=args.steps, progress=False)
            rates[name].append(trainer.history["images_per_s"][-1])
            print(name, round(rates[name][-1]), flush=True)
    result = {
        "command": f"python benchmarks/family_speed.py --steps {args.steps} --rounds {args.rounds}",
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread",
        "images_per_s": {name: round(statistics.median(r)) for name, r in rates.items()},
    }
    write_json(ROOT / "results" / "family_speed.json", result)
    for name, rate in result["images_per_s"].items():
        print(f"| {name} | {rate} |")


if __name__ == "__main__":
    main()
