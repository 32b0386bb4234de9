"""The Wasserstein-1 distance: closed forms, and a critic trained to estimate it.

The WGAN paper (Arjovsky, Chintala and Bottou 2017) replaces the Jensen-Shannon divergence of
the original GAN with the Earth-Mover distance

    W1(P, Q) = inf over couplings gamma of E_(x, y)~gamma ||x - y||
             = sup over 1-Lipschitz f of E_P[f(x)] - E_Q[f(y)]   (Kantorovich-Rubinstein).

Its Example 1 shows why: two point masses, or two parallel segments {0} x [0, 1] and
{theta} x [0, 1], have JS = log 2 whenever theta != 0 (constant: no gradient tells the generator
which way to move) while W1 = |theta| falls smoothly to 0 (:func:`divergences_parallel_lines`).

The dual is what a critic estimates: train f to maximise E_P[f] - E_Q[f] while keeping it
1-Lipschitz, by clipping its weights (WGAN; then f is K-Lipschitz for an unknown K, and the
estimate is W1 up to that scale) or by penalising gradient norms away from 1 on interpolates
(WGAN-GP, Gulrajani et al. 2017). :func:`train_critic` does that for two sample sets, points
``[N, 2]`` or images ``[N, 1, 28, 28]``; ``python -m gannotes critic A.npy B.npy`` runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .losses import clip_weights_, d_wasserstein_loss, gradient_penalty, objective
from .models import IMAGE_SHAPE, DCGANConfig, DCGANDiscriminator

__all__ = [
    "CriticResult",
    "critic_gap",
    "critic_network",
    "critic_slope",
    "divergences_parallel_lines",
    "generator_gradient_parallel_lines",
    "parallel_lines",
    "shifted_gaussians",
    "train_critic",
]

METHODS = ("gp", "clip")


# ----------------------------------------------------------------------------- closed forms


def divergences_parallel_lines(theta: float) -> dict[str, float]:
    """WGAN's Example 1: P0 uniform on {0} x [0, 1], P_theta uniform on {theta} x [0, 1].

    The supports are disjoint for theta != 0, so JS = log 2, KL = inf and total variation = 1
    there, and all are 0 at theta = 0; W1 = |theta| (every point moves by theta).
    """
    apart = theta != 0
    return {
        "w1": abs(theta),
        "js": math.log(2) if apart else 0.0,
        "kl": math.inf if apart else 0.0,
        "tv": 1.0 if apart else 0.0,
    }


def parallel_lines(n: int, theta: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of P_theta: (theta, u) with u ~ U[0, 1]. ``[n, 2]``"""
    u = torch.rand(n, generator=generator)
    return torch.stack([torch.full((n,), float(theta)), u], dim=1)


def shifted_gaussians(
    n: int, shift: tuple[float, float], generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of N(0, I) and ``n`` of N(v, I) in 2-D: W1 = |v| exactly (the optimal
    transport is the translation by v). Returns ``(a, b)``, each ``[n, 2]``."""
    a = torch.randn(n, 2, generator=generator)
    b = torch.randn(n, 2, generator=generator) + torch.tensor(shift, dtype=torch.float32)
    return a, b


# ----------------------------------------------------------------------------- the critic


class _PointCritic(nn.Module):
    """f: R^2 -> R, an MLP (two hidden layers of 128, LeakyReLU), returning ``[N]``."""

    def __init__(self, width: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def critic_network(sample_shape: tuple[int, ...]) -> nn.Module:
    """A critic for points ``(2,)`` (an MLP) or images ``(1, 28, 28)`` (the DCGAN
    discriminator at half width, without normalisation: the gradient penalty is per sample)."""
    if tuple(sample_shape) == (2,):
        return _PointCritic()
    if tuple(sample_shape) == IMAGE_SHAPE:
        return DCGANDiscriminator(DCGANConfig(d_width=16, d_norm="none"))
    raise ValueError(
        f"a critic takes points [N, 2] or images [N, 1, 28, 28], got samples of shape "
        f"{list(sample_shape)}"
    )


@torch.no_grad()
def critic_gap(critic: nn.Module, a: torch.Tensor, b: torch.Tensor, batch: int = 1000) -> float:
    """E_a[f] - E_b[f]: minus the critic's loss, its estimate of W1(a, b) (times K)."""
    was_training = critic.training
    critic.eval()
    try:
        fa = torch.cat([critic(chunk) for chunk in a.split(batch)])
        fb = torch.cat([critic(chunk) for chunk in b.split(batch)])
    finally:
        critic.train(was_training)
    return float(-d_wasserstein_loss(fa, fb))


def critic_slope(
    critic: nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    generator: torch.Generator | None = None,
    batch: int = 1000,
) -> float:
    """The critic's mean gradient norm ||grad f(x_hat)|| on points x_hat between a and b (the
    interpolates of the gradient penalty, pairs drawn at random): 1 for an optimal critic."""
    n = min(len(a), len(b))
    ia = torch.randperm(len(a), generator=generator)[:n]
    ib = torch.randperm(len(b), generator=generator)[:n]
    eps = torch.rand(n, generator=generator).reshape(n, *([1] * (a.ndim - 1)))
    x_hat = eps * a[ia] + (1 - eps) * b[ib]
    norms = []
    for chunk in x_hat.split(batch):
        chunk = chunk.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(chunk).sum(), chunk)
        norms.append(grad.flatten(1).norm(dim=1))
    return float(torch.cat(norms).mean())


