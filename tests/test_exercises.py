"""gannotes.exercises: the feedback a learner gets, for right, wrong and odd answers.

Oracles for the right answers: the package's own functions (``to_uint8``, ``gannotes.losses``,
``smooth_targets``, ``frechet_distance``), closed forms (D*(1/2) = sigmoid(1), V = -log 4) and
the projection discriminator's Eq. 3 written out here.
The wrong answers are the mistakes a learner makes; each must get the hint that names it. The
feedback is collected with ``say=lines.append``. Every checker also has a solution
(``gannotes.solutions``): the checker accepts it and the code ``solution(name)`` prints, and the
notebooks' stub (a body that raises NotImplementedError) is "not attempted yet", not a hint.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gannotes import exercises
from gannotes.exercises import (
    check_ac_class_loss,
    check_boundary_distance,
    check_cycle_loss,
    check_d_star,
    check_equilibrium_value,
    check_fanogan_score,
    check_fid,
    check_g_loss,
    check_game,
    check_gradient_penalty,
    check_identity_loss,
    check_modulation,
    check_nn_distance,
    check_payback,
    check_projection_score,
    check_reconstruction_loss,
    check_roc_auc,
    check_smooth_targets,
    check_threshold,
    check_to_bytes,
    check_truncation,
    check_unscale,
)
from gannotes.losses import (
    ac_class_loss,
    ac_class_loss_double_softmax,
    g_minimax_loss,
    g_nonsaturating_loss,
)
from gannotes.metrics import frechet_distance
from gannotes.quality import RealOrFakeGame
from gannotes.solutions import SOLUTIONS, my_smooth_targets, solution
from gannotes.tricks import smooth_targets
from gannotes.viz import to_uint8


def feedback(check, *args, **kwargs):
    """(return value, the one line said) of a check."""
    lines = []
    result = check(*args, say=lines.append, **kwargs)
    assert len(lines) == 1, lines
    assert "\n" not in lines[0]
    return result, lines[0]


def raises(*_):
    raise RuntimeError("oops\nsecond line")


# ----------------------------------------------------------------------------- to_bytes


@pytest.fixture(scope="module")
def images():
    """Image-like batch in [-1, 1] with exact -1 background, as Fashion-MNIST's."""
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x[:, :, :4] = -1.0
    x[:, :, -1] = 1.0
    return x


def package_to_bytes(x):
    return torch.from_numpy(to_uint8(x)).permute(0, 3, 1, 2)


def test_to_bytes_right_answers(images):
    assert feedback(check_to_bytes, package_to_bytes, images) == (
        True,
        "correct: -1 -> 0, 0 -> 128, +1 -> 255",
    )

    # Truncating instead of rounding is off by at most one: accepted.
    def truncated(x):
        return ((x.clamp(-1, 1) + 1) * 127.5).to(torch.uint8)

    assert feedback(check_to_bytes, truncated, images)[0] is True


def test_to_bytes_not_attempted(images):
    assert feedback(check_to_bytes, None, images) == (
        None,
        "not attempted yet: define to_bytes and run this cell again",
    )


def test_to_bytes_without_clipping_gets_the_clipping_hint(images):
    def no_clip(x):
        return ((x + 1) * 127.5).round().to(torch.uint8)

    result, line = feedback(check_to_bytes, no_clip, images)
    assert result is False
    assert line.startswith("not yet: ") and "did you clip to [-1, 1] before scaling?" in line


def test_to_bytes_wrong_scaling_gets_the_scaling_hint(images):
    for wrong in (
        lambda x: (x.clamp(-1, 1) * 255).round().to(torch.uint8),  # forgot the + 1
        lambda x: ((x.clamp(-1, 1) + 1) * 255).round().to(torch.uint8),  # forgot the / 2
    ):
        result, line = feedback(check_to_bytes, wrong, images)
        assert result is False
        assert "pixels in [-1, 1] differ by more than 1" in line and "-1 -> 0" in line
        assert "clip" not in line


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda x: to_uint8(x), "return a torch.uint8 tensor (got ndarray uint8)"),
        (lambda x: (x + 1) * 127.5, "return a torch.uint8 tensor (got Tensor torch.float32)"),
        (package_to_bytes, None),  # the right answer, as a control
        (lambda x: package_to_bytes(x).permute(0, 2, 3, 1), "keep the shape (16, 1, 28, 28)"),
        (raises, "to_bytes raised RuntimeError: oops"),
        (42, "to_bytes should be a function, got int"),
    ],
)
def test_to_bytes_odd_answers_get_one_line(images, answer, says):
    result, line = feedback(check_to_bytes, answer, images)
    if says is None:
        assert result is True
    else:
        assert result is False and line.startswith("not yet: ") and says in line, line


def test_to_bytes_context_must_be_a_batch():
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        check_to_bytes(package_to_bytes, torch.zeros(28, 28), say=len)


# ----------------------------------------------------------------------------- D*


def test_d_star_right_answer_is_sigmoid_of_one():
    expected = 1 / (1 + math.exp(-1))  # D*(x) = sigmoid(2 - 2x) at x = 1/2
    for answer in (expected, torch.sigmoid(torch.tensor(1.0)), np.float32(expected), 0.7311):
        result, line = feedback(check_d_star, answer)
        assert result is True and line == (
            "correct: D*(0.5) = 0.7311; p_data is larger than p_g there"
        )


def test_d_star_not_attempted():
    assert feedback(check_d_star, None)[0] is None


@pytest.mark.parametrize(
    "answer, says",
    [
        (0.5, "0.5000 is not D*(0.5); hint: D*(x) = sigmoid(2 - 2x)"),
        (1 - 1 / (1 + math.exp(-1)), "is 1 - D*(0.5)"),  # p_g / (p_data + p_g)
        (math.e, "is not a probability"),  # p_data / p_g
        ("0.73", "give a number, not the text '0.73'"),
        (torch.ones(2), "give one number, got an array of shape (2,)"),
    ],
)
def test_d_star_wrong_answers(answer, says):
    result, line = feedback(check_d_star, answer)
    assert result is False and line.startswith("not yet: ") and says in line, line


# ----------------------------------------------------------------------------- g loss


