"""gannotes.metrics against oracle packages, closed forms and small in-test references.

Oracles (test-only; each test skips where its package is absent):

* ``pytorch-fid``: ``fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2)`` (scipy sqrtm);
* ``torch-fidelity``: ``metric_fid`` (eigvals of S1 S2), ``metric_kid.kid_features_to_metric``,
  ``metric_isc.isc_features_to_metric`` and ``metric_prc.prc_features_to_metric``;
* ``prdc``: ``compute_prdc(real_features, fake_features, nearest_k)``.

Pitfalls these comparisons must respect:

* argument order: prdc and gannotes take (real, fake); torch-fidelity's P/R takes (fake, real);
* ball boundaries: the paper (and torch-fidelity) counts ``distance <= radius``, prdc ``<``. On
  continuous random data ties have probability zero; ``test_tie_*`` shows the difference;
* FID (and KID's variance) depend on N: compare the same computation at the same N, never a value
  at N=50 with one at N=1000;
* torch-fidelity's IS takes *logits* and shuffles with ``rng_seed=2020`` by default; we pass
  ``log(probs)`` (softmax(log p) = p) and compare with the same permutation or none;
* torch-fidelity's KID raises when ``subset_size > N`` (gannotes caps it), and it computes in the
  features' dtype, so it gets float64 tensors here.

pytorch-fid and torch-fidelity import torchvision at module import, and torchvision does not
import against every torch build (a CPU torch from another index: "operator torchvision::nms does
not exist"). The functions we compare with never touch it, so ``_oracle`` imports those modules
with a stub ``torchvision`` on ``sys.meta_path`` for the duration of the import only, and removes
the finder and every stub module afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import itertools
import math
import sys
import types
import warnings

import numpy as np
import pytest
import torch

from gannotes import metrics
from gannotes.data import TOY_STD, toy_centres, toy_data
from gannotes.metrics import (
    density_coverage,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    inception_score,
    kernel_distance,
    mode_coverage,
    nearest_neighbour_radii,
    polynomial_mmd2,
    precision_recall,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small matrices gain nothing from threads, and on a shared, loaded machine OpenMP's
    spinning threads made polynomial_mmd2 on 200 x 200 kernels ~100x slower. Restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


REL = 1e-4  # agreement required with every oracle
CASES = list(itertools.product([0, 1, 2], [50, 200, 1000], [2, 16, 64]))  # seed, N, D; not tuned


def features(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Real ~ N(0, I) ``[n, d]``; fake ``[0.8 n, d]`` is shifted and scaled, so no value is ~0."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d))
    fake = 1.3 * rng.standard_normal((int(0.8 * n), d)) + 0.4
    return real, fake


# ----------------------------------------------------------------------------- oracle loading


class _TorchvisionStub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``torchvision`` and any ``torchvision.x.y`` importable as empty stand-ins.

    Attribute access returns a fresh class whose attributes are classes again, so module-level
    code such as ``class FIDInceptionA(torchvision.models.inception.InceptionA)`` still runs.
    """

    class _Meta(type):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return type(cls)(name, (), {})

    class _Module(types.ModuleType):
        __path__: list[str] = []

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _TorchvisionStub._Meta(name, (), {})

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return self._Module(spec.name)

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def _stub_torchvision():
    if "torchvision" in sys.modules:  # a working torchvision is already imported: use it
        yield
        return
    finder = _TorchvisionStub()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]


