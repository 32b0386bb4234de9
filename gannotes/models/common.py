"""What every model file shares: the image shape and a shape check for module boundaries."""

from __future__ import annotations

import torch

__all__ = ["IMAGE_SHAPE", "assert_shape"]

IMAGE_SHAPE = (1, 28, 28)  # Fashion-MNIST: one channel, 28 x 28


def assert_shape(x: torch.Tensor, shape: tuple, name: str) -> None:
    """Check ``x`` against ``shape`` where ``None`` means any size (after StyleGAN3's misc)."""
    if x.ndim != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, x.shape, strict=True)
    ):
        raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {shape} (None: any)")