def test_g_loss_right_answer():
    assert feedback(check_g_loss, g_nonsaturating_loss) == (
        True,
        "correct, and numerically stable too",
    )
    # softplus written out, returning float64 or shape [1]: still right
    assert feedback(check_g_loss, lambda logits: F.softplus(-logits.double()).mean())[0] is True
    assert feedback(check_g_loss, lambda logits: F.softplus(-logits).mean().reshape(1))[0] is True


def test_g_loss_not_attempted():
    assert feedback(check_g_loss, None)[0] is None


def test_g_loss_log_sigmoid_is_almost_right_but_overflows():
    def naive(logits):
        return -torch.log(torch.sigmoid(logits)).mean()

    assert torch.isfinite(naive(torch.randn(256)))  # right for ordinary logits ...
    assert torch.isinf(naive(torch.tensor([-300.0])))  # ... but log(0) for large ones
    result, line = feedback(check_g_loss, naive)
    assert result is False
    assert line.startswith("almost: ") and "log(0) = -inf" in line and "softplus" in line


def test_g_loss_with_an_epsilon_guard_is_almost_right():
    def guarded(logits):
        return -torch.log(torch.sigmoid(logits) + 1e-8).mean()

    result, line = feedback(check_g_loss, guarded)
    assert result is False and line.startswith("almost: ") and "size 100" in line


@pytest.mark.parametrize(
    "answer",
    [
        lambda logits: torch.log(1 - torch.sigmoid(logits)).mean(),  # the saturating (minimax) loss
        g_minimax_loss,
        lambda logits: torch.log(torch.sigmoid(logits)).mean(),  # wrong sign
        lambda logits: F.softplus(logits).mean(),  # wrong sign inside
    ],
)
def test_g_loss_wrong_losses_are_not_yet(answer):
    result, line = feedback(check_g_loss, answer)
    assert result is False
    assert line.startswith("not yet: for logits of size 1 ") and "-mean(log D(G(z)))" in line


@pytest.mark.parametrize(
    "answer, says",
    [
        (
            lambda logits: F.softplus(-logits),
            "return one number, the mean over the batch (got shape (256,))",
        ),
        (lambda logits: F.softplus(-logits).mean().item(), "return a torch tensor"),
        (lambda logits: torch.tensor(float("nan")), "your loss is nan for ordinary logits"),
        (raises, "my_g_loss raised RuntimeError: oops"),
        ("softplus", "my_g_loss should be a function, got str"),
    ],
)
def test_g_loss_odd_answers_get_one_line(answer, says):
    result, line = feedback(check_g_loss, answer)
    assert result is False and line.startswith("not yet: ") and says in line, line


# ----------------------------------------------------------------------------- V at equilibrium


def test_equilibrium_value_right_answer_quotes_the_last_d_loss():
    result, line = feedback(check_equilibrium_value, -math.log(4), last_loss_d=1.3)
    assert result is True
    assert line == (
        "correct: V = log(1/2) + log(1/2) = -log 4 = -1.3863. "
        "The DCGAN's last D loss was 1.300 (equilibrium: 1.386)."
    )
    assert feedback(check_equilibrium_value, 2 * math.log(0.5))[1] == (
        "correct: V = log(1/2) + log(1/2) = -log 4 = -1.3863."
    )


def test_equilibrium_value_not_attempted():
    assert feedback(check_equilibrium_value, None, last_loss_d=1.3)[0] is None


@pytest.mark.parametrize(
    "answer, says",
    [
        (math.log(4), "is -V, the discriminator's loss"),
        (math.log(0.5), "one of the two expectations"),
        (0.0, "0.0000; hint: E[log 1/2] + E[log(1 - 1/2)]"),
        (complex(-1.386, 0.1), "your answer is complex"),
    ],
)
def test_equilibrium_value_wrong_answers(answer, says):
    result, line = feedback(check_equilibrium_value, answer, last_loss_d=1.3)
    assert result is False and line.startswith("not yet: ") and says in line, line


# ----------------------------------------------------------------------------- smooth targets


def test_smooth_targets_right_answer():
    result, line = feedback(check_smooth_targets, smooth_targets)
    assert result is True and line.startswith("correct: real targets 1 - s;")
    # A float64 answer, or one built differently, is also right.
    assert feedback(check_smooth_targets, lambda n, s: (1 - s) * torch.ones(n).double())[0]


def test_smooth_targets_not_attempted():
    assert feedback(check_smooth_targets, None)[0] is None


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda n, s: torch.full((n,), s), "for n=4, smoothing=0.1 expected [0.9, 0.9, 0.9, 0.9]"),
        (lambda n, s: torch.ones(n), "got [1.0, 1.0, 1.0, 1.0]"),  # forgot the smoothing
        (lambda n, s: torch.full((n, 1), 1 - s), "got [[0.9], [0.9], [0.9], [0.9]]"),
        (lambda n, s: [1 - s] * n, "return a torch tensor of shape [n] (got list)"),
        (lambda n: torch.ones(n), "my_smooth_targets raised TypeError"),
    ],
)
def test_smooth_targets_wrong_answers(answer, says):
    result, line = feedback(check_smooth_targets, answer)
    assert result is False and line.startswith("not yet: ") and says in line, line


# ----------------------------------------------------------------------------- notebook 03: L_C


def test_ac_class_loss_right_answers():
    result, line = feedback(check_ac_class_loss, ac_class_loss)
    assert result is True and line.startswith("correct: L_C = -E[log P(C = c | X)]")
    for right in (
        lambda logits, labels: F.cross_entropy(logits, labels),
        lambda logits, labels: -F.log_softmax(logits, dim=1).gather(1, labels[:, None]).mean(),
        lambda logits, labels: F.nll_loss(torch.log_softmax(logits.double(), 1), labels),
        lambda logits, labels: -(F.one_hot(labels, 10) * logits.log_softmax(1)).sum(1).mean(),
    ):
        assert feedback(check_ac_class_loss, right)[0] is True


def test_ac_class_loss_in_place_edits_of_the_logits_are_fine():
    def shifted(logits, labels):
        logits -= logits.max(dim=1, keepdim=True).values  # the log-sum-exp trick, in place
        return F.cross_entropy(logits, labels)

    assert feedback(check_ac_class_loss, shifted)[0] is True


