"""Measuring the hardware: step rates, memory, a profile of a step, data loading, live readings.

Every number notebook 08 shows comes from here, measured on the learner's machine:

* :func:`machine`: what the machine is (CPU model, cores, threads, torch, native bf16, GPUs);
* :func:`measure`: steps/s, images/s and peak memory of one configuration (a GAN, a precision,
  channels-last or not, compiled or not, a device, a batch size, threads) on synthetic data
  of the right shape (the step's compute does not depend on the pixels); :func:`run_isolated`
  runs it in a fresh process, so that peak memory (RSS on a CPU) is that configuration's
  alone; :func:`bench` runs a grid of them (``python -m gannotes bench``) and :func:`table`
  prints it;
* :func:`profile_step`: torch.profiler over a few training steps, operators by self time,
  each classed as forward, backward or optimizer; :func:`phase_times`: the classic step's
  phases (G forward, D on real and fake, D's backward, G's loss through D, G's backward,
  the optimizers) timed one by one;
* :func:`data_loading`: batches per second from images already in memory (what the Trainer
  does) against a ``DataLoader`` with workers and pinned memory;
* :func:`compared`: the word a measured ratio earns ("faster", "slower", "about the same"),
  so that a verdict printed beside a measurement follows the number on every machine;
* :class:`Readings`: what to watch while a run trains (utilisation, memory, time per epoch),
  read live from a training callback.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "BenchConfig",
    "Readings",
    "bench",
    "compared",
    "data_loading",
    "machine",
    "measure",
    "phase_times",
    "profile_step",
    "run_isolated",
    "table",
    "trainer_for",
    "update_shares",
]


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    """The machine a measurement ran on: CPU model, cores (and those this process may use),
    torch's threads, torch version, whether the CPU has native bfloat16 instructions
    (AVX512-BF16 or AMX: without them bf16 is emulated), and any GPUs."""
    info = _cpuinfo()
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line),
        platform.processor() or platform.machine(),
    )
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out: dict[str, Any] = {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_bf16_native": any(f in flags.split() for f in ("avx512_bf16", "amx_bf16")),
        "gpus": [],
    }
    if torch.cuda.is_available():
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        out["cuda"] = torch.version.cuda
    return out


@dataclass
class BenchConfig:
    """One configuration to measure. ``model`` is a GAN by its model name (dcgan, mlp, cgan,
    pix2pix, cyclegan, stylegan); ``batch_size`` None is the recipe's; ``threads`` None leaves
    torch's count as it is."""

    model: str = "dcgan"
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    device: str = "cpu"
    batch_size: int | None = None
    threads: int | None = None
    steps: int = 20  # timed steps
    warmup: int = 3  # untimed steps first (the first pays for compilation)
    overrides: dict = field(default_factory=dict)  # further knobs of the recipe

    def label(self) -> str:
        parts = [self.model, self.precision]
        if self.channels_last:
            parts.append("channels_last")
        if self.compile:
            parts.append("compile")
        return " ".join(parts)


def synthetic_data(family_cls, n: int) -> dict[str, torch.Tensor]:
    """Random data with the fields and shapes a family trains on (images in [-1, 1], labels
    in 0-9): a step costs the same whatever the pixels are."""
    gen = torch.Generator().manual_seed(0)
    data = {}
    for name in family_cls.data_fields:
        if name == "labels":
            data[name] = torch.randint(0, 10, (n,), generator=gen)
        else:
            data[name] = torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1
    return data


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trainer_for(cfg: BenchConfig, data_n: int = 2048):
    """A Trainer of ``cfg`` on synthetic data (the model's own dataset's fields and shapes;
    a toy set's fresh points), without an output directory. ``cfg.overrides`` may name a
    ``dataset``."""
    from .data import IMAGE_DATASETS
    from .gans import family_for_model
    from .training import Trainer, default_config

    knobs = dict(cfg.overrides)
    if cfg.batch_size is not None:
        knobs["batch_size"] = cfg.batch_size
    config = default_config(
        cfg.model,
        knobs.pop("dataset", None),  # None: the model's own data
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
        **knobs,
    )
    data = None
    if config.dataset in IMAGE_DATASETS:
        family_cls = family_for_model(cfg.model)
        data = synthetic_data(family_cls, max(data_n, 4 * config.batch_size))
    return Trainer(config, device=cfg.device, data=data)


