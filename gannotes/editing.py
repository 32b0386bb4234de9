"""Latent editing: directions that change what a generator draws (notebook 10).

* **InterFaceGAN** (Shen, Gu, Tang and Zhou 2020): label samples of the generator (here with the
  course's Fashion-MNIST classifier, ``gannotes.features``), fit a linear boundary in the latent
  space between one class and the rest, and walk along its unit normal. One direction per class,
  the same for every latent: it works where a class is a half-space of the latent space.
* **GANSpace** (Härkönen, Hertzmann, Lehtinen and Paris 2020): no labels; principal components
  of W (StyleGAN), or, for a generator whose z is isotropic (the DCGAN), of its first feature
  map, carried back to z by least squares.
* **toward a class**: a class of Fashion-MNIST is not a half-space of z (notebook 10 measures how
  often InterFaceGAN's one direction reaches each class). :func:`edit_toward` therefore walks
  each latent straight toward the nearest latent (among labelled prior draws) whose image the
  classifier gives the class with confidence, and stops a ``margin`` past the first point of
  that segment the classifier labels with the class: the smallest such edit along the path.
  ``strength`` scales the walk (0: the latent unchanged; 1: the default).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checkpoint import GannotesError
from .features import feature_network
from .inversion import LatentSpace

__all__ = [
    "Boundary",
    "LabelledPool",
    "classify",
    "edit_toward",
    "fit_boundary",
    "ganspace_directions",
    "label_pool",
    "move",
]

N_CLASSES = 10


@torch.no_grad()
def classify(images: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``[N, 10]`` of the course's classifier (float32)."""
    net = feature_network()
    return torch.cat([torch.softmax(net(c)[1], 1) for c in images.split(1000)])


@dataclass
class LabelledPool:
    """Prior draws of a latent space with the classifier's probabilities of their images."""

    latents: torch.Tensor  # [N, *shape]
    probs: torch.Tensor  # [N, 10]

    @property
    def labels(self) -> torch.Tensor:
        return self.probs.argmax(1)


def label_pool(space: LatentSpace, n: int = 10_000, seed: int = 1_000_003) -> LabelledPool:
    """``n`` prior draws of ``space`` (from ``seed``) labelled by the course's classifier."""
    lat = space.sample(n, seed=seed)
    return LabelledPool(lat, classify(space.render(lat)))


def _check_class(cls: int) -> None:
    if isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < N_CLASSES:
        raise GannotesError(f"class must be an integer in 0-{N_CLASSES - 1}, got {cls!r}")


# ----------------------------------------------------------------------------- InterFaceGAN
@dataclass
class Boundary:
    """A linear boundary ``normal . latent + offset = 0`` (``normal`` a unit vector; positive
    side: the class), with its accuracy on the samples it was fitted to."""

    normal: torch.Tensor
    offset: float
    accuracy: float

    def distance(self, latents: torch.Tensor) -> torch.Tensor:
        """Signed distance of each latent ``[N]`` (latents flattened)."""
        return latents.flatten(1) @ self.normal + self.offset


def fit_boundary(pool: LabelledPool, cls: int, weight_decay: float = 1e-4) -> Boundary:
    """InterFaceGAN's boundary of class ``cls`` against the rest: logistic regression (classes
    weighted to equal shares) on the standardised latents, by L-BFGS."""
    _check_class(cls)
    x = pool.latents.flatten(1).float()
    y = (pool.labels == cls).float()
    if y.sum() == 0:
        raise GannotesError(f"no sample of the pool is of class {cls}: no boundary to fit")
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
    xs = (x - mean) / std
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    pos_weight = (1 - y.mean()) / y.mean()
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xs @ w + b, y, pos_weight=pos_weight)
        loss = loss + weight_decay * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        raw = w / std  # the same boundary in unstandardised coordinates
        offset = b - mean @ raw
        norm = raw.norm()
        accuracy = float((((xs @ w + b) > 0).float() == y).float().mean())
    return Boundary(raw / norm, float(offset / norm), accuracy)


