"""Privacy of a GAN: does it copy its training images, and can an attacker tell who was in them?

Two questions, notebook 09 (ethics) asks both; each is a short chain of pure functions.

* **Memorisation audit** (:func:`memorisation_audit`): the nearest-training-image check of
  notebook 07 (gannotes.quality.nearest_neighbour_distances) turned into a verdict. Each sample's
  Euclidean pixel distance to its nearest training image is compared with the same distance for
  *held-out* real images, which the generator never saw: a fresh image of the data distribution
  is that close to the training set by chance alone. A sample closer than the held-out images'
  ``quantile`` (default the 1st percentile) is flagged as a (near-)copy. A generator that draws
  new images from the data distribution has about ``quantile`` of its samples flagged, one that
  returns its training images nearly all of them (exact copies are at distance 0). The yardstick
  is the one of Webster et al. (2019), "Detecting Overfitting of Deep Generative Networks via
  Latent Recovery".
* **Membership inference** (:func:`membership_inference`): given an image, was it in the
  training set? Each attack gives every image a score, higher meaning "member"; it is judged on
  known members and non-members by the area under the ROC curve (:func:`roc_auc`, 0.5 = a coin,
  1 = always right) and by the true-positive rate at a low false-positive rate
  (:func:`tpr_at_fpr`, the way Carlini et al. 2022, "Membership Inference Attacks From First
  Principles", ask attacks to be reported: an attack that is sure about a few people matters
  even when its AUC is modest). An AUC is measured on finite sets of images, so it comes with a
  standard error (:func:`auc_standard_error`, DeLong et al. 1988): an attack with no signal
  scatters around 0.5 by about that much, above or below.

  - White-box, LOGAN (Hayes et al. 2019, "LOGAN: Membership Inference Attacks Against
    Generative Models", Sec. 4.1): the score is the discriminator's logit, :func:`logan_scores`.
    D was trained to call its training images real; when it overfits, it calls them more real
    than fresh images of the same kind.
  - Black-box, GAN-Leaks "full black-box" (Chen et al. 2020, "GAN-Leaks: A Taxonomy of
    Membership Inference Attacks against Generative Models", Sec. 5.1 and Eq. 4 with the L2
    distance): only samples of G are needed. The score is minus the distance from the image to
    its nearest generated sample, :func:`gan_leaks_scores`: a generator that memorised its
    training images draws samples close to them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .quality import nearest_neighbour_distances

__all__ = [
    "ATTACKS",
    "AttackResult",
    "MemorisationAudit",
    "gan_leaks_scores",
    "logan_scores",
    "membership_inference",
    "memorisation_audit",
    "auc_standard_error",
    "roc_auc",
    "roc_curve",
    "tpr_at_fpr",
]

ATTACKS = ("logan", "gan_leaks")  # white-box (D's logit), black-box (nearest generated sample)

# ----------------------------------------------------------------------------- judging an attack


def _scores(x: Any, name: str) -> np.ndarray:
    """``x`` as a 1-D float64 array of at least one finite score, else a one-line ValueError."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of scores, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``a`` (ascending), tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # ranks before each distinct value
    return (first + (counts + 1) / 2.0)[inverse]


def roc_auc(member_scores: Any, nonmember_scores: Any) -> float:
    """Area under the ROC curve of a score that says "member" when high.

    It equals P(score of a random member > score of a random non-member), ties counting 1/2:
    the Mann-Whitney U statistic divided by n_members * n_nonmembers, computed from the average
    ranks of the pooled scores. 1.0: every member scores above every non-member; 0.5: chance;
    0.0: the score is perfectly reversed.
    """
    m = _scores(member_scores, "member_scores")
    n = _scores(nonmember_scores, "nonmember_scores")
    ranks = _average_ranks(np.concatenate([m, n]))
    u = ranks[: len(m)].sum() - len(m) * (len(m) + 1) / 2.0
    return float(u / (len(m) * len(n)))


