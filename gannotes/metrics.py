"""Sample-quality metrics for GANs, each a chain of pure functions: features -> statistics -> value.

The metrics take *features* ``[N, D]`` (numpy or torch; e.g. Inception pool features, or the 2-D
points of a toy set) and never load a network, so they run anywhere and are easy to test.

* **Frechet distance** (FID; Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium", Eq. 6): fit a Gaussian to each set and compute

      d^2 = ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

  ``tr (S_a S_b)^(1/2)`` is the sum of the square roots of the eigenvalues of the *symmetric*
  matrix ``S_a^(1/2) S_b S_a^(1/2)`` (same eigenvalues as ``S_a S_b``), so we use two real
  symmetric eigen-decompositions in float64 instead of a complex ``sqrtm``.
* **Kernel distance** (KID; Binkowski et al. 2018, "Demystifying MMD GANs", Eq. 4 and Sec. 4):
  the unbiased estimate of MMD^2 with the cubic kernel ``k(x, y) = (x.y / D + 1)^3``, averaged
  over random subsets. Unbiased, so it can be slightly negative for equal distributions.
* **Improved precision and recall** (Kynkaanniemi et al. 2019, "Improved Precision and Recall
  Metric for Assessing Generative Models", Eq. 1-3): each sample gets a ball reaching its k-th
  nearest neighbour in its own set; precision is the fraction of fake samples inside the union of
  real balls, recall the fraction of real samples inside the union of fake balls.
* **Density and coverage** (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
  Generative Models", Eq. 5 and 6): density counts how many real balls hold each fake sample
  (divided by k); coverage is the fraction of real balls that hold at least one fake sample.
* **Inception score** (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4):
  ``exp(E_x KL(p(y|x) || p(y)))`` on class probabilities, per split, mean and std over splits.
* **Rank correlation** (Spearman 1904): do two measurements order the same runs the same way
  (a critic's estimate of W1 and FID at a run's checkpoints, say)? The Pearson correlation of
  their ranks, ties given their average rank.
* **Label accuracy** of a conditional generator (GAN-test, Shmelkov et al. 2018, "How good is
  my GAN?", Sec. 4): a classifier trained on real images labels the samples generated for each
  requested class; per class, the fraction it assigns to that class, and their mean. Read it
  beside the same classifier's per-class accuracy on real images: some classes (shirt vs
  T-shirt) are hard for real images too.
* **Per-class FID** of a conditional generator ("intra-FID", Miyato and Koyama 2018, "cGANs
  with Projection Discriminator"): the Frechet distance between the fake and real features of
  each class separately. A class that collapses, or that looks like another class, shows up
  here while the overall FID averages it away with the other classes.
* **Mode coverage** on the 2-D toy sets (VEEGAN, Srivastava et al. 2017, Sec. 5.1; PacGAN, Lin
  et al. 2018): a sample is *high quality* when it lies within 3 std of its nearest mode centre;
  a mode is captured when it is the nearest centre of at least one high-quality sample.

Conventions. Balls are closed (``distance <= radius``) as in Kynkaanniemi et al.; the ``prdc``
package uses ``<``, which differs only on ties. FID is biased by the sample size (and KID's spread
depends on it), so only compare values computed with the same N. k-NN work is done in row chunks
of at most 8 MB, keeping only the k smallest distances per row: 10,000 x 10,000 comparisons never
build the full distance matrix. Everything is computed in float64.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from gannotes.data import TOY_STD, toy_centres

__all__ = [
    "DensityCoverage",
    "InceptionScore",
    "KernelDistance",
    "ModeCoverage",
    "PrecisionRecall",
    "density_coverage",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_score",
    "kernel_distance",
    "label_accuracy",
    "mode_coverage",
    "nearest_neighbour_radii",
    "per_class_fid",
    "per_class_spread",
    "polynomial_mmd2",
    "precision_recall",
    "rank_correlation",
    "recall_from_largest_balls",
]

Array = np.ndarray | torch.Tensor
_CHUNK_BYTES = 8 * 2**20  # one [rows, N] float64 block of distances is at most this big


class KernelDistance(NamedTuple):
    mean: float  # mean of the unbiased MMD^2 estimates over subsets
    std: float  # their standard deviation (population, ddof=0, as torch-fidelity)


class PrecisionRecall(NamedTuple):
    precision: float  # fraction of fake samples inside the union of real k-NN balls
    recall: float  # fraction of real samples inside the union of fake k-NN balls


class DensityCoverage(NamedTuple):
    density: float  # mean number of real balls holding a fake sample, divided by k (can be > 1)
    coverage: float  # fraction of real balls holding at least one fake sample


class InceptionScore(NamedTuple):
    mean: float  # mean over splits of exp(E_x KL(p(y|x) || p(y)))
    std: float  # population std over splits (ddof=0, as torch-fidelity)


class LabelAccuracy(NamedTuple):
    mean: float  # mean over the classes present of their accuracy (each class weighs the same)
    per_class: list[float]  # [C] fraction of class c's samples labelled c (NaN: none requested)
    counts: list[int]  # [C] number of samples requested of each class


class ModeCoverage(NamedTuple):
    modes: int  # number of modes that are the nearest centre of >= 1 high-quality sample
    high_quality: float  # fraction of samples within 3 std of their nearest centre
    histogram: list[int]  # per mode, the number of high-quality samples nearest to it [M]


# ----------------------------------------------------------------------------- input checks


def _features(x: Array, name: str, min_rows: int = 1) -> torch.Tensor:
    """``x`` as a float64 CPU tensor ``[N, D]``, or a one-line ValueError."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to(device="cpu", dtype=torch.float64)
    else:
        t = torch.from_numpy(np.array(x, dtype=np.float64))  # a copy: writable, contiguous
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, D], got shape {tuple(t.shape)}")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has no feature dimensions (shape {tuple(t.shape)})")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _pair(a: Array, b: Array, names: tuple[str, str], min_rows: int = 1):
    ta, tb = _features(a, names[0], min_rows), _features(b, names[1], min_rows)
    if ta.shape[1] != tb.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} have different feature sizes: "
            f"{ta.shape[1]} vs {tb.shape[1]}"
        )
    return ta, tb


