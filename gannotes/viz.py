"""Plotting, image grids, animations and widgets for looking at what a GAN is doing.

Everything here is presentation: the functions take tensors or arrays produced elsewhere
(images in [-1, 1], 2-D toy points, training histories) and turn them into pictures. They are
small and pure where possible so the notebooks stay short and the tests can check exact pixels.

Image conventions used throughout:

* batches are ``[N, C, H, W]`` (C = 1 or 3) or ``[N, H, W]`` (grayscale);
* float images live in [-1, 1] (the range of a ``tanh`` generator) and are clipped;
* ``uint8`` images are taken as already being in [0, 255].

Nothing here imports torchvision, and nothing needs ffmpeg or the network: animations are
a small self-contained HTML player (PNG frames swapped by a few lines of JavaScript) or GIFs
written with pillow.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation
from matplotlib.colors import LogNorm

from .checkpoint import atomic_write

__all__ = [
    "animate",
    "decision_surface",
    "interpolate",
    "class_grid",
    "class_widget",
    "interpolation_widget",
    "make_grid",
    "plot_decision_surface",
    "plot_density",
    "plot_history",
    "plot_points",
    "save_image_grid",
    "show_images",
    "style_mixing_widget",
    "to_uint8",
    "translation_widget",
    "truncation_widget",
]

ANIMATION_FORMATS = ("jshtml", "gif")
ANIMATION_KINDS = ("images", "points")
ANIMATION_MAX_FRAMES = 48  # frames an animation keeps by default (evenly spread, ends kept)
ANIMATION_MAX_BYTES = 750_000  # default budget of an HTML animation's frames (base64 PNG)
ANIMATION_LEVELS = 32  # grey levels per channel of an HTML animation's image frames
ANIMATION_DPI = 100  # resolution of the rendered frames of a points animation
INTERPOLATION_METHODS = ("lerp", "slerp")
REAL_COLOR = "tab:blue"
FAKE_COLOR = "tab:orange"


# --------------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as a numpy array; tensors are detached and moved to the CPU first."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.uint8:
            return x.numpy()
        return x.float().numpy()
    return np.asarray(x)


def _to_unit_nhwc(images: Any) -> np.ndarray:
    """Convert a batch to float64 ``[N, H, W, C]`` in [0, 1].

    Float input is read as [-1, 1] and clipped; ``uint8`` input is read as [0, 255]. This is the
    single place where the image conventions of the module are enforced.
    """
    arr = _to_numpy(images)
    if arr.ndim == 3:  # [N, H, W] -> [N, 1, H, W]
        arr = arr[:, None]
    if arr.ndim != 4:
        raise ValueError(
            f"images must have shape [N, C, H, W] or [N, H, W]; got shape {tuple(arr.shape)}"
        )
    if arr.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have 1 or 3 channels in dim 1 ([N, C, H, W]); got {arr.shape[1]} "
            f"(shape {tuple(arr.shape)})"
        )
    if arr.shape[0] == 0:
        raise ValueError("images is an empty batch (N = 0); pass at least one image")
    if arr.dtype == np.uint8:
        unit = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        unit = arr.astype(np.float64)
        if not np.all(np.isfinite(unit)):
            raise ValueError("images contain NaN or inf; expected finite floats in [-1, 1]")
        unit = np.clip((unit + 1.0) / 2.0, 0.0, 1.0)
    else:
        raise ValueError(f"images must be numeric (float in [-1, 1] or uint8); got {arr.dtype}")
    return unit.transpose(0, 2, 3, 1)  # [N, H, W, C]


def _unit_to_uint8(unit: np.ndarray) -> np.ndarray:
    """Map floats in [0, 1] to uint8 with round-half-up (as torchvision does: x*255 + 0.5)."""
    return np.floor(np.clip(unit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _as_points(points: Any, name: str) -> np.ndarray:
    """Return a 2-D point set as a float ``[N, 2]`` array, or raise a clear ValueError."""
    arr = _to_numpy(points).astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape [N, 2]; got shape {tuple(arr.shape)}")
    return arr


def _as_limits(lim: Any) -> tuple[float, float]:
    """Accept ``a`` (meaning ``(-a, a)``) or ``(lo, hi)`` and return ``(lo, hi)`` with lo < hi."""
    if np.isscalar(lim):
        lo, hi = -float(lim), float(lim)
    else:
        try:
            lo, hi = (float(v) for v in lim)
        except (TypeError, ValueError):
            raise ValueError(f"lim must be a number a or a pair (lo, hi); got {lim!r}") from None
    if not lo < hi:
        raise ValueError(f"lim must satisfy lo < hi (a > 0 for a single number); got {lim!r}")
    return lo, hi


def _grid_layout(n: int, nrow: int) -> tuple[int, int]:
    """Return (rows, cols) of a grid holding ``n`` tiles, ``nrow`` tiles per row (torchvision)."""
    cols = min(nrow, n)
    return math.ceil(n / cols), cols


def _atomic_target(path: Any, suffix: str) -> Path:
    """Validate an output path's suffix and create its parent directory."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"path must end with {suffix!r}; got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# Image grids
# --------------------------------------------------------------------------------------------


def to_uint8(images: Any) -> np.ndarray:
    """Convert a batch in [-1, 1] to displayable ``uint8`` ``[N, H, W, C]``.

    Values are clipped to [-1, 1] and mapped by ``round((x + 1) / 2 * 255)`` (halves round up),
    so -1 -> 0, 0 -> 128, 1 -> 255. Input ``[N, C, H, W]`` (C = 1 or 3) or ``[N, H, W]``;
    ``[N, H, W]`` gives C = 1. ``uint8`` input is taken as already in [0, 255].
    """
    out = _unit_to_uint8(_to_unit_nhwc(images))
    assert out.ndim == 4 and out.shape[-1] in (1, 3)  # [N, H, W, C]
    return out


