"""GAN training tricks as small pure functions and modules, each named after its paper.

The "training tips" of the course, one function (or module) each, all off by default:

* one-sided label smoothing (Salimans et al. 2016, "Improved Techniques for Training GANs",
  Section 3.4): D's target for real data is 1 - s (0.9 for s = 0.1), fakes keep target 0:
  :func:`smooth_targets`;
* noisy labels: flip each of D's labels with probability p: :func:`flip_labels`;
* instance noise (Sonderby et al. 2017, "Amortised MAP Inference for Image Super-resolution",
  Section 4; Arjovsky and Bottou 2017): Gaussian noise on *both* real and fake inputs of D, its
  std annealed linearly to 0: :func:`instance_noise_std`, :func:`add_instance_noise`;
* differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
  GAN Training"): the same kind of random, differentiable transforms on every input of D, real
  and fake, in D's step *and* G's step: :func:`diff_augment`;
* minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", Section 3):
  :class:`MinibatchStdDev`;
* packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
  networks"): D judges m samples at once: :func:`pack`;
* an exponential moving average of G's weights (Karras et al. 2018, Section A.1; Yazici et al.
  2019), BatchNorm's running statistics averaged alike: :func:`ema_update_`;
* spectral normalisation of D's layers (Miyato et al. 2018): :func:`apply_spectral_norm`;
* top-k training (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance by
  Throwing Away Bad Samples"): G's loss on the fakes D scores highest only:
  :func:`top_k_fraction`, :func:`top_k_scores`;
* a pool of past fakes for D (Shrivastava et al. 2017, "Learning from Simulated and Unsupervised
  Images through Adversarial Training", Sec. 2.3; CycleGAN's 50 images): :class:`ImagePool`.

Randomness comes from an optional ``torch.Generator`` (drawn on the CPU), so that a trainer can
save its state and resume exactly.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = [
    "IMAGE_AUGMENTS",
    "ImagePool",
    "POINT_AUGMENTS",
    "MinibatchStdDev",
    "add_instance_noise",
    "apply_spectral_norm",
    "diff_augment",
    "ema_copy",
    "ema_decay",
    "ema_update_",
    "flip_labels",
    "instance_noise_std",
    "pack",
    "parse_policy",
    "smooth_targets",
    "top_k_fraction",
    "top_k_scores",
]


def _rand(shape, generator, device, kind="rand") -> torch.Tensor:
    """Uniform [0, 1) (or normal) numbers drawn on the CPU from ``generator``, moved to ``device``."""
    draw = torch.rand if kind == "rand" else torch.randn
    return draw(shape, generator=generator).to(device)


# ----------------------------------------------------------------------------- labels


def smooth_targets(n: int, smoothing: float = 0.0) -> torch.Tensor:
    """One-sided label smoothing (Salimans et al. 2016, Sec. 3.4): D's targets for ``n`` reals.

    Returns ``n`` copies of 1 - smoothing (0.9 for the classic smoothing = 0.1). Only the real
    targets are smoothed: smoothing the fake ones too would reward G for staying where it is.
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
    return torch.full((n,), 1.0 - smoothing)


