"""Issue 9's acceptance, measured through the command line as a user runs it, scored by the
independent classifier of benchmarks/classifier.py (it shares nothing with the course's).

    python benchmarks/conditional_acceptance.py [--minutes 5] [--d-cond projection ...]

* cgan: ``train cgan --minutes M`` for each ``--d-cond``, then ``sample --label C --n 500`` for
  every class C: the share of samples the classifier puts in class C (label accuracy), beside
  the classifier's own accuracy on real test images of C; and the FID of 5,000 samples
  (classes in equal shares) against the 10,000 test images, beside the unconditional DCGAN's
  (``train dcgan --minutes M``).
* pix2pix: ``train pix2pix --dataset edges2fashion --minutes M`` with and without
  ``--l1-only``, then ``edges`` and ``translate`` on the 10,000 held-out test images: class
  agreement (classifier on the output vs. the original's label), pixel L1 to the original, FID.

Runs go to benchmarks/.runs/ (reused when present: delete one to retrain it); the numbers to
benchmarks/results/conditional_acceptance.json. Each training runs alone (one at a time).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import classifier  # noqa: E402

from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import load_fashion_mnist  # noqa: E402

RUNS = ROOT / ".runs"
RESULT = ROOT / "results" / "conditional_acceptance.json"


def cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "gannotes", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT.parent)


def train(name: str, *args: str, minutes: float) -> Path:
    out = RUNS / f"{name}_{minutes:g}min"
    if not (out / "checkpoint.pt").exists():
        cli("train", *args, "--out", str(out), "--minutes", f"{minutes:g}", "--quiet")
    return out


def load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.load(path))


def fid(images: torch.Tensor) -> float:
    return classifier.score(images)["fid"]


def score_cgan(run: Path, real_acc: np.ndarray) -> dict:
    acc = []
    for c in range(10):
        out = run / f"label{c}.npy"
        cli("sample", str(run), "--n", "500", "--label", str(c), "--out", str(out))
        _, probs = classifier.features_and_probs(load(out))
        acc.append(float((probs.argmax(1) == c).float().mean()))
    cli("sample", str(run), "--n", "5000", "--out", str(run / "all.npy"))
    acc = np.array(acc)
    return {
        "label_accuracy": [round(float(a), 4) for a in acc],
        "label_accuracy_mean": round(float(acc.mean()), 4),
        "relative_to_real": [round(float(a / r), 3) for a, r in zip(acc, real_acc, strict=True)],
        "worst_relative": round(float((acc / real_acc).min()), 3),
        "fid_5000": fid(load(run / "all.npy")),
        "steps": json.loads((run / "history.json").read_text())["step"][-1],
    }


def score_pix2pix(run: Path, test_images: Path, test_labels: np.ndarray) -> dict:
    edges = RUNS / "test_edges.npy"
    if not edges.exists():
        cli("edges", str(test_images), "--out", str(edges))
    out = run / "translated.npy"
    cli("translate", str(run), str(edges), "--out", str(out))
    y, x = load(out), load(test_images)
    _, probs = classifier.features_and_probs(y)
    return {
        "class_agreement": round(float((probs.argmax(1).numpy() == test_labels).mean()), 4),
        "pixel_l1": round(float((y - x).abs().mean()), 4),
        "fid": fid(y),
        "steps": json.loads((run / "history.json").read_text())["step"][-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--d-cond", nargs="+", default=["projection"])
    ap.add_argument("--skip", nargs="*", default=[], choices=["cgan", "dcgan", "pix2pix"])
    args = ap.parse_args()
    RUNS.mkdir(exist_ok=True)
    t0 = time.time()
    test = load_fashion_mnist("test")
    labels = test.labels.numpy()
    _, probs = classifier.features_and_probs(test.images)
    pred = probs.argmax(1).numpy()
    real_acc = np.array([(pred[labels == c] == c).mean() for c in range(10)])
    result = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    result.update(
        command=f"python benchmarks/conditional_acceptance.py --minutes {args.minutes:g} "
        f"--d-cond {' '.join(args.d_cond)}",
        machine=f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        minutes=args.minutes,
        classifier_real_accuracy=[round(float(a), 4) for a in real_acc],
    )
    if "cgan" not in args.skip:
        for d_cond in args.d_cond:
            run = train(
                f"cgan_{d_cond}",
                "cgan",
                "--dataset",
                "fashion-mnist",
                "--d-cond",
                d_cond,
                minutes=args.minutes,
            )
            result[f"cgan_{d_cond}"] = score_cgan(run, real_acc)
            print(d_cond, result[f"cgan_{d_cond}"], flush=True)
    if "dcgan" not in args.skip:
        run = train("dcgan", "dcgan", "--dataset", "fashion-mnist", minutes=args.minutes)
        cli("sample", str(run), "--n", "5000", "--out", str(run / "all.npy"))
        steps = json.loads((run / "history.json").read_text())["step"][-1]
        result["dcgan"] = {"fid_5000": fid(load(run / "all.npy")), "steps": steps}
        print("dcgan", result["dcgan"], flush=True)
    if "pix2pix" not in args.skip:
        test_images = RUNS / "test_images.npy"
        np.save(test_images, test.images.numpy())
        for name, extra in (("pix2pix", ()), ("pix2pix_l1_only", ("--l1-only",))):
            run = train(name, "pix2pix", "--dataset", "edges2fashion", *extra, minutes=args.minutes)
            result[name] = score_pix2pix(run, test_images, labels)
            print(name, result[name], flush=True)
    result["seconds"] = round(time.time() - t0)
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
