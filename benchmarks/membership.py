"""Notebook 09's privacy table: membership inference and memorisation, overfit GAN against full-data.

    python benchmarks/membership.py [--reuse] [--smoke]

Four DCGANs, trained through the command line as a user trains them, the course recipe, seed 0,
one thread each, one at a time:

* ``overfit``: the first 256 training images (``--data-limit 256``) for STEPS steps, about
  370 passes over them: the GAN the attacks should catch;
* ``full``: all 60,000 training images for the same STEPS steps (fewer than 2 passes): same
  steps, same seed, only ``--data-limit`` differs;
* two mitigations of the overfit one: DiffAugment on D's inputs (``--augment``), and early
  stopping (the overfit run's first 1,000 steps, trained again: runs are deterministic).

Each is attacked (gannotes.privacy.membership_inference) on 256 members, the images it trained
on (for ``full``, 256 drawn at random from its 60,000), against 256 non-members, the first
held-out test images: LOGAN's white-box score (D's logit) and GAN-Leaks' black-box one (the
distance to the nearest of 10,000 samples); ROC AUC and the TPR at 10% FPR. The memorisation
audit (gannotes.privacy.memorisation_audit) checks 2,000 samples against the training set with
the first 1,000 test images as the yardstick. The shipped course DCGAN (data/checkpoints/
dcgan.pt, 3 minutes on the full set) is measured too, without training. Runs go to
benchmarks/.runs/membership_* (``--reuse`` keeps finished ones); numbers to
benchmarks/results/membership.json; the overfit and augmented GANs are exported to
data/checkpoints/dcgan_overfit*.pt (notebook 09 loads them) and their sha256 printed.
``--smoke`` trains a few steps into a temporary folder and writes nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO))

from gannotes.bench import machine  # noqa: E402
from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.data import load_fashion_mnist  # noqa: E402
from gannotes.privacy import (  # noqa: E402
    ATTACKS,
    logan_scores,
    membership_inference,
    memorisation_audit,
    roc_auc,
)
from gannotes.training import load_family  # noqa: E402

RESULT = ROOT / "results" / "membership.json"
CHECKPOINTS = REPO / "data" / "checkpoints"
STEPS = 3000  # the overfit GAN's D leaks from ~1,500 steps on (LOGAN AUC 0.9), 0.98 at 3,000
N_MEMBERS = 256  # members = the overfit GAN's whole training set; non-members: as many test images
N_GENERATED = 10_000  # GAN-Leaks' samples
N_AUDIT, N_YARDSTICK, QUANTILE = 2000, 1000, 0.01
FPR = 0.1
SEED = 0
TARGETS = {"overfit_auc_min": 0.8, "full_auc_max": 0.6}
AUGMENT = "color,translation,cutout"
EARLY_STEPS = 1000


def specs_for(
    steps: int = STEPS, early_steps: int = EARLY_STEPS
) -> dict[str, tuple[list[str], str]]:
    """name -> (flags after ``train dcgan --dataset fashion-mnist --out RUN``, the file it is
    shipped as or "")."""
    limit = ["--data-limit", str(N_MEMBERS)]
    return {
        "overfit": (["--steps", str(steps), *limit], "dcgan_overfit.pt"),
        "full": (["--steps", str(steps)], ""),
        "overfit_augment": (
            ["--steps", str(steps), *limit, "--augment", AUGMENT],
            "dcgan_overfit_augment.pt",
        ),
        "overfit_early_stop": (["--steps", str(early_steps), *limit], ""),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(name: str, flags: list[str], runs: Path, reuse: bool, env: dict) -> tuple[Path, str]:
    out = runs / f"membership_{name}"
    shown = out.relative_to(REPO) if out.is_relative_to(REPO) else out
    cmd = ["train", "dcgan", "--dataset", "fashion-mnist", "--out", str(shown), *flags]
    command = "python -m gannotes " + " ".join([*cmd, "--seed", str(SEED), "--quiet"])
    if reuse and (out / "run.json").exists():
        return out, command
    subprocess.run(["rm", "-rf", str(out)], check=True)
    print("$", command, flush=True)
    subprocess.run(
        [sys.executable, "-m", "gannotes", *cmd, "--seed", str(SEED), "--quiet"],
        cwd=REPO,
        env=env,
        check=True,
    )
    return out, command


def members_of(family, train_images) -> tuple[np.ndarray, str]:
    """The indices of the images a GAN trained on that the attacks test, and how they were
    chosen: all of a limited set, else N_MEMBERS drawn at random from the full set."""
    limit = family.config.data_limit
    if limit is not None:
        assert limit == N_MEMBERS, limit
        return np.arange(limit), f"train[:{limit}]"
    pick = np.random.default_rng(SEED).choice(len(train_images), N_MEMBERS, replace=False)
    return pick, f"np.random.default_rng({SEED}).choice(60000, {N_MEMBERS}, replace=False)"


def measure(path: Path, train_images, test_images, n_generated: int) -> dict:
    family = load_family(path)
    pick, how = members_of(family, train_images)
    members, nonmembers = train_images[pick], test_images[:N_MEMBERS]
    attacks = membership_inference(
        family, members, nonmembers, n_generated=n_generated, seed=SEED, fpr=FPR
    )
    trained_on = train_images[: family.config.data_limit or len(train_images)]
    samples = family.sample(min(N_AUDIT, n_generated), seed=SEED)
    audit = memorisation_audit(samples, trained_on, test_images[:N_YARDSTICK], quantile=QUANTILE)
    return {
        "train_images": family.config.data_limit or len(train_images),
        "members": how,
        "attacks": {
            name: {"auc": round(r.auc, 4), "tpr_at_fpr": round(r.tpr, 4)}
            for name, r in attacks.items()
        },
        "best_auc": round(max(r.auc for r in attacks.values()), 4),
        "audit": {
            "samples": len(samples),
            "threshold": round(audit.threshold, 4),
            "fraction": round(audit.fraction, 4),
            "median_distance": round(float(np.median(audit.distances)), 4),
            "heldout_median_distance": round(float(np.median(audit.heldout_distances)), 4),
            "min_distance": round(float(audit.distances.min()), 4),
        },
    }


def logan_auc(path: Path, train_images, test_images) -> float:
    """The white-box AUC of a checkpoint alone (what tests/test_privacy.py re-measures)."""
    family = load_family(path)
    pick, _ = members_of(family, train_images)
    D = family.networks["D"]
    members, nonmembers = train_images[pick], test_images[:N_MEMBERS]
    return round(roc_auc(logan_scores(D, members), logan_scores(D, nonmembers)), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", action="store_true", help="keep runs that finished before")
    ap.add_argument("--smoke", action="store_true", help="a few steps in a temporary folder")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.time()
    runs, n_generated, result_path = ROOT / ".runs", N_GENERATED, RESULT
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="membership_smoke_"))
        runs, n_generated, result_path = tmp, 200, tmp / "membership.json"
    specs = specs_for(4, 2) if args.smoke else specs_for()
    train_images = load_fashion_mnist("train").images
    test_images = load_fashion_mnist("test").images
    assert len(train_images) == 60000, "the full training split is needed"
    result = {
        "command": "python benchmarks/membership.py" + (" --smoke" if args.smoke else ""),
        "machine": {**machine(), "threads_per_run": 1},
        "recipe": "the course DCGAN recipe (batch 32, Adam 5e-4), seed 0",
        "n_members": N_MEMBERS,
        "n_nonmembers": N_MEMBERS,
        "nonmembers": f"test[:{N_MEMBERS}]",
        "n_generated": n_generated,
        "fpr": FPR,
        "audit": f"{N_AUDIT} samples; yardstick test[:{N_YARDSTICK}], quantile {QUANTILE}",
        "targets": TARGETS,
        "gans": {},
    }
    exported = {}
    for name, (flags, shipped) in specs.items():
        out, command = train(name, flags, runs, args.reuse, env)
        session = json.loads((out / "run.json").read_text())["sessions"][-1]
        row = {
            "command": command,
            "steps": session["to_step"],
            "train_minutes": session["minutes"],
            **measure(out, train_images, test_images, n_generated),
        }
        if shipped and not args.smoke:
            path = CHECKPOINTS / shipped
            subprocess.run(
                [sys.executable, "-m", "gannotes", "export", str(out), "--out", str(path)],
                cwd=REPO,
                env=env,
                check=True,
            )
            row["checkpoint"] = str(path.relative_to(REPO))
            exported[shipped] = (sha256(path), path.stat().st_size, row["steps"])
            # the exported file is the one measured: its D gives the run's LOGAN AUC
            assert logan_auc(path, train_images, test_images) == row["attacks"]["logan"]["auc"]
        result["gans"][name] = row
        print(name, json.dumps(row), flush=True)
    course = CHECKPOINTS / "dcgan.pt"
    if course.exists() and not args.smoke:
        row = {"command": "data/checkpoints/dcgan.pt (the course DCGAN, 3 minutes)"}
        row["steps"] = int(torch.load(course, weights_only=True)["step"])
        row.update(measure(course, train_images, test_images, n_generated))
        result["gans"]["course_dcgan"] = row
        print("course_dcgan", json.dumps(row), flush=True)
    gans = result["gans"]
    result["passes"] = (
        gans["overfit"]["best_auc"] >= TARGETS["overfit_auc_min"]
        and gans["full"]["best_auc"] <= TARGETS["full_auc_max"]
    )
    result["seconds"] = round(time.time() - started)
    write_json(result_path, result)
    print(json.dumps({k: {a: v["attacks"][a]["auc"] for a in ATTACKS} for k, v in gans.items()}))
    print("passes:", result["passes"], "->", result_path)
    for name, (digest, size, steps) in exported.items():
        print(f"{name}: {steps:,} steps, {size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
