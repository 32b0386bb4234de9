"""Reference solutions of the notebooks' "Your turn" exercises, for a learner who is stuck.

``solution(name)`` prints our solution's code under a one-line heading and returns it:

* a function exercise gives the function (``solution("smooth_targets", show=False)`` is
  ``my_smooth_targets``, ready to pass to ``check_smooth_targets``);
* a number exercise (``d_star``, ``equilibrium_value``) gives the number, computed by the
  function that is printed;
* ``fid`` gives a function of the two feature sets, which ``check_fid`` accepts in place of
  the number;
* ``game`` gives a scripted player, ``player(image) -> said_real``, which ``check_game`` plays
  through a deck (``check_game(player, deck=RealOrFakeGame(real, fake))``).

The names are the checkers' names without ``check_`` (``gannotes.exercises``). Each solution is
written as a learner would write it, from torch, numpy and math alone, not with the package's
own implementation: the checkers compare them with the package, and tests/test_exercises.py
checks that every checker accepts its solution and the code that is printed.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = ["SOLUTIONS", "Solution", "solution", "solution_code"]


# ----------------------------------------------------------------------------- notebook 00


def to_bytes(x):
    """Images in [-1, 1] -> whole numbers 0..255 of type torch.uint8, same shape."""
    x = x.clamp(-1, 1)  # a generator may step a little outside [-1, 1]
    x = (x + 1) / 2 * 255  # -1 -> 0, 0 -> 127.5, +1 -> 255
    return x.round().to(torch.uint8)


# ----------------------------------------------------------------------------- notebook 01


def compute_d_star_at_half():
    """D*(0.5) for p_data = N(0, 1) and p_g = N(2, 1)."""
    x = 0.5
    p_data = math.exp(-((x - 0) ** 2) / 2) / math.sqrt(2 * math.pi)  # N(0, 1) density at x
    p_g = math.exp(-((x - 2) ** 2) / 2) / math.sqrt(2 * math.pi)  # N(2, 1) density at x
    return p_data / (p_data + p_g)  # D*(x) = p_data / (p_data + p_g) = sigmoid(2 - 2x)


def my_g_loss(fake_logits):
    """The non-saturating generator loss, -mean(log D(G(z))), with D(G(z)) = sigmoid(logit)."""
    # Written plainly, -torch.log(torch.sigmoid(fake_logits)).mean() is right for ordinary
    # logits, but sigmoid(-110) rounds to 0 in float32 and log(0) = -inf.
    # Since sigmoid(x) = e^x sigmoid(-x), -log sigmoid(x) = max(-x, 0) - log sigmoid(|x|), and
    # sigmoid(|x|) >= 1/2 never rounds to 0. (That is softplus(-x), which the package uses.)
    x = fake_logits
    return (torch.clamp(-x, min=0) - torch.log(torch.sigmoid(x.abs()))).mean()


def compute_equilibrium_value():
    """V(D*, G) = E_data[log D*(x)] + E_g[log(1 - D*(x))] where p_g = p_data."""
    d = 0.5  # D*(x) = p_data / (p_data + p_g) = 1/2 everywhere
    return math.log(d) + math.log(1 - d)  # two expectations of a constant: -log 4


# ----------------------------------------------------------------------------- notebook 02


def my_smooth_targets(n, smoothing):
    """D's targets for n real images with one-sided label smoothing: 1 - smoothing each."""
    return torch.full((n,), 1.0 - smoothing)  # [n]; the fakes keep target 0 (not smoothed)


# ----------------------------------------------------------------------------- notebook 03


def my_projection_score(phi, w, b, embedding, labels):
    """The projection discriminator's score (Miyato and Koyama 2018, Eq. 3), [N]."""
    unconditional = phi @ w + b  # [N, F] @ [F] -> [N]: the linear head on D's features
    e = embedding[labels]  # [N, F]: the embedding of each sample's own label
    return unconditional + (e * phi).sum(dim=1)  # [N]: plus the inner product e(y) . phi(x)


def my_ac_class_loss(class_logits, labels):
    """AC-GAN's class loss L_C = -mean log P(C = label | x), from D's class *logits*."""
    log_p = torch.log_softmax(class_logits, dim=1)  # [N, K]; stable even for huge logits
    picked = log_p[torch.arange(len(labels)), labels]  # [N]: log P of each sample's label
    return -picked.mean()  # the same as F.cross_entropy(class_logits, labels)


# ----------------------------------------------------------------------------- notebook 04


