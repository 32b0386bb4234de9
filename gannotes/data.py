"""Data for the course: Fashion-MNIST found without the network, and the 2-D toy benchmarks.

Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) is looked for in this order, and the first source
that has the four IDX files wins:

1. an explicit directory: the ``root`` argument, else the ``GANNOTES_DATA`` environment variable;
2. a full copy already on the machine: Debian's ``dataset-fashion-mnist`` package, or a
   torchvision cache (``<dir>/FashionMNIST/raw``) in the usual places;
3. a download through torchvision, only where torchvision imports and the network answers
   (torchvision checks every file's MD5);
4. the subset shipped with the course in ``data/fashion-mnist-subset`` (1,000 training and 200
   test images per class).

The result says which source it used; when none works, one error lists everything that was tried.

The toy sets use the constants of the mode-collapse literature (VEEGAN, Srivastava et al. 2017;
PacGAN, Lin et al. 2018): ``ring`` is 8 Gaussians of std 0.01 on a circle of radius 1, ``grid``
is 25 Gaussians of std 0.05 centred at (i, j) for i, j in {-4, -2, 0, 2, 4}.
"""

from __future__ import annotations

import gzip
import math
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .links import REPO_URL
from .paths import data_dir, missing_message

__all__ = [
    "CLASSES",
    "DATASETS",
    "TOY_DATASETS",
    "DataNotFoundError",
    "FashionMNIST",
    "IMAGE_DATASETS",
    "DOMAIN_DATASETS",
    "dataset_tensors",
    "fashion_mnist_sources",
    "grid",
    "grid_centres",
    "load_fashion_mnist",
    "read_idx",
    "ring",
    "ring_centres",
    "select_classes",
    "toy_centres",
    "toy_data",
    "TOY_STD",
]

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
TOY_DATASETS = ("ring", "grid")
# edges2fashion: the pairs (edges(x), x) of every Fashion-MNIST image (gannotes.edges), the
# "sketch -> garment" task of paired translation (pix2pix).
# Two-domain sets for unpaired translation (CycleGAN), as fields "a" and "b" of dataset_tensors:
# edges2fashion's domains are edge maps and garments; sneaker2boot's the Sneaker (7) and Ankle
# boot (9) images.
DOMAIN_DATASETS = ("edges2fashion", "sneaker2boot")
IMAGE_DATASETS = ("fashion-mnist", "edges2fashion", "sneaker2boot")
SNEAKER, ANKLE_BOOT = 7, 9
DATASETS = (*IMAGE_DATASETS, *TOY_DATASETS)
TOY_STD = {"ring": 0.01, "grid": 0.05}

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_SUBSET_DIR = data_dir() / "fashion-mnist-subset"  # the repository's data/ or a wheel's copy
_SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
_CACHE_ROOTS = (
    Path.home() / ".cache" / "gannotes",
    Path.home() / ".cache" / "torch" / "datasets",
    Path.home() / "data",
    Path("data"),
)
_DOWNLOAD_HOST = ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80)


class DataNotFoundError(FileNotFoundError):
    """Raised when no source of Fashion-MNIST could be used; the message lists what was tried."""


@dataclass(frozen=True)
class FashionMNIST:
    """Fashion-MNIST images as float tensors in [-1, 1] with their labels and provenance."""

    images: torch.Tensor  # [N, 1, 28, 28] float32 in [-1, 1]
    labels: torch.Tensor  # [N] int64 in 0..9
    split: str
    source: str  # which source was used, e.g. "debian package (/usr/share/...)"
    path: Path
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return self.images.shape[0]


