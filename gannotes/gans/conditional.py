"""The conditional family: a class-conditional GAN, G(z, y) and D(x, y) (Mirza and Osindero 2014).

The generator gets the label joined to z; the discriminator judges whether an image is a real
image *of that class*, in one of three ways (``d_cond``, see gannotes.models.conditional):
input concatenation, the projection discriminator (Miyato and Koyama 2018), or AC-GAN's
auxiliary classifier (Odena et al. 2017), where D predicts the class instead and both players
are also scored by the class loss L_C:

    D minimises  L_adv(D) + L_C(real) [+ L_C(fake)]     (AC-GAN: D maximises L_S + L_C)
    G minimises  L_adv(G) + L_C(fake)                   (... and G maximises L_C - L_S)

The bracketed term is the paper's (``class_fakes=True``) and off by default. With it, D's class
head is also trained to read the *generator's* labels from fakes, which D tells apart from real
images anyway. In each of our three runs with it (Fashion-MNIST; lr 5e-4 for 3,210 and 4,000
steps, 2e-4 for 1,000) G and D agreed on a labelling of their own: "Trouser" drew dresses,
"Sandal" trousers, and the independent classifier of benchmarks/ put only 22-33% of the samples
in their requested class (benchmarks/results/conditional_ablation.json).
Without it, D learns what a class looks like from real images only, and G must match that.

Fake images are drawn for labels chosen uniformly, each step; real images come with their own.
The step is Algorithm 1 of Goodfellow et al. with labels: one update of D, then one of G
through a frozen D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..config import TrainerConfig, knob
from ..losses import (
    OBJECTIVES,
    ac_class_loss,
    ac_class_loss_double_softmax,
    check_unconstrained,
)
from ..models import D_CONDS, config_for
from .classic import StepOptions, adversarial_step
from .family import Family, StepContext

__all__ = ["CLASS_LOSSES", "Conditional", "ConditionalConfig"]

CLASS_LOSSES = {"cross-entropy": ac_class_loss, "double-softmax": ac_class_loss_double_softmax}


@dataclass
class ConditionalConfig(TrainerConfig):
    """A run of the conditional family: the Trainer's knobs plus how D uses the label."""

    d_cond: str = knob(
        "projection",
        "how D uses the label: concat (cGAN), projection (Miyato and Koyama) or acgan (D "
        "predicts it)",
        choices=D_CONDS,
        rebuild=True,
    )
    loss: str = knob(
        "nonsaturating",
        "the objective: D's and G's losses (gannotes.losses.OBJECTIVES)",
        choices=tuple(OBJECTIVES),
        aliases=("g-loss",),
    )
    class_weight: float = knob(
        1.0, "AC-GAN: weight of the class loss L_C in both players' losses", low=0
    )
    class_fakes: bool = knob(
        False,
        "AC-GAN: D also learns the class of generated images, as in the paper (default off: "
        "D learns classes from real images only; see the module docstring)",
    )
    class_loss: str = knob(
        "cross-entropy",
        "AC-GAN's L_C: cross-entropy of D's class logits, or double-softmax (a widely copied "
        "bug, kept to measure its cost)",
        choices=tuple(CLASS_LOSSES),
    )

    family = "conditional"

    def check(self) -> None:
        super().check()
        if self.model not in Conditional.models:
            raise ValueError(f"unknown model {self.model!r}; the conditional family has cgan")
        if "d_cond" in self.model_config:
            raise ValueError("set d_cond on the training config, not in model_config")
        check_unconstrained(self.loss, "conditional")
        self.model_cfg()  # validates model_config and the dataset

    def model_cfg(self):
        """The architecture's config: cgan's defaults, ``model_config``, and ``d_cond``."""
        return config_for(self.model, self.dataset, **self.model_config, d_cond=self.d_cond)


class Conditional(Family):
    """G(z, y) and D(x, y) from gannotes.models.conditional, one labelled step at a time."""

    name = "conditional"
    Config = ConditionalConfig
    models = ("cgan",)
    data_fields = ("images", "labels")

    def __init__(self, config: ConditionalConfig, device: torch.device):
        super().__init__(config, device)
        self.build_pair(config.model_cfg())

    @property
    def n_classes(self) -> int:  # type: ignore[override]
        return self.model_cfg.n_classes

    @classmethod
    def default_config(cls, model: str = "cgan", dataset: str = "fashion-mnist", **overrides):
        """The course's recipe: the DCGAN's (batch 32, Adam 5e-4 for both networks; see
        gannotes.gans.classic.recipe), with ``overrides`` applied."""
        base: dict[str, Any] = dict(batch_size=32, lr_g=5e-4, lr_d=5e-4)
        return ConditionalConfig(model=model, dataset=dataset, **{**base, **overrides})

    # ------------------------------------------------------------------ training
    def step(self, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: StepContext):
        """The classic step (gannotes.gans.classic.adversarial_step) with the labels as an
        input: real batches are (images ``[N, 1, 28, 28]``, labels ``[N]``), the noise is
        (z, labels drawn uniformly), and AC-GAN adds its class loss to both players'."""
        cfg = self.config
        opts = StepOptions(generator=ctx.trick_gen)
        if cfg.d_cond == "acgan":
            opts.class_loss = CLASS_LOSSES[cfg.class_loss]
            opts.class_weight, opts.class_fakes = cfg.class_weight, cfg.class_fakes
        G, D = self.networks["G"], self.networks["D"]
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        return adversarial_step(G, D, opt_g, opt_d, batches, ctx.noise, cfg.loss, opts, ctx)

    # ------------------------------------------------------------------ sampling
    def latent(self, n: int, generator: torch.Generator | None = None):
        """(z ``[n, z_dim]``, labels ``[n]`` uniform over the classes)."""
        z = torch.randn(n, self.model_cfg.z_dim, generator=generator)
        return z, torch.randint(0, self.n_classes, (n,), generator=generator)

    def labels_for(self, n: int, label: int | None = None) -> torch.Tensor:
        """``n`` labels: all ``label``, or every class in equal shares (0, 1, ..., 9, 0, ...)."""
        if label is None:
            return torch.arange(n) % self.n_classes
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < self.n_classes:
            raise ValueError(f"label must be a class in 0-{self.n_classes - 1}, got {label!r}")
        return torch.full((n,), label, dtype=torch.long)

    def sample_labelled(self, n: int, seed: int = 0, label: int | None = None):
        """``n`` samples of class ``label`` (or of every class in equal shares) and their
        labels; z is drawn from ``seed``, so sample i has the same z whatever the label."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        labels = self.labels_for(n, label)
        z = torch.randn(n, self.model_cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        return self.generate((z, labels)), labels

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples, every class in equal shares."""
        return self.sample_labelled(n, seed)[0]
