"""gannotes.privacy: the memorisation audit and the membership-inference attacks.

Oracles: scikit-learn's roc_auc_score and roc_curve for the attacks' scores (kept beside hand
cases with a closed form), planted exact copies for the audit, a "generator" that returns its
members and a discriminator that is a known function for the attacks. The last tests tie
benchmarks/results/membership.json to its targets and to the shipped data/checkpoints/
dcgan_overfit.pt and dcgan_overfit_augment.pt.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from gannotes.privacy import (
    ATTACKS,
    auc_standard_error,
    gan_leaks_scores,
    logan_scores,
    membership_inference,
    memorisation_audit,
    roc_auc,
    tpr_at_fpr,
)

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "membership.json"

# ----------------------------------------------------------------------------- judging an attack


def test_roc_auc_hand_cases():
    assert roc_auc([3.0, 4.0], [1.0, 2.0]) == 1.0  # perfect separation
    assert roc_auc([1.0, 2.0], [3.0, 4.0]) == 0.0  # reversed
    assert roc_auc([5.0, 5.0, 5.0], [5.0, 5.0]) == 0.5  # identical: every pair a tie
    # pairs (m, n): (2,1) win, (2,3) loss, (3,1) win, (3,3) tie -> (2 + 0.5) / 4
    assert roc_auc([2.0, 3.0], [1.0, 3.0]) == 0.625


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_sklearn_with_ties(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 8, size=37).astype(float)  # few distinct values: many ties
    n = rng.integers(-2, 6, size=53).astype(float)
    want = metrics.roc_auc_score(np.r_[np.ones(37), np.zeros(53)], np.r_[m, n])
    assert math.isclose(roc_auc(m, n), want, abs_tol=1e-12)
    cont_m, cont_n = rng.normal(0.3, 1, 200), rng.normal(0, 1, 150)
    want = metrics.roc_auc_score(np.r_[np.ones(200), np.zeros(150)], np.r_[cont_m, cont_n])
    assert math.isclose(roc_auc(torch.tensor(cont_m), cont_n), want, abs_tol=1e-12)


def _delong_by_pairs(m: np.ndarray, n: np.ndarray) -> float:
    """The reference: DeLong et al. (1988) written with the m x n table of pair comparisons."""
    psi = (m[:, None] > n[None, :]) + 0.5 * (m[:, None] == n[None, :])  # [m, n]
    v10, v01 = psi.mean(1), psi.mean(0)
    return math.sqrt(v10.var(ddof=1) / len(m) + v01.var(ddof=1) / len(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_standard_error_is_delongs_with_ties(seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 8, size=37).astype(float)  # many ties
    n = rng.integers(-2, 6, size=53).astype(float)
    assert math.isclose(auc_standard_error(m, n), _delong_by_pairs(m, n), rel_tol=1e-12)
    cm, cn = rng.normal(0.5, 1, 120), rng.normal(0, 1, 90)
    assert math.isclose(
        auc_standard_error(torch.tensor(cm), cn), _delong_by_pairs(cm, cn), rel_tol=1e-12
    )


def test_auc_standard_error_is_the_spread_of_auc_over_draws():
    """Over many independent draws of 256 + 256 scores, the AUC's standard deviation is what
    the formula says: for an attack with no signal, also the Mann-Whitney null value
    sqrt((m + n + 1) / (12 m n)) = 0.0255; and for a real signal."""
    rng = np.random.default_rng(0)
    for shift in (0.0, 1.0):
        aucs, ses = [], []
        for _ in range(400):
            m, n = rng.normal(shift, 1, 256), rng.normal(0, 1, 256)
            aucs.append(roc_auc(m, n))
            ses.append(auc_standard_error(m, n))
        spread, se = float(np.std(aucs, ddof=1)), float(np.mean(ses))
        assert abs(spread - se) < 0.1 * spread, (shift, spread, se)
        if shift == 0.0:
            assert abs(se - math.sqrt(513 / (12 * 256 * 256))) < 0.001
            # an attack with no signal lands below 0.5 about as often as above
            assert 0.4 < np.mean(np.array(aucs) < 0.5) < 0.6


def test_auc_standard_error_edge_cases():
    assert auc_standard_error([3.0, 4.0], [1.0, 2.0]) == 0.0  # perfect: no spread left
    with pytest.raises(ValueError, match=">= 2 scores on each side"):
        auc_standard_error([1.0], [0.0, 2.0])


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.1, 0.25, 0.5])
def test_tpr_at_fpr_is_the_best_roc_point_left_of_fpr(fpr):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for m, n in (
        (rng.normal(1, 1, 120), rng.normal(0, 1, 100)),
        (rng.integers(0, 5, 80).astype(float), rng.integers(0, 4, 90).astype(float)),  # ties
    ):
        roc_fpr, roc_tpr, _ = metrics.roc_curve(
            np.r_[np.ones(len(m)), np.zeros(len(n))], np.r_[m, n], drop_intermediate=False
        )
        want = roc_tpr[roc_fpr <= fpr + 1e-12].max()
        assert math.isclose(tpr_at_fpr(m, n, fpr), want, abs_tol=1e-12)
    assert tpr_at_fpr([3.0, 4.0], [1.0, 2.0], 0.0) == 1.0
    assert tpr_at_fpr([1.0, 1.0], [1.0, 1.0], 0.1) == 0.0  # ties never count as caught


def test_scores_reject_bad_input():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        roc_auc([], [1.0])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        roc_auc(np.zeros((2, 2)), [1.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        roc_auc([1.0], [math.nan])
    with pytest.raises(ValueError, match="fpr must be in"):
        tpr_at_fpr([1.0], [0.0], 1.0)


# ----------------------------------------------------------------------------- the attacks


class _MeanD(nn.Module):
    """A toy discriminator whose logit is a known function: 3 * mean pixel - 1 (and a
    BatchNorm, so that its mode matters)."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(1)

    def forward(self, x):
        assert not self.training  # the attack reads D in eval mode
        return 3 * x.flatten(1).mean(1) - 1


