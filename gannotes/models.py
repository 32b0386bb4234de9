"""Generators and discriminators: an MLP pair (toy points, flat images) and a DCGAN pair (28x28).

The MLP pair follows Goodfellow et al. (2014): fully connected layers, the generator maps noise
z ~ N(0, I) to a sample, the discriminator maps a sample to one logit. The DCGAN pair follows
Radford, Metz and Chintala (2016), sized for 28x28: the generator upsamples with transposed
convolutions (7 -> 14 -> 28) and batch normalisation, the discriminator downsamples with strided
convolutions and LeakyReLU(0.2); weights are drawn from N(0, 0.02) (Section 4 of the paper).

Every model has a dataclass config whose defaults work; discriminators return logits ``[N]``.
Two tricks change the discriminator's architecture (see gannotes.tricks): ``pack = m`` makes D
judge m samples at once (PacGAN: its input has m times the features or channels, and it returns
one logit per pack), and ``minibatch_std`` adds the minibatch standard deviation feature
(Karras et al. 2018) before D's last layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .tricks import MinibatchStdDev

__all__ = [
    "MODELS",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPConfig",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_models",
    "config_for",
    "dcgan_init_",
    "packed_shape",
]

MODELS = ("mlp", "dcgan")
IMAGE_SHAPE = (1, 28, 28)


def _assert_shape(x: torch.Tensor, shape: tuple, name: str) -> None:
    """Check ``x`` against ``shape`` where ``None`` means any size (after StyleGAN3's misc)."""
    if x.ndim != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, x.shape, strict=True)
    ):
        raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {shape} (None: any)")


# ----------------------------------------------------------------------------- MLP


@dataclass
class MLPConfig:
    """An MLP GAN. The defaults suit the 2-D toy sets; ``data_shape=(1, 28, 28)`` makes images."""

    data_shape: tuple[int, ...] = (2,)  # shape of one sample
    z_dim: int = 16  # latent dimension
    hidden: int = 256  # width of every hidden layer
    depth: int = 3  # hidden layers in each network
    tanh_output: bool = False  # squash to [-1, 1]: images yes, toy points no
    pack: int = 1  # D judges this many samples at once (PacGAN)
    minibatch_std: bool = False  # D: minibatch standard deviation feature before its last layer
    mbstd_group: int = 4  # group size of the minibatch std


class MLPGenerator(nn.Module):
    """z ``[N, z_dim]`` -> sample ``[N, *data_shape]``."""

    def __init__(self, cfg: MLPConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else MLPConfig()
        layers: list[nn.Module] = []
        width = cfg.z_dim
        for _ in range(cfg.depth):
            layers += [nn.Linear(width, cfg.hidden), nn.ReLU()]
            width = cfg.hidden
        layers.append(nn.Linear(width, math.prod(cfg.data_shape)))
        if cfg.tanh_output:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _assert_shape(z, (None, self.cfg.z_dim), "z")
        return self.net(z).view(-1, *self.cfg.data_shape)


def packed_shape(data_shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one packed sample: m samples concatenated along the first axis."""
    return (data_shape[0] * pack, *data_shape[1:])


class MLPDiscriminator(nn.Module):
    """sample ``[N, *data_shape]`` -> logit ``[N]``; with ``pack = m``, a pack of m samples
    ``[N, m * data_shape[0], ...]`` (see gannotes.tricks.pack) -> logit ``[N]``."""

    def __init__(self, cfg: MLPConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else MLPConfig()
        layers: list[nn.Module] = []
        width = math.prod(cfg.data_shape) * cfg.pack
        for _ in range(cfg.depth):
            layers += [nn.Linear(width, cfg.hidden), nn.LeakyReLU(0.2)]
            width = cfg.hidden
        if cfg.minibatch_std:
            layers.append(MinibatchStdDev(cfg.mbstd_group))
            width += 1
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _assert_shape(x, (None, *packed_shape(self.cfg.data_shape, self.cfg.pack)), "x")
        return self.net(x.flatten(1)).squeeze(1)


# ----------------------------------------------------------------------------- DCGAN


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
        _assert_shape(z, (None, self.cfg.z_dim), "z")
        x = self.up(self.project(z[:, :, None, None]))
        return x  # [N, C, 28, 28]


class DCGANDiscriminator(nn.Module):
    """image ``[N, 1, 28, 28]`` -> logit ``[N]`` (with ``pack = m``: ``[N, m, 28, 28]``).

    Two stride-2 convolutions (28 -> 14 -> 7), LeakyReLU(0.2), BatchNorm on the second (not on the
    input layer, as in the paper), then a 7x7 convolution to one logit.
    """

    def __init__(self, cfg: DCGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else DCGANConfig()
        w = cfg.d_width
        mbstd = [MinibatchStdDev(cfg.mbstd_group)] if cfg.minibatch_std else []
        self.net = nn.Sequential(
            nn.Conv2d(cfg.channels * cfg.pack, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),  # [N, 2w, 7, 7]
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, True),
            *mbstd,  # [N, 2w + 1, 7, 7] with the minibatch std channel
            nn.Conv2d(2 * w + len(mbstd), 1, 7, 1, 0),  # [N, 1, 1, 1]
        )
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _assert_shape(x, (None, self.cfg.channels * self.cfg.pack, 28, 28), "x")
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


# ----------------------------------------------------------------------------- registry


def config_for(model: str, dataset: str, **overrides) -> MLPConfig | DCGANConfig:
    """The default config of ``model`` for ``dataset``, with ``overrides`` applied."""
    image = dataset == "fashion-mnist"
    if model == "mlp":
        base = dict(data_shape=IMAGE_SHAPE, z_dim=64, hidden=512, tanh_output=True) if image else {}
        return MLPConfig(**{**base, **overrides})
    if model == "dcgan":
        if not image:
            raise ValueError(
                f"dcgan makes 28x28 images; use it with fashion-mnist, not {dataset!r}"
            )
        return DCGANConfig(**overrides)
    raise ValueError(f"unknown model {model!r}; valid models are {', '.join(MODELS)}")


def build_models(cfg: MLPConfig | DCGANConfig) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair described by ``cfg``."""
    if isinstance(cfg, MLPConfig):
        cfg.data_shape = tuple(cfg.data_shape)
        return MLPGenerator(cfg), MLPDiscriminator(cfg)
    if isinstance(cfg, DCGANConfig):
        return DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    raise TypeError(f"expected MLPConfig or DCGANConfig, got {type(cfg).__name__}")