def measure(cfg: BenchConfig) -> dict[str, Any]:
    """Steps/s, images/s and peak memory of ``cfg`` in this process: ``warmup`` steps (the
    first timed alone: it includes compilation when ``compile``), then ``steps`` timed steps.
    Peak memory is ``max_memory_allocated`` on CUDA and this process's peak RSS on a CPU
    (which includes everything before: use :func:`run_isolated` for one configuration's)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    trainer = trainer_for(cfg)
    device = trainer.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    trainer.train_step()
    _sync(device)
    first = time.perf_counter() - t0
    for _ in range(max(cfg.warmup - 1, 0)):
        trainer.train_step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(cfg.steps):
        stats = trainer.train_step()
    _sync(device)
    seconds = time.perf_counter() - t0
    batch = trainer.config.batch_size * trainer.family.batches_per_step()
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda_allocated"
    else:
        peak, kind = peak_rss_mb(), "rss"
    finite = all(torch.isfinite(v).all() for k, v in stats.items() if k.startswith("loss"))
    return {
        **asdict(cfg),
        "label": cfg.label(),
        "batch_size": trainer.config.batch_size,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "compiled": trainer.compiled,
        "not_compiled": trainer.not_compiled,
        "first_step_s": round(first, 3),
        "step_ms": round(1000 * seconds / cfg.steps, 2),
        "steps_per_s": round(cfg.steps / seconds, 2),
        "images_per_s": round(cfg.steps * batch / seconds, 1),
        "peak_memory_mb": round(peak, 1),
        "memory_kind": kind,
        "losses_finite": bool(finite),
    }


def run_isolated(cfg: BenchConfig, timeout: float = 900) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process (so its peak memory is its own); a failure
    comes back as ``{"error": ...}`` with the configuration, not an exception."""
    cmd = [sys.executable, "-m", "gannotes.bench", json.dumps(asdict(cfg))]
    env = dict(os.environ)
    if cfg.threads:
        env["OMP_NUM_THREADS"] = str(cfg.threads)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {**asdict(cfg), "label": cfg.label(), "error": f"timed out after {timeout:g} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        err = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {**asdict(cfg), "label": cfg.label(), "error": err[:300]}
    return json.loads(lines[-1])


def bench(configs: list[BenchConfig], isolated: bool = True) -> dict[str, Any]:
    """Measure every configuration (each in its own process when ``isolated``); returns
    ``{"machine": machine(), "results": [...]}``."""
    results = [run_isolated(c) if isolated else measure(c) for c in configs]
    return {"machine": machine(), "results": results}


def table(results: list[dict[str, Any]]) -> str:
    """The results as a fixed-width text table, one configuration per row; "vs base" is the
    speed against the first row of the same GAN, batch size, threads and device."""
    head = (
        f"{'configuration':34} {'batch':>5} {'thr':>3} {'step ms':>8} {'steps/s':>8} "
        f"{'images/s':>9} {'peak MB':>8} {'vs base':>7}"
    )
    rows, base = [head, "-" * len(head)], {}
    for r in results:
        if "error" in r:
            rows.append(f"{r['label']:34} error: {r['error'][:60]}")
            continue
        key = (r["model"], r["batch_size"], r["threads"], r["device"])
        base.setdefault(key, r["images_per_s"])
        rows.append(
            f"{r['label']:34} {r['batch_size']:>5} {r['threads']:>3} {r['step_ms']:>8.1f} "
            f"{r['steps_per_s']:>8.2f} {r['images_per_s']:>9.0f} {r['peak_memory_mb']:>8.0f} "
            f"{r['images_per_s'] / base[key]:>6.2f}x"
        )
    return "\n".join(rows)


def compared(ratio: float, above: str, below: str, same: str, tolerance: float = 0.1) -> str:
    """The word a measured ratio earns: ``above`` when ``ratio > 1 + tolerance``, ``below``
    when ``ratio < 1 / (1 + tolerance)``, ``same`` otherwise. Notebook 08 builds every
    verdict it prints from it (``compared(bf16 / fp32, "faster", "slower", "about the same")``),
    so that the words beside a number are the number's on every machine."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"a ratio of two measurements must be positive and finite, got {ratio}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if ratio > 1 + tolerance:
        return above
    if ratio < 1 / (1 + tolerance):
        return below
    return same


# ----------------------------------------------------------------------------- a step's profile


def _kind(name: str) -> str:
    low = name.lower()
    if "adam" in low or "optimizer" in low or "rmsprop" in low:
        return "optimizer"
    if "backward" in low or "autograd" in low:
        return "backward"
    return "forward"


def profile_step(trainer, steps: int = 3, top: int = 12) -> dict[str, Any]:
    """torch.profiler over ``steps`` training steps (after one untimed step): the operators
    with the most self time (``top`` rows: name, kind, calls, self ms per step, share), the
    split of self time into forward, backward and optimizer, and the convolutions' self time
    forward and backward."""
    from torch.profiler import ProfilerActivity, profile

    trainer.train_step()
    activities = [ProfilerActivity.CPU]
    if trainer.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            trainer.train_step()
        _sync(trainer.device)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    split = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    conv = {"forward": 0.0, "backward": 0.0}  # the convolutions' self time, ms per step
    for e in events:
        kind = _kind(e.key)
        split[kind] += e.self_cpu_time_total / total
        if "conv" in e.key.lower() and kind in conv:
            conv[kind] += e.self_cpu_time_total / 1000 / steps
    ops = [
        {
            "op": e.key,
            "kind": _kind(e.key),
            "calls_per_step": e.count / steps,
            "self_ms_per_step": round(e.self_cpu_time_total / 1000 / steps, 3),
            "share": round(e.self_cpu_time_total / total, 4),
        }
        for e in events[:top]
    ]
    return {
        "ops": ops,
        "split": {k: round(v, 4) for k, v in split.items()},
        "conv_ms_per_step": {k: round(v, 3) for k, v in conv.items()},
        "ms_per_step": total / 1000 / steps,
    }


def phase_times(trainer, repeats: int = 10) -> dict[str, float]:
    """The classic step (Algorithm 1, k = 1) cut into its phases and timed one by one, in ms
    per step (median over ``repeats``): G forward for D's batch, D forward on real and fake,
    D backward, G forward and D forward for G's loss, G backward (through D), and the two
    optimizer steps. Works for families with networks G and D whose G takes one input."""
    from .losses import d_logistic_loss, g_nonsaturating_loss

    G, D = trainer.networks["G"], trainer.networks["D"]
    opt_g, opt_d = trainer.optimizers["G"], trainer.optimizers["D"]
    device = trainer.device
    times: dict[str, list[float]] = {}

    def timed(name, fn):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.setdefault(name, []).append(1000 * (time.perf_counter() - t0))
        return out

    for _ in range(repeats + 1):
        real = trainer.real_batch()
        z = trainer.noise(real.shape[0])
        fake = timed("G forward (D's batch)", lambda z=z: G(z).detach())
        loss_d = timed(
            "D forward (real + fake)",
            lambda real=real, fake=fake: d_logistic_loss(D(real), D(fake)),
        )
        opt_d.zero_grad(set_to_none=True)
        timed("D backward", loss_d.backward)
        timed("D optimizer step", opt_d.step)
        D.requires_grad_(False)
        z = trainer.noise(real.shape[0])
        loss_g = timed(
            "G forward + D forward (G's loss)", lambda z=z: g_nonsaturating_loss(D(G(z)))
        )
        opt_g.zero_grad(set_to_none=True)
        timed("G backward (through D)", loss_g.backward)
        timed("G optimizer step", opt_g.step)
        D.requires_grad_(True)
    # the first round warms up; the median of the rest
    return {k: float(torch.tensor(v[1:]).median()) for k, v in times.items()}


def update_shares(phases: dict[str, float]) -> dict[str, float]:
    """The share of a step (from :func:`phase_times`) that D's update and G's update take. D's
    update includes the G forward pass that makes its fake batch."""
    d = sum(v for k, v in phases.items() if k.startswith(("D ", "G forward (D's batch)")))
    total = sum(phases.values())
    return {"D": d / total, "G": 1 - d / total}


# ----------------------------------------------------------------------------- data loading


class _DecodingDataset(torch.utils.data.Dataset):
    """Images stored as uint8 (as on disk), turned into a float tensor in [-1, 1] and randomly
    flipped one at a time, as a torchvision pipeline does per item."""

    def __init__(self, images_uint8: torch.Tensor):
        self.images = images_uint8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self.images[i].float().div(127.5).sub(1.0)
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x


def data_loading(
    images: torch.Tensor,
    batch_size: int = 64,
    batches: int = 100,
    workers: tuple[int, ...] = (0, 2),
    pin_memory: bool = False,
    repeats: int = 1,
) -> list[dict[str, Any]]:
    """Batches per second of four ways to feed a step (each for ``batches`` batches):

    * ``in memory``: the whole set as one float tensor, a batch by indexing with a shuffled
      index (the Trainer's way: one gather per batch);
    * ``DataLoader(TensorDataset)`` with each number of ``workers``: the same tensor, but
      collated item by item (and, with workers, sent between processes);
    * ``DataLoader(decode + flip per item)`` with each number of workers: uint8 images
      converted and augmented one at a time, the per-item work workers exist to spread.

    ``pin_memory`` pins the batches (page-locked memory: faster copies to a GPU; on a
    CPU-only machine it only costs). Each way is timed ``repeats`` times and its best rate
    kept, as ``timeit`` does: indexing a tensor takes milliseconds, so one pause of the process
    by other work on the machine would otherwise decide the comparison.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    from torch.utils.data import DataLoader, TensorDataset

    images = images.float()
    as_uint8 = ((images + 1) * 127.5).round().to(torch.uint8)
    rows = []

    def rate(name, nworkers, iterator_fn):
        seconds = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            n = 0
            for _ in iterator_fn():
                n += 1
                if n >= batches:
                    break
            seconds = min(seconds, time.perf_counter() - t0)
        rows.append(
            {
                "loader": name,
                "workers": nworkers,
                "batches_per_s": round(n / seconds, 1),
                "images_per_s": round(n * batch_size / seconds),
            }
        )

    gen = torch.Generator().manual_seed(0)

    def in_memory():
        while True:
            perm = torch.randperm(len(images), generator=gen)
            for i in range(0, len(perm) - batch_size + 1, batch_size):
                batch = images[perm[i : i + batch_size]]
                yield batch.pin_memory() if pin_memory else batch

    rate("in memory (index a tensor)", 0, in_memory)
    for w in workers:
        for name, ds in (
            ("DataLoader(TensorDataset)", TensorDataset(images)),
            ("DataLoader(decode + flip per item)", _DecodingDataset(as_uint8)),
        ):
            loader = DataLoader(
                ds,
                batch_size=batch_size,
                shuffle=True,
                num_workers=w,
                pin_memory=pin_memory,
                persistent_workers=False,
                drop_last=True,
            )
            rate(name, w, lambda loader=loader: iter(loader))
    return rows


# ----------------------------------------------------------------------------- live readings


def _proc_status_mb(key: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Readings:
    """Live readings of what to watch while training: the CPU utilisation of this process
    (CPU-seconds per wall second, in cores), its memory (RSS now and at peak), the GPU's
    utilisation and memory when there is one, and the time an epoch takes at the run's current
    speed. Call :meth:`read` with the trainer, e.g. from a callback."""

    def __init__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def read(self, trainer=None) -> dict[str, Any]:
        wall, cpu = time.perf_counter(), time.process_time()
        cores = (cpu - self._cpu) / max(wall - self._wall, 1e-9)
        self._wall, self._cpu = wall, cpu
        out: dict[str, Any] = {
            "cpu_cores_busy": round(cores, 2),
            "rss_mb": round(_proc_status_mb("VmRSS"), 1),
            "peak_rss_mb": round(_proc_status_mb("VmHWM"), 1),
        }
        if torch.cuda.is_available():
            out["gpu_memory_mb"] = round(torch.cuda.memory_allocated() / 2**20, 1)
            out["gpu_peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            try:
                out["gpu_utilisation_pct"] = torch.cuda.utilization()
            except Exception:  # needs pynvml; a reading we cannot take is left out
                pass
        if trainer is not None and trainer.history.get("images_per_s"):
            speed = trainer.history["images_per_s"][-1]
            out["images_per_s"] = round(speed, 1)
            if trainer.n_data:
                out["epoch_minutes"] = round(trainer.n_data / speed / 60, 3)
        return out


if __name__ == "__main__":  # run_isolated's child: one configuration, one JSON line
    print(json.dumps(measure(BenchConfig(**json.loads(sys.argv[1])))))