def auc_standard_error(member_scores: Any, nonmember_scores: Any) -> float:
    """The standard error of :func:`roc_auc` over the draw of members and non-members: DeLong,
    DeLong and Clarke-Pearson (1988), "Comparing the areas under two or more correlated
    receiver operating characteristic curves: a nonparametric approach", Sec. 2.

    Each member's *placement* V10_i is the fraction of non-members it beats (ties 1/2), each
    non-member's V01_j the fraction of members that beat it; both average to the AUC, and
    ``SE^2 = var(V10) / m + var(V01) / n`` (sample variances). For an attack with no signal it
    is close to the Mann-Whitney null value sqrt((m + n + 1) / (12 m n)): about 0.026 for 256 +
    256 images. Needs at least two scores on each side.
    """
    m = _scores(member_scores, "member_scores")
    n = _scores(nonmember_scores, "nonmember_scores")
    if len(m) < 2 or len(n) < 2:
        raise ValueError(
            f"a standard error needs >= 2 scores on each side, got {len(m)} and {len(n)}"
        )
    pooled = _average_ranks(np.concatenate([m, n]))
    v10 = (pooled[: len(m)] - _average_ranks(m)) / len(n)  # [m] non-members each member beats
    v01 = 1.0 - (pooled[len(m) :] - _average_ranks(n)) / len(m)  # [n] members beating each
    return float(np.sqrt(v10.var(ddof=1) / len(m) + v01.var(ddof=1) / len(n)))


def roc_curve(member_scores: Any, nonmember_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve of a score that says "member" when high: (false-positive rates,
    true-positive rates), one point per distinct score used as the threshold (score >=
    threshold), from (0, 0) to (1, 1). Its area is :func:`roc_auc`."""
    m = _scores(member_scores, "member_scores")
    n = _scores(nonmember_scores, "nonmember_scores")
    thresholds = np.unique(np.concatenate([m, n]))[::-1]  # highest first
    tpr = (m[None, :] >= thresholds[:, None]).mean(1)
    fpr = (n[None, :] >= thresholds[:, None]).mean(1)
    return np.r_[0.0, fpr], np.r_[0.0, tpr]


def tpr_at_fpr(member_scores: Any, nonmember_scores: Any, fpr: float = 0.1) -> float:
    """The largest fraction of members caught (score above a threshold) while at most ``fpr`` of
    the non-members are: the best point of the ROC curve left of ``fpr``.

    The threshold is the (k+1)-th highest non-member score with k = floor(fpr * n_nonmembers),
    and a score must be strictly above it, so ties never push the false-positive rate over
    ``fpr``. A coin catches ``fpr`` of the members at that rate.
    """
    m = _scores(member_scores, "member_scores")
    n = _scores(nonmember_scores, "nonmember_scores")
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"fpr must be in [0, 1), got {fpr}")
    k = int(np.floor(fpr * len(n) + 1e-9))  # false positives allowed (1e-9: 0.1 * 30 is 3)
    threshold = np.sort(n)[::-1][k]
    return float((m > threshold).mean())


class AttackResult(NamedTuple):
    auc: float  # ROC AUC of the attack's scores, members against non-members
    tpr: float  # true-positive rate at false-positive rate ``fpr``
    fpr: float
    se: float = float("nan")  # the AUC's standard error (auc_standard_error)


# ----------------------------------------------------------------------------- the attacks


def _images(x: Any, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim < 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a batch [N, ...] with N >= 1, got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


@torch.no_grad()
def logan_scores(D: nn.Module, images: Any, batch: int = 500) -> np.ndarray:
    """White-box LOGAN: the discriminator's logit for each image ``[N, C, H, W]``, ``[N]``.

    D runs in eval mode (BatchNorm's running statistics, as when it is evaluated in
    gannotes.evaluation.discriminator_accuracy) on its own device, in chunks of ``batch``, without
    gradients; its mode is restored. D must give one logit per image (``[N]`` or ``[N, 1]``).
    """
    x = _images(images, "images")
    param = next(D.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = D.training
    D.eval()
    try:
        out = []
        for chunk in x.split(batch):
            logit = D(chunk.to(device)).float().cpu()
            if logit.shape not in ((len(chunk),), (len(chunk), 1)):
                raise ValueError(
                    f"D must give one logit per image, got shape {tuple(logit.shape)} "
                    f"for {len(chunk)} images"
                )
            out.append(logit.reshape(-1))
    finally:
        D.train(was_training)
    return torch.cat(out).double().numpy()


def gan_leaks_scores(generated: Any, images: Any) -> np.ndarray:
    """Black-box GAN-Leaks: minus the Euclidean pixel distance from each image ``[N, ...]`` to its
    nearest generated sample ``[M, ...]``, ``[N]`` (closer, higher: more likely a member)."""
    g = _images(generated, "generated")
    x = _images(images, "images")
    if g.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"generated and images must have the same shape per image, got "
            f"{tuple(g.shape[1:])} and {tuple(x.shape[1:])}"
        )
    return -nearest_neighbour_distances(x, g).distances.astype(np.float64)


def membership_inference(
    family: Any,
    members: Any,
    nonmembers: Any,
    *,
    n_generated: int = 10_000,
    seed: int = 0,
    fpr: float = 0.1,
) -> dict[str, AttackResult]:
    """Both attacks on a trained GAN family (gannotes.training.load_family), judged on
    ``members`` (images it trained on) against ``nonmembers`` (images it never saw), both
    ``[N, C, H, W]``: ``{"logan": AttackResult, "gan_leaks": AttackResult}``, each AUC with its
    standard error (``se``).

    LOGAN reads the family's discriminator ``D``; GAN-Leaks draws ``n_generated`` samples with
    ``family.sample(n_generated, seed)``. More samples make GAN-Leaks stronger (Chen et al.
    2020, Fig. 4): report the number with the result.
    """
    m, n = _images(members, "members"), _images(nonmembers, "nonmembers")
    if m.shape[1:] != n.shape[1:]:
        raise ValueError(
            f"members and nonmembers must have the same shape per image, got "
            f"{tuple(m.shape[1:])} and {tuple(n.shape[1:])}"
        )
    if n_generated < 1:
        raise ValueError(f"n_generated must be a positive number of samples, got {n_generated}")
    if "D" not in family.networks:
        raise ValueError(f"the {family.name} family has no discriminator D to attack (white-box)")
    D = family.networks["D"]
    generated = family.sample(n_generated, seed=seed)
    scores = {
        "logan": (logan_scores(D, m), logan_scores(D, n)),
        "gan_leaks": (gan_leaks_scores(generated, m), gan_leaks_scores(generated, n)),
    }
    return {
        name: AttackResult(
            roc_auc(sm, sn),
            tpr_at_fpr(sm, sn, fpr),
            fpr,
            auc_standard_error(sm, sn) if min(len(sm), len(sn)) > 1 else float("nan"),
        )
        for name, (sm, sn) in scores.items()
    }


# ----------------------------------------------------------------------------- memorisation


class MemorisationAudit(NamedTuple):
    distances: np.ndarray  # [N] each sample's distance to its nearest training image
    indices: np.ndarray  # [N] that training image's index
    heldout_distances: np.ndarray  # [H] the same for held-out real images: the yardstick
    threshold: float  # held-out distances' ``quantile``: closer than this is a copy
    flagged: np.ndarray  # [F] indices of the samples closer than the threshold
    fraction: float  # F / N; about ``quantile`` for a generator that does not copy
    quantile: float


def memorisation_audit(
    samples: Any, train: Any, heldout: Any, *, quantile: float = 0.01
) -> MemorisationAudit:
    """Which ``samples`` ``[N, ...]`` are (near-)copies of a ``train`` image ``[M, ...]``?

    The rule: a sample is flagged when its nearest training image is closer than the
    ``quantile`` of the held-out images' (``heldout`` ``[H, ...]``, real images not in
    ``train``) nearest-training distances: closer than all but ``quantile`` of fresh real
    images come by chance. ``fraction`` is then about ``quantile`` for a generator that draws
    new images (held-out images themselves score exactly that), and near 1 for one that returns
    its training images. Distances are Euclidean in pixel space, exact copies at 0.0
    (gannotes.quality.nearest_neighbour_distances). A quantile needs enough held-out images:
    at least 1 / quantile.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    h = _images(heldout, "heldout")
    if len(h) * quantile < 1:
        raise ValueError(
            f"the {quantile:g} quantile needs at least {int(np.ceil(1 / quantile))} held-out "
            f"images, got {len(h)}"
        )
    s, t = _images(samples, "samples"), _images(train, "train")
    if not s.shape[1:] == t.shape[1:] == h.shape[1:]:
        raise ValueError(
            f"samples, train and heldout must have the same shape per image, got "
            f"{tuple(s.shape[1:])}, {tuple(t.shape[1:])} and {tuple(h.shape[1:])}"
        )
    near = nearest_neighbour_distances(s, t)
    yardstick = nearest_neighbour_distances(h, t).distances
    threshold = float(np.quantile(yardstick, quantile))
    flagged = np.flatnonzero(near.distances < threshold)
    return MemorisationAudit(
        distances=near.distances,
        indices=near.indices,
        heldout_distances=yardstick,
        threshold=threshold,
        flagged=flagged,
        fraction=len(flagged) / len(s),
        quantile=quantile,
    )
