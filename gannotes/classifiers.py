"""Does a conditional generator obey its label? Classifiers trained from scratch, as in Shmelkov,
Schmid and Alahari 2018, "How good is my GAN?" (ECCV).

The paper measures a class-conditional GAN with two accuracies of image classifiers:

* **GAN-train**: train a classifier on *generated* images (labelled with the class they were
  generated for) and measure its accuracy on *real* test images. High when the samples are
  diverse and realistic enough, and of the requested class, to stand in for the real training
  set. :func:`gan_train` computes it; called with *real* training images instead of generated
  ones it gives the baseline the paper compares against (a classifier trained on as many real
  images, same recipe).
* **GAN-test**: a classifier trained on *real* images labels the generated ones; high when the
  samples look like their class (it does not see diversity: one perfect image per class scores
  100%). The course computes it with its pretrained feature network:
  ``gannotes.metrics.label_accuracy(gannotes.features.class_probabilities(x).argmax(1), y)``.

:func:`augmentation_accuracy` trains on a small real set plus generated images: does adding them
help a classifier? :func:`small_set_trials` repeats that comparison over seeds, each drawing its
own small real set (:func:`balanced_subset`). What it measures depends on what the generator was
trained on: a generator trained on the same small set tests data augmentation; one trained on a
larger labelled set passes on what it learned there (knowledge transfer, a form of distillation).

The classifier is a small CNN of its own (:class:`SmallCNN`, 106k parameters), trained from
scratch with Adam for a few epochs: the recipe, not the weights, is what the measurement fixes,
so compare GAN-train values only between runs of the same recipe and the same number of images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .hardware import limit_threads
from .metrics import label_accuracy

__all__ = [
    "SmallCNN",
    "augmentation_accuracy",
    "balanced_subset",
    "classifier_accuracy",
    "gan_train",
    "per_class_accuracy",
    "predict",
    "small_set_trials",
    "train_classifier",
]

N_CLASSES = 10
MIN_TRAIN = 10  # fewer images than this is no training set


class SmallCNN(nn.Module):
    """image ``[N, 1, 28, 28]`` in [-1, 1] -> class logits ``[N, 10]``. Two 3x3 conv blocks
    (28 -> 14 -> 7) and a 64-unit hidden layer; no BatchNorm or dropout, so training draws no
    random numbers and train and eval modes compute the same function."""

    def __init__(self, width: int = 16, hidden: int = 64, outputs: int = N_CLASSES):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, width, 14, 14]
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 2 width, 7, 7]
            nn.Flatten(),
            nn.Linear(2 * width * 49, hidden),
            nn.ReLU(),
            nn.Linear(hidden, outputs),  # [N, outputs]: 10 class logits by default
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------- input checks


def _images(x, name: str) -> torch.Tensor:
    """``x`` as a float32 CPU tensor ``[N, 1, 28, 28]`` in [-1, 1], or a one-line ValueError."""
    t = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x.detach().cpu()
    if t.ndim != 4 or tuple(t.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must be [N, 1, 28, 28], got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be floats in [-1, 1], got dtype {t.dtype}")
    t = t.float()
    if len(t) and not (torch.isfinite(t).all() and t.min() >= -1 and t.max() <= 1):
        raise ValueError(
            f"{name} must lie in [-1, 1] (no NaN), got [{float(t.min()):.3g}, {float(t.max()):.3g}]"
        )
    return t


def _labelled(images, labels, names: tuple[str, str], min_n: int = 1):
    """(images ``[N, 1, 28, 28]`` float32, labels ``[N]`` int64 in 0..9), checked."""
    x = _images(images, names[0])
    y = torch.from_numpy(np.asarray(labels)) if not isinstance(labels, torch.Tensor) else labels
    y = y.detach().cpu()
    if y.ndim != 1 or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"{names[1]} must be integers [N], got {y.dtype} {tuple(y.shape)}")
    if len(y) != len(x):
        raise ValueError(f"{names[0]} and {names[1]} differ in length: {len(x)} vs {len(y)}")
    if len(x) < min_n:
        raise ValueError(f"{names[0]} needs at least {min_n} images, got {len(x)}")
    if len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(
            f"{names[1]} must lie in 0..{N_CLASSES - 1}, got [{int(y.min())}, {int(y.max())}]"
        )
    return x, y.long()


# ----------------------------------------------------------------------------- train, predict


def train_classifier(
    images,
    labels,
    *,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 4e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> SmallCNN:
    """Train a :class:`SmallCNN` from scratch on ``images`` ``[N, 1, 28, 28]`` in [-1, 1] and
    ``labels`` ``[N]`` in 0..9 (N >= 10) with Adam and cross-entropy; returns it in eval mode.

    Deterministic for a fixed seed (on a CPU, at a fixed thread count): the weights are
    initialised from ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng`` (the caller's
    global RNG is left as it was) and the batches are shuffled by a ``torch.Generator`` of its own.
    The last batch of an epoch may be smaller.

    Measured with the defaults (3 epochs, batch 64, Adam lr 4e-3 with cosine decay to 0) on the
    first 10,000 images of the full Fashion-MNIST training split (Debian's dataset-fashion-mnist),
    tested on all 10,000 real test images, torch 2.13 CPU, one thread, on a slow 2-core machine
    shared with another run: 86.3% test accuracy with seed 0 (86.9% seed 1, 86.6% seed 2) in
    15-19 s of training. Shirt is the hard class (~62%), as for the course's feature network::

        import time, torch
        from gannotes.classifiers import classifier_accuracy, train_classifier
        from gannotes.data import load_fashion_mnist
        torch.set_num_threads(1)
        train, test = load_fashion_mnist("train", limit=10_000), load_fashion_mnist("test")
        start = time.perf_counter()
        model = train_classifier(train.images, train.labels)
        print(time.perf_counter() - start, classifier_accuracy(model, test.images, test.labels))
    """
    x, y = _labelled(images, labels, ("images", "labels"), min_n=MIN_TRAIN)
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}"
        )
    device = torch.device(device)
    if device.type == "cpu":
        limit_threads()  # a container's CPU quota (Binder: 1 CPU), not the host's cores
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN()
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # lr -> 0 at the end
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            loss = nn.functional.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, images, batch: int = 1000) -> np.ndarray:
    """The model's predicted class of each image ``[N, 1, 28, 28]``, as int64 ``[N]``."""
    x = _images(images, "images")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [model(chunk.to(device)).argmax(1).cpu() for chunk in x.split(batch)]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def classifier_accuracy(model: nn.Module, images, labels) -> float:
    """Fraction of ``images`` that ``model`` labels as ``labels`` (all images weigh the same)."""
    x, y = _labelled(images, labels, ("images", "labels"))
    return float((predict(model, x) == y.numpy()).mean())


def per_class_accuracy(model: nn.Module, images, labels) -> np.ndarray:
    """Per class c, the fraction of the images labelled c that ``model`` labels c (its recall on
    c), ``[10]``; NaN for a class absent from ``labels``."""
    x, y = _labelled(images, labels, ("images", "labels"))
    return np.array(label_accuracy(predict(model, x), y.numpy(), N_CLASSES).per_class)


# ----------------------------------------------------------------------------- the measurements


def gan_train(
    fake_images, fake_labels, real_test_images, real_test_labels, **train_kwargs
) -> float:
    """GAN-train (Shmelkov et al. 2018): train on generated images, labelled with the
    class each was generated for, and return the accuracy on real test images.

    Any training set works: with real training images (as many as the generated ones) in place
    of the fake ones it returns the real baseline. ``train_kwargs`` go to :func:`train_classifier`.
    """
    _labelled(real_test_images, real_test_labels, ("real_test_images", "real_test_labels"))
    model = train_classifier(fake_images, fake_labels, **train_kwargs)
    return classifier_accuracy(model, real_test_images, real_test_labels)


def augmentation_accuracy(
    real_images, real_labels, fake_images, fake_labels, test_images, test_labels, **train_kwargs
) -> float:
    """Test accuracy of a classifier trained on real and generated images together (Shmelkov et
    al. 2018: does a small real set gain from generated images?). Compare it with
    ``gan_train(real_images, real_labels, test_images, test_labels)``, the real set alone."""
    xr, yr = _labelled(real_images, real_labels, ("real_images", "real_labels"))
    xf, yf = _labelled(fake_images, fake_labels, ("fake_images", "fake_labels"))
    return gan_train(
        torch.cat([xr, xf]), torch.cat([yr, yf]), test_images, test_labels, **train_kwargs
    )


def balanced_subset(labels, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices ``[10 * per_class]`` (int64) of ``per_class`` images of each class in ``labels``
    ``[N]`` (integers in 0..9), drawn at random without replacement with ``seed``, class 0's
    first. A one-line ValueError names a class with fewer than ``per_class`` images."""
    y = torch.from_numpy(np.asarray(labels)) if not isinstance(labels, torch.Tensor) else labels
    y = y.detach().cpu()
    if y.ndim != 1 or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integers [N], got {y.dtype} {tuple(y.shape)}")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(N_CLASSES):
        members = torch.nonzero(y == c)[:, 0]
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} images, fewer than {per_class}")
        picks.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.cat(picks)


def small_set_trials(
    images,
    labels,
    extra_images,
    extra_labels,
    test_images,
    test_labels,
    *,
    per_class: int,
    seeds=(0, 1, 2),
    **train_kwargs,
) -> list[dict]:
    """Does a small real set gain from ``extra_images``? For each seed, draw ``per_class`` images
    a class from ``images`` (:func:`balanced_subset` with that seed), train one classifier on
    them alone and one on them plus the extra images (both seeded with it), and test both on the
    real test images. Returns ``[{"seed", "alone", "with_extra"}]``, one dict a seed: the spread
    over seeds says whether a difference is more than the noise of the draw and the training."""
    x, y = _labelled(images, labels, ("images", "labels"))
    trials = []
    for seed in seeds:
        idx = balanced_subset(y, per_class, seed)
        kwargs = {**train_kwargs, "seed": seed}
        alone = gan_train(x[idx], y[idx], test_images, test_labels, **kwargs)
        with_extra = augmentation_accuracy(
            x[idx], y[idx], extra_images, extra_labels, test_images, test_labels, **kwargs
        )
        trials.append({"seed": seed, "alone": alone, "with_extra": with_extra})
    return trials
