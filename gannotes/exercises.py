"""The check functions of the notebooks' "Your turn" exercises, tested like the rest of the package.

Each ``check_*`` takes the learner's answer (a number or a function), plus whatever context the
exercise is about as explicit arguments (the images, the features, the last loss), and says one
line of feedback through ``say``:

* ``True``: right, with ``"correct: ..."`` and what the answer means;
* ``False``: not yet, with ``"not yet: ..."`` (or ``"almost: ..."``) and a hint that matches the
  mistake (a function that raises or returns the wrong type or shape gets that line, not a
  traceback);
* ``None``: not attempted (the answer is still ``None``, or the function is still the
  notebook's stub, whose body raises ``NotImplementedError``), or nothing to check yet.

In a notebook ``say`` is ``print``, and an exercise cell holds the learner's code and one line
that calls its check; the tests collect the lines with ``say=lines.append``. The oracles are the
package's own functions (``gannotes.viz.to_uint8``, ``gannotes.losses``,
``gannotes.tricks.smooth_targets``, ``gannotes.metrics.frechet_distance``), closed forms
(D*(1/2) = sigmoid(1), V = -log 4) and the papers' equations written out (the projection
discriminator's score).

Notebooks: 00 ``check_to_bytes``; 01 ``check_d_star``, ``check_g_loss``,
``check_equilibrium_value``; 02 ``check_smooth_targets``; 03 ``check_ac_class_loss``,
``check_projection_score``; 04 ``check_cycle_loss``, ``check_identity_loss``; 05
``check_modulation``, ``check_truncation``; 06 ``check_gradient_penalty``; 07 ``check_fid``,
``check_game``; 08 ``check_unscale``, ``check_payback``; 09 ``check_roc_auc``,
``check_threshold``; 10 ``check_reconstruction_loss``, ``check_boundary_distance``; 11
``check_fanogan_score``, ``check_nn_distance``.

Every exercise also has a solution the learner can reveal when stuck (``gannotes.solutions``,
re-exported here): ``solution("smooth_targets")`` prints our code for ``check_smooth_targets``'s
exercise under a one-line heading and returns it, the function (for ``fid``, a function of the
two feature sets, which ``check_fid`` also accepts; for ``game``, a scripted player, which
``check_game`` plays through a ``deck``) or, for the number exercises ``d_star`` and
``equilibrium_value``, the number. ``solution(name, show=False)`` returns it without printing.
The names are the checkers' without ``check_``. The solutions are written as a learner would,
not with the package's implementations; tests/test_exercises.py checks that every checker accepts
its solution and the package's answer, and says "not attempted" to the notebook's stub.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .editing import Boundary
from .inversion import feature_loss, pixel_loss
from .losses import (
    ac_class_loss,
    ac_class_loss_double_softmax,
    g_nonsaturating_loss,
    gradient_penalty,
    optimal_discriminator,
)
from .metrics import feature_statistics, frechet_distance, frechet_distance_from_statistics
from .quality import RealOrFakeGame
from .solutions import solution
from .tricks import smooth_targets
from .viz import to_uint8

__all__ = [
    "check_ac_class_loss",
    "check_boundary_distance",
    "check_cycle_loss",
    "check_d_star",
    "check_equilibrium_value",
    "check_fid",
    "check_g_loss",
    "check_game",
    "check_gradient_penalty",
    "check_identity_loss",
    "check_modulation",
    "check_payback",
    "check_projection_score",
    "check_reconstruction_loss",
    "check_roc_auc",
    "check_smooth_targets",
    "check_threshold",
    "check_fanogan_score",
    "check_nn_distance",
    "check_to_bytes",
    "check_truncation",
    "check_unscale",
    "solution",
]

Say = Callable[[str], Any]
NOT_ATTEMPTED = "not attempted yet: replace None with your value and run the cell again"
NOT_WRITTEN = (
    "not attempted yet: {name} still raises NotImplementedError; write your code in its place "
    "and run the cell again"
)


class _NotYet(Exception):
    """An answer that cannot even be compared (wrong type, raised); its message is the hint."""


class _NotAttempted(Exception):
    """The learner's function is still the notebook's stub: it raises NotImplementedError."""


def _call(fn: Any, name: str, *args: Any) -> Any:
    """``fn(*args)``, with a one-line hint instead of a traceback when it cannot be called."""
    if not callable(fn):
        raise _NotYet(f"{name} should be a function, got {type(fn).__name__}")
    try:
        return fn(*args)
    except NotImplementedError:  # the stub, untouched
        raise _NotAttempted(name) from None
    except Exception as e:  # the learner's code: any error becomes feedback
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise _NotYet(f"{name} raised {type(e).__name__}: {first_line}") from None


def _stub_is_not_attempted(check: Callable[..., bool | None]) -> Callable[..., bool | None]:
    """A checker whose learner's function raises NotImplementedError (the notebook's stub) says
    :data:`NOT_WRITTEN` and returns None, as for an answer that is still None."""
    signature = inspect.signature(check)

    @functools.wraps(check)
    def checked(*args: Any, **kwargs: Any) -> bool | None:
        try:
            return check(*args, **kwargs)
        except _NotAttempted as e:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            bound.arguments["say"](NOT_WRITTEN.format(name=e.args[0]))
            return None

    return checked


def _number(answer: Any) -> float:
    """One real number from a Python, numpy or torch scalar (or a one-element array)."""
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        size = answer.numel() if isinstance(answer, torch.Tensor) else answer.size
        if size != 1:
            raise _NotYet(f"give one number, got an array of shape {tuple(answer.shape)}")
        answer = answer.item()
    elif isinstance(answer, np.generic):
        answer = answer.item()
    if isinstance(answer, complex):
        raise _NotYet(f"your answer is complex ({answer:.6g}): take the real part (.real)")
    if isinstance(answer, (str, bytes)):
        raise _NotYet(f"give a number, not the text {answer!r}")
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise _NotYet(f"give one number, got {type(answer).__name__}") from None


def _close(value: float, target: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(value - target) <= max(rel * abs(target), abs_)


# ----------------------------------------------------------------------------- notebook 00


@_stub_is_not_attempted
def check_to_bytes(fn: Any, images: torch.Tensor, say: Say = print) -> bool | None:
    """Compare ``fn(x) -> uint8 [N, C, H, W]`` with ``gannotes.viz.to_uint8`` (NHWC there).

    ``x`` is 8 of ``images`` (``[N, C, H, W]`` in [-1, 1]) plus 8 images of the same shape
    ramping over [-1.5, 1.5], so an answer that does not clip is caught. Off by one is accepted
    (a rounding choice); larger differences get a hint on the scaling or on the clipping.
    """
    if fn is None:
        say("not attempted yet: define to_bytes and run this cell again")
        return None
    real = torch.as_tensor(images)[:8].float()
    if real.ndim != 4 or len(real) == 0:
        raise ValueError(f"images must be a batch [N, C, H, W], got shape {tuple(real.shape)}")
    ramp = torch.linspace(-1.5, 1.5, real.numel()).view(real.shape)  # also outside [-1, 1]
    x = torch.cat([real, ramp])  # [16, C, H, W]
    expected = torch.from_numpy(to_uint8(x)).permute(0, 3, 1, 2)  # [16, C, H, W]
    try:
        got = _call(fn, "to_bytes", x.clone())
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if not isinstance(got, torch.Tensor) or got.dtype != torch.uint8:
        say(
            f"not yet: return a torch.uint8 tensor (got {type(got).__name__} "
            f"{getattr(got, 'dtype', '')})"
        )
        return False
    if got.shape != x.shape:
        say(f"not yet: keep the shape {tuple(x.shape)} (got {tuple(got.shape)})")
        return False
    wrong = (got.int() - expected.int()).abs() > 1  # off by one is a rounding choice
    inside = x.abs() <= 1
    if (wrong & inside).any():
        say(
            f"not yet: {int((wrong & inside).sum())} pixels in [-1, 1] differ by more than 1; "
            "map -1 -> 0, 0 -> 128, +1 -> 255: (x + 1) / 2 * 255, rounded"
        )
        return False
    if wrong.any():
        say(
            f"not yet: {int(wrong.sum())} pixels differ by more than 1; "
            "did you clip to [-1, 1] before scaling?"
        )
        return False
    say("correct: -1 -> 0, 0 -> 128, +1 -> 255")
    return True


# ----------------------------------------------------------------------------- notebook 01


@_stub_is_not_attempted
def check_d_star(answer: Any, say: Say = print) -> bool | None:
    """Compare a number with D*(0.5) for p_data = N(0, 1), p_g = N(2, 1) (notebook 01).

    D*(x) = p_data / (p_data + p_g) = sigmoid(2 - 2x), so D*(0.5) = sigmoid(1) = 0.7311.
    """
    if answer is None:
        say(NOT_ATTEMPTED)
        return None
    x = torch.tensor([0.5], dtype=torch.float64)
    p_data = torch.distributions.Normal(0.0, 1.0).log_prob(x).exp()
    p_g = torch.distributions.Normal(2.0, 1.0).log_prob(x).exp()
    expected = optimal_discriminator(p_data, p_g).item()
    try:
        value = _number(answer)
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if abs(value - expected) < 1e-3:
        say(f"correct: D*(0.5) = {expected:.4f}; p_data is larger than p_g there")
        return True
    if abs(value - (1 - expected)) < 1e-3:
        say(
            f"not yet: {value:.4f} is 1 - D*(0.5), p_g / (p_data + p_g); "
            "D* is the probability of *real*: p_data / (p_data + p_g)"
        )
    elif not 0 <= value <= 1:
        say(f"not yet: {value:.4f} is not a probability; hint: D*(x) = sigmoid(2 - 2x)")
    else:
        say(f"not yet: {value:.4f} is not D*(0.5); hint: D*(x) = sigmoid(2 - 2x)")
    return False


@_stub_is_not_attempted
def check_g_loss(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(fake_logits [N]) -> scalar`` with ``gannotes.losses.g_nonsaturating_loss``.

    Tried on logits of size 1 and of size 100: -log(sigmoid(l)) is right for the first and
    overflows to inf for the second (sigmoid(-300) rounds to 0), which is why the package uses
    softplus. That answer gets "almost".
    """
    if fn is None:
        say("not attempted yet: define my_g_loss and run the cell again")
        return None
    gen = torch.Generator().manual_seed(1)
    for scale in (1.0, 100.0):
        logits = scale * torch.randn(256, generator=gen)  # [256]
        expected = g_nonsaturating_loss(logits)
        try:
            got = _call(fn, "my_g_loss", logits.clone())
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if not isinstance(got, torch.Tensor):
            say(f"not yet: return a torch tensor, e.g. (...).mean() (got {type(got).__name__})")
            return False
        if got.numel() != 1:
            say(
                f"not yet: return one number, the mean over the batch "
                f"(got shape {tuple(got.shape)})"
            )
            return False
        got = got.detach().reshape(())
        if not torch.isfinite(got):
            if scale == 1.0:
                say(f"not yet: your loss is {got.item()} for ordinary logits (size 1)")
            else:
                say(
                    f"almost: right for small logits? For logits of size {scale:.0f} "
                    "sigmoid(l) rounds to 0 and log(0) = -inf. That is why we use softplus."
                )
            return False
        try:
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5, check_dtype=False)
        except AssertionError:
            if scale == 1.0:
                say(
                    f"not yet: for logits of size {scale:.0f} you get {got.item():.4f}, "
                    f"expected {expected.item():.4f}; the loss is -mean(log D(G(z)))."
                )
            else:  # right on ordinary logits: a guard such as log(sigmoid(l) + eps)
                say(
                    f"almost: right for small logits, but for logits of size {scale:.0f} you get "
                    f"{got.item():.4f}, expected {expected.item():.4f}; softplus needs no guard."
                )
            return False
    say("correct, and numerically stable too")
    return True