def test_logan_scores_are_d_logits_in_eval_mode_with_mode_restored():
    D = _MeanD().train()
    x = torch.randn(23, 1, 4, 4)
    scores = logan_scores(D, x, batch=5)  # chunks of 5, the last of 3
    np.testing.assert_allclose(scores, (3 * x.flatten(1).mean(1) - 1).numpy(), rtol=1e-6)
    assert scores.shape == (23,) and D.training
    bright, dark = torch.full((10, 1, 4, 4), 0.5), torch.full((10, 1, 4, 4), -0.5)
    assert roc_auc(logan_scores(D, bright), logan_scores(D, dark)) == 1.0


def test_logan_scores_need_one_logit_per_image():
    D = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(ValueError, match="one logit per image"):
        logan_scores(D, torch.zeros(3, 1, 4, 4))
    with pytest.raises(ValueError, match=r"batch \[N, ...\]"):
        logan_scores(D, torch.zeros(0, 1, 4, 4))


def test_gan_leaks_catches_a_generator_that_returns_its_members():
    gen = torch.Generator().manual_seed(0)
    members, nonmembers = (
        torch.rand(40, 1, 8, 8, generator=gen),
        torch.rand(40, 1, 8, 8, generator=gen),
    )
    pick = torch.randint(0, 40, (400,), generator=gen)
    generated = members[pick]  # copies of members only
    sm, sn = gan_leaks_scores(generated, members), gan_leaks_scores(generated, nonmembers)
    assert roc_auc(sm, sn) == 1.0 and tpr_at_fpr(sm, sn, 0.0) == 1.0
    copied = np.isin(np.arange(40), pick.numpy())  # members drawn at least once: at distance 0
    assert (sm[copied] == 0).all() and (sm[~copied] < 0).all() and (sn < 0).all()
    # the score is minus the distance to the nearest generated sample (brute force)
    d = torch.cdist(nonmembers.flatten(1).double(), generated.flatten(1).double()).min(1).values
    np.testing.assert_allclose(sn, -d.numpy(), rtol=1e-9)
    with pytest.raises(ValueError, match="same shape per image"):
        gan_leaks_scores(generated, torch.zeros(2, 1, 4, 4))


