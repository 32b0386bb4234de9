"""Data-parallel training over processes, with torch.distributed, on the same Trainer.

    torchrun --nproc_per_node 2 -m gannotes train dcgan --dataset fashion-mnist --steps 40 --out RUN

starts two processes (gloo on CPUs, NCCL on GPUs: one GPU each). Every process holds the same
networks and optimizers; each draws its own real batch of ``batch_size`` images (a shard of the
same shuffled epoch: the effective batch is N times larger) and its own noise (per-rank seeds);
before each optimizer steps, the gradients of *that optimizer's* parameters are averaged over
the processes, so every copy takes the same step: the gradients equal one process's with the
N-times batch (for a D without BatchNorm: tests/test_parallel.py compares them with
DistributedDataParallel's and with one process's, to 1e-6).

Why not wrap the networks in ``DistributedDataParallel``? Its reducer assumes one backward per
forward over all of a module's parameters, and a GAN step breaks that three ways: D runs
forward with its parameters frozen during G's update (so DDP waits for gradients that never
come, unless every family wraps that call in ``no_sync``), penalties differentiate D twice (R1,
the gradient penalty: DDP's hooks fire on the double backward's partial results), and families
call parts of a network (StyleGAN's ``G.mapping``, ``G.synthesis``) that the wrapper hides.
StyleGAN2-ADA (``training/training_loop.py`` in NVlabs/stylegan2-ada-pytorch) does wrap
G's mapping and synthesis networks and D in DDP, and works around the first point by
toggling ``requires_grad_`` around each phase; its successor's training loop
(NVlabs/stylegan3) drops the wrapper, broadcasts the weights once, and before each phase's
optimizer step averages that phase's gradients itself, in one flat all-reduce. So does
:func:`all_reduce_gradients`, one flat all-reduce per optimizer step, called by
``StepContext.optimizer_step``. D's gradients are never exchanged while G updates.

BatchNorm: in training each process normalises its own batch with its own statistics
(DDP's default; SyncBatchNorm would add an all-reduce per BatchNorm layer per forward, and
with 32 or more images per process the per-process statistics are good estimates). The
running averages, which sampling uses, are averaged over the processes after every step
(:func:`average_buffers`): every copy then stays identical, a checkpoint written by rank 0
holds what every rank holds, and the running mean follows the mean of the N-times batch.

Only rank 0 writes checkpoints, history and images; each rank's random streams are gathered
into rank 0's checkpoint so that ``--resume`` (with the same number of processes) continues
exactly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "Distributed",
    "agree",
    "all_reduce_gradients",
    "all_reduce_mean",
    "average_buffers",
    "broadcast_networks",
    "current",
    "data_parallel_gradients",
    "exit_process",
    "gather",
    "init_from_environment",
    "shutdown",
    "torchrun",
]


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel run."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, history and prints progress."""
        return self.rank == 0


def current() -> Distributed | None:
    """The run this process belongs to, when a process group is initialised with more than
    one process; else None (one process: nothing to exchange)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return Distributed(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
        backend=str(dist.get_backend()),
    )


def init_from_environment(device: str = "auto") -> tuple[Distributed | None, str]:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT), when WORLD_SIZE > 1.

    Returns this process's place and the device it should train on: with CUDA (``device``
    "auto" or "cuda") its own GPU ``cuda:LOCAL_RANK`` and NCCL, else the CPU and gloo. Without
    torchrun's environment: (None, ``device``) and nothing is initialised.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 2:
        return None, device
    if not dist.is_available():
        raise RuntimeError("this torch was built without torch.distributed; run one process")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here")
    if use_cuda:
        if torch.cuda.device_count() <= local_rank:
            raise ValueError(
                f"process {local_rank} needs GPU {local_rank}, but {torch.cuda.device_count()} "
                "are visible: start at most one process per GPU"
            )
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    elif device == "auto":
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return current(), device


def torchrun(nproc: int, *args: str, threads: int = 1, timeout: float = 600):
    """Run ``torchrun --standalone --nproc_per_node NPROC -m gannotes ARGS`` (a free port on
    this machine) with ``threads`` OpenMP threads per process; the finished process (its
    stdout and stderr as text)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(nproc), "-m", "gannotes", *map(str, args)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def shutdown(wait_for_others: bool = True) -> None:
    """Leave the process group (after the last collective).

    ``wait_for_others``: first a barrier, so that every process leaves together and none tears
    gloo down while another still has a collective in flight. Pass False after an error: the
    other processes may never reach the barrier.
    """
    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()