def my_cycle_loss(G, F, a, b):
    """CycleGAN's L_cyc (Eq. 2): each image must survive the round trip, L1."""
    forward = (F(G(a)) - a).abs().mean()  # a -> G -> F -> back to a
    backward = (G(F(b)) - b).abs().mean()  # b -> F -> G -> back to b
    return forward + backward


def my_identity_loss(G, F, a, b):
    """CycleGAN's identity loss: a generator leaves an image of its *output* domain alone."""
    g_term = (G(b) - b).abs().mean()  # G makes B images: given a b, it should return it
    f_term = (F(a) - a).abs().mean()  # F makes A images: given an a, it should return it
    return g_term + f_term


# ----------------------------------------------------------------------------- notebook 05


def my_modulate_demodulate(weight, styles):
    """StyleGAN2's modulation (Eq. 1) and demodulation (Eq. 3): one weight per sample."""
    # weight [O, I, k, k], styles [N, I]: scale each *input* channel i by the style s_i
    w = weight[None] * styles[:, None, :, None, None]  # [N, O, I, k, k]
    # divide each output channel j by the norm of its weights (over i and the kernel)
    norm = (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).sqrt()  # [N, O, 1, 1, 1]
    return w / norm


def my_truncate(w, w_avg, psi):
    """The truncation trick in W: pull each w [N, D] towards the average w_avg [D]."""
    return w_avg + psi * (w - w_avg)  # psi = 1 keeps w, psi = 0 gives w_avg


# ----------------------------------------------------------------------------- notebook 06


def my_gradient_penalty(critic, real, fake, eps):
    """WGAN-GP's penalty, lambda * mean (|grad f(x_hat)| - 1)^2, lambda = 10."""
    e = eps.reshape(-1, *([1] * (real.ndim - 1)))  # [N] -> [N, 1, ...], to broadcast
    x_hat = (e * real + (1 - e) * fake).detach().requires_grad_(True)  # between the samples
    # create_graph=True: the penalty must itself have a gradient for the critic's weights
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)  # [N]: one norm per sample, over all its pixels
    return 10 * (norms - 1).square().mean()


# ----------------------------------------------------------------------------- notebook 07


def my_fid(real_features, fake_features):
    """FID = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^1/2), with numpy."""
    a = np.asarray(real_features, dtype=np.float64)  # [N, D]
    b = np.asarray(fake_features, dtype=np.float64)  # [M, D]
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)  # [D]
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)  # [D, D], divided by N - 1
    # tr((S_a S_b)^1/2) is the sum of the square roots of the eigenvalues of S_a S_b; rounding
    # can leave tiny negative or complex ones: take the real part at the end.
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).astype(complex)
    tr_sqrt = np.sqrt(eigenvalues).sum().real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def my_player(image):
    """Real or fake? A scripted player for the game: image [C, H, W] in [-1, 1] -> True = real.

    What to look at: a real garment sits on a clean black background with crisp edges; a
    generated one often floats in a dark grey haze (smudges, soft edges, specks).
    """
    pixels = ((image.clamp(-1, 1) + 1) / 2 * 255).round()  # what the screen shows, 0..255
    dark_grey = ((pixels >= 1) & (pixels <= 50)).float().mean()  # not black, barely lit
    return bool(dark_grey < 0.1)  # little haze: say real


# ----------------------------------------------------------------------------- notebook 08


def my_payback(compile_s, eager_step_s, compiled_step_s):
    """Steps after which compiling pays back: the one-off cost over the time saved per step."""
    saved = eager_step_s - compiled_step_s  # seconds saved by each compiled step
    if saved <= 0:
        return math.inf  # the compiled step is not faster: it never pays back
    return compile_s / saved


def my_unscale(scaled_grads, scale):
    """What the gradient scaler does before the optimizer steps: (gradients, found_inf)."""
    grads = [g / scale for g in scaled_grads]  # undo the loss scaling
    # skip the step if any gradient overflowed (inf) or became NaN: isfinite catches both
    found_inf = not all(torch.isfinite(g).all() for g in scaled_grads)
    return grads, found_inf


# ----------------------------------------------------------------------------- notebook 09


def my_roc_auc(member_scores, nonmember_scores):
    """ROC AUC: P(a random member scores above a random non-member), a tie counting 1/2."""
    m = member_scores[:, None]  # [M, 1]
    n = nonmember_scores[None, :]  # [1, K]: every (member, non-member) pair by broadcasting
    wins = (m > n).float() + 0.5 * (m == n).float()  # [M, K]
    return wins.mean()  # the share of pairs ordered right