def test_ac_class_loss_not_attempted():
    assert feedback(check_ac_class_loss, None) == (
        None,
        "not attempted yet: define my_ac_class_loss and run the cell again",
    )


def test_ac_class_loss_double_softmax_is_the_bug_to_spot():
    for bug in (
        ac_class_loss_double_softmax,
        lambda logits, labels: F.cross_entropy(torch.softmax(logits, 1), labels),
        lambda logits, labels: F.cross_entropy(F.softmax(logits, dim=-1), labels),
    ):
        result, line = feedback(check_ac_class_loss, bug)
        assert result is False and line.startswith("not yet: "), line
        assert "you apply a softmax before a loss that applies one itself" in line
        # log(1 + 9/e) and log(9 + e)
        assert "between log(1 + (K-1)/e) and log(K-1 + e) (1.46 to 2.46 for K = 10)" in line


def softmax_minus_log(logits, labels):
    """-log(softmax) picked at the label: right, until softmax rounds to 0."""
    return -torch.log(torch.softmax(logits, 1)).gather(1, labels[:, None]).mean()


def test_ac_class_loss_log_of_softmax_is_almost_right_but_overflows():
    assert torch.isinf(softmax_minus_log(torch.tensor([[0.0, 200.0]]), torch.tensor([0])))
    result, line = feedback(check_ac_class_loss, softmax_minus_log)
    assert result is False
    assert line.startswith("almost: ") and "log(0) = -inf" in line and "F.log_softmax" in line


def test_ac_class_loss_with_an_epsilon_guard_is_almost_right():
    def guarded(logits, labels):
        p = torch.softmax(logits, 1).gather(1, labels[:, None])
        return -torch.log(p + 1e-8).mean()

    result, line = feedback(check_ac_class_loss, guarded)
    assert (
        result is False
        and line.startswith("almost: right for small logits, but")
        and "needs no guard" in line
    ), line


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda logits, labels: F.nll_loss(torch.softmax(logits, 1), labels),
            "F.nll_loss takes log-probabilities, not probabilities",
        ),
        (
            lambda logits, labels: F.nll_loss(logits, labels),
            "F.nll_loss takes log-probabilities, not logits",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels, reduction="sum"),
            "average over the batch (mean), not sum",
        ),
        (lambda logits, labels: -F.cross_entropy(logits, labels), "the loss has the wrong sign"),
        (
            lambda logits, labels: F.log_softmax(logits, 1).gather(1, labels[:, None]).mean(),
            "the loss has the wrong sign",
        ),
        (
            lambda logits, labels: -(F.one_hot(labels, 10) * F.log_softmax(logits, 1)).mean(),
            "average over the N samples only",
        ),
        (
            lambda logits, labels: F.nll_loss(F.log_softmax(logits, 0), labels),
            "over the classes (dim=1), not over the batch (dim=0)",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels) + 0.1,
            "L_C = -mean(log softmax(logits)[label])",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels, reduction="none"),
            "return one number, the mean over the batch (got shape (64,))",
        ),
        (lambda logits, labels: F.cross_entropy(logits, labels).item(), "return a torch tensor"),
        (
            lambda logits, labels: torch.tensor(F.cross_entropy(logits, labels).item()),
            "it has no gradient for D's logits",
        ),
        (lambda logits, labels: torch.tensor(float("nan")), "your loss is nan for ordinary"),
        (raises, "my_ac_class_loss raised RuntimeError: oops"),
        ("cross_entropy", "my_ac_class_loss should be a function, got str"),
    ],
    ids=[
        "nll on probabilities",
        "nll on logits",
        "sum",
        "minus the loss",
        "no minus",
        "mean over classes too",
        "softmax over batch",
        "off",
        "not scalar",
        "float",
        "detached",
        "nan",
        "raises",
        "not a function",
    ],
)
def test_ac_class_loss_mistakes_get_their_hint(answer, hint):
    result, line = feedback(check_ac_class_loss, answer)
    assert result is False and line.startswith("not yet: ") and hint in line, line
    assert "apply a softmax before" not in line  # the double-softmax hint is for that bug only


# ----------------------------------------------------------------------------- projection score


def eq3(phi, w, b, embedding, labels):
    """Miyato and Koyama (2018), Eq. 3: psi(phi(x)) + y^T V phi(x), y one-hot, V the table."""
    return phi @ w + b + (embedding[labels] * phi).sum(1)


def test_projection_score_right_answers():
    result, line = feedback(check_projection_score, eq3)
    assert result is True and line.startswith("correct: D(x, y) = w . phi(x) + b + e(y) . phi(x)")
    for right in (
        lambda phi, w, b, emb, y: torch.einsum("nf,nf->n", F.embedding(y, emb), phi) + phi @ w + b,
        lambda phi, w, b, emb, y: (
            F.linear(phi, w[None], b[None]).flatten()
            + (F.one_hot(y, len(emb)).to(phi) @ emb * phi).sum(1)
        ),
        lambda phi, w, b, emb, y: (phi * (w + emb[y])).sum(dim=1).double() + b,
    ):
        assert feedback(check_projection_score, right)[0] is True