def _oracle(module: str) -> types.ModuleType:
    with _stub_torchvision(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(module)


def test_oracle_loading_leaves_no_stub_behind():
    had_torchvision = "torchvision" in sys.modules
    _oracle("torch_fidelity.metric_isc")
    assert not any(isinstance(f, _TorchvisionStub) for f in sys.meta_path)
    assert ("torchvision" in sys.modules) == had_torchvision


def _rel_close(ours: float, theirs: float, rel: float = REL) -> None:
    assert ours == pytest.approx(theirs, rel=rel, abs=1e-12), (ours, theirs)


# ----------------------------------------------------------------------------- FID


def _fid_quietly(real, fake):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N <= D warns; tested in test_fid_small_sample_rule
        return frechet_distance(real, fake)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")  # scipy, in pytorch-fid
@pytest.mark.parametrize("seed,n,d", CASES)
def test_fid_matches_pytorch_fid(seed, n, d):
    """pytorch-fid takes statistics (np.mean, np.cov) and uses scipy's sqrtm of S1 S2."""
    fid_score = _oracle("pytorch_fid.fid_score")
    real, fake = features(seed, n, d)
    mu1, s1 = np.mean(real, 0), np.cov(real, rowvar=False)
    mu2, s2 = np.mean(fake, 0), np.cov(fake, rowvar=False)
    _rel_close(_fid_quietly(real, fake), fid_score.calculate_frechet_distance(mu1, s1, mu2, s2))


@pytest.mark.parametrize("seed,n,d", CASES)
def test_fid_matches_torch_fidelity(seed, n, d):
    """torch-fidelity's chain: features -> {mu, sigma} -> sum of sqrt(eigvals(S1 S2))."""
    metric_fid = _oracle("torch_fidelity.metric_fid")
    real, fake = features(seed, n, d)
    stats = [metric_fid.fid_features_to_statistics(torch.from_numpy(x)) for x in (real, fake)]
    theirs = metric_fid.fid_statistics_to_metric(*stats, verbose=False)
    _rel_close(_fid_quietly(real, fake), theirs["frechet_inception_distance"])


def test_feature_statistics_are_numpy_mean_and_cov():
    x = np.random.default_rng(0).standard_normal((30, 5)) * 3 + 1
    mu, sigma = feature_statistics(torch.from_numpy(x).float())
    assert mu.dtype == sigma.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x, rowvar=False), rtol=1e-5)


def _closed_form_fid(mu1, var1, mu2, var2):
    """Reference for Gaussians whose covariances commute (shared eigenvectors; eigenvalues var)."""
    return float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum())


@pytest.mark.parametrize("d", [1, 3, 50])
def test_fid_from_statistics_closed_form(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d) + 2
    var1, var2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = _closed_form_fid(mu1, var1, mu2, var2)
    _rel_close(
        frechet_distance_from_statistics(mu1, np.diag(var1), mu2, np.diag(var2)), expected, 1e-10
    )
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # same rotation of both: covariances commute
    s1, s2 = q @ np.diag(var1) @ q.T, q @ np.diag(var2) @ q.T
    _rel_close(frechet_distance_from_statistics(mu1, s1, mu2, s2), expected, 1e-8)