def make_grid(images: Any, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile a batch into one image, ``nrow`` images per row, like torchvision's ``make_grid``.

    Images in [-1, 1] become floats in [0, 1]. Every tile is surrounded by ``padding`` pixels of
    ``pad_value`` (in the output's [0, 1] range, so 1.0 is a white border); unused slots in the
    last row are filled with ``pad_value`` too. Returns ``[H', W', 3]`` for colour and ``[H', W']``
    for grayscale, where ``H' = rows * (H + padding) + padding`` and likewise for ``W'``.
    """
    if int(nrow) != nrow or nrow < 1:
        raise ValueError(f"nrow must be a positive integer; got {nrow!r}")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"padding must be a non-negative integer; got {padding!r}")
    if not 0.0 <= float(pad_value) <= 1.0:
        raise ValueError(f"pad_value must be in [0, 1] (the output range); got {pad_value!r}")
    unit = _to_unit_nhwc(images)  # [N, H, W, C]
    n, h, w, c = unit.shape
    rows, cols = _grid_layout(n, int(nrow))
    p = int(padding)
    grid = np.full((rows * (h + p) + p, cols * (w + p) + p, c), float(pad_value))
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = r * (h + p) + p, q * (w + p) + p
        grid[top : top + h, left : left + w] = unit[k]
    return grid[..., 0] if c == 1 else grid  # [H', W'] or [H', W', 3]


def show_images(
    images: Any,
    nrow: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
    labels: Sequence[Any] | None = None,
) -> plt.Axes:
    """Show a batch as one grid on ``ax`` (a new figure if None) and return the Axes.

    Grayscale uses the gray colormap with vmin 0 and vmax 1, so colours are comparable between
    calls (no per-batch contrast stretching that would hide a washed-out generator). ``labels``
    (one per image, e.g. class names) are written in the top-left corner of each tile.
    """
    grid = make_grid(images, nrow=nrow)
    n = _to_numpy(images).shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels must have one entry per image ({n}); got {len(labels)}")
    if ax is None:
        height, width = grid.shape[:2]
        scale = 6.0 / max(height, width)
        _, ax = plt.subplots(figsize=(max(width * scale, 1.5), max(height * scale, 1.5)))
    if grid.ndim == 2:
        ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(grid, vmin=0.0, vmax=1.0, interpolation="nearest")
    if labels is not None:
        shape = _to_numpy(images).shape
        h, w = shape[-2], shape[-1]
        _, cols = _grid_layout(n, nrow)
        for k, label in enumerate(labels):
            r, q = divmod(k, cols)
            ax.text(
                q * (w + 2) + 3,
                r * (h + 2) + 3,
                str(label),
                color="yellow",
                fontsize=7,
                va="top",
                ha="left",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0},
            )
    if title is not None:
        ax.set_title(title)
    ax.set_axis_off()
    return ax


def save_image_grid(images: Any, path: str | os.PathLike, nrow: int = 8) -> Path:
    """Write the grid of ``images`` to ``path`` as a PNG and return the path.

    The file is written to a temp file in the same directory and moved into place with
    ``os.replace``, so an interrupted run never leaves a truncated PNG (or destroys an old one).
    """
    from PIL import Image

    target = _atomic_target(path, ".png")
    pixels = _unit_to_uint8(make_grid(images, nrow=nrow))  # [H', W'] or [H', W', 3]
    picture = Image.fromarray(pixels)
    return atomic_write(target, lambda tmp: picture.save(tmp, format="PNG"), ".tmp.png")


# --------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------


def _moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average that keeps the length: point i averages the last ``window`` values.

    The first points average what exists so far, so the curve starts at the first value
    instead of being shifted or shortened.
    """
    x = np.asarray(values, dtype=np.float64)
    if window <= 1 or x.size == 0:
        return x
    csum = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, x.size + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def plot_history(
    history: Mapping[str, Sequence[float]],
    ax: Sequence[plt.Axes] | None = None,
    keys: Sequence[str] | None = None,
    smooth: int = 1,
) -> plt.Figure:
    """Plot a training history: losses vs step, and mean D(x), D(G(z)) vs step.

    ``history`` maps names to equal-length lists and needs "step", "loss_d" and "loss_g";
    "d_real" and "d_fake" (mean discriminator probabilities on real and generated batches) are
    drawn in the second panel with a dashed line at 0.5, the output of the optimal
    discriminator once p_g = p_data. "images_per_s", if present, is summarised in the title.
    ``keys`` picks the loss curves (default "loss_d", "loss_g"); ``smooth`` is a trailing
    moving-average window (1 = raw). ``ax`` may be a pair of Axes to draw into.
    """
    required = ("step", "loss_d", "loss_g")
    missing = [k for k in required if k not in history]
    if missing:
        raise ValueError(
            f"history is missing {missing}; it needs {list(required)} "
            "(optionally 'd_real', 'd_fake', 'images_per_s')"
        )
    lengths = {k: len(v) for k, v in history.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"history lists must all have the same length; got {lengths}")
    if int(smooth) != smooth or smooth < 1:
        raise ValueError(
            f"smooth must be a positive integer window (1 = no smoothing); got {smooth!r}"
        )
    keys = ("loss_d", "loss_g") if keys is None else tuple(keys)
    unknown = [k for k in keys if k not in history]
    if unknown:
        raise ValueError(f"keys {unknown} are not in history; available: {sorted(history)}")

    if ax is None:
        fig, (ax_loss, ax_prob) = plt.subplots(1, 2, figsize=(10, 3.5))
    else:
        if len(ax) != 2:
            raise ValueError(f"ax must be a pair of Axes (losses, probabilities); got {len(ax)}")
        ax_loss, ax_prob = ax
        fig = ax_loss.figure

    steps = np.asarray(history["step"], dtype=np.float64)
    for key in keys:
        ax_loss.plot(steps, _moving_average(history[key], int(smooth)), label=key)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="best")
    title = "losses" if smooth == 1 else f"losses (moving average of {int(smooth)})"
    if "images_per_s" in history and len(history["images_per_s"]) > 0:
        title += f" - {np.median(history['images_per_s']):.0f} images/s"
    ax_loss.set_title(title)

    labels = {"d_real": "D(x) (real)", "d_fake": "D(G(z)) (generated)"}
    for key, label in labels.items():
        if key in history:
            ax_prob.plot(steps, _moving_average(history[key], int(smooth)), label=label)
    ax_prob.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="equilibrium 0.5")
    ax_prob.set_ylim(-0.02, 1.02)
    ax_prob.set_xlabel("step")
    ax_prob.set_ylabel("mean discriminator output")
    ax_prob.set_title("discriminator on real vs generated")
    ax_prob.legend(loc="best")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Animations
# --------------------------------------------------------------------------------------------


def _split_frames(frames: Any, kind: str) -> list[Any]:
    """Turn a stacked tensor/array of frames into a list of per-frame batches."""
    if isinstance(frames, (torch.Tensor, np.ndarray)):
        arr = _to_numpy(frames)
        ok = arr.ndim in (4, 5) if kind == "images" else arr.ndim == 3
        if not ok:
            want = "[T, N, C, H, W] or [T, N, H, W]" if kind == "images" else "[T, N, 2]"
            raise ValueError(f"frames must have shape {want}; got shape {tuple(arr.shape)}")
        return list(arr)
    return list(frames)


def _spread(total: int, n: int) -> list[int]:
    """``min(n, total)`` indices spread evenly over ``range(total)``, first and last included."""
    if n >= total:
        return list(range(total))
    return [int(k) for k in np.floor(np.linspace(0, total - 1, n) + 0.5)]  # distinct: gaps >= 1


def _image_grids(batches: list[Any], nrow: int) -> list[np.ndarray]:
    """One ``make_grid`` per frame, all of the same shape."""
    grids = [make_grid(b, nrow=nrow) for b in batches]
    shapes = {g.shape for g in grids}
    if len(shapes) != 1:
        raise ValueError(f"all frames must give grids of the same shape; got {sorted(shapes)}")
    return grids


def _image_figure(grids: list[np.ndarray], steps: Sequence[Any]) -> tuple[plt.Figure, Any]:
    """A figure showing one image grid, and ``update(i)`` that shows frame i with its step."""
    height, width = grids[0].shape[:2]
    scale = 4.0 / max(height, width)
    fig, ax = plt.subplots(figsize=(max(width * scale, 1.5), max(height * scale, 1.5) + 0.4))
    kwargs = {"cmap": "gray"} if grids[0].ndim == 2 else {}
    image = ax.imshow(grids[0], vmin=0.0, vmax=1.0, interpolation="nearest", **kwargs)
    ax.set_axis_off()
    title = ax.set_title(f"step {steps[0]}")

    def update(i: int) -> list[Any]:
        image.set_data(grids[i])
        title.set_text(f"step {steps[i]}")
        return [image, title]

    return fig, update


