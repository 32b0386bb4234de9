"""Knobs: every training option declared once, with its help text and its valid values.

A *knob* is a dataclass field made by :func:`knob`. Its declaration is the one source of what
the rest of the package derives from it:

* the check and its one-line error (:func:`check_knobs`, run by every config's
  ``__post_init__``): ``label_smoothing must be a number in [0, 1), got 1.5``;
* the command-line flag of ``python -m gannotes train`` with its type, range and help
  (gannotes.cli);
* GAN Lab's control, a slider, dropdown or checkbox (gannotes.widgets);
* notebook 02's list of tricks and the plain recipe (:func:`trick_defaults`).

:class:`TrainerConfig` holds the knobs of the Trainer (time, data, optimizers, schedule, EMA);
each GAN family subclasses it with the knobs of its own step (``gannotes.gans.classic``).
Adding a knob is adding one field.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from .data import CLASSES, DATASETS

__all__ = [
    "PRECISIONS",
    "Knob",
    "Range",
    "TrainerConfig",
    "check_classes",
    "check_knobs",
    "knob",
    "knobs",
    "trick_defaults",
]


@dataclass(frozen=True)
class Range:
    """The valid values of a number: ``low`` to ``high`` (None: unbounded), ends open or closed."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = True
    integer: bool = False

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False  # nan and inf are never a valid setting
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        if self.high is not None and not (
            value < self.high if self.high_open else value <= self.high
        ):
            return False
        return True

    def describe(self) -> str:
        """In words: "a positive integer", "a number in [0, 1)", "an integer >= 0", ..."""
        noun = "integer" if self.integer else "number"
        if self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            return f"{'an' if self.integer else 'a'} {noun} in {lo}{self.low:g}, {self.high:g}{hi}"
        if self.low is None:
            return f"{'an' if self.integer else 'a'} {noun}"
        if (
            self.low_open
            and self.low == 0
            or (self.integer and self.low == 1 and not self.low_open)
        ):
            return f"a positive {noun}"
        return (
            f"{'an' if self.integer else 'a'} {noun} {'>' if self.low_open else '>='} {self.low:g}"
        )


@dataclass(frozen=True)
class Knob:
    """What a knob's declaration says about it (kept in the field's metadata)."""

    help: str
    range: Range | None = None  # numbers: the valid values
    choices: tuple | None = None  # strings: the valid values
    optional: bool = False  # None is valid too (and means "off")
    note: str = ""  # appended to the error, e.g. "0: off"
    flag: str | None = None  # the CLI flag without "--"; None: the name with "-"; "": no flag
    aliases: tuple[str, ...] = ()  # further CLI flags for the same knob
    metavar: str | None = None
    group: str = "training"  # "training", "trick" (notebook 02's list), "hardware" (notebook
    #                          08: how a step is computed) or "run" (not tuned)
    widget: tuple | None = None  # GAN Lab's control: ("log", lo, hi), ("slider", lo, hi, step),
    #                              ("int", lo, hi), ("choice", options) or ("toggle",)
    label: str = ""  # the control's label (default: the name)
    rebuild: bool = False  # changing it needs new networks, optimizers or data
    many: bool = False  # a tuple of any length; its CLI flag takes a comma-separated list

    def valid_choices(self) -> str:
        """The valid strings, for errors: "adam, rmsprop" ("'', 'linear', 'cosine'" when one is
        empty)."""
        quote = "" in (self.choices or ())
        return ", ".join(repr(c) if quote else str(c) for c in self.choices or ())

    def wanted(self) -> str:
        """The valid values in words, for errors: "a number in [0, 1) (0: off)"."""
        if self.choices is not None:
            return "one of " + self.valid_choices()
        text = self.range.describe() if self.range is not None else "valid"
        return text + (f" ({self.note})" if self.note else "")


def knob(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = True,
    choices: tuple | None = None,
    integer: bool | None = None,
    **spec: Any,
) -> Any:
    """A dataclass field that is a training option; see :class:`Knob` for ``spec``.

    ``low``/``high`` bound a number (ints when ``default`` is an int); ``choices`` lists the
    valid strings. Mutable defaults (tuples are fine) must not be used.
    """
    if integer is None:  # an optional knob (default None) says integer=True itself
        integer = isinstance(default, int) and not isinstance(default, bool)
    rng = None
    if low is not None or high is not None:
        rng = Range(low, high, low_open, high_open, integer)
    meta = Knob(help=help, range=rng, choices=choices, **spec)
    return field(default=default, metadata={"knob": meta})


