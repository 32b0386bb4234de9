"""The classic family: one generator G, one discriminator (or critic) D, a chosen objective.

Its step is Algorithm 1 of Goodfellow et al. (2014), :func:`adversarial_step`: k updates of D
on fresh real and generated batches, then one update of G through a frozen D. The objective is
chosen by name (``loss``, see gannotes.losses.OBJECTIVES), and so is the way D is kept in
check: R1, the gradient penalty of WGAN-GP, or WGAN's weight clipping. With
``loss="wasserstein"`` and ``gp=10`` this family *is* WGAN-GP (Gulrajani et al. 2017,
Algorithm 1, with k = n_critic); with ``clip=0.01`` and RMSprop it is the original WGAN
(Arjovsky et al. 2017).

The training tricks of gannotes.tricks are knobs of :class:`ClassicConfig`, all off by
default (the plain recipe): label smoothing and noisy labels, instance noise, gradient clipping,
DiffAugment, minibatch std, PacGAN packing, spectral normalisation and pre-training D (RMSprop
and the EMA of G are the Trainer's). The step applies those that act on a batch
(:class:`StepOptions`); the family's constructor applies those that change the networks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import TrainerConfig, knob
from ..data import TOY_DATASETS
from ..losses import (
    OBJECTIVES,
    clip_weights_,
    d_loss_with_targets,
    gradient_penalty,
    objective,
    r1_penalty,
)
from ..models import build_models, config_for
from ..tricks import (
    IMAGE_AUGMENTS,
    POINT_AUGMENTS,
    add_instance_noise,
    apply_spectral_norm,
    diff_augment,
    flip_labels,
    instance_noise_std,
    pack,
    parse_policy,
    smooth_targets,
    top_k_fraction,
    top_k_scores,
)
from .family import Family, StepContext, frozen, make_optimizer

__all__ = ["Classic", "ClassicConfig", "StepOptions", "adversarial_step", "d_view"]

LOGISTIC = tuple(name for name, obj in OBJECTIVES.items() if obj.logits)


@dataclass
class ClassicConfig(TrainerConfig):
    """A run of the classic family: the Trainer's knobs plus the step's (saved in checkpoints).

    The defaults are the plain GAN of Goodfellow et al.: non-saturating loss, k = 1, every
    trick off. ``default_config`` gives the course's tuned recipes.
    """

    loss: str = knob(
        "nonsaturating",
        "the objective: D's and G's losses (gannotes.losses.OBJECTIVES)",
        choices=tuple(OBJECTIVES),
        aliases=("g-loss",),
        widget=("choice", list(OBJECTIVES)),
        label="objective",
    )
    d_steps: int = knob(
        1,
        "k: discriminator (critic) updates per generator update (WGAN: n_critic = 5)",
        low=1,
        metavar="K",
        widget=("int", 1, 10),
        label="k (D steps)",
    )
    gp: float = knob(
        0.0,
        "gradient penalty (WGAN-GP): LAMBDA * E[(|grad D(x_hat)| - 1)^2] on interpolates",
        low=0,
        note="0: off",
        metavar="LAMBDA",
        widget=("slider", 0.0, 20.0, 1.0),
        label="gradient penalty",
    )
    clip: float = knob(
        0.0,
        "weight clipping (WGAN): every parameter of D clamped to [-C, C] after its updates",
        low=0,
        note="0: off",
        metavar="C",
        widget=("choice", [("off", 0.0), ("0.01", 0.01), ("0.1", 0.1), ("1", 1.0)]),
        label="weight clip",
    )
    label_smoothing: float = knob(
        0.0,
        "one-sided label smoothing: D's real target is 1 - S (0.1 gives 0.9)",
        low=0,
        high=1,
        metavar="S",
        group="trick",
        widget=("slider", 0.0, 0.3, 0.05),
        label="label smoothing",
    )
    label_noise: float = knob(
        0.0,
        "flip each of D's labels with probability P",
        low=0,
        high=0.5,
        high_open=False,
        metavar="P",
        group="trick",
        widget=("slider", 0.0, 0.3, 0.05),
        label="label noise",
    )
    instance_noise: float = knob(
        0.0,
        "Gaussian noise on D's inputs, real and fake, annealed from STD to 0",
        low=0,
        metavar="STD",
        group="trick",
        widget=("slider", 0.0, 0.5, 0.05),
        label="instance noise",
    )
    instance_noise_steps: int = knob(
        2000,
        "steps over which instance noise is annealed to 0",
        low=1,
        metavar="N",
        group="trick",
    )
    grad_clip: float | None = knob(
        None,
        "clip the gradient norm of D and G to NORM",
        low=0,
        low_open=True,
        optional=True,
        note="None: off",
        metavar="NORM",
        group="trick",
        widget=("choice", [("off", 0.0), ("10", 10.0), ("1", 1.0), ("0.1", 0.1)]),
        label="grad clip",
    )
    r1: float = knob(
        0.0,
        "R1 penalty: GAMMA/2 * |grad of D at real data|^2 added to D's loss",
        low=0,
        note="0: off",
        metavar="GAMMA",
        group="trick",
        widget=("slider", 0.0, 10.0, 0.5),
        label="R1 penalty",
    )
    r1_every: int = knob(
        1,
        "lazy R1: the penalty (times N) on every N-th step only, for 1/N of its cost",
        low=1,
        metavar="N",
        group="trick",
    )
    augment: str = knob(
        "",
        "DiffAugment on D's real and fake inputs: color,translation,cutout (images) or "
        "jitter,translation (points)",
        metavar="POLICY",
        group="trick",
        widget=("choice", ["", "jitter", "translation", "jitter,translation"]),
        label="DiffAugment",
    )
    minibatch_std: bool = knob(
        False,
        "minibatch standard deviation feature in D",
        group="trick",
        widget=("toggle",),
        label="minibatch std",
        rebuild=True,
    )
    pack: int = knob(
        1,
        "PacGAN: D judges M samples at once",
        low=1,
        metavar="M",
        group="trick",
        widget=("choice", [1, 2, 4]),
        label="pack",
        rebuild=True,
    )
    spectral_norm: bool = knob(
        False,
        "spectral normalisation of D's layers",
        group="trick",
        widget=("toggle",),
        label="spectral norm",
        rebuild=True,
    )
    top_k: float = knob(
        1.0,
        "top-k training (Sinha et al. 2020): G's loss on the fraction F of its fakes that D "
        "scores highest",
        low=0,
        low_open=True,
        high=1,
        high_open=False,
        note="1: all, off",
        metavar="F",
        group="trick",
    )
    top_k_steps: int = knob(
        0,
        "steps over which top-k's fraction falls linearly from 1 to F",
        low=0,
        note="0: F from the start",
        metavar="N",
        group="trick",
    )
    d_pretrain_steps: int = knob(
        0,
        "train D alone for STEPS steps (against the untrained G) before G starts",
        low=0,
        flag="d-pretrain",
        metavar="STEPS",
        group="trick",
    )

    family = "classic"

    @property
    def g_loss(self) -> str:
        """The objective's name (the knob was called ``g_loss`` before there were objectives
        other than the two logistic ones)."""
        return self.loss

    def check(self) -> None:
        super().check()
        if self.model not in Classic.models:
            raise ValueError(
                f"unknown model {self.model!r}; valid models are {', '.join(Classic.models)}"
            )
        valid = POINT_AUGMENTS if self.dataset in TOY_DATASETS else IMAGE_AUGMENTS
        for name in parse_policy(self.augment):  # raises on unknown names
            if name not in valid:
                raise ValueError(
                    f"augment {name!r} does not apply to {self.dataset}; valid: {', '.join(valid)}"
                )
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size {self.batch_size} must be divisible by pack {self.pack}")
        if self.gp and self.clip:
            raise ValueError(
                "gp and clip are two ways to keep the critic Lipschitz: set one of them, not both"
            )
        if (self.label_smoothing or self.label_noise) and self.loss not in LOGISTIC:
            raise ValueError(
                f"label_smoothing and label_noise change the targets of the logistic objectives "
                f"({', '.join(LOGISTIC)}); the {self.loss} objective has none"
            )
        for name in ("pack", "minibatch_std"):
            if name in self.model_config:
                raise ValueError(f"set {name} on the training config, not in model_config")
        cfg = self.model_cfg()  # validates model_config and the model/dataset pair
        group = min(cfg.mbstd_group, self.batch_size // self.pack)
        if self.minibatch_std and (self.batch_size // self.pack) % group:
            raise ValueError(
                f"minibatch_std: batch_size / pack = {self.batch_size // self.pack} must be a "
                f"multiple of the group size {group}"
            )

    def model_cfg(self):
        """The architecture's config: the model's defaults for the dataset, ``model_config``,
        and the two tricks that change D (``pack``, ``minibatch_std``)."""
        tricks = dict(pack=self.pack, minibatch_std=self.minibatch_std)
        return config_for(self.model, self.dataset, **{**self.model_config, **tricks})


@dataclass
class StepOptions:
    """The tricks that act inside one adversarial step (all off by default: Algorithm 1)."""

    real_target: float = 1.0  # D's target for real data; 0.9 is one-sided label smoothing
    label_noise: float = 0.0  # probability of flipping each of D's targets
    instance_noise: float = 0.0  # std of Gaussian noise on every input of D, now
    augment: str = ""  # DiffAugment policy on every input of D
    pack: int = 1  # PacGAN: D sees packs of this many samples
    grad_clip: float | None = None  # max gradient norm of D and of G
    top_k: float = 1.0  # G's loss on this fraction of its fakes, those D scores highest
    r1: float = 0.0  # gamma of the R1 penalty on D's gradient at real data; 0 = off
    gp: float = 0.0  # lambda of WGAN-GP's gradient penalty on interpolates; 0 = off
    clip: float = 0.0  # WGAN's weight clipping of D to [-clip, clip] after each update; 0 = off
    train_g: bool = True  # False while pre-training D: G's loss is reported, G does not move
    generator: torch.Generator | None = None  # randomness of noise, augmentation, label flips
    # AC-GAN (Odena et al. 2017): D's class logits scored by this loss (logits, labels), with
    # this weight, in both players' losses; on fakes in D's loss too when class_fakes
    class_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    class_weight: float = 1.0
    class_fakes: bool = False


def _parts(x: Any) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """A batch or a latent input split into its first tensor (images, or z) and the conditions
    that come with it (labels): ``x`` alone has none, ``(x, y)`` has ``(y,)``."""
    if isinstance(x, tuple | list):
        return x[0], tuple(x[1:])
    return x, ()


def _judge(D: nn.Module, x: torch.Tensor, cond: tuple[torch.Tensor, ...]):
    """D's scores of ``x`` given its conditions, and a class-conditional D's class logits
    (``D.scores``; AC-GAN's, else None)."""
    if cond and hasattr(D, "scores"):
        return D.scores(x, *cond)
    return D(x, *cond), None


def d_view(x: torch.Tensor, opts: StepOptions) -> torch.Tensor:
    """What D sees of a batch ``[N, ...]``: noisy, augmented, then packed ``[N/m, m*...]``.

    Applied identically to real and fake batches, in D's step and in G's step (gradients flow
    through all three, so G learns through them).
    """
    x = add_instance_noise(x, opts.instance_noise, opts.generator)
    if opts.augment:
        x = diff_augment(x, opts.augment, opts.generator)
    return pack(x, opts.pack)


def adversarial_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real_batches: Sequence[torch.Tensor],
    noise: Callable[[int], torch.Tensor],
    loss: str = "nonsaturating",
    options: StepOptions | None = None,
    ctx: StepContext | None = None,
) -> dict[str, torch.Tensor]:
    """One step of Algorithm 1: k = len(real_batches) updates of D, then one update of G.

    Conditioning is an input, not a second copy of this step: a real batch may be a tensor of
    images or a tuple (images, labels), and ``noise(n)`` z or (z, labels); the labels are
    passed to G and D (``G(z, y)``, ``D(x, y)``, and ``D.scores`` for a D with a class head),
    so the class-conditional family (gannotes.gans.conditional) trains with this step too.
    ``options.class_loss`` adds AC-GAN's class terms.

    Each D update sees a fresh real batch and fresh samples G(z) that are *detached*, so no
    gradient reaches G. The G update runs through D with D's parameters frozen
    (``with frozen(D)``): the generator's loss must move G only, never D. ``loss`` names
    the objective (gannotes.losses.OBJECTIVES); ``options`` switches on the tricks and
    regularisers that act on batches, labels, gradients and weights (:class:`StepOptions`);
    ``ctx`` carries the autocast context and steps the optimizers (zero grad, scaled backward,
    gradient averaging across processes, unscale, clip, step; :meth:`StepContext.optimizer_step`).

    Returns detached scalar tensors: the last D update's loss, G's loss, the gradient norms of
    D (last update) and G (before clipping); mean D(x) and D(G(z)) as probabilities
    (``d_real``, ``d_fake``) for the logistic objectives, else the mean raw scores
    (``score_real``, ``score_fake``; for a Wasserstein critic their difference estimates W1);
    the penalties' values (``r1``, ``gp``) when they are on.
    """
    opts = options if options is not None else StepOptions()
    ctx = ctx if ctx is not None else StepContext()
    obj = objective(loss)
    if len(real_batches) < 1:
        raise ValueError("adversarial_step needs at least one real batch (k >= 1)")
    params_d, params_g = list(D.parameters()), list(G.parameters())
    penalties: dict[str, torch.Tensor] = {}
    stats: dict[str, torch.Tensor] = {}
    for batch in real_batches:
        real, cond = _parts(batch)  # images [N, ...] and, conditioned, their labels [N]
        if cond and opts.pack > 1:
            raise ValueError("pack mixes the samples D judges: it does not apply with labels")
        z, fake_cond = _parts(noise(real.shape[0]))  # z [N, z_dim] and, conditioned, labels
        with ctx.autocast():
            fake = G(z, *fake_cond).detach()  # D's update must not reach G
        if opts.r1:
            real = real.detach().requires_grad_(True)
        with ctx.autocast():
            real_view = d_view(real, opts)
            real_scores, real_logits = _judge(D, real_view, cond)
            fake_view = d_view(fake, opts)
            fake_scores, fake_logits = _judge(D, fake_view, fake_cond)
            if obj.logits and (opts.real_target != 1 or opts.label_noise):
                real_t = smooth_targets(len(real_scores), 1 - opts.real_target)
                fake_t = torch.zeros(len(fake_scores))
                real_t = flip_labels(real_t, opts.label_noise, opts.generator)
                fake_t = flip_labels(fake_t, opts.label_noise, opts.generator)
                loss_d = d_loss_with_targets(real_scores, fake_scores, real_t, fake_t)
            else:
                loss_d = obj.d_loss(real_scores, fake_scores)
            if opts.class_loss is not None and real_logits is not None:
                loss_c = opts.class_loss(real_logits, cond[0])
                if opts.class_fakes:  # AC-GAN's paper: D learns the class of fakes too
                    loss_c = loss_c + opts.class_loss(fake_logits, fake_cond[0])
                loss_d = loss_d + opts.class_weight * loss_c
                stats["class_acc_real"] = (real_logits.argmax(1) == cond[0]).float().mean()
            if opts.r1:
                # R1 on what D judges: with PacGAN each of the N/m packs' gradient holds its
                # m samples', so the mean over packs is m times the mean over samples
                gamma = opts.r1 * opts.pack
                penalties["r1"] = r1_penalty(real_scores, real, gamma, ctx.grad_scale)
                loss_d = loss_d + penalties["r1"]
            if opts.gp:
                # interpolates between real and fake images, judged with the real labels
                critic = (lambda x, cond=cond: D(x, *cond)) if cond else D
                penalties["gp"] = gradient_penalty(
                    critic,
                    real_view,
                    fake_view,
                    opts.gp,
                    generator=opts.generator,
                    scale=ctx.grad_scale,
                )
                loss_d = loss_d + penalties["gp"]
        grad_norm_d = ctx.optimizer_step(opt_d, loss_d, params_d, opts.grad_clip)
        if opts.clip:
            clip_weights_(D, opts.clip)

    with frozen(D):  # G's loss must move G only
        z, fake_cond = _parts(noise(_parts(real_batches[-1])[0].shape[0]))
        with torch.set_grad_enabled(opts.train_g), ctx.autocast():
            scores, logits = _judge(D, d_view(G(z, *fake_cond), opts), fake_cond)
            loss_g = obj.g_loss(top_k_scores(scores, opts.top_k))
            if opts.class_loss is not None and logits is not None:
                loss_g = loss_g + opts.class_weight * opts.class_loss(logits, fake_cond[0])
                stats["class_acc_fake"] = (logits.argmax(1) == fake_cond[0]).float().mean()
        grad_norm_g = torch.zeros((), device=loss_g.device)
        if opts.train_g:
            grad_norm_g = ctx.optimizer_step(opt_g, loss_g, params_g, opts.grad_clip)

    real_scores, fake_scores = real_scores.detach().float(), fake_scores.detach().float()
    stats = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **stats}
    if obj.logits:
        stats["d_real"] = torch.sigmoid(real_scores).mean()
        stats["d_fake"] = torch.sigmoid(fake_scores).mean()
    else:
        stats["score_real"] = real_scores.mean()  # a critic's values: their difference is
        stats["score_fake"] = fake_scores.mean()  # its estimate of W1 (Wasserstein objective)
    stats["grad_norm_d"] = grad_norm_d
    stats["grad_norm_g"] = grad_norm_g
    stats.update({k: v.detach() for k, v in penalties.items()})
    return {k: v.detach() for k, v in stats.items()}


