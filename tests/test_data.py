"""gannotes.data: the offline Fashion-MNIST chain and the toy benchmarks' published constants."""

import gzip
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes import data
from gannotes.data import (
    CLASSES,
    DataNotFoundError,
    grid,
    grid_centres,
    load_fashion_mnist,
    read_idx,
    ring,
    ring_centres,
    toy_data,
)

SUBSET = Path(__file__).resolve().parent.parent / "data" / "fashion-mnist-subset"


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """The IDX format written independently of the reader: magic 0,0,8,ndim then big-endian dims."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def make_fake_fashion(directory: Path, n: int = 12, split: str = "train", gz: bool = True):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    prefix = "train" if split == "train" else "t10k"
    ext = ".gz" if gz else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", images, gz)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz)
    return images, labels


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """Hide every real source: no system package, no caches, no shipped subset, no env var."""
    monkeypatch.delenv("GANNOTES_DATA", raising=False)
    monkeypatch.setattr(data, "_SYSTEM_DIRS", (tmp_path / "none-system",))
    monkeypatch.setattr(data, "_CACHE_ROOTS", (tmp_path / "none-cache",))
    monkeypatch.setattr(data, "_SUBSET_DIR", tmp_path / "none-subset")
    return tmp_path


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.gz" if gz else "a"), array, gz)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_rejects_bad_header_and_truncation(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"12345")
    with pytest.raises(ValueError, match="header says"):
        read_idx(short)


# ----------------------------------------------------------------------------- the chain


def test_explicit_directory_is_used_and_scaled(tmp_path, no_sources):
    images, labels = make_fake_fashion(tmp_path / "mine")
    fm = load_fashion_mnist("train", root=tmp_path / "mine")
    assert fm.images.shape == (12, 1, 28, 28) and fm.images.dtype == torch.float32
    expected = torch.from_numpy(images.astype(np.float32)) / 127.5 - 1
    torch.testing.assert_close(fm.images[:, 0], expected)
    assert fm.images.min() >= -1 and fm.images.max() <= 1
    assert fm.labels.tolist() == labels.tolist()
    assert fm.classes == CLASSES and len(fm) == 12
    assert "root" in fm.source and str(tmp_path / "mine") in fm.source


def test_environment_variable_and_uncompressed_files(tmp_path, no_sources, monkeypatch):
    make_fake_fashion(tmp_path / "env", n=5, split="test", gz=False)
    monkeypatch.setenv("GANNOTES_DATA", str(tmp_path / "env"))
    fm = load_fashion_mnist("test")
    assert len(fm) == 5 and "GANNOTES_DATA" in fm.source


def test_wrong_explicit_directory_is_an_error_not_a_fallback(tmp_path, no_sources):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="train-images-idx3-ubyte"):
        load_fashion_mnist("train", root=tmp_path / "empty")


def test_nothing_found_lists_what_was_tried(no_sources):
    with pytest.raises(DataNotFoundError) as info:
        load_fashion_mnist("train", download=False)
    message = str(info.value)
    assert "\n" not in message
    for fragment in ("debian package", "cache", "download", "shipped subset", "GANNOTES_DATA"):
        assert fragment in message


def test_cache_directory_in_torchvision_layout(tmp_path, no_sources, monkeypatch):
    cache = tmp_path / "cache-root"
    make_fake_fashion(cache / "FashionMNIST" / "raw", n=7)
    monkeypatch.setattr(data, "_CACHE_ROOTS", (cache,))
    fm = load_fashion_mnist("train", download=False)
    assert len(fm) == 7 and fm.source.startswith("cache")


def test_system_package_wins_over_subset(tmp_path, no_sources, monkeypatch):
    make_fake_fashion(tmp_path / "sys", n=9)
    make_fake_fashion(tmp_path / "sub", n=3)
    monkeypatch.setattr(data, "_SYSTEM_DIRS", (tmp_path / "sys",))
    monkeypatch.setattr(data, "_SUBSET_DIR", tmp_path / "sub")
    assert len(load_fashion_mnist("train", download=False)) == 9
    assert len(load_fashion_mnist("train", subset=True)) == 3


def test_download_is_skipped_without_torchvision_or_network(no_sources, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError("no torchvision here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    with pytest.raises(DataNotFoundError, match="torchvision unavailable"):
        load_fashion_mnist("train")
    with pytest.raises(DataNotFoundError, match="needs torchvision"):
        load_fashion_mnist("train", download=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="valid splits are 'train' and 'test'"):
        load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="positive"):
        load_fashion_mnist("train", subset=True, limit=0)


# ----------------------------------------------------------------------------- shipped subset


def test_shipped_subset_matches_its_checksums_and_is_balanced():
    sums = dict(
        reversed(line.split()) for line in (SUBSET / "SHA256SUMS").read_text().splitlines() if line
    )
    for name, digest in sums.items():
        assert hashlib.sha256((SUBSET / name).read_bytes()).hexdigest() == digest, name
    train = load_fashion_mnist("train", subset=True)
    test = load_fashion_mnist("test", subset=True)
    assert train.images.shape == (10_000, 1, 28, 28) and test.images.shape == (2_000, 1, 28, 28)
    assert torch.bincount(train.labels, minlength=10).tolist() == [1000] * 10
    assert torch.bincount(test.labels, minlength=10).tolist() == [200] * 10
    assert train.images.min() == -1 and train.images.max() == 1
    assert "subset" in train.source
    assert len(load_fashion_mnist("train", subset=True, limit=100)) == 100


# ----------------------------------------------------------------------------- toy sets


def test_ring_centres_are_the_published_eight_distinct_points():
    c = ring_centres()
    assert c.shape == (8, 2)
    torch.testing.assert_close(c.norm(dim=1), torch.ones(8))
    assert torch.cdist(c, c).add(torch.eye(8) * 10).min() > 0.7  # neighbours are 2 sin(pi/8) apart
    angles = torch.atan2(c[:, 1], c[:, 0]).remainder(2 * math.pi).sort().values
    torch.testing.assert_close(angles, torch.arange(8) * (2 * math.pi / 8), atol=1e-5, rtol=0)


def test_grid_centres_are_the_published_25_points():
    c = grid_centres()
    assert c.shape == (25, 2)
    expected = {(i, j) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)}
    assert {tuple(int(v) for v in row) for row in c.tolist()} == expected


@pytest.mark.parametrize(
    "name,centres,std", [("ring", ring_centres(), 0.01), ("grid", grid_centres(), 0.05)]
)
def test_toy_samples_have_the_published_std_and_uniform_modes(name, centres, std):
    gen = torch.Generator().manual_seed(0)
    x = toy_data(name, 50_000, generator=gen)
    assert x.shape == (50_000, 2)
    nearest = torch.cdist(x, centres).argmin(dim=1)
    residual = x - centres[nearest]
    assert abs(residual.std().item() - std) < 0.05 * std
    counts = torch.bincount(nearest, minlength=len(centres)).float()
    expected = 50_000 / len(centres)
    assert (counts - expected).abs().max() < 5 * math.sqrt(expected)  # ~5 sigma


def test_toy_data_is_deterministic_with_a_generator_and_validates():
    a = ring(10, generator=torch.Generator().manual_seed(3))
    b = ring(10, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, grid(10, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="positive"):
        ring(0)
    with pytest.raises(ValueError, match="valid toy datasets are 'ring' and 'grid'"):
        toy_data("spiral", 10)
