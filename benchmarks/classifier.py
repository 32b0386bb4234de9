"""An independent Fashion-MNIST classifier, used only to score generators (benchmarks only).

A small CNN, conv32-pool-conv64-pool-fc128-fc10 with BatchNorm, trained for a few epochs on
the full 60,000-image training split with Adam (batch 128). Its penultimate layer (128 ReLU
features) is the feature space of a Fréchet distance, an "FID" for Fashion-MNIST; its softmax
gives the class histogram of generated samples. It shares no code or weights with the GANs.

    python benchmarks/classifier.py          # train (or load) it, print test accuracy, self-check

The weights are cached in benchmarks/.cache/ (gitignored), written atomically.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from gannotes.data import load_fashion_mnist  # noqa: E402

CACHE = ROOT / ".cache"
WEIGHTS = CACHE / "fmnist_classifier_v1.pt"
EPOCHS, BATCH, LR, SEED = 4, 128, 1e-3, 1234


class Classifier(nn.Module):
    """image [N, 1, 28, 28] in [-1, 1] -> (features [N, 128], logits [N, 10])."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )  # [N, 64, 7, 7]
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 49, 128), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

    def forward(self, x):
        f = self.fc(self.conv(x))
        return f, self.head(f)


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@torch.no_grad()
def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        (model(x[i : i + 1000])[1].argmax(1) == y[i : i + 1000]).sum().item()
        for i in range(0, len(x), 1000)
    )
    return correct / len(x)


def train(epochs: int = EPOCHS, verbose: bool = True) -> tuple[Classifier, float]:
    torch.manual_seed(SEED)
    tr, te = load_fashion_mnist("train"), load_fashion_mnist("test")
    assert len(tr) == 60000, f"need the full training split, got {len(tr)} ({tr.source})"
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = epochs * math.ceil(len(tr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2 * LR, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(tr), generator=gen)
        for i in range(0, len(tr), BATCH):
            idx = perm[i : i + BATCH]
            x = tr.images[idx]
            loss = F.cross_entropy(model(x)[1], tr.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if verbose:
            acc = accuracy(model, te.images, te.labels)
            print(f"epoch {ep + 1}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)")
    acc = accuracy(model, te.images, te.labels)
    return model, acc


_MODEL: Classifier | None = None


def get_classifier() -> Classifier:
    """The trained classifier (trained and cached on first use), in eval mode."""
    global _MODEL
    if _MODEL is None:
        model = Classifier()
        if WEIGHTS.exists():
            state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
        else:
            model, acc = train()
            _atomic_save({"model": model.state_dict(), "test_accuracy": acc}, WEIGHTS)
        _MODEL = model.eval()
    return _MODEL


def test_accuracy() -> float:
    get_classifier()
    return float(torch.load(WEIGHTS, map_location="cpu", weights_only=True)["test_accuracy"])


@torch.no_grad()
def features_and_probs(
    images: torch.Tensor, batch: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """images [N, 1, 28, 28] in [-1, 1] -> (penultimate features [N, 128], probs [N, 10])."""
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected [N, 1, 28, 28], got {tuple(images.shape)}")
    model = get_classifier()
    feats, probs = [], []
    for i in range(0, len(images), batch):
        f, logits = model(images[i : i + batch].float().clamp(-1, 1))
        feats.append(f)
        probs.append(logits.softmax(1))
    return torch.cat(feats), torch.cat(probs)


# ----------------------------------------------------------------------------- Fréchet distance


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance_stats(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), in float64.

    (C1^1/2 C2 C1^1/2) is symmetric PSD and has the same eigenvalues as C1 C2, so its square
    root's trace is tr((C1 C2)^1/2); symmetric eigen-decompositions keep it real and stable.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    s1 = _sqrtm_psd(cov1)
    m = s1 @ cov2 @ s1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    d = mu1 - mu2
    return float(d @ d + np.trace(cov1) + np.trace(cov2) - 2 * tr_covmean)


def stats(f) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(f.double() if isinstance(f, torch.Tensor) else f, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(f1, f2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N1, D], [N2, D]."""
    return frechet_distance_stats(*stats(f1), *stats(f2))


def class_report(probs: torch.Tensor, min_share: float = 0.02) -> dict:
    """Histogram of argmax classes, how many classes hold >= min_share, mean max-probability."""
    hist = torch.bincount(probs.argmax(1), minlength=10).tolist()
    n = probs.shape[0]
    return {
        "class_hist": hist,
        "classes_covered": sum(h >= min_share * n for h in hist),
        "mean_max_prob": round(probs.max(1).values.mean().item(), 4),
    }


_REAL_STATS: tuple | None = None


def real_test_stats() -> tuple[np.ndarray, np.ndarray]:
    """Feature mean and covariance of the 10,000 real test images (cached in memory)."""
    global _REAL_STATS
    if _REAL_STATS is None:
        f, _ = features_and_probs(load_fashion_mnist("test").images)
        _REAL_STATS = stats(f)
    return _REAL_STATS


def score(samples: torch.Tensor) -> dict:
    """FID vs the 10,000 real test images, and the class report, of generated ``samples``."""
    f, p = features_and_probs(samples)
    return {
        "fid": round(frechet_distance_stats(*stats(f), *real_test_stats()), 3),
        **class_report(p),
    }


def self_check() -> None:
    """Closed forms: commuting (diagonal) covariances, and a non-commuting 2x2 pair."""
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    want = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance_stats(mu1, np.diag(a), mu2, np.diag(b))
    assert abs(got - want) < 1e-9, (got, want)
    # 2x2: sqrt(M) = (M + sqrt(det M) I) / sqrt(tr M + 2 sqrt(det M)), so
    # tr sqrt(C1 C2) = sqrt(tr(C1 C2) + 2 sqrt(det C1 det C2)).
    c1 = np.array([[2.0, 0.7], [0.7, 1.0]])
    c2 = np.array([[1.0, -0.4], [-0.4, 3.0]])
    tr_sqrt = math.sqrt(np.trace(c1 @ c2) + 2 * math.sqrt(np.linalg.det(c1) * np.linalg.det(c2)))
    want = 1.0 + np.trace(c1) + np.trace(c2) - 2 * tr_sqrt
    got = frechet_distance_stats([0, 0], c1, [1, 0], c2)
    assert abs(got - want) < 1e-9, (got, want)
    # sampled: identical distributions give ~0, and the estimate converges to the closed form
    x = rng.multivariate_normal([0, 0], c1, 200000)
    y = rng.multivariate_normal([1, 0], c2, 200000)
    assert abs(frechet_distance(x, y) - want) < 0.05 * want
    print(f"frechet self-check ok (2x2 closed form {want:.4f})")


if __name__ == "__main__":
    torch.set_num_threads(1)  # the machine is shared: one thread avoids OpenMP spin-waiting
    self_check()
    t0 = time.perf_counter()
    get_classifier()
    print(f"classifier test accuracy: {test_accuracy():.4f} (cache {WEIGHTS})")
    tr = load_fashion_mnist("train").images
    f_tr, p_tr = features_and_probs(tr[:10000])
    print("real train[:10000] vs real test:", score(tr[:10000]))
