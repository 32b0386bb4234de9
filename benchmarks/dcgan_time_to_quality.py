"""Our DCGAN recipe vs the PyTorch tutorial's, at equal CPU time, on full Fashion-MNIST.

    python benchmarks/dcgan_time_to_quality.py [--budget-s 180] [--threads N]

1. Throughput: the two recipes run in short interleaved bursts (ours, tutorial, ours, ...,
   ``--rounds`` each of ``--burst-s`` CPU seconds); the median images/s of each is kept. Only
   training steps are timed, as ``Trainer.elapsed`` (the ``--minutes`` budget) does. The clock
   is this process's CPU time with torch on one thread (``--threads``): on a shared machine
   wall-clock rates swing several-fold with other jobs (and two OpenMP threads competing with
   them spin-wait), CPU time barely moves. Wall-clock images/s are reported as well.
2. Steps: the budget becomes steps per recipe, steps = budget_s * images/s / images per step;
   "3 CPU minutes" is 180 s of one core.
3. Quality at those steps (deterministic given the step count, whatever the machine's load):
   5,000 samples from ``gannotes.training.generate`` (eval mode), scored by the independent
   classifier of benchmarks/classifier.py: Fréchet distance of its penultimate features to the
   10,000 real test images, the histogram of predicted classes, and the mean max-probability.

Writes benchmarks/results/dcgan_time_to_quality.json and dcgan_time_to_quality.png, prints the
JSON. About 2 x budget_s of training plus a minute of timing and scoring on an idle 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import classifier
import numpy as np
import torch
from common import ROOT, evaluate, make, measure_throughput

# The recommended recipe (gannotes defaults proposed by this benchmark; see README.md).
OURS = {
    "name": "ours",
    "kind": "ours",
    "batch_size": 32,
    "lr_g": 5e-4,
    "lr_d": 5e-4,
    "betas": (0.5, 0.999),
    "model_config": {"g_width": 32, "d_width": 32, "z_dim": 64},
}
TUTORIAL = {"name": "tutorial", "kind": "tutorial"}


def grid(images: torch.Tensor, nrow: int = 10) -> np.ndarray:
    x = ((images.clamp(-1, 1) + 1) / 2).squeeze(1).numpy()
    n = len(x) // nrow * nrow
    x = x[:n].reshape(n // nrow, nrow, 28, 28)
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=1.0)
    return x.transpose(0, 2, 1, 3).reshape(x.shape[0] * 30, nrow * 30)


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-s", type=float, default=180.0, help="CPU time budget (s)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--burst-s", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, see above)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)

    acc = classifier.test_accuracy()
    real = classifier.score(
        torch.cat([make(OURS).trainer.data["images"][:5000]])
    )  # real-vs-real floor
    specs = [OURS, TUTORIAL]
    tp = measure_throughput(specs, rounds=args.rounds, seconds=args.burst_s)

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads",
        "budget_s": args.budget_s,
        "classifier_test_accuracy": round(acc, 4),
        "real_train5000_vs_test": real,
        "recipes": {},
    }
    samples = {}
    for s in specs:
        r = make(s, seed=args.seed)
        ips = tp[s["name"]]["images_per_s"]
        steps = int(args.budget_s * ips / r.images_per_step)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            r.step()
        train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        samples[s["name"]] = r.G
        ev = evaluate(r.G, n=5000, seed=args.seed)
        result["recipes"][s["name"]] = {
            "spec": {k: v for k, v in s.items() if k != "name"},
            "images_per_s": ips,
            "images_per_wall_s": tp[s["name"]]["images_per_wall_s"],
            "images_per_s_rounds": tp[s["name"]]["rounds_cpu"],
            "images_per_step": r.images_per_step,
            "steps": steps,
            "train_cpu_s_this_run": round(train_cpu_s, 1),
            "train_wall_s_this_run": round(train_s, 1),
            **ev,
        }
    o, t = result["recipes"]["ours"], result["recipes"]["tutorial"]
    result["fid_ratio_tutorial_over_ours"] = round(t["fid"] / o["fid"], 2)
    result["throughput_ratio_ours_over_tutorial"] = round(o["images_per_s"] / t["images_per_s"], 2)
    result["total_wall_s"] = round(time.perf_counter() - t_start, 1)

    (out_dir / "dcgan_time_to_quality.json").write_text(json.dumps(result, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gannotes.training import generate

    fig, axes = plt.subplots(1, 2, figsize=(12, 6.6))
    for ax, name in zip(axes, ("ours", "tutorial"), strict=True):
        rr = result["recipes"][name]
        ax.imshow(grid(generate(samples[name], 100, seed=args.seed)), cmap="gray", vmin=0, vmax=1)
        ax.set_title(
            f"{name}: {rr['steps']} steps, {rr['images_per_s']:.0f} img/s\n"
            f"FID {rr['fid']:.1f}, {rr['classes_covered']}/10 classes"
        )
        ax.axis("off")
    fig.suptitle(f"DCGAN on Fashion-MNIST after {args.budget_s:.0f} s of CPU training (each)")
    fig.tight_layout()
    tmp = out_dir / "dcgan_time_to_quality.tmp.png"
    fig.savefig(tmp, dpi=80)
    os.replace(tmp, out_dir / "dcgan_time_to_quality.png")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
