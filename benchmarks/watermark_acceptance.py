"""The watermark's acceptance, through the command line, on the course's shipped generators.

For each generator: ``sample --n 1000 --watermark K`` and the same without the mark; every file
converted to 8 bits and back and given Gaussian noise of std 0.01 (what saving as PNG and a mild
edit do); then ``watermark detect`` with key K on the marked samples (should find >= 99%), and,
as false positives (should find <= 1%), on 1,000 held-out real test images, on the unmarked
samples, and on the marked samples with another key. Also what breaks the mark: a 3x3 blur and
a one-pixel shift.

    python benchmarks/watermark_acceptance.py     # -> benchmarks/results/watermark.json

About 30 s on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gannotes.bench import machine  # noqa: E402
from gannotes.data import load_fashion_mnist  # noqa: E402
from gannotes.evaluation import box_blur  # noqa: E402

GENERATORS = {
    "dcgan": "data/checkpoints/dcgan.pt",
    "cgan": "data/checkpoints/cgan_projection.pt",
    "stylegan": "data/checkpoints/stylegan.pt",
}
KEY, OTHER = "gannotes-course", "someone-else"


def cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gannotes", *args], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"gannotes {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def degrade(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """8-bit and back, then Gaussian noise of std 0.01 (images in [-1, 1])."""
    eight_bit = np.round((images + 1) * 127.5) / 127.5 - 1
    rng = np.random.default_rng(seed)
    return (eight_bit + 0.01 * rng.standard_normal(images.shape)).astype(np.float32)


def detect(path: Path, key: str) -> dict:
    return json.loads(cli("watermark", "detect", str(path), "--key", key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/watermark.json")
    args = parser.parse_args(argv)
    rows = {}
    with TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        real = load_fashion_mnist("test", subset=False).images[-args.n :]
        np.save(tmp / "real.npy", degrade(np.asarray(real, np.float32), seed=1))
        real_row = detect(tmp / "real.npy", KEY)
        for name, ckpt in GENERATORS.items():
            marked, plain = tmp / f"{name}_marked.npy", tmp / f"{name}_plain.npy"
            said = cli("sample", ckpt, "--n", str(args.n), "--out", str(marked), "--watermark", KEY)
            cli("sample", ckpt, "--n", str(args.n), "--out", str(plain))
            clean = np.load(marked)
            for path in (marked, plain):
                np.save(path, degrade(np.load(path)))
            blurred, shifted = tmp / "blur.npy", tmp / "shift.npy"
            np.save(blurred, box_blur(torch.from_numpy(clean), 3).numpy())
            np.save(shifted, np.roll(clean, 1, axis=3))
            rows[name] = {
                "checkpoint": ckpt,
                "sample_says": said,
                "marked": detect(marked, KEY),
                "unmarked": detect(plain, KEY),
                "other_key": detect(marked, OTHER),
                "blurred_3x3": detect(blurred, KEY),
                "shifted_1px": detect(shifted, KEY),
            }
            r = rows[name]
            print(
                f"{name:>9}: marked {r['marked']['fraction']:.3f}  unmarked "
                f"{r['unmarked']['fraction']:.3f}  other key {r['other_key']['fraction']:.3f}  "
                f"blur {r['blurred_3x3']['fraction']:.3f}  shift {r['shifted_1px']['fraction']:.3f}"
            )
    print(f"     real: {real_row['fraction']:.3f} of {real_row['n']} held-out images")
    result = {
        "command": "python benchmarks/watermark_acceptance.py",
        "key": KEY,
        "other_key": OTHER,
        "degradation": "8-bit quantisation, then Gaussian noise std 0.01 (images in [-1, 1])",
        "real_heldout": real_row,
        "generators": rows,
        "machine": machine(),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
