"""An MLP generator and discriminator (Goodfellow et al. 2014): toy points or flat images.

Fully connected layers: the generator maps noise z ~ N(0, I) to a sample, the discriminator maps
a sample to one logit ``[N]``. Two tricks change the discriminator (see gannotes.tricks):
``pack = m`` makes it judge m samples at once (PacGAN: m times the input features), and
``minibatch_std`` appends the minibatch standard deviation feature before its last layer
(Karras et al. 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..tricks import MinibatchStdDev
from .common import IMAGE_SHAPE, assert_shape

__all__ = ["MLPConfig", "MLPDiscriminator", "MLPGenerator", "config_for", "packed_shape"]


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
    batchnorm: bool = False  # G: BatchNorm after each hidden layer (as DCGAN's G has)


class MLPGenerator(nn.Module):
    """z ``[N, z_dim]`` -> sample ``[N, *data_shape]``."""

    def __init__(self, cfg: MLPConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else MLPConfig()
        layers: list[nn.Module] = []
        width = cfg.z_dim
        for _ in range(cfg.depth):
            layers.append(nn.Linear(width, cfg.hidden))
            if cfg.batchnorm:
                layers.append(nn.BatchNorm1d(cfg.hidden))
            layers.append(nn.ReLU())
            width = cfg.hidden
        layers.append(nn.Linear(width, math.prod(cfg.data_shape)))
        if cfg.tanh_output:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert_shape(z, (None, self.cfg.z_dim), "z")
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
        assert_shape(x, (None, *packed_shape(self.cfg.data_shape, self.cfg.pack)), "x")
        return self.net(x.flatten(1)).squeeze(1)


def config_for(dataset: str, **overrides) -> MLPConfig:
    """The MLP for ``dataset``: the defaults for 2-D points, a wider tanh MLP for images."""
    image = dataset == "fashion-mnist"
    # Images: BatchNorm in G (as DCGAN's G has). Without it the MLP GAN collapsed to one class
    # at notebook 01's 1,000 steps; with it (and lr 5e-4) 9 classes on seeds 0, 1 and 2.
    base = (
        dict(data_shape=IMAGE_SHAPE, z_dim=64, hidden=512, tanh_output=True, batchnorm=True)
        if image
        else {}
    )
    return MLPConfig(**{**base, **overrides})