def _check_k(k: int, n: int, name: str) -> None:
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(
            f"k={k} needs more than k samples in {name} (a sample is not its own "
            f"neighbour), got {n}"
        )


# ----------------------------------------------------------------------------- Frechet distance


def feature_statistics(feats: Array) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (ddof=1, as ``np.cov``) in float64.

    Needs N >= 2. With N <= D the covariance has rank < D; see ``frechet_distance``.
    """
    x = _features(feats, "feats", min_rows=2)
    mu = x.mean(dim=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return mu, sigma


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric PSD matrix; eigenvalues below 0 (rounding) are clipped."""
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance_from_statistics(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr (S1 S2)^(1/2), in float64.

    tr (S1 S2)^(1/2) = sum_i sqrt(lambda_i) with lambda_i the eigenvalues of the symmetric PSD
    matrix S1^(1/2) S2 S1^(1/2): no complex sqrtm, exact for singular covariances. Rounding can
    only push the result a hair below 0; it is clipped at 0.
    """
    m1, m2 = (torch.as_tensor(m, dtype=torch.float64).cpu() for m in (mu1, mu2))
    s1, s2 = (torch.as_tensor(s, dtype=torch.float64).cpu() for s in (sigma1, sigma2))
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise ValueError(
            f"means must be [D] vectors of equal D, got {tuple(m1.shape)} and {tuple(m2.shape)}"
        )
    d = m1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"covariances must be [{d}, {d}], got {tuple(s1.shape)} and {tuple(s2.shape)}"
        )
    if not all(torch.isfinite(t).all() for t in (m1, m2, s1, s2)):
        raise ValueError("statistics contain NaN or inf")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    tr_covmean = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    diff = m1 - m2
    fid = diff @ diff + s1.trace() + s2.trace() - 2 * tr_covmean
    return max(float(fid), 0.0)


def frechet_distance(feats_a: Array, feats_b: Array) -> float:
    """FID's formula on any features ``[N_a, D]`` and ``[N_b, D]``.

    Rule for small samples: N < 2 in either set raises ValueError (no covariance). N <= D gives a
    rank-deficient covariance; the formula is still exact for those two Gaussians, so the value is
    returned (small-sample demos stay possible) with a UserWarning that it is dominated by bias.
    FID is biased upwards as N shrinks: compare values only at equal N.
    """
    a, b = _pair(feats_a, feats_b, ("feats_a", "feats_b"), min_rows=2)
    d = a.shape[1]
    if min(len(a), len(b)) <= d:
        warnings.warn(
            f"frechet_distance: {min(len(a), len(b))} samples for {d} dimensions gives a singular "
            "covariance; the value is valid but strongly biased (use N > D, ideally N >> D)",
            stacklevel=2,
        )
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b))


# ----------------------------------------------------------------------------- kernel distance


def _polynomial_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    m, d = x.shape

    def kernel(p, q):  # [m, m], computed in place
        return (p @ q.T).div_(d).add_(1).pow_(3)

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    off_diagonal = k_xx.sum() - k_xx.trace() + k_yy.sum() - k_yy.trace()
    return float(off_diagonal / (m * (m - 1)) - 2 * k_xy.sum() / m**2)


def polynomial_mmd2(x: Array, y: Array) -> float:
    """Unbiased MMD^2 between equal-size sets ``[m, D]`` with k(x, y) = (x.y / D + 1)^3:

    (sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)) / (m (m - 1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2
    """
    a, b = _pair(x, y, ("x", "y"), min_rows=2)
    if len(a) != len(b):
        raise ValueError(f"x and y must have the same number of samples, got {len(a)} and {len(b)}")
    return _polynomial_mmd2(a, b)


def kernel_distance(
    feats_a: Array, feats_b: Array, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> KernelDistance:
    """KID: mean and std of ``polynomial_mmd2`` over ``subsets`` random subsets.

    Each subset draws ``m`` rows of a, then ``m`` rows of b, without replacement, from
    ``np.random.RandomState(seed)``: with the same seed, torch-fidelity's
    ``kid_features_to_metric(a, b, kid_subsets=..., kid_subset_size=m, rng_seed=seed)`` draws the
    same rows. Size rule: m = min(subset_size, N_a, N_b) (torch-fidelity raises instead when
    subset_size > N); m < 2 raises ValueError. With m = N every subset is the whole set.
    """
    a, b = _pair(feats_a, feats_b, ("feats_a", "feats_b"))
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(
            f"KID needs subsets of at least 2 samples, got min(subset_size={subset_size}"
            f", N_a={len(a)}, N_b={len(b)}) = {m}"
        )
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        idx_a = torch.from_numpy(rng.choice(len(a), m, replace=False))
        idx_b = torch.from_numpy(rng.choice(len(b), m, replace=False))
        mmds[i] = _polynomial_mmd2(a[idx_a], b[idx_b])
    return KernelDistance(float(mmds.mean()), float(mmds.std()))


# ----------------------------------------------------------------------------- k-NN metrics


def _row_chunks(n_rows: int, n_cols: int) -> Iterator[slice]:
    step = max(1, _CHUNK_BYTES // (8 * max(n_cols, 1)))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _sq_distances(x: torch.Tensor, y: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``[len(x), len(y)]`` as |x|^2 + |y|^2 - 2 x.y, in one buffer."""
    d2 = x @ y.T
    d2.mul_(-2).add_((x * x).sum(1, keepdim=True)).add_(y_sq)
    return d2.clamp_(min=0)


def _knn_sq_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance from each row of ``x`` to its k-th nearest other row. ``[N]``"""
    x = x - x.mean(0)  # centring makes |x|^2 + |y|^2 - 2 x.y lose less precision
    x_sq = (x * x).sum(1)
    radii2 = torch.empty(len(x), dtype=torch.float64)
    for rows in _row_chunks(len(x), len(x)):
        d2 = _sq_distances(x[rows], x, x_sq)  # [chunk, N]
        own = torch.arange(rows.start, rows.stop)
        d2[own - rows.start, own] = math.inf  # a sample is not its own neighbour
        radii2[rows] = d2.topk(k, dim=1, largest=False).values[:, -1]
    return radii2


def nearest_neighbour_radii(feats: Array, k: int) -> torch.Tensor:
    """Distance from each sample to its k-th nearest neighbour in its own set (not itself). ``[N]``

    Rows are processed in chunks and only the k smallest distances per row are kept (topk).
    """
    x = _features(feats, "feats")
    _check_k(k, len(x), "feats")
    return _knn_sq_radii(x, k).sqrt()


def _cross_sq_distances(
    real: torch.Tensor, fake: torch.Tensor
) -> Iterator[tuple[slice, torch.Tensor]]:
    """The squared fake x real distances in chunks of fake rows: (rows, d2 ``[chunk, N_real]``)."""
    centre = real.mean(0)
    real, fake = real - centre, fake - centre
    real_sq = (real * real).sum(1)
    for rows in _row_chunks(len(fake), len(real)):
        yield rows, _sq_distances(fake[rows], real, real_sq)


def precision_recall(real_feats: Array, fake_feats: Array, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN balls, closed (``<=``).

    Argument order is (real, fake), as in ``prdc.compute_prdc``; torch-fidelity's
    ``prc_features_to_metric`` takes (fake, real).
    """
    real, fake = _pair(real_feats, fake_feats, ("real_feats", "fake_feats"))
    _check_k(k, len(real), "real_feats")
    _check_k(k, len(fake), "fake_feats")
    r_real2, r_fake2 = _knn_sq_radii(real, k), _knn_sq_radii(fake, k)  # balls: d^2 <= r^2
    fake_in_real_balls = torch.empty(len(fake), dtype=torch.bool)
    real_in_fake_balls = torch.zeros(len(real), dtype=torch.bool)
    for rows, d2 in _cross_sq_distances(real, fake):  # d2: [chunk of fake, N_real]
        fake_in_real_balls[rows] = (d2 <= r_real2).any(1)
        real_in_fake_balls |= (d2 <= r_fake2[rows, None]).any(0)
    return PrecisionRecall(
        float(fake_in_real_balls.double().mean()), float(real_in_fake_balls.double().mean())
    )


def recall_from_largest_balls(
    real_feats: Array, fake_feats: Array, k: int = 3, largest: float = 0.05
) -> float:
    """The share of real samples that :func:`precision_recall` counts as recalled only because
    they lie inside the k-NN balls of the ``largest`` fraction of fake samples with the widest
    balls (and inside no other fake ball). A fake sample far from the other fakes has a wide
    ball that can hold many real samples, so a high share means the recall rests on a few
    outlying fakes, the weakness of k-NN recall that Naeem et al. (2020) designed coverage
    against. Equals the recall when ``largest`` is 1; 0 when ``largest`` leaves no fake."""
    real, fake = _pair(real_feats, fake_feats, ("real_feats", "fake_feats"))
    _check_k(k, len(fake), "fake_feats")
    if not 0 <= largest <= 1:
        raise ValueError(f"largest must be a fraction in [0, 1], got {largest}")
    r_fake2 = _knn_sq_radii(fake, k)
    n_top = math.ceil(largest * len(fake) - 1e-9)
    top = torch.zeros(len(fake), dtype=torch.bool)
    top[r_fake2.argsort(descending=True, stable=True)[:n_top]] = True
    in_top = torch.zeros(len(real), dtype=torch.bool)
    in_rest = torch.zeros(len(real), dtype=torch.bool)
    for rows, d2 in _cross_sq_distances(real, fake):  # d2: [chunk of fake, N_real]
        inside = d2 <= r_fake2[rows, None]
        in_top |= (inside & top[rows, None]).any(0)
        in_rest |= (inside & ~top[rows, None]).any(0)
    return float((in_top & ~in_rest).double().mean())


def density_coverage(real_feats: Array, fake_feats: Array, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020), using only the real samples' k-NN balls (``<=``).

    density = 1/(k M) sum_j sum_i 1[fake_j in ball(real_i)]; coverage = 1/N sum_i 1[some fake in
    ball(real_i)], i.e. the nearest fake sample of real_i is within its radius.
    """
    real, fake = _pair(real_feats, fake_feats, ("real_feats", "fake_feats"))
    _check_k(k, len(real), "real_feats")
    r_real2 = _knn_sq_radii(real, k)
    balls_holding = torch.empty(len(fake), dtype=torch.long)  # per fake sample
    nearest_fake2 = torch.full((len(real),), math.inf, dtype=torch.float64)  # per real sample
    for rows, d2 in _cross_sq_distances(real, fake):  # d2: [chunk of fake, N_real]
        balls_holding[rows] = (d2 <= r_real2).sum(1)
        nearest_fake2 = torch.minimum(nearest_fake2, d2.min(0).values)
    density = balls_holding.double().sum() / (k * len(fake))
    return DensityCoverage(float(density), float((nearest_fake2 <= r_real2).double().mean()))


# ----------------------------------------------------------------------------- Inception score


def inception_score(
    probs: Array, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> InceptionScore:
    """Inception score from class probabilities ``[N, C]`` (rows >= 0, summing to 1).

    The rows are permuted by ``np.random.RandomState(seed).permutation(N)`` when ``shuffle``
    (torch-fidelity's defaults: shuffle, seed 2020), then cut into ``splits`` consecutive parts
    ``[i N // splits, (i + 1) N // splits)``; each part scores exp(mean_x KL(p(y|x) || p(y))) with
    p(y) the part's mean row and 0 log 0 = 0. Returns the mean and population std over parts.
    """
    p = _features(probs, "probs")
    n = len(p)
    if (p < 0).any():
        raise ValueError("probs must be non-negative (pass probabilities, not logits)")
    worst = float((p.sum(1) - 1).abs().max())
    if worst > 1e-3:
        raise ValueError(
            f"probs rows must sum to 1 (off by up to {worst:.3g}); apply softmax first"
        )
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be between 1 and N={n}, got {splits}")
    if shuffle:
        p = p[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)  # KL(p(y|x) || p(y))
        scores.append(float(kl.mean().exp()))
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)))


# ----------------------------------------------------------------------------- toy mode coverage


def mode_coverage(points: Array, dataset: str) -> ModeCoverage:
    """Modes captured and high-quality fraction of 2-D ``points`` ``[N, 2]`` on toy ``dataset``.

    A sample is high quality when its distance to the nearest centre is <= 3 * TOY_STD[dataset];
    a mode is captured when it is the nearest centre of at least one high-quality sample.
    """
    x = _features(points, "points")
    if x.shape[1] != 2:
        raise ValueError(f"points must be [N, 2], got shape {tuple(x.shape)}")
    centres = toy_centres(dataset).to(torch.float64)  # raises on an unknown name  # [M, 2]
    dist = (x[:, None, :] - centres[None]).norm(dim=2)  # [N, M]; M is 8 or 25: no chunking
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= 3 * TOY_STD[dataset]
    histogram = torch.bincount(nearest[good], minlength=len(centres))
    return ModeCoverage(int((histogram > 0).sum()), float(good.double().mean()), histogram.tolist())


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):  # average the ranks of ties
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def rank_correlation(x: Array, y: Array) -> float:
    """Spearman's rho of two equal-length sequences: +1 when they order the items the same
    way, -1 when oppositely. NaN when either is constant (no order to compare)."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(
            f"rank_correlation needs two sequences of the same length >= 2, got {len(a)} "
            f"and {len(b)}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("rank_correlation: the values must be finite")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else math.nan


def label_accuracy(predicted: Array, requested: Array, n_classes: int = 10) -> LabelAccuracy:
    """Does a conditional generator obey its label? ``predicted[i]`` is a classifier's label of
    the sample generated for class ``requested[i]`` (both ``[N]`` integers in 0..n_classes-1).
    Per class: the fraction of its samples labelled as requested (the classifier's recall on
    class c); ``mean`` averages the classes that were requested, so an unbalanced request does
    not let an easy class dominate."""
    p = np.asarray(predicted)
    r = np.asarray(requested)
    if p.ndim != 1 or p.shape != r.shape or len(p) == 0:
        raise ValueError(
            f"label_accuracy needs two label vectors [N] of the same length >= 1, got "
            f"{list(p.shape)} and {list(r.shape)}"
        )
    for name, v in (("predicted", p), ("requested", r)):
        if not np.issubdtype(v.dtype, np.integer) or v.min() < 0 or v.max() >= n_classes:
            raise ValueError(
                f"label_accuracy: {name} labels must be integers in 0..{n_classes - 1}, got "
                f"dtype {v.dtype}, values in [{v.min()}, {v.max()}]"
            )
    counts = np.bincount(r, minlength=n_classes)  # [C]
    hits = np.bincount(r[p == r], minlength=n_classes)  # [C]
    per_class = np.full(n_classes, np.nan)
    present = counts > 0
    per_class[present] = hits[present] / counts[present]
    return LabelAccuracy(float(per_class[present].mean()), per_class.tolist(), counts.tolist())


def _by_class(
    real_feats: Array,
    real_labels: Array,
    fake_feats: Array,
    fake_labels: Array,
    n_classes: int,
    caller: str,
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """(c, real features of class c, fake features of class c) for every class c with at least
    2 samples on both sides; labels ``[N]`` integers in 0..n_classes-1, checked first."""
    real, fake = _pair(real_feats, fake_feats, ("real_feats", "fake_feats"))
    labels = []
    for name, feats, v in (("real_labels", real, real_labels), ("fake_labels", fake, fake_labels)):
        y = np.asarray(v)
        if y.shape != (len(feats),):
            raise ValueError(
                f"{caller}: {name} must be [N] with N = {len(feats)} (its features), got "
                f"{list(y.shape)}"
            )
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
            raise ValueError(
                f"{caller}: {name} must be integers in 0..{n_classes - 1}, got dtype "
                f"{y.dtype}, values in [{y.min()}, {y.max()}]"
            )
        labels.append(torch.as_tensor(y.astype(np.int64)))
    for c in range(n_classes):
        real_c, fake_c = real[labels[0] == c], fake[labels[1] == c]
        if min(len(real_c), len(fake_c)) >= 2:
            yield c, real_c, fake_c


def per_class_fid(
    real_feats: Array,
    real_labels: Array,
    fake_feats: Array,
    fake_labels: Array,
    n_classes: int = 10,
) -> np.ndarray:
    """Intra-class FID ``[n_classes]``: entry c is ``frechet_distance`` between the fake features
    generated for class c and the real features of class c (labels ``[N]`` integers in
    0..n_classes-1). NaN where a class has fewer than 2 samples on either side. Each class has
    fewer samples than the whole set, so its FID is more biased (and ``frechet_distance`` warns
    when a class has no more samples than dimensions): compare per-class values at equal N."""
    fids = np.full(n_classes, np.nan)
    pairs = _by_class(real_feats, real_labels, fake_feats, fake_labels, n_classes, "per_class_fid")
    for c, real_c, fake_c in pairs:
        fids[c] = frechet_distance(real_c, fake_c)
    return fids


def per_class_spread(
    real_feats: Array,
    real_labels: Array,
    fake_feats: Array,
    fake_labels: Array,
    n_classes: int = 10,
) -> np.ndarray:
    """How much of each class's real variety its fake samples show ``[n_classes]``: entry c is
    the total variance (the trace of the covariance, ddof=1) of the fake features generated for
    class c over that of the real features of class c. 1 when they vary as much, below 1 when
    the generated class is less varied (one image per class gives 0), whatever its label
    accuracy; the shortfall raises the class's FID through its covariance term. NaN where a
    class has fewer than 2 samples on either side."""
    spread = np.full(n_classes, np.nan)
    pairs = _by_class(
        real_feats, real_labels, fake_feats, fake_labels, n_classes, "per_class_spread"
    )
    for c, real_c, fake_c in pairs:
        spread[c] = float(fake_c.var(0, unbiased=True).sum() / real_c.var(0, unbiased=True).sum())
    return spread