class Classic(Family):
    """G and D from gannotes.models (``mlp``, ``dcgan``), trained by :func:`adversarial_step`."""

    name = "classic"
    Config = ClassicConfig
    models = ("mlp", "dcgan")

    def __init__(self, config: ClassicConfig, device: torch.device):
        super().__init__(config, device)
        self.model_cfg = config.model_cfg()
        G, D = build_models(self.model_cfg)
        if config.spectral_norm:
            apply_spectral_norm(D)
        if config.gp and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
            warnings.warn(
                "the gradient penalty is per sample, but D has BatchNorm, which mixes the samples "
                "of a batch; WGAN-GP's critic has none (model_config d_norm='layer' or 'none')",
                stacklevel=2,
            )
        self.networks = {"G": G.to(device), "D": D.to(device)}
        self.optimizers = {
            "G": make_optimizer(G.parameters(), config, config.lr_g),  # learning_rates: lr_g
            "D": make_optimizer(D.parameters(), config, config.lr_d),  # ... and lr_d
        }

    @classmethod
    def default_config(cls, model: str = "dcgan", dataset: str = "fashion-mnist", **overrides):
        """The course's recipe for ``model`` on ``dataset``; see :func:`recipe`."""
        if "g_loss" in overrides:  # the knob's old name
            overrides["loss"] = overrides.pop("g_loss")
        base = recipe(model, dataset, overrides)
        model_config = {**base.pop("model_config", {}), **overrides.pop("model_config", {})}
        return ClassicConfig(
            model=model, dataset=dataset, **{**base, **overrides}, model_config=model_config
        )

    def batches_per_step(self) -> int:
        return self.config.d_steps

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.model_cfg.z_dim, generator=generator)

    def step_options(self, step: int, generator: torch.Generator | None = None) -> StepOptions:
        """The config's tricks as they apply at ``step`` (steps done before this one)."""
        cfg = self.config
        return StepOptions(
            real_target=1.0 - cfg.label_smoothing,
            label_noise=cfg.label_noise,
            instance_noise=instance_noise_std(step, cfg.instance_noise, cfg.instance_noise_steps),
            augment=cfg.augment,
            pack=cfg.pack,
            grad_clip=cfg.grad_clip,
            top_k=top_k_fraction(step, cfg.top_k, cfg.top_k_steps),
            # lazy regularisation (Karras et al. 2020, StyleGAN2 Sec. 3.1): the same average
            # penalty for 1/r1_every of the cost
            r1=cfg.r1 * cfg.r1_every if step % cfg.r1_every == 0 else 0.0,
            gp=cfg.gp,
            clip=cfg.clip,
            train_g=step >= cfg.d_pretrain_steps,  # pre-training D: G waits
            generator=generator,
        )

    def differentiated_twice(self) -> dict[str, str]:
        cfg = self.config
        named = [name for name, on in (("R1", cfg.r1), ("the gradient penalty", cfg.gp)) if on]
        return {"D": " and ".join(named)} if named else {}

    def step(self, batches: list[torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        G, D = self.networks["G"], self.networks["D"]
        opts = self.step_options(ctx.step, ctx.trick_gen)
        stats = adversarial_step(
            G,
            D,
            self.optimizers["G"],
            self.optimizers["D"],
            batches,
            ctx.noise,
            self.config.loss,
            opts,
            ctx,
        )
        if self.config.r1 and "r1" not in stats:  # lazy R1 skipped this step: no penalty
            stats["r1"] = torch.zeros((), device=stats["loss_d"].device)
        return stats

    def ema_active(self, step: int) -> bool:
        return step >= self.config.d_pretrain_steps


# ----------------------------------------------------------------------------- recipes


def recipe(model: str, dataset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The knobs the course sets for ``model`` on ``dataset`` (before ``overrides``).

    * The DCGAN recipe is tuned for quality per CPU-minute (benchmarks/README.md): batch 32,
      Adam 1e-3 for both networks with betas (0.5, 0.99).
    * The toy recipe (``ring``, ``grid``) is a 128-wide MLP with Adam at 2e-3 (the grid: 3e-3,
      betas (0, 0.99)) decayed linearly to 0 over 8,000 steps, on batches of 256 fresh points, with the minibatch std and a lazy R1
      penalty in D (benchmarks/toy_recipe.md).
    * ``loss="wasserstein"`` picks the papers' settings unless overridden: with ``clip`` the
      original WGAN (RMSprop 5e-5, n_critic 5, c = 0.01 if not given); else WGAN-GP (lambda 10,
      n_critic 5, Adam with betas (0.5, 0.9), no BatchNorm in the critic: layer norm),.
    """
    if dataset in TOY_DATASETS:
        # benchmarks/toy_recipe.md: a narrow MLP (128 wide: ~2.5x the steps per CPU-second of
        # 256), a high learning rate decayed linearly to 0 over 8,000 steps (fast coverage early,
        # sharp modes at the end), the minibatch std in D (against dropped modes) and R1 (gamma
        # 3, lazily every 4th step): all 25 grid modes on every seed tried, where the same recipe
        # without R1 dropped 1-2 modes a seed. 8,000 steps take ~48 s on one idle core. On the
        # grid, Adam without momentum (betas (0, 0.99), as StyleGAN2's) at 3e-3: 90% of the
        # samples high quality over seeds 0-2 instead of 82% (fewer samples on trails between
        # modes); the ring keeps (0.5, 0.999) at 2e-3 (91%).
        grid = dataset == "grid"
        base: dict[str, Any] = dict(
            batch_size=256,
            lr_g=3e-3 if grid else 2e-3,
            lr_d=3e-3 if grid else 2e-3,
            betas=(0.0, 0.99) if grid else (0.5, 0.999),
            lr_decay="linear",
            lr_decay_steps=8000,
            minibatch_std=True,
            r1=3.0,
            r1_every=4,
            model_config=dict(hidden=128),
            snapshot_every=25,
        )
    elif model == "mlp":
        # The MLP GAN on images (G with BatchNorm, models/mlp.py): at notebook 01's 1,000 steps,
        # lr 2e-4 covered 1 class, 5e-4 covers 9 (seeds 0-2; lr 5e-4 without BatchNorm: 6).
        base = dict(batch_size=64, lr_g=5e-4, lr_d=5e-4)
    else:
        # Small batches and a higher learning rate: more updates per CPU-second. Measured at 120
        # CPU-s on one thread (FID in our features, lower is better): batch 64 / lr 2e-4: 260 at
        # 90 s; batch 32 / 2e-4: 134; batch 32 / 5e-4: 94 (benchmarks/README.md). Then screened
        # at 3 CPU-minutes (6,337 steps, the independent classifier's FID, seed 0;
        # benchmarks/dcgan_recipe_screen.py, results/dcgan_recipe_screen.jsonl): 5e-4 with
        # betas (0.5, 0.999) 85.9; 1e-3: 75-76; 1e-3 with beta2 = 0.99 (Adam's second moment
        # forgets in ~100 steps instead of ~1,000): 70.1. No better: EMA of G, a linear decay,
        # 2e-3, TTUR, the hinge loss, betas (0, 0.99) or (0.5, 0.9), width 24, batch 16.
        base = dict(batch_size=32, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.99))
    if overrides.get("loss") == "wasserstein":
        wgan = _wasserstein_recipe(model, dataset, overrides)
        model_config = {**base.get("model_config", {}), **wgan.pop("model_config", {})}
        base.update(wgan, model_config=model_config)
    return base


def _wasserstein_recipe(model: str, dataset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The WGAN papers' settings (WGAN with ``clip``, else WGAN-GP), the DCGAN's tuned for a CPU.

    WGAN-GP's paper trains the critic n_critic = 5 times per generator step with Adam at 1e-4;
    at a CPU budget that buys five times fewer generator steps. Screened at 3 minutes of one
    core (FID of the independent classifier, benchmarks/wgan_recipe.py and
    results/wgan_screen.jsonl): the paper's settings 649; n_critic 5 at 5e-4: 277; n_critic 2:
    174-217; n_critic 1 with Adam 1e-3 and betas (0, 0.9): 132 (the logistic DCGAN: 210).
    The DCGAN's recipe is that last one; lambda = 10 and the critic's layer norm are the
    paper's. The MLP keeps the paper's settings.
    """
    off = dict(r1=0.0, r1_every=1)  # the toy recipe's R1 is not part of the critic's recipe
    if overrides.get("clip") and not overrides.get("gp"):
        # Arjovsky et al. 2017, Algorithm 1: alpha = 5e-5, c = 0.01, n_critic = 5, RMSprop
        return dict(off, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, d_steps=5, clip=0.01)
    if model == "dcgan":
        return dict(
            off,
            gp=10.0,
            d_steps=1,
            lr_g=1e-3,
            lr_d=1e-3,
            betas=(0.0, 0.9),
            model_config=dict(d_norm="layer"),
        )
    # Gulrajani et al. 2017, Algorithm 1: lambda = 10, n_critic = 5, Adam 1e-4, (0.5, 0.9)
    return dict(off, gp=10.0, d_steps=5, lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9))