def knobs(config: Any, group: str | None = None) -> dict[str, Knob]:
    """The knobs of a config class or instance, by name, in declaration order."""
    return {
        f.name: f.metadata["knob"]
        for f in fields(config)
        if "knob" in f.metadata and (group is None or f.metadata["knob"].group == group)
    }


def _default(f: Field) -> Any:
    return f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]


def trick_defaults(config: Any) -> dict[str, Any]:
    """The tricks of a config class (knobs of group "trick") at their declared defaults: the
    plain GAN of Goodfellow et al. Notebook 02 compares every trick against it."""
    return {
        f.name: _default(f)
        for f in fields(config)
        if "knob" in f.metadata and f.metadata["knob"].group == "trick"
    }


def check_value(name: str, spec: Knob, value: Any) -> None:
    """Raise ValueError (one line: what was wrong, what is valid) unless ``value`` is valid."""
    if value is None and spec.optional:
        return
    if spec.choices is not None:
        if value not in spec.choices:
            raise ValueError(f"unknown {name} {value!r}; valid: {spec.valid_choices()}")
        return
    rng = spec.range
    if rng is None:
        return
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        kind_ok = (
            isinstance(item, int) and not isinstance(item, bool)
            if rng.integer
            else isinstance(item, int | float) and not isinstance(item, bool)
        )
        if not kind_ok or item not in rng:
            raise ValueError(f"{name} must be {spec.wanted()}, got {value!r}")


def check_knobs(config: Any) -> None:
    """Check every knob of ``config`` against its declaration (see :func:`check_value`)."""
    for name, spec in knobs(config).items():
        check_value(name, spec, getattr(config, name))


# ----------------------------------------------------------------------------- the Trainer's knobs

