"""Screen StyleGAN recipes at a short CPU budget (issue 11), scored by the independent classifier.

    python benchmarks/stylegan_screen.py NAME MINUTES '{"lr_g": 4e-3, ...}' [MODEL]

Trains ``default_config(MODEL, "fashion-mnist", **overrides)`` (MODEL: stylegan, or dcgan for the
baseline) for MINUTES of training time on one thread, then scores 5,000 samples (at psi = 1, 0.7
and 0.5 for a StyleGAN): the Fréchet distance in the classifier's features against the 10,000
test images, and how many classes hold at least 2% of the samples. Appends one JSON line to
benchmarks/results/stylegan_screen.jsonl. Two screens ran at a time on the 2-core machine, so a
run got one core: compare rows with each other, not with runs alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import classifier  # noqa: E402

from gannotes.training import Trainer, default_config  # noqa: E402

RESULT = ROOT / "results" / "stylegan_screen.jsonl"


def main() -> None:
    name, minutes = sys.argv[1], float(sys.argv[2])
    overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    model = sys.argv[4] if len(sys.argv) > 4 else "stylegan"
    torch.set_num_threads(1)
    trainer = Trainer(default_config(model, "fashion-mnist", **overrides), device="cpu")
    trainer.run(minutes=minutes, progress=False)
    row = {
        "name": name,
        "model": model,
        "minutes": minutes,
        "steps": trainer.step,
        "over": overrides,
    }
    for psi in (1.0, 0.7, 0.5) if model == "stylegan" else (1.0,):
        if psi == 1.0:
            x = trainer.sample(5000, seed=0)
        else:
            x = trainer.family.sample(5000, seed=0, truncation=psi)
        s = classifier.score(x)
        row[f"psi{psi:g}"] = [s["fid"], s["classes_covered"]]
    print(json.dumps(row), flush=True)
    with RESULT.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