@_stub_is_not_attempted
def check_equilibrium_value(
    answer: Any, last_loss_d: float | None = None, say: Say = print
) -> bool | None:
    """Compare a number with V(D*, G) at p_g = p_data: log(1/2) + log(1/2) = -log 4.

    ``last_loss_d``, a trained GAN's last discriminator loss (-V on a batch), is quoted next to
    the equilibrium value when given.
    """
    if answer is None:
        say(NOT_ATTEMPTED)
        return None
    expected = 2 * math.log(0.5)
    try:
        value = _number(answer)
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if abs(value - expected) < 1e-3:
        line = f"correct: V = log(1/2) + log(1/2) = -log 4 = {expected:.4f}."
        if last_loss_d is not None:
            line += (
                f" The DCGAN's last D loss was {float(last_loss_d):.3f} "
                f"(equilibrium: {-expected:.3f})."
            )
        say(line)
        return True
    if abs(value + expected) < 1e-3:
        say(f"not yet: {value:.4f} is -V, the discriminator's loss; V itself is a sum of logs")
    elif abs(value - expected / 2) < 1e-3:
        say(f"not yet: {value:.4f} is one of the two expectations; V has two terms")
    else:
        say(f"not yet: {value:.4f}; hint: E[log 1/2] + E[log(1 - 1/2)]")
    return False


# ----------------------------------------------------------------------------- notebook 02


