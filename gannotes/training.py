"""Training a GAN: one adversarial step, and a loop around it that a learner can trust.

The step (Algorithm 1 of Goodfellow et al. 2014) is a short function of its own,
:func:`adversarial_step`: k discriminator updates on fresh real and generated batches, then one
generator update through a frozen discriminator. The :class:`Trainer` adds what a real run needs:
seeding, device choice (CUDA, then Apple's MPS, then CPU), a progress bar, a history of losses,
D(x), D(G(z)) and images/s, snapshots of a fixed noise batch for animations, a budget in steps or
minutes, atomic checkpoints that resume exactly, and a clean stop when a loss becomes NaN or inf.

Every training trick of gannotes.tricks is a :class:`TrainConfig` field, off by default (the
plain recipe): label smoothing and noisy labels, instance noise, gradient clipping,
DiffAugment, minibatch std, PacGAN packing, RMSprop, an EMA of G, spectral normalisation of D
and pre-training D. The step applies the ones that act on a batch (:class:`StepOptions`); the
Trainer applies the ones that act on models and optimizers.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    GannotesError,
    load_checkpoint,
    save_checkpoint,
)
from .data import DATASETS, TOY_DATASETS, load_fashion_mnist, toy_data
from .hardware import limit_threads
from .losses import G_LOSSES, d_logistic_loss, d_loss_with_targets, g_loss, r1_penalty
from .models import MODELS, DCGANConfig, MLPConfig, build_models, config_for
from .tricks import (
    IMAGE_AUGMENTS,
    POINT_AUGMENTS,
    add_instance_noise,
    apply_spectral_norm,
    diff_augment,
    ema_copy,
    ema_decay,
    ema_update_,
    flip_labels,
    instance_noise_std,
    pack,
    parse_policy,
    smooth_targets,
)

__all__ = [
    "OPTIMIZERS",
    "StepOptions",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "adversarial_step",
    "default_config",
    "generate",
    "load_generator",
    "lr_factor",
    "select_device",
]

HISTORY_KEYS = (
    "step",
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "grad_norm_d",  # L2 norm of D's gradient (all parameters, before clipping)
    "grad_norm_g",
    "images_per_s",
    "seconds",
)
OPTIMIZERS = ("adam", "rmsprop")
LR_DECAYS = ("", "linear", "cosine")


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


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint)."""

    model: str = "dcgan"  # "mlp" or "dcgan"
    dataset: str = "fashion-mnist"  # "fashion-mnist", "ring" or "grid"
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # Adam, as in DCGAN
    d_steps: int = 1  # k: discriminator updates per generator update
    g_loss: str = "nonsaturating"  # or "minimax"
    seed: int = 0
    data_limit: int | None = None  # use only the first N training images
    log_every: int = 10  # history resolution, in steps
    snapshot_every: int = 50  # steps between snapshots of the fixed noise batch
    max_snapshots: int = 120  # past this, every other snapshot is dropped
    checkpoint_every: int = 500  # steps between checkpoints (when the run has a directory)
    n_fixed: int = 64  # size of the fixed noise batch
    model_config: dict = field(default_factory=dict)  # overrides of the model's config
    # Tricks (gannotes.tricks). The defaults are the plain recipe: every trick off.
    label_smoothing: float = 0.0  # one-sided: D's real target is 1 - label_smoothing (0.1: 0.9)
    label_noise: float = 0.0  # probability of flipping each of D's labels
    instance_noise: float = 0.0  # initial std of instance noise on D's inputs, real and fake ...
    instance_noise_steps: int = 2000  # ... annealed linearly to 0 over this many steps
    grad_clip: float | None = None  # clip the gradient norm of D and of G to this value
    r1: float = 0.0  # R1 penalty (Mescheder et al. 2018): gamma on D's gradient at reals; 0 = off
    r1_every: int = 1  # lazy R1 (StyleGAN2): the penalty, times r1_every, on every r1_every-th step
    augment: str = ""  # DiffAugment policy on every input of D, e.g. "color,translation,cutout"
    minibatch_std: bool = False  # minibatch standard deviation feature in D
    pack: int = 1  # PacGAN: D judges this many samples at once
    optimizer: str = "adam"  # "adam" (with betas) or "rmsprop"
    ema: float = 0.0  # decay of the EMA of G's weights used for sampling; 0 = off
    spectral_norm: bool = False  # spectral normalisation of D's layers
    d_pretrain_steps: int = 0  # D-only steps (against the untrained G) before G starts
    # Learning-rate schedule: "" keeps lr_g and lr_d constant; "linear" or "cosine" decays both
    # to 0, starting at the fraction lr_decay_start of the horizon. The horizon is
    # lr_decay_steps steps when set (independent of the budget, so "20 steps, then resume to 40"
    # equals 40 straight), else the budget of the current run (steps, or minutes of training
    # time; extending a finished run's budget then stretches its schedule). The rate is a
    # function of the progress only, so an interrupted run resumes on the same schedule. A run
    # stops at the end of a fixed horizon, whatever its budget: the rates are 0 from there on.
    lr_decay: str = ""
    lr_decay_start: float = 0.0
    lr_decay_steps: int = 0

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid models are {', '.join(MODELS)}")
        if self.dataset not in DATASETS:
            raise ValueError(
                f"unknown dataset {self.dataset!r}; valid datasets are {', '.join(DATASETS)}"
            )
        if self.g_loss not in G_LOSSES:
            raise ValueError(f"unknown g_loss {self.g_loss!r}; valid: {', '.join(G_LOSSES)}")
        for name in ("batch_size", "d_steps", "log_every", "snapshot_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not (self.lr_g > 0 and self.lr_d > 0):
            raise ValueError(f"learning rates must be positive, got {self.lr_g}, {self.lr_d}")
        self.betas = tuple(self.betas)
        self._check_tricks()
        self.model_cfg()  # validates model_config and the model/dataset pair

    def _check_tricks(self) -> None:
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.label_noise <= 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5], got {self.label_noise}")
        if not (0 <= self.instance_noise < math.inf):
            raise ValueError(f"instance_noise must be a std >= 0, got {self.instance_noise}")
        if self.instance_noise_steps < 1:
            raise ValueError(
                f"instance_noise_steps must be a positive integer, got {self.instance_noise_steps}"
            )
        if self.grad_clip is not None and not (0 < self.grad_clip < math.inf):
            raise ValueError(f"grad_clip must be positive (or None: off), got {self.grad_clip}")
        valid = POINT_AUGMENTS if self.dataset in TOY_DATASETS else IMAGE_AUGMENTS
        for name in parse_policy(self.augment):  # raises on unknown names
            if name not in valid:
                raise ValueError(
                    f"augment {name!r} does not apply to {self.dataset}; valid: {', '.join(valid)}"
                )
        if self.pack < 1:
            raise ValueError(f"pack must be a positive integer, got {self.pack}")
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size {self.batch_size} must be divisible by pack {self.pack}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
            )
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be a decay in [0, 1) (0: off), got {self.ema}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(
                f"unknown lr_decay {self.lr_decay!r}; valid: {', '.join(map(repr, LR_DECAYS))}"
            )
        if not 0 <= self.r1 < math.inf:
            raise ValueError(f"r1 must be a finite gamma >= 0 (0: off), got {self.r1}")
        if self.r1_every < 1:
            raise ValueError(f"r1_every must be a positive number of steps, got {self.r1_every}")
        if self.lr_decay_steps < 0:
            raise ValueError(
                f"lr_decay_steps must be >= 0 (0: the budget), got {self.lr_decay_steps}"
            )
        if not 0 <= self.lr_decay_start < 1:
            raise ValueError(f"lr_decay_start must be in [0, 1), got {self.lr_decay_start}")
        if self.d_pretrain_steps < 0:
            raise ValueError(f"d_pretrain_steps must be >= 0, got {self.d_pretrain_steps}")
        for name in ("pack", "minibatch_std"):
            if name in self.model_config:
                raise ValueError(f"set {name} on TrainConfig, not in model_config")
        group = min(self.model_cfg().mbstd_group, self.batch_size // self.pack)
        if self.minibatch_std and (self.batch_size // self.pack) % group:
            raise ValueError(
                f"minibatch_std: batch_size / pack = {self.batch_size // self.pack} must be a "
                f"multiple of the group size {group}"
            )

    def model_cfg(self) -> MLPConfig | DCGANConfig:
        tricks = dict(pack=self.pack, minibatch_std=self.minibatch_std)
        return config_for(self.model, self.dataset, **{**self.model_config, **tricks})


def default_config(
    model: str = "dcgan", dataset: str = "fashion-mnist", **overrides
) -> TrainConfig:
    """The course's recipe for ``model`` on ``dataset``, with ``overrides`` applied.

    The DCGAN recipe is tuned for quality per CPU-minute (benchmarks/dcgan_time_to_quality.py);
    the toy recipe is a small MLP with Adam at 2e-3, decayed to 0 over 8,000 steps, on large
    batches of fresh points, with the minibatch std and a lazy R1 penalty in D.
    """
    if dataset in TOY_DATASETS:
        # benchmarks/toy_recipe.md: a narrow MLP (128 wide: ~2.5x the steps per CPU-second of
        # 256), a high learning rate decayed linearly to 0 over 8,000 steps (fast coverage early,
        # sharp modes at the end), the minibatch std in D (against dropped modes) and R1 (gamma
        # 3, lazily every 4th step): all 25 grid modes on every seed tried, where the same recipe
        # without R1 dropped 1-2 modes a seed. 8,000 steps take ~48 s on one idle core.
        base: dict[str, Any] = dict(
            batch_size=256,
            lr_g=2e-3,
            lr_d=2e-3,
            lr_decay="linear",
            lr_decay_steps=8000,
            minibatch_std=True,
            r1=3.0,
            r1_every=4,
            model_config=dict(hidden=128),
            snapshot_every=25,
        )
    elif model == "mlp":
        base = dict(batch_size=64, lr_g=2e-4, lr_d=2e-4)
    else:
        # Small batches and a higher learning rate: more updates per CPU-second. Measured at 120
        # CPU-s on one thread (FID in our features, lower is better): batch 64 / lr 2e-4: 260 at
        # 90 s; batch 32 / 2e-4: 134; batch 32 / 5e-4: 94 (benchmarks/README.md).
        base = dict(batch_size=32, lr_g=5e-4, lr_d=5e-4)
    return TrainConfig(model=model, dataset=dataset, **{**base, **overrides})


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; anything else is used as given."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class StepOptions:
    """The tricks that act inside one adversarial step (all off by default: Algorithm 1)."""

    real_target: float = 1.0  # D's target for real data; 0.9 is one-sided label smoothing
    label_noise: float = 0.0  # probability of flipping each of D's targets
    instance_noise: float = 0.0  # std of Gaussian noise on every input of D, now
    augment: str = ""  # DiffAugment policy on every input of D
    pack: int = 1  # PacGAN: D sees packs of this many samples
    grad_clip: float | None = None  # max gradient norm of D and of G
    r1: float = 0.0  # gamma of the R1 penalty on D's gradient at real data; 0 = off
    train_g: bool = True  # False while pre-training D: G's loss is reported, G does not move
    generator: torch.Generator | None = None  # randomness of noise, augmentation, label flips


def d_view(x: torch.Tensor, opts: StepOptions) -> torch.Tensor:
    """What D sees of a batch ``[N, ...]``: noisy, augmented, then packed ``[N/m, m*...]``.

    Applied identically to real and fake batches, in D's step and in G's step (gradients flow
    through all three, so G learns through them).
    """
    x = add_instance_noise(x, opts.instance_noise, opts.generator)
    if opts.augment:
        x = diff_augment(x, opts.augment, opts.generator)
    return pack(x, opts.pack)


def _update(params: list[torch.Tensor], opt: torch.optim.Optimizer, clip: float | None) -> float:
    """Clip the gradient of ``params`` (when asked), step ``opt``; return the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    if clip is not None:
        torch.nn.utils.clip_grads_with_norm_(params, clip, norm)
    opt.step()
    return norm.item()


def adversarial_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real_batches: Sequence[torch.Tensor],
    noise: Callable[[int], torch.Tensor],
    g_loss_name: str = "nonsaturating",
    options: StepOptions | None = None,
) -> dict[str, float]:
    """One step of Algorithm 1: k = len(real_batches) updates of D, then one update of G.

    Each D update sees a fresh real batch and fresh samples G(z) that are *detached*, so no
    gradient reaches G. The G update runs through D with D's parameters frozen
    (``requires_grad_(False)``): the generator's loss must move G only, never D. ``options``
    switches on the tricks that act on batches, labels and gradients (see :class:`StepOptions`).

    Returns the last D update's loss and mean D(x), D(G(z)) (as probabilities), G's loss, and
    the gradient norms of D (last update) and G (before clipping).
    """
    opts = options if options is not None else StepOptions()
    if len(real_batches) < 1:
        raise ValueError("adversarial_step needs at least one real batch (k >= 1)")
    params_d, params_g = list(D.parameters()), list(G.parameters())
    for real in real_batches:
        z = noise(real.shape[0])
        fake = G(z).detach()
        if opts.r1:
            real = real.detach().requires_grad_(True)
        real_logits, fake_logits = D(d_view(real, opts)), D(d_view(fake, opts))
        if opts.real_target == 1 and opts.label_noise == 0:
            loss_d = d_logistic_loss(real_logits, fake_logits)  # targets 1 and 0
        else:  # smoothed and/or flipped targets
            real_t = smooth_targets(len(real_logits), 1 - opts.real_target)
            fake_t = torch.zeros(len(fake_logits))
            real_t = flip_labels(real_t, opts.label_noise, opts.generator)
            fake_t = flip_labels(fake_t, opts.label_noise, opts.generator)
            loss_d = d_loss_with_targets(real_logits, fake_logits, real_t, fake_t)
        if opts.r1:
            loss_d = loss_d + r1_penalty(real_logits, real, opts.r1)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        grad_norm_d = _update(params_d, opt_d, opts.grad_clip)

    D.requires_grad_(False)
    z = noise(real_batches[-1].shape[0])
    with torch.set_grad_enabled(opts.train_g):
        fake_logits_g = D(d_view(G(z), opts))
        loss_g = g_loss(g_loss_name, fake_logits_g)
    grad_norm_g = 0.0
    if opts.train_g:
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        grad_norm_g = _update(params_g, opt_g, opts.grad_clip)
    D.requires_grad_(True)

    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(real_logits.detach()).mean().item(),
        "d_fake": torch.sigmoid(fake_logits.detach()).mean().item(),
        "grad_norm_d": grad_norm_d,
        "grad_norm_g": grad_norm_g,
    }


@torch.no_grad()
def generate(
    G: nn.Module, n: int, *, seed: int = 0, device: str | torch.device = "cpu", batch: int = 1000
) -> torch.Tensor:
    """``n`` samples from ``G`` in eval mode, noise from a generator seeded with ``seed``.

    The noise is drawn on the CPU so that the same seed gives the same samples on any device.
    Returns a CPU float32 tensor ``[n, *sample_shape]``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n}")
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


class _StopFlag:
    """Turns the first Ctrl-C (or Jupyter's interrupt) into 'stop after this step, and save'."""

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
    """A GAN training run: models, optimizers, data, RNG state, history, snapshots.

    >>> trainer = Trainer(default_config("mlp", "ring"), out_dir=None)
    >>> history = trainer.run(steps=200, progress=False)
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path | None = None,
        *,
        device: str | torch.device = "auto",
        data: torch.Tensor | None = None,
    ):
        self.config = config
        self.device = select_device(device)
        if self.device.type == "cpu":
            limit_threads()  # a container's CPU quota (Binder: 1 CPU), not the host's cores
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.model_cfg = config.model_cfg()

        torch.manual_seed(config.seed)
        self.G, self.D = build_models(self.model_cfg)
        if config.spectral_norm:
            apply_spectral_norm(self.D)
        self.G.to(self.device)
        self.D.to(self.device)
        # The EMA generator (when ema > 0) is what sample() and checkpoints' users sample from.
        self.G_ema = ema_copy(self.G) if config.ema > 0 else None
        self.opt_g = make_optimizer(self.G.parameters(), config, config.lr_g)
        self.opt_d = make_optimizer(self.D.parameters(), config, config.lr_d)

        # Separate generators: noise, data order, fixed batch, tricks' randomness (instance
        # noise, augmentation, label flips). Their states go in checkpoints.
        self.noise_gen = torch.Generator().manual_seed(config.seed + 1)
        self.data_gen = torch.Generator().manual_seed(config.seed + 2)
        fixed_gen = torch.Generator().manual_seed(config.seed + 3)
        self.trick_gen = torch.Generator().manual_seed(config.seed + 4)
        self.fixed_z = torch.randn(config.n_fixed, self.model_cfg.z_dim, generator=fixed_gen)

        self.data_source = ""
        self.data: torch.Tensor | None = None
        if config.dataset == "fashion-mnist":
            if data is None:
                fm = load_fashion_mnist("train", limit=config.data_limit)
                data, self.data_source = fm.images, fm.source
            else:
                self.data_source = "tensor given to Trainer"
            if tuple(data.shape[1:]) != (1, 28, 28):
                raise ValueError(f"image data must be [N, 1, 28, 28], got {tuple(data.shape)}")
            if data.shape[0] < config.batch_size:
                raise ValueError(
                    f"{data.shape[0]} images are fewer than one batch of {config.batch_size}"
                )
            self.data = data.to(self.device)
        else:
            self.data_source = f"{config.dataset} toy distribution"
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

        self.step = 0
        self.elapsed = 0.0
        self.budget_steps: int | None = None  # the budget of the current run() (lr schedule)
        self.budget_s: float | None = None
        self.history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
        self.snapshots: list[torch.Tensor] = []
        self.snapshot_steps: list[int] = []
        self.snapshot_every = config.snapshot_every

    # ------------------------------------------------------------------ data and noise
    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.model_cfg.z_dim, generator=self.noise_gen).to(self.device)

    def real_batch(self) -> torch.Tensor:
        """The next real batch: shuffled epochs over the images, or fresh toy points."""
        b = self.config.batch_size
        if self.data is None:
            return toy_data(self.config.dataset, b, generator=self.data_gen).to(self.device)
        if self._pos + b > len(self._perm):
            self._perm = torch.randperm(self.data.shape[0], generator=self.data_gen)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + b]
        self._pos += b
        return self.data[idx.to(self.device)]

    # ------------------------------------------------------------------ training
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator to sample from: the EMA of G's weights when ``ema > 0``, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    def step_options(self) -> StepOptions:
        """The tricks of the config, as they apply at the current step."""
        cfg = self.config
        return StepOptions(
            real_target=1.0 - cfg.label_smoothing,
            label_noise=cfg.label_noise,
            instance_noise=instance_noise_std(
                self.step, cfg.instance_noise, cfg.instance_noise_steps
            ),
            augment=cfg.augment,
            pack=cfg.pack,
            grad_clip=cfg.grad_clip,
            # lazy regularisation (Karras et al. 2020, StyleGAN2 Sec. 3.1): the same average
            # penalty for 1/r1_every of the cost
            r1=cfg.r1 * cfg.r1_every if self.step % cfg.r1_every == 0 else 0.0,
            train_g=self.step >= cfg.d_pretrain_steps,  # pre-training D: G waits
            generator=self.trick_gen,
        )

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
        """Apply ``lr_decay``: the rates follow from the progress alone (no hidden state)."""
        cfg = self.config
        if not cfg.lr_decay:
            return
        f = lr_factor(cfg.lr_decay, self.progress(), cfg.lr_decay_start)
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * f

    def train_step(self) -> dict[str, float]:
        """One adversarial step (k D-updates, one G-update); raises on a non-finite loss.

        The first ``d_pretrain_steps`` steps update D only, against samples of the untrained
        (fixed) G; they count as steps of the budget.
        """
        reals = [self.real_batch() for _ in range(self.config.d_steps)]
        self._set_learning_rates()
        opts = self.step_options()
        stats = adversarial_step(
            self.G, self.D, self.opt_g, self.opt_d, reals, self.noise, self.config.g_loss, opts
        )
        if self.G_ema is not None and opts.train_g:
            updates = self.step - self.config.d_pretrain_steps  # G updates so far, minus one
            ema_update_(self.G_ema, self.G, ema_decay(self.config.ema, updates))
        if not (math.isfinite(stats["loss_d"]) and math.isfinite(stats["loss_g"])):
            kept = self.checkpoint_path
            where = (
                f"the last good checkpoint is kept at {kept}"
                if kept and kept.exists()
                else ("no checkpoint was written yet")
            )
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1}: loss_d={stats['loss_d']}, "
                f"loss_g={stats['loss_g']}; {where}. Try lower learning rates."
            )
        self.step += 1
        return stats

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
        ``checkpoint_every`` steps and at the end; an interrupt (Ctrl-C, Jupyter's stop button)
        finishes the current step, saves and returns.
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
        bar = tqdm(
            total=steps if steps is not None else None,
            initial=self.step if steps is not None else 0,
            disable=not progress,
            desc=f"{cfg.model} on {cfg.dataset}",
            unit="step",
        )
        acc = {k: 0.0 for k in HISTORY_KEYS if k not in ("step", "images_per_s", "seconds")}
        n_acc, t_log = 0, time.perf_counter()
        if self.step == 0 and not self.snapshots:
            self._snapshot()
        try:
            with _StopFlag() as stop:
                while True:
                    if steps is not None and self.step >= steps:
                        break
                    if budget_s is not None and self.elapsed >= budget_s:
                        break
                    if self.schedule_finished:
                        break  # the learning rates are 0: more steps would not move G
                    if stop.requested:
                        break
                    t0 = time.perf_counter()
                    stats = self.train_step()
                    self.elapsed += time.perf_counter() - t0
                    for k in acc:
                        acc[k] += stats[k]
                    n_acc += 1
                    if self.step % cfg.log_every == 0:
                        now = time.perf_counter()
                        seen = n_acc * cfg.batch_size * cfg.d_steps
                        row = {k: v / n_acc for k, v in acc.items()}
                        row.update(
                            step=self.step,
                            images_per_s=seen / max(now - t_log, 1e-9),
                            seconds=self.elapsed,
                        )
                        for k in HISTORY_KEYS:
                            self.history[k].append(row[k])
                        acc = dict.fromkeys(acc, 0.0)
                        n_acc, t_log = 0, now
                        bar.set_postfix(
                            loss_d=f"{row['loss_d']:.3f}",
                            loss_g=f"{row['loss_g']:.3f}",
                            D_x=f"{row['d_real']:.2f}",
                            D_Gz=f"{row['d_fake']:.2f}",
                        )
                        if callback is not None:
                            callback(self, row)
                    if self.step % self.snapshot_every == 0:
                        self._snapshot()
                    if self.out_dir is not None and self.step % cfg.checkpoint_every == 0:
                        self.save()
                    bar.update(1)
        finally:
            bar.close()
        if self.out_dir is not None:
            self.save()
        return self.history

    @torch.no_grad()
    def _snapshot(self) -> None:
        """G(fixed_z) now, kept for animations: uint8 images or float points, on the CPU."""
        if self.snapshot_steps and self.snapshot_steps[-1] == self.step:
            return
        G = self.sampling_generator  # the EMA generator when ema > 0
        was_training = G.training
        G.eval()
        out = G(self.fixed_z.to(self.device)).float().cpu()
        G.train(was_training)
        if out.ndim == 4:
            out = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.snapshots.append(out)
        self.snapshot_steps.append(self.step)
        if len(self.snapshots) > self.config.max_snapshots:
            self.snapshots = self.snapshots[::2]
            self.snapshot_steps = self.snapshot_steps[::2]
            self.snapshot_every *= 2

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples from the current generator (its EMA when ``ema > 0``), reproducible
        with ``seed``."""
        return generate(self.sampling_generator, n, seed=seed, device=self.device)

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / CHECKPOINT_NAME

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly; loadable with ``weights_only=True``."""
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {
            "config": asdict(self.config),
            "model_config": asdict(self.model_cfg),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": None if self.G_ema is None else self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": cuda_rng,
                "noise": self.noise_gen.get_state(),
                "data": self.data_gen.get_state(),
                "tricks": self.trick_gen.get_state(),
            },
            "data": {
                "source": self.data_source,
                "n": 0 if self.data is None else int(self.data.shape[0]),
                "perm": self._perm,
                "pos": self._pos,
            },
            "fixed_z": self.fixed_z,
            "history": self.history,
            "snapshots": self.snapshots,
            "snapshot_steps": self.snapshot_steps,
            "snapshot_every": self.snapshot_every,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = 0 if self.data is None else int(self.data.shape[0])
        if state["data"]["n"] != n:
            raise GannotesError(
                f"the run was trained on {state['data']['n']} images ({state['data']['source']}) "
                f"but {n} were found now ({self.data_source}); resume where the same data exists"
            )
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        _load_optimizer_state(self.opt_g, state["opt_g"])
        _load_optimizer_state(self.opt_d, state["opt_d"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.noise_gen.set_state(state["rng"]["noise"])
        self.data_gen.set_state(state["rng"]["data"])
        if "tricks" in state["rng"]:  # checkpoints from before the tricks lack it
            self.trick_gen.set_state(state["rng"]["tricks"])
        self._perm = state["data"]["perm"]
        self._pos = int(state["data"]["pos"])
        self.fixed_z = state["fixed_z"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        rows = len(self.history["step"])
        for k in HISTORY_KEYS:  # older checkpoints lack the gradient norms: keep lists equal
            self.history.setdefault(k, [math.nan] * rows)
        self.snapshots = list(state["snapshots"])
        self.snapshot_steps = list(state["snapshot_steps"])
        self.snapshot_every = int(state["snapshot_every"])

    def save(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint atomically (default: ``out_dir/checkpoint.pt``)."""
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise GannotesError("this run has no out_dir; give save() a path")
        return save_checkpoint(path, self.state_dict())

    @classmethod
    def resume(
        cls,
        path: str | Path,
        *,
        device: str | torch.device = "auto",
        data: torch.Tensor | None = None,
    ) -> Trainer:
        """Rebuild a run from its checkpoint (a run directory or a .pt file)."""
        state = load_checkpoint(path)
        config = _config_from_dict(state["config"])
        run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
        trainer = cls(config, out_dir=run_dir, device=device, data=data)
        trainer.load_state_dict(state)
        return trainer


def make_optimizer(params, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """Adam with ``config.betas`` (DCGAN's choice) or RMSprop (as in WGAN), at ``lr``.

    Adam uses its fused kernel where torch has one for the parameters' device (CPU from torch
    2.4, CUDA): the same update in one pass, 15% faster per step of the toy MLP on one core.
    """
    params = list(params)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    try:
        return torch.optim.Adam(params, lr=lr, betas=config.betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or torch
        return torch.optim.Adam(params, lr=lr, betas=config.betas)


def _load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load ``state`` but keep this optimizer's kernel choice (fused or not): a checkpoint
    written where the fused kernel exists must resume where it does not, and vice versa."""
    kernels = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in opt.param_groups]
    if len(state["param_groups"]) != len(kernels):
        raise CheckpointError(
            f"the checkpoint's optimizer has {len(state['param_groups'])} parameter groups, "
            f"this model's has {len(kernels)}: it belongs to a different model"
        )
    groups = [{**s, **k} for s, k in zip(state["param_groups"], kernels, strict=True)]
    opt.load_state_dict({**state, "param_groups": groups})  # torch places state for the kernel


def _config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in d.items() if k in known})


def load_generator(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainConfig]:
    """The generator of a checkpoint (run directory or .pt file) and the run's config.

    When the run kept an EMA of G's weights (``ema > 0``), that average is the generator
    returned: it is the one to sample from.
    """
    state = load_checkpoint(path)
    config = _config_from_dict(state["config"])
    G, _ = build_models(config.model_cfg())
    G.load_state_dict(state["G_ema"] if state.get("G_ema") is not None else state["G"])
    return G.to(device).eval(), config
