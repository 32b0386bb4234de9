"""Notebook 03's recorded comparisons, at equal numbers of steps, scored like the acceptance.

    python benchmarks/conditional_ablation.py

Run after benchmarks/conditional_acceptance.py (it reuses its runs and reads their step
counts, so that every model of a comparison trains for as many steps as the acceptance run):

* the three discriminators of the conditional family (concat, projection, acgan), AC-GAN as in
  the paper (``--class-fakes``: D also learns the class of generated images) and AC-GAN with
  the double-softmax bug (``--class-loss double-softmax``), each for as many steps as the
  projection run of the acceptance;
* pix2pix's ablation (its Table 1): L1 only and L1 + cGAN come from the acceptance (5 minutes
  each); cGAN only (``--l1 0``) trains for as many steps as L1 + cGAN.

Then ``gannotes export`` writes the models notebook 03 loads to data/checkpoints/, and their
sha256 are printed for data/README.md. Results: benchmarks/results/conditional_ablation.json.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import classifier  # noqa: E402
import conditional_acceptance as acc  # noqa: E402

from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import load_fashion_mnist  # noqa: E402

RESULT = ROOT / "results" / "conditional_ablation.json"
SHIPPED = ROOT.parent / "data" / "checkpoints"


def steps_of(run: Path) -> int:
    return json.loads((run / "history.json").read_text())["step"][-1]


def train_steps(name: str, steps: int, *args: str) -> Path:
    out = acc.RUNS / f"{name}_{steps}steps"
    if not (out / "checkpoint.pt").exists():
        acc.cli("train", *args, "--out", str(out), "--steps", str(steps), "--quiet")
    return out


def main() -> None:
    minutes = 5
    test = load_fashion_mnist("test")
    labels = test.labels.numpy()
    _, probs = classifier.features_and_probs(test.images)
    pred = probs.argmax(1).numpy()
    real_acc = np.array([(pred[labels == c] == c).mean() for c in range(10)])
    accepted = json.loads(acc.RESULT.read_text())
    projection = acc.RUNS / f"cgan_projection_{minutes}min"
    n_proj = steps_of(projection)
    result: dict = {
        "command": "python benchmarks/conditional_ablation.py",
        "steps": {"cgan": n_proj},
        "cgan": {"projection": accepted["cgan_projection"]},
        "pix2pix": {},
    }
    cgan = ("cgan", "--dataset", "fashion-mnist")
    runs = {
        "concat": ("--d-cond", "concat"),
        "acgan": ("--d-cond", "acgan"),
        "acgan, as in the paper": ("--d-cond", "acgan", "--class-fakes"),
        "acgan, double softmax": ("--d-cond", "acgan", "--class-loss", "double-softmax"),
    }
    for name, args in runs.items():
        tag = name.replace(", ", "_").replace(" ", "_")
        run = train_steps(f"cgan_{tag}", n_proj, *cgan, *args)
        result["cgan"][name] = acc.score_cgan(run, real_acc)
        print(name, result["cgan"][name], flush=True)

    pix = acc.RUNS / f"pix2pix_{minutes}min"
    n_pix = steps_of(pix)
    result["steps"]["pix2pix"] = n_pix
    run = train_steps(
        "pix2pix_cgan_only", n_pix, "pix2pix", "--dataset", "edges2fashion", "--l1", "0"
    )
    test_images = acc.RUNS / "test_images.npy"
    if not test_images.exists():
        np.save(test_images, test.images.numpy())
    result["pix2pix"]["pix2pix_cgan_only"] = acc.score_pix2pix(run, test_images, labels)
    for name in ("pix2pix", "pix2pix_l1_only"):
        result["pix2pix"][name] = accepted[name]
    print(result["pix2pix"], flush=True)
    write_json(RESULT, result)

    SHIPPED.mkdir(exist_ok=True)
    for file, source in (
        ("cgan_projection.pt", projection),
        ("pix2pix.pt", pix),
        ("pix2pix_l1_only.pt", acc.RUNS / f"pix2pix_l1_only_{minutes}min"),
        ("pix2pix_cgan_only.pt", run),
    ):
        acc.cli("export", str(source), "--out", str(SHIPPED / file))
        digest = hashlib.sha256((SHIPPED / file).read_bytes()).hexdigest()
        print(f"| `{file}` | {source.name} | `{digest}` |")


if __name__ == "__main__":
    main()
