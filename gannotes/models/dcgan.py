"""A DCGAN generator and discriminator for 28x28 images (Radford, Metz and Chintala 2016).

The generator projects z to 7x7 and upsamples with transposed convolutions (7 -> 14 -> 28) and
batch normalisation; the discriminator downsamples with strided convolutions and LeakyReLU(0.2).
Weights are drawn from N(0, 0.02) (Section 4 of the paper). The discriminator returns logits
``[N]``; as a Wasserstein critic its normalisation is switchable (``d_norm``): WGAN-GP's
penalty is per sample, which BatchNorm breaks, so Gulrajani et al. (2017, Sec. 4) use layer
normalisation or none. PacGAN packing and the minibatch std change its input and last layer,
as in the MLP (see gannotes.tricks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..tricks import MinibatchStdDev
from .common import assert_shape

__all__ = [
    "D_NORMS",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "config_for",
    "dcgan_init_",
]

D_NORMS = ("batch", "layer", "none")


@dataclass
class DCGANConfig:
    """A DCGAN for 28x28 single-channel images. Widths are the channels of the 14x14 layer."""

    z_dim: int = 64
    g_width: int = 32  # generator: 2*g_width channels at 7x7, g_width at 14x14
    d_width: int = 32  # discriminator: d_width channels at 14x14, 2*d_width at 7x7
    channels: int = 1
    pack: int = 1  # D judges this many images at once (PacGAN): channels * pack input channels
    minibatch_std: bool = False  # D: minibatch standard deviation channel before the 7x7 conv
    mbstd_group: int = 4  # group size of the minibatch std
    d_norm: str = "batch"  # D's normalisation at 7x7: "batch" (DCGAN), "layer" or "none"

    def __post_init__(self):
        if self.d_norm not in D_NORMS:
            raise ValueError(f"unknown d_norm {self.d_norm!r}; valid: {', '.join(D_NORMS)}")


class DCGANGenerator(nn.Module):
    """z ``[N, z_dim]`` -> image ``[N, 1, 28, 28]`` in [-1, 1].

    Project and reshape to 7x7, then two stride-2 transposed convolutions (kernel 4, padding 1)
    double the resolution each: 7 -> 14 -> 28. BatchNorm and ReLU inside, tanh at the output.
    """

    def __init__(self, cfg: DCGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else DCGANConfig()
        w = cfg.g_width
        self.project = nn.Sequential(
            nn.ConvTranspose2d(cfg.z_dim, 2 * w, 7, 1, 0, bias=False),  # [N, 2w, 7, 7]
            nn.BatchNorm2d(2 * w),
            nn.ReLU(True),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),  # [N, w, 14, 14]
            nn.BatchNorm2d(w),
            nn.ReLU(True),
            nn.ConvTranspose2d(w, cfg.channels, 4, 2, 1),  # [N, C, 28, 28]
            nn.Tanh(),
        )
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert_shape(z, (None, self.cfg.z_dim), "z")
        x = self.up(self.project(z[:, :, None, None]))
        return x  # [N, C, 28, 28]


def _norm(kind: str, channels: int) -> nn.Module:
    """D's normalisation layer: BatchNorm, layer norm over (C, H, W) per sample, or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # one group: normalise each sample over C, H and W
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    """image ``[N, 1, 28, 28]`` -> logit ``[N]`` (with ``pack = m``: ``[N, m, 28, 28]``).

    Two stride-2 convolutions (28 -> 14 -> 7), LeakyReLU(0.2), a normalisation on the second
    (BatchNorm by default; not on the input layer, as in the paper), then a 7x7 convolution to
    one logit.
    """

    def __init__(self, cfg: DCGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else DCGANConfig()
        w = cfg.d_width
        mbstd = [MinibatchStdDev(cfg.mbstd_group)] if cfg.minibatch_std else []
        self.net = nn.Sequential(
            nn.Conv2d(cfg.channels * cfg.pack, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=cfg.d_norm == "none"),  # [N, 2w, 7, 7]
            _norm(cfg.d_norm, 2 * w),
            nn.LeakyReLU(0.2, True),
            *mbstd,  # [N, 2w + 1, 7, 7] with the minibatch std channel
            nn.Conv2d(2 * w + len(mbstd), 1, 7, 1, 0),  # [N, 1, 1, 1]
        )
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, (None, self.cfg.channels * self.cfg.pack, 28, 28), "x")
        return self.net(x).flatten()


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN initialisation, in place: conv weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def config_for(dataset: str, **overrides) -> DCGANConfig:
    """The DCGAN for ``dataset``, which must be 28x28 images."""
    if dataset != "fashion-mnist":
        raise ValueError(f"dcgan makes 28x28 images; use it with fashion-mnist, not {dataset!r}")
    return DCGANConfig(**overrides)
