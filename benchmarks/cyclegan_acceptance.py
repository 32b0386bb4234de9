"""Issue 10's acceptance and the CycleGAN ablation, measured through the command line as a user
runs it, scored by the independent classifier of benchmarks/classifier.py.

    python benchmarks/cyclegan_acceptance.py [--minutes 10] [--ablation-minutes 5] [--jobs 2]

* edges2fashion: ``train cyclegan --dataset edges2fashion --minutes M``, then ``edges`` of the
  10,000 held-out test images and ``translate --direction a2b``: class agreement (classifier on
  the output vs. the true partner's label), pixel L1 to the partner, FID against the test
  images; then ``translate --direction b2a`` of the output: the reconstruction's pixel L1 to
  the edge map (pixels in [0, 1]).
* sneaker2boot: ``train cyclegan --dataset sneaker2boot --minutes M``; ``translate a2b`` of the
  1,000 held-out sneakers: the share classified Ankle boot (and ``b2a`` of the boots: the share
  classified Sneaker).
* The ablation of the paper's Table 4 on edges2fashion, each run ``--ablation-minutes`` long and
  without the identity loss (as the paper's Cityscapes ablation): cycle alone, GAN alone, GAN +
  forward cycle, GAN + backward cycle, GAN + both cycles; the recipe (with identity) beside it,
  and with transposed convolutions (the checkerboard score of its outputs); and pix2pix
  (paired, the upper bound) trained as long.

Trainings run ``--jobs`` at a time, one thread each (so a run gets fewer steps than it would
alone on two cores: the numbers are conservative). Runs go to benchmarks/.runs/ (reused when
present: delete one to retrain it); numbers to benchmarks/results/cyclegan.json.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT))

import classifier  # noqa: E402

from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import ANKLE_BOOT, SNEAKER, dataset_tensors  # noqa: E402
from gannotes.translation import checkerboard_score  # noqa: E402

RUNS = ROOT / ".runs"
RESULT = ROOT / "results" / "cyclegan.json"

# name -> flags of `train cyclegan --dataset edges2fashion` (the paper's Table 4 rows)
ABLATION = {
    "cycle_alone": ["--no-adversarial", "--lambda-identity", "0"],
    "gan_alone": ["--lambda-cycle", "0"],
    "gan_forward_cycle": ["--cycle", "forward", "--lambda-identity", "0"],
    "gan_backward_cycle": ["--cycle", "backward", "--lambda-identity", "0"],
    "cyclegan_no_identity": ["--lambda-identity", "0"],
    "cyclegan": [],
    "cyclegan_transposed": ["--upsample", "transposed"],
}


def cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "gannotes", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT.parent)


def train_all(jobs: list[tuple[Path, list[str]]], parallel: int) -> None:
    """Train the runs not yet on disk, ``parallel`` at a time, one thread each."""
    todo = [(out, args) for out, args in jobs if not (out / "checkpoint.pt").exists()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    running: list[subprocess.Popen] = []
    while todo or running:
        while todo and len(running) < parallel:
            out, args = todo.pop(0)
            cmd = [sys.executable, "-m", "gannotes", "train", *args, "--out", str(out), "--quiet"]
            print("$", " ".join(cmd[1:]), flush=True)
            running.append(subprocess.Popen(cmd, cwd=ROOT.parent, env=env))
        time.sleep(2)
        for p in [p for p in running if p.poll() is not None]:
            running.remove(p)
            if p.returncode:
                raise SystemExit(f"training failed: {p.args}")


def load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.load(path))


def steps(run: Path) -> int:
    return json.loads((run / "history.json").read_text())["step"][-1]


def classes(images: torch.Tensor) -> np.ndarray:
    return classifier.features_and_probs(images)[1].argmax(1).numpy()


def score_edges2fashion(run: Path, test_edges: Path, images: torch.Tensor, labels, back=True):
    out = run / "test_a2b.npy"
    cli("translate", str(run), str(test_edges), "--out", str(out), "--direction", "a2b")
    y = load(out)
    result = {
        "class_agreement": round(float((classes(y) == labels).mean()), 4),
        "pixel_l1": round(float((y - images).abs().mean() / 2), 4),
        "fid": classifier.score(y)["fid"],
        "checkerboard": round(checkerboard_score(y), 5),
        "steps": steps(run),
    }
    if back:
        rec = run / "test_a2b2a.npy"
        cli("translate", str(run), str(out), "--out", str(rec), "--direction", "b2a")
        result["reconstruction_l1"] = round(
            float((load(rec) - load(test_edges)).abs().mean() / 2), 4
        )
    return result


def score_sneaker2boot(run: Path, sneakers: Path, boots: Path) -> dict:
    cli("translate", str(run), str(sneakers), "--out", str(run / "boots.npy"), "--direction", "a2b")
    cli("translate", str(run), str(boots), "--out", str(run / "sneakers.npy"), "--direction", "b2a")
    x = load(sneakers)
    y = load(run / "boots.npy")
    return {
        "a2b_ankle_boot_share": round(float((classes(y) == ANKLE_BOOT).mean()), 4),
        "b2a_sneaker_share": round(
            float((classes(load(run / "sneakers.npy")) == SNEAKER).mean()), 4
        ),
        "input_output_pixel_l1": round(float((y - x).abs().mean() / 2), 4),
        "fid_vs_all_test": classifier.score(y)["fid"],
        "steps": steps(run),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--ablation-minutes", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip", nargs="*", default=[], choices=["acceptance", "ablation"])
    args = ap.parse_args()
    RUNS.mkdir(exist_ok=True)
    t0 = time.time()
    m, am = f"{args.minutes:g}", f"{args.ablation_minutes:g}"
    jobs = []
    if "acceptance" not in args.skip:
        for ds in ("edges2fashion", "sneaker2boot"):
            jobs.append(
                (RUNS / f"cyclegan_{ds}_{m}min_t1", ["cyclegan", "--dataset", ds, "--minutes", m])
            )
    if "ablation" not in args.skip:
        for name, flags in ABLATION.items():
            a = ["cyclegan", "--dataset", "edges2fashion", "--minutes", am, *flags]
            jobs.append((RUNS / f"ablation_{name}_{am}min_t1", a))
        jobs.append(
            (
                RUNS / f"pix2pix_{am}min_t1",
                ["pix2pix", "--dataset", "edges2fashion", "--minutes", am],
            )
        )
    train_all(jobs, args.jobs)

    test, _ = dataset_tensors("edges2fashion", "test")
    test_images, labels = test["images"], test["labels"].numpy()
    test_edges = RUNS / "test_edges.npy"
    if not test_edges.exists():
        np.save(RUNS / "test_images.npy", test_images.numpy())
        cli("edges", str(RUNS / "test_images.npy"), "--out", str(test_edges))
    result = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    result.update(
        command=f"python benchmarks/cyclegan_acceptance.py --minutes {m} --ablation-minutes {am} "
        f"--jobs {args.jobs}",
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}; trainings {args.jobs} at a time, 1 thread each",
        classifier_real_accuracy=round(float((classes(test_images) == labels).mean()), 4),
    )
    if "acceptance" not in args.skip:
        run = RUNS / f"cyclegan_edges2fashion_{m}min_t1"
        result["edges2fashion"] = {
            "minutes": args.minutes,
            **score_edges2fashion(run, test_edges, test_images, labels),
        }
        print("edges2fashion", result["edges2fashion"], flush=True)
        s2b, _ = dataset_tensors("sneaker2boot", "test")
        np.save(RUNS / "test_sneakers.npy", s2b["a"].numpy())
        np.save(RUNS / "test_boots.npy", s2b["b"].numpy())
        run = RUNS / f"cyclegan_sneaker2boot_{m}min_t1"
        result["sneaker2boot"] = {
            "minutes": args.minutes,
            **score_sneaker2boot(run, RUNS / "test_sneakers.npy", RUNS / "test_boots.npy"),
            "classifier_on_real_sneakers": round(float((classes(s2b["a"]) == SNEAKER).mean()), 4),
            "classifier_on_real_boots": round(float((classes(s2b["b"]) == ANKLE_BOOT).mean()), 4),
        }
        print("sneaker2boot", result["sneaker2boot"], flush=True)
    if "ablation" not in args.skip:
        table = {
            "minutes": args.ablation_minutes,
            "flags": {k: " ".join(v) for k, v in ABLATION.items()},
        }
        for name in ABLATION:
            table[name] = score_edges2fashion(
                RUNS / f"ablation_{name}_{am}min_t1", test_edges, test_images, labels
            )
            print(name, table[name], flush=True)
        table["pix2pix_paired"] = score_edges2fashion(
            RUNS / f"pix2pix_{am}min_t1", test_edges, test_images, labels, back=False
        )
        result["ablation"] = table
    result["seconds"] = round(time.time() - t0)
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
