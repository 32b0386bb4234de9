"""The GAN objective of Goodfellow et al. (2014), "Generative Adversarial Nets", as pure functions.

The discriminator D outputs a logit l; D(x) = sigmoid(l). The value function (Eq. 1) is

    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].

D maximises V; the *minimax* generator minimises E_z[log(1 - D(G(z)))], and the
*non-saturating* generator (Section 3 of the paper) maximises E_z[log D(G(z))] instead, which has
the same fixed point but strong gradients early in training, when D rejects samples easily.

With log(sigmoid(l)) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), every term is a
softplus of a logit: numerically stable, no log(0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "G_LOSSES",
    "d_logistic_loss",
    "d_loss_with_targets",
    "g_loss",
    "g_minimax_loss",
    "g_nonsaturating_loss",
    "optimal_discriminator",
    "r1_penalty",
    "value_function",
]


def _check_logits(name: str, logits: torch.Tensor) -> None:
    if logits.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D tensor of logits [N], got shape {tuple(logits.shape)}"
        )


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss, -V(D, G): binary cross-entropy with real=1 and fake=0.

    -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-l_real)] + E[softplus(l_fake)].
    """
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, reals: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?",
    Eq. 9): ``gamma / 2 * E_x[||grad_x D(x)||^2]`` on real data, added to D's loss.

    It penalises a discriminator that is steep on the data, so D cannot keep pushing the
    generator around a mode it has already reached: training settles instead of circling.
    ``reals`` must have ``requires_grad`` set before ``real_logits = D(reals)`` was computed;
    the graph is kept so the penalty itself can be differentiated.
    """
    _check_logits("real_logits", real_logits)
    if not reals.requires_grad:
        raise ValueError("r1_penalty: reals must require grad before D(reals) is computed")
    (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
    return 0.5 * gamma * grad.square().flatten(1).sum(1).mean()


def d_loss_with_targets(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_target: float | torch.Tensor = 1.0,
    fake_target: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """D's binary cross-entropy with chosen targets t: E_real[BCE(l, t_r)] + E_fake[BCE(l, t_f)].

    BCE(l, t) = t * softplus(-l) + (1 - t) * softplus(l). Targets 1 and 0 give
    :func:`d_logistic_loss`; a real target of 0.9 is one-sided label smoothing (Salimans et al.
    2016, Sec. 3.4); tensor targets ``[N]`` express flipped (noisy) labels.
    """
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    bce = F.binary_cross_entropy_with_logits
    real_target = torch.as_tensor(real_target, dtype=real_logits.dtype, device=real_logits.device)
    fake_target = torch.as_tensor(fake_target, dtype=fake_logits.dtype, device=fake_logits.device)
    return bce(real_logits, real_target.expand_as(real_logits)) + bce(
        fake_logits, fake_target.expand_as(fake_logits)
    )


def g_minimax_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss in the original minimax game: E[log(1 - D(G(z)))] = -E[softplus(l)].

    Its gradient vanishes when D confidently rejects the samples (l -> -inf): it saturates.
    """
    _check_logits("fake_logits", fake_logits)
    return -F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss: -E[log D(G(z))] = E[softplus(-l)]."""
    _check_logits("fake_logits", fake_logits)
    return F.softplus(-fake_logits).mean()


G_LOSSES = {"nonsaturating": g_nonsaturating_loss, "minimax": g_minimax_loss}


def g_loss(name: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator loss called ``name`` ("nonsaturating" or "minimax")."""
    if name not in G_LOSSES:
        raise ValueError(f"unknown generator loss {name!r}; valid: {', '.join(G_LOSSES)}")
    return G_LOSSES[name](fake_logits)


def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """V(D, G) of Eq. 1, estimated on a batch: E[log D(x)] + E[log(1 - D(G(z)))]."""
    return -d_logistic_loss(real_logits, fake_logits)


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Proposition 1), from the two densities at x.

    Where both densities are zero D* is undefined; it is returned as 0.5 (any value is optimal).
    """
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data {tuple(p_data.shape)} and p_g {tuple(p_g.shape)} differ in shape")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be non-negative")
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)