def test_fid_of_samples_approaches_closed_form_at_large_n():
    g = torch.Generator().manual_seed(0)
    std1, std2 = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 1.5])
    a = torch.randn(20000, 2, generator=g) * std1
    b = torch.randn(20000, 2, generator=g) * std2 + torch.tensor([1.0, -1.0])
    expected = _closed_form_fid(
        np.zeros(2), std1.numpy() ** 2, np.array([1.0, -1.0]), std2.numpy() ** 2
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(1).standard_normal((500, 32)) * 10 + 3
    assert frechet_distance(x, x) == pytest.approx(
        0.0, abs=1e-8 * np.trace(np.cov(x, rowvar=False))
    )
    assert frechet_distance(x, x) >= 0


def test_fid_small_sample_rule():
    """N < 2 raises; 2 <= N <= D warns (singular covariance, strong bias) but returns a value."""
    x = np.random.default_rng(0).standard_normal((10, 4))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(x[:1], x)
    with pytest.warns(UserWarning, match="singular covariance"):
        assert math.isfinite(frechet_distance(x[:4], x + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance(x[:5], x + 1)  # N = D + 1: no warning


# ----------------------------------------------------------------------------- KID


@pytest.mark.parametrize("seed,n,d", CASES)
def test_kid_matches_torch_fidelity(seed, n, d):
    """Same RNG draws (RandomState(seed), a's rows then b's rows) -> same subsets, same numbers."""
    metric_kid = _oracle("torch_fidelity.metric_kid")
    real, fake = features(seed, n, d)
    m = min(len(real), len(fake)) // 2  # real subsets, not the whole sets
    ours = kernel_distance(real, fake, subsets=4, subset_size=m, seed=seed)
    theirs = metric_kid.kid_features_to_metric(
        torch.from_numpy(real), torch.from_numpy(fake),
        kid_subsets=4, kid_subset_size=m, rng_seed=seed, verbose=False,
    )  # fmt: skip
    _rel_close(ours.mean, theirs["kernel_inception_distance_mean"])
    _rel_close(ours.std, theirs["kernel_inception_distance_std"], 1e-3)  # a difference of means


def test_kid_defaults_match_torch_fidelity():
    """Default subset size 1000 and seed handling as torch-fidelity's."""
    metric_kid = _oracle("torch_fidelity.metric_kid")
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((1100, 8)), rng.standard_normal((1000, 8)) + 0.2
    subsets = 3  # the default 100 would only cost time; the subset size is the default
    ours = kernel_distance(real, fake, subsets=subsets)
    theirs = metric_kid.kid_features_to_metric(
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=subsets,
        rng_seed=0,
        verbose=False,
    )
    _rel_close(ours.mean, theirs["kernel_inception_distance_mean"])
    with pytest.raises(ValueError, match="subset size"):  # where we cap, torch-fidelity raises
        metric_kid.kid_features_to_metric(
            torch.from_numpy(real), torch.from_numpy(fake[:900]), kid_subsets=1, verbose=False
        )


def test_kid_subset_size_is_capped_at_the_smaller_set():
    x, y = features(4, 120, 3)  # 120 and 96 samples
    capped = kernel_distance(x, y, subsets=3)  # subset_size=1000
    assert capped == kernel_distance(x, y, subsets=3, subset_size=96)


def _mmd2_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Eq. (4) of Binkowski et al. written as loops over pairs."""
    m, d = x.shape

    def k(p, q):
        return (p @ q / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


def test_polynomial_mmd2_matches_pairwise_reference():
    x, y = features(0, 12, 3)
    _rel_close(polynomial_mmd2(x[:9], y[:9]), _mmd2_reference(x[:9], y[:9]), 1e-10)


def test_kid_of_one_distribution_is_about_zero():
    """Unbiased: two samples of one distribution give a mean near 0, of either sign.

    A set against *itself* is slightly negative instead: subsets drawn from the same rows overlap,
    and each shared row adds its large k(x, x) to the cross term.
    """
    rng = np.random.default_rng(1)
    x, x2 = rng.standard_normal((1000, 16)), rng.standard_normal((1000, 16))
    shifted = kernel_distance(x, x2 + 0.3, subsets=20, subset_size=200).mean
    same = kernel_distance(x, x2, subsets=20, subset_size=200)
    assert abs(same.mean) < 3 * same.std / math.sqrt(20) and abs(same.mean) < 0.05 * shifted
    itself = kernel_distance(x, x, subsets=20, subset_size=200).mean
    assert -0.05 * shifted < itself <= 0


# ----------------------------------------------------------------------------- k-NN metrics


def _prdc(real, fake, k):
    return _oracle("prdc").compute_prdc(real_features=real, fake_features=fake, nearest_k=k)


@pytest.mark.parametrize("seed,n,d", CASES)
def test_prdc_metrics_match_prdc_on_continuous_data(seed, n, d):
    """No ties on continuous data, so prdc's strict ``<`` and our ``<=`` agree exactly."""
    real, fake = features(seed, n, d)
    k = 3 + seed  # k = 3, 4, 5
    theirs = _prdc(real, fake, k)
    pr, dc = precision_recall(real, fake, k=k), density_coverage(real, fake, k=k)
    _rel_close(pr.precision, theirs["precision"])
    _rel_close(pr.recall, theirs["recall"])
    _rel_close(dc.density, theirs["density"])
    _rel_close(dc.coverage, theirs["coverage"])


@pytest.mark.parametrize("seed,n,d", CASES[::4])
def test_precision_recall_matches_torch_fidelity(seed, n, d):
    """torch-fidelity takes (fake, real) -- the reverse of ours and prdc's -- and uses ``<=``."""
    metric_prc = _oracle("torch_fidelity.metric_prc")
    real, fake = features(seed, n, d)
    theirs = metric_prc.prc_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), prc_neighborhood=3, verbose=False
    )
    ours = precision_recall(real, fake, k=3)
    _rel_close(ours.precision, theirs["precision"])
    _rel_close(ours.recall, theirs["recall"])


# Real points 0, 1, 2, 3 (k=1: every radius is 1); the fake point 4 lies exactly on the ball of 3.
TIE_REAL, TIE_FAKE = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[4.0], [10.0], [20.0]])


def test_tie_on_the_ball_boundary_is_inside():
    """The paper's ``<=`` counts fake 4 (precision 1/3, density 1/3, coverage 1/4)."""
    assert precision_recall(TIE_REAL, TIE_FAKE, k=1) == pytest.approx((1 / 3, 1.0))
    assert density_coverage(TIE_REAL, TIE_FAKE, k=1) == pytest.approx((1 / 3, 1 / 4))