def test_projection_score_not_attempted():
    assert feedback(check_projection_score, None) == (
        None,
        "not attempted yet: define my_projection_score and run the cell again",
    )


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda phi, w, b, emb, y: phi @ w + b,
            "the label term is missing, so this is an unconditional D",
        ),
        (
            lambda phi, w, b, emb, y: phi @ w + b + (emb[: len(phi)] * phi).sum(1),
            "embedding[labels], not the first N rows of the table (embedding[:N])",
        ),
        (
            lambda phi, w, b, emb, y: torch.cat([phi, emb[y]], 1) @ torch.cat([w, w]) + b,
            "the label enters by concatenation here",
        ),
        (
            lambda phi, w, b, emb, y: phi @ w + b + emb[y].sum(1),
            "the label enters by concatenation here",
        ),
        (lambda phi, w, b, emb, y: torch.cat([phi, emb[y]], 1), "that is a concatenation"),
        (
            lambda phi, w, b, emb, y: torch.cat([phi @ w + b, (emb[y] * phi).sum(1)]),
            "that is a concatenation",
        ),
        (lambda phi, w, b, emb, y: phi @ w + (emb[y] * phi).sum(1), "add the bias b"),
        (lambda phi, w, b, emb, y: b + (emb[y] * phi).sum(1), "w . phi(x) is missing"),
        (
            lambda phi, w, b, emb, y: eq3(phi, w, b, emb, y)[:, None],
            "shape [N] = (6,), not [N, 1] = (6, 1)",
        ),
        (
            lambda phi, w, b, emb, y: eq3(phi, w, b, emb, y).sum(),
            "shape [N] = (6,), not a single number",
        ),
        (
            lambda phi, w, b, emb, y: phi @ w + b + (emb[y] * phi).sum(1, keepdim=True),
            "not [N, N] = (6, 6): a [N] plus a [N, 1] broadcasts",
        ),
        (lambda phi, w, b, emb, y: emb[y] * phi, "not [N, F] = (6, 5)"),
        (lambda phi, w, b, emb, y: eq3(phi, w, b, emb, y) * 2, "expected ["),
        (lambda phi, w, b, emb, y: eq3(phi, w, b, emb, y).tolist(), "return a torch tensor"),
        (raises, "my_projection_score raised RuntimeError: oops"),
        (3, "my_projection_score should be a function, got int"),
    ],
    ids=[
        "unconditional",
        "embedding[:N]",
        "concatenation, linear",
        "concatenation, summed",
        "concatenation, [N, 2F]",
        "concatenation, [2N]",
        "no bias",
        "no w . phi",
        "[N, 1]",
        "scalar",
        "[N, N]",
        "[N, F]",
        "other",
        "list",
        "raises",
        "not a function",
    ],
)
def test_projection_score_mistakes_get_their_hint(answer, hint):
    result, line = feedback(check_projection_score, answer)
    assert result is False and line.startswith("not yet: ") and hint in line, line


# ----------------------------------------------------------------------------- FID


@pytest.fixture(scope="module")
def features():
    """Two small correlated feature sets [N, D] (N small, so the biased covariance shows)."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(60, 6, generator=gen, dtype=torch.float64)
    mix = torch.eye(6, dtype=torch.float64) + 0.3 * torch.randn(6, 6, generator=gen).double()
    fake = torch.randn(50, 6, generator=gen, dtype=torch.float64) @ mix + 0.5
    return real.numpy(), fake.numpy()


def numpy_fid(a, b, bias=False, sqrt=True, real_part=True):
    """The learner's numpy FID, and its two classic mistakes."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False, bias=bias), np.cov(b, rowvar=False, bias=bias)
    eig = np.linalg.eigvals(s_a @ s_b).astype(complex)
    tr_covmean = np.sqrt(eig).sum() if sqrt else eig.sum()
    if real_part:
        tr_covmean = tr_covmean.real
    return ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean


def test_fid_right_answer(features):
    real, fake = features
    answer = numpy_fid(real, fake)
    assert answer == pytest.approx(frechet_distance(real, fake), rel=1e-9)  # same oracle
    result, line = feedback(check_fid, answer, real, fake)
    assert (
        result is True
        and line
        == f"correct: FID = {frechet_distance(real, fake):.2f}, the same as gannotes.metrics"
    )
    assert feedback(check_fid, torch.tensor(answer), torch.from_numpy(real), fake)[0] is True


def test_fid_not_attempted(features):
    assert feedback(check_fid, None, *features)[0] is None


def test_fid_biased_covariance_gets_its_own_hint(features):
    real, fake = features
    answer = numpy_fid(real, fake, bias=True)
    assert abs(answer / frechet_distance(real, fake) - 1) > 1e-3  # clearly another number here
    result, line = feedback(check_fid, answer, real, fake)
    assert result is False and "biased covariance (divided by N)" in line


def test_fid_biased_covariance_is_caught_at_the_notebooks_size():
    """At N = 2,000 the biased covariance is only ~3e-4 off: still not accepted."""
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(2000, 8, generator=gen, dtype=torch.float64).numpy()
    fake = (1.3 * torch.randn(2000, 8, generator=gen, dtype=torch.float64) + 0.05).numpy()
    expected = frechet_distance(real, fake)
    assert feedback(check_fid, numpy_fid(real, fake), real, fake)[0] is True
    biased = numpy_fid(real, fake, bias=True)
    assert 1e-5 < abs(biased / expected - 1) < 1e-3
    assert feedback(check_fid, biased, real, fake)[0] is False


def test_fid_without_square_roots_gets_the_square_root_hint(features):
    real, fake = features
    result, line = feedback(check_fid, numpy_fid(real, fake, sqrt=False), real, fake)
    assert result is False and "take the *square roots* of the eigenvalues" in line


def test_fid_other_wrong_answers(features):
    real, fake = features
    expected = frechet_distance(real, fake)
    result, line = feedback(check_fid, expected * 1.01, real, fake)
    assert result is False and line.startswith("not yet: ") and f"expected {expected:.6g}" in line
    result, line = feedback(check_fid, numpy_fid(real, fake, real_part=False), real, fake)
    assert result is False and "complex" in line and "real part" in line


# ----------------------------------------------------------------------------- the game


@pytest.fixture
def game():
    real = torch.zeros(10, 1, 4, 4)
    fake = torch.ones(10, 1, 4, 4)
    return RealOrFakeGame(real, fake, rounds=20, seed=0)


class _Widget:
    """What check_game reads of real_or_fake_widget's box: its .game."""

    def __init__(self, game):
        self.game = game


def test_game_unfinished_is_none(game):
    assert feedback(check_game, _Widget(game)) == (None, "not finished: 0 of 20 answered so far")
    game.answer(True)
    assert feedback(check_game, game) == (None, "not finished: 1 of 20 answered so far")
    assert feedback(check_game, None)[0] is None


def test_game_a_perfect_player_beats_chance(game):
    game.play(lambda image: bool(image.mean() < 0.5))  # real images are the zeros
    result, line = feedback(check_game, _Widget(game))
    assert result is True and line == game.summary() and "better than chance" in line


def test_game_a_constant_player_does_not(game):
    game.play(lambda image: True)
    result, line = feedback(check_game, game)
    assert result is False and "not distinguishable from guessing" in line


def test_game_something_else_is_not_checked():
    result, line = feedback(check_game, 3)
    assert result is None and "RealOrFakeGame" in line


