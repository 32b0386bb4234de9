"""WGAN-GP on the DCGAN at a CPU budget: which settings reach the best samples in 3 minutes.

    .venv/bin/python benchmarks/wgan_recipe.py screen [--minutes 3] [--only NAME ...]
    .venv/bin/python benchmarks/wgan_recipe.py cli [--seeds 0 1 2]

``screen`` trains each candidate below for ``--minutes`` of training time on one thread, two
candidates at a time (one per core, so both see the same machine), and scores 5,000 eval-mode
samples with the independent classifier (benchmarks/classifier.py): Frechet distance in its
features against the 10,000 real test images, and the classes holding >= 2% of the samples.
The logistic DCGAN recipe runs beside the candidates as the yardstick. One JSON line per run
is appended to results/wgan_screen.jsonl.

``cli`` runs the acceptance commands exactly as typed, one at a time (both cores each):
``train dcgan --dataset fashion-mnist --minutes 3`` with and without ``--loss wasserstein
--gp 10``, then ``sample --n 5000`` and the same scoring; rows go to results/wgan_cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

GP = dict(loss="wasserstein", gp=10.0)
CANDIDATES = {
    "logistic (course recipe)": {},
    "paper: k5 lr1e-4 b(.5,.9) batch64": dict(GP, d_steps=5, lr_g=1e-4, lr_d=1e-4, batch_size=64),
    "k5 lr5e-4": dict(GP, d_steps=5, lr_g=5e-4, lr_d=5e-4),
    "k2 lr5e-4": dict(GP, d_steps=2, lr_g=5e-4, lr_d=5e-4),
    "k1 lr5e-4": dict(GP, d_steps=1, lr_g=5e-4, lr_d=5e-4),
    "k1 ttur g2e-4 d1e-3": dict(GP, d_steps=1, lr_g=2e-4, lr_d=1e-3),
    "k2 lr5e-4 b(0,.9)": dict(GP, d_steps=2, lr_g=5e-4, lr_d=5e-4, betas=(0.0, 0.9)),
    "k2 lr1e-3 b(0,.9)": dict(GP, d_steps=2, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9)),
    "k2 lr5e-4 no norm": dict(
        GP, d_steps=2, lr_g=5e-4, lr_d=5e-4, model_config=dict(d_norm="none")
    ),
    # second round, around the best of the first (k2, lr 1e-3, betas (0, 0.9))
    "k2 lr2e-3 b(0,.9)": dict(GP, d_steps=2, lr_g=2e-3, lr_d=2e-3, betas=(0.0, 0.9)),
    "k1 lr1e-3 b(0,.9)": dict(GP, d_steps=1, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9)),
    "k3 lr1e-3 b(0,.9)": dict(GP, d_steps=3, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9)),
    "k2 lr1e-3 b(.5,.9)": dict(GP, d_steps=2, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9)),
    "k2 lr1e-3 b(0,.9) no norm": dict(
        GP, d_steps=2, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9), model_config=dict(d_norm="none")
    ),
    "k2 lr1e-3 b(0,.9) batch64": dict(
        GP, d_steps=2, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9), batch_size=64
    ),
    # third round, around the best of the second (k1, lr 1e-3, betas (0, 0.9))
    "k1 lr2e-3 b(0,.9)": dict(GP, d_steps=1, lr_g=2e-3, lr_d=2e-3, betas=(0.0, 0.9)),
    "k1 lr5e-4 b(0,.9)": dict(GP, d_steps=1, lr_g=5e-4, lr_d=5e-4, betas=(0.0, 0.9)),
    "k1 lr1e-3 b(0,.99)": dict(GP, d_steps=1, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99)),
    "k1 lr1e-3 b(0,.9) batch64": dict(
        GP, d_steps=1, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.9), batch_size=64
    ),
}


def train_and_score(name: str, overrides: dict, minutes: float, seed: int) -> dict:
    """In this process (one thread): train, sample 5,000, score with the classifier."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import classifier

    from gannotes.training import Trainer, default_config, generate

    cfg = default_config("dcgan", "fashion-mnist", seed=seed, **overrides)
    trainer = Trainer(cfg, device="cpu")
    trainer.run(minutes=minutes, progress=False)
    score = classifier.score(generate(trainer.sampling_generator, 5000, seed=0))
    return {
        "name": name,
        "seed": seed,
        "minutes": minutes,
        "steps": trainer.step,
        "fid": score["fid"],
        "classes_covered": score["classes_covered"],
        "class_hist": score["class_hist"],
        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
    }


def _child(name: str, minutes: float, seed: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "child", name, str(minutes), str(seed)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def screen(names: list[str], minutes: float, seed: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for row in pool.map(lambda n: _child(n, minutes, seed), names):
            row["load_avg"] = round(os.getloadavg()[0], 2)
            print(json.dumps(row), flush=True)
            with open(RESULTS / "wgan_screen.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


def cli(seeds: list[int]) -> None:
    """The acceptance commands as typed, one at a time (the CLI uses both cores)."""
    sys.path.insert(0, str(HERE))
    import classifier
    import numpy as np
    import torch

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT)
    rows = []
    for seed in seeds:
        for flags in ([], ["--loss", "wasserstein", "--gp", "10"]):
            with tempfile.TemporaryDirectory() as tmp:
                run = Path(tmp) / "run"
                t0 = time.perf_counter()
                train = [
                    sys.executable,
                    "-m",
                    "gannotes",
                    "train",
                    "dcgan",
                    "--dataset",
                    "fashion-mnist",
                    "--out",
                    str(run),
                    "--minutes",
                    "3",
                    "--seed",
                    str(seed),
                    "--quiet",
                    *flags,
                ]
                subprocess.run(train, check=True, env=env, cwd=ROOT, capture_output=True)
                wall = time.perf_counter() - t0
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "gannotes",
                        "sample",
                        str(run),
                        "--n",
                        "5000",
                        "--out",
                        str(run / "s.npy"),
                    ],
                    check=True,
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                )
                samples = torch.from_numpy(np.load(run / "s.npy"))
                history = json.loads((run / "history.json").read_text())
            score = classifier.score(samples)
            row = {
                "command": " ".join(["train dcgan --dataset fashion-mnist --minutes 3", *flags]),
                "seed": seed,
                "steps": history["step"][-1] if history["step"] else 0,
                "wall_s": round(wall, 1),
                "fid": score["fid"],
                "classes_covered": score["classes_covered"],
                "class_hist": score["class_hist"],
                "load_avg_1min": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wgan_cli.json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("screen")
    s.add_argument("--minutes", type=float, default=3.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--only", nargs="*", default=None)
    c = sub.add_parser("cli")
    c.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ch = sub.add_parser("child")
    ch.add_argument("name")
    ch.add_argument("minutes", type=float)
    ch.add_argument("seed", type=int)
    args = parser.parse_args(argv)
    if args.command == "child":
        print(
            json.dumps(train_and_score(args.name, CANDIDATES[args.name], args.minutes, args.seed))
        )
    elif args.command == "screen":
        screen(args.only or list(CANDIDATES), args.minutes, args.seed)
    else:
        cli(args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
