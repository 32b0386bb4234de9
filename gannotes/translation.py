"""Scoring image-to-image translation where the true partner is known but was never shown.

On ``edges2fashion`` every held-out edge map has its garment, so an unpaired model (CycleGAN)
can be scored like a paired one (pix2pix): is the output of the partner's class (class
agreement, with a classifier), how far is it pixel by pixel (:func:`pixel_l1`), and does it look
like the domain (FID, gannotes.metrics). Two diagnostics sit beside them:

* :func:`checkerboard_score`: the amplitude of the period-2 pattern that transposed
  convolutions print (Odena et al. 2016), read off the image's discrete Fourier transform at
  the highest frequencies;
* :func:`perturbation_sensitivity`: how much a generator's output moves when its input moves by
  a tiny noise. Chu et al. (2017), "CycleGAN, a master of steganography", showed that CycleGAN
  hides what it needs for the reconstruction in low-amplitude patterns of G(a): F then reacts
  to a tiny perturbation of G(a) much more than to the same perturbation of a real image.

All functions take images in [-1, 1] and report distances in pixel units of [0, 1] (half the
[-1, 1] difference), so 0.05 means "5% of the intensity range".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["checkerboard_score", "class_agreement", "perturbation_sensitivity", "pixel_l1"]


def _images(x, name: str) -> torch.Tensor:
    x = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if x.ndim != 4 or x.shape[1] != 1 or len(x) == 0:
        raise ValueError(f"{name}: expected images [N, 1, H, W] (N >= 1), got {list(x.shape)}")
    return x.float()


def pixel_l1(output, target) -> float:
    """Mean absolute pixel difference, in units of [0, 1] pixels: ``mean|output - target| / 2``
    for images in [-1, 1]."""
    a, b = _images(output, "output"), _images(target, "target")
    if a.shape != b.shape:
        raise ValueError(f"output {list(a.shape)} and target {list(b.shape)} differ")
    return float((a - b).abs().mean() / 2)


def class_agreement(probs, labels) -> float:
    """The share of outputs a classifier puts in their partner's class: ``probs`` ``[N, C]``
    (class probabilities of the outputs), ``labels`` ``[N]`` (the partners' classes)."""
    p, y = np.asarray(probs), np.asarray(labels)
    if p.ndim != 2 or y.shape != (len(p),):
        raise ValueError(
            f"expected probs [N, C] and labels [N], got {list(p.shape)}, {list(y.shape)}"
        )
    return float((p.argmax(1) == y).mean())


def checkerboard_score(images) -> float:
    """Mean amplitude of the period-2 patterns in ``images`` ``[N, 1, H, W]`` (H, W even).

    The DFT coefficients X(H/2, 0), X(0, W/2) and X(H/2, W/2) are the image's correlation with
    the stripes (-1)^i, (-1)^j and the checkerboard (-1)^(i+j); the score is the root of the sum
    of their squared moduli over H W, per image, averaged: the amplitude of those patterns in
    [0, 1] pixel units (an image that *is* 0.5 + 0.1 (-1)^(i+j) scores 0.1). Real garments
    score near 0; a transposed convolution's uneven overlap raises it.
    """
    x = _images(images, "images")[:, 0] / 2  # [N, H, W], [0, 1] units
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        raise ValueError(f"checkerboard_score needs an even height and width, got {h}x{w}")
    si = (-1.0) ** torch.arange(h, dtype=x.dtype)  # [H]: +1, -1, ...
    sj = (-1.0) ** torch.arange(w, dtype=x.dtype)  # [W]
    rows = torch.einsum("nhw,h->n", x, si)  # X(H/2, 0) (real: the signs are real)
    cols = torch.einsum("nhw,w->n", x, sj)  # X(0, W/2)
    both = torch.einsum("nhw,h,w->n", x, si, sj)  # X(H/2, W/2)
    return float(((rows**2 + cols**2 + both**2).sqrt() / (h * w)).mean())


@torch.no_grad()
def perturbation_sensitivity(
    net: nn.Module, images, sigma: float = 0.02, seed: int = 0, reference=None
) -> float:
    """How far ``net``'s output moves when its input moves by Gaussian noise of std ``sigma``:
    ``mean|net(x + sigma n) - net(x)|`` in [0, 1] pixel units (``net`` in eval mode).

    With ``reference`` (the images net(x) should reproduce, e.g. the a of x = G(a)) the
    distance is to it instead, ``mean|net(x + sigma n) - reference|``: how much a reconstruction
    degrades. The noise is drawn on the CPU from ``seed``; inputs are clamped to [-1, 1].
    """
    x = _images(images, "images")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        moved = torch.cat(
            [net(c.to(device)).float().cpu() for c in (x + sigma * noise).clamp(-1, 1).split(500)]
        )
        target = (
            torch.cat([net(c.to(device)).float().cpu() for c in x.split(500)])
            if reference is None
            else _images(reference, "reference")
        )
    finally:
        net.train(was_training)
    return pixel_l1(moved, target)
