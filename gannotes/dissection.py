"""GAN Dissection at 28x28 (Bau, Zhu, Strobelt, Zhou, Tenenbaum, Freeman and Torralba 2019).

Which units (channels) of one layer of a generator draw a class? Bau et al. measure a unit by its
*causal* effect: switch it off (its activation set to zero) and see what disappears from the
image. Here "what disappears" is measured by the course's Fashion-MNIST classifier: the share of
samples it labels with the class.

Units work together, so ranking them one at a time misses units that matter only jointly. As in
Bau et al. (Sec. 3.2, "ablation" of a set of units), we learn a soft ablation ``alpha`` in [0, 1]
per unit: the layer's output times ``1 - alpha``, with ``alpha`` trained by gradient descent to
lower the classifier's probability of the class, plus an L1 price per unit switched off. The
units with the largest ``alpha`` are the class's units; by default we keep the fewest of them
that halve the class's share (with a margin). The control: as many random units of the same
layer, switched off the same way.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

from .checkpoint import GannotesError, atomic_write_bytes
from .features import feature_network

__all__ = [
    "LAYERS",
    "ablated",
    "class_share",
    "default_layer",
    "dissect",
    "layer_channels",
    "load_units",
    "save_units",
    "unit_maps",
]

# The layers worth dissecting, by model: their names in the generator (after the ReLU, or the
# style layer's output), in order from the input.
LAYERS = {
    "dcgan": ("project.2", "up.2"),
    "stylegan": tuple(f"synthesis.layers.{i}" for i in range(6)),
}


def _model(family) -> str:
    if family.name == "stylegan":
        return "stylegan"
    if family.name == "classic" and family.config.model == "dcgan":
        return "dcgan"
    raise GannotesError(
        f"dissection needs an unconditional image generator (a dcgan or stylegan run); this is "
        f"a {family.config.model} run of the {family.name} family"
    )


def default_layer(family) -> str:
    """The layer :func:`dissect` uses by default: the first (coarsest) one."""
    return LAYERS[_model(family)][0]


def _module(family, layer: str) -> torch.nn.Module:
    names = LAYERS[_model(family)]
    if layer not in names:
        raise GannotesError(f"unknown layer {layer!r} of this generator; valid: {', '.join(names)}")
    return dict(family.sampling_network.named_modules())[layer]


def _latents(family, n: int, seed: int):
    inputs = family.latent(n, torch.Generator().manual_seed(seed))
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _images(family, inputs) -> torch.Tensor:
    """Images of ``inputs`` as ``family.sample`` makes them, with gradients allowed."""
    G = family.sampling_network
    if family.name == "stylegan":
        z, *noise = inputs
        return G.synthesis(G.ws(z, update_w_avg=False), list(noise) or None).clamp(-1, 1)
    return G(*inputs)


def layer_channels(family, layer: str) -> int:
    """The number of units (channels) of ``layer``."""
    seen = []
    handle = _module(family, layer).register_forward_hook(lambda m, i, o: seen.append(o.shape[1]))
    try:
        with torch.no_grad():
            _images(family, _latents(family, 1, 0))
    finally:
        handle.remove()
    return seen[0]


_MEANS: dict[tuple[int, str], torch.Tensor] = {}


@torch.no_grad()
def mean_activation(family, layer: str, n: int = 2000) -> torch.Tensor:
    """The mean activation map ``[C, H, W]`` of ``layer`` over ``n`` samples (seed 0): what a
    unit switched off by ``ablated(..., to="mean")`` shows instead of its own activation."""
    key = (id(family.sampling_network), layer)
    if key not in _MEANS:
        seen = []
        handle = _module(family, layer).register_forward_hook(lambda m, i, o: seen.append(o))
        try:
            _images(family, _latents(family, n, 0))
        finally:
            handle.remove()
        _MEANS[key] = seen[0].float().mean(0)
    return _MEANS[key]


@contextlib.contextmanager
def ablated(family, layer: str, units=None, keep: torch.Tensor | None = None, to: str = "zero"):
    """Inside the block, ``layer``'s ``units`` are switched off in every forward pass of the
    family's sampling network: set to zero (Bau et al.'s ablation), or with ``to="mean"``
    replaced by their mean activation over samples (what the unit adds to an average garment
    is removed, the average kept). With ``keep`` ``[C]`` in [0, 1] instead of ``units``, each
    channel is blended: ``keep * activation + (1 - keep) * off`` (a soft ablation)."""
    if to not in ("mean", "zero"):
        raise ValueError(f"to must be 'mean' or 'zero', got {to!r}")
    module = _module(family, layer)
    mean = mean_activation(family, layer) if to == "mean" else torch.zeros(())
    if keep is None:
        keep = torch.ones(layer_channels(family, layer))
        keep[list(units or [])] = 0

    def hook(m, i, out):
        k = keep.to(out.dtype)[None, :, None, None]
        return out * k + (1 - k) * mean.to(out.dtype)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def class_share(family, cls: int, n: int = 5000, seed: int = 0) -> float:
    """The share of ``n`` samples (``seed``) the course's classifier labels ``cls``."""
    net = feature_network()
    x = family.sample(n, seed=seed)
    labels = torch.cat([net(c)[1].argmax(1) for c in x.split(1000)])
    return float((labels == cls).float().mean())


