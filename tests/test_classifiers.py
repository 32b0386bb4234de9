"""gannotes.classifiers (GAN-train, Shmelkov et al. 2018) on a synthetic task with known answers.

The oracle task: a 28x28 image of class c is dark noise with one bright 7x7 block, at block c of a
4x4 grid. A classifier trained on images whose labels say which block is bright (a generator that
obeys its label) must label fresh images ~perfectly; trained on the same images with shuffled
labels (a generator that ignores its label) it can only guess, ~10%. Per-class accuracy is checked
against sklearn's recall. Each training here takes about a second on one core.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gannotes.classifiers import (
    augmentation_accuracy,
    balanced_subset,
    classifier_accuracy,
    gan_train,
    per_class_accuracy,
    predict,
    small_set_trials,
    train_classifier,
)

FAST = {"epochs": 8, "batch_size": 32}  # enough for the block task on a few hundred images


def blocks(n: int, seed: int, noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``[n, 1, 28, 28]`` in [-1, 1] with every class in turn, and their labels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    x = -1 + noise * torch.rand(n, 1, 28, 28, generator=g)
    for i, c in enumerate(labels.tolist()):
        r, k = divmod(c, 4)
        x[i, 0, 7 * r : 7 * r + 7, 7 * k : 7 * k + 7] += 1.5
    return x.clamp(-1, 1), labels


@pytest.fixture(scope="module")
def task():
    train_x, train_y = blocks(300, seed=1)
    test_x, test_y = blocks(200, seed=2)
    shuffled_y = train_y[torch.randperm(300, generator=torch.Generator().manual_seed(3))]
    return train_x, train_y, shuffled_y, test_x, test_y


@pytest.fixture(scope="module")
def guessing_model(task):
    """A classifier trained with shuffled labels: its predictions on test images are scattered."""
    train_x, _, shuffled_y, _, _ = task
    return train_classifier(train_x, shuffled_y, **FAST)


def test_gan_train_tells_an_obeying_generator_from_one_that_ignores_labels(task, guessing_model):
    train_x, train_y, _, test_x, test_y = task
    assert gan_train(train_x, train_y, test_x, test_y, **FAST) >= 0.98
    # gan_train is train_classifier then classifier_accuracy on the test set
    chance = classifier_accuracy(guessing_model, test_x, test_y)
    assert chance == gan_train(train_x, task[2], test_x, test_y, **FAST)
    assert chance <= 0.3


def test_per_class_accuracy_is_sklearn_recall(task, guessing_model):
    from sklearn.metrics import accuracy_score, recall_score

    _, _, _, test_x, test_y = task
    predicted = predict(guessing_model, test_x)
    assert predicted.dtype == np.int64 and predicted.shape == (200,)
    want = (guessing_model(test_x).argmax(1)).numpy()  # the model itself as the oracle
    np.testing.assert_array_equal(predicted, want)
    assert len(np.unique(predicted)) > 2  # scattered predictions: a non-trivial comparison
    got = per_class_accuracy(guessing_model, test_x, test_y)
    assert got.shape == (10,)
    np.testing.assert_allclose(got, recall_score(test_y, predicted, average=None))
    assert classifier_accuracy(guessing_model, test_x, test_y) == pytest.approx(
        accuracy_score(test_y, predicted)
    )
    # a class absent from the labels is NaN; the others are their recall on the subset
    keep = (test_y != 3).numpy()
    got = per_class_accuracy(guessing_model, test_x[keep], test_y[keep].numpy())
    assert np.isnan(got[3]) and not np.isnan(np.delete(got, 3)).any()
    want = recall_score(
        test_y[keep], predicted[keep], average=None, labels=range(10), zero_division=np.nan
    )
    np.testing.assert_allclose(got, want)  # NaN where NaN


def test_training_is_deterministic_and_leaves_the_global_rng_alone():
    x, y = blocks(40, seed=4)
    state = torch.get_rng_state()
    a, b = (train_classifier(x, y, epochs=1, seed=5) for _ in range(2))
    c = train_classifier(x, y, epochs=1, seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert not a.training  # returned in eval mode


def test_augmentation_accuracy_trains_on_real_and_fake_together(task):
    """Augmenting 50 real images with 300 fakes that systematically carry the wrong label (class
    c drawn as block c + 1) must drag the accuracy from ~100% towards 0; it is gan_train on the
    concatenation."""
    train_x, train_y, _, test_x, test_y = task
    real_x, real_y = train_x[:50], train_y[:50]
    wrong_y = (train_y + 9) % 10  # the image of block c labelled c - 1
    real_only = gan_train(real_x, real_y, test_x, test_y, **FAST)
    augmented = augmentation_accuracy(real_x, real_y, train_x, wrong_y, test_x, test_y, **FAST)
    assert real_only >= 0.95 and augmented <= 0.3
    assert augmented == gan_train(
        torch.cat([real_x, train_x]), torch.cat([real_y, wrong_y]), test_x, test_y, **FAST
    )


def test_balanced_subset_draws_per_class_images_of_each_class_at_random():
    labels = torch.tensor([c for c in range(10) for _ in range(5 + c)])[
        torch.randperm(95, generator=torch.Generator().manual_seed(0))
    ]  # class c has 5 + c images, shuffled
    idx = balanced_subset(labels, 4, seed=1)
    assert idx.dtype == torch.int64 and idx.shape == (40,)
    assert len(set(idx.tolist())) == 40  # without replacement
    assert labels[idx].tolist() == [c for c in range(10) for _ in range(4)]  # class 0's first
    assert torch.equal(idx, balanced_subset(labels.numpy(), 4, seed=1))  # deterministic
    # at random: over many seeds, each image of class 9 (14 of them) is drawn about 4/14 of
    # the time, and every one of them is drawn at some point
    counts = torch.zeros(95)
    for seed in range(700):
        counts[balanced_subset(labels, 4, seed)] += 1
    nine = counts[labels == 9] / 700
    assert (nine > 0).all() and (nine - 4 / 14).abs().max() < 0.07
    with pytest.raises(ValueError, match="class 0 has 5 images, fewer than 6"):
        balanced_subset(labels, 6)
    with pytest.raises(ValueError, match="per_class must be at least 1"):
        balanced_subset(labels, 0)
    with pytest.raises(ValueError, match="labels must be integers"):
        balanced_subset(labels.float(), 2)


def test_small_set_trials_compare_a_small_set_alone_and_with_extra_images(task):
    """Each seed draws its own small set and seeds its classifiers; extra images that obey the
    label keep the accuracy high, extra images with the wrong label drag it down."""
    train_x, train_y, _, test_x, test_y = task
    wrong_y = (train_y + 9) % 10
    trials = small_set_trials(
        train_x, train_y, train_x, wrong_y, test_x, test_y, per_class=3, seeds=(0, 1), **FAST
    )
    assert [t["seed"] for t in trials] == [0, 1]
    for t in trials:  # the definition: gan_train on the drawn subset, and on it plus the extras
        idx = balanced_subset(train_y, 3, t["seed"])
        kwargs = {**FAST, "seed": t["seed"]}
        assert t["alone"] == gan_train(train_x[idx], train_y[idx], test_x, test_y, **kwargs)
        assert t["with_extra"] == augmentation_accuracy(
            train_x[idx], train_y[idx], train_x, wrong_y, test_x, test_y, **kwargs
        )
        assert t["with_extra"] <= 0.3  # 300 mislabelled images outvote 30 right ones
    good = small_set_trials(
        train_x, train_y, train_x, train_y, test_x, test_y, per_class=3, seeds=(0,), **FAST
    )
    assert good[0]["with_extra"] >= 0.95


_X, _Y = blocks(12, seed=7)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (_X[:, 0], _Y, r"images must be \[N, 1, 28, 28\], got shape \(12, 28, 28\)"),
        (_X * 2, _Y, r"images must lie in \[-1, 1\]"),
        (_X.masked_fill(_X > 0, float("nan")), _Y, r"images must lie in \[-1, 1\] \(no NaN\)"),
        ((_X > 0).to(torch.uint8), _Y, "images must be floats"),
        (_X, _Y.float(), "labels must be integers"),
        (_X, _Y[:, None], "labels must be integers"),
        (_X, _Y + 1, r"labels must lie in 0..9, got \[1, 10\]"),
        (_X, _Y - 1, r"labels must lie in 0..9, got \[-1, 8\]"),
        (_X, _Y[:11], "images and labels differ in length: 12 vs 11"),
        (_X[:9], _Y[:9], "images needs at least 10 images, got 9"),
    ],
)
def test_bad_input_is_a_one_line_value_error(images, labels, message):
    with pytest.raises(ValueError, match=message) as info:
        train_classifier(images, labels)
    assert "\n" not in str(info.value)


def test_bad_input_is_checked_before_training_and_at_evaluation(guessing_model):
    x, y = blocks(12, seed=8)
    with pytest.raises(ValueError, match="real_test_labels must lie in 0..9"):
        gan_train(x, y, x, y + 10)  # the test set is checked before a second is spent training
    with pytest.raises(ValueError, match="fake_labels differ"):
        augmentation_accuracy(x, y, x, y[:5], x, y)
    with pytest.raises(ValueError, match="epochs >= 1"):
        train_classifier(x, y, epochs=0)
    with pytest.raises(ValueError, match="images must lie in"):
        per_class_accuracy(guessing_model, x + 1, y)
    assert 0 <= classifier_accuracy(guessing_model, x.numpy(), y.numpy()) <= 1  # numpy works too
