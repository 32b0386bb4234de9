"""Issue 12's precision acceptance, through the command line as a user runs it.

    python benchmarks/amp_acceptance.py [--minutes 3]

``train dcgan --dataset fashion-mnist --minutes M --precision P`` for P = fp32 and bf16, side by
side (one thread each: each gets one core of the 2-core machine), then ``sample --n 2000`` of
each, scored by the course's ``evaluate_images`` against the held-out images and judged by
notebook 01's DCGAN gate (gannotes.quality.QUALITY_GATES["dcgan"]). Also the step rate of each
precision, from the run's history, and, to tell speed from quality, fp32 trained for exactly
the steps bf16 managed (``--steps``): the same number of updates in either precision. Runs go to
benchmarks/.runs/amp_* (``--reuse`` keeps finished ones); numbers to benchmarks/results/amp.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from gannotes.bench import machine  # noqa: E402
from gannotes.checkpoint import write_json  # noqa: E402
from gannotes.evaluation import evaluate_images  # noqa: E402
from gannotes.quality import QUALITY_GATES, gate_failures  # noqa: E402

RUNS = ROOT / ".runs"
RESULT = ROOT / "results" / "amp.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--reuse", action="store_true", help="keep runs that finished before")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    commands, procs = {}, {}
    for prec in ("fp32", "bf16"):
        out = RUNS / f"amp_{prec}"
        cmd = [
            "train", "dcgan", "--dataset", "fashion-mnist", "--minutes", f"{args.minutes:g}",
            "--precision", prec, "--out", str(out.relative_to(ROOT.parent)), "--quiet",
        ]  # fmt: skip
        commands[prec] = "python -m gannotes " + " ".join(cmd)
        if args.reuse and (out / "history.json").exists():
            continue
        if out.exists():
            subprocess.run(["rm", "-rf", str(out)], check=True)
        print("$", commands[prec], flush=True)
        procs[prec] = subprocess.Popen(
            [sys.executable, "-m", "gannotes", *cmd], cwd=ROOT.parent, env=env
        )
    for p in procs.values():
        assert p.wait() == 0
    # fp32 for exactly bf16's number of steps: quality per update, whatever the speed
    bf16_steps = json.loads((RUNS / "amp_bf16" / "history.json").read_text())["step"][-1]
    out = RUNS / "amp_fp32_same_steps"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [
        "train", "dcgan", "--dataset", "fashion-mnist", "--steps", str(bf16_steps),
        "--precision", "fp32", "--out", str(out.relative_to(ROOT.parent)), "--quiet",
    ]  # fmt: skip
    commands["fp32_same_steps"] = "python -m gannotes " + " ".join(cmd)
    print("$", commands["fp32_same_steps"], flush=True)
    subprocess.run([sys.executable, "-m", "gannotes", *cmd], cwd=ROOT.parent, env=env, check=True)
    result = {
        "machine": {**machine(), "threads_per_run": 1},
        "minutes": args.minutes,
        "gate": QUALITY_GATES["dcgan"]._asdict(),
        "runs": {},
    }
    for prec in ("fp32", "bf16", "fp32_same_steps"):
        out = RUNS / f"amp_{prec}"
        samples = out / "samples_2000.npy"
        subprocess.run(
            [sys.executable, "-m", "gannotes", "sample", str(out), "--n", "2000",
             "--out", str(samples)],
            cwd=ROOT.parent, check=True, env=env,
        )  # fmt: skip
        hist = json.loads((out / "history.json").read_text())
        q = evaluate_images(np.load(samples))
        fails = gate_failures(q, QUALITY_GATES["dcgan"])
        rate = hist["images_per_s"][len(hist["images_per_s"]) // 2 :]
        result["runs"][prec] = {
            "command": commands[prec],
            "steps": hist["step"][-1],
            "seconds": round(hist["seconds"][-1], 1),
            "images_per_s": round(float(np.median(rate)), 1),
            "fid": round(q["fid"], 1),
            "precision": round(q["precision"], 3),
            "recall": round(q["recall"], 3),
            "classes_covered": q["classes_covered"],
            "gate_failures": fails,
            "passes_gate": not fails,
        }
        print(prec, result["runs"][prec], flush=True)
    f32, b16 = result["runs"]["fp32"], result["runs"]["bf16"]
    result["bf16_slowdown"] = round(f32["images_per_s"] / b16["images_per_s"], 2)
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
