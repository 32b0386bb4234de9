"""StyleGAN's networks for 28x28 images: a style-based generator and its discriminator.

The generator (Karras et al. 2019, "A Style-Based Generator Architecture for GANs", Fig. 1b)
does not read z at its input. A *mapping network* turns z into an intermediate latent w; the
*synthesis network* starts from a learned constant and, at each layer, is steered by a *style*
(an affine map of w) and perturbed by per-pixel *noise* with a learned strength::

    z [N, z_dim] -> normalise -> mapping MLP (lr x 0.01) -> w [N, w_dim]
    const [4c, 7, 7] -> style layers 0, 1                       -> toRGB (w_2)    (7x7)
                     -> upsample -> style layers 2, 3           -> toRGB (w_4)    (14x14)
                     -> upsample -> style layers 4, 5           -> toRGB (w_6)    (28x28)
    the toRGB images (1x1 convolutions) are upsampled and added up (StyleGAN2's "skip")

Each layer takes its own copy of w, so they can differ: that is style mixing. As in StyleGAN2's
code, a resolution's toRGB shares its w with the next resolution's first, upsampling, layer, so
there are ``num_ws`` = layers + 1 = 7 of them: the *coarse* styles w_0..w_2 (the 7x7 block),
the *middle* w_3, w_4 (14x14), the *fine* w_5, w_6 (28x28). The number of layers at each
resolution is ``layers`` (default 2, 2, 2). A style layer is one of two kinds (``block``):

* ``"adain"`` (StyleGAN): conv, noise, bias, LeakyReLU, then *adaptive instance normalisation*
  (:func:`adain`): each feature map normalised to zero mean and unit variance, then scaled and
  shifted by the style: ``y_s * (x - mu(x)) / sigma(x) + y_b`` (Eq. 1).
* ``"modulated"`` (StyleGAN2, Karras et al. 2020, Sec. 2.2): the style scales the conv's input
  channels (*modulation*, Eq. 1) and each output channel is divided by its expected standard
  deviation (*demodulation*, Eq. 3): :func:`modulate_demodulate`. Unit-variance inputs give
  unit-variance outputs without looking at the activations, which removes AdaIN's "water
  droplet" artefacts. Computed as in the authors' non-fused path: scale the activations by s,
  convolve with the shared weight, scale the output by the demodulation coefficients.

Every layer uses the *equalised learning rate* (Karras et al. 2018, Sec. 4.1): weights are
drawn from N(0, 1) and scaled at run time by ``1/sqrt(fan_in)``, so that Adam's steps are the
same size relative to every layer's scale. That is StyleGAN2's code; ProGAN scales by He's
constant ``sqrt(2/fan_in)`` itself, and StyleGAN2 puts the ``sqrt(2)`` after each leaky ReLU
(its activation gain) instead, as this file does. The mapping network's rate is
multiplied by ``lr_mul = 0.01`` the same way (the paper's Appendix C). The mapping network keeps
``w_avg``, a moving average of w (decay 0.995), in a buffer: the centre of the *truncation
trick* ``w' = w_avg + psi (w - w_avg)``.

The discriminator is the DCGAN's shape with equalised layers, no normalisation (the R1
penalty assumes none) and the minibatch standard deviation before its last layers, as in
StyleGAN. :func:`fade_in` is progressive growing's blend of a new resolution (Karras et al.
2018, Fig. 2), the idea StyleGAN's skip generator replaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..tricks import MinibatchStdDev
from .common import assert_shape

__all__ = [
    "BLOCKS",
    "EqualConv2d",
    "EqualLinear",
    "MappingNetwork",
    "ModulatedConv2d",
    "StyleDiscriminator",
    "StyleGANConfig",
    "StyleGenerator",
    "SynthesisNetwork",
    "adain",
    "config_for",
    "fade_in",
    "modulate_demodulate",
    "normalize_2nd_moment",
]

BLOCKS = ("modulated", "adain")
RESOLUTIONS = (7, 14, 28)


@dataclass
class StyleGANConfig:
    """StyleGAN at 28x28: ``layers`` style layers at 7x7, 14x14 and 28x28 (2 each: 7 styles)."""

    z_dim: int = 64
    w_dim: int = 64
    mapping_layers: int = 4  # the paper: 8 (at 1024x1024)
    mapping_lr_mul: float = 0.01  # the mapping network learns 100x slower (Appendix C)
    width: int = 12  # synthesis channels: 4*width at 7x7, 2*width at 14x14, width at 28x28
    layers: tuple[int, int, int] = (2, 2, 2)  # style layers at 7x7, 14x14 and 28x28
    widths: tuple[int, int, int] | None = None  # channels at 7x7, 14x14, 28x28; None: width's
    d_width: int = 32  # discriminator: d_width at 14x14, 2*d_width at 7x7
    block: str = "modulated"  # "modulated" (StyleGAN2) or "adain" (StyleGAN)
    noise: bool = True  # per-pixel noise inputs
    tanh: bool = True  # squash the image into [-1, 1] (StyleGAN has none; see the family)
    w_avg_decay: float = 0.995  # of the tracked average of w
    mbstd_group: int = 4
    channels: int = 1

    def __post_init__(self):
        self.layers = tuple(self.layers)  # from JSON or a checkpoint: a list
        if self.widths is not None:
            self.widths = tuple(self.widths)
            if len(self.widths) != 3 or not all(isinstance(c, int) and c >= 1 for c in self.widths):
                raise ValueError(f"widths must be three positive integers, got {self.widths!r}")
        if len(self.layers) != 3 or not all(isinstance(n, int) and n >= 1 for n in self.layers):
            raise ValueError(
                f"layers must be three positive integers (7x7, 14x14, 28x28), got {self.layers!r}"
            )
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {', '.join(BLOCKS)}, got {self.block!r}")
        for name in ("z_dim", "w_dim", "mapping_layers", "width", "d_width", "mbstd_group"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.mapping_lr_mul <= 1:
            raise ValueError(f"mapping_lr_mul must be in (0, 1], got {self.mapping_lr_mul}")
        if not 0 <= self.w_avg_decay < 1:
            raise ValueError(f"w_avg_decay must be in [0, 1), got {self.w_avg_decay}")

    @property
    def num_ws(self) -> int:
        """The number of style layers, each with its own w."""
        return sum(self.layers) + 1  # one per conv layer, and the last toRGB's

    def resolution_channels(self) -> dict[int, int]:
        if self.widths is not None:
            return dict(zip(RESOLUTIONS, self.widths, strict=True))
        return {7: 4 * self.width, 14: 2 * self.width, 28: self.width}


# ----------------------------------------------------------------------------- pure functions


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x^2))`` per row: StyleGAN's normalisation of z (and ProGAN's pixel norm)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def adain(x: torch.Tensor, y_s: torch.Tensor, y_b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Adaptive instance normalisation (StyleGAN Eq. 1; Huang and Belongie 2017).

    ``y_s * (x - mu(x)) / sigma(x) + y_b``: each feature map of ``x`` ``[N, C, H, W]`` is
    normalised over its pixels, then scaled by ``y_s`` ``[N, C]`` and shifted by ``y_b``: the
    style sets each channel's statistics, whatever the layer before did.
    """
    assert_shape(y_s, (x.shape[0], x.shape[1]), "y_s")
    assert_shape(y_b, (x.shape[0], x.shape[1]), "y_b")
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    return y_s[:, :, None, None] * (x - mu) / sigma + y_b[:, :, None, None]