def test_game_the_widget_itself(game):
    pytest.importorskip("ipywidgets")
    from gannotes.quality import real_or_fake_widget

    box = real_or_fake_widget(torch.zeros(10, 1, 4, 4), torch.ones(10, 1, 4, 4), rounds=4)
    assert feedback(check_game, box)[0] is None
    for _ in range(4):
        box.real_button.click()
    result, line = feedback(check_game, box)
    assert result is False and line == box.game.summary()  # 2 of 4: chance


# ----------------------------------------------------------------------------- notebook 06


def right_gradient_penalty(critic, real, fake, eps):
    e = eps.reshape(-1, *([1] * (real.ndim - 1)))
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return 10 * (grad.flatten(1).norm(dim=1) - 1).square().mean()


def _penalty(
    create_graph=True,
    square=False,
    batch_norm=False,
    axis_norm=False,
    lam=10.0,
    reduce="mean",
    where="between",
    eps_side="real",
):
    """The learner's answer with one chosen mistake."""

    def fn(critic, real, fake, eps):
        e = eps.reshape(-1, *([1] * (real.ndim - 1)))
        if eps_side == "fake":
            e = 1 - e
        x = {"between": e * real + (1 - e) * fake, "real": real, "fake": fake}[where]
        x = x.requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=create_graph)
        if batch_norm:
            slope = grad.norm()
        elif axis_norm:
            slope = grad.norm(dim=1)
        else:
            slope = grad.flatten(1).norm(dim=1)
        term = slope.square() if square else (slope - 1).square()
        return lam * (term.mean() if reduce == "mean" else term.sum())

    return fn


def test_gradient_penalty_right_answer():
    result, line = feedback(check_gradient_penalty, right_gradient_penalty)
    assert result is True and line.startswith("correct")


def test_gradient_penalty_not_attempted():
    assert feedback(check_gradient_penalty, None) == (
        None,
        "not attempted yet: define my_gradient_penalty and run the cell again",
    )


@pytest.mark.parametrize(
    "answer,hint",
    [
        (_penalty(create_graph=False), "pass create_graph=True"),
        (_penalty(square=True), "penalise (|grad| - 1)^2, not |grad|^2"),
        (_penalty(batch_norm=True), "one gradient norm per sample"),
        (_penalty(axis_norm=True), "flatten each sample before its norm"),
        (_penalty(lam=1.0), "multiply by lambda = 10"),
        (_penalty(reduce="sum"), "average over the batch (mean), not sum"),
        (_penalty(where="real"), "not at the real ones"),
        (_penalty(where="fake"), "not at the fake ones"),
        (_penalty(eps_side="fake"), "mix with eps on the real samples"),
    ],
    ids=[
        "no create_graph",
        "|grad|^2",
        "batch norm",
        "axis norm",
        "no lambda",
        "sum",
        "at reals",
        "at fakes",
        "eps swapped",
    ],
)
def test_gradient_penalty_mistakes_get_their_hint(answer, hint):
    result, line = feedback(check_gradient_penalty, answer)
    assert result is False and line.startswith("not yet") and hint in line, line


def test_gradient_penalty_detached_value_and_odd_answers():
    def detached(critic, real, fake, eps):
        value = right_gradient_penalty(critic, real, fake, eps)
        return value.detach() + 0 * critic(real).sum()  # right value, gradient lost

    result, line = feedback(check_gradient_penalty, detached)
    assert result is False and "its gradient for the critic's weights is not" in line
    for answer, says in (
        (lambda c, r, f, e: 1.0, "return one number as a tensor"),
        (lambda c, r, f, e: torch.zeros(3, requires_grad=True), "got shape (3,)"),
        (lambda c, r, f, e: 1 / 0, "raised ZeroDivisionError"),
        (42, "should be a function"),
    ):
        result, line = feedback(check_gradient_penalty, answer)
        assert result is False and says in line, line


# ----------------------------------------------------------------------------- notebook 04


def _l1(x, y):
    return (x - y).abs().mean()


def test_cycle_loss_accepts_the_paper_and_the_package():
    from gannotes.losses import cycle_consistency_loss

    result, line = feedback(check_cycle_loss, lambda G, F, a, b: _l1(F(G(a)), a) + _l1(G(F(b)), b))
    assert result is True and line.startswith("correct: L_cyc = mean|F(G(a)) - a|")

    def package(G, F, a, b):
        return cycle_consistency_loss(a, F(G(a))) + cycle_consistency_loss(b, G(F(b)))  # noqa: E731

    assert feedback(check_cycle_loss, package)[0] is True
    assert feedback(check_cycle_loss, lambda G, F, a, b: float(_l1(F(G(a)), a) + _l1(G(F(b)), b)))[
        0
    ]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda G, F, a, b: _l1(F(G(a)), a), "only the forward cycle"),
        (lambda G, F, a, b: _l1(G(F(b)), b), "only the backward cycle"),
        (lambda G, F, a, b: _l1(F(G(a)), b) + _l1(G(F(b)), a), "not with b"),
        (lambda G, F, a, b: ((F(G(a)) - a) ** 2).mean() + ((G(F(b)) - b) ** 2).mean(), "L2"),
        (lambda G, F, a, b: (F(G(a)) - a).abs().sum() + (G(F(b)) - b).abs().sum(), "not the sum"),
        (lambda G, F, a, b: (F(G(a)) - a).mean() + (G(F(b)) - b).mean(), "absolute value"),
        (lambda G, F, a, b: _l1(G(G(a)), a) + _l1(F(F(b)), b), "through both generators"),
        (lambda G, F, a, b: _l1(G(F(a)), a) + _l1(F(G(b)), b), "apply G to a first"),
        (lambda G, F, a, b: a.mean() * 0 + 0.123, "expected"),
        (lambda G, F, a, b: torch.zeros(3), "one number"),
        (raises, "my_cycle_loss raised RuntimeError: oops"),
    ],
)
def test_cycle_loss_hints(wrong, hint):
    result, line = feedback(check_cycle_loss, wrong)
    assert result is False and line.startswith("not yet") and hint in line, line