LR_DECAYS = ("", "linear", "cosine")
OPTIMIZERS = ("adam", "rmsprop")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class TrainerConfig:
    """The knobs of the Trainer: time, data, optimizers, schedule, EMA (saved in checkpoints).

    A GAN family's config subclasses this with the knobs of its own step. ``model`` and
    ``dataset`` are checked by the family (which models it has, on which data).
    """

    model: str = knob("dcgan", "the architecture (a family's model: mlp, dcgan)", flag="")
    dataset: str = knob("fashion-mnist", "the training data", choices=DATASETS, flag="")
    batch_size: int = knob(64, "samples per batch", low=1)
    lr_g: float = knob(
        2e-4, "generator learning rate", low=0, low_open=True, widget=("log", -5, -1), label="lr G"
    )
    lr_d: float = knob(
        2e-4,
        "discriminator learning rate (TTUR: differs from lr_g)",
        low=0,
        low_open=True,
        widget=("log", -5, -1),
        label="lr D",
    )
    betas: tuple[float, float] = knob(
        (0.5, 0.999),
        "Adam's beta1 beta2 (DCGAN: 0.5 0.999; WGAN-GP: 0.5 0.9)",
        low=0,
        high=1,
        metavar=("B1", "B2"),
        rebuild=True,
    )
    optimizer: str = knob(
        "adam",
        "adam (with betas) or rmsprop (as in WGAN with clipping)",
        choices=OPTIMIZERS,
        group="trick",
        rebuild=True,
    )
    ema: float = knob(
        0.0,
        "sample from an EMA of G's weights with this decay (e.g. 0.999; 0 = off)",
        low=0,
        high=1,
        note="0: off",
        metavar="DECAY",
        group="trick",
        rebuild=True,
    )
    seed: int = knob(0, "random seed", flag="", group="run")
    data_limit: int | None = knob(
        None,
        "use only the first N training images (a small set a GAN can memorise: notebook 09); "
        "with --classes, the first N of those classes",
        low=1,
        integer=True,
        optional=True,
        metavar="N",
        group="run",
    )
    classes: tuple[int, ...] | None = knob(
        None,
        "train on these Fashion-MNIST classes only, e.g. 7 or 0,2,4 (the normal data of "
        "anomaly detection: notebook 11); default: every class",
        low=0,
        high=len(CLASSES),
        integer=True,
        optional=True,
        note=", ".join(f"{i}: {name}" for i, name in enumerate(CLASSES)),
        many=True,
        metavar="C[,C...]",
        group="run",
        rebuild=True,
    )
    log_every: int = knob(10, "history resolution, in steps", low=1, flag="", group="run")
    snapshot_every: int = knob(
        50, "steps between snapshots of the fixed inputs", low=1, flag="", group="run"
    )
    max_snapshots: int = knob(
        120, "snapshots kept; past this, every other one is dropped", low=2, flag="", group="run"
    )
    checkpoint_every: int = knob(
        500,
        "steps between checkpoints (when the run has a directory)",
        low=1,
        flag="",
        group="run",
    )
    n_fixed: int = knob(
        64, "size of the fixed input batch of snapshots", low=1, flag="", group="run"
    )
    model_config: dict = field(default_factory=dict)  # overrides of the model's config
    # Learning-rate schedule: "" keeps every optimizer's rates constant; "linear" or "cosine"
    # decays them to 0, starting at the fraction lr_decay_start of the horizon. The horizon is
    # lr_decay_steps steps when set (independent of the budget, so "20 steps, then resume to 40"
    # equals 40 straight), else the budget of the current run (steps, or minutes of training
    # time; extending a finished run's budget then stretches its schedule). The rate is a
    # function of the progress only, so an interrupted run resumes on the same schedule. A run
    # stops at the end of a fixed horizon, whatever its budget: the rates are 0 from there on.
    lr_decay: str = knob(
        "", "learning-rate decay to 0: '', linear or cosine", choices=LR_DECAYS, flag=""
    )
    lr_decay_start: float = knob(
        0.0, "fraction of the horizon before the decay starts", low=0, high=1, flag=""
    )
    lr_decay_steps: int = knob(
        0, "the decay's horizon in steps (0: the budget)", low=0, note="0: the budget", flag=""
    )

    # Hardware: how the same step is computed (notebook 08). None changes what is learned, up to
    # rounding: the numbers of a run in bf16 differ from fp32 in the last bits, then drift.
    precision: str = knob(
        "fp32",
        "arithmetic of the step: fp32, bf16 (autocast, no scaler) or fp16 (autocast and a "
        "gradient scaler; meant for CUDA)",
        choices=PRECISIONS,
        group="hardware",
        rebuild=True,
    )
    channels_last: bool = knob(
        False,
        "store images and convolution weights channels-last (NHWC)",
        group="hardware",
        rebuild=True,
    )
    compile: bool = knob(
        False,
        "torch.compile the networks (not ones a penalty differentiates twice: compile has no "
        "double backward); the first steps pay the compile time",
        group="hardware",
        rebuild=True,
    )

    # The family this config belongs to (a class attribute, not a field): see gannotes.gans.
    family = "classic"

    def __post_init__(self):
        if isinstance(self.betas, list):
            self.betas = tuple(self.betas)  # from JSON or a checkpoint
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if isinstance(self.classes, list):
            self.classes = tuple(self.classes)  # from JSON
        elif isinstance(self.classes, int) and not isinstance(self.classes, bool):
            self.classes = (self.classes,)  # classes=7: one class
        check_knobs(self)
        self.check()

    def check(self) -> None:
        """Checks that involve more than one knob; families extend it."""
        if self.classes is not None:
            check_classes(self.classes, self.dataset, self.family)


def check_classes(classes: Any, dataset: str, family: str = "classic") -> None:
    """Raise ValueError (one line) unless ``classes`` is a valid subset of Fashion-MNIST's
    classes to train ``family`` on ``dataset``: a tuple of distinct labels in 0-9, not empty,
    for an unconditional family on fashion-mnist (the other image sets are translation pairs or
    fixed domains, the toy sets have no classes, and a conditional GAN learns every class)."""
    valid = f"valid: 0-{len(CLASSES) - 1}"
    if not isinstance(classes, tuple) or not classes:
        raise ValueError(f"classes must name at least one class ({valid}), got {classes!r}")
    for c in classes:
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < len(CLASSES):
            raise ValueError(f"unknown class {c!r} in classes; {valid}")
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        raise ValueError(
            f"class {twice[0]} is listed twice in classes {','.join(map(str, classes))}; "
            "list each class once"
        )
    if dataset != "fashion-mnist":
        raise ValueError(
            f"classes picks Fashion-MNIST classes to train on; it does not apply to {dataset} "
            "(use --dataset fashion-mnist)"
        )
    if family == "conditional":
        raise ValueError(
            "classes does not apply to the conditional family: a cGAN learns every class "
            "(draw one class with `sample --label C`); train dcgan or stylegan on a subset"
        )