# ----------------------------------------------------------------------------- Fashion-MNIST


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not): the format MNIST and Fashion-MNIST ship in.

    The header is two zero bytes, a type code (0x08 = unsigned byte) and the number of
    dimensions, then one big-endian int32 per dimension, then the data.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad header {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != math.prod(shape):
        raise ValueError(f"{path} holds {data.size} bytes of data, its header says {shape}")
    return data.reshape(shape)


def _idx_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``split`` in ``directory``, gzipped or not, if present."""
    prefix = _SPLIT_PREFIX[split]
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [directory / f"{prefix}-{kind}{ext}" for ext in (".gz", "")]
        existing = [p for p in candidates if p.is_file()]
        if not existing:
            return None
        found.append(existing[0])
    return found[0], found[1]


def _cache_dirs() -> list[Path]:
    dirs = []
    for root in _CACHE_ROOTS:
        dirs += [root / "fashion-mnist", root / "FashionMNIST" / "raw"]
    return dirs


def _network_available(timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(_DOWNLOAD_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _torchvision_download(root: Path) -> Path:
    """Download Fashion-MNIST with torchvision (which verifies each file's MD5)."""
    from torchvision.datasets import FashionMNIST as TVFashionMNIST

    for train in (True, False):
        TVFashionMNIST(str(root), train=train, download=True)
    return root / "FashionMNIST" / "raw"


def fashion_mnist_sources(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The local places looked in, in order, as (description, directory) pairs."""
    sources: list[tuple[str, Path]] = []
    if root is not None:
        sources.append(("directory given as root", Path(root)))
    elif os.environ.get("GANNOTES_DATA"):
        sources.append(("directory in $GANNOTES_DATA", Path(os.environ["GANNOTES_DATA"])))
    sources += [("debian package dataset-fashion-mnist", d) for d in _SYSTEM_DIRS]
    sources += [("cache", d) for d in _cache_dirs()]
    return sources


def load_fashion_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    subset: bool = False,
    limit: int | None = None,
) -> FashionMNIST:
    """Load Fashion-MNIST from the first source that has it (see the module docstring).

    Args:
        split: "train" (60,000 images; 10,000 in the shipped subset) or "test" (10,000; 2,000).
        root: a directory holding the IDX files. When given it must hold them: a wrong
            ``root`` is an error, never a silent fallback to another source.
        download: True to allow a torchvision download, False to forbid it, None to allow it
            only where torchvision imports and the network answers.
        subset: True to use the shipped subset directly (fast, small, always available).
        limit: keep only the first ``limit`` images (the subset is shuffled, so a prefix holds
            every class in roughly equal numbers; the full set is in its published order).
    """
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"unknown split {split!r}; valid splits are 'train' and 'test'")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be a positive number of images, got {limit}")

    tried: list[str] = []
    chosen: tuple[str, Path, tuple[Path, Path]] | None = None
    if not subset:
        if root is not None:
            files = _idx_files(Path(root), split)
            if files is None:
                raise DataNotFoundError(
                    f"no Fashion-MNIST {split} IDX files in {root} (expected "
                    f"{_SPLIT_PREFIX[split]}-images-idx3-ubyte[.gz] and "
                    f"{_SPLIT_PREFIX[split]}-labels-idx1-ubyte[.gz])"
                )
            chosen = ("directory given as root", Path(root), files)
        else:
            for description, directory in fashion_mnist_sources():
                files = _idx_files(directory, split)
                if files is not None:
                    chosen = (description, directory, files)
                    break
                tried.append(f"{description} ({directory})")
        if chosen is None:
            chosen = _try_download(split, download, tried)
    if chosen is None:
        files = _idx_files(_SUBSET_DIR, split)
        if files is not None:
            chosen = ("subset shipped in data/", _SUBSET_DIR, files)
        else:
            tried.append(f"shipped subset ({_SUBSET_DIR})")
    if chosen is None and subset:
        raise DataNotFoundError(
            missing_message("the Fashion-MNIST subset", "fashion-mnist-subset", _SUBSET_DIR)
        )
    if chosen is None:
        raise DataNotFoundError(
            "Fashion-MNIST was not found; tried: " + "; ".join(tried) + ". Install Debian's "
            "dataset-fashion-mnist, set GANNOTES_DATA to a directory with the IDX files, "
            "allow a download with download=True where a network exists, or get the folder "
            f"data/fashion-mnist-subset of {REPO_URL}."
        )

    description, directory, (images_path, labels_path) = chosen
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{directory} does not hold Fashion-MNIST: images {images.shape}, labels "
            f"{labels.shape} (expected [N, 28, 28] and [N])"
        )
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.astype(np.float32)).div_(127.5).sub_(1.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return FashionMNIST(x, y, split, f"{description} ({directory})", directory)


def dataset_tensors(
    dataset: str,
    split: str = "train",
    limit: int | None = None,
    classes: tuple[int, ...] | None = None,
) -> tuple[dict[str, torch.Tensor], str]:
    """The fields of an image dataset, aligned by index, and where they came from.

    ``fashion-mnist`` gives ``images`` ``[N, 1, 28, 28]`` in [-1, 1] and ``labels`` ``[N]``;
    ``edges2fashion`` adds ``edges``, the edge map of each image (gannotes.edges.edge_map), so
    that ``(edges[i], images[i])`` is a pair of the translation task. A GAN family takes the
    fields it needs (gannotes.gans.Family.data_fields).

    The two-domain sets (:data:`DOMAIN_DATASETS`) also give the domains of unpaired translation
    as ``a`` and ``b`` (with ``labels_a``, ``labels_b``):

    * ``edges2fashion``, training split: ``a`` = the edge maps of the even-numbered images,
      ``b`` = the odd-numbered images themselves, so that no image is seen in both domains
      and no pair is ever shown. Test split: ``a`` = ``edges`` and ``b`` = ``images``, so
      ``(a[i], b[i])`` are partners: the hidden truth a translation is scored against.
    * ``sneaker2boot``: ``a`` = the Sneaker images, ``b`` = the Ankle boot images (6,000 of
      each in training, 1,000 in test; truncated to the shorter). ``images`` and ``labels``
      hold both classes. A translation has no true partner here: success is being classified
      as the other class while keeping the input's pose and size.

    ``classes`` keeps only the images of those labels (e.g. ``(7,)``: the sneakers), then
    ``limit`` the first ``limit`` of them: the normal data of anomaly detection.
    """
    if dataset not in IMAGE_DATASETS:
        raise ValueError(f"{dataset!r} is not an image dataset; valid: {', '.join(IMAGE_DATASETS)}")
    fm = load_fashion_mnist(split, limit=None if classes else limit)
    if classes:
        fm = select_classes(fm, classes, limit)
    fields = {"images": fm.images, "labels": fm.labels}
    source = fm.source
    if dataset == "edges2fashion":
        from .edges import edge_map

        fields["edges"] = edge_map(fm.images)
        source = f"edge maps and images of {fm.source}"
        if split == "train":
            a, b, la, lb = fields["edges"][0::2], fm.images[1::2], fm.labels[0::2], fm.labels[1::2]
            n = min(len(a), len(b))
            fields.update(a=a[:n], b=b[:n], labels_a=la[:n], labels_b=lb[:n])
        else:
            fields.update(a=fields["edges"], b=fm.images, labels_a=fm.labels, labels_b=fm.labels)
    elif dataset == "sneaker2boot":
        sneakers, boots = fm.labels == SNEAKER, fm.labels == ANKLE_BOOT
        a, b = fm.images[sneakers], fm.images[boots]
        n = min(len(a), len(b))
        if n == 0:
            raise ValueError(f"sneaker2boot: the {split} data holds no Sneaker or no Ankle boot")
        both = sneakers | boots
        fields = {
            "images": fm.images[both],
            "labels": fm.labels[both],
            "a": a[:n],
            "b": b[:n],
            "labels_a": fm.labels[sneakers][:n],
            "labels_b": fm.labels[boots][:n],
        }
        source = f"Sneaker and Ankle boot images of {fm.source}"
    return fields, source


def select_classes(
    fm: FashionMNIST, classes: tuple[int, ...], limit: int | None = None
) -> FashionMNIST:
    """The images of ``fm`` whose label is one of ``classes``, in their order, the first
    ``limit`` of them; its source says which classes."""
    keep = torch.isin(fm.labels, torch.tensor(classes, dtype=fm.labels.dtype))
    images, labels = fm.images[keep][:limit], fm.labels[keep][:limit]
    names = ", ".join(f"{c} {CLASSES[c]}" for c in classes)
    source = f"classes {names} of {fm.source}"
    return FashionMNIST(images, labels, fm.split, source, fm.path)


def _try_download(split, download, tried) -> tuple[str, Path, tuple[Path, Path]] | None:
    if download is False:
        tried.append("download (not allowed: download=False)")
        return None
    try:
        import torchvision  # noqa: F401
    except Exception as exc:  # torchvision may be missing, or present but broken
        tried.append(f"download (torchvision unavailable: {type(exc).__name__})")
        if download:
            raise DataNotFoundError(
                f"download=True needs torchvision, which failed: {exc}"
            ) from exc
        return None
    if download is None and not _network_available():
        tried.append("download (no network)")
        return None
    root = _CACHE_ROOTS[0]
    raw = _torchvision_download(root)
    files = _idx_files(raw, split)
    if files is None:
        tried.append(f"download ({raw} is incomplete)")
        return None
    return ("downloaded with torchvision", raw, files)


# ----------------------------------------------------------------------------- 2-D toy sets


def ring_centres(modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """Centres of ``modes`` Gaussians evenly spaced on a circle. ``[modes, 2]``

    The angles are 2*pi*k/modes for k = 0..modes-1: ``linspace(0, 2*pi, modes)`` would put the
    last centre on top of the first and give only modes-1 distinct modes.
    """
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_centres(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> torch.Tensor:
    """Centres of the 5x5 grid benchmark, (i, j) for i, j in ``values``. ``[25, 2]``"""
    v = torch.tensor(values, dtype=torch.float32)
    return torch.cartesian_prod(v, v)


def toy_centres(name: str) -> torch.Tensor:
    """The mode centres of toy dataset ``name`` ("ring" or "grid"). ``[M, 2]``"""
    if name == "ring":
        return ring_centres()
    if name == "grid":
        return grid_centres()
    raise ValueError(f"unknown toy dataset {name!r}; valid toy datasets are 'ring' and 'grid'")


def _mixture(n: int, centres: torch.Tensor, std: float, generator) -> torch.Tensor:
    if n <= 0:
        raise ValueError(f"n must be a positive number of points, got {n}")
    idx = torch.randint(len(centres), (n,), generator=generator)
    noise = torch.randn(n, 2, generator=generator)
    return centres[idx] + std * noise


def ring(n: int, *, std: float = 0.01, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points from 8 Gaussians (std 0.01) on the unit circle, modes equally likely. ``[n, 2]``"""
    return _mixture(n, ring_centres(), std, generator)


def grid(n: int, *, std: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points from 25 Gaussians (std 0.05) on the 5x5 grid {-4,..,4}^2. ``[n, 2]``"""
    return _mixture(n, grid_centres(), std, generator)


def toy_data(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of toy dataset ``name`` ("ring" or "grid"). ``[n, 2]``"""
    if name == "ring":
        return ring(n, generator=generator)
    if name == "grid":
        return grid(n, generator=generator)
    raise ValueError(f"unknown toy dataset {name!r}; valid toy datasets are 'ring' and 'grid'")


def in_colab() -> bool:
    """True inside Google Colab (the notebooks' setup cell installs gannotes there)."""
    return "google.colab" in sys.modules
