"""How many CPU threads a run should use, where containers cap the CPU.

torch sizes its thread pool from the cores it can see. In a container (Binder gives 1 CPU,
Colab 2) the kernel still shows the host's cores, so torch starts more threads than the CPU
quota allows, and they spin against each other: on a busy machine that can make a run many
times slower than one thread would (notebook 08 times one thread against more on yours).
:func:`cpu_quota` reads the cgroup limit and :func:`limit_threads` lowers torch's thread count
to it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["cpu_quota", "limit_threads"]

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def cpu_quota(v2: Path = _CGROUP_V2, v1: tuple[Path, Path] = _CGROUP_V1) -> int | None:
    """CPUs this process may use under its cgroup's quota, rounded up; None when unlimited.

    cgroup v2 writes "QUOTA PERIOD" (or "max PERIOD") to cpu.max; cgroup v1 keeps them in
    cpu.cfs_quota_us (-1 when unlimited) and cpu.cfs_period_us.
    """
    try:
        quota, period = v2.read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota, period = (int(p.read_text()) for p in v1)
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return None


def limit_threads() -> int:
    """Lower torch's intra-op threads to the CPUs available (affinity and cgroup quota).

    Never raises the count, so an explicit ``torch.set_num_threads`` or ``OMP_NUM_THREADS``
    smaller than the quota is kept. Returns the thread count in force afterwards.
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cpu_quota()
    limit = min(available or 1, quota or available or 1)
    if torch.get_num_threads() > limit:
        torch.set_num_threads(limit)
    return torch.get_num_threads()
