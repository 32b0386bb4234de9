"""The Trainer: time and state of a GAN training run, for every GAN family.

A GAN family (gannotes.gans) owns what one step means: its networks, optimizers, losses and
sampler. The :class:`Trainer` owns everything else, the same for every family:

* seeding and separate random streams (noise, data order, fixed inputs, the step's tricks),
  all checkpointed;
* data: shuffled epochs over Fashion-MNIST, or fresh points of a 2-D toy set;
* budgets in steps or minutes, a learning-rate schedule over every optimizer of the family,
  a progress bar, and a clean stop on Ctrl-C (Jupyter's stop button): the step in progress
  finishes, the run is saved, and :class:`TrainingInterrupted` says where it stopped;
* an open history: its keys are whatever the family's step returns (losses, scores, gradient
  norms, penalties), plus images/s and seconds. The step returns tensors; they are brought to
  the CPU once per ``log_every`` steps, not at every step, so a GPU is never waited for;
* snapshots of the sampler on a fixed batch of inputs, for animations;
* device choice (CUDA, then Apple's MPS, then CPU), an autocast context and gradient scaler
  (no-ops in float32), and an EMA of the networks the family lists;
* atomic checkpoints that resume exactly, and a clean stop when a loss becomes NaN or inf.

Start from :func:`default_config` (the course's recipe for a model and dataset) and
:class:`Trainer`; :func:`load_generator`, :func:`load_networks` and :func:`generate` read runs
back.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import parallel
from .checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    GannotesError,
    load_checkpoint,
    save_checkpoint,
)
from .config import LR_DECAYS, OPTIMIZERS, TrainerConfig
from .data import IMAGE_DATASETS, dataset_tensors, toy_data
from .gans import (
    FAMILIES,
    Family,
    Precision,
    StepContext,
    family_for_config,
    family_for_model,
    to_device,
)
from .gans.classic import ClassicConfig, StepOptions, adversarial_step, d_view
from .gans.family import make_optimizer
from .hardware import limit_threads
from .tricks import ema_copy, ema_decay, ema_update_

__all__ = [
    "OPTIMIZERS",
    "StepOptions",
    "TrainConfig",
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "adversarial_step",
    "config_from_dict",
    "d_view",
    "default_config",
    "generate",
    "load_family",
    "load_generator",
    "load_networks",
    "lr_factor",
    "make_optimizer",
    "select_device",
]

# The classic family's config: one G, one D, an objective and the tricks (gannotes.gans.classic).
TrainConfig = ClassicConfig
TIMING_KEYS = ("images_per_s", "seconds")  # history keys measured by the clock, not the step


def lr_factor(schedule: str, progress: float, start: float = 0.0) -> float:
    """The multiplier of the base learning rates at ``progress`` (0: start, 1: end of budget).

    1 until ``start``; then "linear" falls to 0 at progress 1 and "cosine" follows half a cosine
    to 0. ``""`` (no schedule) is always 1.
    """
    if not schedule:
        return 1.0
    t = min(max((progress - start) / (1.0 - start), 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - t
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr_decay {schedule!r}; valid: {', '.join(map(repr, LR_DECAYS))}")


class TrainingDiverged(GannotesError):
    """A loss became NaN or inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or Jupyter's stop button stopped :meth:`Trainer.run` between two steps; the run is
    saved (with an ``out_dir``) or kept in the Trainer, and continues exactly.

    A KeyboardInterrupt, so that Jupyter's "Run All" stops at the training cell and
    ``except Exception`` never swallows it. Jupyter shows its message alone, one line (no
    traceback: an interrupt's place in the code says nothing); ``%tb`` still prints it.
    """

    def __init__(
        self,
        step: int,
        steps: int | None = None,
        minutes: float | None = None,
        elapsed: float = 0.0,
        checkpoint: Path | None = None,
    ):
        self.step, self.steps, self.minutes = step, steps, minutes
        self.elapsed, self.checkpoint = elapsed, checkpoint
        super().__init__(self.message())

    @property
    def budget(self) -> str:
        """The budget as ``run``'s arguments: ``steps=1500`` or ``minutes=2``."""
        parts = [f"steps={self.steps}"] if self.steps is not None else []
        if self.minutes is not None:
            parts.append(f"minutes={self.minutes:g}")
        return ", ".join(parts)

    def where(self) -> str:
        """``interrupted at step 412 of 1500`` (and the minutes trained of a minutes budget)."""
        text = f"interrupted at step {self.step}"
        if self.steps is not None:
            text += f" of {self.steps}"
        if self.minutes is not None:
            text += f" ({self.elapsed / 60:.2f} of {self.minutes:g} min)"
        return text

    def message(self) -> str:
        resume = f"trainer.run({self.budget})"
        if self.checkpoint is None:
            return (
                f"{self.where()}; the run is kept in the Trainer (no out_dir): continue: {resume}"
            )
        run_dir = str(self.checkpoint.parent)
        return (
            f"{self.where()}; checkpoint saved to {self.checkpoint}; continue: {resume} "
            f"(after a restart: Trainer.resume({run_dir!r}).run({self.budget}))"
        )

    def __reduce__(self):  # pickled (multiprocessing) by its fields, not its message
        return type(self), (self.step, self.steps, self.minutes, self.elapsed, self.checkpoint)

    def _render_traceback_(self) -> list[str]:  # IPython/Jupyter: the one line, no traceback
        return [f"{type(self).__name__}: {self}"]


def default_config(
    model: str = "dcgan", dataset: str | None = None, **overrides: Any
) -> TrainerConfig:
    """The course's recipe for ``model`` on ``dataset`` (default: the model's own data,
    fashion-mnist or edges2fashion for pix2pix), with ``overrides`` applied.

    The family that trains ``model`` holds its recipes (e.g. gannotes.gans.classic.recipe:
    the DCGAN tuned for quality per CPU-minute, the toy MLP with its decay and R1, and the
    Wasserstein settings that ``loss="wasserstein"`` switches on).
    """
    family = family_for_model(model)
    if dataset is None:
        return family.default_config(model, **overrides)
    return family.default_config(model, dataset, **overrides)


def config_from_dict(d: dict[str, Any], family: str = "classic") -> TrainerConfig:
    """A family's config from its ``asdict`` form (a checkpoint's), ignoring unknown keys."""
    if family not in FAMILIES:
        raise CheckpointError(
            f"the checkpoint's GAN family {family!r} is unknown to this gannotes "
            f"(known: {', '.join(FAMILIES)})"
        )
    cls = FAMILIES[family].Config
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in known})


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; anything else is used as given,
    once it is known to exist here (else one line saying what is valid)."""
    if str(device) != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"unknown device {str(device)!r}; valid: auto, cpu, cuda, cuda:N, mps"
            ) from exc
        if dev.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise ValueError(f"device {dev}: CUDA is not available here (use auto or cpu)")
            if dev.index is not None and dev.index >= count:
                raise ValueError(f"device {dev}: only {count} CUDA device(s) here (0-{count - 1})")
        if dev.type == "mps" and not (
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
        ):
            raise ValueError(f"device {dev}: Apple's MPS is not available here (use auto or cpu)")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@torch.no_grad()
def generate(
    G: nn.Module, n: int, *, seed: int = 0, device: str | torch.device = "cpu", batch: int = 1000
) -> torch.Tensor:
    """``n`` samples from ``G`` in eval mode, noise from a generator seeded with ``seed``.

    ``G`` takes z ``[N, G.cfg.z_dim]`` alone (the classic family's generators); a generator that
    needs more (labels, noise maps, an input image) is refused: ``load_family(path).sample(n,
    seed)`` samples a run of any family. The noise is drawn on the CPU so that the same seed
    gives the same samples on any device. Returns a CPU float32 tensor ``[n, *sample_shape]``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n}")
    needs = _needs_besides_z(G)
    if needs:
        raise ValueError(
            f"generate(G, n) feeds G z alone, but a {type(G).__name__} needs {needs}: sample "
            "its run with load_family(path).sample(n, seed) (or trainer.sample(n, seed))"
        )
    z_dim = G.cfg.z_dim
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=gen)
    was_training = G.training
    G.eval()
    try:
        out = [G(chunk.to(device)).float().cpu() for chunk in z.split(batch)]
    finally:
        G.train(was_training)
    return torch.cat(out)


