"""gannotes.detection against oracles: scikit-learn's average precision, SciPy's Gaussian filter,
exact arithmetic for the 8-bit round trip; and the recorded benchmark (results/detection.json)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes import detection as det

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "detection.json"


def images(n=8, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ----------------------------------------------------------------------------- average precision


@pytest.mark.parametrize("n", [2, 7, 50, 400])
@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_matches_sklearn(n, ties):
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(n + ties)
    labels = rng.integers(0, 2, n)
    labels[0] = 1  # at least one positive
    scores = rng.random(n)
    if ties:
        scores = np.round(scores * 4) / 4  # five distinct values: many ties
    assert det.average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )


def test_average_precision_extremes():
    assert det.average_precision([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    # every positive ranked last: precision 1/3 then 2/4
    assert det.average_precision([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(
        0.5 * (1 / 3) + 0.5 * (2 / 4)
    )
    # one score for all: AP is the positives' share
    assert det.average_precision([1, 0, 0, 0], [0.5] * 4) == 0.25


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([0, 0], [0.1, 0.2], "positive"),
        ([0, 2], [0.1, 0.2], "0 or 1"),
        ([0, 1], [0.1, np.nan], "finite"),
        ([0, 1, 1], [0.1, 0.2], "one length"),
    ],
)
def test_average_precision_rejects_bad_input(labels, scores, match):
    with pytest.raises(ValueError, match=match):
        det.average_precision(labels, scores)


# ----------------------------------------------------------------------------- degradations


def test_quantise_8bit_idempotent_and_within_half_a_level():
    x = images(16)
    q = det.quantise_8bit(x)
    assert (q - x).abs().max() <= 1 / 255 + 1e-6
    assert torch.equal(det.quantise_8bit(q), q)
    levels = (q + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4)  # on the 256-level grid
    assert q.min() >= -1 and q.max() <= 1


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_gaussian_blur_matches_scipy(sigma):
    from scipy.ndimage import gaussian_filter

    x = images(3)
    ours = det.gaussian_blur(x, sigma).numpy()
    ref = np.stack([gaussian_filter(img[0].double().numpy(), sigma, mode="nearest") for img in x])
    np.testing.assert_allclose(ours[:, 0], ref, atol=1e-5)


def test_gaussian_blur_zero_and_constant():
    x = images(2)
    assert torch.equal(det.gaussian_blur(x, 0), x)
    flat = torch.full((2, 1, 28, 28), -0.3)
    torch.testing.assert_close(det.gaussian_blur(flat, 1.5), flat)  # border extended, not zeros


def test_add_noise_has_the_asked_std_and_stays_in_range():
    grey = torch.zeros(50, 1, 28, 28)
    noisy = det.add_noise(grey, 0.05, seed=1)
    assert float(noisy.std()) == pytest.approx(0.05, rel=0.02)
    assert abs(float(noisy.mean())) < 2e-3
    assert torch.equal(noisy, det.add_noise(grey, 0.05, seed=1))  # reproducible
    black = det.add_noise(torch.full((4, 1, 28, 28), -1.0), 0.5, seed=0)
    assert black.min() == -1 and black.max() <= 1


def test_jpeg_round_trip():
    x = det.quantise_8bit(det.gaussian_blur(images(4), 1.0))  # smooth, so JPEG keeps it well
    high, low = det.jpeg(x, 95), det.jpeg(x, 10)
    assert high.shape == x.shape
    err_high, err_low = (high - x).abs().mean(), (low - x).abs().mean()
    assert err_high < 0.03 < err_low
    assert torch.equal(det.quantise_8bit(high), high)  # 8-bit output
    with pytest.raises(ValueError, match="quality"):
        det.jpeg(x, 100)


def test_wang_augment_is_seeded_and_keeps_shape():
    x = images(32)
    a = det.wang_augment(x, torch.Generator().manual_seed(3))
    b = det.wang_augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    changed = ((a - x).abs().flatten(1).max(1).values > 1e-6).float().mean()
    assert 0.5 < changed < 1  # p = 0.5 twice: about 3/4 of the images touched
    assert torch.equal(det.wang_augment(x, torch.Generator(), p=0.0), x)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: det.quantise_8bit(torch.zeros(2, 3, 28, 28)), r"\[N, 1, 28, 28\]"),
        (lambda: det.add_noise(torch.full((1, 1, 28, 28), 2.0), 0.1), r"\[-1, 1\]"),
        (lambda: det.add_noise(images(1), -0.1), "std"),
        (lambda: det.gaussian_blur(images(1), float("nan")), "sigma"),
        (lambda: det.train_detector(images(5), images(20)), "at least 10"),
    ],
)
def test_bad_input_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- the detector


def test_detector_separates_a_trivially_separable_pair():
    """Real: dark images; fake: the same plus a bright checkerboard (a generator's trace)."""
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 28, 28, generator=g) * 0.5 - 1
    checker = ((torch.arange(28)[:, None] + torch.arange(28)) % 2).float()
    fake = (torch.rand(64, 1, 28, 28, generator=g) * 0.5 - 1 + checker).clamp(-1, 1)
    model = det.train_detector(real, fake, epochs=4, batch_size=32, lr=3e-3)
    real_t = torch.rand(50, 1, 28, 28, generator=g) * 0.5 - 1
    fake_t = (torch.rand(50, 1, 28, 28, generator=g) * 0.5 - 1 + checker).clamp(-1, 1)
    report = det.detection_report(model, real_t, fake_t)
    assert report.accuracy == 1.0 and report.average_precision == 1.0
    assert report.real_accuracy == report.fake_accuracy == report.best_accuracy == 1.0
    assert (report.n_real, report.n_fake) == (50, 50)
    scores = det.detector_scores(model, fake_t)
    assert scores.dtype == np.float64 and scores.shape == (50,) and (scores > 0.5).all()


def test_train_detector_is_deterministic_and_leaves_global_rng():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.rand(20, 1, 28, 28, generator=g) - 1, torch.rand(20, 1, 28, 28, generator=g)
    state = torch.get_rng_state()
    a = det.train_detector(real, fake, epochs=1, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = det.train_detector(real, fake, epochs=1, seed=5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_best_accuracy_is_the_best_threshold():
    labels = np.array([0, 0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7])
    # brute force over thresholds between and around the scores
    cuts = np.r_[-1, (scores[1:] + scores[:-1]) / 2, 2]
    brute = max(((scores > t) == labels).mean() for t in cuts)
    assert det._best_accuracy(labels, scores) == pytest.approx(brute)


# ----------------------------------------------------------------------------- the recorded benchmark


ROWS = {
    "dcgan",
    "cgan_projection",
    "stylegan",
    "wgan_gp",
    "dcgan_blur",
    "dcgan_noise",
    "dcgan_8bit",
    "dcgan_jpeg",
}


def test_recorded_detection_results():
    result = json.loads(RESULT.read_text())
    assert result["command"].startswith("python benchmarks/deepfake_detection.py")
    assert result["machine"]
    for detector in ("plain", "augmented"):
        rows = result["detectors"][detector]["rows"]
        assert set(rows) == ROWS
        for row in rows.values():
            for key in ("accuracy", "average_precision", "real_accuracy", "fake_accuracy"):
                assert 0 <= row[key] <= 1
            assert row["n_real"] == row["n_fake"] >= 1000
    plain = result["detectors"]["plain"]["rows"]
    assert plain["dcgan"]["accuracy"] >= 0.95  # the acceptance: in distribution
    assert plain["dcgan"]["average_precision"] >= 0.95
