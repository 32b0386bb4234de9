"""Can generated images be detected? A small real-vs-fake classifier and the ways it fails.

Wang, Wang, Zhang, Owens and Efros 2020, "CNN-generated images are surprisingly easy to spot...
for now" (CVPR), trained one binary classifier on ProGAN's images against real photographs and
found that it also spots the images of other CNN generators it never saw, especially when
trained with blur and JPEG augmentation (their Sec. 4). They report average precision (AP)
beside accuracy because a detector that *ranks* fakes above reals (high AP) can still sit on the
wrong side of its 0.5 threshold on a new generator or after post-processing (low accuracy):
the threshold is miscalibrated, the ranking is not (their Sec. 4.3).

This module is that experiment at Fashion-MNIST's size:

* degradations a shared image goes through: :func:`gaussian_blur`, :func:`add_noise`,
  :func:`quantise_8bit` (saving as 8-bit PNG), :func:`jpeg` (PIL, already a dependency) and
  :func:`wang_augment`, the paper's training augmentation (blur and JPEG, each with p = 0.5);
* :class:`Detector`, a 105k-parameter CNN, trained by :func:`train_detector` (44 CPU-seconds of
  one thread for 10,000 real and 10,000 generated images and 6 epochs; 77 with augmentation);
* :func:`detector_scores` (the probability "generated"), :func:`average_precision` (as
  scikit-learn computes it) and :func:`detection_report`.

What a detector cannot promise. It learns the traces of the generators it was trained on; a new
architecture, a different training set or a post-processing step it did not see can move those
traces, and the measured accuracy says nothing about them until it is measured again. It gives
a score, not proof: at any threshold some real images are called fake (an accusation) and some
fakes pass. And it is an arms race: a generator can be trained against the detector itself, as
a GAN's generator is trained against its discriminator. The paper's title ends "for now".
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .classifiers import SmallCNN, _images
from .hardware import limit_threads

__all__ = [
    "DetectionReport",
    "Detector",
    "add_noise",
    "average_precision",
    "detection_report",
    "detector_scores",
    "gaussian_blur",
    "jpeg",
    "quantise_8bit",
    "train_detector",
    "wang_augment",
]

MIN_TRAIN = 10  # fewer images of a kind than this is no training set


class Detector(SmallCNN):
    """image ``[N, 1, 28, 28]`` in [-1, 1] -> logit ``[N]`` that the image is generated: the
    course's :class:`gannotes.classifiers.SmallCNN` with one output."""

    def __init__(self, width: int = 16, hidden: int = 64):
        super().__init__(width, hidden, outputs=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, 0]  # [N]


# ----------------------------------------------------------------------------- degradations