def my_threshold(fpr):
    """The z-score threshold t whose Hoeffding bound exp(-t^2 / 2) equals fpr."""
    # exp(-t^2 / 2) = fpr  =>  t^2 / 2 = ln(1 / fpr)  =>  t = sqrt(2 ln(1 / fpr))
    return math.sqrt(2 * math.log(1 / fpr))


# ----------------------------------------------------------------------------- notebook 10


def my_reconstruction_loss(x, target, net, feature_weight):
    """Per image: mean squared pixel error + feature_weight * mean squared feature distance."""
    pixel = ((x - target) ** 2).flatten(1).mean(1)  # [N]
    f_x = net(x)[0]  # net returns (features, logits): the features
    f_target = net(target)[0]
    feature = ((f_x - f_target) ** 2).mean(1)  # [N]
    return pixel + feature_weight * feature


def my_boundary_distance(latents, weight, bias):
    """Signed distance of each latent to the hyperplane weight . latent + bias = 0."""
    flat = latents.flatten(1)  # a W+ latent [num_ws, w_dim] is one point too
    return (flat @ weight + bias) / weight.norm()  # positive on the class's side


# ----------------------------------------------------------------------------- notebook 11


def my_fanogan_score(x, rec, f_x, f_rec, kappa):
    """f-AnoGAN's score per image: mean squared pixel residual + kappa * feature residual."""
    pixel = ((x - rec) ** 2).flatten(1).mean(1)  # [N]: 1/n ||x - G(E(x))||^2
    feature = ((f_x - f_rec) ** 2).mean(1)  # [N]: 1/n_d ||f(x) - f(G(E(x)))||^2
    return pixel + kappa * feature


def my_nn_distance(normal, x):
    """Euclidean distance from each row of x to its nearest row of normal."""
    d2 = ((x[:, None, :] - normal[None, :, :]) ** 2).sum(-1)  # [N, M] squared distances
    return d2.min(1).values.sqrt()


# ----------------------------------------------------------------------------- solution()


class Solution(NamedTuple):
    """One exercise's solution: its notebook, the function, and whether the answer is the
    function's value (a number exercise: ``solution`` calls it and returns the number)."""

    notebook: str
    function: Callable[..., Any]
    returns_value: bool = False
    assign_to: str | None = None  # the notebook's variable that the value goes into


SOLUTIONS: dict[str, Solution] = {
    "to_bytes": Solution("00", to_bytes),
    "d_star": Solution("01", compute_d_star_at_half, True, "d_star_at_half"),
    "g_loss": Solution("01", my_g_loss),
    "equilibrium_value": Solution("01", compute_equilibrium_value, True, "equilibrium_value"),
    "smooth_targets": Solution("02", my_smooth_targets),
    "projection_score": Solution("03", my_projection_score),
    "ac_class_loss": Solution("03", my_ac_class_loss),
    "cycle_loss": Solution("04", my_cycle_loss),
    "identity_loss": Solution("04", my_identity_loss),
    "modulation": Solution("05", my_modulate_demodulate),
    "truncation": Solution("05", my_truncate),
    "gradient_penalty": Solution("06", my_gradient_penalty),
    "fid": Solution("07", my_fid),
    "game": Solution("07", my_player),
    "payback": Solution("08", my_payback),
    "unscale": Solution("08", my_unscale),
    "roc_auc": Solution("09", my_roc_auc),
    "threshold": Solution("09", my_threshold),
    "reconstruction_loss": Solution("10", my_reconstruction_loss),
    "boundary_distance": Solution("10", my_boundary_distance),
    "fanogan_score": Solution("11", my_fanogan_score),
    "nn_distance": Solution("11", my_nn_distance),
}


def solution_code(name: str) -> str:
    """The code ``solution(name)`` prints (without its heading): the function's source, and for
    a number exercise the line that puts its value in the notebook's variable."""
    s = _lookup(name)
    code = inspect.getsource(s.function)
    if s.returns_value:
        code += f"\n\n{s.assign_to} = {s.function.__name__}()\n"
    return code


def solution(name: str, show: bool = True) -> Any:
    """Our solution to the exercise checked by ``check_<name>``: prints its code (unless
    ``show`` is False) and returns it, the function or, for a number exercise, the number.

    >>> my_smooth_targets = solution("smooth_targets", show=False)
    """
    s = _lookup(name)
    if show:
        print(f"Solution to {name!r} (notebook {s.notebook}):\n")
        print(solution_code(name).rstrip())
    return s.function() if s.returns_value else s.function


def _lookup(name: str) -> Solution:
    if name not in SOLUTIONS:
        raise ValueError(f"no exercise {name!r}; the exercises are: {', '.join(SOLUTIONS)}")
    return SOLUTIONS[name]
