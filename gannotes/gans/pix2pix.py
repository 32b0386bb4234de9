"""The pix2pix family: paired image-to-image translation (Isola et al. 2017).

Trained on pairs (x, y) of the ``edges2fashion`` data (x: the edge map of a garment, y: the
garment), G(x) learns to draw y. The objective is the paper's Eq. 4:

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),    lambda = 100

where D is a PatchGAN that sees the *pair* (x, y) or (x, G(x)), so it can reject an output that
is realistic but does not fit its input, and L_L1 = E||y - G(x)||_1 pulls each output to its own
target. L1 alone gets the low frequencies right and blurs the rest (the mean of the plausible
outputs); the cGAN term makes the output sharp. ``l1_only`` trains without D (the ablation's
"L1" row), ``l1=0`` without L_L1 (its "cGAN" row).

There is no z: the paper (Sec. 3.1) found G learned to ignore noise given as an input, and
gives its noise as dropout in the decoder instead, and even so the outputs are nearly
deterministic. :meth:`Pix2Pix.translate` runs G with dropout off (deterministic), or with
dropout on and a seed, to show how little it varies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import TrainerConfig, knob
from ..losses import OBJECTIVES, check_unconstrained, l1_loss, objective
from ..models import config_for
from .family import Family, StepContext, frozen

__all__ = [
    "Pix2Pix",
    "Pix2PixTrainConfig",
    "check_translation_inputs",
    "d_pix2pix_loss",
    "g_pix2pix_loss",
]


@dataclass
class Pix2PixTrainConfig(TrainerConfig):
    """A run of the pix2pix family: the Trainer's knobs plus the objective's (Eq. 4)."""

    l1: float = knob(
        100.0, "lambda: weight of L1(G(x), y), the distance to the true image (Eq. 4)", low=0
    )
    l1_only: bool = knob(False, "train G on L1 alone, without a discriminator (the ablation)")
    loss: str = knob(
        "nonsaturating",
        "the objective: D's and G's losses (gannotes.losses.OBJECTIVES)",
        choices=tuple(OBJECTIVES),
        aliases=("g-loss",),
    )

    family = "pix2pix"

    def check(self) -> None:
        super().check()
        if self.model not in Pix2Pix.models:
            raise ValueError(f"unknown model {self.model!r}; the pix2pix family has pix2pix")
        if self.l1_only and self.l1 == 0:
            raise ValueError("l1_only with l1 = 0 leaves G nothing to learn: set l1 > 0")
        check_unconstrained(self.loss, "pix2pix")
        self.model_cfg()  # validates model_config and the dataset

    def model_cfg(self):
        return config_for(self.model, self.dataset, **self.model_config)


# The least-squares pair of gannotes.losses is LSGAN's (Mao et al. 2017, Eq. 2), with a 1/2 on
# each player's loss; the pix2pix authors' GANLoss is the plain mean squared error.
_HALVED = ("least-squares",)


def d_pix2pix_loss(loss: str, real_scores: torch.Tensor, fake_scores: torch.Tensor):
    """D's loss as pix2pix weighs it: half the sum of its real and fake terms. "We divide the
    objective by 2 while optimizing D, which slows down the rate at which D learns relative to
    G" (Sec. 3.3); the authors' code: ``0.5 * (loss_D_real + loss_D_fake)``, for the logistic
    and the least-squares objective alike (the least-squares pair already carries the half)."""
    d = objective(loss).d_loss(real_scores, fake_scores)
    return d if loss in _HALVED else 0.5 * d


def g_pix2pix_loss(loss: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """G's adversarial term as pix2pix weighs it against lambda L1: the objective's per-sample
    loss of the fakes against the real label, without LSGAN's 1/2 (as the CycleGAN family)."""
    g = objective(loss).g_loss(fake_scores)
    return 2 * g if loss in _HALVED else g


