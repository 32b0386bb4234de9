"""The shipped feature network, sample scoring, and `gannotes evaluate` on sets of known quality."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gannotes import features
from gannotes.checkpoint import CheckpointError
from gannotes.data import load_fashion_mnist
from gannotes.evaluation import box_blur, class_histogram, evaluate_images
from gannotes.features import as_images, extract, feature_network

ROOT = Path(__file__).resolve().parent.parent
N = 2000  # samples per scored set: the reference set's size


@pytest.fixture(scope="module")
def real():
    """Held-out from the reference: training-split images, 200 per class (shipped subset)."""
    return load_fashion_mnist("train", subset=True, limit=N).images


def blur(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, [k // 2] * 4, mode="replicate"), k, stride=1)


def test_weights_match_the_recorded_sha256_and_report():
    raw = features.WEIGHTS_PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == features.WEIGHTS_SHA256
    report = json.loads(features.WEIGHTS_PATH.with_suffix(".json").read_text())
    assert report["sha256"] == features.WEIGHTS_SHA256
    assert report["test_accuracy"] >= 0.90
    assert report["command"].startswith("python -m gannotes.features train")
    readme = (features.WEIGHTS_PATH.parent / "README.md").read_text()
    assert features.WEIGHTS_SHA256 in readme and report["command"] in readme


def test_the_network_classifies_held_out_images():
    test = load_fashion_mnist("test", subset=True)
    _, probs = extract(test.images)
    accuracy = (probs.argmax(1) == test.labels.numpy()).mean()
    assert accuracy >= 0.89  # 0.915 on the full test split, measured 0.91 on this subset
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-9)


def test_a_tampered_weights_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "fashion_cnn.pt"
    bad.write_bytes(features.WEIGHTS_PATH.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(features, "WEIGHTS_PATH", bad)
    feature_network.cache_clear()
    try:
        with pytest.raises(CheckpointError, match="expected 0c625250a304"):
            feature_network()
    finally:
        feature_network.cache_clear()


def test_as_images_accepts_the_documented_layouts_and_ranges():
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(as_images(x), x)
    torch.testing.assert_close(as_images(((x + 1) / 2).numpy()[:, 0]), x, atol=1e-6, rtol=0)
    u8 = ((x + 1) * 127.5).round().to(torch.uint8)
    torch.testing.assert_close(as_images(u8), u8.float() / 127.5 - 1)
    for bad, match in [
        (torch.zeros(2, 3, 28, 28), r"\[N, 1, 28, 28\] or \[N, 28, 28\]"),
        (torch.full((2, 28, 28), 3.0), r"\[-1, 1\] or \[0, 1\]"),
        (torch.full((2, 28, 28), float("nan")), "NaN"),
        (torch.zeros(0, 28, 28), "at least one image"),
    ]:
        with pytest.raises(ValueError, match=match):
            as_images(bad)


def test_metrics_rank_sets_of_known_quality(real):
    """The issue's acceptance: real < blur 3x3 < blur 5x5 < one class by FID, noise worse than
    the 5x5 blur; blur lowers precision, collapse lowers recall (and class coverage)."""
    gen = torch.Generator().manual_seed(0)
    one_class = load_fashion_mnist("train", subset=True)
    sneakers = one_class.images[one_class.labels == 7][:N]
    sets = {
        "real": real,
        "blur3": blur(real, 3),
        "blur5": blur(real, 5),
        "one_class": sneakers,
        "noise": torch.rand(N, 1, 28, 28, generator=gen) * 2 - 1,
    }
    r = {name: evaluate_images(x, kid_subsets=20) for name, x in sets.items()}
    fid = {k: v["fid"] for k, v in r.items()}
    assert fid["real"] < fid["blur3"] < fid["blur5"] < fid["one_class"], fid
    assert fid["noise"] > fid["blur5"], fid
    assert r["blur5"]["precision"] < r["real"]["precision"] - 0.1  # measured 0.70 vs 0.87
    assert r["one_class"]["recall"] < r["real"]["recall"] - 0.3
    assert r["one_class"]["coverage"] < r["real"]["coverage"] - 0.3
    assert r["real"]["classes_covered"] == 10 and r["one_class"]["classes_covered"] <= 2
    assert r["real"]["kid"] < r["blur5"]["kid"]
    assert r["real"]["inception_score"] > 5 > r["one_class"]["inception_score"]


def test_box_blur_is_the_mean_over_the_window_inside_the_image():
    # Oracle: a convolution with a hand-built kernel of ones, divided by the same convolution of
    # an all-ones image (the number of window pixels inside the image).
    x = torch.randn(3, 2, 9, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for size in (1, 3, 5, 7):
        kernel = torch.ones(2, 1, size, size, dtype=torch.float64)  # [C, 1, k, k], per channel
        total = F.conv2d(x, kernel, padding=size // 2, groups=2)
        count = F.conv2d(torch.ones_like(x), kernel, padding=size // 2, groups=2)
        torch.testing.assert_close(box_blur(x, size), total / count)
    torch.testing.assert_close(box_blur(x, 1), x)
    # By hand: one bright pixel in a 3x3 image, seen by windows of 4 (corner), 6 (edge), 9 pixels.
    dot = torch.zeros(1, 1, 3, 3)
    dot[0, 0, 1, 1] = 1.0
    expected = torch.tensor([[1 / 4, 1 / 6, 1 / 4], [1 / 6, 1 / 9, 1 / 6], [1 / 4, 1 / 6, 1 / 4]])
    torch.testing.assert_close(box_blur(dot, 3)[0, 0], expected)
    # A constant image stays constant up to the border (no zero padding darkens it).
    torch.testing.assert_close(box_blur(-torch.ones(2, 1, 28, 28), 5), -torch.ones(2, 1, 28, 28))


@pytest.mark.parametrize(
    "images, size, message",
    [
        (torch.zeros(1, 1, 8, 8), 2, "odd positive int"),
        (torch.zeros(1, 1, 8, 8), 0, "odd positive int"),
        (torch.zeros(1, 1, 8, 8), 3.0, "odd positive int"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 3, "float tensor"),
        (torch.zeros(8, 8), 3, r"\[N, C, H, W\]"),
    ],
)
def test_box_blur_refuses_what_it_cannot_blur(images, size, message):
    with pytest.raises(ValueError, match=message):
        box_blur(images, size)


def test_class_histogram():
    probs = np.eye(10)[[0, 0, 3, 9]]
    assert class_histogram(probs).tolist() == [2, 0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_evaluate_prints_one_json_object_last(tmp_path, real, run_cli):
    np.save(tmp_path / "s.npy", ((real[:500] + 1) / 2).numpy()[:, 0])  # [N, 28, 28] in [0, 1]
    result = run_cli("evaluate", "s.npy", "--dataset", "fashion-mnist", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    keys = {
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "inception_score",
        "n",
    }
    assert keys <= scores.keys() and scores["n"] == 500
    assert scores["classes_covered"] == 10


def test_evaluate_scores_toy_points(tmp_path, run_cli):
    from gannotes.data import grid

    np.save(tmp_path / "p.npy", grid(2500, generator=torch.Generator().manual_seed(0)).numpy())
    result = run_cli("evaluate", "p.npy", "--dataset", "grid", cwd=tmp_path)
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["modes"] == 25 and scores["high_quality"] > 0.98


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "samples file not found"),
        (b"not numpy", "is not a readable .npy array"),
        ("object", "is not a readable .npy array"),
        ("shape", "expected images of shape [N, 1, 28, 28] or [N, 28, 28], got (4, 3)"),
        ("range", "image values must lie in [-1, 1] or [0, 1]"),
    ],
)
def test_evaluate_bad_files_are_one_clear_line(tmp_path, content, message, run_cli):
    path = tmp_path / "s.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "object":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif content == "shape":
        np.save(path, np.zeros((4, 3), np.float32))
    elif content == "range":
        np.save(path, np.full((4, 28, 28), 7.0, np.float32))
    result = run_cli("evaluate", "s.npy", "--dataset", "fashion-mnist", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr
