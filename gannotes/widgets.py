"""GAN Lab in a notebook: a 2-D GAN that trains live, with its knobs in reach.

After GAN Lab (Kahng, Thorat, Chau, Viegas and Wattenberg, "GAN Lab: Understanding Complex Deep
Generative Models using Interactive Visual Experimentation", IEEE VIS 2018), which runs in the
browser: the same essentials, but trained by this package's own step. One frame shows

* real points (blue) and generated points G(z) for a fixed z (orange);
* the discriminator's decision surface D(x) = sigmoid(logit) as a heatmap (red: "real");
* the generator's gradient arrows: for a subset of generated points x = G(z), the direction
  -dL_G/dx in which the generator's loss pushes each point (through D only, D frozen).

Two layers, so the logic is testable without a browser:

* :class:`GANLab` is plain Python: a :class:`gannotes.training.Trainer` on "ring" or "grid",
  ``step(n)`` (n calls of ``Trainer.train_step``, i.e. Algorithm 1 with the config's tricks),
  ``set_option(name, value)``, ``reset(seed)``, ``frame()`` (numpy arrays to draw) and
  ``render_png()``; :func:`draw` paints a frame on a matplotlib Axes.
* :func:`gan_lab` wraps it in ipywidgets (imported only there): an ``ipywidgets.Play`` ticker
  (play / pause / stop, driven by the browser, so no thread runs in the kernel), Step and Reset
  buttons, sliders and dropdowns for the options, and an ``ipywidgets.Image`` showing the frame
  rendered to PNG with matplotlib's Agg canvas (no interactive backend needed).

Options (``GANLab.set_option``) are the classic family's knobs, read from their declarations
(gannotes.config.knob): ``LIVE_OPTIONS`` change the running trainer at once
(``Trainer.reconfigure``: the next step reads them; a learning rate is written into its
optimizer), ``RESET_OPTIONS`` (knobs declared ``rebuild``, the dataset and the width) change
the models or the data, so they are stored and take effect at the next ``reset()``. Every knob
that declares a ``widget`` gets its control, so a new knob with a widget appears here by itself.
Instance noise is constant here (its annealing is stretched to 10^9 steps) so that the knob
means the same at step 10 and at step 10,000.

Speed, on one CPU thread (``benchmark_frame``): one frame of the default app (10 steps of a
64-wide MLP pair on batches of 256: 0.05-0.08 s; the frame's arrays: 0.005 s; the 540 x 450 PNG:
0.12 s) takes about 0.2 s; the ring's modes appear after about 2,000 steps, a minute or two of play.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import nn

from .config import knobs
from .data import TOY_DATASETS, toy_data
from .gans.classic import ClassicConfig
from .losses import g_loss, objective
from .metrics import mode_coverage
from .training import TrainConfig, Trainer, TrainingDiverged, default_config
from .tricks import pack
from .viz import decision_surface, plot_points, with_still

__all__ = [
    "LIVE_OPTIONS",
    "RESET_OPTIONS",
    "GANLab",
    "benchmark_frame",
    "draw",
    "frame_title",
    "gan_lab",
]

# The lab's options are the classic family's training knobs (gannotes.config.knob): those declared
# `rebuild` (they change the networks, optimizers or data) wait for reset(), the others act on
# the running trainer at once. Knobs that declare a `widget` get a control, in declaration order.
_KNOBS = {
    name: spec
    for name, spec in knobs(ClassicConfig).items()
    if spec.group not in ("run", "hardware") and name not in ("model", "dataset")
}
LIVE_OPTIONS = tuple(name for name, spec in _KNOBS.items() if not spec.rebuild)
RESET_OPTIONS = (*(name for name, spec in _KNOBS.items() if spec.rebuild), "dataset", "hidden")
LIMITS = {"ring": 1.6, "grid": 6.0}  # the square [-a, a]^2 shown for each toy set
# The frame is a PNG shown at its pixel size (ipywidgets.Image), so text is as large on screen as
# fontsize * dpi / 72 pixels: at matplotlib's default dpi and sizes (12 pt titles, 10 pt ticks) it
# reads like any inline plot's.
DPI, TITLE_SIZE, TICK_SIZE = 100, 12, 10
# The frames the app's still shows (gannotes.viz.with_still: what a page without a kernel shows):
# a fresh lab with the app's own settings, after this many steps.
STILL_STEPS = (10, 300, 1000)


class _PointView(nn.Module):
    """D on single points ``[N, 2] -> [N]``: with PacGAN packing m, a point is judged as a pack
    of m copies of itself (the layout of ``gannotes.tricks.pack``)."""

    def __init__(self, D: nn.Module, m: int):
        super().__init__()
        self.D, self.m = D, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x.repeat(1, self.m))


class GANLab:
    """A live 2-D GAN: a Trainer plus what it takes to look at it frame by frame.

    Args:
        dataset: "ring" (8 modes) or "grid" (25 modes).
        seed: seeds models, data and the fixed noise (``reset(seed)`` starts over).
        hidden: width of G's and D's hidden layers (small, for speed on one CPU).
        n_points: real and generated points drawn per frame (a fixed z batch).
        n_arrows: generated points that get a gradient arrow (the first ones of the batch).
        resolution: grid size of the decision surface (``resolution x resolution``).
        **overrides: TrainConfig fields on top of ``default_config("mlp", dataset)``.
    """

    def __init__(
        self,
        dataset: str = "ring",
        seed: int = 0,
        *,
        hidden: int = 64,
        n_points: int = 256,
        n_arrows: int = 64,
        resolution: int = 60,
        **overrides: Any,
    ):
        if dataset not in TOY_DATASETS:
            raise ValueError(f"GANLab draws 2-D points: dataset must be one of {TOY_DATASETS}")
        if not 1 <= n_arrows <= n_points:
            raise ValueError(f"n_arrows must be in [1, n_points={n_points}], got {n_arrows}")
        # A lab runs as long as the learner watches: constant rates (the sliders set them), no
        # decay schedule and no instance-noise annealing.
        base = dict(instance_noise_steps=10**9, n_fixed=n_points, log_every=1, lr_decay="")
        model_config = {"hidden": hidden, **overrides.pop("model_config", {})}
        self.config: TrainConfig = default_config(
            "mlp", dataset, seed=seed, model_config=model_config, **{**base, **overrides}
        )
        self.n_points, self.n_arrows, self.resolution = n_points, n_arrows, resolution
        self.needs_reset = False  # a RESET_OPTIONS value waits for reset()
        self._figure: Figure | None = None
        self.reset(seed)

    # ------------------------------------------------------------------ training
    def reset(self, seed: int | None = None) -> None:
        """Start over: new models and optimizers from ``self.config`` (with ``seed``, if given)."""
        if seed is not None:
            self.config = replace(self.config, seed=int(seed))
        self.trainer = Trainer(replace(self.config), out_dir=None, device="cpu")
        gen = torch.Generator().manual_seed(self.config.seed + 5)
        self.real = toy_data(self.config.dataset, self.n_points, generator=gen)  # [P, 2]
        self.last: dict[str, float] = {}
        self.needs_reset = False

    @property
    def lim(self) -> float:
        """Half the width of the square shown, for the running trainer's dataset."""
        return LIMITS[self.trainer.config.dataset]

    def step(self, n: int = 1) -> dict[str, float]:
        """``n`` adversarial steps of the package's training step; returns the last one's stats
        as floats. Raises TrainingDiverged when a loss is no longer finite."""
        for _ in range(int(n)):
            stats = self.trainer.train_step()
        self.last = {k: float(v) for k, v in stats.items()}
        bad = {k: v for k, v in self.last.items() if k.startswith("loss") and not np.isfinite(v)}
        if bad:
            raise TrainingDiverged(
                f"training diverged at step {self.trainer.step}: "
                + ", ".join(f"{k}={v}" for k, v in bad.items())
                + "; lower the learning rates and press Reset"
            )
        return self.last

    def set_option(self, name: str, value: Any) -> bool:
        """Set option ``name``; returns True when it acts now, False when it waits for reset().

        Values are validated by TrainConfig (a bad value raises ValueError and changes nothing).
        """
        if name == "g_loss":
            name = "loss"  # the knob's old name
        if name == "hidden":
            model_config = {**self.config.model_config, "hidden": int(value)}
            self.config = replace(self.config, model_config=model_config)
            self.needs_reset = True
            return False
        if name not in LIVE_OPTIONS + RESET_OPTIONS:
            raise ValueError(
                f"unknown option {name!r}; live: {', '.join(LIVE_OPTIONS)}; "
                f"on reset: {', '.join(RESET_OPTIONS)}"
            )
        spec = _KNOBS.get(name)
        if spec is not None and spec.optional and not value:
            value = None  # 0 (a dropdown's "off") or None: off
        if name == "dataset" and value not in TOY_DATASETS:
            raise ValueError(f"dataset must be one of {TOY_DATASETS}, got {value!r}")
        self.config = replace(self.config, **{name: value})  # runs the config's checks
        if name in RESET_OPTIONS:
            self.needs_reset = True
            return False
        self.trainer.reconfigure(**{name: value})  # read by the next step
        return True

    # ------------------------------------------------------------------ looking
    def generator_arrows(self, x: torch.Tensor) -> torch.Tensor:
        """``-dL_G/dx`` at generated points ``x`` ``[N, 2]``: where G's loss pushes each point.

        L_G is the config's generator loss on D's view of ``x`` (packed as in training; no
        instance noise or augmentation, so the arrows do not flicker), the mean over the N
        points, as in the step. Autograd runs through D only, in eval mode: D's parameters get
        no gradient and its state (spectral norm's power iteration) does not move. ``[N, 2]``
        """
        D = self.trainer.networks["D"]
        x = x.detach().clone().requires_grad_(True)
        was_training = D.training
        D.eval()
        try:
            with torch.enable_grad():
                loss = g_loss(self.trainer.config.loss, D(pack(x, self.trainer.config.pack)))
                (grad,) = torch.autograd.grad(loss, x)
        finally:
            D.train(was_training)
        return -grad

    def frame(self) -> dict[str, Any]:
        """What one picture needs, as numpy arrays (and numbers).

        Keys: ``real`` ``[P, 2]``, ``fake`` ``[P, 2]`` (G of the fixed noise), ``arrow_at``
        ``[A, 2]`` and ``arrows`` ``[A, 2]`` (``-dL_G/dx``, see :meth:`generator_arrows`),
        ``xx``, ``yy``, ``probs`` ``[R, R]`` (D's probability on a grid, for contourf), ``lim``,
        ``step``, ``loss_d``, ``loss_g``, ``d_real``, ``d_fake`` (NaN before the first step),
        ``has_stats`` (False before the first step, and after ``reset()``), ``modes`` and
        ``n_modes`` (modes covered by the generated points, of how many).
        """
        trainer = self.trainer
        with torch.no_grad():
            fake = trainer.networks["G"](trainer.fixed)  # [P, 2]
        m = trainer.config.pack
        n_arrows = max(m, self.n_arrows - self.n_arrows % m)
        arrow_at = fake[:n_arrows]
        arrows = self.generator_arrows(arrow_at)
        logits = objective(trainer.config.loss).logits
        xx, yy, probs = decision_surface(
            _PointView(trainer.networks["D"], m),
            lim=self.lim,
            resolution=self.resolution,
            probability=logits,
        )
        if not logits:  # a critic's values: shown rescaled to [0, 1] over the square
            probs = (probs - probs.min()) / max(float(probs.max() - probs.min()), 1e-12)
        coverage = mode_coverage(fake, trainer.config.dataset)
        nan = float("nan")
        return {
            "real": self.real.numpy(),
            "fake": fake.numpy(),
            "arrow_at": arrow_at.numpy(),
            "arrows": arrows.numpy(),
            "xx": xx,
            "yy": yy,
            "probs": probs,
            "lim": self.lim,
            "step": trainer.step,
            **{k: self.last.get(k, nan) for k in ("loss_d", "loss_g", "d_real", "d_fake")},
            "score_real": self.last.get("score_real", nan),
            "score_fake": self.last.get("score_fake", nan),
            "has_stats": bool(self.last),
            "probability": logits,
            "modes": coverage.modes,
            "n_modes": len(coverage.histogram),
        }

    def render_png(self, frame: dict[str, Any] | None = None, dpi: int = DPI) -> bytes:
        """The frame (default: a fresh ``frame()``) drawn by :func:`draw`, as PNG bytes.

        One Agg figure is kept and redrawn, so no pyplot window or backend is involved. At the
        default ``dpi`` the PNG is 540 x 450 pixels.
        """
        frame = self.frame() if frame is None else frame
        if self._figure is None:
            fig = Figure(figsize=(5.4, 4.5), dpi=DPI)
            FigureCanvasAgg(fig)
            ax = fig.add_axes((0.1, 0.07, 0.7, 0.78))
            cax = fig.add_axes((0.84, 0.07, 0.03, 0.78))
            mappable = ScalarMappable(Normalize(0.0, 1.0), cmap="coolwarm")
            fig.colorbar(mappable, cax=cax, label="D(x): probability of real")
            cax.tick_params(labelsize=TICK_SIZE)
            self._figure = fig
        fig = self._figure
        ax = fig.axes[0]
        ax.clear()
        draw(frame, ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()


def draw(frame: dict[str, Any], ax: Any, arrow_length: float = 0.06) -> Any:
    """Paint a :meth:`GANLab.frame` on ``ax``: D's heatmap, points, arrows, and a title.

    Arrows show each point's own push, ``N * (-dL_G/dx)`` (N points share the mean loss), times
    ``arrow_length * 2 * lim``; so a saturated minimax loss shows as vanishing arrows. Each is
    capped at a quarter of the plot's width. Returns the Axes.
    """
    lim = frame["lim"]
    levels = np.linspace(0.0, 1.0, 11)
    ax.contourf(frame["xx"], frame["yy"], frame["probs"], levels=levels, cmap="coolwarm")
    plot_points(real=frame["real"], fake=frame["fake"], ax=ax, lim=lim)
    push = frame["arrows"] * len(frame["arrows"]) * arrow_length * 2 * lim  # [A, 2]
    norm = np.linalg.norm(push, axis=1, keepdims=True)
    cap = 0.25 * 2 * lim
    push = push * np.minimum(1.0, cap / np.maximum(norm, 1e-12))
    at = frame["arrow_at"]
    ax.quiver(
        at[:, 0],
        at[:, 1],
        push[:, 0],
        push[:, 1],
        angles="xy",
        scale_units="xy",
        scale=1.0,
        width=0.004,
        color="black",
        alpha=0.7,
    )
    ax.set_title(frame_title(frame), fontsize=TITLE_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_fontsize(TICK_SIZE)
    return ax


def frame_title(frame: dict[str, Any]) -> str:
    """The two-line title of a :meth:`GANLab.frame`: step and losses, then D's scores and modes.

    Before the first step (a new or reset lab: ``has_stats`` false) there are no losses yet,
    so it says what to press instead of printing NaNs.
    """
    modes = f"modes {frame['modes']}/{frame['n_modes']}"
    if not frame.get("has_stats", not np.isnan(frame["loss_d"])):
        return f"step {frame['step']}: press Play or Step\n{modes}"
    if frame.get("probability", True):
        scores = f"D(x) {frame['d_real']:.2f}   D(G(z)) {frame['d_fake']:.2f}"
    else:
        scores = f"f(x) {frame['score_real']:.2f}   f(G(z)) {frame['score_fake']:.2f}"
    return (
        f"step {frame['step']}   loss D {frame['loss_d']:.3f}   G {frame['loss_g']:.3f}\n"
        f"{scores}   {modes}"
    )


def benchmark_frame(lab: GANLab, steps_per_frame: int = 10, frames: int = 10) -> float:
    """Median seconds of one frame: ``steps_per_frame`` steps, ``frame()`` and the PNG."""
    lab.render_png()  # build the figure once
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        lab.step(steps_per_frame)
        lab.render_png()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _control(widgets: Any, name: str, spec: Any, value: Any, style: dict, layout: Any) -> Any:
    """The ipywidgets control a knob declares (``spec.widget``), set to ``value``."""
    kind, *args = spec.widget
    label = (spec.label or name) + (" (on reset)" if spec.rebuild else "")
    common = dict(description=label, style=style, layout=layout)
    if kind == "log":
        lo, hi = args
        return widgets.FloatLogSlider(
            value=value,
            base=10,
            min=lo,
            max=hi,
            step=0.25,
            readout_format=".1e",
            continuous_update=False,
            **common,
        )
    if kind == "slider":
        lo, hi, step = args
        return widgets.FloatSlider(
            value=value, min=lo, max=hi, step=step, continuous_update=False, **common
        )
    if kind == "int":
        lo, hi = args
        return widgets.IntSlider(value=value, min=lo, max=hi, continuous_update=False, **common)
    if kind == "choice":
        (options,) = args
        if value is None:
            value = 0.0  # an optional knob's "off"
        return widgets.Dropdown(options=options, value=value, **common)
    if kind == "toggle":
        return widgets.Checkbox(value=bool(value), description=label, style=style)
    raise ValueError(f"knob {name}: unknown widget kind {kind!r}")


def gan_lab(
    dataset: str = "ring",
    seed: int = 0,
    *,
    steps_per_frame: int = 10,
    interval_ms: int = 250,
    min_tick_gap_s: float = 0.02,
    still_steps: tuple[int, ...] = STILL_STEPS,
    **lab_kwargs: Any,
) -> Any:
    """The GAN Lab app: an ipywidgets VBox around a :class:`GANLab`.

    Play / pause / stop is an ``ipywidgets.Play`` ticker: the browser advances its value every
    ``interval_ms`` and each new value runs ``steps_per_frame`` steps and redraws, in the
    kernel's own thread (no background thread to stop). Ticks that queued up while a slow frame
    ran arrive back to back; one arriving less than ``min_tick_gap_s`` after the last frame
    finished is dropped, so pausing takes effect at once. Step runs one frame's steps; Reset
    rebuilds the models with the seed box's seed and the options marked "(on reset)".

    For scripts and tests the box exposes ``lab``, ``controls`` (a dict of the widgets by name),
    ``image``, ``status``, ``play``, and the callbacks ``on_step()``, ``on_play_tick()``,
    ``on_reset()``, ``redraw()``.

    Its still (:func:`gannotes.viz.with_still`, drawn when the app is first displayed) is the
    frames of a second lab, built as this one, after each of ``still_steps`` steps: the app
    playing from its start, without touching the live lab.
    """
    import ipywidgets as widgets

    lab = GANLab(dataset, seed, **lab_kwargs)
    cfg = lab.config
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="330px")

    controls = {
        name: _control(widgets, name, spec, getattr(cfg, name), style, layout)
        for name, spec in _KNOBS.items()
        if spec.widget is not None
    }
    controls["dataset"] = widgets.Dropdown(
        options=list(TOY_DATASETS),
        value=cfg.dataset,
        description="data (on reset)",
        style=style,
        layout=layout,
    )
    steps_box = widgets.IntSlider(
        value=steps_per_frame,
        min=1,
        max=50,
        description="steps / frame",
        style=style,
        layout=layout,
    )
    seed_box = widgets.IntText(value=int(seed), description="seed", style=style, layout=layout)
    play = widgets.Play(value=0, min=0, max=10**9, step=1, interval=interval_ms)
    step_button = widgets.Button(description="Step", icon="step-forward")
    reset_button = widgets.Button(description="Reset", icon="refresh")
    # Shown at the PNG's own size (not shrunk to fit beside the panel, which wraps below it
    # instead), so its text stays as large as render_png draws it.
    image = widgets.Image(format="png", layout=widgets.Layout(flex="0 0 auto"))
    status = widgets.HTML()
    state = {"done": 0.0}

    def redraw() -> None:
        image.value = lab.render_png()
        note = " <b>options changed: press Reset</b>" if lab.needs_reset else ""
        status.value = f"step {lab.trainer.step}{note}"

    def on_step(_=None) -> None:
        lab.step(steps_box.value)
        redraw()
        state["done"] = time.perf_counter()

    def on_play_tick(change=None) -> None:
        if change is not None and change["new"] <= change["old"]:
            return  # the stop button rewinds the ticker: not a tick
        if time.perf_counter() - state["done"] < min_tick_gap_s:
            return  # a tick queued during the last frame
        on_step()

    def on_reset(_=None) -> None:
        play.playing = False
        lab.reset(seed_box.value)
        redraw()

    def on_option(name):
        def handler(change) -> None:
            try:
                lab.set_option(name, change["new"])
            except ValueError as err:  # e.g. batch size not divisible by pack
                status.value = f"<span style='color:red'>{err}</span>"
                return
            if not lab.needs_reset:
                redraw()
            else:
                status.value = f"step {lab.trainer.step} <b>options changed: press Reset</b>"

        return handler

    for name, widget in controls.items():
        widget.observe(on_option(name), names="value")
    play.observe(on_play_tick, names="value")
    step_button.on_click(on_step)
    reset_button.on_click(on_reset)
    redraw()

    buttons = widgets.HBox([play, step_button, reset_button, seed_box])
    panel = widgets.VBox([steps_box, *controls.values()])
    picture = widgets.HBox([image, panel], layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox([buttons, picture, status])
    box.lab, box.controls, box.image, box.status, box.play = lab, controls, image, status, play
    box.steps_box, box.seed_box = steps_box, seed_box
    box.step_button, box.reset_button = step_button, reset_button
    box.on_step, box.on_play_tick, box.on_reset, box.redraw = (
        on_step,
        on_play_tick,
        on_reset,
        redraw,
    )

    def frames() -> list[tuple[str, bytes]]:
        fresh, out = GANLab(dataset, seed, **lab_kwargs), []
        for n in sorted(still_steps):
            if n > fresh.trainer.step:
                fresh.step(n - fresh.trainer.step)
            out.append((f"after {n:,} step" + "s" * (n != 1), fresh.render_png()))
        return out

    shown = ", ".join(f"{n:,}" for n in sorted(still_steps))
    return with_still(
        box, frames, f"{dataset}, seed {seed}, default options, after {shown} steps", ncols=3
    )