def dissect(
    family,
    cls: int,
    layer: str | None = None,
    top: int | None = None,
    steps: int = 100,
    batch: int = 64,
    l1: float = 0.02,
    seed: int = 0,
    to: str = "zero",
    target: float = 0.4,
    n_check: int = 2000,
) -> dict:
    """Rank the units of ``layer`` by their learned ablation for class ``cls`` (module
    docstring) and keep the ``top`` first; with ``top=None``, the fewest (at most a quarter of
    the layer) whose ablation brings the class's share of ``n_check`` samples to ``target``
    times what it was, or below (below one half, with a margin for other samples and other
    classifiers). Returns ``{"model", "layer", "channels", "class", "units", "to",
    "alpha" (every unit's learned ablation, by unit)}``: what :func:`save_units` writes."""
    if isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < 10:
        raise GannotesError(f"class must be an integer in 0-9, got {cls!r}")
    model = _model(family)
    layer = layer if layer is not None else default_layer(family)
    channels = layer_channels(family, layer)
    if top is not None and not (isinstance(top, int) and 1 <= top <= channels):
        raise GannotesError(f"top must be a number of units in 1-{channels} ({layer}), got {top}")
    G = family.sampling_network
    frozen = [(p, p.requires_grad) for p in G.parameters()]
    net = feature_network()
    # alpha = sigmoid(theta): no clamping, so the ranking never ties at 0 or 1
    theta = torch.full((channels,), -2.2, requires_grad=True)  # alpha = 0.1 at first
    opt = torch.optim.Adam([theta], lr=0.1)
    share = class_share(family, cls, n_check, seed=seed + 1)
    gen = torch.Generator().manual_seed(seed)
    try:
        for p, _ in frozen:
            p.requires_grad_(False)
        for _ in range(steps):
            inputs = family.latent(batch, gen)
            inputs = inputs if isinstance(inputs, tuple) else (inputs,)
            a = torch.sigmoid(theta)
            with ablated(family, layer, keep=1 - a, to=to):
                p_cls = torch.softmax(net(_images(family, inputs))[1], 1)[:, cls]
            loss = p_cls.mean() / max(share, 0.01) + l1 * a.sum()  # the probability, relative
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)
    order = [int(u) for u in torch.argsort(theta.detach(), descending=True, stable=True)]
    if top is None:
        top = max(1, channels // 4)
        for k in range(1, channels // 4 + 1):
            with ablated(family, layer, order[:k], to=to):
                if class_share(family, cls, n_check, seed=seed + 1) <= target * share:
                    top = k
                    break
    return {
        "model": model,
        "layer": layer,
        "channels": channels,
        "class": cls,
        "units": order[:top],
        "to": to,
        "alpha": [round(float(v), 4) for v in torch.sigmoid(theta.detach())],
    }


def save_units(path: str | Path, result: dict) -> None:
    """Write a :func:`dissect` result as JSON, atomically."""
    atomic_write_bytes(Path(path), (json.dumps(result, indent=1) + "\n").encode())


def load_units(path: str | Path, family) -> dict:
    """A units file checked against ``family``'s generator: its model, layer and unit indices
    must fit, else a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise GannotesError(f"units file not found: {path}")
    try:
        spec = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise GannotesError(f"{path} is not a JSON units file (write one with `dissect`)") from None
    if not isinstance(spec, dict) or not {"model", "layer", "units"} <= spec.keys():
        raise GannotesError(f"{path} has no model, layer and units (write one with `dissect`)")
    model = _model(family)
    if spec["model"] != model:
        raise GannotesError(f"{path} holds units of a {spec['model']} generator, this is a {model}")
    if spec.get("to", "zero") not in ("zero", "mean"):
        raise GannotesError(f"{path}: 'to' must be zero or mean, got {spec['to']!r}")
    channels = layer_channels(family, spec["layer"])
    units = spec["units"]
    if not isinstance(units, list) or not all(
        isinstance(u, int) and not isinstance(u, bool) and 0 <= u < channels for u in units
    ):
        raise GannotesError(
            f"{path}: units must be a list of unit indices in 0-{channels - 1} of layer "
            f"{spec['layer']}, got {units!r}"[:200]
        )
    return spec


@torch.no_grad()
def unit_maps(family, layer: str, units, n: int = 8, seed: int = 0):
    """The samples ``[n, 1, 28, 28]`` and the activation maps ``[n, len(units), H, W]`` of
    ``units`` of ``layer`` over them, each map upsampled to 28x28 for drawing over the garment."""
    maps = []
    handle = _module(family, layer).register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        inputs = _latents(family, n, seed)
        x = _images(family, inputs)
    finally:
        handle.remove()
    act = maps[0][:, list(units)].float()
    act = torch.nn.functional.interpolate(act, size=(28, 28), mode="bilinear", align_corners=False)
    return x, act