@dataclass
class CriticResult:
    """What :func:`train_critic` measured.

    ``w1``: the estimate of W1(a, b). With the gradient penalty it is the critic's gap
    E_a[f] - E_b[f] divided by its mean slope on the interpolates (``slope``): the penalty is
    soft, so f can trade a slope a little above 1 for a wider gap (by about W1 / (2 lambda) for
    two shifted Gaussians, 10% at W1 = 2); dividing by the slope removes that scale. With
    clipping it is the gap itself: W1 times an unknown K (the estimate ranks distances, it
    does not measure them). ``gap`` is the raw E_a[f] - E_b[f].
    """

    w1: float
    gap: float
    slope: float
    method: str
    steps: int
    seconds: float
    critic: nn.Module

    def as_dict(self) -> dict:
        return {
            "w1": self.w1,
            "gap": self.gap,
            "slope": self.slope,
            "method": self.method,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
        }


def train_critic(
    a: torch.Tensor,
    b: torch.Tensor,
    method: str = "gp",
    *,
    steps: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    gp: float = 10.0,
    clip: float = 0.01,
    critic: nn.Module | None = None,
    penalty: Callable[..., torch.Tensor] = gradient_penalty,
) -> CriticResult:
    """Train a critic to separate ``a`` from ``b`` (each ``[N, 2]`` or ``[N, 1, 28, 28]``) and
    estimate W1(a, b); see :class:`CriticResult`.

    ``method="gp"``: WGAN-GP's critic, Adam (1e-3, betas 0.5, 0.9) with the gradient penalty
    ``gp`` (lambda, 10 in the paper). ``method="clip"``: WGAN's critic, RMSprop with every
    weight clipped to [-clip, clip] (c = 0.01 in the paper) after each update, at a learning
    rate high enough for the default steps (1e-3 for points, 1e-4 for images; the paper's 5e-5
    trains a GAN for 10^5 steps). Minibatches of ``batch_size`` from each set, drawn with
    ``seed``; ``steps`` defaults to 1,000 for points and 300 for images, ``batch_size`` to 256
    points or 64 images (10-20 CPU-seconds either way, on one thread of a slow CPU).

    ``critic``: train this network (in place) instead of a new one, e.g. a copy of a GAN's
    critic, to see how far from optimal it was. ``penalty``: the gradient penalty function,
    called as ``penalty(critic, xa, xb, gp, generator=...)`` (the package's by default; notebook
    06 passes a broken one to show what it costs).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    a, b = a.float(), b.float()
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"the two sets hold samples of different shapes: {list(a.shape[1:])} and "
            f"{list(b.shape[1:])}"
        )
    points = a.shape[1:] == (2,)
    steps = steps if steps is not None else (1000 if points else 300)
    batch_size = batch_size if batch_size is not None else (256 if points else 64)
    started = time.process_time()
    torch.manual_seed(seed)
    if critic is None:
        critic = critic_network(tuple(a.shape[1:]))
    critic.train()
    if method == "gp":
        opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    else:
        clip_weights_(critic, clip)
        opt = torch.optim.RMSprop(critic.parameters(), lr=1e-3 if points else 1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        xa = a[torch.randint(len(a), (batch_size,), generator=gen)]
        xb = b[torch.randint(len(b), (batch_size,), generator=gen)]
        loss = d_wasserstein_loss(critic(xa), critic(xb))  # -(E_a f - E_b f)
        if method == "gp":
            loss = loss + penalty(critic, xa, xb, gp, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if method == "clip":
            clip_weights_(critic, clip)
    gap = critic_gap(critic, a, b)
    slope = critic_slope(critic, a, b, generator=gen)
    w1 = gap / slope if method == "gp" else gap
    return CriticResult(w1, gap, slope, method, steps, time.process_time() - started, critic)


def generator_gradient_parallel_lines(
    theta: float, loss: str, *, n: int = 1000, steps: int = 500, seed: int = 0
) -> float:
    """WGAN's Example 1, measured: how hard does G's loss pull P_theta towards P0?

    A discriminator is trained to (near) optimality between P0 (real) and P_theta (the
    generator's samples (theta, u)): for the logistic objectives ("minimax", "nonsaturating")
    an MLP with Adam on the logistic loss, for "wasserstein" a critic with the gradient penalty
    (:func:`train_critic`). Returns dL_G/dtheta, G's loss differentiated through the frozen
    discriminator with respect to theta. With disjoint supports the optimal D is flat where the
    samples are (JS is stuck at log 2): the minimax gradient vanishes; the critic's slope stays
    1, so the Wasserstein gradient does not.
    """
    gen = torch.Generator().manual_seed(seed)
    real = parallel_lines(n, 0.0, gen)
    fake = parallel_lines(n, theta, gen)
    if objective(loss).logits:
        torch.manual_seed(seed)
        D = _PointCritic()
        opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            objective(loss).d_loss(D(real), D(fake)).backward()
            opt.step()
    else:
        D = train_critic(real, fake, "gp", steps=steps, seed=seed).critic
    D.requires_grad_(False)
    th = torch.tensor(float(theta), requires_grad=True)
    samples = torch.stack([th.expand(n), fake[:, 1]], dim=1)  # (theta, u): G's samples
    (grad,) = torch.autograd.grad(objective(loss).g_loss(D(samples)), th)
    return float(grad)