def _points_figure(
    sets: list[Any], steps: Sequence[Any], lim: Any, real: Any, titled: bool = True
) -> tuple[plt.Figure, Any]:
    """A figure of 2-D point sets (e.g. generated samples) over the real data, and ``update(i)``
    that shows set i (titled with its step unless ``titled`` is False)."""
    points = [_as_points(s, f"frames[{i}]") for i, s in enumerate(sets)]
    if lim is None:
        allp = np.concatenate(points + ([_as_points(real, "real")] if real is not None else []))
        lim = float(np.abs(allp).max()) * 1.1 or 1.0
    lo, hi = _as_limits(lim)
    fig, ax = plt.subplots(figsize=(4, 4.3 if titled else 4.0))
    if real is not None:
        r = _as_points(real, "real")
        ax.scatter(r[:, 0], r[:, 1], s=4, c=REAL_COLOR, alpha=0.3, label="real")
    scatter = ax.scatter(points[0][:, 0], points[0][:, 1], s=4, c=FAKE_COLOR, label="generated")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    title = ax.set_title(f"step {steps[0]}" if titled else "")

    def update(i: int) -> list[Any]:
        scatter.set_offsets(points[i])
        if titled:
            title.set_text(f"step {steps[i]}")
        return [scatter, title]

    return fig, update


def _png_data_uri(picture: Any) -> str:
    """A PIL image as a ``data:image/png;base64,...`` URI (what the HTML player embeds)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _grid_frame(grid: np.ndarray) -> str:
    """An image grid as a compact PNG: 8-bit gray (or RGB) at its own resolution, one pixel per
    pixel (the browser scales it up), each channel rounded to 32 levels (steps of 1/31, which
    keeps black and white; invisible at this size, and it makes the PNG about 40% smaller)."""
    from PIL import Image

    levels = ANIMATION_LEVELS - 1
    pixels = _unit_to_uint8(np.round(np.clip(grid, 0.0, 1.0) * levels) / levels)
    return _png_data_uri(Image.fromarray(pixels))


def _figure_frame(fig: plt.Figure) -> str:
    """The current state of a matplotlib figure as a PNG with a 64-colour palette (a plot has
    few colours: a palette PNG is about a third of the RGBA one matplotlib writes)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=ANIMATION_DPI, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as picture:
        return _png_data_uri(picture.convert("RGB").quantize(colors=64))


def _fit_frames(
    total: int, max_frames: int | None, max_bytes: int | None, encode: Any
) -> tuple[list[int], list[str]]:
    """Pick evenly spread frames (first and last kept): at most ``max_frames`` of them, and as
    many as fit in ``max_bytes`` of encoded frames (never fewer than two). Returns the chosen
    indices and their encodings; ``encode(i)`` is called once per frame that is tried."""
    n = total if max_frames is None else min(total, max_frames)
    encoded: dict[int, str] = {}
    while True:
        chosen = _spread(total, n)
        for i in chosen:
            if i not in encoded:
                encoded[i] = encode(i)
        size = sum(len(encoded[i]) for i in chosen)
        if max_bytes is None or size <= max_bytes or n <= 2:
            return chosen, [encoded[i] for i in chosen]
        n = max(2, min(n - 1, int(n * max_bytes / size)))


_PLAYER_BUTTONS = (  # action, label (HTML entities: no icon font, no network), tooltip
    ("first", "&#8676;", "First frame"),
    ("previous", "&#8592;", "Previous frame"),
    ("play", "&#9654;&#65038;", "Play / pause"),
    ("next", "&#8594;", "Next frame"),
    ("last", "&#8677;", "Last frame"),
    ("slower", "&minus;", "Slower"),
    ("faster", "+", "Faster"),
)

_PLAYER_JS = """
(function () {
  var uid = "%(uid)s", labels = %(labels)s, more = %(frames)s, interval = %(interval)d;
  var PLAY = "&#9654;&#65038;", PAUSE = "&#10074;&#10074;";
  var tries = 0;
  function el(name) { return document.getElementById(uid + "-" + name); }
  function init() {
    var img = el("frame");
    if (!img) { if (tries++ < 100) { setTimeout(init, 50); } return; }  // not in the page yet
    var frames = [img.src].concat(more), slider = el("slider"), caption = el("caption");
    var play = el("play"), loop = el("loop"), current = 0, timer = null;
    function show(i) {
      current = Math.max(0, Math.min(frames.length - 1, i));
      img.src = frames[current];
      slider.value = current;
      caption.textContent = labels[current];
    }
    function stop() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      play.innerHTML = PLAY;
    }
    function tick() {
      if (current < frames.length - 1) { show(current + 1); }
      else if (loop.checked) { show(0); }
      else { stop(); }
    }
    function start() {
      if (timer !== null) { clearInterval(timer); }
      timer = setInterval(tick, interval);
      play.innerHTML = PAUSE;
    }
    var actions = {
      first: function () { stop(); show(0); },
      previous: function () { stop(); show(current - 1); },
      play: function () {
        if (timer !== null) { stop(); return; }
        if (current === frames.length - 1) { show(0); }
        start();
      },
      next: function () { stop(); show(current + 1); },
      last: function () { stop(); show(frames.length - 1); },
      slower: function () { interval = interval * 1.5; if (timer !== null) { start(); } },
      faster: function () { interval = Math.max(10, interval / 1.5); if (timer !== null) { start(); } }
    };
    Object.keys(actions).forEach(function (name) {
      el(name).addEventListener("click", actions[name]);
    });
    slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
    show(0);
  }
  setTimeout(init, 0);
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element (no "</script>" can appear in it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _html_player(
    frames: list[str], labels: list[str], interval: int, width: int, height: int
) -> str:
    """A self-contained HTML player for a list of data-URI frames: an <img> whose source a few
    lines of JavaScript swap, with first/previous/play-pause/next/last/slower/faster buttons,
    a slider and a loop switch. No external resources (no icon font, no CDN), so it works
    offline; without JavaScript (an untrusted notebook) it still shows the first frame."""
    uid = "gan-anim-" + uuid.uuid4().hex
    buttons = "\n".join(
        f'    <button id="{uid}-{action}" type="button" title="{tip}" aria-label="{tip}" '
        f'style="min-width:2.4em">{label}</button>'
        for action, label, tip in _PLAYER_BUTTONS
    )
    script = _PLAYER_JS % {
        "uid": uid,
        "labels": _json_for_script(labels),
        "frames": _json_for_script(frames[1:]),  # frame 0 is the <img>'s own source
        "interval": int(interval),
    }
    return f"""<div class="gan-anim" style="display:inline-block;text-align:center">
  <div id="{uid}-caption" style="font-family:sans-serif">{html.escape(labels[0])}</div>
  <img id="{uid}-frame" src="{frames[0]}" width="{width}" height="{height}"
       alt="training animation" style="image-rendering:pixelated;display:block;margin:auto">
  <div>
    <input id="{uid}-slider" type="range" min="0" max="{len(frames) - 1}" step="1" value="0"
           aria-label="frame" style="width:{max(width, 200)}px">
  </div>
  <div>
{buttons}
    <label><input id="{uid}-loop" type="checkbox" checked> loop</label>
  </div>
