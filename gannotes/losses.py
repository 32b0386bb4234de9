"""GAN objectives and regularisers as small pure functions, named after the papers' terms.

An *objective* is a pair: the discriminator's (critic's) loss on its scores of real and
generated samples, and the generator's loss on its scores of generated samples. Scores may have
any shape with a batch axis first (``[N]`` logits, or a PatchGAN's ``[N, 1, H, W]`` map); every
loss is a mean over all of them. :data:`OBJECTIVES` holds them by name:

* ``nonsaturating`` and ``minimax``: Goodfellow et al. (2014), "Generative Adversarial Nets".
  D outputs a logit l, D(x) = sigmoid(l); the value function (Eq. 1) is
  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]. D maximises V; the *minimax* generator
  minimises E_z[log(1 - D(G(z)))], the *non-saturating* one (Sec. 3) maximises E_z[log D(G(z))]
  instead: the same fixed point, but strong gradients early on, when D rejects samples easily.
  With log(sigmoid(l)) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), every term is a
  softplus of a logit: numerically stable, no log(0).
* ``wasserstein``: Arjovsky, Chintala and Bottou (2017), "Wasserstein GAN", Eq. 3. A critic f
  (no sigmoid) maximises E_x[f(x)] - E_z[f(G(z))], which for a 1-Lipschitz f estimates the
  Earth-Mover distance W1 (the Kantorovich-Rubinstein dual); G minimises -E_z[f(G(z))]. The
  critic must be kept Lipschitz: :func:`clip_weights_` (the paper) or :func:`gradient_penalty`
  (Gulrajani et al. 2017).
* ``hinge``: Lim and Ye (2017), "Geometric GAN"; Miyato et al. (2018), "Spectral Normalization",
  Eq. 16-17: D minimises E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], G minimises -E[D(G(z))].
* ``least-squares``: Mao et al. (2017), "Least Squares GANs", Eq. 2 with the 0-1 coding (a = 0,
  b = c = 1): D minimises 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2], G minimises
  1/2 E[(D(G(z)) - 1)^2]. CycleGAN uses it.

Regularisers of D sit beside them: :func:`r1_penalty` (Mescheder et al. 2018),
:func:`gradient_penalty` (WGAN-GP, Gulrajani et al. 2017, Eq. 3) and :func:`clip_weights_`
(WGAN's weight clipping). The conditional families add :func:`ac_class_loss` (AC-GAN's L_C)
and :func:`l1_loss` (pix2pix's L_L1); CycleGAN :func:`cycle_consistency_loss` and
:func:`identity_loss`. Adding an objective is two functions and one line in
:data:`OBJECTIVES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "G_LOSSES",
    "OBJECTIVES",
    "Objective",
    "ac_class_loss",
    "ac_class_loss_double_softmax",
    "check_unconstrained",
    "clip_weights_",
    "d_hinge_loss",
    "cycle_consistency_loss",
    "d_least_squares_loss",
    "d_logistic_loss",
    "d_loss_with_targets",
    "d_wasserstein_loss",
    "g_hinge_loss",
    "g_least_squares_loss",
    "identity_loss",
    "g_loss",
    "input_gradient",
    "g_minimax_loss",
    "g_nonsaturating_loss",
    "g_wasserstein_loss",
    "gradient_penalty",
    "l1_loss",
    "objective",
    "optimal_discriminator",
    "r1_penalty",
    "value_function",
]


def _check_scores(name: str, scores: torch.Tensor) -> None:
    if scores.ndim == 0 or scores.shape[0] == 0:
        raise ValueError(
            f"{name} must have a batch axis first ([N] or [N, ...], N >= 1), "
            f"got shape {tuple(scores.shape)}"
        )


# ----------------------------------------------------------------------------- logistic (2014)


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss, -V(D, G): binary cross-entropy with real=1 and fake=0.

    -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-l_real)] + E[softplus(l_fake)].
    """
    _check_scores("real_logits", real_logits)
    _check_scores("fake_logits", fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def d_loss_with_targets(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_target: float | torch.Tensor = 1.0,
    fake_target: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """D's binary cross-entropy with chosen targets t: E_real[BCE(l, t_r)] + E_fake[BCE(l, t_f)].

    BCE(l, t) = t * softplus(-l) + (1 - t) * softplus(l). Targets 1 and 0 give
    :func:`d_logistic_loss`; a real target of 0.9 is one-sided label smoothing (Salimans et al.
    2016, Sec. 3.4); per-sample targets ``[N]`` express flipped (noisy) labels, and apply to
    every score of a sample's map.
    """
    _check_scores("real_logits", real_logits)
    _check_scores("fake_logits", fake_logits)

    def expand(target, logits):
        t = torch.as_tensor(target, dtype=logits.dtype, device=logits.device)
        if t.ndim == 1 and logits.ndim > 1:
            t = t.reshape(-1, *([1] * (logits.ndim - 1)))  # [N] -> [N, 1, ...]
        return t.expand_as(logits)

    bce = F.binary_cross_entropy_with_logits
    return bce(real_logits, expand(real_target, real_logits)) + bce(
        fake_logits, expand(fake_target, fake_logits)
    )


def g_minimax_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss in the original minimax game: E[log(1 - D(G(z)))] = -E[softplus(l)].

    Its gradient vanishes when D confidently rejects the samples (l -> -inf): it saturates.
    """
    _check_scores("fake_logits", fake_logits)
    return -F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss: -E[log D(G(z))] = E[softplus(-l)]."""
    _check_scores("fake_logits", fake_logits)
    return F.softplus(-fake_logits).mean()


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


# ----------------------------------------------------------------------------- Wasserstein (2017)


def d_wasserstein_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's loss, E[f(G(z))] - E[f(x)] (WGAN Eq. 3, negated to be minimised).

    Minus this loss, E[f(x)] - E[f(G(z))], is the critic's estimate of W1(P_data, P_g) when f is
    1-Lipschitz (up to the Lipschitz constant K when only K-Lipschitz, as with clipping).
    """
    _check_scores("real_scores", real_scores)
    _check_scores("fake_scores", fake_scores)
    return fake_scores.mean() - real_scores.mean()


def g_wasserstein_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's loss, -E[f(G(z))]: move the samples up the critic's slope."""
    _check_scores("fake_scores", fake_scores)
    return -fake_scores.mean()


def input_gradient(output: torch.Tensor, inputs: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The gradient of the scalar ``output`` (a sum over the batch ``inputs``) with respect to
    ``inputs``, differentiable (the graph is kept: a penalty built from it is minimised by a
    double backward), in float32.

    Under fp16 autocast a gradient can underflow to zero before it is squared. As in PyTorch's
    AMP example for gradient penalties, ``output`` is multiplied by a factor before
    differentiating and the gradient divided by it after, which changes nothing in exact
    arithmetic (tested) and keeps small gradients representable. The factor is the gradient
    scaler's ``scale`` divided by the batch size: a sum's gradient reaches every sample whole,
    and ``scale`` itself (2^16 at the start) would overflow float16 (largest 65,504), as the
    scaled mean of a loss does not.
    """
    factor = scale / max(inputs.shape[0], 1) if scale != 1.0 else 1.0
    (grad,) = torch.autograd.grad(output * factor, inputs, create_graph=True)
    return grad.float() / factor


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    *,
    eps: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017, Eq. 3): ``weight * E[(||grad f(x_hat)|| - 1)^2]``.

    x_hat = eps * x + (1 - eps) * x_tilde, on straight lines between real samples x and
    generated ones x_tilde, with eps ~ U[0, 1] per sample (drawn on the CPU from ``generator``
    unless ``eps`` ``[N]`` is given). The gradient norm is taken per sample, over all of its
    features. ``create_graph=True`` keeps the gradient differentiable, so the penalty itself can
    be minimised with respect to the critic's weights (a double backward). The paper's
    weight (lambda) is 10. Use it without BatchNorm in the critic: the penalty is per sample, and
    batch statistics mix the samples. ``scale`` is the fp16 gradient scaler's factor (see
    :func:`input_gradient`).
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ"
        )
    n = real.shape[0]
    if eps is None:
        eps = torch.rand(n, generator=generator)
    eps = eps.to(real.device, real.dtype).reshape(n, *([1] * (real.ndim - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    grad = input_gradient(scores.sum(), x_hat, scale)
    slope = grad.flatten(1).norm(2, dim=1)  # [N]: ||grad f(x_hat_i)||
    return weight * (slope - 1).square().mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> nn.Module:
    """WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1): every parameter of the critic
    clamped to [-c, c] after each of its updates, in place (the paper: c = 0.01).

    A crude way to keep the critic K-Lipschitz for some unknown K: the paper calls it "a clearly
    terrible way", and WGAN-GP replaces it with :func:`gradient_penalty`.
    """
    if not c > 0:
        raise ValueError(f"clip_weights_: c must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)
    return module


# ----------------------------------------------------------------------------- hinge and least squares


def d_hinge_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """D's hinge loss: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    _check_scores("real_scores", real_scores)
    _check_scores("fake_scores", fake_scores)
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def g_hinge_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """G's loss with the hinge objective: -E[D(G(z))] (as in the Wasserstein objective)."""
    _check_scores("fake_scores", fake_scores)
    return -fake_scores.mean()


def d_least_squares_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN's D loss (0-1 coding): 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    _check_scores("real_scores", real_scores)
    _check_scores("fake_scores", fake_scores)
    return 0.5 * (real_scores - 1).square().mean() + 0.5 * fake_scores.square().mean()


def g_least_squares_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN's G loss: 1/2 E[(D(G(z)) - 1)^2]."""
    _check_scores("fake_scores", fake_scores)
    return 0.5 * (fake_scores - 1).square().mean()


# ----------------------------------------------------------------------------- R1 (2018)


def r1_penalty(
    real_logits: torch.Tensor, reals: torch.Tensor, gamma: float, scale: float = 1.0
) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?",
    Eq. 9): ``gamma / 2 * E_x[||grad_x D(x)||^2]`` on real data, added to D's loss.

    It penalises a discriminator that is steep on the data, so D cannot keep pushing the
    generator around a mode it has already reached: training settles instead of circling.
    ``reals`` must have ``requires_grad`` set before ``real_logits = D(reals)`` was computed;
    the graph is kept so the penalty itself can be differentiated.
    """
    _check_scores("real_logits", real_logits)
    if not reals.requires_grad:
        raise ValueError("r1_penalty: reals must require grad before D(reals) is computed")
    grad = input_gradient(real_logits.sum(), reals, scale)
    return 0.5 * gamma * grad.square().flatten(1).sum(1).mean()


# ----------------------------------------------------------------------------- conditional GANs


def ac_class_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AC-GAN's class loss (Odena et al. 2017, Eq. 3): -E[log P(C = c | X)], the cross-entropy
    of D's class logits ``[N, K]`` with the labels ``[N]``.

    ``F.cross_entropy`` applies the log-softmax itself: it must get *logits*. A widely copied
    AC-GAN applies a softmax in D and then this loss, a softmax twice; notebook 03 measures
    what that costs (:func:`ac_class_loss_double_softmax`).
    """
    if class_logits.ndim != 2 or labels.shape != class_logits.shape[:1]:
        raise ValueError(
            f"expected logits [N, K] and labels [N], got {list(class_logits.shape)} and "
            f"{list(labels.shape)}"
        )
    return F.cross_entropy(class_logits.float(), labels)


def ac_class_loss_double_softmax(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The bug, kept to measure it: a softmax, then a loss that applies a softmax again.

    The probabilities p in [0, 1] are read as logits, so the loss stays between
    log(1 + (K - 1) / e) (D sure and right) and log(K - 1 + e) (sure and wrong): 1.46 to 2.46
    for K = 10, against 0 to infinity for the right loss; and its gradient vanishes as D grows
    sure, right or wrong: a weak class signal that fades when G needs it most.
    """
    return F.cross_entropy(torch.softmax(class_logits.float(), dim=1), labels)


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """pix2pix's L_L1 (Isola et al. 2017, Eq. 3): E[||y - G(x)||_1], the mean absolute error
    per pixel."""
    if output.shape != target.shape:
        raise ValueError(f"output {list(output.shape)} and target {list(target.shape)} differ")
    return (output.float() - target.float()).abs().mean()


def cycle_consistency_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """CycleGAN's L_cyc for one direction (Zhu et al. 2017, Eq. 2): E[||F(G(x)) - x||_1].

    ``reconstructed`` is the image after a round trip through both generators (F(G(x)) or
    G(F(y))). The paper's L_cyc(G, F) is the sum of the forward and the backward terms."""
    return l1_loss(reconstructed, real)


def identity_loss(real: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
    """CycleGAN's identity mapping loss (Zhu et al. 2017, Sec. 5.2; Taigman et al. 2017):
    E[||G(y) - y||_1], a generator given an image of its *target* domain should leave it
    alone. ``mapped`` is G(y) for y of G's output domain (or F(x) for x of F's)."""
    return l1_loss(mapped, real)


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Objective:
    """A GAN objective: D's loss on (real, fake) scores, G's loss on fake scores.

    ``logits``: D's score is the logit of a probability (the logistic objectives), so
    sigmoid(score) is D's belief that a sample is real and label tricks (smoothing, flips)
    apply; otherwise the score is a critic's value or a margin. ``lipschitz``: the objective
    is only meaningful with a Lipschitz critic (the Wasserstein dual: without a gradient
    penalty or weight clipping, D's loss is unbounded below and the critic's values run off).
    """

    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    logits: bool
    paper: str
    lipschitz: bool = False


OBJECTIVES: dict[str, Objective] = {
    "nonsaturating": Objective(d_logistic_loss, g_nonsaturating_loss, True, "Goodfellow 2014"),
    "minimax": Objective(d_logistic_loss, g_minimax_loss, True, "Goodfellow 2014"),
    "wasserstein": Objective(
        d_wasserstein_loss, g_wasserstein_loss, False, "Arjovsky 2017", lipschitz=True
    ),
    "hinge": Objective(d_hinge_loss, g_hinge_loss, False, "Lim and Ye 2017"),
    "least-squares": Objective(d_least_squares_loss, g_least_squares_loss, False, "Mao 2017"),
}
G_LOSSES = {name: obj.g_loss for name, obj in OBJECTIVES.items()}  # G's loss of each objective


def objective(name: str) -> Objective:
    """The objective called ``name`` (see :data:`OBJECTIVES`)."""
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def check_unconstrained(name: str, family: str) -> None:
    """Refuse, in one line, an objective that needs a Lipschitz critic in a family that applies
    no constraint to its discriminator (no gradient penalty, no clipping)."""
    if objective(name).lipschitz:
        valid = ", ".join(k for k, o in OBJECTIVES.items() if not o.lipschitz)
        raise ValueError(
            f"the {name} objective needs a Lipschitz critic (a gradient penalty or weight "
            f"clipping), which the {family} family does not apply; valid here: {valid} "
            f"(WGAN-GP trains in the classic family: train dcgan --loss {name})"
        )


def g_loss(name: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator loss of the objective called ``name``."""
    return objective(name).g_loss(fake_scores)
