"""gannotes.quality: gates that bad generators fail, the memorisation check, the real-or-fake game.

Oracles: brute-force nearest neighbours (numpy), scipy's binomtest for the p-value and the Wilson
interval. The widget is driven through its buttons' ``click()``, as a browser would.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gannotes.quality import (
    QUALITY_GATES,
    QualityGate,
    RealOrFakeGame,
    binomial_p_value,
    gate_failures,
    nearest_neighbour_distances,
    real_or_fake_widget,
    wilson_interval,
)

# ----------------------------------------------------------------------------- gates


def _result(**kw):
    base = dict(fid=10.0, precision=0.9, recall=0.9, classes_covered=10)
    return {**base, **kw}


def test_gate_failures_lists_each_unmet_condition():
    gate = QualityGate(fid_max=100.0, precision_min=0.5, recall_min=0.2, classes_min=9)
    assert gate_failures(_result(), gate) == []
    assert (
        gate_failures(_result(fid=100.0, precision=0.5, recall=0.2, classes_covered=9), gate) == []
    )
    bad = gate_failures(_result(fid=101.0, precision=0.4, recall=0.1, classes_covered=2), gate)
    assert [line.split(" ")[0] for line in bad] == ["fid", "precision", "recall", "classes_covered"]
    assert "needs <= 100" in bad[0] and "needs >= 9" in bad[3]


def test_gates_are_ordered_sensibly():
    for name, gate in QUALITY_GATES.items():
        assert 0 < gate.fid_max < 1000, name  # an untrained generator scores ~1,000
        assert 0 <= gate.precision_min < 1 and 0 <= gate.recall_min < 1, name
        assert 3 <= gate.classes_min <= 10, name


@pytest.fixture(scope="module")
def evaluated_failures():
    """evaluate_images of generators that must fail every gate (2,000 samples each)."""
    from gannotes.data import load_fashion_mnist
    from gannotes.evaluation import evaluate_images
    from gannotes.training import Trainer, default_config

    out = {}
    train = load_fashion_mnist("train", subset=True)  # 1,000 per class, shipped
    for model in ("mlp", "dcgan"):
        trainer = Trainer(default_config(model, "fashion-mnist", seed=0), data=train.images[:64])
        out[f"untrained {model}"] = evaluate_images(trainer.sample(2000, seed=0), kid_subsets=2)
    # Real images of two classes stand in for a generator collapsed to them: every sample is
    # perfect, only diversity is missing. Coat and shirt are the hard case: the feature network
    # spreads them over 5 classes and their recall is 0.39.
    for a, b in ((1, 7), (4, 6)):  # trousers and sneakers; coats and shirts
        two = train.images[(train.labels == a) | (train.labels == b)]
        out[f"collapsed to classes {a} and {b}"] = evaluate_images(two, kid_subsets=2)
    return out


@pytest.mark.parametrize("gate_name", sorted(QUALITY_GATES))
def test_gates_fail_untrained_and_collapsed_generators(evaluated_failures, gate_name):
    """The thresholds mean something: no untrained or two-class generator passes them.

    Measured (2,000 samples): untrained DCGAN FID 1070, precision 0, recall 0, 1 class;
    untrained MLP FID 891; real trousers + sneakers FID 635, precision 0.85, recall 0.20,
    2 classes; real coats + shirts FID 545, precision 0.88, recall 0.39, 5 classes."""
    gate = QUALITY_GATES[gate_name]
    for name, result in evaluated_failures.items():
        failures = gate_failures(result, gate)
        assert failures, f"{name} passes the {gate_name} gate: {result}"
        assert any(line.startswith("fid") for line in failures), name
        if name.startswith("collapsed"):
            assert any(line.startswith("classes_covered") for line in failures), name


# ----------------------------------------------------------------------------- memorisation


def test_nearest_neighbour_distances_match_brute_force():
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(300, 1, 6, 6, generator=gen) * 2 - 1
    samples = torch.rand(70, 1, 6, 6, generator=gen) * 2 - 1
    nn_ = nearest_neighbour_distances(samples, train, chunk=16)
    full = np.linalg.norm(
        samples.reshape(70, 1, -1).double().numpy() - train.reshape(1, 300, -1).double().numpy(),
        axis=2,
    )  # [70, 300], the oracle
    np.testing.assert_array_equal(nn_.indices, full.argmin(1))
    np.testing.assert_allclose(nn_.distances, full.min(1), rtol=1e-6)
    assert nn_.distances.shape == (70,) and nn_.indices.dtype == np.int64


def test_copies_are_at_distance_exactly_zero():
    gen = torch.Generator().manual_seed(1)
    train = torch.rand(500, 28 * 28, generator=gen) * 100  # large norms: expansion would round
    pick = torch.tensor([3, 499, 0, 250])
    nn_ = nearest_neighbour_distances(train[pick], train)
    assert nn_.distances.tolist() == [0.0] * 4
    assert nn_.indices.tolist() == pick.tolist()


def test_nearest_neighbour_distances_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in size"):
        nearest_neighbour_distances(torch.zeros(3, 4), torch.zeros(5, 5))
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbour_distances(torch.full((2, 3), math.nan), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="N >= 1"):
        nearest_neighbour_distances(torch.zeros(0, 3), torch.zeros(5, 3))


# ----------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("n", [1, 5, 20, 41])
def test_binomial_p_value_matches_scipy(n):
    stats = pytest.importorskip("scipy.stats")
    for k in range(n + 1):
        expected = stats.binomtest(k, n, 0.5, alternative="greater").pvalue
        assert binomial_p_value(k, n) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert binomial_p_value(0, 0) == 1.0
    assert binomial_p_value(3, 10, chance=0.1) == pytest.approx(
        stats.binomtest(3, 10, 0.1, alternative="greater").pvalue
    )


@pytest.mark.parametrize("k,n", [(0, 10), (5, 10), (10, 10), (13, 20), (1, 3), (50, 60)])
def test_wilson_interval_matches_scipy(k, n):
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(k, n, 0.5).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_statistics_reject_impossible_counts():
    with pytest.raises(ValueError):
        binomial_p_value(4, 3)
    with pytest.raises(ValueError):
        wilson_interval(-1, 3)


# ----------------------------------------------------------------------------- the game


def _decks():
    real = torch.ones(30, 1, 4, 4)  # real images are white ...
    fake = -torch.ones(25, 1, 4, 4)  # ... generated ones black: a perfect player can tell
    return real, fake


def test_game_deck_is_balanced_shuffled_and_seeded():
    real, fake = _decks()
    game = RealOrFakeGame(real, fake, rounds=20, seed=3)
    assert len(game) == 20 and game.truth.sum() == 10
    # the image agrees with the truth at every position
    assert all((game.images[i].mean() > 0) == game.truth[i] for i in range(20))
    again = RealOrFakeGame(real, fake, rounds=20, seed=3)
    assert (again.truth == game.truth).all()
    orders = {tuple(RealOrFakeGame(real, fake, rounds=20, seed=s).truth) for s in range(5)}
    assert len(orders) > 1  # the seed shuffles


def test_game_scores_a_perfect_a_contrary_and_a_guessing_player():
    real, fake = _decks()
    perfect = RealOrFakeGame(real, fake, rounds=20).play(lambda img: bool(img.mean() > 0))
    assert perfect.finished and perfect.correct == 20 and perfect.accuracy == 1.0
    assert perfect.p_value() == pytest.approx(0.5**20)
    assert "better than chance" in perfect.summary()
    contrary = RealOrFakeGame(real, fake, rounds=20).play(lambda img: bool(img.mean() < 0))
    assert contrary.correct == 0 and contrary.p_value() == 1.0
    assert len(contrary.fooled_by()) == 10
    always_real = RealOrFakeGame(real, fake, rounds=20).play(lambda img: True)
    assert always_real.accuracy == 0.5 and "not distinguishable" in always_real.summary()
    lo, hi = always_real.interval()
    assert lo < 0.5 < hi


def test_game_refuses_bad_decks_and_answers_after_the_end():
    real, fake = _decks()
    with pytest.raises(ValueError, match="even"):
        RealOrFakeGame(real, fake, rounds=7)
    with pytest.raises(ValueError, match="at least"):
        RealOrFakeGame(real[:3], fake, rounds=20)
    with pytest.raises(ValueError, match="differ in shape"):
        RealOrFakeGame(real, torch.zeros(20, 1, 5, 5), rounds=20)
    game = RealOrFakeGame(real, fake, rounds=2)
    assert math.isnan(game.accuracy) and game.summary() == "0 of 2 answered"
    game.play(lambda img: True)
    with pytest.raises(IndexError, match="over"):
        game.answer(True)
    with pytest.raises(IndexError, match="over"):
        game.current()


def test_widget_buttons_play_the_game():
    pytest.importorskip("ipywidgets")
    real, fake = _decks()
    box = real_or_fake_widget(real, fake, rounds=6, seed=0)
    first_png = box.image.value
    assert first_png[:4] == b"\x89PNG" and "0 of 6" in box.score.value
    for _ in range(6):  # a perfect player, clicking
        is_real = bool(box.game.truth[box.game.position])
        (box.real_button if is_real else box.fake_button).click()
        assert box.feedback.value.startswith(("right", "<b>Game over"))
    assert box.game.finished and box.game.correct == 6
    assert box.real_button.disabled and box.fake_button.disabled
    assert "6 of 6 right" in box.score.value and "Game over" in box.feedback.value
    box.real_button.click()  # ignored after the end
    assert box.game.position == 6

    box.restart_button.click()  # a new deck, seed + 1
    assert box.game.position == 0 and not box.real_button.disabled
    box.fake_button.click()
    truth = bool(box.game.truth[0])
    assert box.feedback.value.startswith("wrong" if truth else "right")
    assert box.game.records[0].said_real is False


def _png(data: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))


def test_widget_shows_the_fakes_that_fooled_the_player():
    pytest.importorskip("ipywidgets")
    real, fake = _decks()
    box = real_or_fake_widget(real, fake, rounds=4, seed=1)
    for _ in range(4):
        box.real_button.click()  # "real" every time: both fakes fool the player
    assert "2 generated image(s) fooled you" in box.feedback.value
    assert "The 2 generated image(s) you called real" in box.caption.value
    picture = _png(box.image.value)
    assert picture.size[0] > picture.size[1]  # the two fakes side by side


def test_widget_game_over_thumbnails_are_readable():
    """28x28 images: each fake that fooled the player is >= 84 px on screen, upsampled in the PNG
    (nearest neighbour, so the browser does not blur them), and the widget shows the PNG at its
    own size. (A learner saw them squeezed into a 140 px box: 35 px each.)"""
    pytest.importorskip("ipywidgets")
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(30, 1, 28, 28, generator=gen) * 2 - 1
    fake = torch.rand(30, 1, 28, 28, generator=gen) * 2 - 1
    box = real_or_fake_widget(real, fake, rounds=20, seed=0)
    playing = _png(box.image.value)
    assert playing.size == (140, 140) and box.image.width == "140"  # 5x, one image
    for _ in range(20):
        box.real_button.click()  # all 10 fakes fool the player
    fooled = box.game.fooled_by()
    assert len(fooled) == 10 and "10 generated image(s)" in box.caption.value
    picture = _png(box.image.value)
    width, height = picture.size
    assert (box.image.width, box.image.height) == (str(width), str(height))  # not resized
    per_row, rows = 5, 2
    assert width / per_row >= 84 and height / rows >= 84
    assert width <= 800  # still fits a notebook's output area
    # Oracle: the first thumbnail is the first fooling fake, each pixel a 4x4 block.
    scale, first = 4, (box.game.images[fooled[0], 0].numpy() + 1) / 2  # [28, 28] in [0, 1]
    expected = np.kron(np.floor(first * 255 + 0.5), np.ones((scale, scale)))
    thumb = np.asarray(picture.convert("L"))[scale : 29 * scale, scale : 29 * scale]
    np.testing.assert_array_equal(thumb, expected)

    box.restart_button.click()  # a new game is back to one image at 140 px
    assert _png(box.image.value).size == (140, 140) and box.image.layout.display is None


def test_widget_hides_the_image_when_no_fake_fooled_the_player():
    pytest.importorskip("ipywidgets")
    real, fake = _decks()
    box = real_or_fake_widget(real, fake, rounds=4, seed=1)
    for _ in range(4):
        is_real = bool(box.game.truth[box.game.position])
        (box.real_button if is_real else box.fake_button).click()
    assert "0 generated image(s) fooled you" in box.feedback.value
    assert box.image.layout.display == "none" and "No generated image" in box.caption.value


def test_importing_quality_needs_no_jupyter():
    import subprocess
    import sys

    code = (
        "import sys, gannotes.quality\n"
        "bad = {m.split('.')[0] for m in sys.modules} & {'IPython', 'ipywidgets', 'nbformat'}\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_widget_still_is_the_first_cards_with_their_answers():
    """The book's picture of the game (gannotes.viz.with_still): the first images of the deck
    the widget starts with, each labelled with its answer, drawn without playing the live game."""
    pytest.importorskip("ipywidgets")
    real, fake = _decks()
    box = real_or_fake_widget(real, fake, rounds=4, seed=1)
    panels = box.still_panels()
    assert box.game.position == 0  # drawing the still did not play the live game
    assert len(panels) == 4
    for i, (label, png) in enumerate(panels):
        truth = bool(box.game.truth[i])
        assert label == f"image {i + 1}: " + ("real" if truth else "generated")
        want = (box.game.images[i, 0].numpy() + 1) / 2  # oracle: the card, enlarged
        got = np.asarray(_png(png).convert("L")).astype(float) / 255
        scale = got.shape[0] // want.shape[0]
        np.testing.assert_allclose(got[::scale, ::scale], want, atol=1 / 255 + 1e-6)
    assert _png(box.still())  # the laid-out still decodes