</div>
<script>{script}</script>
"""


def animate(
    frames: Any,
    steps: Sequence[Any] | None = None,
    fmt: str = "jshtml",
    path: str | os.PathLike | None = None,
    nrow: int = 8,
    interval: int = 200,
    *,
    kind: str = "images",
    lim: Any = None,
    real: Any = None,
    max_frames: int | None = ANIMATION_MAX_FRAMES,
    max_bytes: int | None = ANIMATION_MAX_BYTES,
) -> Any:
    """Animate how samples change during training, one frame per saved step.

    ``frames`` is a sequence of image batches (each ``[N, C, H, W]`` or ``[N, H, W]``, float in
    [-1, 1] or uint8), or one stacked tensor/array ``[T, N, C, H, W]`` / ``[T, N, H, W]``. With
    ``kind="points"`` the frames are 2-D point sets ``[T, N, 2]`` (or a list of ``[N_t, 2]``),
    drawn over the optional ``real`` points within ``lim``. ``steps`` labels the frames
    (default 0..T-1).

    Long runs are subsampled: at most ``max_frames`` frames, evenly spread over the run, the
    first and last always kept (None: every frame). ``fmt="jshtml"`` returns an
    ``IPython.display.HTML`` player that works offline (no CDN, no ffmpeg): its frames are
    compact PNGs (image grids at their own resolution, scaled up by the browser), and it keeps
    as many frames as fit in ``max_bytes`` (None: no limit), so a saved notebook stays small.
    ``fmt="gif"`` writes ``path`` (must end in .gif) with pillow, atomically, and returns it.
    Figures are closed afterwards so notebooks do not also show a stray static frame.
    """
    if fmt not in ANIMATION_FORMATS:
        raise ValueError(f"fmt must be one of {ANIMATION_FORMATS}; got {fmt!r}")
    if kind not in ANIMATION_KINDS:
        raise ValueError(f"kind must be one of {ANIMATION_KINDS}; got {kind!r}")
    if fmt == "gif" and path is None:
        raise ValueError("fmt='gif' needs a path ending in .gif to write to")
    if interval <= 0:
        raise ValueError(f"interval must be a positive number of milliseconds; got {interval!r}")
    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 2):
        raise ValueError(f"max_frames must be an integer >= 2 or None; got {max_frames!r}")
    if max_bytes is not None and not max_bytes > 0:
        raise ValueError(f"max_bytes must be a positive number of bytes or None; got {max_bytes!r}")
    target = _atomic_target(path, ".gif") if fmt == "gif" else None

    batches = _split_frames(frames, kind)
    if not batches:
        raise ValueError("frames is empty; pass at least one frame")
    steps = list(range(len(batches))) if steps is None else list(steps)
    if len(steps) != len(batches):
        raise ValueError(f"steps must have one entry per frame ({len(batches)}); got {len(steps)}")

    if fmt == "jshtml":
        from IPython.display import HTML

        if kind == "images":
            grids = _image_grids(batches, nrow)
            height, width = grids[0].shape[:2]
            zoom = max(1, round(400 / max(height, width)))  # whole pixels: crisp upscaling
            size = (width * zoom, height * zoom)
            chosen, uris = _fit_frames(
                len(grids), max_frames, max_bytes, lambda i: _grid_frame(grids[i])
            )
        else:
            fig, update = _points_figure(batches, steps, lim, real, titled=False)
            size = tuple(round(v * ANIMATION_DPI) for v in fig.get_size_inches())

            def render(i: int) -> str:
                update(i)
                return _figure_frame(fig)

            try:
                chosen, uris = _fit_frames(len(batches), max_frames, max_bytes, render)
            finally:
                plt.close(fig)
        labels = [f"step {steps[i]}" for i in chosen]
        return HTML(_html_player(uris, labels, interval, *size))

    chosen = _spread(len(batches), len(batches) if max_frames is None else int(max_frames))
    batches, steps = [batches[i] for i in chosen], [steps[i] for i in chosen]
    if kind == "images":
        fig, update = _image_figure(_image_grids(batches, nrow), steps)
    else:
        fig, update = _points_figure(batches, steps, lim, real)
    try:
        anim = animation.FuncAnimation(
            fig, update, frames=len(batches), interval=interval, blit=False, repeat=True
        )
        writer = animation.PillowWriter(fps=1000.0 / interval)
        # PillowWriter picks the format from the file name, hence a temp name ending in .gif.
        return atomic_write(target, lambda tmp: anim.save(tmp, writer=writer), ".tmp.gif")
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# Latent space
# --------------------------------------------------------------------------------------------


def _interpolate_at(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str) -> torch.Tensor:
    """Interpolate float64 vectors ``a``, ``b`` ``[D]`` at fractions ``t`` ``[K]``; ``[K, D]``.

    Slerp falls back to lerp when either vector is zero or they are (anti)parallel, where the
    great circle is undefined (sin(omega) ~ 0).
    """
    a, b, t = a.double(), b.double(), t.double()[:, None]
    if method == "slerp":
        na, nb = a.norm(), b.norm()
        if na > 0 and nb > 0:
            omega = torch.arccos(torch.clamp(torch.dot(a / na, b / nb), -1.0, 1.0))
            sin = torch.sin(omega)
            if sin > 1e-6:
                return (torch.sin((1.0 - t) * omega) * a + torch.sin(t * omega) * b) / sin
    return (1.0 - t) * a + t * b


def interpolate(z0: Any, z1: Any, steps: int = 8, method: str = "slerp") -> torch.Tensor:
    """Return ``steps`` latent vectors ``[steps, D]`` going from ``z0`` to ``z1`` (both ``[D]``).

    "lerp" is the straight line. "slerp" follows the arc between the two directions and keeps
    the norm when ``|z0| = |z1|``: for Gaussian latents, points in the middle of the straight
    line have an atypically small norm (inside the shell where samples live), which slerp
    avoids. When the vectors are zero or (anti)parallel the arc is undefined and lerp is used.
    The endpoints are returned exactly.
    """
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"method must be one of {INTERPOLATION_METHODS}; got {method!r}")
    if int(steps) != steps or steps < 2:
        raise ValueError(
            f"steps must be an integer >= 2 (it includes both endpoints); got {steps!r}"
        )
    a, b = torch.as_tensor(z0), torch.as_tensor(z1)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"z0 and z1 must be 1-D latent vectors [D] of the same shape; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = a.dtype if a.is_floating_point() else torch.get_default_dtype()
    a64, b64 = a.detach().double(), b.detach().to(a.device).double()
    t = torch.linspace(0.0, 1.0, int(steps), dtype=torch.float64, device=a.device)
    out = _interpolate_at(a64, b64, t, method)  # [steps, D]
    out[0], out[-1] = a64, b64
    out = out.to(dtype)
    assert out.shape == (int(steps), a.shape[0])  # [steps, D]
    return out


def _generate(generator: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Run ``generator`` on ``z`` in eval mode without gradients, restoring its training flag."""
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            images = generator(z)
    finally:
        generator.train(was_training)
    if images.ndim != 4:
        raise ValueError(
            f"generator must return images [N, C, H, W]; got shape {tuple(images.shape)}"
        )
    return images


def _png_bytes(images: Any, nrow: int, padding: int = 1) -> bytes:
    """Encode the grid of a batch as PNG bytes (for an ipywidgets.Image)."""
    from PIL import Image

    pixels = _unit_to_uint8(make_grid(images, nrow=nrow, padding=padding))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# What a widget shows, without a kernel. A notebook page without a running kernel (the book,