def check_translation_inputs(x: Any) -> torch.Tensor:
    """``x`` as float32 images ``[N, 1, 28, 28]`` in [-1, 1], else one ValueError line."""
    x = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28) or len(x) == 0:
        raise ValueError(f"expected input images [N, 1, 28, 28] (N >= 1), got {list(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"input images must be floating point in [-1, 1], got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError("input images hold NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - 1e-4 or hi > 1 + 1e-4:
        raise ValueError(
            f"input images must lie in [-1, 1] (as `edges` writes them), got [{lo:.3g}, {hi:.3g}]"
        )
    return x.float()


class Pix2Pix(Family):
    """A U-Net G and a PatchGAN D (gannotes.models.pix2pix), trained on (edges, image) pairs."""

    name = "pix2pix"
    Config = Pix2PixTrainConfig
    models = ("pix2pix",)
    data_fields = ("edges", "images")
    directions = ("a2b",)  # edges -> images only

    def __init__(self, config: Pix2PixTrainConfig, device: torch.device):
        super().__init__(config, device)
        self.build_pair(config.model_cfg())
        self._inputs: torch.Tensor | None = None  # test-set edge maps, for sample() and snapshots

    @classmethod
    def default_config(cls, model: str = "pix2pix", dataset: str = "edges2fashion", **overrides):
        """The course's recipe: lambda = 100 and Adam's betas (0.5, 0.999) as in the paper, on
        batches of 32 (the paper: 1-10) at the DCGAN recipe's rate, 5e-4 (the paper: 2e-4),
        decayed linearly to 0 over the second half of the budget (as the authors' code does
        over its last epochs). Measured at about 1,400 steps, scored by the independent
        classifier of benchmarks/: 2e-4 gave class agreement 81.9% and FID 73, 5e-4 gave 83.8%
        and FID 33; over 5 minutes (4,460 steps) the constant 5e-4 gave 84.8% and FID 13.5."""
        base: dict[str, Any] = dict(
            batch_size=32, lr_g=5e-4, lr_d=5e-4, lr_decay="linear", lr_decay_start=0.5, ema=0.999
        )
        return Pix2PixTrainConfig(model=model, dataset=dataset, **{**base, **overrides})

    # ------------------------------------------------------------------ training
    def step(self, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: StepContext):
        G, D = self.networks["G"], self.networks["D"]
        cfg = self.config
        obj = objective(cfg.loss)
        (x, y) = batches[-1]  # edges [N, 1, 28, 28], images [N, 1, 28, 28]
        stats: dict[str, torch.Tensor] = {}
        with ctx.autocast():
            fake = G(x)  # G(x): no z, dropout is the noise

        if not cfg.l1_only:
            with ctx.autocast():
                real_scores = D(x, y)  # [N, 1, 7, 7]: one score per patch
                fake_scores = D(x, fake.detach())  # D's update must not reach G
                loss_d = d_pix2pix_loss(cfg.loss, real_scores, fake_scores)
            stats["grad_norm_d"] = ctx.optimizer_step(self.optimizers["D"], loss_d)
            stats["loss_d"] = loss_d.detach()
            real_scores, fake_scores = real_scores.detach().float(), fake_scores.detach().float()
            if obj.logits:
                stats["d_real"] = torch.sigmoid(real_scores).mean()
                stats["d_fake"] = torch.sigmoid(fake_scores).mean()

        with frozen(D):  # G's loss must move G only
            with ctx.autocast():
                l1 = l1_loss(fake, y)
                loss_g = cfg.l1 * l1
                if not cfg.l1_only:
                    loss_gan = g_pix2pix_loss(cfg.loss, D(x, fake))
                    loss_g = loss_gan + loss_g  # Eq. 4: L_cGAN + lambda L_L1
                    stats["loss_gan"] = loss_gan.detach()
            stats["grad_norm_g"] = ctx.optimizer_step(self.optimizers["G"], loss_g)
        return {"loss_g": loss_g.detach(), "l1": l1.detach(), **stats}

    # ------------------------------------------------------------------ sampling
    def test_inputs(self) -> torch.Tensor:
        """Edge maps of the held-out test images (never trained on): what samples translate."""
        if self._inputs is None:
            from ..data import dataset_tensors

            self._inputs = dataset_tensors(self.config.dataset, "test")[0]["edges"]
        return self._inputs

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """G's inputs for ``n`` samples: edge maps of test images drawn at random."""
        inputs = self.test_inputs()
        return inputs[torch.randint(0, len(inputs), (n,), generator=generator)]

    @torch.no_grad()
    def translate(
        self, inputs: Any, seed: int | None = None, direction: str = "a2b"
    ) -> torch.Tensor:
        """G(x) for each input image ``[N, 1, 28, 28]`` in [-1, 1]; row i translates row i.
        pix2pix translates one way only (``direction="a2b"``: edges to garments).

        With ``seed=None`` dropout is off and the result deterministic (BatchNorm uses its
        running statistics, so no output depends on the others in the batch). With a seed,
        dropout stays on, as in the paper's test time, drawn reproducibly from ``seed``: the
        CPU's generator and the family's own GPU's are forked and seeded (no other), so the
        caller's random streams, a training run's included, continue as if nothing was drawn.
        """
        if direction != "a2b":
            raise ValueError(f"pix2pix translates a2b (edges to garments) only, not {direction!r}")
        x = check_translation_inputs(inputs)
        if seed is None:
            return self.generate(x)
        G = self.sampling_network
        was_training = G.training
        G.eval()
        for m in G.modules():
            if isinstance(m, torch.nn.Dropout):
                m.train()
        gpu = [self.device] if self.device.type in ("cuda", "mps") else []  # dropout's stream
        try:
            with torch.random.fork_rng(devices=gpu, device_type=self.device.type if gpu else None):
                torch.default_generator.manual_seed(seed)  # not torch.manual_seed: every GPU
                if self.device.type == "cuda":
                    with torch.cuda.device(self.device):
                        torch.cuda.manual_seed(seed)
                elif self.device.type == "mps":
                    torch.mps.manual_seed(seed)
                out = [G(c.to(self.device)).float().cpu() for c in x.split(1000)]
        finally:
            G.train(was_training)
        return torch.cat(out)