def move(latents: torch.Tensor, direction: torch.Tensor, amount) -> torch.Tensor:
    """``latents + amount * direction`` (``direction`` flattened like one latent; ``amount`` a
    number or one per latent)."""
    amount = torch.as_tensor(amount, dtype=latents.dtype).reshape(-1, *[1] * (latents.ndim - 1))
    return latents + amount * direction.reshape(1, *latents.shape[1:])


# ----------------------------------------------------------------------------- GANSpace
@torch.no_grad()
def ganspace_directions(space: LatentSpace, k: int = 5, n: int = 5000, seed: int = 0):
    """The first ``k`` GANSpace directions of ``space`` ``[k, *shape]`` and the share of
    variance each explains ``[k]``. StyleGAN (w, w+): principal components of W. DCGAN (z):
    principal components of the first feature map, each carried back to a direction in z by
    least squares (GANSpace's recipe for BigGAN)."""
    z = space.family.latent(n, torch.Generator().manual_seed(seed))
    z = z[0] if isinstance(z, tuple) else z
    if space.stylegan:
        w = space.G.mapping(z, update_w_avg=False)
        feats = w
    else:
        feats = space.G.project(z[:, :, None, None]).flatten(1)
    centred = feats - feats.mean(0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    share = (s**2 / (s**2).sum())[:k]
    components = v[:k]  # [k, D]
    if space.stylegan:
        dirs = components
        if space.space == "w+":
            dirs = dirs[:, None].expand(-1, space.G.num_ws, -1)
        elif space.space == "z":
            raise GannotesError("GANSpace directions of a StyleGAN live in w or w+, not z")
    else:
        coords = centred @ components.T  # [n, k]
        fit = torch.linalg.lstsq(coords, z - z.mean(0)).solution  # [k, z_dim]
        dirs = fit / fit.norm(dim=1, keepdim=True)
    return dirs.contiguous(), share


# ----------------------------------------------------------------------------- toward a class
@torch.no_grad()
def edit_toward(
    space: LatentSpace,
    latents: torch.Tensor,
    cls: int,
    strength: float = 1.0,
    pool: LabelledPool | None = None,
    margin: float = 0.2,
    confidence: float = 0.8,
    grid: int = 20,
) -> torch.Tensor:
    """Each latent walked toward class ``cls`` (see the module docstring). Returns the edited
    latents; ``strength=0`` returns ``latents`` unchanged, bit for bit."""
    _check_class(cls)
    if not (isinstance(strength, int | float) and 0 <= strength <= 10):
        raise GannotesError(f"strength must be a number in [0, 10], got {strength!r}")
    if strength == 0:
        return latents.clone()
    pool = pool if pool is not None else label_pool(space)
    members = pool.latents[(pool.labels == cls) & (pool.probs[:, cls] >= confidence)]
    if len(members) == 0:
        raise GannotesError(
            f"none of the {len(pool.latents)} labelled samples is of class {cls} with "
            f"confidence {confidence}: this generator does not draw the class"
        )
    flat = latents.flatten(1)
    target = members[torch.cdist(flat, members.flatten(1)).argmin(1)]  # [N, *shape]
    path = target - latents
    crossed = torch.ones(len(latents))
    found = torch.zeros(len(latents), dtype=torch.bool)
    for t in torch.linspace(0, 1, grid + 1)[1:]:
        todo = ~found
        if not todo.any():
            break
        hit = classify(space.render(latents[todo] + t * path[todo])).argmax(1) == cls
        idx = todo.nonzero().flatten()[hit]
        crossed[idx] = t
        found[idx] = True
    already = classify(space.render(latents)).argmax(1) == cls
    crossed[already] = 0  # already of the class: only the margin further in
    amount = (crossed + margin).clamp(max=1) * strength
    return latents + amount.reshape(-1, *[1] * (latents.ndim - 1)) * path
