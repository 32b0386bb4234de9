"""A Fashion-MNIST feature network we train ourselves: FID's features, the Inception Score's classes.

Inception-v3 (the network behind the standard FID and IS) cannot be downloaded offline, and its
features suit 299x299 colour photographs, not 28x28 grayscale clothing. So the course trains a
small CNN classifier on the Fashion-MNIST training split with a command in this module:

    python -m gannotes.features train --out data/features/fashion_cnn.pt

Its penultimate layer (128 ReLU units) gives the features for the Fréchet distance, KID and
precision/recall; its softmax gives the class probabilities for the Inception Score and for
counting which classes a generator covers. The shipped weights are checked against
``WEIGHTS_SHA256`` and loaded with ``torch.load(..., weights_only=True)``; their test accuracy and
the exact command are recorded in ``data/features/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import CheckpointError, GannotesError, atomic_write_bytes, write_json
from .paths import data_dir, missing_message

__all__ = [
    "WEIGHTS_PATH",
    "WEIGHTS_SHA256",
    "FashionCNN",
    "FashionCNNConfig",
    "as_images",
    "class_probabilities",
    "extract",
    "feature_network",
    "features",
    "train_feature_network",
]

WEIGHTS_PATH = data_dir() / "features" / "fashion_cnn.pt"  # the repository's data/ or a wheel's
WEIGHTS_SHA256 = "0c625250a3043bd315f4002643138fd713ee05906ad04dcf723e222ad6310af3"


@dataclass
class FashionCNNConfig:
    """Two conv blocks (28 -> 14 -> 7), a 128-unit feature layer, ten class logits."""

    width: int = 32  # channels of the first block; the second has 2*width
    feature_dim: int = 128


class FashionCNN(nn.Module):
    """image ``[N, 1, 28, 28]`` in [-1, 1] -> (features ``[N, 128]``, logits ``[N, 10]``)."""

    def __init__(self, cfg: FashionCNNConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else FashionCNNConfig()
        w = cfg.width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, w, 14, 14]
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 2w, 7, 7]
            nn.Flatten(),
            nn.Linear(2 * w * 49, cfg.feature_dim),
            nn.ReLU(),  # [N, feature_dim]: the features
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(cfg.feature_dim, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images [N, 1, 28, 28], got {tuple(x.shape)}")
        f = self.body(x)
        return f, self.head(self.dropout(f))


def as_images(x) -> torch.Tensor:
    """Samples as float32 ``[N, 1, 28, 28]`` in [-1, 1], from ``[N, 1, 28, 28]`` or ``[N, 28, 28]``
    arrays in [-1, 1], in [0, 1], or uint8 in [0, 255]."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise ValueError(
            f"expected a numpy array or torch tensor of images, got {type(x).__name__}"
        )
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(
            f"expected images of shape [N, 1, 28, 28] or [N, 28, 28], got {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError("expected at least one image, got none")
    if x.dtype == torch.uint8:
        return x.float() / 127.5 - 1
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or inf")
    lo, hi = x.min().item(), x.max().item()
    if lo >= 0 and hi <= 1:
        # No negative value: [0, 1] images (Fashion-MNIST in [-1, 1] has a background of -1).
        return x * 2 - 1
    if lo < -1 - 1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"image values must lie in [-1, 1] or [0, 1], got [{lo:.3g}, {hi:.3g}]")
    return x.clamp(-1, 1)


@lru_cache(maxsize=2)
def feature_network(path: str | None = None, device: str = "cpu") -> FashionCNN:
    """The shipped feature network in eval mode, checksum-verified, loaded weights-only."""
    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise GannotesError(
            missing_message("feature network weights", "features", path)
            + f"; or rebuild them with `python -m gannotes.features train --out {path}`"
        )
    raw = path.read_bytes()
    if path == WEIGHTS_PATH:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise CheckpointError(
                f"{path} has sha256 {digest[:12]}..., expected {WEIGHTS_SHA256[:12]}...; "
                "the file is corrupt or was replaced"
            )
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable weights file ({type(exc).__name__})"
        ) from None
    net = FashionCNN(FashionCNNConfig(**state["config"]))
    net.load_state_dict(state["model"])
    return net.to(device).eval()


@torch.no_grad()
def extract(images, *, batch: int = 1000, device: str = "cpu", net: FashionCNN | None = None):
    """(features ``[N, 128]``, class probabilities ``[N, 10]``) as float64 numpy arrays."""
    x = as_images(images)
    net = net if net is not None else feature_network(device=device)
    feats, probs = [], []
    for chunk in x.split(batch):
        f, logits = net(chunk.to(device))
        feats.append(f.double().cpu())
        probs.append(torch.softmax(logits.double(), dim=1).cpu())
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def features(images, **kwargs) -> np.ndarray:
    """Penultimate-layer features ``[N, 128]`` of the feature network (float64)."""
    return extract(images, **kwargs)[0]


def class_probabilities(images, **kwargs) -> np.ndarray:
    """Softmax class probabilities ``[N, 10]`` of the feature network (float64)."""
    return extract(images, **kwargs)[1]


# ----------------------------------------------------------------------------- training


def train_feature_network(
    epochs: int = 4, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, threads: int = 2
) -> tuple[FashionCNN, dict]:
    """Train the feature network on the full training split (deterministic on a CPU for a fixed
    seed and thread count); returns the network and a report with its test accuracy."""
    from .data import load_fashion_mnist

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train = load_fashion_mnist("train")
    test = load_fashion_mnist("test")
    if len(train) < 60_000:
        raise GannotesError(
            f"the feature network trains on the full training split; found {len(train)} images "
            f"({train.source}). Install dataset-fashion-mnist or set GANNOTES_DATA"
        )
    net = FashionCNN()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr * 3, total_steps=epochs * (len(train) // batch_size)
    )
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(train), generator=gen)
        for i in range(len(train) // batch_size):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            x, y = train.images[idx], train.labels[idx]
            # light augmentation: random horizontal flips (clothing is left-right symmetric)
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = nn.functional.cross_entropy(net(x)[1], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    _, probs = extract(test.images, net=net)
    accuracy = float((probs.argmax(1) == test.labels.numpy()).mean())
    report = {
        "test_accuracy": round(accuracy, 4),
        "train_source": train.source,
        "train_images": len(train),
        "test_images": len(test),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    return net, report


def _save(net: FashionCNN, path: Path) -> str:
    buf = io.BytesIO()
    torch.save({"config": asdict(net.cfg), "model": net.state_dict()}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gannotes.features", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the feature network and write its weights")
    train.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    train.add_argument("--epochs", type=int, default=4)
    train.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    net, report = train_feature_network(epochs=args.epochs, seed=args.seed)
    report["sha256"] = _save(net, args.out)
    report["command"] = (
        f"python -m gannotes.features train --out {args.out} --epochs {args.epochs} "
        f"--seed {args.seed}"
    )
    write_json(args.out.with_suffix(".json"), report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