def _needs_besides_z(G: nn.Module) -> str:
    """What ``G`` needs besides z ``[N, G.cfg.z_dim]`` to make samples; "" when z alone."""
    from .models import ConditionalGenerator, StyleGenerator

    if isinstance(G, ConditionalGenerator):
        return "labels"
    if isinstance(G, StyleGenerator):
        return "noise maps (and its family's truncation and mixing)"
    if getattr(getattr(G, "cfg", None), "z_dim", None) is None:
        return "an input (it has no cfg.z_dim: a translator takes images)"
    return ""


class _StopFlag:
    """Turns the first Ctrl-C (or Jupyter's interrupt) into a request, ``requested``: 'stop
    after this step' (Trainer.run then saves and raises TrainingInterrupted). A second Ctrl-C
    interrupts at once, as Python's own handler does."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                self.requested = True
                signal.signal(signal.SIGINT, self._old)  # a second Ctrl-C interrupts at once

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


class Trainer:
    """A GAN training run: a family (networks, optimizers, step), data, RNG state, history,
    snapshots and checkpoints.

    >>> trainer = Trainer(default_config("mlp", "ring"), out_dir=None)
    >>> history = trainer.run(steps=200, progress=False)

    The family's networks and optimizers are ``trainer.networks`` and ``trainer.optimizers``
    (by name); ``trainer.G``, ``trainer.D`` and ``trainer.opt_g`` are shorthands for them.
    """

    def __init__(
        self,
        config: TrainerConfig,
        out_dir: str | Path | None = None,
        *,
        device: str | torch.device = "auto",
        data: torch.Tensor | dict[str, torch.Tensor] | None = None,
    ):
        family_cls = family_for_config(config)
        self.config = config
        self.device = select_device(device)
        if self.device.type == "cpu":
            limit_threads()  # a container's CPU quota (Binder: 1 CPU), not the host's cores
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.precision = Precision(self.device, config.precision)
        # A data-parallel run (gannotes.parallel) when this process is one of several.
        self.distributed = parallel.current()
        rank = self.distributed.rank if self.distributed else 0

        torch.manual_seed(config.seed)
        self.family: Family = family_cls(config, self.device)
        # The EMA copies (when ema > 0) are networks of the family too: "G_ema" is what the
        # family samples from, and what checkpoints' users get from load_generator.
        if config.ema > 0:
            for name in family_cls.ema_networks:
                self.family.networks[f"{name}_ema"] = ema_copy(self.family.networks[name])
        if self.distributed:
            parallel.broadcast_networks(self.family.networks)
        if rank:  # each process its own dropout; rank 0 keeps a one-process run's stream
            torch.manual_seed(config.seed + 7919 * rank)  # (and its GPU's, for GPU dropout)
        self.compiled: list[str] = []  # networks compiled (config.compile)
        self.not_compiled: dict[str, str] = {}  # network -> why it was left uncompiled
        self._prepare_networks()
        self.ema_updates = 0
        # The schedule scales each parameter group's rate as the family built it.
        self._base_lrs = {
            name: [group["lr"] for group in opt.param_groups]
            for name, opt in self.family.optimizers.items()
        }

        # Separate generators: noise, data order, fixed inputs, the step's other randomness
        # (instance noise, augmentation, label flips, interpolation points). Their states go in
        # checkpoints. In a data-parallel run each process draws its own noise and tricks (rank 0
        # draws what a one-process run draws); the data order and fixed inputs are shared.
        self.noise_gen = torch.Generator().manual_seed(config.seed + 1 + 7919 * rank)
        self.data_gen = torch.Generator().manual_seed(config.seed + 2)
        fixed_gen = torch.Generator().manual_seed(config.seed + 3)
        self.trick_gen = torch.Generator().manual_seed(config.seed + 4 + 7919 * rank)
        self.fixed = self.family.latent(config.n_fixed, fixed_gen)

        self.data_source = ""
        # The fields of the data the family's batches hold (images; images and labels; edges
        # and images), aligned by index; None for the toy sets (fresh points every batch).
        self.data: dict[str, torch.Tensor] | None = None
        if config.dataset in IMAGE_DATASETS:
            if data is None:
                data, self.data_source = dataset_tensors(
                    config.dataset, "train", limit=config.data_limit, classes=config.classes
                )
            else:
                self.data_source = "tensors given to Trainer"
                if config.classes:
                    data = _select_classes(data, config.classes)
                    self.data_source += f" (classes {','.join(map(str, config.classes))})"
            self.data = self._check_data(data, family_cls)
        else:
            self.data_source = f"{config.dataset} toy distribution"
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

        self.step = 0
        self.elapsed = 0.0
        self.budget_steps: int | None = None  # the budget of the current run() (lr schedule)
        self.budget_s: float | None = None
        self.history: dict[str, list] = {"step": []}
        # Steps not yet in the history: their statistics as the step returned them (tensors on
        # the device), then, once transferred, as floats (with each step's seconds).
        self._pending: list[tuple[int, dict[str, torch.Tensor], float]] = []
        self._unlogged: list[tuple[int, dict[str, float], float]] = []
        self.snapshots: list[torch.Tensor] = []
        self.snapshot_steps: list[int] = []
        self.snapshot_every = config.snapshot_every
        self.amp_skipped = 0  # fp16 steps the scaler skipped (inf or NaN gradients)
        self._skipped_streak = 0  # fp16 steps skipped in a row

    def _prepare_networks(self) -> None:
        """Apply the hardware knobs to the networks being trained: channels-last memory
        format, and torch.compile (in place, so state dicts keep their names) for every
        network that no penalty differentiates twice (compile has no double backward)."""
        cfg = self.config
        if cfg.channels_last:
            for net in self.family.networks.values():
                net.to(memory_format=torch.channels_last)
        if not cfg.compile:
            return
        twice = self.family.differentiated_twice()
        for name in self.family.optimizers:
            if name in twice:
                self.not_compiled[name] = twice[name]
                continue
            for module in self.family.compiled_modules(name):
                module.compile()
            self.compiled.append(name)

    def _check_data(self, data: Any, family_cls: type[Family]) -> dict[str, torch.Tensor]:
        """The fields the family needs, checked (aligned, images [N, 1, 28, 28], at least a
        batch), on the device. ``data`` is a dict of fields or a tensor of images."""
        fields = data if isinstance(data, dict) else {"images": data}
        missing = [f for f in family_cls.data_fields if f not in fields]
        if missing:
            raise ValueError(
                f"the {family_cls.name} family trains on {', '.join(family_cls.data_fields)}; "
                f"the data given has no {', '.join(missing)}"
            )
        fields = {f: fields[f] for f in family_cls.data_fields}
        n = len(fields[family_cls.data_fields[0]])
        for name, t in fields.items():
            if name != "labels" and tuple(t.shape[1:]) != (1, 28, 28):
                raise ValueError(f"{name} must be [N, 1, 28, 28], got {tuple(t.shape)}")
            if len(t) != n:
                raise ValueError(f"the data's fields differ in length: {len(t)} {name}, not {n}")
        if n < self.config.batch_size:
            raise ValueError(f"{n} images are fewer than one batch of {self.config.batch_size}")
        return {name: t.to(self.device) for name, t in fields.items()}

    @property
    def n_data(self) -> int:
        """How many training examples the run's data holds (0 for a toy set)."""
        return 0 if self.data is None else len(next(iter(self.data.values())))

    # ------------------------------------------------------------------ the family's parts
    @property
    def networks(self) -> dict[str, nn.Module]:
        return self.family.networks

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.family.optimizers

    def __getattr__(self, name: str) -> Any:
        # Shorthands: trainer.G is the family's network "G", trainer.opt_g its optimizer "G",
        # trainer.G_ema the EMA copy of G (None without EMA), trainer.model_cfg the family's.
        family = self.__dict__.get("family")
        if family is None:
            raise AttributeError(name)
        if name in family.networks:
            return family.networks[name]
        if name.endswith("_ema") and name[:-4] in type(family).ema_networks:
            return None
        if name.startswith("opt_") and name[4:].upper() in family.optimizers:
            return family.optimizers[name[4:].upper()]
        if name == "model_cfg" and hasattr(family, "model_cfg"):
            return family.model_cfg
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def sampling_generator(self) -> nn.Module:
        """The network samples come from (the EMA copy when ``ema > 0``)."""
        return self.family.sampling_network

    @property
    def fixed_z(self) -> Any:
        """The fixed inputs of the snapshots (for the classic family: a batch of z)."""
        return self.fixed

    # ------------------------------------------------------------------ data and noise
    def noise(self, n: int) -> torch.Tensor:
        """The family's latent inputs for ``n`` samples, from the run's noise stream."""
        return to_device(self.family.latent(n, self.noise_gen), self.device)

    def real_batch(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The next real batch: shuffled epochs over the data, or fresh toy points. A tensor
        when the family trains on one field (images), else a tuple in the order of its
        ``data_fields`` (e.g. images and labels)."""
        b = self.config.batch_size
        if self.data is None:
            # toy points are fresh draws: each process draws its own from the shared stream's
            # rank-th batch of the step
            world, rank = self._world()
            points = [
                toy_data(self.config.dataset, b, generator=self.data_gen) for _ in range(world)
            ]
            return points[rank].to(self.device)
        # A data-parallel run takes world x b indices of the shared epoch order per batch, and
        # each process the rank-th b of them: the processes together see what one process with
        # the world-times batch would.
        world, rank = self._world()
        if self._pos + world * b > len(self._perm):
            self._perm = torch.randperm(self.n_data, generator=self.data_gen)
            self._pos = 0
        start = self._pos + rank * b
        idx = self._perm[start : start + b].to(self.device)
        self._pos += world * b
        batch = tuple(self._memory_format(t[idx]) for t in self.data.values())
        return batch[0] if len(batch) == 1 else batch

    def _world(self) -> tuple[int, int]:
        d = self.distributed
        return (d.world_size, d.rank) if d else (1, 0)

    def _memory_format(self, t: torch.Tensor) -> torch.Tensor:
        if self.config.channels_last and t.ndim == 4:
            return t.contiguous(memory_format=torch.channels_last)
        return t

    # ------------------------------------------------------------------ training
    def progress(self) -> float:
        """How far the lr schedule is: step / lr_decay_steps when set; else how much of the
        current budget is spent, step / steps or elapsed / budget (0 outside :meth:`run`)."""
        if self.config.lr_decay_steps:
            return self.step / self.config.lr_decay_steps
        done = 0.0
        if self.budget_steps is not None:
            done = max(done, self.step / self.budget_steps)
        if self.budget_s is not None:
            done = max(done, self.elapsed / self.budget_s)
        return done

    @property
    def schedule_finished(self) -> bool:
        """True once a fixed-horizon decay (``lr_decay_steps``) has brought the rates to 0."""
        cfg = self.config
        return bool(cfg.lr_decay and cfg.lr_decay_steps and self.step >= cfg.lr_decay_steps)

    def _set_learning_rates(self) -> None:
        """Apply ``lr_decay`` to every optimizer: the rates follow from the progress alone."""
        cfg = self.config
        if not cfg.lr_decay:
            return
        f = lr_factor(cfg.lr_decay, self.progress(), cfg.lr_decay_start)
        for name, opt in self.family.optimizers.items():
            for group, lr in zip(opt.param_groups, self._base_lrs[name], strict=True):
                group["lr"] = lr * f

    def reconfigure(self, **changes: Any) -> None:
        """Change knobs of the running trainer, from the next step on (GAN Lab's sliders).

        The new config is validated as a whole first (a bad value raises ValueError and changes
        nothing). Knobs declared ``rebuild`` (they change networks, optimizers or data) are
        refused: make a new Trainer for those; so is a penalty switched on that would
        differentiate a compiled network twice (``compile``). A learning-rate knob rescales its
        optimizer's rates at once.
        """
        from dataclasses import replace

        from .config import knobs

        specs = knobs(self.config)
        for name in changes:
            if name not in specs:
                raise ValueError(f"unknown knob {name!r} for {type(self.config).__name__}")
            if specs[name].rebuild:
                raise ValueError(f"{name} changes the networks or data: it needs a new Trainer")
        new = replace(self.config, **changes)  # runs every check
        # A penalty switched on that differentiates a compiled network twice: compile has no
        # double backward, and the network was compiled when the Trainer was built.
        self.family.config = new
        try:
            twice = self.family.differentiated_twice()
        finally:
            self.family.config = self.config
        for name in self.compiled:
            if name in twice:
                raise ValueError(
                    f"{twice[name]} differentiates {name} twice, which the compiled {name} of "
                    "this Trainer cannot: make a new Trainer (it leaves it uncompiled)"
                )
        for opt_name, knob_name in type(self.family).learning_rates.items():
            old_lr, new_lr = getattr(self.config, knob_name), getattr(new, knob_name)
            if new_lr != old_lr:
                opt = self.optimizers[opt_name]
                self._base_lrs[opt_name] = [lr * new_lr / old_lr for lr in self._base_lrs[opt_name]]
                for group, lr in zip(opt.param_groups, self._base_lrs[opt_name], strict=True):
                    group["lr"] = lr
        self.config = self.family.config = new

    def step_context(self) -> StepContext:
        """What the family's step gets of the run at the current step."""
        return StepContext(
            step=self.step,
            device=self.device,
            noise=self.noise,
            trick_gen=self.trick_gen,
            precision=self.precision,
            all_reduce=parallel.all_reduce_gradients if self.distributed else None,
        )

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step of the family (for the classic family: k D-updates, one G-update).

        Returns the step's statistics as tensors on the device (``float(t)`` reads one; that
        waits for the device). :meth:`run` checks them for NaN and inf when it logs.
        """
        batches = [self.real_batch() for _ in range(self.family.batches_per_step())]
        self._set_learning_rates()
        ctx = self.step_context()
        stats = self.family.step(batches, ctx)
        if self.precision.scaler.is_enabled():  # fp16: the factor now, and whether any of the
            # step's optimizer steps was skipped (the scaler updates after each of them)
            skipped = ctx.skipped if ctx.skipped is not None else torch.zeros(())
            stats = {
                **stats,
                "amp_scale": self.precision.scale_tensor(),
                "amp_skipped": (skipped > 0).float(),
            }
        if self.distributed:  # BatchNorm's running statistics, the same in every process
            parallel.average_buffers(self.networks)
        if self.config.ema > 0 and self.family.ema_active(self.step):
            decay = ema_decay(self.config.ema, self.ema_updates)
            for name in type(self.family).ema_networks:
                ema_update_(self.networks[f"{name}_ema"], self.networks[name], decay)
            self.ema_updates += 1
        self.step += 1
        return stats

    # fp16: how many steps in a row the gradient scaler may skip (each halves its factor: 40
    # halvings take 2^16 to 2^-24) before the run counts as diverged
    MAX_SKIPPED_IN_A_ROW = 40

    def _transfer(self) -> None:
        """Bring the pending steps' statistics to the CPU (one transfer for all of them; in a
        data-parallel run, their mean over the processes) and raise TrainingDiverged at the
        first step with a non-finite loss.

        Under fp16 the gradient scaler skips a step whose gradients overflowed (its factor,
        logged as ``amp_scale``, then falls): such steps are counted (``amp_skipped``, a column
        of the history too), their non-finite values left out of the history, and only
        :attr:`MAX_SKIPPED_IN_A_ROW` skips in a row count as diverged."""
        if not self._pending:
            return
        flat = torch.stack([v.float() for _, s, _ in self._pending for v in s.values()])
        if self.distributed:
            flat = parallel.all_reduce_mean(flat)
        flat = flat.tolist()
        i = 0
        scaled = self.precision.scaler.is_enabled()
        for step, stats, seconds in self._pending:
            row = dict(zip(stats, flat[i : i + len(stats)], strict=True))
            i += len(stats)
            losses = {k: v for k, v in row.items() if k.startswith("loss")}
            finite = all(math.isfinite(v) for v in losses.values())
            if scaled:
                skipped = not finite or row["amp_skipped"] > 0
                self._skipped_streak = self._skipped_streak + 1 if skipped else 0
                self.amp_skipped += skipped
                if self._skipped_streak < self.MAX_SKIPPED_IN_A_ROW:
                    row = {k: v for k, v in row.items() if math.isfinite(v)}
                    row["amp_skipped"] = float(skipped)
                    self._unlogged.append((step, row, seconds))
                    continue
            if not finite or scaled:
                kept = self.checkpoint_path
                where = (
                    f"the last good checkpoint is kept at {kept}"
                    if kept and kept.exists()
                    else "no checkpoint was written yet"
                )
                shown = ", ".join(f"{k}={v}" for k, v in losses.items())
                streak = f" ({self._skipped_streak} fp16 steps in a row skipped)" if scaled else ""
                raise TrainingDiverged(
                    f"training diverged at step {step + 1}: {shown}{streak}; {where}. "
                    "Try lower learning rates."
                )
            self._unlogged.append((step, row, seconds))
        self._pending = []

    def _log(self) -> dict[str, float]:
        """Append one history row: the mean of each statistic over the steps since the last
        row, the images per second of training time, and the training time so far."""
        self._transfer()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for _, stats, _ in self._unlogged:
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
        # every process's images (a data-parallel run sees world x batch_size per batch)
        seen = (
            len(self._unlogged)
            * self.config.batch_size
            * self.family.batches_per_step()
            * self._world()[0]
        )
        seconds = sum(t for _, _, t in self._unlogged)
        self._unlogged = []
        row = {"step": self.step, **{k: sums[k] / counts[k] for k in sums}}
        row.update(images_per_s=seen / max(seconds, 1e-9), seconds=self.elapsed)
        n_rows = len(self.history["step"])
        for k, v in row.items():
            # a statistic seen for the first time: earlier rows did not have it
            self.history.setdefault(k, [math.nan] * n_rows).append(v)
        for v in self.history.values():
            if len(v) == n_rows:  # a statistic this step did not return
                v.append(math.nan)
        return row

    def run(
        self,
        steps: int | None = None,
        minutes: float | None = None,
        *,
        progress: bool = True,
        callback: Callable[[Trainer, dict], None] | None = None,
    ) -> dict[str, list]:
        """Train until ``steps`` total steps or ``minutes`` total minutes (counting earlier runs).

        Returns the history. With an ``out_dir`` a checkpoint is written every
        ``checkpoint_every`` steps and at the end. ``callback(trainer, row)`` is called with
        each new history row.

        An interrupt (Ctrl-C, Jupyter's stop button) finishes the current step, saves (with an
        ``out_dir``; else the state stays in the Trainer) and raises
        :class:`TrainingInterrupted`, a KeyboardInterrupt whose one line says the step reached
        and how to continue: ``run`` again with the same budget resumes exactly. Raising, not
        returning, is what stops Jupyter's "Run All" at this cell.
        """
        if steps is None and minutes is None:
            raise ValueError("give a budget: steps (total steps) or minutes (total minutes)")
        if steps is not None and steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        if minutes is not None and not minutes > 0:
            raise ValueError(f"minutes must be positive, got {minutes}")
        from tqdm.auto import tqdm

        budget_s = None if minutes is None else 60.0 * minutes
        self.budget_steps, self.budget_s = steps, budget_s  # for the lr schedule
        cfg = self.config
        main = self.distributed is None or self.distributed.is_main
        bar = tqdm(
            total=steps if steps is not None else None,
            initial=self.step if steps is not None else 0,
            disable=not (progress and main),
            desc=f"{cfg.model} on {cfg.dataset}",
            unit="step",
        )
        if self.step == 0 and not self.snapshots:
            self._snapshot()
        interrupted = False
        try:
            with _StopFlag() as stop:
                while True:
                    if steps is not None and self.step >= steps:
                        break
                    stop_now = stop.requested
                    if self.distributed:  # every process stops at the same step
                        self.elapsed, agreed_stop = parallel.agree(
                            [self.elapsed, float(stop.requested)], self.device
                        )
                        stop_now = agreed_stop > 0
                    if budget_s is not None and self.elapsed >= budget_s:
                        break
                    if self.schedule_finished:
                        break  # the learning rates are 0: more steps would not move G
                    if stop_now:
                        interrupted = True
                        break
                    t0 = time.perf_counter()
                    step = self.step
                    stats = self.train_step()
                    seconds = time.perf_counter() - t0
                    self.elapsed += seconds
                    self._pending.append((step, stats, seconds))
                    if self.step % cfg.log_every == 0:
                        row = self._log()
                        shown = [k for k in row if k not in ("step", *TIMING_KEYS)][:4]
                        bar.set_postfix({k: f"{row[k]:.3g}" for k in shown})
                        if callback is not None:
                            callback(self, row)
                    if self.step % self.snapshot_every == 0:
                        self._snapshot()
                    if self.out_dir is not None and self.step % cfg.checkpoint_every == 0:
                        self.save()  # (save() checks the pending steps first)
                    bar.update(1)
            self._transfer()  # a partial interval waits for its row (in checkpoints too)
        finally:
            bar.close()
        if self.out_dir is not None:
            self.save()
        if interrupted:
            raise TrainingInterrupted(
                self.step, steps, minutes, elapsed=self.elapsed, checkpoint=self.checkpoint_path
            )
        return self.history

    def _snapshot(self) -> None:
        """The sampler on the fixed inputs now, kept for animations: uint8 images or float
        points, on the CPU."""
        if self.snapshot_steps and self.snapshot_steps[-1] == self.step:
            return
        out = self.family.generate(self.fixed)
        if out.ndim == 4:
            out = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.snapshots.append(out)
        self.snapshot_steps.append(self.step)
        if len(self.snapshots) > self.config.max_snapshots:
            self.snapshots = self.snapshots[::2]
            self.snapshot_steps = self.snapshot_steps[::2]
            self.snapshot_every *= 2

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples from the family's sampler (its EMA when ``ema > 0``), reproducible
        with ``seed``."""
        return self.family.sample(n, seed=seed)

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / CHECKPOINT_NAME

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (checkpoint format 2); loadable with
        ``weights_only=True``. Raises TrainingDiverged rather than describe a diverged run."""
        self._transfer()
        model_cfg = getattr(self.family, "model_cfg", None)
        return {
            "family": self.family.name,
            "config": asdict(self.config),
            "model_config": asdict(model_cfg) if model_cfg is not None else {},
            "networks": {k: net.state_dict() for k, net in self.networks.items()},
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "scaler": self.precision.scaler.state_dict(),
            "family_state": self.family.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "ema_updates": self.ema_updates,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": self._gpu_rng_state(),  # this process's own GPU's (None off CUDA)
                "noise": self.noise_gen.get_state(),
                "data": self.data_gen.get_state(),
                "tricks": self.trick_gen.get_state(),
            },
            "data": {
                "source": self.data_source,
                "n": self.n_data,
                "perm": self._perm,
                "pos": self._pos,
            },
            "fixed": self.fixed,
            "history": self.history,
            "unlogged": [list(entry) for entry in self._unlogged],  # steps since the last row
            "snapshots": self.snapshots,
            "snapshot_steps": self.snapshot_steps,
            "snapshot_every": self.snapshot_every,
            "amp_skipped": self.amp_skipped,
            "skipped_streak": self._skipped_streak,
            "world_size": self._world()[0],
            # a data-parallel run: each process's own random streams and family state (a
            # running mean, an image pool of its own fakes), by rank
            "rng_ranks": parallel.gather(self._rank_rng()) if self.distributed else [],
            "family_state_ranks": (
                parallel.gather(self.family.state_dict()) if self.distributed else []
            ),
        }

    def _rank_rng(self) -> dict[str, torch.Tensor | None]:
        return {
            "torch": torch.get_rng_state(),
            "cuda": self._gpu_rng_state(),
            "noise": self.noise_gen.get_state(),
            "tricks": self.trick_gen.get_state(),
        }

    def _gpu_rng_state(self) -> torch.Tensor | None:
        """The random state of this process's own GPU (GPU dropout); None off CUDA. Only the
        own GPU's: each process of a data-parallel run has its own, and another machine may
        see fewer GPUs."""
        return torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None

    def _set_gpu_rng_state(self, saved: torch.Tensor | list | None) -> None:
        """Restore this process's own GPU's random state: ``saved`` is that state, or, from
        checkpoints that kept every GPU's (torch.cuda.get_rng_state_all), the list by GPU
        index, of which only the own GPU's entry is used (when there is one). Off CUDA, or
        from a checkpoint written off CUDA, nothing is set."""
        if self.device.type != "cuda" or saved is None:
            return
        if isinstance(saved, list | tuple):
            index = self.device.index
            index = torch.cuda.current_device() if index is None else index
            if index >= len(saved):
                return
            saved = saved[index]
        torch.cuda.set_rng_state(saved, self.device)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a run from a checkpoint's state (format 2, as load_checkpoint returns).

        Every check comes before anything is loaded: a refused state (another model, data or
        number of processes) raises and leaves the Trainer as it was."""
        self._check_state(state)
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            _load_optimizer_state(opt, state["optimizers"][name])
        if state.get("scaler"):
            self.precision.scaler.load_state_dict(state["scaler"])
        self.family.load_state_dict(state.get("family_state", {}))
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.ema_updates = int(state.get("ema_updates", 0))
        torch.set_rng_state(state["rng"]["torch"])
        self._set_gpu_rng_state(state["rng"].get("cuda"))
        self.noise_gen.set_state(state["rng"]["noise"])
        self.data_gen.set_state(state["rng"]["data"])
        if "tricks" in state["rng"]:  # checkpoints from before the tricks lack it
            self.trick_gen.set_state(state["rng"]["tricks"])
        self._perm = state["data"]["perm"]
        self._pos = int(state["data"]["pos"])
        self.fixed = state["fixed"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.history.setdefault("step", [])
        self._pending = []
        self._unlogged = [(int(s), dict(r), float(t)) for s, r, t in state.get("unlogged", [])]
        self.snapshots = list(state["snapshots"])
        self.snapshot_steps = list(state["snapshot_steps"])
        self.snapshot_every = int(state["snapshot_every"])
        self.amp_skipped = int(state.get("amp_skipped", 0))
        self._skipped_streak = int(state.get("skipped_streak", 0))
        if self.distributed:  # this process's own streams
            self.family.load_state_dict(state["family_state_ranks"][self.distributed.rank])
            own = state["rng_ranks"][self.distributed.rank]
            torch.set_rng_state(own["torch"])
            if "cuda" in own:  # (checkpoints from before kept every GPU's state in "rng")
                self._set_gpu_rng_state(own["cuda"])
            self.noise_gen.set_state(own["noise"])
            self.trick_gen.set_state(own["tricks"])

    def _check_state(self, state: dict[str, Any]) -> None:
        """Raise (one line) when ``state`` cannot resume this run; changes nothing."""
        if state.get("exported"):
            raise CheckpointError(
                "this file holds exported weights only (no optimizer or random state): it "
                "samples and translates (load_family, `gannotes sample`), it does not resume"
            )
        n = self.n_data
        if state["data"]["n"] != n:
            raise GannotesError(
                f"the run was trained on {state['data']['n']} images ({state['data']['source']}) "
                f"but {n} were found now ({self.data_source}); resume where the same data exists"
            )
        if state["family"] != self.family.name:
            raise CheckpointError(
                f"the checkpoint holds a {state['family']} run, not {self.family.name}"
            )
        world = self._world()[0]
        if int(state.get("world_size", 1)) != world:
            raise GannotesError(
                f"the run was trained with {state.get('world_size', 1)} process(es), this is "
                f"{world}: resume it with the same number (torchrun --nproc_per_node "
                f"{state.get('world_size', 1)}), since each process's random state is in the "
                "checkpoint"
            )
        if self.distributed and not (
            len(state.get("rng_ranks", [])) == len(state.get("family_state_ranks", [])) == world
        ):
            raise CheckpointError(
                f"the checkpoint lacks the random state of each of its {world} processes"
            )
        for kind, own, saved in (
            ("networks", self.networks, state["networks"]),
            ("optimizers", self.optimizers, state["optimizers"]),
        ):
            if set(saved) != set(own):
                raise CheckpointError(
                    f"the checkpoint's {kind} {sorted(saved)} differ from this run's {sorted(own)}"
                )
        for name, net in self.networks.items():
            _check_network_state(name, net, state["networks"][name])
        for name, opt in self.optimizers.items():
            _check_optimizer_state(name, opt, state["optimizers"][name])

    def save(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint atomically (default: ``out_dir/checkpoint.pt``)."""
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise GannotesError("this run has no out_dir; give save() a path")
        state = self.state_dict()  # every process takes part (it gathers their random states)
        if self.distributed and not self.distributed.is_main:
            return path  # rank 0 writes
        return save_checkpoint(path, state)

    @classmethod
    def resume(
        cls,
        path: str | Path,
        *,
        device: str | torch.device = "auto",
        data: torch.Tensor | None = None,
    ) -> Trainer:
        """Rebuild a run from its checkpoint (a run directory or a .pt file), either format."""
        state = load_checkpoint(path)
        config = config_from_dict(state["config"], state["family"])
        run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
        trainer = cls(config, out_dir=run_dir, device=device, data=data)
        trainer.load_state_dict(state)
        return trainer


def _select_classes(data: Any, classes: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """The examples of ``data`` (a dict of aligned fields with ``labels``) of those classes."""
    if not isinstance(data, dict) or "labels" not in data:
        raise ValueError("config.classes filters by label: give the Trainer data with 'labels'")
    labels = data["labels"]
    keep = torch.isin(labels, torch.tensor(classes, dtype=labels.dtype, device=labels.device))
    return {name: t[keep] for name, t in data.items()}


def _check_network_state(name: str, net: nn.Module, saved: dict[str, torch.Tensor]) -> None:
    """Raise unless ``saved`` loads into ``net`` (the same entries, of the same shapes): the
    check ``load_state_dict`` makes, before anything is copied."""
    own = net.state_dict()
    if set(saved) != set(own) or any(
        tuple(saved[k].shape) != tuple(v.shape) for k, v in own.items()
    ):
        raise CheckpointError(
            f"the checkpoint's network {name!r} has other layers or sizes than this run's: it "
            "belongs to a different model"
        )


def _check_optimizer_state(name: str, opt: torch.optim.Optimizer, saved: dict) -> None:
    """Raise unless ``saved`` fits ``opt``: as many parameter groups, as many parameters in each."""
    sizes = [len(g["params"]) for g in opt.param_groups]
    if [len(g["params"]) for g in saved["param_groups"]] != sizes:
        raise CheckpointError(
            f"the checkpoint's optimizer {name!r} has {len(saved['param_groups'])} parameter "
            f"groups, this model's has {len(sizes)} (or their sizes differ): it belongs to a "
            "different model"
        )


def _load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load ``state`` but keep this optimizer's kernel choice (fused or not): a checkpoint
    written where the fused kernel exists must resume where it does not, and vice versa."""
    kernels = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in opt.param_groups]
    groups = [{**s, **k} for s, k in zip(state["param_groups"], kernels, strict=True)]
    opt.load_state_dict({**state, "param_groups": groups})  # torch places state for the kernel


def load_family(path: str | Path, device: str | torch.device = "cpu") -> Family:
    """The GAN family of a checkpoint (run directory or .pt file, either format) with every
    network loaded, in eval mode: ``family.sample(n, seed)`` draws from it, whatever the
    family."""
    state = load_checkpoint(path)
    config = config_from_dict(state["config"], state["family"])
    family = FAMILIES[state["family"]](config, torch.device(device))
    for name, sd in state["networks"].items():
        if name not in family.networks and name.endswith("_ema"):
            family.networks[name] = ema_copy(family.networks[name[:-4]])
        if name not in family.networks:
            raise CheckpointError(f"the checkpoint has a network {name!r} its family does not")
        family.networks[name].load_state_dict(sd)
        family.networks[name].to(device).eval()
    family.load_state_dict(state.get("family_state", {}))
    return family


def load_networks(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[dict[str, nn.Module], TrainerConfig]:
    """Every network of a checkpoint (run directory or .pt file), in eval mode, and the run's
    config: for the classic family ``{"G": ..., "D": ...}`` plus ``"G_ema"`` when the run kept
    an EMA of G. Works for checkpoints of either format and every family."""
    family = load_family(path, device)
    return dict(family.networks), family.config


def load_generator(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainerConfig]:
    """The network to sample from in a checkpoint (run directory or .pt file), and the run's
    config. When the run kept an EMA of the generator (``ema > 0``), that average is returned:
    it is the one to sample from. For runs whose generator takes z alone (the classic family,
    ready for :func:`generate`); any other run is refused in favour of
    ``load_family(path).sample(n, seed)``, which samples every family."""
    family = load_family(path, device)
    G = family.sampling_network
    needs = _needs_besides_z(G)
    own_sampler = type(family).sample is not Family.sample or (
        type(family).generate is not Family.generate
    )
    if needs or own_sampler:
        needs = needs or "its family's own sampler"
        raise GannotesError(
            f"a {family.name} run's generator needs {needs}, not z alone: sample it with "
            "load_family(path).sample(n, seed)"
        )
    return G, family.config