def _toy_family(members):
    """A stand-in for a loaded GAN family: G returns noisy copies of ``members`` and D scores
    closeness to the members' mean, so both attacks should find the members."""
    D = _MeanD()

    def sample(n, seed=0):
        gen = torch.Generator().manual_seed(seed)
        pick = torch.randint(0, len(members), (n,), generator=gen)
        return members[pick] + 0.01 * torch.randn(n, *members.shape[1:], generator=gen)

    return SimpleNamespace(name="toy", networks={"D": D}, sample=sample)


def test_membership_inference_reports_both_attacks():
    gen = torch.Generator().manual_seed(1)
    members = torch.rand(30, 1, 6, 6, generator=gen) + 0.5  # brighter: D scores them higher
    nonmembers = torch.rand(30, 1, 6, 6, generator=gen) - 0.5
    table = membership_inference(_toy_family(members), members, nonmembers, n_generated=300)
    assert tuple(table) == ATTACKS
    for result in table.values():
        assert result.auc == 1.0 and result.tpr == 1.0 and result.fpr == 0.1
        assert result.se == 0.0  # the standard error of a perfect separation
    no_d = SimpleNamespace(name="toy", networks={}, sample=None)
    with pytest.raises(ValueError, match="no discriminator"):
        membership_inference(no_d, members, nonmembers)
    with pytest.raises(ValueError, match="same shape per image"):
        membership_inference(_toy_family(members), members, torch.zeros(3, 1, 5, 5))
    with pytest.raises(ValueError, match="n_generated"):
        membership_inference(_toy_family(members), members, nonmembers, n_generated=0)


# ----------------------------------------------------------------------------- memorisation


def test_memorisation_audit_flags_planted_copies_and_few_fresh_images():
    gen = torch.Generator().manual_seed(2)
    train = torch.rand(200, 1, 8, 8, generator=gen)
    heldout = torch.rand(300, 1, 8, 8, generator=gen)
    fresh = torch.rand(100, 1, 8, 8, generator=gen)  # new draws of the data distribution
    samples = torch.cat([fresh[:50], train[[5, 17, 99]], fresh[50:]])  # copies at 50, 51, 52
    audit = memorisation_audit(samples, train, heldout, quantile=0.01)
    assert audit.distances[50:53].tolist() == [0.0, 0.0, 0.0]
    assert audit.indices[50:53].tolist() == [5, 17, 99]
    # the rule, by brute force: closer to train than the held-out images' 1st percentile
    nearest = torch.cdist(samples.flatten(1).double(), train.flatten(1).double()).min(1).values
    yardstick = torch.cdist(heldout.flatten(1).double(), train.flatten(1).double()).min(1).values
    np.testing.assert_allclose(audit.heldout_distances, yardstick.numpy(), rtol=1e-9)
    assert audit.threshold == pytest.approx(np.quantile(yardstick.numpy(), 0.01))
    assert audit.flagged.tolist() == np.flatnonzero(nearest.numpy() < audit.threshold).tolist()
    assert {50, 51, 52} <= set(audit.flagged.tolist()) and audit.threshold > 0
    fresh_flagged = len(audit.flagged) - 3  # a fresh image is flagged with probability ~1%
    assert fresh_flagged <= 4 and audit.fraction == len(audit.flagged) / 103
    # the held-out images against their own yardstick: `quantile` of them, by construction
    own = memorisation_audit(heldout, train, heldout, quantile=0.1)
    assert abs(own.fraction - 0.1) <= 1 / 300