def flip_labels(
    targets: torch.Tensor, p: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noisy labels: each target t becomes 1 - t with probability ``p`` (independently)."""
    if not 0 <= p <= 1:
        raise ValueError(f"label flip probability must be in [0, 1], got {p}")
    if p == 0:
        return targets
    flip = _rand(targets.shape, generator, targets.device) < p
    return torch.where(flip, 1 - targets, targets)


# ----------------------------------------------------------------------------- instance noise


def instance_noise_std(step: int, start_std: float, anneal_steps: int) -> float:
    """The std of instance noise at ``step``: ``start_std`` annealed linearly to 0 at
    ``anneal_steps`` (and 0 after), as in Sonderby et al. 2017."""
    if anneal_steps < 1:
        raise ValueError(f"anneal_steps must be a positive integer, got {anneal_steps}")
    return start_std * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(
    x: torch.Tensor, std: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x + std * N(0, I)``: blur both distributions so that their supports overlap.

    Apply it to real *and* fake inputs of D. ``std = 0`` returns ``x`` itself, drawing nothing.
    """
    if std < 0:
        raise ValueError(f"instance noise std must be >= 0, got {std}")
    if std == 0:
        return x
    return x + std * _rand(x.shape, generator, x.device, "randn").to(x.dtype)


# ----------------------------------------------------------------------------- top-k


def top_k_fraction(step: int, fraction: float, anneal_steps: int) -> float:
    """The fraction of G's fakes that top-k training keeps at ``step``: 1 (all) at step 0,
    falling linearly to ``fraction`` at ``anneal_steps`` and staying there (``anneal_steps``
    0: ``fraction`` from the start). Sinha et al. 2020 start with the whole batch too: early
    on, D's scores say little about which samples are good."""
    if not 0 < fraction <= 1:
        raise ValueError(f"top-k fraction must be in (0, 1], got {fraction}")
    if anneal_steps < 0:
        raise ValueError(f"anneal_steps must be >= 0, got {anneal_steps}")
    t = min(step / anneal_steps, 1.0) if anneal_steps else 1.0
    return 1.0 - t * (1.0 - fraction)


def top_k_scores(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """D's scores ``[N]`` of G's fakes -> the ``max(1, round(fraction * N))`` highest (the fakes
    D finds most realistic). G's loss on these alone does not pull the good samples towards the
    bad ones' gradients (Sinha et al. 2020, Sec. 3). ``fraction = 1`` returns ``scores``."""
    if fraction >= 1:
        return scores
    k = max(1, round(fraction * scores.shape[0]))
    return scores.topk(k, dim=0, sorted=False).values


# ----------------------------------------------------------------------------- DiffAugment

IMAGE_AUGMENTS = ("color", "translation", "cutout")  # for images [N, C, H, W]
POINT_AUGMENTS = ("jitter", "translation")  # for points [N, D]


def parse_policy(policy: str) -> list[str]:
    """``"color,translation"`` -> ``["color", "translation"]``; unknown names raise."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    valid = dict.fromkeys(IMAGE_AUGMENTS + POINT_AUGMENTS)
    for name in names:
        if name not in valid:
            raise ValueError(
                f"unknown augmentation {name!r}; valid: {', '.join(valid)} (comma-separated)"
            )
    return names


def diff_augment(
    x: torch.Tensor, policy: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): random transforms that gradients flow through.

    Images ``[N, C, H, W]``: "color" (brightness, saturation, contrast), "translation" (shift by
    up to 1/8 of the size, zero fill), "cutout" (a zeroed square of half the size), as in the
    paper's code. Points ``[N, D]``: "jitter" (Gaussian noise, std 0.05) and "translation"
    (a uniform shift in [-0.125, 0.125] per coordinate). Each sample gets its own random
    parameters; the same ``generator`` state gives the same parameters. Apply it to every input
    of D, real and fake, in both players' steps: augmenting only the reals would teach G to
    produce augmented data.
    """
    names = parse_policy(policy)
    valid = IMAGE_AUGMENTS if x.ndim == 4 else POINT_AUGMENTS if x.ndim == 2 else ()
    for name in names:
        if name not in valid:
            kind = "images [N, C, H, W]" if x.ndim == 4 else f"inputs of shape {tuple(x.shape)}"
            raise ValueError(
                f"augmentation {name!r} does not apply to {kind}; valid there: "
                f"{', '.join(valid) or 'none'}"
            )
        x = _AUGMENTS[(name, x.ndim)](x, generator)
    return x


def _color(x, gen):
    n, dev = x.shape[0], x.device
    x = x + (_rand((n, 1, 1, 1), gen, dev) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand((n, 1, 1, 1), gen, dev) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((n, 1, 1, 1), gen, dev) + 0.5) + mean  # contrast


def _translation(x, gen, ratio=0.125):
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = (_rand((n,), gen, "cpu") * (2 * sh + 1)).long() - sh  # integers in [-sh, sh]
    dx = (_rand((n,), gen, "cpu") * (2 * sw + 1)).long() - sw
    # out[i, :, y, x] = in[i, :, y - dy, x - dx], zero where that falls outside the image
    ys = torch.arange(h)[None, :] - dy[:, None]  # [N, H]
    xs = torch.arange(w)[None, :] - dx[:, None]  # [N, W]
    padded = nn.functional.pad(x, (1, 1, 1, 1))  # index 0 and size+1 are zeros
    ys = (ys.clamp(-1, h) + 1).to(x.device)
    xs = (xs.clamp(-1, w) + 1).to(x.device)
    rows = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[rows, ys[:, :, None], xs[:, None, :]]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2)


def _cutout(x, gen, ratio=0.5):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = (_rand((n,), gen, "cpu") * (h + (1 - ch % 2))).long()  # centre of the square
    cx = (_rand((n,), gen, "cpu") * (w + (1 - cw % 2))).long()
    ys = torch.arange(h)[None, :] - (cy[:, None] - ch // 2)  # [N, H]: inside when in [0, ch)
    xs = torch.arange(w)[None, :] - (cx[:, None] - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]
    return x * (~inside).to(x.device, x.dtype)[:, None]


def _jitter(x, gen, std=0.05):
    return x + std * _rand(x.shape, gen, x.device, "randn")


def _point_translation(x, gen, shift=0.125):
    return x + (_rand(x.shape, gen, x.device) * 2 - 1) * shift


_AUGMENTS = {
    ("color", 4): _color,
    ("translation", 4): _translation,
    ("cutout", 4): _cutout,
    ("jitter", 2): _jitter,
    ("translation", 2): _point_translation,
}


# ----------------------------------------------------------------------------- D's view of a batch


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, Sec. 3): one extra feature that tells D
    how varied the batch is, so that a collapsed G (all samples alike) is easy to spot.

    The batch is split into groups of ``min(group_size, N)`` consecutive samples (N must be a
    multiple); in each group the std of every feature over the group's samples is averaged into
    one number, appended to every sample of the group as a new feature ``[N, F] -> [N, F + 1]``
    or a new constant channel ``[N, C, H, W] -> [N, C + 1, H, W]``.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be a positive integer, got {group_size}")
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"minibatch std: batch of {n} is not a multiple of group size {g}")
        y = x.reshape(n // g, g, -1)  # [groups, g, features]: groups of consecutive samples
        # the variance written out: 4x faster on CPU than Tensor.var over a middle axis
        var = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1)  # [groups, features]
        std = (var + self.eps).sqrt()
        s = std.mean(dim=1).repeat_interleave(g)  # [N]: one number per sample's group
        s = s.reshape(n, *([1] * (x.ndim - 1))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, s.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN packing (Lin et al. 2018): ``[N, C, ...] -> [N/m, m*C, ...]``.

    Samples ``m*i .. m*i + m - 1`` become packed sample i, concatenated along the first feature
    axis (features for points, channels for images). D then judges m samples jointly, which
    makes a generator that drops modes easier to catch. Pack real with real and fake with fake.
    """
    if m < 1:
        raise ValueError(f"pack size must be a positive integer, got {m}")
    n = x.shape[0]
    if n % m:
        raise ValueError(f"cannot pack a batch of {n} into groups of {m}: {n} % {m} != 0")
    if m == 1:
        return x
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])


# ----------------------------------------------------------------------------- weights


def ema_copy(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the moving average of its weights."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    return ema


def ema_decay(decay: float, updates: int) -> float:
    """The decay to use after ``updates`` updates: ``min(decay, (1 + t) / (10 + t))``.

    A warm-up (as TensorFlow's ExponentialMovingAverage does with ``num_updates``): early on the
    average forgets its random start quickly instead of holding on to it for ~1/(1 - decay) steps.
    """
    return min(decay, (1 + updates) / (10 + updates))


def _running_statistics(model: nn.Module) -> set[int]:
    """The ids of the running mean and variance of every normalisation layer that keeps them
    (BatchNorm; InstanceNorm with ``track_running_stats``)."""
    return {
        id(t)
        for m in model.modules()
        for t in (getattr(m, "running_mean", None), getattr(m, "running_var", None))
        if isinstance(t, torch.Tensor)
    }


@torch.no_grad()
def ema_update_(ema_model: nn.Module, model: nn.Module, decay: float) -> None:
    """In place: ``w_ema <- decay * w_ema + (1 - decay) * w`` for every parameter, and the same
    average of BatchNorm's running mean and variance; other buffers (BatchNorm's batch count,
    StyleGAN's ``w_avg``) are copied.

    Why average the running statistics: in eval mode BatchNorm normalises with them, so they
    must describe the activations of the weights they are used with. The live network's are
    the statistics of its own, latest weights (about its last 10 batches, momentum 0.1); copied
    into the EMA network they normalise other weights' activations. Averaged with the weights'
    decay, they cover the same stretch of training as the averaged weights, as timm's
    ModelEmaV2 (every entry of the state dict) and Ultralytics' ModelEMA (every floating-point
    entry) do. The exact alternative, recomputing them with the averaged weights (a forward
    pass over training inputs, as SWA's ``update_bn`` does), would cost that pass before every
    sample and need the training inputs (pix2pix's edge maps) wherever the network is used.
    ``w_avg`` is copied, as StyleGAN2-ADA's training loop copies G's buffers into its EMA.
    """
    if not 0 <= decay < 1:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
    for p_ema, p in zip(ema_model.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    averaged = _running_statistics(ema_model)
    for b_ema, b in zip(ema_model.buffers(), model.buffers(), strict=True):
        if id(b_ema) in averaged:
            b_ema.lerp_(b, 1.0 - decay)
        else:
            b_ema.copy_(b)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every Linear and Conv layer, in place.

    Each weight W is replaced by W / sigma(W), sigma estimated by power iteration (one step per
    forward pass in training mode), so that every layer is about 1-Lipschitz. Uses
    ``torch.nn.utils.parametrizations.spectral_norm``: the state_dict then holds
    ``<layer>.parametrizations.weight.original`` (and the power iteration's ``_u``, ``_v``), so a
    checkpoint loads into a module that had this function applied too.
    """
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            spectral_norm(m, n_power_iterations=n_power_iterations)
    return module


# ----------------------------------------------------------------------------- a history of fakes


class ImagePool:
    """A buffer of ``size`` past generated images that D is trained on (Shrivastava et al. 2017;
    CycleGAN, Sec. 4: "we update the discriminators using a history of generated images rather
    than the ones produced by the latest generators", 50 images).

    :meth:`query` takes a batch of fresh fakes and returns a batch of the same size for D: while
    the pool fills, the fresh image itself (and it is stored); once full, each image is, with
    probability 1/2, the fresh one, else a random stored one that the fresh one replaces. D
    then cannot chase only the latest G, which damps oscillation. ``size=0`` is no pool.
    """

    def __init__(self, size: int = 50):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.images: torch.Tensor | None = None  # [k, ...], k <= size

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, fakes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A batch for D, like ``fakes`` ``[N, ...]`` (detached); updates the pool."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        out = fakes.clone()
        coins = torch.rand(len(fakes), generator=generator)  # on the CPU: reproducible
        slots = torch.randint(0, self.size, (len(fakes),), generator=generator)
        for i in range(len(fakes)):
            if len(self) < self.size:  # still filling: keep it, give it back
                new = fakes[i : i + 1]
                self.images = new.clone() if self.images is None else torch.cat([self.images, new])
            elif coins[i] < 0.5:  # swap: D gets an old fake, the pool keeps the new one
                j = int(slots[i])
                out[i] = self.images[j]
                self.images[j] = fakes[i]
        return out

    def state_dict(self) -> dict:
        """The size and the stored fakes as a detached CPU copy: a checkpoint (and the gather
        of every process's pool in a data-parallel run) holds them as they are now, on no
        device, whatever the pool does next (a swap overwrites the live tensor in place)."""
        images = None if self.images is None else self.images.detach().to("cpu", copy=True)
        return {"size": self.size, "images": images}

    def load_state_dict(self, state: dict) -> None:
        self.size = int(state["size"])
        images = state.get("images")
        self.images = None if images is None else images.clone()
