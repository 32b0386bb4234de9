"""What StyleGAN's papers claim about their latent spaces, as measurements.

* :func:`truncated_normal`: z drawn from a normal truncated to ``|z_i| <= threshold`` (BigGAN's
  truncation trick, Brock et al. 2019, Sec. 3.1), the z-space counterpart of StyleGAN's
  truncation in W (``StyleGenerator.truncate``).
* :func:`slerp`, :func:`perceptual_path_length`: StyleGAN's Sec. 4.1. The perceptual path length
  of a latent space is the mean of ``d(G(l(t)), G(l(t + eps))) / eps^2`` over random segments
  and positions t, where l interpolates between two random latents (spherically in Z, linearly
  in W) and d is a perceptual distance. A space where small steps never make large jumps in the
  image is "smoother", more disentangled; the paper finds W's path length far below Z's.
* :func:`resampling_std`: how much the image changes, pixel by pixel, when only one input is
  drawn again (the noise maps, or w), StyleGAN's Fig. 4 and Sec. 3.2 as a number and a map.
* :func:`feature_distance`: the course's perceptual distance, the squared distance between the
  unit-normalised features of gannotes.features (the paper uses VGG16 features, LPIPS).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "feature_distance",
    "perceptual_path_length",
    "resampling_std",
    "slerp",
    "truncated_normal",
]


def truncated_normal(
    n: int, dim: int, threshold: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``[n, dim]`` draws of N(0, 1) truncated to ``[-threshold, threshold]``: each value
    outside is drawn again until it falls inside (BigGAN's truncation trick)."""
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold}")
    z = torch.randn(n, dim, generator=generator)
    while True:
        out = z.abs() > threshold
        k = int(out.sum())
        if k == 0:
            return z
        z[out] = torch.randn(k, generator=generator)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` ``[N, D]`` at ``t`` ``[N]``
    (after normalising both to unit length, as StyleGAN's PPL code does for z)."""
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    d = (a * b).sum(1, keepdim=True).clamp(-1, 1)
    omega = torch.arccos(d)
    t = t[:, None]
    c = b - d * a
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return a * torch.cos(t * omega) + c * torch.sin(t * omega)


def feature_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Perceptual distance ``|f(x)/|f(x)| - f(y)/|f(y)||^2`` per row, f the course's feature
    network (gannotes.features); images ``[N, 1, 28, 28]`` in [-1, 1]."""
    from .features import features

    fx, fy = (torch.as_tensor(features(v)) for v in (x, y))
    fx = fx / fx.norm(dim=1, keepdim=True).clamp_min(1e-12)
    fy = fy / fy.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (fx - fy).square().sum(1)


def perceptual_path_length(
    generate: Callable[[torch.Tensor], torch.Tensor],
    latents: tuple[torch.Tensor, torch.Tensor],
    space: str,
    *,
    eps: float = 1e-4,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = feature_distance,
    generator: torch.Generator | None = None,
) -> tuple[float, np.ndarray]:
    """StyleGAN's perceptual path length (Sec. 4.1, Eq. 2 and 3), "full" paths.

    ``latents`` are the segments' two ends ``[N, D]`` each (z in Z, or the w of those z in W);
    ``generate`` maps latents ``[M, D]`` to images (with everything else held fixed). For each
    segment, t ~ U(0, 1); the points are l(t) and l(t + eps), with ``slerp`` in ``"z"`` and
    linear interpolation in ``"w"``. Returns the mean of ``distance / eps^2`` after dropping the
    values below the 1st and above the 99th percentile (as the paper does), and all values.
    """
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    a, b = latents
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"latents must be two [N, D] tensors, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    t = torch.rand(len(a), generator=generator, dtype=a.dtype)
    if space == "z":
        p0, p1 = slerp(a, b, t), slerp(a, b, t + eps)
    else:
        p0, p1 = torch.lerp(a, b, t[:, None]), torch.lerp(a, b, (t + eps)[:, None])
    x = generate(torch.cat([p0, p1]))
    d = distance(x[: len(a)], x[len(a) :]).double() / eps**2
    values = d.cpu().numpy()
    lo, hi = np.percentile(values, [1, 99])
    kept = values[(values >= lo) & (values <= hi)]
    return float(kept.mean()), values


def resampling_std(images: torch.Tensor) -> torch.Tensor:
    """The per-pixel std over redraws: ``images`` ``[K, N, C, H, W]`` are K redraws of N
    images (e.g. the same w with K different noise maps); returns ``[N, C, H, W]``, the std of
    each pixel over the K redraws. Its mean says how much the redrawn input moves the image,
    its map says where."""
    if images.ndim != 5 or images.shape[0] < 2:
        raise ValueError(f"images must be [K >= 2, N, C, H, W], got {tuple(images.shape)}")
    return images.std(dim=0, unbiased=True)
