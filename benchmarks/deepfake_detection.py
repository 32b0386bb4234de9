"""Notebook 09's detector: can the course's fakes be spotted, and does the detector generalise?
After Wang et al. 2020, "CNN-generated images are surprisingly easy to spot... for now".

    python benchmarks/deepfake_detection.py [--epochs 6] [--n-train 10000] [--n-test 2000]

* Two detectors (``gannotes.detection.train_detector``, seed 0), each trained on ``--n-train``
  real training images (a seeded random draw from the 60,000) against as many DCGAN samples
  (``data/checkpoints/dcgan.pt``, seed 1): "plain", and "augmented" with Wang et al.'s Blur+JPEG
  (p = 0.5) augmentation.
* Tested on ``--n-test`` real *test* images (a seeded draw from the 10,000) against as many
  held-out samples (seed 2) of each generator: the DCGAN (in distribution), the conditional GAN
  (``cgan_projection.pt``), StyleGAN (``stylegan.pt``, psi = 1) and a WGAN-GP (``--wgan-gp``:
  ``train dcgan --dataset fashion-mnist --loss wasserstein --gp 10 --steps 1500``, the course's
  recipe); and on the DCGAN's and the real test images after a 3x3 box blur, Gaussian noise of
  std 0.05, 8-bit quantisation and JPEG at quality 75 (both kinds degraded alike).
* Per row: accuracy at the 0.5 threshold, average precision, each kind's accuracy, and the
  accuracy of the best threshold for those images (what recalibration could win back).

One thread; numbers to benchmarks/results/detection.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from gannotes import detection as det  # noqa: E402
from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import load_fashion_mnist  # noqa: E402
from gannotes.evaluation import box_blur  # noqa: E402
from gannotes.training import load_family  # noqa: E402

CHECKPOINTS = ROOT.parent / "data" / "checkpoints"
RESULT = ROOT / "results" / "detection.json"
WGAN_RUN = ROOT / ".runs" / "ethics_wgan_gp"
WGAN_COMMAND = (
    "python -m gannotes train dcgan --dataset fashion-mnist --loss wasserstein --gp 10 "
    "--steps 1500 --seed 0 --out benchmarks/.runs/ethics_wgan_gp"
)
DEGRADATIONS = {
    "dcgan_blur": ("3x3 box blur (gannotes.evaluation.box_blur)", lambda x: box_blur(x, 3)),
    "dcgan_noise": ("Gaussian noise, std 0.05, clamped", lambda x: det.add_noise(x, 0.05, 7)),
    "dcgan_8bit": ("8-bit quantisation", det.quantise_8bit),
    "dcgan_jpeg": ("JPEG, quality 75 (PIL)", lambda x: det.jpeg(x, 75)),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generators(wgan: Path) -> dict[str, tuple[str, Path]]:
    """name -> (how it was made, checkpoint)."""
    return {
        "dcgan": ("data/checkpoints/dcgan.pt (the detector's training generator)", CHECKPOINTS / "dcgan.pt"),
        "cgan_projection": ("data/checkpoints/cgan_projection.pt, every class equally", CHECKPOINTS / "cgan_projection.pt"),
        "stylegan": ("data/checkpoints/stylegan.pt, psi = 1", CHECKPOINTS / "stylegan.pt"),
        "wgan_gp": (f"`{WGAN_COMMAND}`", wgan),
    }  # fmt: skip


def draw(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


def report(model, real, fake) -> dict:
    r = dataclasses.asdict(det.detection_report(model, real, fake))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--wgan-gp", type=Path, default=WGAN_RUN, help="WGAN-GP run or checkpoint")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    gens = generators(args.wgan_gp)
    families = {name: load_family(path) for name, (_, path) in gens.items()}

    real_train = draw(load_fashion_mnist("train").images, args.n_train, seed=0)
    fake_train = families["dcgan"].sample(args.n_train, seed=1)
    real_test = draw(load_fashion_mnist("test").images, args.n_test, seed=0)
    fakes = {name: fam.sample(args.n_test, seed=2) for name, fam in families.items()}

    result = {
        "command": f"python benchmarks/deepfake_detection.py --epochs {args.epochs} "
        f"--n-train {args.n_train} --n-test {args.n_test}",
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores, 1 thread",
        "train": f"{args.n_train} real training images (seed 0) vs {args.n_train} DCGAN "
        f"samples (seed 1); Detector (gannotes.detection), {args.epochs} epochs, batch 64, "
        "Adam 2e-3 with cosine decay, seed 0",
        "test": f"{args.n_test} real test images (seed 0) vs {args.n_test} samples (seed 2) "
        "of each generator; degradations applied to both",
        "generators": {
            name: {
                "what": what,
                "sha256": sha256(path if path.is_file() else path / "checkpoint.pt"),
            }
            for name, (what, path) in gens.items()
        },  # fmt: skip
        "degradations": {name: what for name, (what, _) in DEGRADATIONS.items()},
        "detectors": {},
    }
    for name, augment in (("plain", False), ("augmented", True)):
        start = time.process_time()
        model = det.train_detector(
            real_train, fake_train, epochs=args.epochs, seed=0, augment=augment
        )
        seconds = time.process_time() - start
        rows = {g: report(model, real_test, fake) for g, fake in fakes.items()}
        for row, (_, degrade) in DEGRADATIONS.items():
            rows[row] = report(model, degrade(real_test), degrade(fakes["dcgan"]))
        result["detectors"][name] = {
            "augment": "Wang et al. Blur+JPEG (p = 0.5)" if augment else "none",
            "train_cpu_seconds": round(seconds, 1),
            "rows": rows,
        }
        for row, r in rows.items():
            print(f"{name:9s} {row:16s} acc {r['accuracy']:.3f}  AP {r['average_precision']:.3f}"
                  f"  real {r['real_accuracy']:.3f}  fake {r['fake_accuracy']:.3f}"
                  f"  best {r['best_accuracy']:.3f}", flush=True)  # fmt: skip
    result["seconds"] = round(time.time() - t0)
    write_json(RESULT, result)


if __name__ == "__main__":
    main()
