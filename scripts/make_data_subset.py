#!/usr/bin/env python3
"""Write the stratified Fashion-MNIST subset shipped in data/fashion-mnist-subset/.

Reads the four full Fashion-MNIST IDX .gz files (default: where the Debian package
``dataset-fashion-mnist`` puts them) and writes, in the same IDX gzip format and
with the same file names:

* train: 1,000 images per class (10,000 in all)
* t10k:    200 images per class  (2,000 in all)

Each split is drawn with ``numpy.random.default_rng(0)`` (per class, without
replacement) and then shuffled with that same generator so the classes are
interleaved. gzip is written with ``mtime=0`` and no embedded file name, so the
output is byte-for-byte reproducible; a ``SHA256SUMS`` file (``sha256sum -c``
format) is written next to the data.

Only numpy, gzip and hashlib are used (no torch), so this runs anywhere::

    python scripts/make_data_subset.py [--src DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np

DEFAULT_SRC = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "fashion-mnist-subset"
SEED = 0
N_CLASSES = 10
PER_CLASS = {"train": 1000, "t10k": 200}
FILES = {
    split: (f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz") for split in PER_CLASS
}


def read_idx(path: Path) -> np.ndarray:
    """Read an (optionally gzipped) IDX file of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape}, found {data.size} bytes of data")
    return data.reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX (magic 0x0000 08 ndim, big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_gzip(path: Path, payload: bytes) -> None:
    """Write payload gzipped, reproducibly (mtime=0, no file name in the header), atomically."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def choose(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of a stratified sample: per_class of each label, then shuffled."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(N_CLASSES):
        pool = np.flatnonzero(labels == c)
        if pool.size < per_class:
            raise ValueError(f"class {c}: only {pool.size} examples, need {per_class}")
        picks.append(rng.choice(pool, size=per_class, replace=False))
    return rng.permutation(np.concatenate(picks))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src",
        type=Path,
        default=DEFAULT_SRC,
        help=f"directory with the full IDX .gz files (default: {DEFAULT_SRC})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: data/fashion-mnist-subset)",
    )
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for split, (img_name, lbl_name) in FILES.items():
        images = read_idx(args.src / img_name)
        labels = read_idx(args.src / lbl_name)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
        idx = choose(labels, PER_CLASS[split], SEED)
        for name, array in ((img_name, images[idx]), (lbl_name, labels[idx])):
            write_gzip(args.out / name, idx_bytes(array))
            written.append(name)
        counts = np.bincount(labels[idx], minlength=N_CLASSES)
        print(f"{split}: {idx.size} examples, per class {counts.tolist()}")

    sums = "".join(f"{sha256(args.out / n)}  {n}\n" for n in sorted(written))
    (args.out / "SHA256SUMS").write_text(sums)
    sys.stdout.write(sums)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
