"""Time and peak memory of each gannotes.metrics metric on 10,000 x 256 random float32 features.

    python benchmarks/metrics_speed.py [--n 10000] [--dim 256] [--threads 0] [--chunk-mib 0]

Each metric runs in its own child process, so its peak memory is its own. The child builds the
features, runs the metric once on 100 rows (so loading BLAS and friends is not counted), records
its resident set size, runs the metric on all rows and reports the peak resident set size
(``resource.getrusage``'s ru_maxrss, which, unlike tracemalloc, sees torch's allocations) minus
that baseline. Wall-clock is noisy on a shared machine; read the numbers as orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("frechet_distance", "kernel_distance", "precision_recall", "density_coverage")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:  # Linux: pages resident
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(metric: str, n: int, dim: int, threads: int, chunk_mib: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from gannotes import metrics

    if threads:
        torch.set_num_threads(threads)
    if chunk_mib:
        metrics._CHUNK_BYTES = chunk_mib * 2**20
    g = torch.Generator().manual_seed(0)
    real = torch.randn(n, dim, generator=g)
    fake = 1.1 * torch.randn(n, dim, generator=g) + 0.1
    getattr(metrics, metric)(real[:100], fake[:100])  # loads BLAS and friends: not the metric's
    baseline = _rss_mib()
    start = time.perf_counter()
    value = getattr(metrics, metric)(real, fake)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "metric": metric,
        "seconds": round(seconds, 2),
        "peak_extra_mib": round(peak - baseline, 1),
        "threads": torch.get_num_threads(),
        "value": [round(float(v), 6) for v in (value if isinstance(value, tuple) else (value,))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--chunk-mib", type=int, default=0, help="k-NN chunk size (0: default)")
    parser.add_argument("--child", choices=METRICS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.dim, args.threads, args.chunk_mib)))
        return
    print(f"{args.n} x {args.dim} features per set, float32 input, float64 computation")
    print(f"{'metric':<18} {'seconds':>8} {'peak extra MiB':>15} {'threads':>8}  value")
    for metric in METRICS:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            metric,
            "--n",
            str(args.n),
            "--dim",
            str(args.dim),
        ]
        cmd += ["--threads", str(args.threads), "--chunk-mib", str(args.chunk_mib)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(
            f"{r['metric']:<18} {r['seconds']:>8} {r['peak_extra_mib']:>15} {r['threads']:>8}  "
            f"{r['value']}"
        )


if __name__ == "__main__":
    main()