def test_identity_loss_accepts_the_paper_and_names_the_inputs_mistake():
    from gannotes.losses import identity_loss

    right = lambda G, F, a, b: identity_loss(b, G(b)) + identity_loss(a, F(a))  # noqa: E731
    result, line = feedback(check_identity_loss, right)
    assert result is True and "each generator leaves its own output domain alone" in line
    for wrong, hint in [
        (lambda G, F, a, b: _l1(G(a), a) + _l1(F(b), b), "Give G an image it would *output*"),
        (lambda G, F, a, b: _l1(G(b), a) + _l1(F(a), b), "not a (there are no pairs"),
        (lambda G, F, a, b: _l1(G(b), b), "only G's term"),
        (lambda G, F, a, b: _l1(F(a), a), "only F's term"),
        (lambda G, F, a, b: _l1(G(F(b)), b) + _l1(F(G(a)), a), "no round trip"),
    ]:
        result, line = feedback(check_identity_loss, wrong)
        assert result is False and hint in line, line
    assert feedback(check_identity_loss, None) == (
        None,
        "not attempted yet: define my_identity_loss and run the cell again",
    )


# ----------------------------------------------------------------------------- notebook 05


def _mod(weight, styles):
    return weight[None] * styles[:, None, :, None, None]


def _demod(w, dims=(2, 3, 4)):
    return w / (w.square().sum(dim=dims, keepdim=True) + 1e-8).sqrt()


def test_modulation_accepts_eq_1_and_3_written_out_and_the_package():
    from gannotes.models.stylegan import modulate_demodulate

    result, line = feedback(check_modulation, lambda w, s: _demod(_mod(w, s)))
    assert result is True and line.startswith("correct: modulation scales each input channel")
    assert feedback(check_modulation, modulate_demodulate)[0] is True
    assert feedback(check_modulation, None)[0] is None


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda w, s: _demod(w[None] * s[:, :, None, None, None]), "*input* channels"),
        (_mod, "the modulation alone"),
        (lambda w, s: _demod(_mod(w, s), (1, 2, 3, 4)), "each output channel on its own"),
        (lambda w, s: _demod(_mod(w, s), (3, 4)), "*and* the kernel"),
        (
            lambda w, s: _mod(w, s) / (_mod(w, s).square().sum((2, 3, 4), keepdim=True) + 1e-8),
            "square root",
        ),
        (lambda w, s: _mod(w, s) * 2, "compare with your result"),
        (lambda w, s: w, "should return shape"),
        (lambda w, s: 3.0, "should return a tensor"),
        (raises, "my_modulate_demodulate raised RuntimeError: oops"),
    ],
)
def test_modulation_hints(wrong, hint):
    result, line = feedback(check_modulation, wrong)
    assert result is False and line.startswith("not yet") and hint in line, line


def test_truncation_accepts_the_formula_and_names_the_mistakes():
    result, line = feedback(check_truncation, lambda w, a, psi: a + psi * (w - a))
    assert result is True and line.startswith("correct: w' = w_avg + psi (w - w_avg)")
    assert feedback(check_truncation, lambda w, a, psi: torch.lerp(a, w, psi))[0] is True
    for wrong, hint in [
        (lambda w, a, psi: a + (1 - psi) * (w - a), "psi = 1 must leave w unchanged"),
        (lambda w, a, psi: psi * w, "not towards 0"),
        (lambda w, a, psi: w + psi * (w - a), "moves w away"),
        (lambda w, a, psi: w * 0, "expected w_avg + psi"),
        (lambda w, a, psi: a, "should return shape"),
        (raises, "my_truncate raised RuntimeError: oops"),
    ]:
        result, line = feedback(check_truncation, wrong)
        assert result is False and hint in line, line


def _unscale(grads, scale):
    # GradScaler.unscale_ written out: the oracle the checker should accept
    return [g / scale for g in grads], not all(torch.isfinite(g).all() for g in grads)


def test_unscale_accepts_the_scalers_rule_and_names_the_mistakes():
    result, line = feedback(check_unscale, _unscale)
    assert result is True and line.startswith("correct: divide by the scale")
    for wrong, hint in [
        (lambda gs, s: ([g * s for g in gs], False), "scale times too big"),
        (
            lambda gs, s: ([g / s for g in gs], any(torch.isinf(g).any() for g in gs)),
            "a NaN must skip the step",
        ),
        (lambda gs, s: ([g / s for g in gs], False), "found_inf must be True"),
        (lambda gs, s: ([g / s for g in gs], True), "found_inf must be False"),
        (lambda gs, s: [g / s for g in gs], "return two things"),
        (lambda gs, s: (gs[:1], False), "one unscaled gradient per gradient"),
        (lambda gs, s: ([g - s for g in gs], False), "divided by the scale"),
        (raises, "my_unscale raised RuntimeError: oops"),
    ]:
        result, line = feedback(check_unscale, wrong)
        assert result is False and hint in line, line
    assert feedback(check_unscale, None)[0] is None


def test_payback_accepts_the_formula_and_names_the_mistakes():
    def right(c, e, k):
        return c / (e - k) if e > k else math.inf

    result, line = feedback(check_payback, right)
    assert result is True and line.startswith("correct: compile_s / (eager - compiled)")
    for wrong, hint in [
        (lambda c, e, k: c / (e - k), "never pays back"),
        (lambda c, e, k: c / k if e > k else math.inf, "compiled steps the compile time"),
        (lambda c, e, k: (e - k) / c if e > k else math.inf, "upside down"),
        (lambda c, e, k: c if e > k else math.inf, "paid once"),
        (lambda c, e, k: "soon", "give a number"),
        (raises, "my_payback raised RuntimeError: oops"),
    ]:
        result, line = feedback(check_payback, wrong)
        assert result is False and hint in line, line


def test_roc_auc_accepts_the_definition_and_names_the_mistakes():
    from sklearn.metrics import roc_auc_score  # the oracle for the right answer

    def right(m, n):
        labels = np.r_[np.ones(len(m)), np.zeros(len(n))]
        return roc_auc_score(labels, np.r_[m.numpy(), n.numpy()]) if len(set(labels)) else 0.5

    def pairwise(m, n):
        return ((m[:, None] > n[None, :]).float() + 0.5 * (m[:, None] == n[None, :]).float()).mean()

    for fn in (right, pairwise):
        result, line = feedback(check_roc_auc, fn)
        assert result is True and line.startswith("correct: the AUC"), line
    for wrong, hint in [
        (lambda m, n: 1 - pairwise(m, n), "1 - AUC"),
        (lambda m, n: (m[:, None] > n[None, :]).float().mean(), "one half"),
        (lambda m, n: (m[:, None] >= n[None, :]).float().mean(), "one half"),
        (lambda m, n: (m[:, None] > n[None, :]).float().sum() + 1, "divide by the number"),
        (lambda m, n: 0.5, "every member's score"),
        (raises, "my_roc_auc raised RuntimeError: oops"),
    ]:
        result, line = feedback(check_roc_auc, wrong)
        assert result is False and hint in line, line
    assert feedback(check_roc_auc, None)[0] is None


