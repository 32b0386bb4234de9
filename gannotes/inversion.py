"""GAN inversion: the latent of a real image (notebook 10).

A generator maps latents to images; inversion goes back. Three ways, measured side by side in
notebook 10 and ``benchmarks/inside_generator.py``:

* **optimise** (Abdal, Qin and Wonka 2019, "Image2StyleGAN"): start from a latent and follow
  the gradient of a reconstruction loss through the frozen generator. The loss is the pixel
  mean squared error plus a *feature* loss, the squared distance between the features of the
  course's Fashion-MNIST classifier (``gannotes.features``) of both images, the course's
  stand-in for Image2StyleGAN's perceptual (VGG) loss. We start from the nearest (in pixels) of
  ``candidates`` random draws of the prior rather than from the mean latent: with so small a
  generator, the best of 2,000 draws is already a fair reconstruction, and the optimisation
  then only refines it.
* **encoder** (the idea behind pSp and e4e, Richardson et al. 2021 and Tov et al. 2021): a
  network trained to map an image to its latent in one forward pass, trained here on the
  generator's own samples, whose latents are known.
* **hybrid** (Zhu et al. 2020, "In-Domain GAN Inversion"): the encoder's guess as the start of
  the optimisation.

Where the latent lives is the **space**: ``z`` (the prior N(0, I), the DCGAN's only input);
for StyleGAN also ``w`` (the mapping network's output, one w for every layer) and ``w+``
(Abdal et al.: a separate w per style layer). W+ reconstructs better because it has
``num_ws`` times the freedom, and its layers may disagree, which no latent the generator was
trained on does (``layer_spread``); e4e (Tov et al. 2021) argues that such latents edit worse.
Notebook 10 measures both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from .checkpoint import GannotesError
from .features import as_images, feature_network

__all__ = [
    "METHODS",
    "SPACES",
    "Encoder",
    "Inversion",
    "LatentSpace",
    "feature_loss",
    "invert",
    "latent_space",
    "nearest_start",
    "optimise",
    "pixel_loss",
    "reconstruction_report",
    "train_encoder",
]

SPACES = ("z", "w", "w+")
METHODS = ("optimise", "encoder", "hybrid")


# ----------------------------------------------------------------------------- the latent space
class LatentSpace:
    """One latent space of a trained generator: how to draw from its prior, how to render a
    latent (``render``: exactly as ``family.sample`` does, no gradient) and how to decode it
    with gradients (``decode``: for optimisation).

    Latents are ``[N, z_dim]`` in ``z``, ``[N, w_dim]`` in ``w`` and ``[N, num_ws, w_dim]`` in
    ``w+``. StyleGAN's per-pixel noise is left out (``noise=None``) unless given: an inverted
    or edited image is a function of its latent alone.
    """

    def __init__(self, family, space: str):
        self.family = family
        self.space = space
        self.G = family.sampling_network
        self.stylegan = family.name == "stylegan"
        self._w_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one latent."""
        if self.space == "z":
            return (self.G.cfg.z_dim,)
        if self.space == "w":
            return (self.G.cfg.w_dim,)
        return (self.G.num_ws, self.G.cfg.w_dim)

    @torch.no_grad()
    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        """The latents of prior draws ``z`` in this space (w: the mapping's output)."""
        if self.space == "z":
            return z
        w = self.G.mapping(z, update_w_avg=False)  # [N, w_dim]
        return w if self.space == "w" else w[:, None].expand(-1, self.G.num_ws, -1).clone()

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` latents of the prior, from ``seed`` (z drawn as ``family.sample`` draws it)."""
        inputs = self.family.latent(n, torch.Generator().manual_seed(seed))
        z = inputs[0] if isinstance(inputs, tuple) else inputs
        return self.from_z(z)

    def ws(self, latents: torch.Tensor) -> torch.Tensor:
        """StyleGAN: per-layer latents ``[N, num_ws, w_dim]`` of ``latents`` (differentiable)."""
        if self.space == "z":
            return self.G.ws(latents, update_w_avg=False)
        if self.space == "w":
            return latents[:, None].expand(-1, self.G.num_ws, -1)
        return latents

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images ``[N, 1, 28, 28]`` of ``latents``, differentiable (networks in eval mode)."""
        if not self.stylegan:
            return self.G(latents)
        return self.G.synthesis(self.ws(latents)).clamp(-1, 1)

    @torch.no_grad()
    def render(self, latents: torch.Tensor, noise: list[torch.Tensor] | None = None):
        """Images of ``latents`` computed exactly as ``family.sample`` computes them (same
        batches, same clamping): a latent drawn from seed s renders as sample s does."""
        if not self.stylegan:
            return self.family.generate(latents)
        return self.family.synthesize(self.ws(latents), noise)

    def prior_distance(self, latents: torch.Tensor) -> torch.Tensor:
        """How far each latent lies from what the generator was trained on, ``[N]``: about 1
        for a draw of the prior, more the further out. In z: ``|z| / sqrt(dim)``. In w and w+:
        the Mahalanobis distance under a Gaussian fitted to 10,000 mapped draws, divided by
        sqrt(dim) and averaged over the layers (Tov et al.'s concern: edits work where the
        training distribution is)."""
        latents = latents.detach().float()
        if self.space == "z":
            return latents.norm(dim=-1) / latents.shape[-1] ** 0.5
        mean, precision = self._gaussian()
        d = latents - mean
        m = torch.einsum("...i,ij,...j->...", d, precision, d) / d.shape[-1]
        m = m.clamp_min(0).sqrt()
        return m if self.space == "w" else m.mean(1)

    def layer_spread(self, latents: torch.Tensor) -> torch.Tensor:
        """How much a w+ latent's layers disagree, ``[N]``: the Mahalanobis distance (as in
        :meth:`prior_distance`) of each layer's w from the latent's mean w, averaged over the
        layers. Every latent the generator is trained on has one w at all layers: 0 (z, w: 0
        always). :meth:`prior_distance` judges each layer alone and cannot see this."""
        if self.space != "w+":
            return torch.zeros(len(latents))
        _, precision = self._gaussian()
        d = latents.detach().float() - latents.detach().float().mean(1, keepdim=True)
        m = torch.einsum("...i,ij,...j->...", d, precision, d) / d.shape[-1]
        return m.clamp_min(0).sqrt().mean(1)

    @torch.no_grad()
    def _gaussian(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._w_stats is None:
            z = torch.randn(10_000, self.G.cfg.z_dim, generator=torch.Generator().manual_seed(0))
            w = self.G.mapping(z, update_w_avg=False).double()
            cov = torch.cov(w.T) + 1e-6 * torch.eye(w.shape[1], dtype=w.dtype)
            self._w_stats = (w.mean(0).float(), torch.linalg.inv(cov).float())
        return self._w_stats


def latent_space(family, space: str | None = None) -> LatentSpace:
    """The latent space ``space`` of a trained family's generator (default: z for a DCGAN, w
    for StyleGAN), or a one-line error naming what can be inverted."""
    if family.name == "stylegan":
        space = "w" if space is None else space
        if space not in SPACES:
            raise GannotesError(f"unknown latent space {space!r}; valid: {', '.join(SPACES)}")
    elif family.name == "classic" and family.config.model == "dcgan":
        space = "z" if space is None else space
        if space != "z":
            raise GannotesError(
                f"a dcgan has only the latent space z, not {space!r} (w, w+: stylegan)"
            )
    else:
        raise GannotesError(
            f"inversion needs an unconditional image generator (a dcgan or stylegan run); this "
            f"is a {family.config.model} run of the {family.name} family"
        )
    for net in family.networks.values():
        net.eval()  # a loaded family is in eval mode already; inversion keeps it there
    return LatentSpace(family, space)


# ----------------------------------------------------------------------------- losses
def pixel_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image ``[N]``."""
    return (x - target).square().flatten(1).mean(1)


def feature_loss(x: torch.Tensor, target_features: torch.Tensor, net: nn.Module) -> torch.Tensor:
    """Mean squared distance per image ``[N]`` between the course's classifier features of
    ``x`` and ``target_features`` (Image2StyleGAN's perceptual loss, with our own network)."""
    return (net(x)[0] - target_features).square().mean(1)


def _frozen(net: nn.Module) -> nn.Module:
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


# ----------------------------------------------------------------------------- optimisation
@torch.no_grad()
def nearest_start(
    space: LatentSpace, images: torch.Tensor, candidates: int = 2000, seed: int = 0
) -> torch.Tensor:
    """For each image, the latent of the nearest (in pixels) of ``candidates`` prior draws:
    a start no worse than the best random sample."""
    pool = space.sample(candidates, seed=seed)
    pool_images = torch.cat([space.decode(chunk) for chunk in pool.split(500)])
    d = torch.cdist(images.flatten(1), pool_images.flatten(1))  # [N, candidates]
    return pool[d.argmin(1)].clone()


def optimise(
    space: LatentSpace,
    images: torch.Tensor,
    start: torch.Tensor,
    steps: int = 200,
    lr: float = 0.05,
    feature_weight: float = 0.1,
) -> torch.Tensor:
    """Latents from ``start`` after ``steps`` of Adam on pixel loss + ``feature_weight`` times
    feature loss, summed over images (each image's latent follows its own loss)."""
    net = feature_network()
    with torch.no_grad():
        target_features = net(images)[0]
    lat = start.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([lat], lr=lr)
    for _ in range(steps):
        x = space.decode(lat)
        loss = pixel_loss(x, images) + feature_weight * feature_loss(x, target_features, net)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    return lat.detach()


# ----------------------------------------------------------------------------- the encoder
class Encoder(nn.Module):
    """image ``[N, 1, 28, 28]`` -> latent ``[N, *shape]``: two stride-2 convolutions (28 -> 14 ->
    7), LeakyReLU(0.2), then a linear layer to the latent."""

    def __init__(self, shape: tuple[int, ...], width: int = 32):
        super().__init__()
        self.shape = tuple(shape)
        out = 1
        for s in self.shape:
            out *= s
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),  # [N, 2w, 7, 7]
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 49, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images [N, 1, 28, 28], got {tuple(x.shape)}")
        return self.net(x).view(-1, *self.shape)


def train_encoder(
    space: LatentSpace, steps: int = 1500, batch: int = 64, lr: float = 1e-3, seed: int = 0
) -> tuple[Encoder, float]:
    """An :class:`Encoder` for ``space`` and the seconds it took, trained on the generator's
    own samples (whose latents are known): latent regression plus the pixel loss of the image
    re-rendered from the predicted latent (pSp's two terms, without its identity loss)."""
    torch.manual_seed(seed)
    enc = Encoder(space.shape)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    start = time.perf_counter()
    for _ in range(steps):
        with torch.no_grad():
            z = torch.randn(batch, space.G.cfg.z_dim, generator=gen)
            target = space.from_z(z)
            x = space.decode(target)
        pred = enc(x)
        loss = (pred - target).square().mean() + pixel_loss(space.decode(pred), x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    enc.eval()
    return enc, time.perf_counter() - start


# ----------------------------------------------------------------------------- the entry point
@dataclass
class Inversion:
    """What :func:`invert` found: the latents, their images (rendered as samples are), the
    space and method, and the seconds taken per image (the encoder's training not included)."""

    latents: torch.Tensor
    images: torch.Tensor
    space: str
    method: str
    seconds_per_image: float


def invert(
    family,
    images,
    method: str = "optimise",
    space: str | None = None,
    steps: int = 200,
    seed: int = 0,
    encoder: Encoder | None = None,
    feature_weight: float = 0.1,
    candidates: int = 2000,
) -> Inversion:
    """Find the latents of real ``images`` (``[N, 1, 28, 28]`` in [-1, 1], or anything
    ``gannotes.features.as_images`` reads) in a trained DCGAN or StyleGAN ``family``.

    ``optimise``: ``steps`` of Adam from the nearest of ``candidates`` prior draws (``seed``);
    ``encoder``: one pass of ``encoder`` (:func:`train_encoder`); ``hybrid``: the encoder's
    latent refined by ``steps`` of optimisation."""
    if method not in METHODS:
        raise GannotesError(f"unknown inversion method {method!r}; valid: {', '.join(METHODS)}")
    if not (isinstance(steps, int) and steps >= 0):
        raise GannotesError(f"steps must be a whole number >= 0, got {steps!r}")
    lat_space = latent_space(family, space)
    x = as_images(images)
    if method != "optimise" and encoder is None:
        raise GannotesError(f"the {method} method needs an encoder (train_encoder)")
    if encoder is not None and tuple(encoder.shape) != lat_space.shape:
        raise GannotesError(
            f"the encoder predicts latents {list(encoder.shape)}, the {lat_space.space} space "
            f"of this generator has {list(lat_space.shape)}"
        )
    _frozen(lat_space.G)
    start = time.perf_counter()
    if method == "optimise":
        lat = nearest_start(lat_space, x, candidates, seed)
    else:
        with torch.no_grad():
            lat = encoder(x)
    if method != "encoder":
        lat = torch.cat(
            [
                optimise(lat_space, xc, lc, steps, feature_weight=feature_weight)
                for xc, lc in zip(x.split(500), lat.split(500), strict=True)
            ]
        )
    seconds = time.perf_counter() - start
    return Inversion(lat, lat_space.render(lat), lat_space.space, method, seconds / len(x))


def reconstruction_report(originals, inversion: Inversion, family, labels=None) -> dict:
    """How good an inversion is, as numbers: pixel RMS error, feature distance (the course's
    classifier), the share whose class the classifier keeps (against ``labels`` when given,
    else against the classifier's class of the original), the prior distance, the spread of a
    w+ latent's layers and the time."""
    x = as_images(originals)
    net = feature_network()
    with torch.no_grad():
        f0, logits0 = net(x)
        f1, logits1 = net(inversion.images)
    target = torch.as_tensor(labels) if labels is not None else logits0.argmax(1)
    space = latent_space(family, inversion.space)
    return {
        "method": inversion.method,
        "space": inversion.space,
        "pixel_rms": float(pixel_loss(inversion.images, x).sqrt().mean()),
        "feature_distance": float((f1 - f0).norm(dim=1).mean()),
        "class_kept": float((logits1.argmax(1) == target).float().mean()),
        "prior_distance": float(space.prior_distance(inversion.latents).mean()),
        "layer_spread": float(space.layer_spread(inversion.latents).mean()),
        "seconds_per_image": inversion.seconds_per_image,
    }
