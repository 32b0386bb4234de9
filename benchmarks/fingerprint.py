"""Fingerprints learned through the data (Yu et al. 2021, "Artificial Fingerprinting for
Generative Models: Rooting Deepfake Attribution in Training Data").

Does a GAN trained on watermarked images produce watermarked samples? Every training image is
marked with one key (gannotes.watermark.embed, PSNR >= 36.5 dB), a DCGAN is trained on them with
the settings and step count of the shipped clean DCGAN (data/checkpoints/dcgan.pt: the course's
default recipe, 3,696 steps), and the detector looks for the key in 1,000 samples of each. Also
the detector on the mean of the samples, where a mark the generator learned as a constant offset
would add up while the images' content averages out.

    python benchmarks/fingerprint.py      # -> results/fingerprint.json, checkpoints/dcgan_fingerprinted.pt

About 4-6 minutes on one CPU thread. Yu et al. trained an encoder-decoder watermark and found the
fingerprint in the samples of ProGAN and StyleGAN2 after full training; whether a small DCGAN on
a CPU budget learns a +-0.03 sign pattern is the question measured here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gannotes import watermark as wm  # noqa: E402
from gannotes.bench import machine  # noqa: E402
from gannotes.checkpoint import export_weights, load_checkpoint, save_checkpoint  # noqa: E402
from gannotes.data import dataset_tensors  # noqa: E402
from gannotes.training import Trainer, default_config, load_family  # noqa: E402

KEY = "training-data-owner"
CLEAN = ROOT / "data/checkpoints/dcgan.pt"
OUT = ROOT / "data/checkpoints/dcgan_fingerprinted.pt"


def measure(family, n: int = 1000) -> dict:
    x = family.sample(n, seed=0)
    found = wm.detect(x, KEY)
    mean = wm.scores(x.mean(0, keepdim=True), KEY)
    return {
        "n": n,
        "detected": found.detected,
        "fraction": found.fraction,
        "median_score": float(found.scores.median()),
        "mean_score": float(found.scores.mean()),
        "score_of_the_mean_sample": float(mean[0]),
        "threshold": found.threshold,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="default: the clean DCGAN's")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fingerprint.json")
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args(argv)
    clean = load_family(CLEAN)
    steps = args.steps or int(load_checkpoint(CLEAN)["step"])
    data, source = dataset_tensors("fashion-mnist", "train")
    data["images"] = wm.embed(data["images"], KEY)  # every training image carries the mark
    train_check = wm.detect(data["images"][:1000], KEY)
    with TemporaryDirectory() as tmp:
        trainer = Trainer(
            default_config("dcgan", "fashion-mnist", seed=0), Path(tmp) / "run", data=data
        )
        trainer.run(steps=steps, progress=False)
        trainer.save()
        state = export_weights(load_checkpoint(trainer.checkpoint_path))
    if not args.no_export:
        save_checkpoint(OUT, state)
    marked = load_family(OUT) if not args.no_export else trainer.family
    result = {
        "command": "python benchmarks/fingerprint.py",
        "key": KEY,
        "data": f"every image of {source}, marked with the key (strength {wm.STRENGTH})",
        "steps": steps,
        "minutes": round(trainer.elapsed / 60, 2),
        "training_images_detected": train_check.fraction,
        "trained_on_marked_data": measure(marked),
        "trained_on_clean_data": measure(clean),
        "checkpoint": str(OUT.relative_to(ROOT)),
        "sha256": hashlib.sha256(OUT.read_bytes()).hexdigest() if not args.no_export else None,
        "machine": machine(),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "steps",
                    "minutes",
                    "trained_on_marked_data",
                    "trained_on_clean_data",
                    "sha256",
                )
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
