"""Bias in, bias out: a GAN's class shares against its data's, and what truncation does to them.

A generator fitted to skewed data reproduces the skew, and may amplify it: Maluleke, Thakkar,
Brooks, Weber, Balakrishnan and Koenen 2022, "Studying bias in GANs through the lens of race"
(ECCV), found that StyleGAN2's samples keep the racial mix of its training data while the
truncation trick (trading diversity for fidelity) pushes the samples towards the majority. This
module measures the same on Fashion-MNIST's classes, with the course's classifier as the judge:

* :func:`skewed_subset` draws a training set of chosen class shares; :func:`rebalanced`
  duplicates the minority classes to equal shares (what a class-balanced sampler does, in data);
* :func:`class_shares` is the share of images the classifier puts in each class,
  :func:`label_shares` the exact shares of known labels;
* :func:`truncated_normal` and :func:`z_truncated_sample` sample a generator with its latent z
  truncated, BigGAN's truncation trick (Brock, Donahue and Simonyan 2019, Sec. 3.1): every
  coordinate of z with ``|z_i| > psi`` is **resampled** until it falls inside, so z follows a
  normal distribution truncated to ``[-psi, psi]`` (``method="scale"`` multiplies z by psi
  instead, the z-space form of StyleGAN's ``w_avg + psi (w - w_avg)``, since z's mean is 0);
* :func:`amplification`: a class's share in the samples over its share in the data (1: kept;
  above 1: amplified).

The classifier errs too: measure it on real images of the classes in play (``class_shares`` of
the real training set against :func:`label_shares` of its labels) and read the generated shares
with that error bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .classifiers import _images, _labelled

__all__ = [
    "amplification",
    "class_shares",
    "label_shares",
    "rebalanced",
    "skewed_subset",
    "truncated_normal",
    "z_truncated_sample",
]

N_CLASSES = 10
TRUNCATIONS = ("resample", "scale")


def _course_classifier(images: torch.Tensor) -> np.ndarray:
    """The course's feature network's predicted class of each image ``[N]``."""
    from .features import class_probabilities

    return class_probabilities(images).argmax(1)


def label_shares(labels, n_classes: int = N_CLASSES) -> np.ndarray:
    """The fraction of ``labels`` (ints in 0..n_classes-1) in each class, float64 ``[n_classes]``."""
    y = np.asarray(labels)
    if y.ndim != 1 or not len(y) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D array of ints, got {y.dtype} {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got [{y.min()}, {y.max()}]")
    return np.bincount(y, minlength=n_classes) / len(y)


def class_shares(
    images, classify: Callable[[torch.Tensor], Any] | None = None, n_classes: int = N_CLASSES
) -> np.ndarray:
    """The fraction of ``images`` ``[N, 1, 28, 28]`` that ``classify`` (images -> predicted
    classes ``[N]``; default: the course's feature network, ``gannotes.features``) puts in each
    class, float64 ``[n_classes]``, summing to 1."""
    x = _images(images, "images")
    if not len(x):
        raise ValueError("class_shares needs at least one image")
    predicted = np.asarray((classify or _course_classifier)(x))
    if predicted.shape != (len(x),):
        raise ValueError(f"classify must return one class per image, got shape {predicted.shape}")
    return label_shares(predicted.astype(np.int64), n_classes)


def _counts(shares: Mapping[int, float], n: int) -> dict[int, int]:
    """Whole counts summing to ``n`` in the given shares: floors, then the remaining units to
    the largest fractional parts (ties to the lower class), Hamilton's method."""
    exact = {c: s * n for c, s in shares.items()}
    counts = {c: int(np.floor(v)) for c, v in exact.items()}
    by_remainder = sorted(exact, key=lambda c: (-(exact[c] - counts[c]), c))
    for c in by_remainder[: n - sum(counts.values())]:
        counts[c] += 1
    return counts


def skewed_subset(
    images, labels, shares: Mapping[int, float], n: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images drawn without replacement, class c making up ``shares[c]`` of them (the
    shares sum to 1; counts rounded to whole images by largest remainder, so they sum to
    exactly ``n``). Returns (images ``[n, 1, 28, 28]``, labels ``[n]``) in a random order."""
    x, y = _labelled(images, labels, ("images", "labels"))
    if not shares or any(
        isinstance(c, bool) or not isinstance(c, Integral) or not 0 <= c < N_CLASSES for c in shares
    ):
        raise ValueError(f"shares must map classes 0..9 to fractions, got {dict(shares)!r}")
    if any(isinstance(s, bool) or not isinstance(s, Real) or not s > 0 for s in shares.values()):
        raise ValueError(f"every share must be a number > 0, got {dict(shares)!r}")
    if abs(sum(shares.values()) - 1) > 1e-6:
        raise ValueError(f"shares must sum to 1, got {sum(shares.values()):.6g}")
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c, k in sorted(_counts(shares, int(n)).items()):
        pool = torch.nonzero(y == c)[:, 0]
        if len(pool) < k:
            raise ValueError(f"class {c} has {len(pool)} images, fewer than the {k} asked for")
        picked.append(pool[torch.randperm(len(pool), generator=gen)[:k]])
    idx = torch.cat(picked)
    idx = idx[torch.randperm(len(idx), generator=gen)]
    return x[idx], y[idx]


def rebalanced(images, labels, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every class present raised to the largest class's count by duplicating its images:
    each image ``m // c`` times, plus ``m % c`` of them once more (drawn without replacement),
    for a class of c images and a largest class of m. A uniform sampler over the result draws
    each class equally often, as a class-balanced sampler over the original would. Returns
    (images, labels) in a random order."""
    x, y = _labelled(images, labels, ("images", "labels"), min_n=1)
    gen = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(y, return_counts=True)
    m = int(counts.max())
    picked = []
    for c, k in zip(classes.tolist(), counts.tolist(), strict=True):
        pool = torch.nonzero(y == c)[:, 0]
        extra = pool[torch.randperm(k, generator=gen)[: m % k]]
        picked.append(torch.cat([pool.repeat(m // k), extra]))
    idx = torch.cat(picked)
    idx = idx[torch.randperm(len(idx), generator=gen)]
    return x[idx], y[idx]


def truncated_normal(
    shape: tuple[int, ...], psi: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Standard normal draws with every coordinate outside ``[-psi, psi]`` drawn again until it
    falls inside: the normal distribution truncated to ``[-psi, psi]`` (BigGAN's trick)."""
    if isinstance(psi, bool) or not isinstance(psi, Real) or not psi > 0:
        raise ValueError(f"psi (the truncation threshold) must be a number > 0, got {psi!r}")
    z = torch.randn(shape, generator=generator)
    outside = z.abs() > psi
    while outside.any():  # about 1 / P(|z| <= psi) rounds: 3 at psi = 0.5, 12 at 0.1
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > psi
    return z


def z_truncated_sample(
    family, n: int, psi: float | None, seed: int = 0, method: str = "resample"
) -> torch.Tensor:
    """``n`` samples of a generator family (``gannotes.training.load_family``) with its z
    truncated at ``psi`` (``None``: no truncation, the family's own ``sample``): ``"resample"``
    draws z from the normal truncated to [-psi, psi] (BigGAN; any psi > 0), ``"scale"`` uses
    psi z (psi in (0, 1]). Other inputs (a conditional model's labels, StyleGAN's noise maps)
    are drawn as the family draws them. Reproducible with ``seed``; ``[n, 1, 28, 28]``."""
    if method not in TRUNCATIONS:
        raise ValueError(f"method must be one of {TRUNCATIONS}, got {method!r}")
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    gen = torch.Generator().manual_seed(seed)
    inputs = family.latent(int(n), gen)
    if psi is None:
        return family.generate(inputs)
    z, *rest = inputs if isinstance(inputs, tuple | list) else (inputs,)
    assert z.ndim == 2 and len(z) == n  # [n, z_dim]
    if method == "scale":
        if isinstance(psi, bool) or not isinstance(psi, Real) or not 0 < psi <= 1:
            raise ValueError(f"psi must be a number in (0, 1] for method='scale', got {psi!r}")
        z = psi * z
    else:
        z = truncated_normal(tuple(z.shape), psi, gen)
    return family.generate((z, *rest) if rest else z)


def amplification(sample_shares, data_shares, cls: int | None = None) -> float:
    """A class's share in the samples over its share in the data: 1 when the generator keeps
    it, above 1 when it amplifies it. ``cls`` defaults to the data's majority class."""
    s, d = np.asarray(sample_shares, dtype=np.float64), np.asarray(data_shares, dtype=np.float64)
    if s.shape != d.shape or s.ndim != 1:
        raise ValueError(f"the shares must be 1-D of one length, got {s.shape} and {d.shape}")
    cls = int(d.argmax()) if cls is None else cls
    if not 0 <= cls < len(d) or not d[cls] > 0:
        raise ValueError(f"class {cls} has no share in the data")
    return float(s[cls] / d[cls])