def exit_process(code: int) -> NoReturn:
    """End a data-parallel worker now, with ``code``, skipping the interpreter's finalization.

    After a clean :func:`shutdown`, one process of ``torchrun ... train`` in about 30 on a
    loaded 2-core machine still aborted *after* Python had finished ("terminate called without
    an active exception", SIGABRT, no Python frame left): a C++ thread of torch's distributed
    runtime destroyed during finalization. Everything the run writes is written and closed by
    then (atomically), so the worker flushes its output and leaves without finalizing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@torch.no_grad()
def all_reduce_gradients(opt: torch.optim.Optimizer) -> None:
    """Average the gradients of ``opt``'s parameters over the processes, in one flat
    all-reduce (a mean: each process's loss is a mean over its batch, so the result is the
    gradient of the mean over all processes' batches).

    A parameter that received no gradient in any process keeps none (``grad`` None), as in
    one process, so the optimizer leaves it alone; turning it into zeros would let Adam's
    momentum move it. One that received a gradient in some processes only gets their sum over
    the world size (the others' batches contributed zero). Each process sends one flag per
    parameter with its gradients, so every process sends the same layout whatever its graph
    reached."""
    world = dist.get_world_size()
    params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
    if not params:
        return
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    had = [float(p.grad is not None) for p in params]
    flat = torch.cat([*grads, torch.tensor(had, device=grads[0].device, dtype=grads[0].dtype)])
    dist.all_reduce(flat)
    flags = flat[-len(params) :].tolist()  # how many processes had each gradient
    flat = flat[: -len(params)] / world
    offset = 0
    for p, flag in zip(params, flags, strict=True):
        n = p.numel()
        part = flat[offset : offset + n].view_as(p)
        offset += n
        if flag == 0:
            p.grad = None
        elif p.grad is None:
            p.grad = part.clone()
        else:
            p.grad.copy_(part)


@torch.no_grad()
def average_buffers(networks: dict[str, nn.Module]) -> None:
    """Average the floating-point buffers (BatchNorm's running mean and variance) over the
    processes; integer buffers (BatchNorm's batch counter) are the same everywhere."""
    bufs = [b for net in networks.values() for b in net.buffers() if torch.is_floating_point(b)]
    if not bufs:
        return
    flat = torch.cat([b.reshape(-1).float() for b in bufs])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for b in bufs:
        n = b.numel()
        b.copy_(flat[offset : offset + n].view_as(b))
        offset += n


@torch.no_grad()
def broadcast_networks(networks: dict[str, nn.Module]) -> None:
    """Copy rank 0's parameters and buffers to every process (they start equal anyway, from
    the same seed; this makes it a guarantee)."""
    for net in networks.values():
        for t in [*net.parameters(), *net.buffers()]:
            dist.broadcast(t.data, src=0)


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of ``t`` over the processes (a new tensor)."""
    out = t.clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def agree(values: list[float], device: torch.device) -> list[float]:
    """The maximum of each value over the processes: decisions every process must take alike
    (the training time against a budget; whether any process was asked to stop)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def gather(obj: Any) -> list[Any]:
    """Every process's ``obj`` (picklable), in rank order, on every process."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


# ----------------------------------------------------------------------------- a check to run


def _gradient_worker(rank: int, world: int, init_file: str, batch: int, norm: str, out: str):
    """One process of :func:`data_parallel_gradients`."""
    from torch.nn.parallel import DistributedDataParallel

    from .gans.family import StepContext
    from .losses import d_logistic_loss

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        real, fake, D = _gradient_problem(world * batch, norm)
        shard = slice(rank * batch, (rank + 1) * batch)
        # ours: the loss on this process's shard, then the engine's all-reduce of D's optimizer
        opt = torch.optim.SGD(D.parameters(), lr=0.0)
        loss = d_logistic_loss(D(real[shard]), D(fake[shard]))
        loss.backward()
        StepContext(all_reduce=all_reduce_gradients).all_reduce(opt)
        ours = torch.cat([p.grad.reshape(-1) for p in D.parameters()])
        # torch's DistributedDataParallel on the same shard, as the reference
        _, _, D2 = _gradient_problem(world * batch, norm)
        ddp = DistributedDataParallel(D2)
        out_ddp = ddp(torch.cat([real[shard], fake[shard]]))
        loss = d_logistic_loss(out_ddp[:batch], out_ddp[batch:])
        loss.backward()
        theirs = torch.cat([p.grad.reshape(-1) for p in D2.parameters()])
        if rank == 0:
            torch.save({"ours": ours, "ddp": theirs}, out)
        # Both processes leave together: tearing gloo down while the other process still
        # has DDP's communication in flight aborted it ("terminate called without an active
        # exception", SIGABRT) in about 1 run of 6 on a loaded 2-core machine.
        dist.barrier()
        del ddp
    except BaseException:
        dist.destroy_process_group()
        raise
    dist.destroy_process_group()
    exit_process(0)


def _gradient_problem(n: int, norm: str):
    """A fixed batch of n real and n fake images and a DCGAN D (d_norm ``norm``), seeded."""
    from .models import build_models, config_for

    gen = torch.Generator().manual_seed(0)
    real = torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1
    fake = torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1
    torch.manual_seed(0)
    _, D = build_models(config_for("dcgan", "fashion-mnist", d_norm=norm))
    return real, fake, D


def data_parallel_gradients(
    world_size: int = 2, batch_size: int = 16, d_norm: str = "none"
) -> dict[str, torch.Tensor]:
    """D's gradient on one fixed batch, three ways, flattened: ``"data_parallel"``, from
    ``world_size`` processes (gloo, CPU) that each take ``batch_size`` of the images and
    average their gradients as the engine does (:func:`all_reduce_gradients`); ``"ddp"``,
    the same processes through torch's ``DistributedDataParallel``; and ``"one_process"``, one
    process on the whole batch of ``world_size * batch_size``. The loss is D's logistic loss
    (a mean over its batch), D the course's DCGAN discriminator with ``d_norm`` ("none",
    "layer" or "batch": BatchNorm's statistics are per process, so they differ)."""
    import tempfile

    import torch.multiprocessing as mp

    from .losses import d_logistic_loss

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "grads.pt")
        mp.start_processes(
            _gradient_worker,
            args=(world_size, os.path.join(tmp, "init"), batch_size, d_norm, out),
            nprocs=world_size,
            start_method="spawn",
        )
        got = torch.load(out, weights_only=True)
    real, fake, D = _gradient_problem(world_size * batch_size, d_norm)
    d_logistic_loss(D(real), D(fake)).backward()
    whole = torch.cat([p.grad.reshape(-1) for p in D.parameters()])
    return {"data_parallel": got["ours"], "ddp": got["ddp"], "one_process": whole}
