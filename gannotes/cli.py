"""Command line for instructors and scripts: ``python -m gannotes train|sample ...``.

    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 3
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 6 --resume
    python -m gannotes sample runs/dcgan --n 5000 --out samples.npy --seed 0
    python -m gannotes evaluate samples.npy --dataset fashion-mnist
    python -m gannotes train mlp --dataset grid --out runs/grid --minutes 1 --pack 4 --ema 0.999

Every training option (batch size, learning rates, and each trick of gannotes.tricks) is a flag of
``train``; a flag left out means the recipe's value (``gannotes.training.default_config``).

Bad input ends with one line on stderr that says what was wrong and what is valid, and a
non-zero exit status; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(cast, low: float, high: float = float("inf"), *, low_open=False, high_open=True):
    """An argparse type: ``cast(text)`` between low and high, else a one-line error."""
    noun = "integer" if cast is int else "number"
    if high < float("inf"):
        wanted = (
            f"a {noun} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
    elif low_open or low > 0:
        wanted = f"a positive {noun}"
    else:
        wanted = f"{'an' if cast is int else 'a'} {noun} >= {low:g}"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (above and below):  # also refuses nan
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return parse


_positive_int = _number(int, 1)
_positive_float = _number(float, 0.0, low_open=True)
_non_negative_int = _number(int, 0)
_non_negative_float = _number(float, 0.0)


def _unit_float(high: float, high_closed: bool):
    """A float in [0, high] (or [0, high)), as an argparse type."""
    return _number(float, 0.0, high, high_open=not high_closed)


# flag destination -> TrainConfig field; None in args means "the recipe's value"
TRAIN_OPTIONS = {
    "batch_size": "batch_size",
    "lr_g": "lr_g",
    "lr_d": "lr_d",
    "d_steps": "d_steps",
    "g_loss": "g_loss",
    "label_smoothing": "label_smoothing",
    "label_noise": "label_noise",
    "instance_noise": "instance_noise",
    "instance_noise_steps": "instance_noise_steps",
    "grad_clip": "grad_clip",
    "r1": "r1",
    "r1_every": "r1_every",
    "augment": "augment",
    "minibatch_std": "minibatch_std",
    "pack": "pack",
    "optimizer": "optimizer",
    "ema": "ema",
    "spectral_norm": "spectral_norm",
    "d_pretrain": "d_pretrain_steps",
}


def _add_train_options(train: argparse.ArgumentParser) -> None:
    from .losses import G_LOSSES
    from .training import OPTIMIZERS

    opt = train.add_argument_group("training options (default: the recipe's value)")
    add = opt.add_argument
    add("--batch-size", type=_positive_int, help="samples per batch")
    add("--lr-g", type=_positive_float, help="generator learning rate")
    add("--lr-d", type=_positive_float, help="discriminator learning rate (TTUR: differs)")
    add("--d-steps", type=_positive_int, help="k: discriminator updates per generator update")
    add("--g-loss", choices=tuple(G_LOSSES), help="generator loss")
    add("--optimizer", choices=OPTIMIZERS, help="adam (betas 0.5, 0.999) or rmsprop")
    tricks = train.add_argument_group("tricks (default: the recipe's value, mostly off)")
    add = tricks.add_argument
    add(
        "--label-smoothing",
        type=_unit_float(1, False),
        metavar="S",
        help="one-sided label smoothing: D's real target is 1 - S (0.1 gives 0.9)",
    )
    add(
        "--label-noise",
        type=_unit_float(0.5, True),
        metavar="P",
        help="flip each of D's labels with probability P",
    )
    add(
        "--instance-noise",
        type=_non_negative_float,
        metavar="STD",
        help="Gaussian noise on D's inputs, real and fake, annealed from STD to 0",
    )
    add(
        "--instance-noise-steps",
        type=_positive_int,
        metavar="N",
        help="steps over which instance noise is annealed to 0 (default 2000)",
    )
    add(
        "--grad-clip",
        type=_positive_float,
        metavar="NORM",
        help="clip the gradient norm of D and G to NORM",
    )
    add(
        "--r1",
        type=_non_negative_float,
        metavar="GAMMA",
        help="R1 penalty: GAMMA/2 * |grad of D at real data|^2 added to D's loss (0 = off)",
    )
    add(
        "--r1-every",
        type=_positive_int,
        metavar="N",
        help="lazy R1: the penalty (times N) on every N-th step only, for 1/N of its cost",
    )
    add(
        "--augment",
        metavar="POLICY",
        help="DiffAugment on D's real and fake inputs: color,translation,cutout (images) "
        "or jitter,translation (points)",
    )
    add(
        "--minibatch-std",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="minibatch standard deviation feature in D",
    )
    add("--pack", type=_positive_int, metavar="M", help="PacGAN: D judges M samples at once")
    add(
        "--ema",
        type=_unit_float(1, False),
        metavar="DECAY",
        help="sample from an EMA of G's weights with this decay (e.g. 0.999; 0 = off)",
    )
    add(
        "--spectral-norm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="spectral normalisation of D's layers",
    )
    add(
        "--d-pretrain",
        type=_non_negative_int,
        metavar="STEPS",
        help="train D alone for STEPS steps (against the untrained G) before G starts",
    )


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .models import MODELS

    parser = _Parser(prog="gannotes", description="Train GANs and sample from them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a model; writes checkpoint, samples and history")
    train.add_argument("model", choices=MODELS, help="mlp or dcgan")
    train.add_argument("--dataset", required=True, choices=DATASETS)
    train.add_argument("--out", required=True, type=Path, help="run directory")
    budget = train.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=_positive_int, help="total generator steps")
    budget.add_argument("--minutes", type=_positive_float, help="total wall-clock minutes")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_train_options(train)

    sample = sub.add_parser("sample", help="draw samples from a trained generator into a .npy")
    sample.add_argument("run", type=Path, help="run directory or checkpoint file")
    sample.add_argument("--n", required=True, type=_positive_int, help="number of samples")
    sample.add_argument("--out", required=True, type=Path, help="output .npy file")
    sample.add_argument("--seed", type=int, default=0)
    evaluate = sub.add_parser("evaluate", help="score samples (.npy) against held-out real data")
    evaluate.add_argument("samples", type=Path, help=".npy file as written by `sample`")
    evaluate.add_argument("--dataset", required=True, choices=DATASETS)
    evaluate.add_argument("--seed", type=int, default=0, help="seed of KID's random subsets")
    return parser


def _load_samples(path: Path):
    import numpy as np

    from .checkpoint import GannotesError

    if not path.is_file():
        raise GannotesError(f"samples file not found: {path}")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GannotesError(f"{path} is not a readable .npy array ({reason[:100]})") from None
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.number):
        raise GannotesError(f"{path} must hold a numeric array, got dtype {x.dtype}")
    return x


def _evaluate(args) -> int:
    import json

    from .checkpoint import GannotesError

    x = _load_samples(args.samples)
    if args.dataset == "fashion-mnist":
        from .evaluation import evaluate_images

        result = evaluate_images(x, seed=args.seed)
    else:
        from .metrics import mode_coverage

        if x.ndim != 2 or x.shape[1] != 2:
            raise GannotesError(
                f"{args.dataset} samples must be points [N, 2], got {list(x.shape)}"
            )
        mc = mode_coverage(x, args.dataset)
        result = {
            "modes": int(mc.modes),
            "high_quality": float(mc.high_quality),
            "n": len(x),
            "histogram": [int(c) for c in mc.histogram],
        }
    print(json.dumps(result))
    return 0


def _train(args) -> int:
    import os

    import torch

    from .data import TOY_DATASETS

    if args.dataset in TOY_DATASETS and "OMP_NUM_THREADS" not in os.environ:
        # The toy MLPs are too small for intra-op threads to pay: one thread, and no risk of
        # spinning threads fighting other work for the cores.
        torch.set_num_threads(1)
    from .checkpoint import CHECKPOINT_NAME, GannotesError, write_json
    from .training import Trainer, default_config
    from .viz import save_image_grid

    ckpt = args.out / CHECKPOINT_NAME
    if args.resume:
        if not ckpt.exists():
            raise GannotesError(f"--resume: no {CHECKPOINT_NAME} in {args.out}; train without it")
        trainer = Trainer.resume(args.out, device=args.device)
        cfg = trainer.config
        if (cfg.model, cfg.dataset) != (args.model, args.dataset):
            raise GannotesError(
                f"{args.out} holds a {cfg.model} run on {cfg.dataset}, not {args.model} on "
                f"{args.dataset}"
            )
        if args.seed is not None and args.seed != cfg.seed:
            raise GannotesError(f"--seed {args.seed} differs from the run's seed {cfg.seed}")
        for flag, value in _given_options(args).items():
            stored = getattr(cfg, TRAIN_OPTIONS[flag])
            if value != stored:
                raise GannotesError(
                    f"--{flag.replace('_', '-')} {value} differs from the run's value {stored}; "
                    "a resumed run keeps its options (start a new --out to change them)"
                )
    else:
        if ckpt.exists():
            raise GannotesError(
                f"{args.out} already holds a run; add --resume to continue it, or pick another --out"
            )
        seed = 0 if args.seed is None else args.seed
        options = {TRAIN_OPTIONS[k]: v for k, v in _given_options(args).items()}
        trainer = Trainer(
            default_config(args.model, args.dataset, seed=seed, **options),
            args.out,
            device=args.device,
        )
    print(
        f"data: {trainer.data_source}; device: {trainer.device}; from step {trainer.step}",
        file=sys.stderr,
    )
    trainer.run(steps=args.steps, minutes=args.minutes, progress=not args.quiet)
    trainer.save()
    write_json(args.out / "history.json", trainer.history)
    samples = trainer.sample(64, seed=0)
    if samples.ndim == 4:
        save_image_grid(samples, args.out / "samples.png", nrow=8)
    else:
        _save_points_png(trainer, samples, args.out / "samples.png")
    rate = trainer.history["images_per_s"][-5:]
    speed = f", {sum(rate) / len(rate):.0f} images/s" if rate else ""
    done = ""
    if trainer.schedule_finished:
        done = " (the learning-rate decay ended there: more steps would not change G)"
    print(
        f"trained to step {trainer.step} in {trainer.elapsed / 60:.2f} min{speed}{done}; "
        f"wrote {ckpt}, samples.png, history.json"
    )
    return 0


def _given_options(args) -> dict:
    """The training options given on the command line (flag destination -> value)."""
    return {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None}


def _save_points_png(trainer, samples, path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import torch

    from .checkpoint import atomic_write_bytes
    from .data import toy_data
    from .viz import plot_points

    gen = torch.Generator().manual_seed(0)
    points = trainer.sample(2500, seed=0)
    fig, ax = plt.subplots(figsize=(4, 4))
    plot_points(real=toy_data(trainer.config.dataset, 2500, generator=gen), fake=points, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _sample(args) -> int:
    import io

    import numpy as np

    from .checkpoint import GannotesError, atomic_write_bytes
    from .training import generate, load_generator

    if args.out.suffix != ".npy":
        raise GannotesError(f"--out must end in .npy, got {args.out}")
    G, _ = load_generator(args.run)
    x = generate(G, args.n, seed=args.seed).numpy().astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.n} samples {list(x.shape)} to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gannotes`` and the ``gannotes`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .checkpoint import GannotesError

    try:
        commands = {"train": _train, "sample": _sample, "evaluate": _evaluate}
        return commands[args.command](args)
    except (GannotesError, ValueError, FileNotFoundError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gannotes {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gannotes {args.command}: interrupted", file=sys.stderr)
        return 130