def test_threshold_accepts_hoeffding_and_names_the_mistakes():
    from scipy.stats import norm

    result, line = feedback(check_threshold, lambda a: math.sqrt(2 * math.log(1 / a)))
    assert result is True and line.startswith("correct: t = sqrt(2 ln(1/fpr))")
    for wrong, hint in [
        (lambda a: norm.ppf(1 - a), "normal distribution's threshold"),
        (lambda a: 2 * math.log(1 / a), "square root"),
        (lambda a: math.sqrt(math.log(1 / a)), "t^2 = 2 ln"),
        (lambda a: math.sqrt(2 * math.log10(1 / a)), "natural logarithm"),
        (lambda a: 3.0, "solve exp"),
        (raises, "my_threshold raised RuntimeError: oops"),
    ]:
        result, line = feedback(check_threshold, wrong)
        assert result is False and hint in line, line
    assert feedback(check_threshold, None)[0] is None


# ----------------------------------------------------------------------------- solutions


def _solution_context(name, images, features):
    """(positional, keyword) arguments that check_<name> takes beside the answer."""
    if name == "to_bytes":
        return (images,), {}
    if name == "fid":
        return features, {}
    if name == "game":
        # real garments on a clean black background; fakes in a dark grey haze (-0.8 = 25/255)
        real = torch.full((10, 1, 8, 8), -1.0)
        real[:, :, 2:6, 2:6] = torch.linspace(0.2, 1.0, 16).view(4, 4)
        fake = torch.where(real == -1.0, torch.tensor(-0.8), real)
        return (), {"deck": RealOrFakeGame(real, fake, rounds=20, seed=0)}
    if name == "equilibrium_value":
        return (), {"last_loss_d": 1.3}
    return (), {}


def _checker(name):
    return getattr(exercises, f"check_{name}")


def test_every_checker_has_a_solution():
    checkers = {n.removeprefix("check_") for n in exercises.__all__ if n.startswith("check_")}
    assert checkers == set(SOLUTIONS)
    assert exercises.solution is solution  # re-exported next to the checkers
    # each notebook's exercises, as the module docstring lists them
    assert {s.notebook for s in SOLUTIONS.values()} >= {f"{i:02d}" for i in range(12)}


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_the_checker_accepts_its_solution(name, images, features):
    args, kwargs = _solution_context(name, images, features)
    result, line = feedback(_checker(name), solution(name, show=False), *args, **kwargs)
    assert result is True, line


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_the_printed_solution_is_the_code_that_is_checked(name, images, features, capsys):
    returned = solution(name)
    printed = capsys.readouterr().out
    heading, blank, *code = printed.splitlines()
    notebook = SOLUTIONS[name].notebook
    assert heading == f"Solution to {name!r} (notebook {notebook}):" and blank == ""
    assert "NotImplementedError" not in printed
    # The printed code, run on its own with the notebooks' imports, defines the answer.
    namespace = {"math": math, "np": np, "torch": torch}
    exec("\n".join(code), namespace)
    s = SOLUTIONS[name]
    answer = namespace[s.assign_to] if s.returns_value else namespace[s.function.__name__]
    if s.returns_value:
        assert answer == returned  # the number solution() returns
    else:
        assert answer is not returned and answer.__name__ == returned.__name__
    args, kwargs = _solution_context(name, images, features)
    assert feedback(_checker(name), answer, *args, **kwargs)[0] is True


def test_solution_without_showing_prints_nothing(capsys):
    assert solution("smooth_targets", show=False) is my_smooth_targets
    assert solution("d_star", show=False) == pytest.approx(1 / (1 + math.exp(-1)))
    assert solution("equilibrium_value", show=False) == pytest.approx(-math.log(4))
    assert capsys.readouterr().out == ""


def test_solution_of_an_unknown_exercise_lists_the_names():
    with pytest.raises(ValueError) as info:
        solution("smoothing")
    message = str(info.value)
    assert "\n" not in message and "'smoothing'" in message
    assert all(name in message for name in SOLUTIONS)


def _stub(*args):
    # Your code here
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(set(SOLUTIONS) - {"d_star", "equilibrium_value"}))
def test_the_notebooks_stub_is_not_attempted(name, images, features):
    """The learner's cell before any work: a function whose body raises NotImplementedError."""
    args, kwargs = _solution_context(name, images, features)
    result, line = feedback(_checker(name), _stub, *args, **kwargs)
    assert result is None, line
    assert line.startswith("not attempted yet: ") and "still raises NotImplementedError" in line
    assert f" {solution(name, show=False).__name__} " in line  # named as in the notebook


def test_a_not_implemented_error_is_not_attempted_whatever_the_say_argument():
    lines = []
    assert check_smooth_targets(_stub, lines.append) is None  # say given by position
    assert lines == [
        "not attempted yet: my_smooth_targets still raises NotImplementedError; write your code "
        "in its place and run the cell again"
    ]


def test_fid_accepts_a_function_of_the_features(features):
    real, fake = features
    assert feedback(check_fid, lambda a, b: numpy_fid(a, b), real, fake)[0] is True
    result, line = feedback(check_fid, lambda a, b: numpy_fid(a, b, bias=True), real, fake)
    assert result is False and "biased covariance" in line
    result, line = feedback(check_fid, raises, real, fake)
    assert result is False and "my_fid raised RuntimeError: oops" in line