def modulate_demodulate(
    weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """StyleGAN2's per-sample weights (Eq. 1 and 3 of Karras et al. 2020).

    ``w'_ijk = s_i * w_ijk`` (modulation: input channel i scaled by the style), then
    ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)`` (demodulation: each output channel j
    rescaled to unit L2 norm, so unit-variance inputs give unit-variance outputs).
    ``weight`` ``[O, I, k, k]``, ``styles`` ``[N, I]`` -> ``[N, O, I, k, k]``.
    """
    assert_shape(styles, (None, weight.shape[1]), "styles")
    w = weight[None] * styles[:, None, :, None, None]  # [N, O, I, k, k]
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
    return w


def fade_in(alpha: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Progressive growing's fade-in (Karras et al. 2018, Fig. 2): while a new resolution is
    added, the output is ``(1 - alpha) * upsample(low) + alpha * high``, alpha rising from 0
    to 1, so the new layers start from the old image and take over smoothly.

    ``low`` ``[N, C, H, W]`` (the old resolution's image), ``high`` ``[N, C, 2H, 2W]``
    (the new layers' image); nearest-neighbour upsampling, as in the paper.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    assert_shape(high, (low.shape[0], low.shape[1], 2 * low.shape[2], 2 * low.shape[3]), "high")
    return torch.lerp(F.interpolate(low, scale_factor=2, mode="nearest"), high, alpha)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU(0.2) times sqrt(2), StyleGAN's gain that keeps the activations' scale."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


# ----------------------------------------------------------------------------- equalised layers


class EqualLinear(nn.Module):
    """A linear layer with the equalised learning rate: ``y = x (W * lr_mul / sqrt(in))^T +
    b * lr_mul``, W ~ N(0, 1/lr_mul^2) stored. With Adam, ``lr_mul`` scales the layer's
    effective learning rate (the mapping network's 0.01)."""

    def __init__(
        self, in_features: int, out_features: int, lr_mul: float = 1.0, bias_init: float = 0.0
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """A convolution with the equalised learning rate (weights scaled by ``1/sqrt(fan_in)``)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, bias=True
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel * kernel)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


# ----------------------------------------------------------------------------- the generator


class MappingNetwork(nn.Module):
    """z ``[N, z_dim]`` -> w ``[N, w_dim]``: normalise z, then an MLP of equalised layers with
    LeakyReLU, its learning rate times ``mapping_lr_mul``. In training mode each call moves the
    buffer ``w_avg`` towards the batch's mean w (decay ``w_avg_decay``), unless it is asked not
    to (``update_w_avg=False``: a style-mixing latent, the path-length batch), so that the
    average follows the main batch alone, as the authors' code does."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.cfg = cfg
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.ModuleList(
            EqualLinear(a, b, lr_mul=cfg.mapping_lr_mul)
            for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor, update_w_avg: bool = True) -> torch.Tensor:
        assert_shape(z, (None, self.cfg.z_dim), "z")
        x = normalize_2nd_moment(z)
        for layer in self.layers:
            x = _lrelu(layer(x))
        if self.training and update_w_avg:
            self.w_avg.copy_(x.detach().float().mean(0).lerp(self.w_avg, self.cfg.w_avg_decay))
        return x  # [N, w_dim]


class NoiseInput(nn.Module):
    """Per-pixel noise ``[N, 1, H, W]`` times a learned strength per channel (zero at first)."""

    def __init__(self, channels: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.strength[None, :, None, None] * noise


class ModulatedConv2d(nn.Module):
    """A conv whose input channels are scaled by a style of w, its outputs demodulated
    (StyleGAN2). Same result as convolving each sample with :func:`modulate_demodulate`'s
    weights, computed with one shared convolution."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1 / math.sqrt(in_ch * kernel * kernel)
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # the style s: 1 at first
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # [N, I]
        weight = self.weight * self.scale  # [O, I, k, k]
        x = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)  # modulation
        if self.demodulate:  # sigma_j = sqrt(sum_{i,k} (s_i w_ijk)^2), per sample
            d = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # [N, O]
            x = x * d[:, :, None, None]
        return x


class StyleLayer(nn.Module):
    """One style layer: (upsample,) 3x3 conv steered by w, noise, bias, LeakyReLU (and AdaIN
    last in the ``"adain"`` kind)."""

    def __init__(self, in_ch: int, out_ch: int, cfg: StyleGANConfig, up: bool = False):
        super().__init__()
        self.up, self.kind = up, cfg.block
        if cfg.block == "modulated":
            self.conv = ModulatedConv2d(in_ch, out_ch, 3, cfg.w_dim)
        else:
            self.conv = EqualConv2d(in_ch, out_ch, 3, padding=1, bias=False)  # bias after noise
            self.style = EqualLinear(cfg.w_dim, 2 * out_ch)  # (y_s, y_b)
            with torch.no_grad():
                self.style.bias[:out_ch] = 1.0  # y_s starts at 1
        self.noise = NoiseInput(out_ch)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None):
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.kind == "modulated":
            x = self.conv(x, w)
        else:
            x = self.conv(x)
        x = _lrelu(self.noise(x, noise) + self.bias[None, :, None, None])
        if self.kind == "adain":
            y_s, y_b = self.style(w).chunk(2, dim=1)
            x = adain(x, y_s, y_b)
        return x


class ToImage(nn.Module):
    """A 1x1 conv to the image's channels, modulated by w (no demodulation), plus a bias."""

    def __init__(self, in_ch: int, cfg: StyleGANConfig):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, cfg.channels, 1, cfg.w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(cfg.channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws ``[N, num_ws, w_dim]`` (one w per style layer) and noise maps -> image ``[N, C, 28,
    28]``. ``noise`` is a list of ``[N, 1, H, W]`` maps, one per style layer (``noise_shapes``),
    or None for none."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.resolution_channels()
        self.const = nn.Parameter(torch.randn(ch[7], 7, 7))
        layers, to_image = [], []
        in_ch = ch[7]
        self.last_of_resolution = []  # the index of each resolution's last style layer
        for res, count in zip(RESOLUTIONS, cfg.layers, strict=True):
            layers.append(StyleLayer(in_ch, ch[res], cfg, up=res > RESOLUTIONS[0]))
            layers.extend(StyleLayer(ch[res], ch[res], cfg) for _ in range(count - 1))
            to_image.append(ToImage(ch[res], cfg))
            self.last_of_resolution.append(len(layers) - 1)
            in_ch = ch[res]
        self.layers = nn.ModuleList(layers)
        self.to_image = nn.ModuleList(to_image)

    @property
    def noise_shapes(self) -> list[tuple[int, int, int]]:
        """The shape of each style layer's noise map (without the batch)."""
        return [
            (1, r, r) for r, n in zip(RESOLUTIONS, self.cfg.layers, strict=True) for _ in range(n)
        ]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        assert_shape(ws, (None, self.cfg.num_ws, self.cfg.w_dim), "ws")
        n = ws.shape[0]
        noise = noise if noise is not None else [None] * len(self.layers)
        x = self.const[None].expand(n, -1, -1, -1)  # [N, 4c, 7, 7]
        x = x.contiguous(memory_format=torch.channels_last)  # CPU convolutions: ~1.4x faster
        img = None
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise[i])
            if i in self.last_of_resolution:  # end of a resolution: its image, styled by
                # w_{i+1}, the w of the next resolution's first layer (StyleGAN2's indexing)
                y = self.to_image[self.last_of_resolution.index(i)](x, ws[:, i + 1])
                if img is not None:  # StyleGAN2's skip generator: add to the upsampled image
                    img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
                img = y if img is None else img + y
        return torch.tanh(img) if self.cfg.tanh else img  # [N, C, 28, 28]


class StyleGenerator(nn.Module):
    """z ``[N, z_dim]`` (and noise maps) -> image ``[N, C, 28, 28]``: mapping, then synthesis
    with the same w at every layer. ``psi < 1`` applies the truncation trick in W."""

    def __init__(self, cfg: StyleGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else StyleGANConfig()
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    @property
    def num_ws(self) -> int:
        return self.cfg.num_ws

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick (StyleGAN Sec. 2.1): ``w_avg + psi (w - w_avg)``."""
        return self.mapping.w_avg.lerp(w, psi)

    def ws(self, z: torch.Tensor, psi: float = 1.0, update_w_avg: bool = True) -> torch.Tensor:
        """The per-layer latents ``[N, num_ws, w_dim]`` of z: its (truncated) w at every layer.
        ``update_w_avg=False``: the mapping leaves ``w_avg`` where it is, even in training mode."""
        w = self.mapping(z, update_w_avg=update_w_avg)
        if psi != 1:
            w = self.truncate(w, psi)
        return w[:, None].expand(-1, self.num_ws, -1)

    def forward(self, z: torch.Tensor, *noise: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """``noise``: one map per style layer (``synthesis.noise_shapes``), or none at all."""
        n_maps = len(self.synthesis.noise_shapes)
        if noise and len(noise) != n_maps:
            raise ValueError(
                f"expected {n_maps} noise maps (one per style layer), got {len(noise)}"
            )
        return self.synthesis(self.ws(z, psi), list(noise) if noise else None)


# ----------------------------------------------------------------------------- the discriminator


class StyleDiscriminator(nn.Module):
    """image ``[N, C, 28, 28]`` -> logit ``[N]``: two strided 4x4 convolutions (28 -> 14 -> 7)
    with LeakyReLU, the minibatch std, a 3x3 conv and a linear layer; all equalised, no
    normalisation."""

    def __init__(self, cfg: StyleGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else StyleGANConfig()
        w = cfg.d_width
        self.conv1 = EqualConv2d(cfg.channels, w, 4, 2, 1)  # [N, w, 14, 14]
        self.conv2 = EqualConv2d(w, 2 * w, 4, 2, 1)  # [N, 2w, 7, 7]
        self.mbstd = MinibatchStdDev(cfg.mbstd_group)  # [N, 2w + 1, 7, 7]
        self.conv3 = EqualConv2d(2 * w + 1, 2 * w, 3, 1, 1)  # [N, 2w, 7, 7]
        self.fc = EqualLinear(2 * w * 49, 2 * w)
        self.out = EqualLinear(2 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, (None, self.cfg.channels, 28, 28), "x")
        x = x.contiguous(memory_format=torch.channels_last)
        x = _lrelu(self.conv2(_lrelu(self.conv1(x))))
        x = _lrelu(self.conv3(self.mbstd(x)))
        return self.out(_lrelu(self.fc(x.flatten(1)))).flatten()


def config_for(dataset: str, **overrides) -> StyleGANConfig:
    """The StyleGAN for ``dataset``, which must be 28x28 images."""
    if dataset != "fashion-mnist":
        raise ValueError(f"stylegan makes 28x28 images; use it with fashion-mnist, not {dataset!r}")
    return StyleGANConfig(**overrides)
