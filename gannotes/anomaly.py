"""Anomaly detection with a GAN trained on normal data only, and the baselines it must beat.

A GAN trained on one kind of image (say sneakers) has learned what normal looks like. An image
it cannot reproduce, or that its discriminator finds strange, is flagged. Every detector here
returns one score per image, **higher = more anomalous**:

* ``anogan``: AnoGAN (Schlegl et al. 2017, "Unsupervised anomaly detection with generative
  adversarial networks to guide marker discovery", Sec. 2.2). Search the latent space for the
  z whose G(z) is closest to the test image, by gradient descent on z, and score what is left:
  ``(1 - lambda) * residual + lambda * discrimination loss``, the residual ``sum |x - G(z)|``
  and the discrimination loss ``sum |f(x) - f(G(z))|`` in D's features f (eq. 3-5, lambda 0.1).
* ``fanogan``: f-AnoGAN (Schlegl et al. 2019, "f-AnoGAN: fast unsupervised anomaly detection
  with generative adversarial networks", Sec. 2.3-2.4). Instead of a search per image, an
  encoder E is trained once, after the GAN and with G and D frozen, to map images to z with the
  izi_f loss ``1/n ||x - G(E(x))||^2 + kappa/n_d ||f(x) - f(G(E(x)))||^2`` (eq. 7); the score
  is the same expression for the test image (eq. 8-10, kappa 1).
* ``discriminator``: D's own verdict, minus its logit: a real-looking image scores low.
* ``pixel-nn``, ``feature-nn``: no GAN at all. The distance to the nearest normal training image
  in pixels, or in the features of the course's classifier (gannotes.features, trained with the
  labels of all ten classes: it has seen the anomalies' classes, so this baseline knows more
  than any detector trained on normal data alone).
* ``autoencoder``: a small convolutional autoencoder trained on the normal images for the same
  number of steps and batch size as the GAN; score = its reconstruction error.
* ``combined`` (the CLI's default): f-AnoGAN's score and the pixel nearest-neighbour distance,
  each standardised by its mean and spread on normal training images, summed. Two different
  kinds of evidence (what the GAN cannot reproduce; how far the image is from anything seen);
  benchmarks/README.md measures it against each alone.

D's features are the DCGAN discriminator's map before its last convolution (``D.net[:-1]``,
``[N, 2 d_width, 7, 7]``), so only the classic family's DCGAN runs can be scored
(:func:`check_scorable`). :func:`auroc` measures a detector: the probability that a random
anomaly scores above a random normal image. The file is ~580 lines, a third of them docstrings.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import GannotesError
from .models.common import assert_shape

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "ConvAutoencoder",
    "Encoder",
    "anogan_scores",
    "auroc",
    "autoencoder_scores",
    "check_images",
    "check_scorable",
    "d_features",
    "discriminator_scores",
    "fanogan_scores",
    "feature_nn_scores",
    "fit_autoencoder",
    "fit_encoder",
    "izi_f_loss",
    "nn_distances",
    "optimise_latent",
    "pixel_nn_scores",
    "Detectors",
    "load_detectors",
    "normal_images",
    "standardise",
]

METHODS = (
    "combined",
    "fanogan",
    "anogan",
    "discriminator",
    "pixel-nn",
    "feature-nn",
    "autoencoder",
)
DEFAULT_METHOD = "combined"


# ---------------------------------------------------------------- what can be scored, and how well


def check_scorable(family) -> None:
    """Raise GannotesError (one line) unless ``family`` is a classic-family DCGAN whose D has
    one image per input (no packing) and no minibatch std: the detectors need D's features of
    one image at a time."""
    model = getattr(family.config, "model", "?")
    if family.name != "classic" or model != "dcgan":
        raise GannotesError(
            f"anomaly scores runs of the classic family's dcgan only (its D's 7x7 features); "
            f"this is a {model} run of the {family.name} family"
        )
    cfg = family.networks["D"].cfg
    if cfg.pack != 1 or cfg.minibatch_std:
        raise GannotesError(
            "anomaly needs a D that judges one image alone; this run's D packs or uses the "
            "minibatch std"
        )


def check_images(x) -> torch.Tensor:
    """``x`` as a float32 tensor ``[N, 1, 28, 28]`` in [-1, 1] (a ``[N, 28, 28]`` array gains
    its channel), else a one-line ValueError."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28) or len(x) == 0:
        raise ValueError(f"images must be [N, 1, 28, 28] in [-1, 1], got {list(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("images hold NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.01 or hi > 1.01:  # e.g. 0-255 bytes: x / 127.5 - 1 brings them to [-1, 1]
        raise ValueError(
            f"images must be in [-1, 1] as the GAN's are, got values in [{lo:g}, {hi:g}]"
        )
    return x


def auroc(scores, is_anomaly) -> float:
    """Area under the ROC curve: P(score of a random anomaly > score of a random normal image),
    ties counting half (the Mann-Whitney U statistic over the product of the group sizes)."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(is_anomaly, dtype=bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("auroc needs both anomalies and normal images")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# ---------------------------------------------------------------- the discriminator's view


def d_features(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D's feature map before its last convolution, flattened: ``[N, 2 d_width * 49]``."""
    return D.net[:-1](x).flatten(1)


@torch.no_grad()
def discriminator_scores(D: nn.Module, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """Minus D's logit: the less real D finds an image, the higher its score."""
    return np.concatenate([(-D(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


# ---------------------------------------------------------------- AnoGAN: search z per image


def anogan_loss(G, D, x, z, lam: float = 0.1) -> torch.Tensor:
    """Per image ``(1 - lam) * sum |x - G(z)| + lam * sum |f(x) - f(G(z))|`` (AnoGAN, eq. 3-5)."""
    fake = G(z)
    residual = (x - fake).abs().flatten(1).sum(1)
    discrimination = (d_features(D, x) - d_features(D, fake)).abs().sum(1)
    return (1 - lam) * residual + lam * discrimination  # [N]


def optimise_latent(G, D, x, steps: int = 100, lr: float = 0.05, lam: float = 0.1, seed: int = 0):
    """The z (one per image) that minimises :func:`anogan_loss`, by Adam from z ~ N(0, I), and
    the final loss. G and D stay frozen; each image's z is independent of the others'."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(x), G.cfg.z_dim, generator=g).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        loss = anogan_loss(G, D, x, z, lam)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # images do not interact: the sum's gradient is each one's own
        opt.step()
    with torch.no_grad():
        return z.detach(), anogan_loss(G, D, x, z, lam)


def anogan_scores(G, D, x, steps: int = 100, lam: float = 0.1, batch: int = 500, seed: int = 0):
    """AnoGAN's anomaly score: the loss left after :func:`optimise_latent`."""
    with _frozen(G, D):
        parts = [
            optimise_latent(G, D, x[i : i + batch], steps, lam=lam, seed=seed + i)[1]
            for i in range(0, len(x), batch)
        ]
    return torch.cat(parts).numpy()


# ---------------------------------------------------------------- f-AnoGAN: an encoder to z


@dataclass
class EncoderConfig:
    """The f-AnoGAN encoder: D's architecture with a linear layer to z instead of a logit."""

    z_dim: int = 64
    width: int = 32


class Encoder(nn.Module):
    """image ``[N, 1, 28, 28]`` -> z ``[N, z_dim]``: two stride-2 convolutions (28 -> 14 -> 7),
    LeakyReLU(0.2), a linear layer. No tanh: the course's GANs draw z from N(0, I)."""

    def __init__(self, cfg: EncoderConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else EncoderConfig()
        w = cfg.width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1),  # [N, 2w, 7, 7]
            nn.LeakyReLU(0.2, True),
            nn.Flatten(),
            nn.Linear(2 * w * 49, cfg.z_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert_shape(x, (None, 1, 28, 28), "x")
        return self.net(x)


def izi_f_parts(E, G, D, x) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the two residuals of image -> z -> image: ``1/n ||x - G(E(x))||^2`` in pixels
    and ``1/n_d ||f(x) - f(G(E(x)))||^2`` in D's features (f-AnoGAN, eq. 7 and 10)."""
    rec = G(E(x))
    pixel = (x - rec).pow(2).flatten(1).mean(1)
    feature = (d_features(D, x) - d_features(D, rec)).pow(2).mean(1)
    return pixel, feature  # [N], [N]


def izi_f_loss(E, G, D, x, kappa: float = 1.0) -> torch.Tensor:
    """The izi_f training loss of the encoder, averaged over the batch (eq. 7)."""
    pixel, feature = izi_f_parts(E, G, D, x)
    return (pixel + kappa * feature).mean()


def _cost(steps: int, batch: int, start: float, losses: list[float]) -> dict:
    """What a training loop cost: steps, batch, CPU seconds since ``start`` and its loss at the
    start and end (means of ten steps)."""
    return {
        "steps": steps,
        "batch": batch,
        "cpu_seconds": time.process_time() - start,
        "first_loss": float(np.mean(losses[:10])),
        "last_loss": float(np.mean(losses[-10:])),
    }


def fit_encoder(
    G,
    D,
    images: torch.Tensor,
    steps: int = 1000,
    batch: int = 64,
    lr: float = 1e-3,
    kappa: float = 1.0,
    seed: int = 0,
) -> tuple[Encoder, dict]:
    """Train an :class:`Encoder` with the izi_f loss on normal ``images``, G and D frozen.
    Returns it (in eval mode) and its cost: steps, CPU seconds, first and last loss."""
    torch.manual_seed(seed)
    E = Encoder(EncoderConfig(z_dim=G.cfg.z_dim))
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    losses = []
    start = time.process_time()
    with _frozen(G, D):
        for step in range(steps):
            idx = torch.randint(len(images), (batch,), generator=g)
            for group in opt.param_groups:  # cosine decay to 0: a settled encoder at the end
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = izi_f_loss(E, G, D, images[idx], kappa)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    cost = _cost(steps, batch, start, losses)
    return E.eval(), cost


@torch.no_grad()
def fanogan_scores(E, G, D, x, kappa: float = 1.0, batch: int = 1000) -> np.ndarray:
    """f-AnoGAN's anomaly score, pixel residual + kappa * D-feature residual (eq. 10)."""
    out = []
    for i in range(0, len(x), batch):
        pixel, feature = izi_f_parts(E, G, D, x[i : i + batch])
        out.append(pixel + kappa * feature)
    return torch.cat(out).numpy()


# ---------------------------------------------------------------- baselines without a GAN


def nn_distances(reference: torch.Tensor, x: torch.Tensor, chunk: int = 1000) -> np.ndarray:
    """Euclidean distance from each row of ``x`` ``[N, d]`` to its nearest row of
    ``reference`` ``[M, d]``, in chunks (never an N x M matrix of more than chunk rows)."""
    reference = reference.double()
    ref_sq = reference.pow(2).sum(1)
    out = []
    for i in range(0, len(x), chunk):
        q = x[i : i + chunk].double()
        d2 = q.pow(2).sum(1, keepdim=True) - 2 * q @ reference.T + ref_sq  # [chunk, M]
        out.append(d2.min(1).values.clamp_min(0).sqrt())
    return torch.cat(out).numpy()


def pixel_nn_scores(normal: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """Distance to the nearest normal training image, in pixels."""
    return nn_distances(normal.flatten(1), x.flatten(1))


def feature_nn_scores(normal: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """Distance to the nearest normal training image in the course classifier's 128 features."""
    from .features import features

    return nn_distances(torch.from_numpy(features(normal)), torch.from_numpy(features(x)))


class ConvAutoencoder(nn.Module):
    """image ``[N, 1, 28, 28]`` -> bottleneck ``[N, code]`` -> image: the encoder of
    :class:`Encoder`'s shape, a decoder like the DCGAN generator's (7 -> 14 -> 28, tanh)."""

    def __init__(self, code: int = 64, width: int = 32):
        super().__init__()
        w = width
        self.encode = Encoder(EncoderConfig(z_dim=code, width=w))
        self.decode = nn.Sequential(
            nn.Linear(code, 2 * w * 49),
            nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),  # [N, w, 14, 14]
            nn.ReLU(True),
            nn.ConvTranspose2d(w, 1, 4, 2, 1),  # [N, 1, 28, 28]
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def fit_autoencoder(
    images: torch.Tensor, steps: int, batch: int = 32, lr: float = 1e-3, seed: int = 0
) -> tuple[ConvAutoencoder, dict]:
    """Train a :class:`ConvAutoencoder` on normal ``images`` with the squared error, for
    ``steps`` batches of ``batch`` (the GAN's steps and batch size, for a fair comparison)."""
    torch.manual_seed(seed)
    ae = ConvAutoencoder()
    opt = torch.optim.Adam(ae.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    start = time.process_time()
    for _ in range(steps):
        x = images[torch.randint(len(images), (batch,), generator=g)]
        loss = F.mse_loss(ae(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    cost = _cost(steps, batch, start, losses)
    return ae.eval(), cost


@torch.no_grad()
def autoencoder_scores(ae: ConvAutoencoder, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """Mean squared reconstruction error per image."""
    return np.concatenate([(ae(q) - q).pow(2).flatten(1).mean(1).numpy() for q in x.split(batch)])


# ---------------------------------------------------------------- combining evidence


def standardise(scores: np.ndarray, normal_scores: np.ndarray) -> np.ndarray:
    """``(scores - mean) / sd`` of the same detector's scores on normal images: how many
    standard deviations beyond normal, so that two detectors' scores can be added."""
    sd = float(np.std(normal_scores)) or 1.0
    return (np.asarray(scores, np.float64) - float(np.mean(normal_scores))) / sd


class _frozen:
    """Networks in eval mode without gradients for the block; restored after, even on error."""

    def __init__(self, *nets: nn.Module):
        self.nets = nets

    def __enter__(self):
        self.saved = [(n.training, [p.requires_grad for p in n.parameters()]) for n in self.nets]
        for n in self.nets:
            n.eval().requires_grad_(False)

    def __exit__(self, *exc):
        for n, (training, flags) in zip(self.nets, self.saved, strict=True):
            n.train(training)
            for p, flag in zip(n.parameters(), flags, strict=True):
                p.requires_grad_(flag)


# ---------------------------------------------------------------- one run's detectors

ENCODER_STEPS = 1000  # f-AnoGAN's encoder: 1,000 batches of 64 (~35 CPU-s on one core)


class Detectors:
    """Every detector for one GAN (G, D) trained on ``normal`` images ``[M, 1, 28, 28]``.

    ``gan_steps`` and ``batch`` are the GAN's: the autoencoder baseline trains as long. The
    encoder and the autoencoder are trained on first use (or given); ``costs`` records what
    each took. ``score(x, method)`` returns float32 scores ``[N]``, higher = more anomalous.
    """

    def __init__(self, G, D, normal, *, gan_steps: int, batch: int = 32, seed: int = 0):
        self.G, self.D = G.eval(), D.eval()
        self.normal = check_images(normal)
        if len(self.normal) < 10:
            raise ValueError(
                f"anomaly detection needs at least 10 normal images, got {len(normal)}"
            )
        self.gan_steps, self.batch, self.seed = gan_steps, batch, seed
        self.encoder: Encoder | None = None
        self.autoencoder: ConvAutoencoder | None = None
        self.costs: dict[str, dict] = {}
        self._calibration: dict[str, np.ndarray] | None = None

    def fit_encoder(self, steps: int = ENCODER_STEPS) -> dict:
        self.encoder, self.costs["encoder"] = fit_encoder(
            self.G, self.D, self.normal, steps=steps, seed=self.seed
        )
        return self.costs["encoder"]

    def fit_autoencoder(self) -> dict:
        self.autoencoder, self.costs["autoencoder"] = fit_autoencoder(
            self.normal, steps=self.gan_steps, batch=self.batch, seed=self.seed
        )
        return self.costs["autoencoder"]

    def _combined(self, x: torch.Tensor) -> np.ndarray:
        """f-AnoGAN + pixel-NN, each in standard deviations of its scores on normal images:
        the first fifth of the normal images (at most 1,000), their pixel-NN distances taken to
        the other four fifths."""
        if self._calibration is None:
            n_cal = min(1000, len(self.normal) // 5)
            cal, rest = self.normal[:n_cal], self.normal[n_cal:]
            self._calibration = {
                "fanogan": self.score(cal, "fanogan"),
                "pixel-nn": pixel_nn_scores(rest, cal),
            }
        return sum(standardise(self.score(x, m), c) for m, c in self._calibration.items())

    def score(self, x, method: str = DEFAULT_METHOD) -> np.ndarray:
        x = check_images(x)
        if method == "combined":
            s = self._combined(x)
        elif method == "fanogan":
            if self.encoder is None:
                self.fit_encoder()
            s = fanogan_scores(self.encoder, self.G, self.D, x)
        elif method == "anogan":
            s = anogan_scores(self.G, self.D, x, seed=self.seed)
        elif method == "discriminator":
            s = discriminator_scores(self.D, x)
        elif method == "pixel-nn":
            s = pixel_nn_scores(self.normal, x)
        elif method == "feature-nn":
            s = feature_nn_scores(self.normal, x)
        elif method == "autoencoder":
            if self.autoencoder is None:
                self.fit_autoencoder()
            s = autoencoder_scores(self.autoencoder, x)
        else:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        return np.asarray(s, dtype=np.float32)


def normal_images(config) -> torch.Tensor:
    """The normal images a run trained on: its dataset's training split, its ``classes``, its
    ``data_limit``, as the Trainer took them."""
    from .data import dataset_tensors

    fields, _ = dataset_tensors(config.dataset, "train", config.data_limit, config.classes)
    return fields["images"]


def _fingerprint(*nets: nn.Module) -> str:
    """A hash of the networks' weights: a cached encoder belongs to exactly these G and D."""
    h = hashlib.sha256()
    for net in nets:
        for name, t in net.state_dict().items():
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def encoder_path(run, encoder=None):
    """Where the f-AnoGAN encoder of ``run`` is cached: ``--encoder`` if given, else
    RUN/fanogan_encoder.pt for a run directory, RUN_fanogan_encoder.pt beside a .pt file."""
    if encoder is not None:
        return Path(encoder)
    run = Path(run)
    if run.is_dir():
        return run / "fanogan_encoder.pt"
    return run.with_name(f"{run.stem}_fanogan_encoder.pt")


def load_detectors(
    run,
    *,
    encoder=None,
    fit: bool = False,
    need_encoder: bool = True,
    encoder_steps: int = ENCODER_STEPS,
    log=print,
):
    """The :class:`Detectors` of a run directory or exported .pt (classic-family DCGAN runs
    only), with its f-AnoGAN encoder loaded from the cache (``encoder_path``) when it was
    trained for these very weights, else trained now (or when ``fit``) and cached atomically.
    ``log`` hears what was loaded or trained and at what cost."""
    from .checkpoint import atomic_write_bytes, load_checkpoint
    from .training import load_family

    family = load_family(run)
    check_scorable(family)
    step = int(load_checkpoint(run).get("step", 0))
    G, D = family.sampling_network, family.networks["D"]
    det = Detectors(
        G,
        D,
        normal_images(family.config),
        gan_steps=max(step, 1),
        batch=family.config.batch_size,
        seed=family.config.seed,
    )
    if not (need_encoder or fit):
        return det
    path, mark = encoder_path(run, encoder), _fingerprint(G, D)
    if path.is_file() and not fit:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file: one line
            raise GannotesError(
                f"{path} is not a readable encoder ({type(exc).__name__})"
            ) from None
        if isinstance(saved, dict) and saved.get("fingerprint") == mark:
            det.encoder = Encoder(EncoderConfig(**saved["config"]))
            det.encoder.load_state_dict(saved["encoder"])
            det.encoder.eval()
            det.costs["encoder"] = saved["cost"]
            log(f"f-AnoGAN encoder: loaded {path} ({saved['cost']['steps']} steps)")
            return det
        log(f"f-AnoGAN encoder: {path} belongs to other weights; training a new one")
    cost = det.fit_encoder(encoder_steps)
    buf = io.BytesIO()
    torch.save(
        {
            "encoder": det.encoder.state_dict(),
            "config": {"z_dim": det.encoder.cfg.z_dim, "width": det.encoder.cfg.width},
            "fingerprint": mark,
            "cost": cost,
        },
        buf,
    )
    atomic_write_bytes(path, buf.getvalue())
    log(
        f"f-AnoGAN encoder: trained {cost['steps']} steps of {cost['batch']} images in "
        f"{cost['cpu_seconds']:.1f} CPU-s (izi_f loss {cost['first_loss']:.3f} -> "
        f"{cost['last_loss']:.3f}); cached in {path}"
    )
    return det