@_stub_is_not_attempted
def check_smooth_targets(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(n, smoothing) -> [n]`` with ``gannotes.tricks.smooth_targets``."""
    if fn is None:
        say("not attempted yet: define my_smooth_targets and run the cell again")
        return None
    for n, s in ((4, 0.1), (7, 0.0), (3, 0.25)):
        want = smooth_targets(n, s)  # [n]
        try:
            got = _call(fn, "my_smooth_targets", n, s)
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if not isinstance(got, torch.Tensor):
            say(f"not yet: return a torch tensor of shape [n] (got {type(got).__name__})")
            return False
        if got.shape != want.shape or not torch.allclose(got.detach().float(), want):
            say(f"not yet: for n={n}, smoothing={s} expected {_rounded(want)}, got {_rounded(got)}")
            return False
    say(
        "correct: real targets 1 - s; and why only the reals? Smoothing the fake targets "
        "too would reward D for scoring G's samples above 0, so G would feel no pull there."
    )
    return True


def _rounded(t: torch.Tensor) -> Any:
    """A tensor as a (nested) list with 4 decimals: 0.9, not 0.8999999761581421."""
    return np.round(t.detach().double().cpu().numpy(), 4).tolist()


# ----------------------------------------------------------------------------- notebook 03


@_stub_is_not_attempted
def check_ac_class_loss(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(class_logits [N, K], labels [N]) -> scalar`` with AC-GAN's class loss L_C
    (Odena et al. 2017), ``gannotes.losses.ac_class_loss``: the cross-entropy of D's class
    *logits* with the labels, ``F.cross_entropy(logits, labels)``.

    Tried on three batches (K = 10) with logits of size 1, 5 and 50: -log(softmax) is right for
    the first two and log(0) = -inf for the last ("almost", as in :func:`check_g_loss`; so is a
    guard, log(p + eps), already off at size 5). The
    spot-the-bug mistake, a softmax before a loss that applies one itself
    (``gannotes.losses.ac_class_loss_double_softmax``), gets its own hint, as do NLL on
    probabilities or on logits, a sum over the batch, a mean over the classes too, the wrong sign
    and a softmax over the batch axis. The logits require grad: a detached loss is not right yet.
    """
    if fn is None:
        say("not attempted yet: define my_ac_class_loss and run the cell again")
        return None
    gen = torch.Generator().manual_seed(3)
    k = 10
    for n, scale in ((64, 1.0), (32, 5.0), (48, 50.0)):
        logits = scale * torch.randn(n, k, generator=gen)  # [N, K]
        labels = torch.randint(0, k, (n,), generator=gen)  # [N]
        want = ac_class_loss(logits, labels).item()
        leaf = logits.clone().requires_grad_(True)
        try:  # a non-leaf copy: in-place edits of the logits stay legal
            got = _call(fn, "my_ac_class_loss", leaf.clone(), labels.clone())
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if not isinstance(got, torch.Tensor):
            say(
                "not yet: return a torch tensor, e.g. F.cross_entropy(logits, labels) "
                f"(got {type(got).__name__})"
            )
            return False
        if got.numel() != 1:
            say(
                f"not yet: return one number, the mean over the batch "
                f"(got shape {tuple(got.shape)})"
            )
            return False
        value = float(got.detach().reshape(()))
        if not math.isfinite(value):
            if scale == 1.0:
                say(f"not yet: your loss is {value} for ordinary logits (size 1)")
            else:
                say(
                    f"almost: right for small logits? For logits of size {scale:.0f} softmax "
                    "rounds to 0 and log(0) = -inf: use F.log_softmax or F.cross_entropy, "
                    "which are stable"
                )
            return False
        if not _close(value, want, 1e-4, 1e-6):
            hint = _ac_class_hint(logits, labels, value, want)
            if hint is not None:
                say(f"not yet: {value:.4f}, expected {want:.4f}: {hint}")
            elif scale > 1.0:  # right on ordinary logits: a guard such as log(p + eps)
                say(
                    f"almost: right for small logits, but for logits of size {scale:.0f} you get "
                    f"{value:.4f}, expected {want:.4f}; F.log_softmax needs no guard"
                )
            else:
                say(
                    f"not yet: {value:.4f}, expected {want:.4f}; L_C = -mean(log softmax(logits)"
                    "[label]), which is F.cross_entropy(logits, labels)"
                )
            return False
        if not got.requires_grad:
            say(
                "not yet: the value is right but it has no gradient for D's logits, so it cannot "
                "train D: do not detach it (.item(), .detach(), torch.tensor(...))"
            )
            return False
    say(
        "correct: L_C = -E[log P(C = c | X)], the cross-entropy of D's class logits; "
        "F.cross_entropy applies the softmax itself, so D's class head ends in logits"
    )
    return True


def _ac_class_hint(logits, labels, value: float, want: float) -> str | None:
    """The mistake that explains ``value``, found by computing each mistake (None: none does)."""
    k = logits.shape[1]
    p = torch.softmax(logits, dim=1)
    floor, ceiling = math.log(1 + (k - 1) / math.e), math.log(k - 1 + math.e)
    candidates = [
        (
            "you apply a softmax before a loss that applies one itself: the loss stays between "
            f"log(1 + (K-1)/e) and log(K-1 + e) ({floor:.2f} to {ceiling:.2f} for K = {k}), a "
            "weak class signal that fades as D grows sure; give F.cross_entropy the logits",
            ac_class_loss_double_softmax(logits, labels),
        ),
        (
            "F.nll_loss takes log-probabilities, not probabilities: apply F.log_softmax, not "
            "softmax (or give the logits to F.cross_entropy)",
            F.nll_loss(p, labels),
        ),
        (
            "F.nll_loss takes log-probabilities, not logits: apply F.log_softmax first (or give "
            "the logits to F.cross_entropy)",
            F.nll_loss(logits, labels),
        ),
        (
            "average over the batch (mean), not sum",
            F.cross_entropy(logits, labels, reduction="sum"),
        ),
        (
            "the loss has the wrong sign: D minimises -log P(C = c | X), a positive number "
            f"(log K = {math.log(k):.2f} for a uniform guess)",
            torch.tensor(-want),
        ),
        (
            "average over the N samples only: a mean over all N x K entries of one_hot * "
            "log_softmax divides by K too",
            torch.tensor(want / k),
        ),
        (
            "take the softmax over the classes (dim=1), not over the batch (dim=0)",
            F.nll_loss(torch.log_softmax(logits, dim=0), labels),
        ),
    ]
    for hint, wrong in candidates:
        if _close(value, float(wrong), 1e-4, 1e-6) and not _close(float(wrong), want, 1e-6):
            return hint
    return None


@_stub_is_not_attempted
def check_projection_score(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(phi [N, F], w [F], b [], embedding [K, F], labels [N]) -> [N]`` with the
    projection discriminator's output (Miyato and Koyama 2018, Eq. 3), written out:
    ``phi @ w + b + (embedding[labels] * phi).sum(1)``, an inner product of the label's
    embedding with D's features added to the unconditional score.

    Tried on random inputs with K > N (so ``embedding[:N]`` is a wrong answer that runs) and
    with K < N. A result of the wrong shape gets the expected shape and what usually makes it
    ([N, 1], a scalar, [N, N] from broadcasting, a concatenation); a wrong value gets a hint when
    it is the unconditional score, the first N rows of the table, a label term that enters by
    concatenation (added, not multiplied with phi), or a missing w . phi or b.
    """
    if fn is None:
        say("not attempted yet: define my_projection_score and run the cell again")
        return None
    gen = torch.Generator().manual_seed(4)
    for n, f, k in ((6, 5, 10), (9, 4, 3)):
        phi = torch.randn(n, f, generator=gen)  # [N, F]
        w = torch.randn(f, generator=gen)  # [F]
        b = torch.randn((), generator=gen)  # []
        embedding = torch.randn(k, f, generator=gen)  # [K, F]
        labels = torch.randint(0, k, (n,), generator=gen)  # [N]
        want = phi @ w + b + (embedding[labels] * phi).sum(1)  # [N]
        args = (phi.clone(), w.clone(), b.clone(), embedding.clone(), labels.clone())
        try:
            got = _call(fn, "my_projection_score", *args)
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if not isinstance(got, torch.Tensor):
            say(
                f"not yet: return a torch tensor of shape [N] = ({n},), one score per sample "
                f"(got {type(got).__name__})"
            )
            return False
        if tuple(got.shape) != (n,):
            say(f"not yet: {_projection_shape_hint(tuple(got.shape), n, f)}")
            return False
        if not torch.allclose(got.detach().double(), want.double(), rtol=1e-4, atol=1e-5):
            say(f"not yet: {_projection_hint(phi, w, b, embedding, labels, got, want)}")
            return False
    say(
        "correct: D(x, y) = w . phi(x) + b + e(y) . phi(x); the label's embedding is projected "
        "on D's features, so the label changes how D reads x, not just its score"
    )
    return True


def _projection_shape_hint(shape: tuple[int, ...], n: int, f: int) -> str:
    """What a result of ``shape`` (not ``(n,)``) usually means."""
    want = f"return one score per sample, shape [N] = ({n},)"
    if math.prod(shape) == 1:
        return (
            f"{want}, not a single number (shape {shape}): sum the product over the features "
            "(dim=1), not over the whole batch"
        )
    if shape == (n, 1):
        return f"{want}, not [N, 1] = {shape}: flatten the last axis (.flatten() or .squeeze(1))"
    if shape == (n, n):
        return (
            f"{want}, not [N, N] = {shape}: a [N] plus a [N, 1] broadcasts to [N, N] (keep every "
            "term [N]), and embedding[labels] @ phi.T scores all pairs; the label term is the "
            "row-wise (embedding[labels] * phi).sum(1)"
        )
    if shape == (2 * n,) or (len(shape) == 2 and shape[0] == n and shape[1] > f):
        return (
            f"{want}, not {shape}: that is a concatenation (torch.cat); the projection adds "
            "the terms, and its label term is an inner product, (embedding[labels] * phi).sum(1)"
        )
    if shape == (n, f):
        return f"{want}, not [N, F] = {shape}: sum the product over the features (dim=1)"
    return f"{want} (got {shape})"


def _projection_hint(phi, w, b, embedding, labels, got, want) -> str:
    """The mistake that explains ``got`` (shape [N]), found by computing each mistake."""
    n = phi.shape[0]
    e = embedding[labels]  # [N, F]
    base = phi @ w + b  # [N]
    concat = (
        "the label enters by concatenation here: a linear map of [phi, e(y)] adds a term of y "
        "alone, which does not depend on x; the projection multiplies them, "
        "(embedding[labels] * phi).sum(1)"
    )
    candidates = [
        (
            "the label term is missing, so this is an unconditional D: add the inner product of "
            "the label's embedding with the features, (embedding[labels] * phi).sum(1)",
            base,
        ),
        (concat, base + e.sum(1)),
        (concat, base + e @ w),
        ("add the bias b", phi @ w + (e * phi).sum(1)),
        ("the unconditional term w . phi(x) is missing", b + (e * phi).sum(1)),
    ]
    if embedding.shape[0] >= n:
        candidates.insert(
            1,
            (
                "use the embedding of each sample's label, embedding[labels], not the first N "
                "rows of the table (embedding[:N])",
                base + (embedding[:n] * phi).sum(1),
            ),
        )
    g = got.detach().double()
    for hint, wrong in candidates:
        wrong = wrong.double()
        if torch.allclose(g, wrong, rtol=1e-4, atol=1e-5) and not torch.allclose(
            wrong, want.double(), rtol=1e-4, atol=1e-5
        ):
            return f"for N={n} expected {_rounded(want)}, got {_rounded(got)}: {hint}"
    return (
        f"for N={n} expected {_rounded(want)}, got {_rounded(got)}; "
        "D(x, y) = phi @ w + b + (embedding[labels] * phi).sum(1)"
    )


# ----------------------------------------------------------------------------- notebook 06


class _LinearCritic(torch.nn.Module):
    """f(x) = w . flatten(x): grad f = w everywhere, so lambda (|w| - 1)^2 is the penalty."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


class _QuadraticCritic(torch.nn.Module):
    """f(x) = a/2 |x|^2 per sample: grad f(x) = a x, so the slope depends on where f is asked."""

    def __init__(self, a: float):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.a * x.flatten(1).square().sum(1)


@_stub_is_not_attempted
def check_gradient_penalty(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(critic, real, fake, eps) -> scalar`` with WGAN-GP's penalty,
    ``gannotes.losses.gradient_penalty(critic, real, fake, 10.0, eps=eps)``: lambda = 10,
    x_hat = eps * real + (1 - eps) * fake with ``eps`` ``[N]``, one gradient norm per sample.

    Tried on a linear critic (slope |w| = 5 everywhere: the penalty is 10 (5 - 1)^2 = 160) and a
    quadratic one on image-shaped inputs ``[N, 1, 4, 4]`` (the slope depends on x_hat). The
    mistakes learners make get their own hint: no ``create_graph=True`` (the penalty then has
    no gradient for the critic's weights), |grad|^2 instead of (|grad| - 1)^2, a norm over the
    whole batch or over one axis instead of per sample, lambda forgotten, a sum over the batch,
    or the critic asked at the real or fake samples instead of between them.
    """
    if fn is None:
        say("not attempted yet: define my_gradient_penalty and run the cell again")
        return None
    gen = torch.Generator().manual_seed(6)
    cases = [
        (_LinearCritic(torch.tensor([3.0, 4.0])), (8, 2)),
        (_QuadraticCritic(0.7), (6, 1, 4, 4)),
    ]
    for critic, shape in cases:
        real, fake = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
        eps = torch.rand(shape[0], generator=gen)
        expected = gradient_penalty(critic, real, fake, 10.0, eps=eps)
        try:
            got = _call(fn, "my_gradient_penalty", critic, real.clone(), fake.clone(), eps.clone())
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            what = (
                f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
            )
            say(f"not yet: return one number as a tensor, the mean over the batch (got {what})")
            return False
        got = got.reshape(())
        if not got.requires_grad:
            say(
                "not yet: your penalty has no gradient for the critic's weights, so it cannot "
                "train the critic: pass create_graph=True to torch.autograd.grad"
            )
            return False
        value, want = got.item(), expected.item()
        if not _close(value, want, 1e-4, 1e-6):
            say(f"not yet: {_gp_hint(critic, real, fake, eps, value, want)}")
            return False
        params = list(critic.parameters())
        (g_got,) = torch.autograd.grad(got, params)
        (g_want,) = torch.autograd.grad(expected, params)
        if not torch.allclose(g_got, g_want, rtol=1e-4, atol=1e-6):
            say(
                "not yet: the value is right but its gradient for the critic's weights is not: "
                "compute the gradient with create_graph=True and do not detach it"
            )
            return False
    say(
        "correct: lambda E[(|grad f(x_hat)| - 1)^2], one norm per sample, differentiable in "
        "the critic's weights (a double backward)"
    )
    return True


def _gp_hint(critic, real, fake, eps, value: float, want: float) -> str:
    """The mistake that explains ``value``, found by computing each mistake."""
    n = real.shape[0]
    e = eps.reshape(n, *([1] * (real.ndim - 1)))

    def grads_at(x):
        x = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        return g.detach()

    g = grads_at(e * real + (1 - e) * fake)
    per_sample = g.flatten(1).norm(dim=1)
    candidates = {
        "penalise (|grad| - 1)^2, not |grad|^2": 10 * per_sample.square().mean(),
        "penalise (|grad| - 1)^2: the square of the norm minus 1, not of |grad|^2 - 1": 10
        * (per_sample.square() - 1).square().mean(),
        "take one gradient norm per sample (flatten each sample, norm over dim 1), not one "
        "norm of the whole batch": 10 * (g.norm() - 1) ** 2,
        "multiply by lambda = 10": (per_sample - 1).square().mean(),
        "average over the batch (mean), not sum": 10 * (per_sample - 1).square().sum(),
        "ask the critic between the samples, at x_hat = eps * real + (1 - eps) * fake, not at "
        "the real ones": 10 * (grads_at(real).flatten(1).norm(dim=1) - 1).square().mean(),
        "ask the critic between the samples, at x_hat = eps * real + (1 - eps) * fake, not at "
        "the fake ones": 10 * (grads_at(fake).flatten(1).norm(dim=1) - 1).square().mean(),
        "mix with eps on the real samples: x_hat = eps * real + (1 - eps) * fake": 10
        * (grads_at((1 - e) * real + e * fake).flatten(1).norm(dim=1) - 1).square().mean(),
    }
    if g.ndim > 2:
        candidates[
            "flatten each sample before its norm: an image's gradient is [1, H, W], one norm "
            "over all its pixels"
        ] = 10 * (g.norm(dim=1) - 1).square().mean()
    for hint, wrong in candidates.items():
        if _close(value, float(wrong), 1e-4, 1e-6) and not _close(float(wrong), want, 1e-6):
            return f"{value:.6g}, expected {want:.6g}: {hint}"
    return f"{value:.6g}, expected {want:.6g}; lambda E[(|grad f(x_hat)| - 1)^2] with lambda = 10"


# ----------------------------------------------------------------------------- notebook 07


@_stub_is_not_attempted
def check_fid(answer: Any, real_features: Any, fake_features: Any, say: Say = print) -> bool | None:
    """Compare a number with ``gannotes.metrics.frechet_distance(real_features, fake_features)``.

    Features ``[N, D]``. The answer may also be a function ``fn(real_features, fake_features)``
    (``solution("fid")``), whose value is then checked. Right within 1e-5 relative (1e-4 absolute near 0): a numpy answer
    (``np.cov``, ``eigvals``, float64) agrees to about 1e-6 on notebook 07's features; the biased
    covariance (divided by N, not N - 1) is 2.5e-4 to 5e-4 off there, so a tolerance of 1e-3 would
    accept it. It gets its own hint, as does forgetting the square roots.
    """
    if answer is None:
        say(NOT_ATTEMPTED)
        return None
    expected = frechet_distance(real_features, fake_features)
    tol = max(1e-5 * expected, 1e-4)
    try:
        if callable(answer):
            answer = _call(answer, "my_fid", real_features, fake_features)
        value = _number(answer)
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if abs(value - expected) <= tol:
        say(f"correct: FID = {expected:.2f}, the same as gannotes.metrics")
        return True
    mu_r, s_r = feature_statistics(real_features)
    mu_f, s_f = feature_statistics(fake_features)
    n_r, n_f = len(real_features), len(fake_features)
    biased = frechet_distance_from_statistics(
        mu_r, s_r * (n_r - 1) / n_r, mu_f, s_f * (n_f - 1) / n_f
    )
    diff = mu_r - mu_f
    no_sqrt = float(diff @ diff + s_r.trace() + s_f.trace() - 2 * (s_r @ s_f).trace())
    if _close(value, biased, 1e-5, tol):
        say(
            f"not yet: {value:.6g} is the FID with the biased covariance (divided by N); "
            f"np.cov's default divides by N - 1, which gives {expected:.6g}"
        )
    elif _close(value, no_sqrt, 1e-5, tol):
        say(
            f"not yet: {value:.6g}, expected {expected:.6g}: take the *square roots* of the "
            "eigenvalues of Σ_a Σ_b before summing them"
        )
    else:
        say(
            f"not yet: {value:.6g}, expected {expected:.6g}. Did you use the "
            "unbiased covariance (np.cov) and the *square roots* of the eigenvalues?"
        )
    return False


@_stub_is_not_attempted
def check_game(game: Any, say: Say = print, deck: RealOrFakeGame | None = None) -> bool | None:
    """Report a finished real-or-fake game against chance: True if better (p < 0.05).

    ``game`` is a :class:`gannotes.quality.RealOrFakeGame` or the widget of
    ``real_or_fake_widget`` (its ``.game``). An unfinished game gives None. ``game`` may also be
    a scripted player, ``player(image) -> said_real`` (``solution("game")``): it then plays the
    rest of ``deck``, a ``RealOrFakeGame``, and that game is reported.
    """
    if game is None:
        say("not attempted yet: pass the game widget and run the cell again")
        return None
    played = getattr(game, "game", game)
    if callable(played) and not isinstance(played, RealOrFakeGame):
        if deck is None:
            say(
                "nothing to check: a player needs a deck to play, "
                "check_game(player, deck=RealOrFakeGame(real, fake))"
            )
            return None
        if not isinstance(deck, RealOrFakeGame):
            raise ValueError(f"deck must be a RealOrFakeGame, got {type(deck).__name__}")
        try:
            deck.play(lambda image: _call(played, "my_player", image))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        played = deck
    if not isinstance(played, RealOrFakeGame):
        say(
            "nothing to check: pass the widget of real_or_fake_widget(...) or a RealOrFakeGame "
            f"(got {type(game).__name__})"
        )
        return None
    if not played.finished:
        say(f"not finished: {played.position} of {len(played)} answered so far")
        return None
    say(played.summary())
    return bool(played.p_value() < 0.05)


# ----------------------------------------------------------------------------- notebook 04


def _two_generators() -> tuple[Callable, Callable]:
    """Two fixed, different maps of images (stand-ins for G: A -> B and F: B -> A)."""
    return (lambda x: torch.tanh(1.5 * x + 0.3)), (lambda x: torch.tanh(0.6 * x - 0.2))


def _translation_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(6, 1, 28, 28, generator=gen) * 2 - 1  # [N, 1, 28, 28]
    b = torch.rand(6, 1, 28, 28, generator=gen) * 2 - 1
    return a, b


def _check_pair_loss(fn, name, want_fn, wrongs, right, say) -> bool | None:
    """Shared checker: ``fn(G, F, a, b)`` against ``want_fn`` on two batches, with hints for
    the ``wrongs`` (name -> a function of (G, F, a, b) that makes the mistake)."""
    if fn is None:
        say(f"not attempted yet: define {name} and run the cell again")
        return None
    G, F = _two_generators()
    for seed in (0, 1):
        a, b = _translation_batch(seed)
        want = float(want_fn(G, F, a, b))
        try:
            got = _number(_call(fn, name, G, F, a.clone(), b.clone()))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        except (TypeError, ValueError):
            say(f"not yet: {name} should return one number (a scalar tensor), the mean loss")
            return False
        if not _close(got, want, 1e-4, 1e-6):
            for hint, wrong in wrongs.items():
                if _close(got, float(wrong(G, F, a, b)), 1e-4, 1e-6):
                    say(f"not yet: {hint}")
                    return False
            say(f"not yet: got {got:.5g}, expected {want:.5g}; {right}")
            return False
    say(f"correct: {right}")
    return True


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().mean()


@_stub_is_not_attempted
def check_cycle_loss(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(G, F, a, b) -> scalar`` with CycleGAN's L_cyc (Zhu et al. 2017, Eq. 2):
    ``mean|F(G(a)) - a| + mean|G(F(b)) - b|``.

    G and F are two fixed, different functions, so a term with the generators swapped, a
    round trip compared with the wrong domain, one direction only, a squared error, a sum over
    pixels instead of the mean, or a missing absolute value each give a different number, and
    each gets its own hint.
    """
    wrongs = {
        "only the forward cycle a -> G -> F -> a: add the backward one, b -> F -> G -> b": (
            lambda G, F, a, b: _l1(F(G(a)), a)
        ),
        "only the backward cycle: add the forward one, a -> G -> F -> a": (
            lambda G, F, a, b: _l1(G(F(b)), b)
        ),
        "the cycle goes through both generators: F(G(a)), not G(G(a)) or F(F(a))": (
            lambda G, F, a, b: _l1(G(G(a)), a) + _l1(F(F(b)), b)
        ),
        "compare the round trip with where it started: F(G(a)) with a, not with b": (
            lambda G, F, a, b: _l1(F(G(a)), b) + _l1(G(F(b)), a)
        ),
        "that is a squared error (L2); the paper's cycle loss is L1, the mean absolute error": (
            lambda G, F, a, b: ((F(G(a)) - a) ** 2).mean() + ((G(F(b)) - b) ** 2).mean()
        ),
        "take the mean over pixels and images, not the sum": (
            lambda G, F, a, b: (F(G(a)) - a).abs().sum() + (G(F(b)) - b).abs().sum()
        ),
        "take the absolute value before the mean (.abs()): differences of both signs cancel": (
            lambda G, F, a, b: (F(G(a)) - a).mean() + (G(F(b)) - b).mean()
        ),
        "apply G to a first: the forward cycle is F(G(a)), G: A -> B then F: B -> A": (
            lambda G, F, a, b: _l1(G(F(a)), a) + _l1(F(G(b)), b)
        ),
    }
    return _check_pair_loss(
        fn,
        "my_cycle_loss",
        lambda G, F, a, b: _l1(F(G(a)), a) + _l1(G(F(b)), b),
        wrongs,
        "L_cyc = mean|F(G(a)) - a| + mean|G(F(b)) - b|: each image must survive the round trip",
        say,
    )


@_stub_is_not_attempted
def check_identity_loss(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(G, F, a, b) -> scalar`` with CycleGAN's identity loss (Sec. 5.2):
    ``mean|G(b) - b| + mean|F(a) - a|``: a generator given an image of the domain it *makes*
    should return it unchanged.

    The usual mistake is to feed each generator its own input domain (G(a) vs a: that asks the
    translation to do nothing), or to compare with the other domain; each gets a hint.
    """
    wrongs = {
        "G maps A to B: G(a) compared with a asks the translation itself to change nothing. "
        "Give G an image it would *output*, b, and expect it back: mean|G(b) - b|": (
            lambda G, F, a, b: _l1(G(a), a) + _l1(F(b), b)
        ),
        "G(b) should return b itself, not a (there are no pairs: a and b are unrelated)": (
            lambda G, F, a, b: _l1(G(b), a) + _l1(F(a), b)
        ),
        "only G's term: add F's, mean|F(a) - a|": (lambda G, F, a, b: _l1(G(b), b)),
        "only F's term: add G's, mean|G(b) - b|": (lambda G, F, a, b: _l1(F(a), a)),
        "that is a squared error; the identity loss is L1 like the cycle loss": (
            lambda G, F, a, b: ((G(b) - b) ** 2).mean() + ((F(a) - a) ** 2).mean()
        ),
        "the identity term has no round trip: G(b) vs b, not G(F(b)) vs b (that is the cycle)": (
            lambda G, F, a, b: _l1(G(F(b)), b) + _l1(F(G(a)), a)
        ),
    }
    return _check_pair_loss(
        fn,
        "my_identity_loss",
        lambda G, F, a, b: _l1(G(b), b) + _l1(F(a), a),
        wrongs,
        "L_identity = mean|G(b) - b| + mean|F(a) - a|: each generator leaves its own output "
        "domain alone",
        say,
    )


# ----------------------------------------------------------------------------- notebook 05


def _tensor_answer(got: Any, name: str, shape: tuple) -> torch.Tensor:
    """The learner's tensor, or a one-line hint when it is not one of ``shape``."""
    if not isinstance(got, torch.Tensor):
        raise _NotYet(f"{name} should return a tensor, got {type(got).__name__}")
    if tuple(got.shape) != shape:
        raise _NotYet(f"{name} should return shape {shape}, got {tuple(got.shape)}")
    return got.detach().double()


@_stub_is_not_attempted
def check_modulation(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(weight, styles) -> per-sample weights`` with StyleGAN2's modulation and
    demodulation (Karras et al. 2020, Eq. 1 and 3), ``gannotes.models.stylegan.
    modulate_demodulate``: ``weight`` ``[O, I, k, k]``, ``styles`` ``[N, I]`` ->
    ``[N, O, I, k, k]``, ``w'_ijk = s_i w_ijk``, then each output channel j divided by
    ``sqrt(sum_{i,k} w'_ijk^2 + 1e-8)``.

    The usual mistakes get their own hint: the style scaling the output channels instead of the
    input channels, no demodulation, normalising over the wrong axes (over all of a sample's
    weights, or per input channel), dividing by the sum of squares instead of its square root.
    """
    from .models.stylegan import modulate_demodulate

    if fn is None:
        say("not attempted yet: define my_modulate_demodulate and run the cell again")
        return None
    gen = torch.Generator().manual_seed(5)
    weight = torch.randn(3, 3, 3, 3, generator=gen)  # as many outputs as inputs: a style on
    styles = torch.rand(2, 3, generator=gen) * 2 + 0.2  # the wrong axis still runs
    want = modulate_demodulate(weight, styles).double()
    mod = weight[None] * styles[:, None, :, None, None]

    def norm(x, dims):
        return x * torch.rsqrt(x.square().sum(dim=dims, keepdim=True) + 1e-8)

    wrongs = {
        "the style scales the *input* channels: s has one value per input channel i, "
        "w'_ijk = s_i w_ijk (weight[None] * s[:, None, :, None, None])": norm(
            weight[None] * styles[:, :, None, None, None], (2, 3, 4)
        ),
        "that is the modulation alone: now demodulate, dividing each output channel j by "
        "sqrt(sum over i and k of w'_ijk^2)": mod,
        "demodulate each output channel on its own: the sum runs over the input channels and "
        "the kernel (dims 2, 3, 4 of [N, O, I, k, k]), not over all of a sample's weights": norm(
            mod, (1, 2, 3, 4)
        ),
        "the sum runs over the input channels *and* the kernel (dims 2, 3, 4), so that each "
        "output channel has unit norm": norm(mod, (3, 4)),
        "divide by the square root of the sum of squares (the L2 norm), not by the sum": mod
        / (mod.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8),
    }
    try:
        got = _tensor_answer(
            _call(fn, "my_modulate_demodulate", weight.clone(), styles.clone()),
            "my_modulate_demodulate",
            tuple(want.shape),
        )
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if torch.allclose(got, want, rtol=1e-4, atol=1e-6):
        say(
            "correct: modulation scales each input channel by its style, demodulation gives each "
            "output channel unit norm, so unit-variance inputs give unit-variance outputs"
        )
        return True
    for hint, wrong in wrongs.items():
        if torch.allclose(got, wrong.double(), rtol=1e-4, atol=1e-6):
            say(f"not yet: {hint}")
            return False
    say(
        "not yet: w'_ijk = s_i w_ijk, then w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + 1e-8); "
        "compare with your result on a small example"
    )
    return False


@_stub_is_not_attempted
def check_truncation(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(w, w_avg, psi) -> w'`` with the truncation trick in W (StyleGAN Sec. 2.1):
    ``w' = w_avg + psi (w - w_avg)``, for ``w`` ``[N, D]``, ``w_avg`` ``[D]``.

    Hints for: psi and 1 - psi swapped (psi = 1 must leave w alone), pulling towards 0 instead of
    the average (``psi * w``), and moving away from the average (``w + psi (w - w_avg)``).
    """
    if fn is None:
        say("not attempted yet: define my_truncate and run the cell again")
        return None
    gen = torch.Generator().manual_seed(7)
    w, w_avg = torch.randn(5, 6, generator=gen), torch.randn(6, generator=gen)
    for psi in (0.7, 0.3, 1.0, 0.0):
        want = (w_avg + psi * (w - w_avg)).double()
        try:
            got = _tensor_answer(
                _call(fn, "my_truncate", w.clone(), w_avg.clone(), psi), "my_truncate", (5, 6)
            )
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if torch.allclose(got, want, rtol=1e-5, atol=1e-6):
            continue
        wrongs = {
            "psi = 1 must leave w unchanged and psi = 0 give w_avg: w_avg + psi (w - w_avg), "
            "not w_avg + (1 - psi)(w - w_avg)": w_avg + (1 - psi) * (w - w_avg),
            "truncation pulls w towards the *average* w, not towards 0: w_avg + psi (w - w_avg)": (
                psi * w
            ),
            "that moves w away from the average; pull it in: w_avg + psi (w - w_avg)": w
            + psi * (w - w_avg),
        }
        for hint, wrong in wrongs.items():
            if torch.allclose(got, wrong.double(), rtol=1e-5, atol=1e-6):
                say(f"not yet: {hint}")
                return False
        say(f"not yet: at psi = {psi} expected w_avg + psi (w - w_avg); got something else")
        return False
    say(
        "correct: w' = w_avg + psi (w - w_avg); psi = 1 keeps w, psi = 0 gives the average image, "
        "in between trades variety for typicality"
    )
    return True


# ----------------------------------------------------------------------------- notebook 08


@_stub_is_not_attempted
def check_unscale(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(scaled_grads, scale) -> (grads, found_inf)`` with what the fp16 gradient
    scaler does before an optimizer steps (``GradScaler.unscale_``): every gradient divided by
    ``scale``, and ``found_inf`` True when any of them holds an inf *or a NaN* (the step is then
    skipped and the scale halved).

    Hints for: multiplying by the scale, missing NaN (``isinf`` alone), and not flagging at all.
    """
    if fn is None:
        say("not attempted yet: define my_unscale and run the cell again")
        return None
    gen = torch.Generator().manual_seed(8)
    scale = 1024.0
    cases = [
        ([torch.randn(3, 4, generator=gen) * scale, torch.randn(5, generator=gen) * scale], False),
        ([torch.randn(3, 4, generator=gen), torch.tensor([1.0, float("inf")])], True),
        ([torch.tensor([float("nan"), 2.0]), torch.randn(2, generator=gen)], True),
    ]
    for grads, has_inf in cases:
        try:
            out = _call(fn, "my_unscale", [g.clone() for g in grads], scale)
            flag = out[1] if isinstance(out, tuple | list) and len(out) == 2 else None
            if flag is None or (
                isinstance(flag, torch.Tensor | np.ndarray | list | tuple) and np.size(flag) != 1
            ):
                raise _NotYet("return two things: (list of unscaled gradients, found_inf)")
            got, found = out
            got = [torch.as_tensor(g, dtype=torch.float32) for g in got]
            if len(got) != len(grads) or any(
                a.shape != b.shape for a, b in zip(got, grads, strict=True)
            ):
                raise _NotYet("return one unscaled gradient per gradient, of the same shape")
            found = bool(found)
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        except (TypeError, ValueError, RuntimeError) as e:
            say(f"not yet: found_inf should be True or False ({type(e).__name__})")
            return False
        if not has_inf:
            if all(torch.allclose(a, b * scale) for a, b in zip(got, grads, strict=True)):
                say("not yet: the scaled gradients are scale times too big: divide by the scale")
                return False
            if not all(torch.allclose(a, b / scale) for a, b in zip(got, grads, strict=True)):
                say("not yet: each gradient is the scaled one divided by the scale")
                return False
        if found != has_inf:
            if has_inf and torch.isnan(torch.cat([g.reshape(-1) for g in grads])).any():
                say(
                    "not yet: a NaN must skip the step too: torch.isinf misses it; use "
                    "~torch.isfinite(g).all()"
                )
            elif has_inf:
                say("not yet: a gradient holds inf: found_inf must be True (the step is skipped)")
            else:
                say("not yet: these gradients are all finite: found_inf must be False")
            return False
    say(
        "correct: divide by the scale, and skip the step (halving the scale) when any gradient "
        "is not finite: that is GradScaler.unscale_ and step"
    )
    return True


@_stub_is_not_attempted
def check_payback(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(compile_s, eager_step_s, compiled_step_s) -> steps`` with the number of steps
    after which compiling pays back: the one-off compile time over the time saved per step,
    ``compile_s / (eager_step_s - compiled_step_s)``, and ``math.inf`` when the compiled step
    is not faster (it never pays back).

    Hints for: a negative count instead of inf, the saving inverted, dividing by the compiled
    step's time (how many compiled steps the compile time would buy).
    """
    if fn is None:
        say("not attempted yet: define my_payback and run the cell again")
        return None
    for compile_s, eager, compiled in ((30.0, 0.05, 0.03), (12.0, 0.2, 0.05), (30.0, 0.05, 0.06)):
        want = compile_s / (eager - compiled) if eager > compiled else math.inf
        try:
            got = _number(_call(fn, "my_payback", compile_s, eager, compiled))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if math.isinf(want) and math.isinf(got) and got > 0:
            continue
        if not math.isinf(want) and _close(got, want, 1e-6):
            continue
        if math.isinf(want):
            say(
                "not yet: when the compiled step is slower, compiling never pays back: "
                "return math.inf"
            )
        elif _close(got, compile_s / compiled, 1e-6):
            say(
                "not yet: that is how many compiled steps the compile time would run; "
                "divide by the time *saved* per step"
            )
        elif _close(got, (eager - compiled) / compile_s, 1e-6):
            say("not yet: upside down: compile time over the saving per step")
        else:
            say("not yet: the compile time is paid once; each step saves eager - compiled")
        return False
    say(
        "correct: compile_s / (eager - compiled) steps, and never when compiled is not faster; "
        "a run shorter than that is faster without compiling"
    )
    return True


# ----------------------------------------------------------------------------- notebook 09


def _pairwise_auc(members: list[float], nonmembers: list[float]) -> float:
    """The definition: the share of (member, non-member) pairs the score orders correctly,
    a tie counting one half."""
    wins = sum((m > n) + 0.5 * (m == n) for m in members for n in nonmembers)
    return wins / (len(members) * len(nonmembers))


@_stub_is_not_attempted
def check_roc_auc(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(member_scores, nonmember_scores) -> AUC`` (1-D tensors) with the ROC AUC: the
    probability that a random member scores above a random non-member, a tie counting 1/2.

    Hints for: the two groups swapped (1 - AUC), ties counted as wins or as losses, a count of
    pairs not divided by the number of pairs.
    """
    if fn is None:
        say("not attempted yet: define my_roc_auc and run the cell again")
        return None
    cases = [
        ([3.0, 2.0, 1.0], [0.0, -1.0]),
        ([0.0, -1.0], [3.0, 2.0, 1.0]),
        ([1.0, 1.0], [1.0, 1.0, 1.0]),
        ([0.1, 0.5, 0.5, 0.9, 0.7], [0.5, 0.2, 0.7, 0.05]),
    ]
    for members, nonmembers in cases:
        want = _pairwise_auc(members, nonmembers)
        m, n = torch.tensor(members), torch.tensor(nonmembers)
        try:
            got = _number(_call(fn, "my_roc_auc", m, n))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if _close(got, want, 1e-6, 1e-9):
            continue
        pairs = len(members) * len(nonmembers)
        wins = sum(a > b for a in members for b in nonmembers)
        ties = sum(a == b for a in members for b in nonmembers)
        if _close(got, 1 - want, 1e-6, 1e-9):
            say("not yet: that is 1 - AUC: count the pairs where the *member* scores higher")
        elif ties and (
            _close(got, wins / pairs, 1e-6, 1e-9) or _close(got, (wins + ties) / pairs, 1e-6, 1e-9)
        ):
            say("almost: a tie says nothing about membership: count it as one half")
        elif got > 1 or got < 0:
            say(f"not yet: an AUC is a probability; divide by the number of pairs ({pairs} here)")
        else:
            say(
                "not yet: compare every member's score with every non-member's: "
                "(m[:, None] > n[None, :]) gives the pairs"
            )
        return False
    say(
        "correct: the AUC is the chance that the attack ranks a random member above a random "
        "non-member; 0.5 is guessing, 1 is a perfect attack"
    )
    return True


@_stub_is_not_attempted
def check_threshold(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(fpr) -> t`` with the watermark detector's threshold: the t at which
    Hoeffding's bound exp(-t^2 / 2) equals ``fpr``, ``sqrt(2 ln(1 / fpr))``.

    Hints for: the normal quantile (an approximation, not a bound), a missing square root, a
    missing factor 2, log base 10.
    """
    if fn is None:
        say("not attempted yet: define my_threshold and run the cell again")
        return None
    from statistics import NormalDist

    for fpr in (1e-3, 0.01, 0.05):
        want = math.sqrt(2 * math.log(1 / fpr))
        try:
            got = _number(_call(fn, "my_threshold", fpr))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if _close(got, want, 1e-6):
            continue
        if _close(got, NormalDist().inv_cdf(1 - fpr), 1e-4):
            say(
                "almost: that is the normal distribution's threshold, an approximation; the "
                "bound that holds for every image is Hoeffding's, exp(-t^2 / 2) = fpr"
            )
        elif _close(got, want**2, 1e-6):
            say("not yet: solve exp(-t^2 / 2) = fpr for t: take the square root at the end")
        elif _close(got, math.sqrt(math.log(1 / fpr)), 1e-6):
            say("not yet: the exponent is t^2 / 2: t^2 = 2 ln(1 / fpr)")
        elif _close(got, math.sqrt(2 * math.log10(1 / fpr)), 1e-6):
            say("not yet: exp goes with the natural logarithm (math.log), not log10")
        else:
            say("not yet: solve exp(-t^2 / 2) = fpr for t")
        return False
    say(
        "correct: t = sqrt(2 ln(1/fpr)); an image without the mark scores above it with "
        "probability at most fpr, whatever the image shows"
    )
    return True


# ----------------------------------------------------------------------------- notebook 10


class _TinyFeatures(torch.nn.Module):
    """A stand-in for the course's classifier, seeded: images -> (features [N, 6], logits [N, 10])."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(28 * 28, 6, generator=g) / 28
        self.head = torch.randn(6, 10, generator=g)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.tanh(x.flatten(1) @ self.w)
        return f, f @ self.head


@_stub_is_not_attempted
def check_reconstruction_loss(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(x, target, net, feature_weight) -> losses [N]`` with the loss an inversion
    minimises (Image2StyleGAN's, with the course's classifier as the perceptual network): per
    image, the mean squared pixel error plus ``feature_weight`` times the mean squared distance
    between ``net``'s features (``net(images)[0]``) of ``x`` and of ``target``. The oracle is
    ``gannotes.inversion.pixel_loss`` and ``feature_loss``.

    Hints for: one number for the batch, sums instead of means, the logits (``net(x)[1]``) in
    place of the features, the weight left out or on the pixel term, a root (RMS, a norm).
    """
    if fn is None:
        say("not attempted yet: define my_reconstruction_loss and run the cell again")
        return None
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g) * 2 - 1
    target = torch.rand(4, 1, 28, 28, generator=g) * 2 - 1
    net = _TinyFeatures()
    with torch.no_grad():
        f_x, l_x = net(x)
        f_t, l_t = net(target)
        pixel = pixel_loss(x, target).double()
        feature = feature_loss(x, f_t, net).double()
    for weight in (0.1, 2.0):
        want = pixel + weight * feature
        try:
            got = _call(fn, "my_reconstruction_loss", x, target, net, weight)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                raise _NotYet("one loss per image, not one for the batch: return shape (4,)")
            got = _tensor_answer(got, "my_reconstruction_loss", (4,))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if torch.allclose(got, want, rtol=1e-5, atol=1e-8):
            continue
        d_pix = (x - target).double().flatten(1)
        d_feat = (f_x - f_t).double()
        d_logit = (l_x - l_t).double()
        sums = d_pix.square().sum(1) + weight * d_feat.square().sum(1)
        logits = pixel + weight * d_logit.square().mean(1)
        roots = d_pix.square().mean(1).sqrt() + weight * d_feat.square().mean(1).sqrt()
        norms = d_pix.norm(dim=1) + weight * d_feat.norm(dim=1)
        if torch.allclose(got, sums, rtol=1e-5):
            say("not yet: average the squared errors over pixels and over features, not sum")
        elif torch.allclose(got, logits, rtol=1e-5):
            say("almost: net(x) gives (features, logits); compare the features, net(x)[0]")
        elif any(
            torch.allclose(got, other, rtol=1e-5)
            for other in (pixel + feature, weight * pixel + feature, pixel)
        ):
            say("almost: feature_weight weighs the feature term only: pixel + weight * feature")
        elif torch.allclose(got, roots, rtol=1e-5) or torch.allclose(got, norms, rtol=1e-5):
            say("not yet: the squared errors, averaged; no square root")
        else:
            say(
                "not yet: per image, mean((x - target)^2) + feature_weight * "
                "mean((net(x)[0] - net(target)[0])^2)"
            )
        return False
    say(
        "correct: pixels alone reward a blurry average; the classifier's features ask that the "
        "reconstruction look like the same kind of garment"
    )
    return True


@_stub_is_not_attempted
def check_boundary_distance(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(latents, weight, bias) -> distances [N]`` with the signed distance of each
    latent to InterFaceGAN's boundary ``weight . latent + bias = 0`` (positive on the class's
    side), each latent flattened (a W+ latent ``[num_ws, w_dim]`` is one point): the oracle is
    ``gannotes.editing.Boundary.distance`` with the unit normal ``weight / |weight|``.

    Hints for: the logit (not divided by ``|weight|``), an unsigned distance, the sign flipped,
    the bias left out, W+ latents not flattened.
    """
    if fn is None:
        say("not attempted yet: define my_boundary_distance and run the cell again")
        return None
    g = torch.Generator().manual_seed(2)
    cases = [(torch.randn(5, 4, generator=g), torch.randn(4, generator=g) * 3, 0.7)]
    cases.append((torch.randn(3, 2, 4, generator=g), torch.randn(8, generator=g) * 2, -1.5))
    for k, (latents, weight, bias) in enumerate(cases):
        norm = weight.norm()
        want = Boundary(weight / norm, float(bias / norm), 0.0).distance(latents).double()
        try:
            got = _call(fn, "my_boundary_distance", latents, weight, bias)
            got = _tensor_answer(got, "my_boundary_distance", (len(latents),))
        except _NotYet as e:
            hint = " (a W+ latent [N, 2, 4]: flatten each, latents.flatten(1))" if k else ""
            say(f"not yet: {e}{hint}")
            return False
        if torch.allclose(got, want, rtol=1e-5, atol=1e-6):
            continue
        logit = (latents.flatten(1) @ weight + bias).double()
        if torch.allclose(got, logit, rtol=1e-5):
            say("almost: that is the logit w.z + b; divide by |w| for a distance")
        elif torch.allclose(got, want.abs(), rtol=1e-5, atol=1e-6):
            say("almost: keep the sign: positive on the class's side, negative on the other")
        elif torch.allclose(got, -want, rtol=1e-5, atol=1e-6):
            say("not yet: the sign is flipped: the class's side (w.z + b > 0) is positive")
        elif torch.allclose(got, (latents.flatten(1) @ weight).double() / norm, rtol=1e-5):
            say("not yet: the bias moves the boundary: (w.z + b) / |w|")
        else:
            say("not yet: the signed distance to w.z + b = 0 is (w.z + b) / |w|")
        return False
    say(
        "correct: (w.z + b) / |w|; walking a distance d along the unit normal w / |w| changes "
        "it by exactly d, which is how InterFaceGAN sets an edit's strength"
    )
    return True


# ----------------------------------------------------------------------------- notebook 11


def _score_context(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(5, 1, 28, 28, generator=g) * 2 - 1
    rec = torch.rand(5, 1, 28, 28, generator=g) * 2 - 1
    f_x, f_rec = torch.randn(5, 12, generator=g), torch.randn(5, 12, generator=g)
    return x, rec, f_x, f_rec


@_stub_is_not_attempted
def check_fanogan_score(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(x, rec, f_x, f_rec, kappa) -> scores [N]`` with f-AnoGAN's anomaly score
    (Schlegl et al. 2019, eq. 10): the mean squared pixel residual of each image plus kappa
    times the mean squared residual of D's features.

    Hints for: one number for the batch, sums instead of means, absolute values (AnoGAN's L1),
    kappa left out or on the wrong term.
    """
    if fn is None:
        say("not attempted yet: define my_fanogan_score and run the cell again")
        return None
    x, rec, f_x, f_rec = _score_context()
    pixel = (x - rec).pow(2).flatten(1).mean(1).double()
    feature = (f_x - f_rec).pow(2).mean(1).double()
    for kappa in (1.0, 0.5):
        want = pixel + kappa * feature
        try:
            got = _call(fn, "my_fanogan_score", x, rec, f_x, f_rec, kappa)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                raise _NotYet("one score per image, not one for the batch: return shape (5,)")
            got = _tensor_answer(got, "my_fanogan_score", (5,))
        except _NotYet as e:
            say(f"not yet: {e}")
            return False
        if torch.allclose(got, want, rtol=1e-5, atol=1e-8):
            continue
        pix_sum = (x - rec).pow(2).flatten(1).sum(1).double()
        feat_sum = (f_x - f_rec).pow(2).sum(1).double()
        l1 = (x - rec).abs().flatten(1).mean(1) + kappa * (f_x - f_rec).abs().mean(1)
        if torch.allclose(got, pix_sum + kappa * feat_sum, rtol=1e-5):
            say("not yet: average over the pixels (1/n) and over the features (1/n_d), not sum")
        elif torch.allclose(got, l1.double(), rtol=1e-5):
            say("almost: that is an L1 residual (AnoGAN's); f-AnoGAN squares the residuals")
        elif torch.allclose(got, pixel + feature, rtol=1e-5) or torch.allclose(
            got, kappa * pixel + feature, rtol=1e-5
        ):
            say("almost: kappa weighs the feature residual only: pixel + kappa * feature")
        else:
            say("not yet: per image, mean((x - rec)^2) + kappa * mean((f_x - f_rec)^2)")
        return False
    say(
        "correct: an image the GAN cannot reproduce, in pixels or in what its discriminator "
        "sees, scores high"
    )
    return True


@_stub_is_not_attempted
def check_nn_distance(fn: Any, say: Say = print) -> bool | None:
    """Compare ``fn(normal, x) -> distances [N]`` (rows: flattened images) with the Euclidean
    distance from each row of ``x`` to its nearest row of ``normal``: the pixel
    nearest-neighbour baseline.

    Hints for: squared distances, the farthest instead of the nearest, the mean distance.
    """
    if fn is None:
        say("not attempted yet: define my_nn_distance and run the cell again")
        return None
    g = torch.Generator().manual_seed(1)
    normal, x = torch.randn(9, 16, generator=g), torch.randn(4, 16, generator=g)
    x[0] = normal[3]  # an image seen in training: distance 0
    d = ((x[:, None, :] - normal[None, :, :]) ** 2).sum(-1).double()  # [4, 9] squared
    want = d.min(1).values.sqrt()
    try:
        got = _tensor_answer(_call(fn, "my_nn_distance", normal, x), "my_nn_distance", (4,))
    except _NotYet as e:
        say(f"not yet: {e}")
        return False
    if torch.allclose(got, want, rtol=1e-5, atol=1e-5):
        say(
            "correct: the distance to the closest normal image; a test image that copies a "
            "training image scores 0"
        )
        return True
    if torch.allclose(got, want**2, rtol=1e-5, atol=1e-5):
        say("almost: those are squared distances: take the square root")
    elif torch.allclose(got, d.max(1).values.sqrt(), rtol=1e-5):
        say("not yet: the *nearest* normal image: min over the normal rows, not max")
    elif torch.allclose(got, d.sqrt().mean(1), rtol=1e-5):
        say("not yet: the nearest normal image, not the mean distance to all of them")
    else:
        say("not yet: torch.cdist(x, normal) gives every distance; take the min of each row")
    return False
