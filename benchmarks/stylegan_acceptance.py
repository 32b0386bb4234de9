"""Issue 11's acceptance, measured through the command line as a user runs it, scored by the
independent classifier of benchmarks/classifier.py (it shares nothing with the course's).

    python benchmarks/stylegan_acceptance.py [--minutes 10] [--jobs 2] [--extra NAME=FLAGS ...]

* ``train stylegan --dataset fashion-mnist --minutes M`` and ``train dcgan ... --minutes M``
  side by side on the same machine; ``sample --n 5000`` of each (StyleGAN at psi = 1): the
  classifier's class histogram and the Fréchet distance in its features against the 10,000
  test images.
* ``sample --truncation PSI`` at psi = 1, 0.7, 0.5: precision, recall (k = 3), density and
  coverage (k = 5) in the classifier's features against the test images.
* ``mix --crossover coarse --n 200`` and ``mix --crossover all`` (the coarse seed's own image),
  and every other crossover: how often the mixed image keeps the coarse seed's class.
* ``--extra NAME=FLAGS``: further StyleGAN runs with other flags (what was tried for the recipe),
  scored the same way at psi = 1.

Trainings run ``--jobs`` at a time (with 2, one thread each: both get one core, side by side).
Runs go to benchmarks/.runs/ (reused when present: delete one to retrain it); numbers to
benchmarks/results/stylegan.json.
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
from gannotes.data import load_fashion_mnist  # noqa: E402
from gannotes.metrics import density_coverage, precision_recall  # noqa: E402

RUNS = ROOT / ".runs"
RESULT = ROOT / "results" / "stylegan.json"
PSIS = (1.0, 0.7, 0.5)
SEEDS = (0, 100_000)  # coarse and fine seeds of the mixes


def cli(*args: str, threads: int | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "gannotes", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    return subprocess.Popen(cmd, cwd=ROOT.parent, env=env)


def run(*args: str) -> None:
    if cli(*args).wait() != 0:
        raise SystemExit(f"failed: {' '.join(args)}")


def train_all(jobs: dict[str, list[str]], minutes: float, parallel: int) -> dict[str, Path]:
    """Train each named job (CLI args after ``train``) unless its run exists, ``parallel`` at
    a time (one thread each when more than one)."""
    outs = {name: RUNS / f"{name}_{minutes:g}min" for name in jobs}
    todo = [n for n in jobs if not (outs[n] / "checkpoint.pt").exists()]
    threads = 1 if parallel > 1 else None
    while todo:
        batch, todo = todo[:parallel], todo[parallel:]
        procs = [
            cli(
                "train",
                *jobs[n],
                "--out",
                str(outs[n]),
                "--minutes",
                f"{minutes:g}",
                "--quiet",
                threads=threads,
            )
            for n in batch
        ]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit("a training failed")
    return outs


def load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.load(path))


def steps(out: Path) -> int:
    return json.loads((out / "history.json").read_text())["step"][-1]


def fidelity_diversity(feats: torch.Tensor, real: torch.Tensor) -> dict:
    pr = precision_recall(real, feats, k=3)
    dc = density_coverage(real, feats, k=5)
    return {
        "precision": round(pr.precision, 4),
        "recall": round(pr.recall, 4),
        "density": round(dc.density, 4),
        "coverage": round(dc.coverage, 4),
    }


def score_samples(path: Path, real_feats: torch.Tensor) -> dict:
    x = load(path)
    feats, probs = classifier.features_and_probs(x)
    hist = torch.bincount(probs.argmax(1), minlength=10).tolist()
    return {
        "fid_5000": classifier.score(x)["fid"],
        "class_hist": hist,
        "classes_present": sum(h > 0 for h in hist),
        "smallest_class_share": round(min(hist) / len(x), 4),
        **fidelity_diversity(feats, real_feats),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    ap.add_argument("--extra", nargs="*", default=[], metavar="NAME=FLAGS")
    args = ap.parse_args()
    RUNS.mkdir(exist_ok=True)
    t0 = time.time()
    real_feats, _ = classifier.features_and_probs(load_fashion_mnist("test").images)
    result = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    result.update(
        command=f"python benchmarks/stylegan_acceptance.py --minutes {args.minutes:g} "
        f"--jobs {args.jobs}" + (f" --extra {' '.join(args.extra)}" if args.extra else ""),
        machine=f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores",
        minutes=args.minutes,
        jobs=args.jobs,
    )
    data = ["--dataset", "fashion-mnist"]
    jobs = {"stylegan": ["stylegan", *data], "dcgan": ["dcgan", *data]}
    for spec in args.extra:
        name, _, flags = spec.partition("=")
        jobs[f"stylegan_{name}"] = ["stylegan", *data, *flags.split()]
    outs = train_all(jobs, args.minutes, args.jobs)

    for name, out in outs.items():
        psis = PSIS if name == "stylegan" else (1.0,)
        entry = {"steps": steps(out), "flags": " ".join(jobs[name][3:])}
        for psi in psis:
            path = out / f"samples_psi{psi:g}.npy"
            extra = ["--truncation", f"{psi:g}"] if name.startswith("stylegan") else []
            run("sample", str(out), "--n", "5000", "--out", str(path), *extra)
            entry[f"psi_{psi:g}" if name == "stylegan" else "samples"] = score_samples(
                path, real_feats
            )
        result[name] = entry
        print(name, json.dumps(entry), flush=True)

    # style mixing: does the coarse seed's class survive each crossover?
    out = outs["stylegan"]
    mixing = {}
    own = out / "mix_all.npy"
    for k in ("all", "coarse", "middle", "none", "1", "3", "5"):
        path = out / f"mix_{k}.npy"
        run("mix", str(out), "--coarse-seed", str(SEEDS[0]), "--fine-seed", str(SEEDS[1]),
            "--crossover", k, "--n", "200", "--out", str(path))  # fmt: skip
        mixing[k] = path
    own_class = classifier.features_and_probs(load(own))[1].argmax(1)
    fine_own = classifier.features_and_probs(load(mixing["none"]))[1].argmax(1)
    result["mixing"] = {
        k: {
            "keeps_coarse_class": round(
                float(
                    (classifier.features_and_probs(load(p))[1].argmax(1) == own_class)
                    .float()
                    .mean()
                ),
                4,
            ),
            "keeps_fine_class": round(
                float(
                    (classifier.features_and_probs(load(p))[1].argmax(1) == fine_own).float().mean()
                ),
                4,
            ),
        }  # fmt: skip
        for k, p in mixing.items()
    }
    result["seconds"] = round(time.time() - t0)
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