def gaussian_blur(images, sigma: float) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` pixels; ``[N, 1, 28, 28]`` -> same.

    The kernel reaches ``int(4 sigma + 0.5)`` pixels either side and the border is extended with
    its edge value, as ``scipy.ndimage.gaussian_filter(x, sigma, mode="nearest")`` does (the
    test's oracle). ``sigma = 0`` returns the images unchanged.
    """
    x = _images(images, "images")
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not sigma >= 0:
        raise ValueError(f"sigma must be a number >= 0 (pixels), got {sigma!r}")
    return _blur(x, torch.full((len(x),), float(sigma)))


def _blur(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Image i of ``x`` ``[N, 1, 28, 28]`` blurred with ``sigmas[i]`` (0: unchanged), the
    kernels reaching as far as the largest sigma's; one grouped convolution per direction."""
    radius = int(4.0 * float(sigmas.max()) + 0.5) if len(sigmas) else 0
    if radius == 0:
        return x.clone()
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    s = sigmas.double().clamp_min(1e-12)[:, None]
    k = torch.exp(-0.5 * (t / s) ** 2)  # [N, 2 radius + 1]; sigma 0: a delta
    k = (k / k.sum(1, keepdim=True)).float()
    n = len(x)
    out = x.reshape(1, n, 28, 28)  # the images as channels: one kernel each
    out = F.pad(out, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, k.view(n, 1, 1, -1), groups=n)  # along the rows
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    out = F.conv2d(out, k.view(n, 1, -1, 1), groups=n)  # along the columns
    out = out.reshape(x.shape)
    assert out.shape == x.shape  # [N, 1, 28, 28]
    return out.clamp(-1, 1)


def add_noise(images, std: float, seed: int = 0) -> torch.Tensor:
    """Images plus i.i.d. Gaussian noise of standard deviation ``std`` (in [-1, 1] units, so
    0.05 is 2.5% of the range), clamped back to [-1, 1] as a saved image would be: on the
    black background (-1) half the noise is clipped away. Reproducible with ``seed``."""
    x = _images(images, "images")
    if isinstance(std, bool) or not isinstance(std, Real) or not std >= 0:
        raise ValueError(f"std must be a number >= 0, got {std!r}")
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (x + std * noise).clamp(-1, 1)


def quantise_8bit(images) -> torch.Tensor:
    """Images as an 8-bit file stores them: [-1, 1] -> 256 levels 0..255 (rounded) -> back.
    Idempotent; the error is at most half a level, 1/255 in [-1, 1] units."""
    x = _images(images, "images")
    return _to_uint8(x).float() / 127.5 - 1


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 levels 0..255, rounded to the nearest."""
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def jpeg(images, quality: int) -> torch.Tensor:
    """Each image saved as a JPEG of ``quality`` (1-95, PIL's scale) and read back (8-bit,
    grayscale, PIL's encoder), in [-1, 1]."""
    from PIL import Image

    x = _images(images, "images")
    if isinstance(quality, bool) or not isinstance(quality, Integral) or not 1 <= quality <= 95:
        raise ValueError(f"quality must be an int in 1..95, got {quality!r}")
    out = np.empty((len(x), 28, 28), dtype=np.uint8)
    for i, img in enumerate(_to_uint8(x[:, 0]).numpy()):
        buf = io.BytesIO()
        Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=int(quality))
        out[i] = np.asarray(Image.open(buf))
    return torch.from_numpy(out)[:, None].float() / 127.5 - 1


def wang_augment(
    images, generator: torch.Generator, p: float = 0.5, max_sigma: float = 1.5
) -> torch.Tensor:
    """Wang et al.'s training augmentation ("Blur+JPEG (0.5)"): each image is blurred with
    probability ``p`` (sigma uniform in [0, ``max_sigma``]; the paper's [0, 3] is for 256-pixel
    images) and, independently, JPEG-compressed with probability ``p`` (quality uniform in
    30..95; the paper's 30..100)."""
    x = _images(images, "images").clone()
    n = len(x)
    blur = torch.rand(n, generator=generator) < p
    sigmas = torch.rand(n, generator=generator) * max_sigma
    compress = torch.rand(n, generator=generator) < p
    qualities = torch.randint(30, 96, (n,), generator=generator)
    x = _blur(x, torch.where(blur, sigmas, torch.zeros(n)))
    for i in torch.nonzero(compress)[:, 0].tolist():
        x[i : i + 1] = jpeg(x[i : i + 1], int(qualities[i]))
    return x


# ----------------------------------------------------------------------------- train, score


def train_detector(
    real,
    fake,
    *,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    augment: bool = False,
) -> Detector:
    """Train a :class:`Detector` from scratch: ``real`` and ``fake`` images ``[N, 1, 28, 28]``
    in [-1, 1] (at least 10 of each; use as many of each, or the 0.5 threshold leans towards
    the larger set), binary cross-entropy with label 1 = generated, Adam with cosine decay to 0.
    ``augment`` applies :func:`wang_augment` to every batch. Returned in eval mode.

    Measured (benchmarks/deepfake_detection.py, results/detection.json): with the defaults on
    10,000 real training images against 10,000 samples of the course's DCGAN, 96.7% accuracy
    and 0.994 average precision on 2,000 held-out real test images against 2,000 new samples.

    Deterministic for a fixed seed (CPU, fixed thread count): weights from
    ``torch.manual_seed(seed)`` inside ``fork_rng`` (the caller's RNG is untouched), batch order
    and augmentation from a ``torch.Generator`` of its own.
    """
    xr, xf = _images(real, "real"), _images(fake, "fake")
    if min(len(xr), len(xf)) < MIN_TRAIN:
        raise ValueError(
            f"need at least {MIN_TRAIN} real and {MIN_TRAIN} fake images, got {len(xr)} and "
            f"{len(xf)}"
        )
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}"
        )
    limit_threads()
    x = torch.cat([xr, xf])
    y = torch.cat([torch.zeros(len(xr)), torch.ones(len(xf))])  # 1: generated
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Detector()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            batch = wang_augment(x[idx], gen) if augment else x[idx]
            loss = F.binary_cross_entropy_with_logits(model(batch), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def detector_scores(model: nn.Module, images, batch: int = 1000) -> np.ndarray:
    """The detector's probability that each image is generated, float64 ``[N]``."""
    x = _images(images, "images")
    was_training = model.training
    model.eval()
    out = [torch.sigmoid(model(chunk).double()) for chunk in x.split(batch)]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


def average_precision(labels, scores) -> float:
    """Average precision of ``scores`` for binary ``labels`` (1 = positive), as
    ``sklearn.metrics.average_precision_score``: sum over thresholds (each distinct score, from
    the highest) of (recall gained) x (precision there). Tied scores are one threshold. 1 when
    every positive outranks every negative; about the positives' share for random scores."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape}, {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    positives = int(y.sum())
    if positives == 0:
        raise ValueError("average precision needs at least one positive label")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall_gain = np.diff(np.r_[0, tp]) / positives
    return float((recall_gain * precision).sum())


@dataclass(frozen=True)
class DetectionReport:
    """A detector on held-out real and fake images (label 1 = fake)."""

    accuracy: float  # all images at the 0.5 threshold
    average_precision: float  # threshold-free: does it rank fakes above reals?
    real_accuracy: float  # share of real images called real (1 - false accusations)
    fake_accuracy: float  # share of fakes called fake (caught)
    best_accuracy: float  # at the best threshold for these very images: an upper bound
    n_real: int
    n_fake: int


def detection_report(model: nn.Module, real, fake) -> DetectionReport:
    """Accuracy at the 0.5 threshold (overall, on real, on fake), average precision, and the
    accuracy a threshold chosen on these images would reach (what recalibration could win back).
    With as many real as fake images, accuracy is the mean of the two per-kind accuracies."""
    xr, xf = _images(real, "real"), _images(fake, "fake")
    if not len(xr) or not len(xf):
        raise ValueError(f"need real and fake images, got {len(xr)} and {len(xf)}")
    sr, sf = detector_scores(model, xr), detector_scores(model, xf)
    labels = np.r_[np.zeros(len(sr)), np.ones(len(sf))]
    scores = np.r_[sr, sf]
    return DetectionReport(
        accuracy=float(((scores > 0.5) == labels).mean()),
        average_precision=average_precision(labels, scores),
        real_accuracy=float((sr <= 0.5).mean()),
        fake_accuracy=float((sf > 0.5).mean()),
        best_accuracy=_best_accuracy(labels, scores),
        n_real=len(sr),
        n_fake=len(sf),
    )


def _best_accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """The highest accuracy of the rule "fake when score > t" over every threshold t."""
    order = np.argsort(-scores, kind="mergesort")
    y, s = labels[order], scores[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.r_[0, np.cumsum(y)[last]]  # fakes above the threshold (none: t above every score)
    called = np.r_[0, last + 1]  # images called fake
    tn = (len(y) - y.sum()) - (called - tp)
    return float((tp + tn).max() / len(y))
