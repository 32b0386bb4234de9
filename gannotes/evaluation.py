"""Scoring generated Fashion-MNIST samples against a fixed held-out reference set.

The reference is the test-split subset shipped in ``data/fashion-mnist-subset`` (2,000 images,
200 per class): the same 2,000 images on every machine, never seen by a GAN (GANs train on the
training split) nor by the feature network. All metrics use the course's feature network
(:mod:`gannotes.features`); see :mod:`gannotes.metrics` for the formulas.

``discriminator_accuracy`` asks a trained discriminator which images it takes for real: on
the images it trained on and on held-out ones, it shows a discriminator that memorises
(notebook 02's overfitting pitfall).

``box_blur`` makes a defect of known direction (detail lost, shapes kept) that a fidelity metric
must punish: notebook 07 checks the metrics on it.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .data import CLASSES, load_fashion_mnist
from .features import as_images, extract

__all__ = [
    "MIN_CLASS_SHARE",
    "box_blur",
    "class_histogram",
    "discriminator_accuracy",
    "evaluate_images",
    "reference_features",
]

MIN_CLASS_SHARE = 0.02  # a class is "covered" when at least 2% of samples are classified as it


@lru_cache(maxsize=1)
def reference_features() -> tuple[np.ndarray, np.ndarray]:
    """(features, class probabilities) of the 2,000 shipped held-out test images."""
    ref = load_fashion_mnist("test", subset=True)
    return extract(ref.images)


def class_histogram(probs: np.ndarray) -> np.ndarray:
    """How many samples the feature network assigns to each of the 10 classes. ``[10]``"""
    return np.bincount(np.asarray(probs).argmax(1), minlength=len(CLASSES))


def evaluate_images(images, *, kid_subsets: int = 100, seed: int = 0) -> dict:
    """All metrics of ``images`` (``[N, 1, 28, 28]`` or ``[N, 28, 28]``, in [-1, 1] or [0, 1]).

    Returns a flat dict of floats and ints: fid, kid, kid_std, precision, recall, density,
    coverage, inception_score, inception_score_std, classes_covered, class_histogram, n.
    """
    x = as_images(images)
    feats, probs = extract(x)
    ref_feats, _ = reference_features()
    kid = metrics.kernel_distance(
        ref_feats,
        feats,
        subsets=kid_subsets,
        subset_size=min(1000, len(feats), len(ref_feats)),
        seed=seed,
    )
    pr = metrics.precision_recall(ref_feats, feats, k=3)
    dc = metrics.density_coverage(ref_feats, feats, k=5)
    isc = metrics.inception_score(probs, splits=10 if len(probs) >= 100 else 1)
    hist = class_histogram(probs)
    return {
        "fid": float(metrics.frechet_distance(ref_feats, feats)),
        "kid": float(kid.mean),
        "kid_std": float(kid.std),
        "precision": float(pr.precision),
        "recall": float(pr.recall),
        "density": float(dc.density),
        "coverage": float(dc.coverage),
        "inception_score": float(isc.mean),
        "inception_score_std": float(isc.std),
        "classes_covered": int((hist >= MIN_CLASS_SHARE * len(x)).sum()),
        "class_histogram": [int(c) for c in hist],
        "n": int(len(x)),
    }


def box_blur(images: torch.Tensor, size: int) -> torch.Tensor:
    """Each pixel replaced by the mean of its ``size`` x ``size`` neighbourhood (``size`` odd).

    ``[N, C, H, W]`` -> ``[N, C, H, W]``, float. At the border the mean is over the neighbours
    inside the image only (no zero padding, which would darken the edges of a [-1, 1] image).
    """
    if isinstance(size, bool) or not isinstance(size, Integral) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive int (the window is centred), got {size!r}")
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ValueError(
            f"images must be a float tensor, got {getattr(images, 'dtype', type(images).__name__)}"
        )
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    out = F.avg_pool2d(images, size, stride=1, padding=size // 2, count_include_pad=False)
    assert out.shape == images.shape  # [N, C, H, W]
    return out


@torch.no_grad()
def discriminator_accuracy(D: torch.nn.Module, images: torch.Tensor, batch: int = 500) -> float:
    """The fraction of ``images`` (real ones) that ``D`` calls real: logit > 0, i.e.
    D(x) = sigmoid(logit) > 1/2. D runs in eval mode (BatchNorm's running statistics, as when
    sampling) on D's device, and its mode is restored.

    On real images D trained on this is its training accuracy; on held-out real images, the
    same number for data it never saw: a gap between the two is a discriminator that memorises.
    """
    param = next(D.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = D.training
    D.eval()
    try:
        logits = torch.cat([D(chunk.to(device)).float().cpu() for chunk in images.split(batch)])
    finally:
        D.train(was_training)
    return float((logits > 0).float().mean())
