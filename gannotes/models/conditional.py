"""A class-conditional DCGAN pair for 28x28 images (Mirza and Osindero 2014).

The generator is the DCGAN generator (gannotes.models.dcgan) fed with ``[z, e(y)]``: the
label's learned embedding joined to the noise. The discriminator can use the label in three
ways (``d_cond``), the three designs notebook 03 measures on the same budget:

* ``"concat"``: the label as ten one-hot channels beside the image (the original cGAN joins the
  label to D's input);
* ``"projection"``: ``D(x, y) = w . phi(x) + e_D(y) . phi(x)``, an inner product of the
  label's embedding with D's features (Miyato and Koyama 2018, Eq. 3);
* ``"acgan"``: D does not see the label; it predicts it, with a second head of class logits
  beside the real/fake score (AC-GAN, Odena et al. 2017, Eq. 2-3).

The body of D is the DCGAN discriminator's (two stride-2 convolutions, 28 -> 14 -> 7); its
last layer, a 7x7 convolution to one logit, is written as the linear map it is, so that the
projection and the class head read the same features ``phi(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .common import assert_shape
from .dcgan import D_NORMS, DCGANConfig, DCGANGenerator, _norm, dcgan_init_

__all__ = [
    "D_CONDS",
    "CGANConfig",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "config_for",
]

D_CONDS = ("concat", "projection", "acgan")


@dataclass
class CGANConfig:
    """A class-conditional DCGAN. Widths are the channels of the 14x14 layer (as DCGANConfig)."""

    z_dim: int = 64
    n_classes: int = 10
    embed_dim: int = 16  # G: size of the label's embedding, joined to z
    g_width: int = 32
    d_width: int = 32
    d_cond: str = "projection"  # how D uses the label: see D_CONDS
    d_norm: str = "batch"

    def __post_init__(self):
        if self.d_cond not in D_CONDS:
            raise ValueError(f"unknown d_cond {self.d_cond!r}; valid: {', '.join(D_CONDS)}")
        if self.d_norm not in D_NORMS:
            raise ValueError(f"unknown d_norm {self.d_norm!r}; valid: {', '.join(D_NORMS)}")


def _check_labels(y: torch.Tensor, n: int) -> None:
    assert_shape(y, (n,), "y")
    if y.dtype != torch.long:
        raise ValueError(f"labels must be int64 class indices, got {y.dtype}")


class ConditionalGenerator(nn.Module):
    """(z ``[N, z_dim]``, y ``[N]`` int64) -> image ``[N, 1, 28, 28]`` in [-1, 1]."""

    def __init__(self, cfg: CGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else CGANConfig()
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)  # e(y), N(0, 1) init
        self.body = DCGANGenerator(
            DCGANConfig(z_dim=cfg.z_dim + cfg.embed_dim, g_width=cfg.g_width)
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        assert_shape(z, (None, self.cfg.z_dim), "z")
        _check_labels(y, z.shape[0])
        return self.body(torch.cat([z, self.embed(y)], dim=1))  # [N, 1, 28, 28]


class ConditionalDiscriminator(nn.Module):
    """(image ``[N, 1, 28, 28]``, y ``[N]``) -> score ``[N]`` (a logit for the logistic
    objectives); :meth:`scores` also returns AC-GAN's class logits ``[N, n_classes]``."""

    def __init__(self, cfg: CGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else CGANConfig()
        w = cfg.d_width
        c_in = 1 + (cfg.n_classes if cfg.d_cond == "concat" else 0)
        self.features = nn.Sequential(
            nn.Conv2d(c_in, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=cfg.d_norm == "none"),  # [N, 2w, 7, 7]
            _norm(cfg.d_norm, 2 * w),
            nn.LeakyReLU(0.2, True),
            nn.Flatten(),  # phi(x): [N, 2w * 49]
        )
        n_feat = 2 * w * 7 * 7
        self.score = nn.Linear(n_feat, 1)  # w . phi(x) + b: DCGAN's 7x7 conv to one logit
        if cfg.d_cond == "projection":
            self.embed = nn.Embedding(cfg.n_classes, n_feat)  # e_D(y)
        if cfg.d_cond == "acgan":
            self.classify = nn.Linear(n_feat, cfg.n_classes)  # the auxiliary classifier
        dcgan_init_(self)
        if cfg.d_cond == "projection":
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def scores(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The real/fake score ``[N]`` and, for AC-GAN, the class logits ``[N, n_classes]``
        (None otherwise)."""
        cfg = self.cfg
        assert_shape(x, (None, 1, 28, 28), "x")
        _check_labels(y, x.shape[0])
        if cfg.d_cond == "concat":
            onehot = F.one_hot(y, cfg.n_classes).to(x.dtype)  # [N, n_classes]
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        phi = self.features(x)  # [N, 2w * 49]
        score = self.score(phi).flatten()  # [N]
        if cfg.d_cond == "projection":
            score = score + (self.embed(y) * phi).sum(dim=1)  # + e_D(y) . phi(x)
        logits = self.classify(phi) if cfg.d_cond == "acgan" else None
        return score, logits

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.scores(x, y)[0]


def config_for(dataset: str, **overrides) -> CGANConfig:
    """The conditional DCGAN for ``dataset``, which must be labelled 28x28 images."""
    if dataset != "fashion-mnist":
        raise ValueError(
            f"cgan makes labelled 28x28 images; use it with fashion-mnist, not {dataset!r}"
        )
    return CGANConfig(**overrides)
