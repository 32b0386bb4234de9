"""Generators and discriminators, one readable file per architecture.

* :mod:`gannotes.models.mlp`: an MLP pair for 2-D toy points and flat images (Goodfellow et al.
  2014);
* :mod:`gannotes.models.dcgan`: a DCGAN pair for 28x28 images (Radford et al. 2016);
* :mod:`gannotes.models.conditional`: a class-conditional DCGAN pair (Mirza and Osindero 2014),
  D with the label concatenated, projected (Miyato and Koyama 2018) or predicted (AC-GAN);
* :mod:`gannotes.models.pix2pix`: a U-Net generator and a PatchGAN discriminator for paired
  translation (Isola et al. 2017);
* :mod:`gannotes.models.cyclegan`: a ResNet generator and a PatchGAN discriminator for unpaired
  translation (Zhu et al. 2017); the family builds two of each;
* :mod:`gannotes.models.stylegan`: a style-based generator (mapping network, constant input,
  AdaIN or modulated convolutions, noise inputs) and its discriminator (Karras et al. 2019,
  2020).

Every model has a dataclass config whose defaults work; discriminators return logits ``[N]``.
:func:`config_for` gives the default config of a model for a dataset, :func:`build_models` the
(generator, discriminator) pair of a config. Adding an architecture is one new file here and one
line in :data:`ARCHITECTURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import nn

from . import conditional, cyclegan, dcgan, mlp, pix2pix, stylegan
from .common import IMAGE_SHAPE, assert_shape
from .conditional import D_CONDS, CGANConfig, ConditionalDiscriminator, ConditionalGenerator
from .cyclegan import UPSAMPLES, CycleDiscriminator, CycleGANConfig, ResnetGenerator
from .dcgan import D_NORMS, DCGANConfig, DCGANDiscriminator, DCGANGenerator, dcgan_init_
from .mlp import MLPConfig, MLPDiscriminator, MLPGenerator, packed_shape
from .pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator
from .stylegan import StyleDiscriminator, StyleGANConfig, StyleGenerator

__all__ = [
    "ARCHITECTURES",
    "CGANConfig",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "CycleDiscriminator",
    "CycleGANConfig",
    "D_CONDS",
    "D_NORMS",
    "IMAGE_SHAPE",
    "MODELS",
    "Architecture",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPConfig",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchDiscriminator",
    "Pix2PixConfig",
    "ResnetGenerator",
    "StyleDiscriminator",
    "StyleGANConfig",
    "StyleGenerator",
    "UNetGenerator",
    "UPSAMPLES",
    "assert_shape",
    "build_models",
    "config_for",
    "dcgan_init_",
    "packed_shape",
]


class Architecture(NamedTuple):
    """A (generator, discriminator) pair: its config class, the two networks, and the default
    config for a dataset."""

    config: type
    generator: type[nn.Module]
    discriminator: type[nn.Module]
    config_for: Callable[..., object]


ARCHITECTURES = {
    "mlp": Architecture(MLPConfig, MLPGenerator, MLPDiscriminator, mlp.config_for),
    "dcgan": Architecture(DCGANConfig, DCGANGenerator, DCGANDiscriminator, dcgan.config_for),
    "cgan": Architecture(
        CGANConfig, ConditionalGenerator, ConditionalDiscriminator, conditional.config_for
    ),
    "pix2pix": Architecture(Pix2PixConfig, UNetGenerator, PatchDiscriminator, pix2pix.config_for),
    "cyclegan": Architecture(
        CycleGANConfig, ResnetGenerator, CycleDiscriminator, cyclegan.config_for
    ),
    "stylegan": Architecture(
        StyleGANConfig, StyleGenerator, StyleDiscriminator, stylegan.config_for
    ),
}
MODELS = tuple(ARCHITECTURES)


def config_for(model: str, dataset: str, **overrides):
    """The default config of ``model`` for ``dataset``, with ``overrides`` applied."""
    if model not in ARCHITECTURES:
        raise ValueError(f"unknown model {model!r}; valid models are {', '.join(MODELS)}")
    return ARCHITECTURES[model].config_for(dataset, **overrides)


def build_models(cfg) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair described by ``cfg`` (a config of ARCHITECTURES)."""
    for arch in ARCHITECTURES.values():
        if isinstance(cfg, arch.config):
            if hasattr(cfg, "data_shape"):
                cfg.data_shape = tuple(cfg.data_shape)  # from JSON or a checkpoint: a list
            return arch.generator(cfg), arch.discriminator(cfg)
    names = ", ".join(a.config.__name__ for a in ARCHITECTURES.values())
    raise TypeError(f"expected one of {names}, got {type(cfg).__name__}")
