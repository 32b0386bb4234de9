"""pix2pix's networks for 28x28 images (Isola et al. 2017): a U-Net and a PatchGAN.

The generator is an encoder-decoder with skip connections (a U-Net, Ronneberger et al. 2015;
the paper's Sec. 3.2.1): the input's low-level detail (here, where the edges are) is passed
straight to the decoder layer of the same resolution, instead of squeezing through the 4x4
bottleneck. Encoder blocks are Conv-BatchNorm-LeakyReLU(0.2), decoder blocks
ReLU-ConvTranspose-BatchNorm-Dropout(0.5), as in the paper's appendix (6.1.1). There is no z:
the paper found the generator learned to ignore it, and gives noise only as dropout.

The discriminator is a PatchGAN (Sec. 3.2.2): it sees the pair (input, output) as two
channels and says "real" or "fake" for each of 7x7 overlapping patches of 18x18 pixels,
leaving the low frequencies to the L1 term and judging only local structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import assert_shape
from .dcgan import dcgan_init_

__all__ = ["PatchDiscriminator", "Pix2PixConfig", "UNetGenerator", "config_for"]


@dataclass
class Pix2PixConfig:
    """pix2pix at 28x28: U-Net with ``width`` channels at 14x14, 2x at 7x7, 4x at 4x4."""

    width: int = 32  # U-Net
    d_width: int = 32  # PatchGAN: d_width channels at 14x14, 2x at 7x7
    dropout: float = 0.5  # in the decoder's two inner blocks: pix2pix's only noise
    in_channels: int = 1
    out_channels: int = 1

    def __post_init__(self):
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class UNetGenerator(nn.Module):
    """input ``[N, 1, 28, 28]`` (an edge map) -> output ``[N, 1, 28, 28]`` in [-1, 1].

    28 -> 14 -> 7 -> 4 and back, each decoder block joined (channel concatenation) to the
    encoder block of its resolution.
    """

    def __init__(self, cfg: Pix2PixConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else Pix2PixConfig()
        w = cfg.width
        self.down1 = nn.Conv2d(cfg.in_channels, w, 4, 2, 1)  # [N, w, 14, 14] (no norm)
        self.down2 = nn.Sequential(  # [N, 2w, 7, 7]
            nn.LeakyReLU(0.2, True), nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w)
        )
        self.down3 = nn.Sequential(  # [N, 4w, 4, 4]: the bottleneck
            nn.LeakyReLU(0.2, True), nn.Conv2d(2 * w, 4 * w, 3, 2, 1)
        )
        self.up3 = nn.Sequential(  # [N, 2w, 7, 7]
            nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.Dropout(cfg.dropout),
        )
        self.up2 = nn.Sequential(  # [N, w, 14, 14], from [up3, down2]
            nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.Dropout(cfg.dropout),
        )
        self.up1 = nn.Sequential(  # [N, 1, 28, 28], from [up2, down1]
            nn.ReLU(True), nn.ConvTranspose2d(2 * w, cfg.out_channels, 4, 2, 1), nn.Tanh()
        )
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, (None, self.cfg.in_channels, 28, 28), "input")
        d1 = self.down1(x)  # [N, w, 14, 14]
        d2 = self.down2(d1)  # [N, 2w, 7, 7]
        u3 = self.up3(self.down3(d2))  # [N, 2w, 7, 7]
        u2 = self.up2(torch.cat([u3, d2], dim=1))  # [N, w, 14, 14]
        return self.up1(torch.cat([u2, d1], dim=1))  # [N, 1, 28, 28]


class PatchDiscriminator(nn.Module):
    """(input ``[N, 1, 28, 28]``, output ``[N, 1, 28, 28]``) -> patch logits ``[N, 1, 7, 7]``.

    Each logit judges an 18x18 patch of the pair (receptive field of 4x4/2, 4x4/2, 3x3/1).
    """

    def __init__(self, cfg: Pix2PixConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else Pix2PixConfig()
        w = cfg.d_width
        self.net = nn.Sequential(
            nn.Conv2d(cfg.in_channels + cfg.out_channels, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),  # [N, 2w, 7, 7]
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 1, 3, 1, 1),  # [N, 1, 7, 7]
        )
        dcgan_init_(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        assert_shape(x, (None, self.cfg.in_channels, 28, 28), "input")
        assert_shape(y, (x.shape[0], self.cfg.out_channels, 28, 28), "output")
        return self.net(torch.cat([x, y], dim=1))  # [N, 1, 7, 7]


def config_for(dataset: str, **overrides) -> Pix2PixConfig:
    """pix2pix for ``dataset``, which must be paired 28x28 images."""
    if dataset != "edges2fashion":
        raise ValueError(f"pix2pix translates pairs; use it with edges2fashion, not {dataset!r}")
    return Pix2PixConfig(**overrides)
