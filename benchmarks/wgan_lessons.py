"""The full-budget numbers notebook 06 quotes beside its short live runs (several seeds each).

    .venv/bin/python benchmarks/wgan_lessons.py gauge      # -> results/wgan_gauge.json
    .venv/bin/python benchmarks/wgan_lessons.py robust     # -> results/wgan_robust.json
    .venv/bin/python benchmarks/wgan_lessons.py batchnorm  # -> results/wgan_batchnorm.json

Each run trains on one thread in a child process, two at a time (one per core); FID is the
course's own (gannotes.evaluation.evaluate_images: the feature network of notebook 07, 2,000
samples against the 2,000 held-out reference images), so the notebook's live numbers and these
are on one scale.

* ``gauge``: does the critic's estimate of W1 track sample quality during training (the WGAN
  paper's claim), where the logistic losses do not? At every ``EVERY`` steps of a run: FID, the
  critic's gap E f(x) - E f(G(z)) on 2,000 held-out real images (WGAN-GP) or the logistic D's
  V(D, G) estimate on the same images and G's loss (logistic DCGAN); then the rank correlation
  of each with FID over the run's checkpoints.
* ``robust``: a learning rate at which the logistic DCGAN breaks, and WGAN-GP at that rate.
* ``batchnorm``: WGAN-GP's critic with BatchNorm (the penalty then mixes samples) against the
  recipe's layer norm.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SEEDS = (0, 1, 2)
GAUGE_STEPS, EVERY = 2000, 200
ROBUST_STEPS, HIGH_LRS = 1000, (1e-2, 1e-1)
BN_STEPS = 1500


def _wgan(**extra) -> dict:
    return dict(loss="wasserstein", gp=10.0, **extra)


def run_one(kind: str, seed: int, steps: int, overrides: dict, every: int | None) -> dict:
    """Train in this process (one thread) and measure; one JSON-able dict."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from gannotes.data import load_fashion_mnist
    from gannotes.evaluation import evaluate_images
    from gannotes.losses import d_logistic_loss
    from gannotes.training import Trainer, default_config
    from gannotes.wasserstein import critic_gap

    held_out = load_fashion_mnist("test", subset=True).images  # [2000, 1, 28, 28]
    cfg = default_config("dcgan", "fashion-mnist", seed=seed, **overrides)
    trainer = Trainer(cfg, device="cpu")
    rows = []

    def measure() -> None:
        fake = trainer.sample(2000, seed=seed + 100)
        r = evaluate_images(fake, kid_subsets=10)
        row = {"step": trainer.step, "fid": r["fid"], "classes": r["classes_covered"]}
        D = trainer.networks["D"]
        if cfg.loss == "wasserstein":
            row["critic_gap"] = critic_gap(D, held_out, fake)
        else:
            with torch.no_grad():
                D.eval()
                row["value"] = -float(d_logistic_loss(D(held_out), D(fake)))  # V(D, G)
                D.train()
        h = trainer.history
        if h["step"]:
            row["loss_g"] = h["loss_g"][-1]
            row["loss_d"] = h["loss_d"][-1]
        rows.append(row)

    while trainer.step < steps:
        trainer.run(steps=min(steps, trainer.step + (every or steps)), progress=False)
        if every or trainer.step >= steps:
            measure()
    return {
        "kind": kind,
        "seed": seed,
        "steps": steps,
        "overrides": _jsonable(overrides),
        "rows": rows,
    }


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _child(job: tuple) -> dict:
    kind, seed, steps, overrides, every = job
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    spec = json.dumps([kind, seed, steps, _jsonable(overrides), every])
    out = subprocess.run(
        [sys.executable, __file__, "child", spec],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_all(jobs: list[tuple]) -> list[dict]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = []
        for r in pool.map(_child, jobs):
            print(
                json.dumps({k: v for k, v in r.items() if k != "rows"}), r["rows"][-1], flush=True
            )
            runs.append(r)
    return runs


def _write(name: str, command: str, runs: list[dict], summary: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    record = {
        "command": command,
        "cpus": os.cpu_count(),
        "threads_per_run": 1,
        "summary": summary,
        "runs": runs,
    }
    (RESULTS / name).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


def gauge() -> None:
    sys.path.insert(0, str(ROOT))
    from gannotes.metrics import rank_correlation

    jobs = [("wgan-gp", s, GAUGE_STEPS, _wgan(), EVERY) for s in SEEDS]
    jobs += [("logistic", s, GAUGE_STEPS, {}, EVERY) for s in SEEDS]
    runs = _run_all(jobs)
    summary: dict = {"wgan-gp": {}, "logistic": {}}
    for r in runs:
        fid = [row["fid"] for row in r["rows"]]
        if r["kind"] == "wgan-gp":
            signals = {
                "critic_gap": [row["critic_gap"] for row in r["rows"]],
                "minus_loss_d": [-row["loss_d"] for row in r["rows"]],
            }
        else:
            signals = {
                "value": [row["value"] for row in r["rows"]],
                "loss_g": [row["loss_g"] for row in r["rows"]],
                "loss_d": [row["loss_d"] for row in r["rows"]],
            }
        for name, values in signals.items():
            summary[r["kind"]].setdefault(name, []).append(round(rank_correlation(values, fid), 3))
        summary[r["kind"]].setdefault("fid_first_last", []).append([fid[0], fid[-1]])
    _write("wgan_gauge.json", "python benchmarks/wgan_lessons.py gauge", runs, summary)


def _final_fids(runs: list[dict]) -> dict:
    """Per kind of run: the FID and classes covered at each seed's last measurement."""
    summary: dict = {}
    for r in runs:
        last = r["rows"][-1]
        cell = summary.setdefault(r["kind"], {"fid": [], "classes": []})
        cell["fid"].append(round(last["fid"], 1))
        cell["classes"].append(last["classes"])
    return summary


def robust() -> None:
    jobs = []
    for lr in HIGH_LRS:
        for s in SEEDS:
            jobs.append((f"logistic lr {lr:g}", s, ROBUST_STEPS, dict(lr_g=lr, lr_d=lr), None))
            jobs.append((f"wgan-gp lr {lr:g}", s, ROBUST_STEPS, _wgan(lr_g=lr, lr_d=lr), None))
    runs = _run_all(jobs)
    _write("wgan_robust.json", "python benchmarks/wgan_lessons.py robust", runs, _final_fids(runs))


def batchnorm() -> None:
    jobs = []
    for s in SEEDS:
        jobs.append(("layer norm (recipe)", s, BN_STEPS, _wgan(), None))
        jobs.append(("batch norm", s, BN_STEPS, _wgan(model_config=dict(d_norm="batch")), None))
    runs = _run_all(jobs)
    _write(
        "wgan_batchnorm.json",
        "python benchmarks/wgan_lessons.py batchnorm",
        runs,
        _final_fids(runs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("gauge", "robust", "batchnorm", "child"))
    parser.add_argument("spec", nargs="?")
    args = parser.parse_args(argv)
    if args.command == "child":
        kind, seed, steps, overrides, every = json.loads(args.spec)
        if "betas" in overrides:
            overrides["betas"] = tuple(overrides["betas"])
        print(json.dumps(run_one(kind, seed, steps, overrides, every)))
    else:
        {"gauge": gauge, "robust": robust, "batchnorm": batchnorm}[args.command]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