# a notebook viewer, a reopened notebook) cannot draw a widget; each widget here therefore
# carries a still: the images its callback draws at a few chosen settings, in one PNG. Displayed,
# the widget is one output whose bundle holds both the live view (JupyterLab draws it) and the
# still (``image/png``; what a viewer without widgets shows), with the settings in the output's
# metadata under STILL_KEY (the book's caption).
STILL_KEY = "gannotes/still"
STILL_WALKS = 3  # latent walks an interpolation widget's still shows (its seed and the next)
STILL_CLASSES = 10  # classes a class widget's still shows (the first ones)
STILL_IMAGES = 3  # images a translation widget's still shows, both ways
STILL_PSI = (1.0, 0.7, 0.4, 0.0)  # the truncations a truncation widget's still shows
STILL_STRENGTH = 1.0  # the class edits' strength in an edit widget's still
STILL_WIDTH = 1000  # pixels the still aims at; small panels are enlarged (whole factors) to it


def _decode_png(png: bytes) -> np.ndarray:
    """A PNG's pixels, ``[H, W, C]`` ``uint8`` (C = 1, 3 or 4)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)))
    return pixels[..., None] if pixels.ndim == 2 else pixels


def still_png(panels: Sequence[tuple[str, bytes]], ncols: int = 1) -> bytes:
    """Panels ``(label, PNG bytes)`` laid out in ``ncols`` columns, each under its label, as
    one PNG. Each panel keeps its pixels, enlarged by a whole factor (nearest neighbour) so the
    picture is about STILL_WIDTH pixels wide. Drawn on a bare Agg figure: no pyplot, so no
    figure appears in a notebook by itself."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("a still needs at least one panel")
    ncols = max(1, min(int(ncols), len(panels)))
    images = [_decode_png(png) for _, png in panels]
    cell_w = max(im.shape[1] for im in images)
    scale = max(1, min(4, round(STILL_WIDTH / (ncols * cell_w))))
    label_h, gap, dpi = 22, 8, 100  # pixels
    nrows = -(-len(images) // ncols)
    row_h = [
        max(im.shape[0] for im in images[r * ncols : (r + 1) * ncols]) * scale + label_h
        for r in range(nrows)
    ]
    width = ncols * (cell_w * scale + gap) + gap
    height = sum(row_h) + gap * (nrows + 1)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    top = gap
    for k, ((label, _), im) in enumerate(zip(panels, images, strict=True)):
        r, q = divmod(k, ncols)
        if q == 0 and r > 0:
            top += row_h[r - 1] + gap
        left = gap + q * (cell_w * scale + gap)
        h, w = im.shape[0] * scale, im.shape[1] * scale
        # axes in figure fractions, from pixels (matplotlib's origin is bottom left)
        ax = fig.add_axes((left / width, 1 - (top + label_h + h) / height, w / width, h / height))
        gray = im.shape[-1] == 1
        ax.imshow(
            im[..., 0] if gray else im,
            cmap="gray" if gray else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        ax.set_axis_off()
        # a character is about 0.85 * fontsize pixels wide at this dpi: the label fits its panel
        size = min(10.0, (cell_w * scale) / (0.85 * max(len(label), 1)))
        fig.text(
            left / width,
            1 - (top + label_h - 5) / height,
            label,
            fontsize=size,
            ha="left",
            va="bottom",
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def with_still(box: Any, panels: Any, settings: str, ncols: int = 1) -> Any:
    """Give widget ``box`` its still and return it.

    ``panels()`` returns ``[(label, PNG bytes)]``: what the widget's callback draws at each
    chosen setting (it must leave the live widget as it is); ``settings`` says which, in words.
    The still is drawn the first time it is asked for: ``box.still_panels()`` (cached), and
    ``box.still()`` (the PNG of :func:`still_png`). Where ipywidgets displays a widget through
    ``_repr_mimebundle_`` (ipywidgets 8), displaying ``box`` gives one output with the live view,
    ``image/png`` (the still), ``text/plain`` and, in its metadata, ``{STILL_KEY: {"settings":
    settings}}``. Older ipywidgets show the live widget alone.
    """
    cache: dict[str, Any] = {}

    def still_panels() -> list[tuple[str, bytes]]:
        if "panels" not in cache:
            cache["panels"] = [(str(label), bytes(png)) for label, png in panels()]
        return cache["panels"]

    def still() -> bytes:
        if "png" not in cache:
            cache["png"] = still_png(still_panels(), ncols=ncols)
        return cache["png"]

    live = getattr(box, "_repr_mimebundle_", None)

    def _repr_mimebundle_(**kwargs: Any) -> Any:
        data = live(**kwargs)
        if not data:  # a closed widget shows nothing
            return data
        data = dict(data)
        data["image/png"] = base64.b64encode(still()).decode("ascii")
        data["text/plain"] = f"{data.get('text/plain', 'widget')} (still: {settings})"
        return data, {STILL_KEY: {"settings": settings}}

    if callable(live):
        box._repr_mimebundle_ = _repr_mimebundle_
    box.still, box.still_panels, box.still_settings = still, still_panels, settings
    return box


def _walk_png(generator: torch.nn.Module, z_dim: int, seed: int, steps: int, device: Any) -> bytes:
    """The strip of :func:`interpolation_widget`: G along slerp(z0, z1) in ``steps`` frames,
    z0 and z1 drawn from ``seed``."""
    rng = torch.Generator().manual_seed(int(seed))
    z = torch.randn(2, int(z_dim), generator=rng)  # [2, z_dim]
    path = interpolate(z[0], z[1], steps=steps, method="slerp")  # [steps, z_dim]
    return _png_bytes(_generate(generator, path.to(device)), nrow=steps)


def interpolation_widget(
    generator: torch.nn.Module,
    z_dim: int,
    seed: int = 0,
    steps: int = 9,
    device: str | torch.device = "cpu",
) -> Any:
    """Return an ipywidgets VBox to walk the latent space between two random points.

    A slider sets t in [0, 1]; the big image is G(slerp(z0, z1, t)) and the strip below shows
    the whole path in ``steps`` frames. The seed box (or the "new endpoints" button, which adds
    one to the seed) draws new z0, z1 from a seeded ``torch.Generator``, so a view can be
    reproduced. The generator maps ``[N, z_dim]`` to images ``[N, C, H, W]`` in [-1, 1].

    For scripting and tests the box exposes ``update(t)``, ``resample(seed)`` and its parts:
    ``slider``, ``seed_box``, ``button``, ``image``, ``strip``.
    """
    import ipywidgets as widgets

    if int(z_dim) != z_dim or z_dim < 1:
        raise ValueError(f"z_dim must be a positive integer; got {z_dim!r}")
    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer >= 2; got {steps!r}")
    steps = int(steps)
    state: dict[str, torch.Tensor] = {}

    slider = widgets.FloatSlider(
        value=0.0, min=0.0, max=1.0, step=1.0 / (steps - 1), description="t", readout_format=".2f"
    )
    seed_box = widgets.IntText(value=int(seed), description="seed")
    button = widgets.Button(description="new endpoints")
    image = widgets.Image(format="png", width=168, height=168)
    strip = widgets.Image(format="png")

    def render(t: float) -> None:
        ts = torch.tensor([float(t)], dtype=torch.float64)
        z = _interpolate_at(state["z0"], state["z1"], ts, "slerp").float()  # [1, z_dim]
        image.value = _png_bytes(_generate(generator, z.to(device)), nrow=1, padding=0)

    def resample(new_seed: int) -> None:
        rng = torch.Generator().manual_seed(int(new_seed))
        z = torch.randn(2, int(z_dim), generator=rng)  # [2, z_dim]
        state["z0"], state["z1"] = z[0], z[1]
        strip.value = strip_at(new_seed)
        render(slider.value)

    def update(t: float) -> None:
        if not 0.0 <= float(t) <= 1.0:
            raise ValueError(f"t must be in [0, 1]; got {t!r}")
        if slider.value != float(t):
            slider.value = float(t)  # the observer re-renders
        else:
            render(float(t))

    def strip_at(new_seed: int) -> bytes:
        return _walk_png(generator, z_dim, new_seed, steps, device)

    slider.observe(lambda change: render(change["new"]), names="value")
    seed_box.observe(lambda change: resample(change["new"]), names="value")
    button.on_click(lambda _: setattr(seed_box, "value", seed_box.value + 1))

    resample(seed)
    box = widgets.VBox([widgets.HBox([slider, seed_box, button]), image, strip])

    def reseed(new_seed: int) -> None:
        if seed_box.value != int(new_seed):
            seed_box.value = int(new_seed)  # the observer resamples
        else:
            resample(int(new_seed))

    box.update, box.resample = update, reseed
    box.slider, box.seed_box, box.button, box.image, box.strip = (
        slider,
        seed_box,
        button,
        image,
        strip,
    )
    seeds = [int(seed) + i for i in range(STILL_WALKS)]
    return with_still(
        box,
        lambda: [
            (f"seed {s}: G(slerp(z0, z1, t)), t = 0 to 1 in {steps} steps", strip_at(s))
            for s in seeds
        ],
        f"the path at seeds {seeds[0]}-{seeds[-1]} (the strip; 'new endpoints' adds 1)",
    )


class _OfClass(torch.nn.Module):
    """A class-conditional generator with its label fixed: z ``[N, z_dim]`` -> G(z, label)."""

    def __init__(self, generator: torch.nn.Module, label: int):
        super().__init__()
        self.generator, self.label = generator, int(label)
        self.train(generator.training)  # so that _generate restores the generator's own mode

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = torch.full((z.shape[0],), self.label, dtype=torch.long, device=z.device)
        return self.generator(z, y)


def class_grid(
    generator: torch.nn.Module, z_dim: int, n_classes: int = 10, columns: int = 8, seed: int = 0
) -> torch.Tensor:
    """A class x z grid of a class-conditional generator ``G(z, y)``: row c holds class c, column
    j the same z_j in every row (the "style" that the label does not set). Returns
    ``[n_classes * columns, C, H, W]`` in row order, for ``show_images(..., nrow=columns)``."""
    z = torch.randn(columns, int(z_dim), generator=torch.Generator().manual_seed(seed))
    device = next(generator.parameters()).device
    rows = [_generate(_OfClass(generator, c), z.to(device)).cpu() for c in range(n_classes)]
    return torch.cat(rows)


def class_widget(
    generator: torch.nn.Module,
    z_dim: int,
    classes: Sequence[str],
    seed: int = 0,
    steps: int = 9,
    device: str | torch.device = "cpu",
) -> Any:
    """:func:`interpolation_widget` for a class-conditional generator ``G(z, y)``, with a
    dropdown of ``classes``: pick a class, then walk between two z of it. The same z under
    another class keeps its place on the path, so switching class shows what the label sets.

    Exposes what the interpolation widget does, plus ``dropdown`` and ``set_class(c)``.
    """
    import ipywidgets as widgets

    of_class = _OfClass(generator, 0)
    box = interpolation_widget(of_class, z_dim, seed=seed, steps=steps, device=device)
    dropdown = widgets.Dropdown(
        options=[(name, i) for i, name in enumerate(classes)], value=0, description="class"
    )

    def set_class(c: int) -> None:
        if not 0 <= int(c) < len(classes):
            raise ValueError(f"class must be in 0-{len(classes) - 1}; got {c!r}")
        of_class.label = int(c)
        if dropdown.value != int(c):
            dropdown.value = int(c)
        box.resample(box.seed_box.value)  # redraw the path and the image in the new class

    dropdown.observe(lambda change: set_class(change["new"]), names="value")
    outer = widgets.VBox([dropdown, box])
    outer.update, outer.resample, outer.set_class = box.update, box.resample, set_class
    outer.slider, outer.seed_box, outer.button = box.slider, box.seed_box, box.button
    outer.image, outer.strip, outer.dropdown = box.image, box.strip, dropdown
    shown = list(range(min(len(classes), STILL_CLASSES)))
    return with_still(
        outer,
        lambda: [
            (
                f"{classes[c]}: the walk at seed {seed}",
                _walk_png(_OfClass(generator, c), z_dim, seed, steps, device),
            )
            for c in shown
        ],
        f"the walk at seed {seed} in each class"
        + ("" if len(shown) == len(classes) else f" (the first {len(shown)})"),
        ncols=2,
    )


def translation_widget(
    translate: Any, domains: Mapping[str, Any], partners: Mapping[str, Any] | None = None
) -> Any:
    """Browse held-out images and their round trips through a two-way translator (CycleGAN).

    ``translate(x, direction)`` maps images ``[N, 1, H, W]`` ("a2b" or "b2a"; e.g.
    ``lambda x, d: family.translate(x, direction=d)``); ``domains`` holds the test images of
    "A" and "B"; ``partners`` optionally the true partner of each (the hidden truth of
    edges2fashion), shown last. A slider picks the image, a dropdown the direction; the strip
    shows input, translation, reconstruction (and partner).

    Exposes ``slider``, ``dropdown``, ``image`` and ``show(index, direction)``.
    """
    import ipywidgets as widgets

    if set(domains) != {"A", "B"}:
        raise ValueError(f"domains must hold 'A' and 'B', got {sorted(domains)}")
    n = min(len(domains["A"]), len(domains["B"]))
    slider = widgets.IntSlider(value=0, min=0, max=n - 1, description="image")
    dropdown = widgets.Dropdown(
        options=[("A -> B -> A", "a2b"), ("B -> A -> B", "b2a")], value="a2b", description="way"
    )
    image = widgets.Image(format="png", width=4 * 84, height=84)
    caption = widgets.Label()

    def draw(index: int, direction: str) -> tuple[bytes, list[str]]:
        """The strip the widget shows for image ``index`` one way, and its names."""
        if direction not in ("a2b", "b2a"):
            raise ValueError(f"direction must be a2b or b2a; got {direction!r}")
        if not 0 <= int(index) < n:
            raise ValueError(f"index must be in 0-{n - 1}; got {index!r}")
        source = "A" if direction == "a2b" else "B"
        back = "b2a" if direction == "a2b" else "a2b"
        x = torch.as_tensor(domains[source][int(index) : int(index) + 1])
        y = translate(x, direction)
        row = [x, y, translate(y, back)]
        names = ["input", "translation", "reconstruction"]
        if partners is not None and source in partners:
            row.append(torch.as_tensor(partners[source][int(index) : int(index) + 1]))
            names.append("true partner")
        return _png_bytes(torch.cat(row), nrow=len(row), padding=2), names

    def show(index: int, direction: str | None = None) -> None:
        direction = dropdown.value if direction is None else direction
        image.value, names = draw(index, direction)
        image.width = len(names) * 84
        caption.value = " | ".join(names)
        if slider.value != int(index):
            slider.value = int(index)
        if dropdown.value != direction:
            dropdown.value = direction

    slider.observe(lambda change: show(change["new"]), names="value")
    dropdown.observe(lambda change: show(slider.value, change["new"]), names="value")
    show(0)
    box = widgets.VBox([widgets.HBox([slider, dropdown]), image, caption])
    box.slider, box.dropdown, box.image, box.show = slider, dropdown, image, show
    ways = {"a2b": "A -> B -> A", "b2a": "B -> A -> B"}
    shown = [(i, way) for i in range(min(n, STILL_IMAGES)) for way in ways]

    def panels() -> list[tuple[str, bytes]]:
        out = []
        for i, way in shown:
            png, names = draw(i, way)
            out.append((f"image {i}, {ways[way]}: " + " | ".join(names), png))
        return out

    return with_still(
        box, panels, f"images 0-{shown[-1][0]}, both ways (the image slider, the way)", ncols=2
    )


def style_mixing_widget(
    family: Any, coarse_seed: int = 0, fine_seed: int = 1000, n: int = 6
) -> Any:
    """Explore style mixing with a trained StyleGAN (``family``: gannotes.gans.StyleGAN).

    Two seed boxes pick the coarse and fine images (``n`` of each: seeds A..A+n-1, B..B+n-1);
    the crossover slider K (0 to the number of styles; at first the coarse ones) takes the
    first K styles from the coarse seeds and the rest from the fine ones. The three rows show the coarse
    seeds' own images, the mixes, the fine seeds' own images.

    Exposes ``coarse``, ``fine``, ``crossover``, ``image`` and ``show(coarse, fine, k)``.
    """
    import ipywidgets as widgets

    num_ws = family.model_cfg.num_ws
    coarse = widgets.IntText(value=coarse_seed, description="coarse seed")
    fine = widgets.IntText(value=fine_seed, description="fine seed")
    crossover = widgets.IntSlider(
        value=family.crossover("coarse"), min=0, max=num_ws, description="crossover K"
    )
    image = widgets.Image(format="png", width=n * 56, height=3 * 56)
    caption = widgets.Label()

    def draw(a: int, b: int, k: int) -> bytes:
        rows = [family.mix(a, b, "all", n), family.mix(a, b, k, n), family.mix(a, b, "none", n)]
        return _png_bytes(torch.cat(rows), nrow=n, padding=2)

    def show(a: int | None = None, b: int | None = None, k: int | None = None) -> None:
        a = coarse.value if a is None else int(a)
        b = fine.value if b is None else int(b)
        k = crossover.value if k is None else family.crossover(k)
        image.value = draw(a, b, k)
        caption.value = (
            f"top: seeds {a}..{a + n - 1} | middle: their first {k} of {num_ws} style layers "
            f"with the rest from the bottom row | bottom: seeds {b}..{b + n - 1}"
        )
        for w, v in ((coarse, a), (fine, b), (crossover, k)):
            if w.value != v:
                w.value = v

    for w in (coarse, fine, crossover):
        w.observe(lambda change: show(), names="value")
    show()
    box = widgets.VBox([widgets.HBox([coarse, fine]), crossover, image, caption])
    box.coarse, box.fine, box.crossover, box.image, box.show = coarse, fine, crossover, image, show
    ks = sorted({1, family.crossover("coarse"), family.crossover("middle")})
    return with_still(
        box,
        lambda: [(f"crossover K = {k}", draw(coarse_seed, fine_seed, k)) for k in ks],
        f"coarse seed {coarse_seed}, fine seed {fine_seed}, crossover K = "
        + ", ".join(map(str, ks))
        + f" of {num_ws} (rows: the coarse seeds' images, the mixes, the fine seeds' images)",
        ncols=len(ks),
    )


def truncation_widget(family: Any, seed: int = 0, n: int = 16) -> Any:
    """The truncation trick as a slider: ``n`` samples of a StyleGAN (``family``) from the same
    seed at psi (0 to 1); at psi = 0 every sample is the image of the average w.

    Exposes ``slider``, ``image`` and ``show(psi)``.
    """
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="psi")
    image = widgets.Image(format="png", width=8 * 56, height=(n + 7) // 8 * 56)

    def draw(psi: float) -> bytes:
        return _png_bytes(family.sample(n, seed=seed, truncation=psi), nrow=8, padding=2)

    def show(psi: float | None = None) -> None:
        psi = slider.value if psi is None else float(psi)
        image.value = draw(psi)
        if slider.value != psi:
            slider.value = psi

    slider.observe(lambda change: show(change["new"]), names="value")
    show()
    box = widgets.VBox([slider, image])
    box.slider, box.image, box.show = slider, image, show
    return with_still(
        box,
        lambda: [(f"psi = {psi:g}", draw(psi)) for psi in STILL_PSI],
        f"seed {seed}, psi = " + ", ".join(f"{psi:g}" for psi in STILL_PSI),
        ncols=2,
    )


def edit_widget(
    space: Any,
    originals: Any,
    latents: torch.Tensor,
    pool: Any,
    directions: torch.Tensor | None = None,
    classes: Sequence[str] = (),
    ganspace_scale: float = 3.0,
) -> Any:
    """Edit inverted real images (notebook 10): a slider picks the image, a dropdown the
    direction, a strength slider how far to go. The strip shows the real image, its
    reconstruction (the latent rendered) and the edit.

    ``space`` is a :class:`gannotes.inversion.LatentSpace`, ``latents`` the inverted latents of
    ``originals`` in it, ``pool`` a :class:`gannotes.editing.LabelledPool` of that space, for
    "toward <class>" (``gannotes.editing.edit_toward`` at the strength, 0 to 2), and
    ``directions`` ``[k, *latent shape]`` GANSpace components (``ganspace_directions``) for
    "GANSpace i" (``gannotes.editing.move`` by strength times ``ganspace_scale``, -2 to 2: a
    component has two ways). Every image is ``space.render`` of a latent.

    Exposes ``image_slider``, ``direction``, ``strength``, ``image``, ``caption`` and
    ``show(index, direction, strength)`` (``direction``: ``("class", c)`` or ``("pc", i)``).
    """
    import ipywidgets as widgets

    from .editing import edit_toward, move

    real = torch.as_tensor(originals)
    if len(real) != len(latents) or len(real) == 0:
        raise ValueError(f"one latent per image: got {len(real)} images, {len(latents)} latents")
    classes = list(classes) or [str(c) for c in range(10)]
    options = [(f"toward {name}", ("class", c)) for c, name in enumerate(classes)]
    if directions is not None:
        options += [(f"GANSpace {i + 1}", ("pc", i)) for i in range(len(directions))]
    image_slider = widgets.IntSlider(value=0, min=0, max=len(real) - 1, description="image")
    direction = widgets.Dropdown(options=options, value=options[0][1], description="direction")
    strength = widgets.FloatSlider(
        value=0.0, min=0.0, max=2.0, step=0.1, description="strength", readout_format=".1f"
    )
    image = widgets.Image(format="png", width=3 * 84, height=84)
    caption = widgets.Label()
    busy = {"on": False}

    def draw(index: int, how: tuple, amount: float) -> tuple[bytes, str]:
        """The strip the widget shows (real | reconstruction | edit) and what the edit is."""
        if not 0 <= index < len(real):
            raise ValueError(f"index must be in 0-{len(real) - 1}; got {index!r}")
        if how not in [v for _, v in options]:
            raise ValueError(f"unknown direction {how!r}")
        kind, k = how
        if kind == "class" and not 0 <= amount <= 2:
            raise ValueError(f"a class edit's strength is in [0, 2]; got {amount!r}")
        lat = latents[index : index + 1]
        if kind == "class":
            edited = edit_toward(space, lat, k, strength=amount, pool=pool)
            said = f"toward {classes[k]}, strength {amount:.1f}"
        else:
            edited = move(lat, directions[k], amount * ganspace_scale)
            said = f"GANSpace {k + 1}, {amount * ganspace_scale:+.1f} along it"
        row = torch.cat([real[index : index + 1].float(), space.render(lat), space.render(edited)])
        return _png_bytes(row, nrow=3, padding=2), said

    def show(index: int | None = None, how: Any = None, amount: float | None = None) -> None:
        index = image_slider.value if index is None else int(index)
        how = direction.value if how is None else tuple(how)
        amount = strength.value if amount is None else float(amount)
        image.value, said = draw(index, how, amount)
        kind = how[0]
        caption.value = f"real | reconstruction | edited ({said})"
        busy["on"] = True  # set the controls without redrawing from their observers
        try:
            if kind == "class":
                strength.min = 0.0
            else:
                strength.min = -2.0
            strength.value, direction.value, image_slider.value = amount, how, index
        finally:
            busy["on"] = False

    def redraw(change: Any) -> None:
        if busy["on"]:
            return
        how = direction.value
        amount = strength.value
        if how[0] == "class" and amount < 0:
            amount = 0.0  # a class has one way: toward it
        show(image_slider.value, how, amount)

    for w in (image_slider, direction, strength):
        w.observe(redraw, names="value")
    show(0, options[0][1], 0.0)
    box = widgets.VBox([widgets.HBox([image_slider, direction]), strength, image, caption])
    box.image_slider, box.direction, box.strength = image_slider, direction, strength
    box.image, box.caption, box.show = image, caption, show
    edits = [(("class", c), STILL_STRENGTH) for c in range(len(classes))]
    if directions is not None:
        edits += [(("pc", i), a) for i in range(min(len(directions), 2)) for a in (-1.0, 1.0)]
    return with_still(
        box,
        lambda: [(said, png) for png, said in (draw(0, how, a) for how, a in edits)],
        f"image 0 edited toward each class at strength {STILL_STRENGTH:g}"
        + (
            ""
            if directions is None
            else f" and along GANSpace 1-{min(len(directions), 2)} at strength -1 and 1"
        )
        + " (each: real | reconstruction | edited)",
        ncols=4,
    )


# --------------------------------------------------------------------------------------------
# 2-D toy data
# --------------------------------------------------------------------------------------------


def plot_points(
    real: Any = None,
    fake: Any = None,
    ax: plt.Axes | None = None,
    lim: Any = None,
    title: str | None = None,
) -> plt.Axes:
    """Scatter 2-D real points (blue) and generated points (orange) with equal aspect.

    Either set may be None. ``lim`` is ``a`` (for [-a, a]) or ``(lo, hi)`` on both axes; None
    lets matplotlib choose. Returns the Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if real is not None:
        r = _as_points(real, "real")
        ax.scatter(r[:, 0], r[:, 1], s=4, c=REAL_COLOR, alpha=0.5, label="real")
    if fake is not None:
        f = _as_points(fake, "fake")
        ax.scatter(f[:, 0], f[:, 1], s=4, c=FAKE_COLOR, alpha=0.5, label="generated")
    if lim is not None:
        lo, hi = _as_limits(lim)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    if real is not None or fake is not None:
        ax.legend(loc="upper right", fontsize=8, markerscale=3)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_density(
    points: Any, ax: plt.Axes | None = None, bins: int = 100, lim: Any = None
) -> plt.Axes:
    """Draw a 2-D histogram of ``points`` ``[N, 2]`` with a logarithmic colour scale.

    The log scale makes sparse regions (a mode the generator barely covers) visible next to
    dense ones. Empty bins are left blank. Returns the Axes; its QuadMesh holds the counts.
    """
    p = _as_points(points, "points")
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins!r}")
    if lim is None:
        extent = float(np.abs(p).max()) if p.size else 1.0
        lo, hi = -(extent or 1.0), extent or 1.0
    else:
        lo, hi = _as_limits(lim)
    counts, xedges, yedges = np.histogram2d(
        p[:, 0], p[:, 1], bins=int(bins), range=[[lo, hi], [lo, hi]]
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    masked = np.ma.masked_equal(counts.T, 0)  # [y, x] for pcolormesh
    norm = LogNorm(vmin=1, vmax=max(float(counts.max()), 1.0))
    ax.pcolormesh(xedges, yedges, masked, norm=norm, cmap="viridis")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    return ax


def decision_surface(
    discriminator: torch.nn.Module,
    lim: Any = (-1.5, 1.5),
    resolution: int = 100,
    device: str | torch.device = "cpu",
    probability: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate D's probability ``sigmoid(D(x))`` on a square grid of 2-D points.

    ``discriminator`` maps ``[N, 2]`` to logits ``[N]`` or ``[N, 1]``; it runs in eval mode
    under no_grad and its training flag is restored. Returns ``(xx, yy, probs)``, each
    ``[resolution, resolution]``, with ``xx[i, j]`` the x of column j and ``yy[i, j]`` the y of
    row i (``np.meshgrid`` "xy" indexing, ready for ``contourf``). ``probability=False``
    returns the raw scores instead (a Wasserstein critic's values are not logits).
    """
    lo, hi = _as_limits(lim)
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2; got {resolution!r}")
    axis = np.linspace(lo, hi, int(resolution))
    xx, yy = np.meshgrid(axis, axis)  # [R, R] each
    param = next(iter(discriminator.parameters()), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    points = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=dtype)  # [R*R, 2]
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            logits = discriminator(points.to(device))
    finally:
        discriminator.train(was_training)
    n = points.shape[0]
    if tuple(logits.shape) not in ((n,), (n, 1)):
        raise ValueError(
            f"discriminator must return logits [N] or [N, 1] for N={n} points; "
            f"got shape {tuple(logits.shape)}"
        )
    scores = logits.reshape(-1).double()
    probs = torch.sigmoid(scores) if probability else scores
    return xx, yy, probs.cpu().numpy().reshape(xx.shape)


def plot_decision_surface(
    discriminator: torch.nn.Module,
    real: Any = None,
    fake: Any = None,
    ax: plt.Axes | None = None,
    lim: Any = (-1.5, 1.5),
    resolution: int = 100,
    colorbar: bool = True,
) -> plt.Axes:
    """Draw D's probability surface (coolwarm, 0..1) with real and generated points on top.

    Red regions are where D says "real", blue where it says "fake"; the generator's samples
    are pushed along the gradient of this surface. Returns the Axes.
    """
    xx, yy, probs = decision_surface(discriminator, lim=lim, resolution=resolution)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    filled = ax.contourf(
        xx, yy, probs, levels=np.linspace(0.0, 1.0, 11), cmap="coolwarm", vmin=0.0, vmax=1.0
    )
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label="D(x)")
    lo, hi = _as_limits(lim)
    plot_points(real=real, fake=fake, ax=ax, lim=(lo, hi))
    return ax
