"""GAN families: what one training step means, one readable file each.

* :mod:`gannotes.gans.classic`: one G, one D, any objective of gannotes.losses (the GAN of
  Goodfellow et al. 2014, DCGAN, LSGAN, hinge, WGAN and WGAN-GP), with the training tricks.
* :mod:`gannotes.gans.conditional`: class-conditional G(z, y) and D(x, y): cGAN, the
  projection discriminator, AC-GAN.
* :mod:`gannotes.gans.pix2pix`: paired image-to-image translation (Isola et al. 2017).
* :mod:`gannotes.gans.cyclegan`: unpaired translation between two domains (Zhu et al. 2017).
* :mod:`gannotes.gans.stylegan`: a style-based generator (Karras et al. 2019, 2020), trained
  with style mixing, lazy R1 and optional path-length regularisation.

:mod:`gannotes.gans.family` says what a family is. Adding one is a new file here and one line
in :data:`FAMILIES`; the Trainer, checkpoints, the CLI and sampling pick it up from there.
"""

from __future__ import annotations

from .classic import Classic
from .conditional import Conditional
from .cyclegan import CycleGAN
from .family import Family, Precision, StepContext, frozen, make_optimizer, to_device
from .pix2pix import Pix2Pix
from .stylegan import StyleGAN

__all__ = [
    "FAMILIES",
    "MODELS",
    "Family",
    "Precision",
    "StepContext",
    "family_for_config",
    "family_for_model",
    "frozen",
    "get_family",
    "make_optimizer",
    "to_device",
]

FAMILIES: dict[str, type[Family]] = {
    "classic": Classic,
    "conditional": Conditional,
    "pix2pix": Pix2Pix,
    "cyclegan": CycleGAN,
    "stylegan": StyleGAN,
}
MODELS = tuple(model for fam in FAMILIES.values() for model in fam.models)


def get_family(name: str) -> type[Family]:
    """The family called ``name``."""
    if name not in FAMILIES:
        raise ValueError(f"unknown GAN family {name!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def family_for_model(model: str) -> type[Family]:
    """The family that trains ``model`` (an architecture name such as "dcgan")."""
    for fam in FAMILIES.values():
        if model in fam.models:
            return fam
    raise ValueError(f"unknown model {model!r}; valid models are {', '.join(MODELS)}")


def family_for_config(config) -> type[Family]:
    """The family whose config class ``config`` is an instance of."""
    for fam in FAMILIES.values():
        if type(config) is fam.Config:
            return fam
    raise TypeError(
        f"{type(config).__name__} is not a GAN family's config; use one of "
        f"{', '.join(f.Config.__name__ for f in FAMILIES.values())} (e.g. from default_config)"
    )