def test_tie_prdc_counts_it_outside():
    """prdc's strict ``<`` does not: this boundary rule is the only difference from prdc."""
    theirs = _prdc(TIE_REAL, TIE_FAKE, 1)
    assert (theirs["precision"], theirs["density"], theirs["coverage"]) == (0.0, 0.0, 0.0)
    assert theirs["recall"] == 1.0  # no tie there: the same as ours


def test_tie_torch_fidelity_counts_it_inside():
    metric_prc = _oracle("torch_fidelity.metric_prc")
    theirs = metric_prc.prc_features_to_metric(
        torch.from_numpy(TIE_FAKE), torch.from_numpy(TIE_REAL), prc_neighborhood=1, verbose=False
    )
    assert (theirs["precision"], theirs["recall"]) == pytest.approx((1 / 3, 1.0))


def _knn_reference(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """Eq. 1-3 of Kynkaanniemi et al. and Eq. 5-6 of Naeem et al. on full distance matrices."""

    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    r_real, r_fake = radii(real), radii(fake)
    d = np.linalg.norm(real[:, None] - fake[None], axis=2)  # [N_real, N_fake]
    inside_real = d <= r_real[:, None]
    precision = inside_real.any(0).mean()
    recall = (d <= r_fake[None, :]).any(1).mean()
    return precision, recall, inside_real.sum() / (k * len(fake)), inside_real.any(1).mean()


def test_chunked_knn_equals_full_matrix_reference(monkeypatch):
    """Chunks of a few rows (forced here) give the same answers, and duplicates are handled."""
    real, fake = features(5, 60, 3)
    real = np.concatenate([real, real[:5]])  # exact duplicates: distance 0 to a neighbour
    monkeypatch.setattr(metrics, "_CHUNK_BYTES", 8 * 65 * 7)  # 7 rows per chunk
    expected = _knn_reference(real, fake, 4)
    got = (*precision_recall(real, fake, k=4), *density_coverage(real, fake, k=4))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    d = np.linalg.norm(real[:, None] - real[None], axis=2)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(
        nearest_neighbour_radii(real, 2).numpy(), np.sort(d, 1)[:, 1], atol=1e-7
    )


# ----------------------------------------------------------------------------- Inception score


def _probs(seed: int, n: int, c: int) -> np.ndarray:
    logits = 3 * np.random.default_rng(seed).standard_normal((n, c))
    return torch.from_numpy(logits).softmax(1).numpy()


@pytest.mark.parametrize("seed,n,c", CASES)
def test_inception_score_matches_torch_fidelity(seed, n, c):
    metric_isc = _oracle("torch_fidelity.metric_isc")
    probs = _probs(seed, n, c)
    logits = torch.from_numpy(np.log(probs))  # torch-fidelity takes logits: softmax(log p) = p
    for shuffle in (False, True):
        ours = inception_score(probs, splits=10, shuffle=shuffle, seed=2020 + seed)
        theirs = metric_isc.isc_features_to_metric(
            logits, splits=10, shuffle=shuffle, rng_seed=2020 + seed
        )
        _rel_close(ours.mean, theirs["inception_score_mean"])
        _rel_close(ours.std, theirs["inception_score_std"], 1e-3)
    default = metric_isc.isc_features_to_metric(logits)  # splits=10, shuffle, rng_seed=2020
    assert inception_score(probs) == pytest.approx(tuple(default.values()), rel=REL)


def test_inception_score_closed_forms():
    c, splits = 7, 5
    one_hot = np.tile(np.eye(c), (splits, 1))  # every split holds every class once
    assert inception_score(one_hot, splits=splits, shuffle=False) == pytest.approx((c, 0.0))
    assert inception_score(one_hot, splits=1) == pytest.approx((c, 0.0))  # 0 log 0 = 0
    same = np.tile(_probs(0, 1, c), (40, 1))
    assert inception_score(same, splits=4) == pytest.approx((1.0, 0.0))


# ----------------------------------------------------------------------------- mode coverage


def test_mode_coverage_on_hand_built_points():
    centres, std = toy_centres("grid").double(), TOY_STD["grid"]
    three = centres[[0, 7, 24]].repeat(4, 1)
    got = mode_coverage(three, "grid")
    assert (got.modes, got.high_quality) == (3, 1.0)
    assert len(got.histogram) == 25 and got.histogram[7] == 4 and sum(got.histogram) == 12
    assert mode_coverage(torch.full((10, 2), 100.0), "grid") == (0, 0.0, [0] * 25)
    direction = torch.tensor([0.6, 0.8], dtype=torch.float64)  # unit vector, off the axes
    near, far = centres[3] + 2.9 * std * direction, centres[5] + 3.1 * std * direction
    got = mode_coverage(torch.stack([near, far]), "grid")
    assert (got.modes, got.high_quality, got.histogram[3], got.histogram[5]) == (1, 0.5, 1, 0)


@pytest.mark.parametrize("name,modes", [("ring", 8), ("grid", 25)])
def test_mode_coverage_of_true_samples_is_complete(name, modes):
    points = toy_data(name, 2000, generator=torch.Generator().manual_seed(0))
    got = mode_coverage(points, name)
    # a 2-D Gaussian puts P(|z| <= 3) = 1 - exp(-9/2) = 0.989 of its mass within 3 std
    assert got.modes == modes and got.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert sum(got.histogram) == round(got.high_quality * 2000)
    collapsed = toy_centres(name)[:1].repeat(50, 1)
    assert mode_coverage(collapsed, name).modes == 1


# ----------------------------------------------------------------------------- inputs


def test_numpy_and_torch_inputs_agree():
    real, fake = features(0, 80, 4)
    r32, f32 = torch.from_numpy(real).float(), torch.from_numpy(fake).float()
    rtol = 1e-5  # float32 inputs are rounded before the float64 computation
    assert frechet_distance(r32, f32) == pytest.approx(
        frechet_distance(real.astype(np.float32), fake), rel=rtol
    )
    assert precision_recall(r32, f32) == precision_recall(
        real.astype(np.float32), fake.astype(np.float32)
    )
    assert kernel_distance(r32.requires_grad_(), f32, subsets=3, subset_size=20) == pytest.approx(
        kernel_distance(real, fake, subsets=3, subset_size=20), rel=rtol
    )


BAD_INPUTS = [
    (frechet_distance, (np.zeros(5), np.zeros((5, 1))), "2-D"),
    (frechet_distance, (np.zeros((5, 2)), np.zeros((5, 3))), "different feature sizes"),
    (frechet_distance, (np.full((5, 2), np.nan), np.zeros((5, 2))), "NaN or inf"),
    (kernel_distance, (np.zeros((5, 2)), np.full((5, 2), np.inf)), "NaN or inf"),
    (kernel_distance, (np.zeros((1, 2)), np.zeros((5, 2))), "at least 2"),
    (precision_recall, (np.zeros((3, 2)), np.zeros((9, 2))), "k=3"),
    (density_coverage, (np.zeros((9, 2)), np.zeros((0, 2))), "at least 1"),
    (density_coverage, (np.zeros((5, 2)), np.zeros((9, 2))), "k=5"),
    (inception_score, (np.full((20, 4), 0.3),), "sum to 1"),
    (inception_score, (np.tile([1.5, -0.5], (20, 1)),), "non-negative"),
    (inception_score, (np.full((5, 2), 0.5), 10), "splits"),
    (mode_coverage, (np.zeros((5, 3)), "grid"), r"\[N, 2\]"),
    (mode_coverage, (np.zeros((5, 2)), "spiral"), "unknown toy dataset"),
    (polynomial_mmd2, (np.zeros((5, 2)), np.zeros((4, 2))), "same number of samples"),
    (frechet_distance_from_statistics, (np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "equal D"),
]


@pytest.mark.parametrize("fn,args,match", BAD_INPUTS, ids=lambda v: getattr(v, "__name__", None))
def test_bad_inputs_raise_one_line_value_errors(fn, args, match):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args)
    assert "\n" not in str(info.value)


def test_rank_correlation_against_scipy():
    from scipy.stats import spearmanr

    from gannotes.metrics import rank_correlation

    rng = np.random.default_rng(0)
    for n in (2, 5, 30):
        for ties in (False, True):
            x = rng.normal(size=n)
            y = x + rng.normal(size=n)
            if ties:
                x, y = np.round(x), np.round(y * 2) / 2
            want = spearmanr(x, y).statistic
            got = rank_correlation(x, y)
            assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-12)
    assert rank_correlation([1, 2, 3], [30, 20, 10]) == -1.0
    assert np.isnan(rank_correlation([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="same length"):
        rank_correlation([1, 2], [1, 2, 3])


def test_label_accuracy_against_sklearn():
    """GAN-test's per-class accuracy is the classifier's recall on each requested class, and
    its mean is sklearn's balanced accuracy."""
    from sklearn.metrics import balanced_accuracy_score, recall_score

    from gannotes.metrics import label_accuracy

    rng = np.random.default_rng(0)
    requested = rng.integers(0, 10, 700)
    predicted = np.where(rng.random(700) < 0.8, requested, rng.integers(0, 10, 700))
    r = label_accuracy(predicted, requested)
    np.testing.assert_allclose(r.per_class, recall_score(requested, predicted, average=None))
    assert r.mean == pytest.approx(balanced_accuracy_score(requested, predicted))
    assert r.counts == np.bincount(requested, minlength=10).tolist()
    # torch tensors too; a class never requested is NaN and left out of the mean
    r = label_accuracy(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 0, 1, 1]), n_classes=3)
    assert r.per_class[:2] == [1.0, 0.5] and math.isnan(r.per_class[2])
    assert r.mean == 0.75 and r.counts == [2, 2, 0]