def test_memorisation_audit_rejects_bad_input():
    x = torch.zeros(10, 1, 4, 4)
    with pytest.raises(ValueError, match="quantile must be in"):
        memorisation_audit(x, x, x, quantile=0.0)
    with pytest.raises(ValueError, match="needs at least 100 held-out"):
        memorisation_audit(x, x, x, quantile=0.01)
    with pytest.raises(ValueError, match="same shape per image"):
        memorisation_audit(x, torch.zeros(10, 1, 5, 5), x, quantile=0.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        memorisation_audit(x, x, torch.full((10, 1, 4, 4), math.inf), quantile=0.5)


# ----------------------------------------------------------------------------- recorded results


def test_recorded_membership_inference_meets_its_targets():
    """benchmarks/results/membership.json (python benchmarks/membership.py): the GAN overfit on
    a few hundred images leaks (best attack AUC >= 0.8), the full-data one barely (<= 0.6), and
    both mitigations of the overfit one (DiffAugment, early stopping) leak less."""
    result = json.loads(RESULT.read_text())
    gans = result["gans"]
    best = {name: max(gan["attacks"][a]["auc"] for a in ATTACKS) for name, gan in gans.items()}
    assert best == {name: gan["best_auc"] for name, gan in gans.items()}
    assert best["overfit"] >= result["targets"]["overfit_auc_min"] == 0.8
    assert best["full"] <= result["targets"]["full_auc_max"] == 0.6
    assert best["overfit_augment"] <= 0.6 and best["overfit_early_stop"] < best["overfit"]
    assert gans["overfit"]["steps"] == gans["full"]["steps"]  # equal training, only data differs
    for name in ("overfit", "full", "overfit_augment", "overfit_early_stop"):
        assert gans[name]["command"].startswith("python -m gannotes train dcgan"), name
    # what leaks is D's memory, not copies: no GAN's samples are flagged by the audit (a
    # generator of fresh images has ~1% flagged)
    for name, gan in gans.items():
        assert gan["audit"]["fraction"] <= 0.02, name


@pytest.mark.parametrize("name", ["overfit", "overfit_augment"])
def test_shipped_model_reproduces_its_recorded_white_box_auc(name):
    """data/checkpoints/dcgan_overfit*.pt are the checkpoints the recorded table measured: their
    D's LOGAN AUC on their members against the same held-out images is re-measured here."""
    from gannotes.data import load_fashion_mnist
    from gannotes.training import load_family

    recorded = json.loads(RESULT.read_text())
    gan = recorded["gans"][name]
    family = load_family(ROOT / gan["checkpoint"])
    assert family.config.data_limit == gan["train_images"] == recorded["n_members"]
    assert gan["members"] == f"train[:{recorded['n_members']}]"
    assert recorded["nonmembers"] == f"test[:{recorded['n_nonmembers']}]"
    members = load_fashion_mnist("train", limit=recorded["n_members"]).images
    nonmembers = load_fashion_mnist("test", limit=recorded["n_nonmembers"]).images
    D = family.networks["D"]
    auc = roc_auc(logan_scores(D, members), logan_scores(D, nonmembers))
    assert auc == pytest.approx(gan["attacks"]["logan"]["auc"], abs=0.005)


def test_roc_curve_matches_sklearn_and_its_area_is_roc_auc():
    from sklearn.metrics import auc
    from sklearn.metrics import roc_curve as sk_roc_curve

    from gannotes.privacy import roc_curve

    rng = np.random.default_rng(3)
    m = np.round(rng.normal(0.5, 1, 40), 1)  # rounded: ties within and across the groups
    n = np.round(rng.normal(0, 1, 50), 1)
    fpr, tpr = roc_curve(m, n)
    want_fpr, want_tpr, _ = sk_roc_curve(np.r_[np.ones(40), np.zeros(50)], np.r_[m, n],
                                         drop_intermediate=False)  # fmt: skip
    np.testing.assert_allclose(fpr, want_fpr)
    np.testing.assert_allclose(tpr, want_tpr)
    assert auc(fpr, tpr) == pytest.approx(roc_auc(m, n))