def test_game_plays_a_player_through_a_deck(game):
    result, line = feedback(check_game, lambda image: bool(image.mean() < 0.5), deck=game)
    assert result is True and game.finished and line == game.summary()
    result, line = feedback(check_game, lambda image: True)
    assert result is None and "needs a deck" in line
    fresh = RealOrFakeGame(torch.zeros(10, 1, 4, 4), torch.ones(10, 1, 4, 4), rounds=20)
    result, line = feedback(check_game, raises, deck=fresh)
    assert result is False and "my_player raised RuntimeError: oops" in line
    with pytest.raises(ValueError, match="RealOrFakeGame"):
        check_game(lambda image: True, deck=[1, 2], say=len)


# ----------------------------------------------------------------------------- notebook 10


def _pixel_mse(x, t):
    return ((x - t) ** 2).flatten(1).mean(1)


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda x, t, net, w: _pixel_mse(x, t).mean(), "one loss per image"),
        (
            lambda x, t, net, w: (
                ((x - t) ** 2).flatten(1).sum(1) + w * ((net(x)[0] - net(t)[0]) ** 2).sum(1)
            ),
            "average the squared errors",
        ),
        (
            lambda x, t, net, w: _pixel_mse(x, t) + w * ((net(x)[1] - net(t)[1]) ** 2).mean(1),
            "compare the features",
        ),
        (
            lambda x, t, net, w: _pixel_mse(x, t) + ((net(x)[0] - net(t)[0]) ** 2).mean(1),
            "weighs the feature term only",
        ),
        (lambda x, t, net, w: _pixel_mse(x, t), "weighs the feature term only"),
        (
            lambda x, t, net, w: (
                _pixel_mse(x, t).sqrt() + w * ((net(x)[0] - net(t)[0]) ** 2).mean(1).sqrt()
            ),
            "no square root",
        ),
        (lambda x, t, net, w: (x - t).abs().flatten(1).mean(1), "not yet: per image"),
        (lambda x, t, net, w: [1.0] * 4, "should return a tensor"),
        (raises, "my_reconstruction_loss raised RuntimeError: oops"),
        (_stub, "not attempted"),
    ],
)
def test_reconstruction_loss_mistakes_get_their_hint(answer, says):
    result, line = feedback(check_reconstruction_loss, answer)
    assert result is (None if says == "not attempted" else False) and says in line, line


def test_reconstruction_loss_accepts_the_package_loss():
    """The oracle: gannotes.inversion's two terms, as optimise() sums them."""
    from gannotes.inversion import feature_loss, pixel_loss

    def package(x, t, net, w):
        return pixel_loss(x, t) + w * feature_loss(x, net(t)[0], net)

    result, line = feedback(check_reconstruction_loss, package)
    assert result is True and line.startswith("correct: ")
    assert feedback(check_reconstruction_loss, None)[0] is None


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda z, w, b: z.flatten(1) @ w + b, "that is the logit"),
        (lambda z, w, b: ((z.flatten(1) @ w + b) / w.norm()).abs(), "keep the sign"),
        (lambda z, w, b: -(z.flatten(1) @ w + b) / w.norm(), "the sign is flipped"),
        (lambda z, w, b: (z.flatten(1) @ w) / w.norm(), "the bias moves the boundary"),
        (lambda z, w, b: (z @ w + b) / w.norm(), "flatten each, latents.flatten(1)"),
        (lambda z, w, b: (z.flatten(1) @ w + b) / w.norm() ** 2, "not yet: the signed distance"),
        (_stub, "not attempted"),
    ],
)
def test_boundary_distance_mistakes_get_their_hint(answer, says):
    result, line = feedback(check_boundary_distance, answer)
    assert result is (None if says == "not attempted" else False) and says in line, line


def test_boundary_distance_agrees_with_a_fitted_boundary():
    """The oracle is Boundary.distance: on a boundary fitted by fit_boundary (unit normal and
    offset), the learner's formula with weight = normal * s, bias = offset * s (any s > 0)
    gives the same distances, and walking d along the normal adds d."""
    from gannotes.editing import LabelledPool, fit_boundary, move

    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 3, generator=g)
    probs = torch.nn.functional.one_hot((z[:, 0] + 0.3 * z[:, 1] > 0.2).long() * 4, 10).float()
    boundary = fit_boundary(LabelledPool(z, probs), 4)
    assert boundary.accuracy > 0.95
    mine = solution("boundary_distance", show=False)
    got = mine(z, boundary.normal * 3.0, boundary.offset * 3.0)
    torch.testing.assert_close(got, boundary.distance(z))
    walked = move(z, boundary.normal, 1.5)
    torch.testing.assert_close(boundary.distance(walked), boundary.distance(z) + 1.5)
    assert feedback(check_boundary_distance, mine)[0] is True


# ----------------------------------------------------------------------------- notebook 11


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda x, r, fx, fr, k: ((x - r) ** 2).mean() + k * ((fx - fr) ** 2).mean(), "one score"),
        (
            lambda x, r, fx, fr, k: ((x - r) ** 2).flatten(1).sum(1) + k * ((fx - fr) ** 2).sum(1),
            "average over the pixels",
        ),
        (
            lambda x, r, fx, fr, k: (x - r).abs().flatten(1).mean(1) + k * (fx - fr).abs().mean(1),
            "L1 residual",
        ),
        (
            lambda x, r, fx, fr, k: ((x - r) ** 2).flatten(1).mean(1) + ((fx - fr) ** 2).mean(1),
            "kappa",
        ),
        (lambda x, r, fx, fr, k: ((x - r) ** 2).flatten(1).mean(1), "not yet"),
        (_stub, "not attempted"),
    ],
)
def test_fanogan_score_mistakes_get_their_hint(answer, says):
    result, line = feedback(check_fanogan_score, answer)
    assert result is (None if says == "not attempted" else False) and says in line, line


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda n, x: torch.cdist(x, n).min(1).values ** 2, "squared distances"),
        (lambda n, x: torch.cdist(x, n).max(1).values, "min over the normal rows"),
        (lambda n, x: torch.cdist(x, n).mean(1), "not the mean distance"),
        (lambda n, x: torch.cdist(x, n).min(), "shape (4,)"),
        (_stub, "not attempted"),
    ],
)
def test_nn_distance_mistakes_get_their_hint(answer, says):
    result, line = feedback(check_nn_distance, answer)
    assert result is (None if says == "not attempted" else False) and says in line, line
    assert feedback(check_nn_distance, lambda n, x: torch.cdist(x, n).min(1).values)[0] is True