@pytest.mark.parametrize(
    "predicted, requested, message",
    [
        ([0, 1], [0], "same length"),
        ([], [], "same length >= 1"),
        ([0, 10], [0, 1], r"predicted labels must be integers in 0..9"),
        ([0, 1], [0.0, 1.0], r"requested labels must be integers"),
        ([0, 1], [-1, 1], r"requested labels must be integers in 0..9"),
    ],
)
def test_label_accuracy_bad_input(predicted, requested, message):
    from gannotes.metrics import label_accuracy

    with pytest.raises(ValueError, match=message):
        label_accuracy(np.array(predicted, dtype=np.int64), np.array(requested))


def _fid_by_scipy(a: np.ndarray, b: np.ndarray) -> float:
    """The FID formula with scipy's sqrtm of S_a S_b (pytorch-fid's recipe), written out here."""
    from scipy.linalg import sqrtm

    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


def test_per_class_fid_against_scipy_on_each_class():
    """Entry c is the FID of class c's fake features against class c's real features; a class
    with fewer than 2 samples on either side is NaN. Classes differ in mean and spread, and the
    fake set draws its classes in other numbers, so mixing up classes would change the values."""
    from gannotes.metrics import per_class_fid

    rng = np.random.default_rng(0)
    n_real = np.array([30, 25, 40, 1, 20])  # class 3: one real sample
    n_fake = np.array([20, 35, 0, 30, 28])  # class 2: no fake sample
    real_y, fake_y = np.repeat(np.arange(5), n_real), np.repeat(np.arange(5), n_fake)
    rng.shuffle(real_y)
    rng.shuffle(fake_y)
    means, scales = rng.normal(size=(5, 3)) * 3, np.array([0.5, 1.0, 1.5, 2.0, 0.7])
    real = means[real_y] + scales[real_y, None] * rng.normal(size=(len(real_y), 3))
    fake = means[fake_y] + 0.3 + scales[fake_y, None] * rng.normal(size=(len(fake_y), 3)) * 1.2

    got = per_class_fid(real, real_y, fake, fake_y, n_classes=6)  # class 5: nowhere
    assert got.shape == (6,)
    assert np.isnan(got[[2, 3, 5]]).all()
    for c in (0, 1, 4):
        want = _fid_by_scipy(real[real_y == c], fake[fake_y == c])
        assert got[c] == pytest.approx(want, rel=1e-6)
    assert len(set(got[[0, 1, 4]].round(6))) == 3  # the classes really differ
    # torch inputs give the same numbers
    again = per_class_fid(torch.from_numpy(real), torch.from_numpy(real_y), fake, fake_y, 6)
    np.testing.assert_allclose(again, got)


