"""gannotes.fairness against exact counts, stub classifiers and SciPy's truncated normal; and the
recorded bias benchmark (results/bias.json) against the shipped skewed DCGAN."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes import fairness as fair

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "bias.json"
SKEWED = ROOT / "data" / "checkpoints" / "dcgan_skewed.pt"


def labelled(counts: dict[int, int]):
    """Images whose pixel value encodes their label ((label - 5) / 10), with those labels."""
    y = torch.cat([torch.full((k,), c) for c, k in counts.items()])
    x = ((y.float() - 5) / 10)[:, None, None, None].expand(-1, 1, 28, 28).clone()
    return x, y


def stub_classifier(x):
    """Reads the label back from the pixel value: a classifier that is never wrong."""
    return (x[:, 0, 0, 0] * 10 + 5).round().long().numpy()


# ----------------------------------------------------------------------------- shares


def test_label_shares_are_exact_counts():
    np.testing.assert_array_equal(
        fair.label_shares(np.array([1, 1, 1, 8])), [0, 0.75, 0, 0, 0, 0, 0, 0, 0.25, 0]
    )
    with pytest.raises(ValueError, match="0..9"):
        fair.label_shares(np.array([0, 10]))


def test_class_shares_with_a_stub_classifier():
    x, y = labelled({1: 6, 7: 3, 8: 1})
    shares = fair.class_shares(x, classify=stub_classifier)
    np.testing.assert_allclose(shares, fair.label_shares(y.numpy()))
    assert shares.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="one class per image"):
        fair.class_shares(x, classify=lambda t: np.zeros(3, dtype=int))


def test_class_shares_of_real_images_with_the_course_classifier():
    from gannotes.data import load_fashion_mnist

    test = load_fashion_mnist("test", subset=True)  # 200 a class
    keep = (test.labels == 1) | (test.labels == 8)  # Trouser, Bag: easy classes
    shares = fair.class_shares(test.images[keep])
    assert shares[1] == pytest.approx(0.5, abs=0.03) and shares[8] == pytest.approx(0.5, abs=0.03)


# ----------------------------------------------------------------------------- skew, rebalance


def test_skewed_subset_has_the_exact_counts():
    x, y = labelled({1: 100, 7: 100, 8: 100, 0: 50})
    xs, ys = fair.skewed_subset(x, y, {1: 0.7, 7: 0.2, 8: 0.1}, n=101, seed=3)
    counts = np.bincount(ys.numpy(), minlength=10)
    # 70.7, 20.2, 10.1 -> floors 70, 20, 10, the one left over to the largest remainder (class 1)
    assert (counts[1], counts[7], counts[8], counts.sum()) == (71, 20, 10, 101)
    np.testing.assert_array_equal(stub_classifier(xs), ys.numpy())  # images stay with labels
    again = fair.skewed_subset(x, y, {1: 0.7, 7: 0.2, 8: 0.1}, n=101, seed=3)
    assert torch.equal(again[1], ys)


def test_skewed_subset_draws_without_replacement():
    x = torch.linspace(-1, 1, 40)[:, None, None, None].expand(-1, 1, 28, 28).clone()
    y = torch.tensor([1] * 20 + [8] * 20)
    xs, _ = fair.skewed_subset(x, y, {1: 0.5, 8: 0.5}, n=40)
    assert len(torch.unique(xs[:, 0, 0, 0])) == 40  # every image once


@pytest.mark.parametrize(
    "shares, n, match",
    [
        ({1: 0.7, 8: 0.2}, 10, "sum to 1"),
        ({1: 1.2, 8: -0.2}, 10, "> 0"),
        ({11: 1.0}, 10, "classes 0..9"),
        ({1: 0.5, 8: 0.5}, 0, "positive int"),
        ({1: 0.9, 8: 0.1}, 200, "fewer than"),
    ],
)
def test_skewed_subset_rejects_bad_input(shares, n, match):
    x, y = labelled({1: 100, 8: 100})
    with pytest.raises(ValueError, match=match) as err:
        fair.skewed_subset(x, y, shares, n)
    assert "\n" not in str(err.value)


def test_rebalanced_has_exactly_equal_counts():
    x, y = labelled({1: 70, 7: 20, 8: 9})
    xb, yb = fair.rebalanced(x, y, seed=1)
    counts = np.bincount(yb.numpy(), minlength=10)
    assert (counts[1], counts[7], counts[8]) == (70, 70, 70) and counts.sum() == 210
    np.testing.assert_array_equal(stub_classifier(xb), yb.numpy())


def test_rebalanced_repeats_each_minority_image_evenly():
    x = torch.linspace(-1, 1, 13)[:, None, None, None].expand(-1, 1, 28, 28).clone()
    y = torch.tensor([1] * 10 + [8] * 3)
    xb, yb = fair.rebalanced(x, y)
    _, times = torch.unique(xb[yb == 8][:, 0, 0, 0], return_counts=True)
    # 10 = 3 x 3 + 1: every Bag three or four times, exactly one of them four
    assert sorted(times.tolist()) == [3, 3, 4]
    assert torch.unique(xb[yb == 1][:, 0, 0, 0]).numel() == 10  # the majority untouched


# ----------------------------------------------------------------------------- truncation


def test_truncated_normal_matches_scipy():
    from scipy import stats

    z = fair.truncated_normal((20_000,), 0.8, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.8
    ks = stats.kstest(z.numpy(), stats.truncnorm(-0.8, 0.8).cdf)
    assert ks.pvalue > 0.01
    assert float(z.std()) == pytest.approx(stats.truncnorm(-0.8, 0.8).std(), rel=0.02)


class RecordingFamily:
    """A family stand-in: z of 16 dims (and labels, when conditional); records what it gets."""

    def __init__(self, conditional=False):
        self.conditional = conditional
        self.inputs = None

    def latent(self, n, generator=None):
        z = torch.randn(n, 16, generator=generator)
        return (z, torch.arange(n) % 10) if self.conditional else z

    def generate(self, inputs):
        self.inputs = inputs
        return torch.zeros(len(inputs[0] if isinstance(inputs, tuple) else inputs), 1, 28, 28)


def test_z_truncated_sample_bounds_z():
    fam = RecordingFamily()
    out = fair.z_truncated_sample(fam, 500, psi=0.5, seed=1)
    assert out.shape == (500, 1, 28, 28)
    assert fam.inputs.abs().max() <= 0.5 and fam.inputs.abs().max() > 0.45
    fair.z_truncated_sample(fam, 500, psi=None, seed=1)
    plain = fam.inputs
    assert plain.abs().max() > 2.5  # untruncated
    fair.z_truncated_sample(fam, 500, psi=0.5, seed=1, method="scale")
    torch.testing.assert_close(fam.inputs, 0.5 * plain)  # the same z, scaled


def test_z_truncated_sample_keeps_the_other_inputs():
    fam = RecordingFamily(conditional=True)
    fair.z_truncated_sample(fam, 30, psi=1.0, seed=0)
    z, labels = fam.inputs
    assert z.abs().max() <= 1.0
    assert torch.equal(labels, torch.arange(30) % 10)


def test_z_truncated_sample_on_a_dcgan():
    from gannotes.gans import family_for_config
    from gannotes.training import default_config

    cfg = default_config("dcgan", "fashion-mnist")
    fam = family_for_config(cfg)(cfg, torch.device("cpu"))
    out = fair.z_truncated_sample(fam, 4, psi=0.7, seed=0)
    assert out.shape == (4, 1, 28, 28) and out.abs().max() <= 1
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        fair.z_truncated_sample(fam, 4, psi=2.0, method="scale")
    with pytest.raises(ValueError, match="method"):
        fair.z_truncated_sample(fam, 4, psi=0.5, method="clip")


def test_amplification():
    data = np.array([0, 0.7, 0, 0, 0, 0, 0, 0.2, 0.1, 0])
    samples = np.array([0, 0.84, 0, 0, 0, 0, 0, 0.1, 0.05, 0.01])
    assert fair.amplification(samples, data) == pytest.approx(1.2)  # the majority (class 1)
    assert fair.amplification(samples, data, cls=8) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no share"):
        fair.amplification(samples, data, cls=0)


# ----------------------------------------------------------------------------- the recorded benchmark


def test_recorded_bias_results():
    result = json.loads(RESULT.read_text())
    assert result["command"].startswith("python benchmarks/bias.py")
    classes = [str(c) for c in result["shares"]]
    data = result["data_shares"]
    assert sum(data["labels"].values()) == pytest.approx(1)
    for model in ("skewed", "rebalanced"):
        rows = result["models"][model]["truncation"]
        assert {"none", "0.5"} <= set(rows)
        for row in rows.values():
            assert set(classes) <= set(row["shares"])
            assert 0 <= row["other"] <= 1
            assert sum(row["shares"].values()) + row["other"] == pytest.approx(1)
    majority = max(data["labels"], key=data["labels"].get)
    minority = min(data["labels"], key=data["labels"].get)
    skewed = result["models"]["skewed"]["truncation"]
    rebalanced = result["models"]["rebalanced"]["truncation"]
    # the GAN reproduces the skew: its majority's share is near the data's
    assert skewed["none"]["shares"][majority] == pytest.approx(data["labels"][majority], abs=0.05)
    # truncation erases the minority: its share falls as psi tightens
    minority_shares = [
        skewed[psi]["shares"][minority] for psi in ("none", "1.5", "1", "0.5", "0.25")
    ]
    assert minority_shares == sorted(minority_shares, reverse=True)
    assert minority_shares[-1] < 0.5 * minority_shares[0]
    # the mitigation: rebalanced data gives each class about a third
    for share in rebalanced["none"]["shares"].values():
        assert share == pytest.approx(1 / 3, abs=0.08)
    # on the balanced StyleGAN, truncation widens the gap between the largest and smallest class
    gaps = [result["stylegan_balanced"][psi]["max_over_min"] for psi in ("1", "0.7", "0.5")]
    assert gaps == sorted(gaps) and gaps[-1] > 2 * gaps[0]
    # the classifier's own error on the real classes, the measurement's error bar
    assert result["classifier_accuracy_on_real"]["all"] >= 0.9


def test_shipped_skewed_dcgan_reproduces_its_recorded_shares():
    from gannotes.training import load_family

    result = json.loads(RESULT.read_text())
    check = result["check"]
    fam = load_family(SKEWED)
    x = fair.z_truncated_sample(fam, check["n"], None, seed=check["seed"])
    shares = fair.class_shares(x)
    for c, share in check["shares"].items():
        assert shares[int(c)] == pytest.approx(share, abs=0.02)
    # and the 500 agree with the 5,000 of the table within sampling error
    full = result["models"]["skewed"]["truncation"]["none"]["shares"]
    for c, share in full.items():
        assert shares[int(c)] == pytest.approx(share, abs=0.07)
