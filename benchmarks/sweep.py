"""The sweep of our DCGAN recipe at equal CPU time (see README.md).

    python benchmarks/sweep.py throughput            # interleaved images/s of every spec
    python benchmarks/sweep.py train NAME [NAME...]  # train each for the steps 3 minutes buy it
    python benchmarks/sweep.py score                 # FID/classes of every saved generator

Training saves the generator at 1/3, 2/3 and all of its budget in benchmarks/.cache/sweep/;
scoring samples each in eval mode (as gannotes.training.generate does) and in train mode.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch
from common import ROOT, evaluate, make, measure_throughput

RESULTS = ROOT / "results"
CACHE = ROOT / ".cache" / "sweep"
BUDGET_S = float(os.environ.get("BENCH_BUDGET_S", "90"))  # screening: half of 3 min

BASE = dict(kind="ours", batch_size=64, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))


def spec(name, model_config=None, **kw):
    mc = dict(g_width=32, d_width=32, z_dim=64)
    mc.update(model_config or {})
    return {"name": name, **BASE, **kw, "model_config": mc}


SPECS = [
    {"name": "tutorial", "kind": "tutorial"},
    spec("default"),  # the package's defaults before this work
    spec("w16", dict(g_width=16, d_width=16)),
    spec("w48", dict(g_width=48, d_width=48)),
    spec("b32", batch_size=32),
    spec("b128", batch_size=128),
    spec("lr5e-4", lr_g=5e-4, lr_d=5e-4),
    spec("ttur", lr_g=1e-4, lr_d=4e-4),
    spec("beta0", betas=(0.0, 0.99)),
]
BY_NAME = {s["name"]: s for s in SPECS}


def load_extra():
    """Specs added on the command line's behalf in results/extra_specs.json (round two)."""
    p = RESULTS / "extra_specs.json"
    if p.exists():
        for s in json.loads(p.read_text()):
            BY_NAME[s["name"]] = s


# optimiser-only variants cost exactly what the default costs per step: use one step count
SAME_COST = {"lr5e-4": "default", "ttur": "default", "beta0": "default"}


def steps_for(name: str, tp: dict) -> int:
    s = BY_NAME[name]
    name = SAME_COST.get(name, name)
    per_step = 128 if s.get("kind") == "tutorial" else s["batch_size"] * s.get("d_steps", 1)
    return int(BUDGET_S * tp[name]["images_per_s"] / per_step)


def main(argv):
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    load_extra()
    RESULTS.mkdir(exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = argv[0]
    if cmd == "throughput":
        names = argv[1:] or [s["name"] for s in SPECS]
        out = RESULTS / "throughput.json"
        old = {}
        tp = measure_throughput([BY_NAME[n] for n in names], rounds=3, seconds=4.0)
        old.update(tp)
        out.write_text(json.dumps(old, indent=1))
        for n in names:
            print(n, tp[n], "steps/3min:", steps_for(n, old))
    elif cmd == "train":
        tp = json.loads((RESULTS / "throughput.json").read_text())
        for name in argv[1:]:
            n = steps_for(name, tp)
            marks = sorted({n // 3, 2 * n // 3, n})
            r = make(BY_NAME[name])
            t0 = time.perf_counter()
            done = 0
            while done < n:
                r.step()
                done += 1
                if done in marks:
                    torch.save(
                        {"G": r.G.state_dict(), "step": done, "spec": BY_NAME[name]},
                        CACHE / f"{name}__{done}.pt",
                    )
            print(f"{name}: {n} steps in {time.perf_counter() - t0:.0f} s", flush=True)
    elif cmd == "score":
        out = RESULTS / "sweep.json"
        rows = json.loads(out.read_text()) if out.exists() else []
        seen = {(r["name"], r["step"]) for r in rows}
        for p in sorted(CACHE.glob("*.pt")):
            name, step = p.stem.split("__")
            if (name, int(step)) in seen:
                continue
            st = torch.load(p, map_location="cpu", weights_only=False)
            r = make(st["spec"])
            r.G.load_state_dict(st["G"])
            ev = evaluate(r.G, train_mode=False)
            tr = evaluate(r.G, train_mode=True)
            row = {"name": st["spec"]["name"], "step": st["step"], "eval": ev, "train_mode": tr}
            rows.append(row)
            print(
                row["name"],
                row["step"],
                "FID eval",
                ev["fid"],
                "train",
                tr["fid"],
                "classes",
                ev["classes_covered"],
                ev["mean_max_prob"],
                flush=True,
            )
            out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