def test_recall_from_largest_balls_against_brute_force():
    """Brute force with numpy as the oracle: each fake's ball reaches its k-th nearest other fake;
    a real sample counts if it is inside a ball of the widest fraction and no other. A tight
    cluster of fakes plus three stragglers beside a second group of real samples: the recall
    there rests entirely on the stragglers' wide balls."""
    from gannotes.metrics import precision_recall, recall_from_largest_balls

    rng = np.random.default_rng(3)
    real = np.concatenate([rng.normal(size=(60, 4)), 6 + rng.normal(size=(40, 4))])
    fake = np.concatenate([0.2 * rng.normal(size=(57, 4)), 6 + 2 * rng.normal(size=(3, 4))])

    def oracle(largest, k=3):
        d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=2)
        np.fill_diagonal(d_ff, np.inf)
        radius = np.sort(d_ff, 1)[:, k - 1]
        top = np.zeros(len(fake), bool)
        top[np.argsort(-radius, kind="stable")[: int(np.ceil(largest * len(fake) - 1e-9))]] = True
        inside = np.linalg.norm(real[:, None] - fake[None], axis=2) <= radius[None]
        return (inside[:, top].any(1) & ~inside[:, ~top].any(1)).mean()

    for largest in (0.0, 0.05, 0.2, 0.5):
        assert recall_from_largest_balls(real, fake, 3, largest) == pytest.approx(oracle(largest))
    share = recall_from_largest_balls(real, fake, 3, 0.05)  # the 3 stragglers are the top 5%
    recall = precision_recall(real, fake, 3).recall
    assert share > 0.3 and share <= recall  # most of the second group, through 3 fakes
    assert recall_from_largest_balls(real, fake, 3, 1.0) == pytest.approx(recall)
    assert recall_from_largest_balls(real, fake, 3, 0.0) == 0
    with pytest.raises(ValueError, match="largest must be a fraction"):
        recall_from_largest_balls(real, fake, 3, 1.5)


def test_per_class_spread_against_numpy_cov_on_each_class():
    """Entry c is trace(cov(fake of class c)) / trace(cov(real of class c)), np.cov as the
    oracle; a generated class half as wide in every feature fills a quarter of the variance,
    and one image repeated fills none."""
    from gannotes.metrics import per_class_spread

    rng = np.random.default_rng(1)
    real_y = np.repeat(np.arange(4), [400, 300, 1, 200])  # class 2: one real sample
    fake_y = np.repeat(np.arange(4), [500, 250, 30, 100])
    rng.shuffle(real_y)
    rng.shuffle(fake_y)
    means, widths = rng.normal(size=(4, 5)) * 4, np.array([1.0, 2.0, 1.0, 0.5])
    shrink = np.array([0.5, 1.0, 1.0, 1.0])  # class 0's fakes are half as wide
    real = means[real_y] + widths[real_y, None] * rng.normal(size=(len(real_y), 5))
    fake = means[fake_y] + (widths * shrink)[fake_y, None] * rng.normal(size=(len(fake_y), 5))
    fake[fake_y == 3] = fake[fake_y == 3][0]  # class 3: one image, repeated

    got = per_class_spread(real, real_y, fake, fake_y, n_classes=5)  # class 4: nowhere
    assert got.shape == (5,) and np.isnan(got[[2, 4]]).all()
    for c in (0, 1, 3):
        r, f = real[real_y == c], fake[fake_y == c]
        want = np.trace(np.cov(f, rowvar=False)) / np.trace(np.cov(r, rowvar=False))
        assert got[c] == pytest.approx(want, rel=1e-9)
    assert got[0] == pytest.approx(0.25, abs=0.04) and got[1] == pytest.approx(1, abs=0.15)
    assert got[3] == 0
    again = per_class_spread(torch.from_numpy(real), torch.from_numpy(real_y), fake, fake_y, 5)
    np.testing.assert_allclose(again, got)
    with pytest.raises(ValueError, match="per_class_spread: fake_labels must be integers"):
        per_class_spread(real, real_y, fake, fake_y + 10)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros(9, dtype=np.int64), r"real_labels must be \[N\] with N = 10"),
        (np.zeros((10, 1), dtype=np.int64), r"real_labels must be \[N\] with N = 10"),
        (np.zeros(10), "real_labels must be integers in 0..9"),
        (np.full(10, 10), r"real_labels must be integers in 0..9, got dtype int64, values in \[10"),
        (np.full(10, -1), "real_labels must be integers in 0..9"),
    ],
)
def test_per_class_fid_bad_labels(labels, message):
    from gannotes.metrics import per_class_fid

    feats = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=message) as info:
        per_class_fid(feats, labels, feats, np.zeros(10, dtype=np.int64))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="fake_labels"):
        per_class_fid(feats, np.zeros(10, dtype=np.int64), feats, labels)
