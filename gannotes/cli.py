"""Command line for instructors and scripts: ``python -m gannotes train|sample|evaluate|...``.

    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 3
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 6 --resume
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/wgan --loss wasserstein --gp 10 --minutes 3
    python -m gannotes sample runs/dcgan --n 5000 --out samples.npy --seed 0
    python -m gannotes evaluate samples.npy --dataset fashion-mnist
    python -m gannotes critic a.npy b.npy --method gp      # a critic's estimate of W1(a, b)
    python -m gannotes train mlp --dataset grid --out runs/grid --minutes 1 --pack 4 --ema 0.999
    python -m gannotes train cgan --dataset fashion-mnist --out runs/cgan --minutes 5 --d-cond acgan
    python -m gannotes sample runs/cgan --n 500 --out boots.npy --label 9   # class 9 only
    python -m gannotes train pix2pix --dataset edges2fashion --out runs/p2p --minutes 5
    python -m gannotes edges images.npy --out edges.npy
    python -m gannotes translate runs/p2p edges.npy --out garments.npy
    python -m gannotes train cyclegan --dataset sneaker2boot --out runs/s2b --minutes 10
    python -m gannotes translate runs/s2b sneakers.npy --out boots.npy --direction a2b
    python -m gannotes train stylegan --dataset fashion-mnist --out runs/style --minutes 10
    python -m gannotes sample runs/style --n 5000 --out s.npy --truncation 0.7
    python -m gannotes mix runs/style --coarse-seed 0 --fine-seed 1000 --crossover coarse --n 200 --out m.npy
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/bf16 --minutes 3 --precision bf16
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/sneakers --minutes 3 --classes 7
    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 3 --tensorboard runs/tb
    torchrun --nproc_per_node 2 -m gannotes train dcgan --dataset fashion-mnist --steps 40 --out runs/ddp
    python -m gannotes bench --family dcgan stylegan --precision fp32 bf16 --channels-last --profile
    python -m gannotes sample runs/dcgan --n 1000 --out marked.npy --watermark alice
    python -m gannotes watermark detect marked.npy --key alice   # one JSON line: n, detected, ...
    python -m gannotes card runs/dcgan --out runs/dcgan/MODEL_CARD.md
    python -m gannotes invert runs/style real.npy --out recon.npy --space w+ --latents lat.npy
    python -m gannotes edit runs/dcgan --toward 7 --n 100 --out sneakers.npy   # or --images real.npy
    python -m gannotes dissect runs/dcgan --class 1 --out units.json
    python -m gannotes sample runs/dcgan --n 1000 --out s.npy --ablate units.json
    python -m gannotes anomaly runs/sneakers test.npy --out scores.npy   # higher = more anomalous

Every knob of a training run (batch size, learning rates, the objective, each trick of
gannotes.tricks) is a flag of ``train``, derived from its declaration in gannotes.config and the
families' configs; a flag left out means the recipe's value (``gannotes.training.default_config``).

Bad input ends with one line on stderr that says what was wrong and what is valid, and a
non-zero exit status; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(rng):
    """An argparse type: a number within ``rng`` (a gannotes.config.Range), else a one-line
    error that says what is valid."""
    cast = int if rng.integer else float
    wanted = rng.describe()

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if value not in rng:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return parse


def _listed(rng):
    """An argparse type: comma-separated numbers, each within ``rng`` ("0,2,4" -> (0, 2, 4))."""
    one = _number(rng)

    def parse(text: str):
        try:
            items = [item.strip() for item in text.split(",")]
            if not all(items):
                raise argparse.ArgumentTypeError("an empty item")
            return tuple(one(item) for item in items)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list, each {rng.describe()}, got {text!r}"
            ) from None

    return parse


def _positive(cast):
    from .config import Range

    return _number(Range(1, integer=True) if cast is int else Range(0, low_open=True))


def _train_knobs() -> dict[str, tuple]:
    """Every knob that has a flag, of the Trainer and of every family:
    name -> (its declaration, its default, the families that have it)."""
    from dataclasses import fields

    from .gans import FAMILIES

    found: dict[str, tuple] = {}
    for family in FAMILIES.values():
        for f in fields(family.Config):
            spec = f.metadata.get("knob")
            if spec is None or spec.flag == "":
                continue
            if f.name in found:
                found[f.name][2].append(family.name)
            else:
                found[f.name] = (spec, f.default, [family.name])
    return found


def _add_train_options(train: argparse.ArgumentParser) -> None:
    """One flag per knob, derived from its declaration (gannotes.config.knob): its type and
    range or choices, help and metavar. A flag left out means the recipe's value."""
    from .gans import FAMILIES

    groups = {
        "training": train.add_argument_group("training options (default: the recipe's value)"),
        "trick": train.add_argument_group("tricks (default: the recipe's value, mostly off)"),
        "hardware": train.add_argument_group(
            "hardware options (how a step is computed: notebook 08; default fp32, off)"
        ),
    }
    for name, (spec, default, families) in _train_knobs().items():
        flags = [f"--{spec.flag or name.replace('_', '-')}", *(f"--{a}" for a in spec.aliases)]
        kwargs: dict = dict(dest=name, default=None, help=spec.help)
        if len(families) < len(FAMILIES):
            kwargs["help"] += f" [{', '.join(families)}]"
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.choices is not None:
            kwargs["choices"] = spec.choices
        elif spec.many:
            kwargs["type"] = _listed(spec.range)
        elif spec.range is not None:
            kwargs["type"] = _number(spec.range)
        if isinstance(default, tuple):
            kwargs["nargs"] = len(default)
        if spec.metavar is not None:
            kwargs["metavar"] = spec.metavar
        groups.get(spec.group, groups["training"]).add_argument(*flags, **kwargs)


def _add_inversion_options(parser: argparse.ArgumentParser) -> None:
    """The options of `invert` (and of `edit --images`): method, latent space, steps, seed."""
    from .config import Range

    parser.add_argument(
        "--method",
        choices=("optimise", "encoder", "hybrid"),
        default="optimise",
        help="optimise (default): gradient steps from the nearest of 2,000 prior draws; encoder: "
        "one pass of an encoder trained on the generator's samples; hybrid: encoder, then steps",
    )
    parser.add_argument(
        "--space",
        choices=("z", "w", "w+"),
        default=None,
        help="latent space: z (dcgan, the default there), w (stylegan default) or w+ (stylegan)",
    )
    parser.add_argument(
        "--steps",
        type=_number(Range(0, 10_000, integer=True, high_open=False)),
        default=200,
        help="default 200",
    )
    parser.add_argument("--seed", type=int, default=0, help="prior draws of the start (default 0)")
    parser.add_argument(
        "--encoder",
        type=Path,
        default=None,
        metavar="ENC.pt",
        help="encoder weights: read if the file exists, else trained (its time printed) and saved",
    )


def build_parser() -> argparse.ArgumentParser:
    from .config import Range
    from .data import DATASETS
    from .gans import FAMILIES

    models = [model for family in FAMILIES.values() for model in family.models]
    parser = _Parser(prog="gannotes", description="Train GANs, sample from them, score them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a model; writes checkpoint, samples and history")
    train.add_argument("model", choices=models, help=", ".join(models))
    train.add_argument("--dataset", required=True, choices=DATASETS)
    train.add_argument("--out", required=True, type=Path, help="run directory")
    budget = train.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=_positive(int), help="total generator steps")
    budget.add_argument("--minutes", type=_positive(float), help="total wall-clock minutes")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write TensorBoard curves, sample grids and weight histograms to DIR/<name of "
        '--out> (tensorboard --logdir DIR); needs pip install -e ".[tensorboard]"',
    )
    train.add_argument(
        "--tensorboard-every",
        type=_positive(int),
        default=None,
        metavar="N",
        help="steps between TensorBoard's quality points, sample grids and histograms "
        "(default 200; its scalars are written at every history row)",
    )
    _add_train_options(train)

    sample = sub.add_parser("sample", help="draw samples from a trained generator into a .npy")
    sample.add_argument("run", type=Path, help="run directory or checkpoint file")
    sample.add_argument("--n", required=True, type=_positive(int), help="number of samples")
    sample.add_argument("--out", required=True, type=Path, help="output .npy file")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--label",
        type=int,
        default=None,
        metavar="C",
        help="class-conditional runs: every sample of class C (0-9); without it, the classes in "
        "equal shares. The labels are written beside the samples (OUT_labels.npy)",
    )
    sample.add_argument(
        "--truncation",
        type=float,
        default=None,
        metavar="PSI",
        help="stylegan runs: the truncation trick in W, w_avg + PSI (w - w_avg), PSI in [0, 1] "
        "(default 1: none; lower: more typical, less varied images)",
    )
    sample.add_argument(
        "--ablate",
        type=Path,
        default=None,
        metavar="UNITS.json",
        help="dcgan and stylegan runs: switch off the units of a `dissect` file while sampling",
    )
    sample.add_argument(
        "--watermark",
        default=None,
        metavar="KEY",
        help="add the invisible watermark of KEY (a string or integer; gannotes.watermark) to "
        "every sample; `watermark detect FILE --key KEY` finds it",
    )

    mix = sub.add_parser(
        "mix",
        help="style mixing with a trained stylegan run: coarse styles of one seed, fine of another",
        description="Write N mixed images: the i-th takes the styles (and noise) of the first K "
        "style layers from seed COARSE+i and the rest from seed FINE+i. Prints one JSON line with "
        "the number of style layers and the layers that `coarse` and `middle` name.",
    )
    mix.add_argument("run", type=Path, help="run directory or checkpoint file (stylegan)")
    mix.add_argument("--coarse-seed", type=int, required=True, metavar="A")
    mix.add_argument("--fine-seed", type=int, required=True, metavar="B")
    mix.add_argument(
        "--crossover",
        required=True,
        metavar="K",
        help="how many style layers (w copies, from the lowest resolution; 7 in the recipe's "
        "generator) come from the coarse seed: an integer, coarse (the 7x7 block's: 3), middle "
        "(the 7x7 and 14x14 blocks': 5), all (the coarse seed's own image) or none (the fine "
        "seed's own image)",
    )
    mix.add_argument("--n", type=_positive(int), default=1, help="number of images (default 1)")
    mix.add_argument("--out", required=True, type=Path, help="output .npy file")
    mix.add_argument(
        "--truncation", type=float, default=1.0, metavar="PSI", help="as in sample (default 1)"
    )

    translate = sub.add_parser(
        "translate",
        help="translate images (.npy) with a trained pix2pix or cyclegan run",
        description="Run a translating model (pix2pix, cyclegan) on input images [N, 1, 28, 28] "
        "in [-1, 1] (e.g. edge maps from `edges`); OUTPUT[i] is the translation of INPUT[i].",
    )
    translate.add_argument("run", type=Path, help="run directory or checkpoint file")
    translate.add_argument("input", type=Path, help=".npy file: images [N, 1, 28, 28] in [-1, 1]")
    translate.add_argument("--out", required=True, type=Path, help="output .npy file")
    translate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="pix2pix: keep dropout on, drawn from this seed (the paper's test time); default: "
        "off, deterministic",
    )
    translate.add_argument(
        "--direction",
        choices=("a2b", "b2a"),
        default="a2b",
        help="cyclegan: a2b runs G (domain A to B: edges to garments, sneakers to boots), b2a "
        "runs F (back); pix2pix translates a2b only (default a2b)",
    )

    export = sub.add_parser(
        "export",
        help="write a run's networks and config only (a few MB) to share or ship",
        description="Write the networks, config and step of a run to a .pt file without "
        "optimizers, random states, snapshots or history. `sample` and `translate` read it; "
        "it cannot resume training.",
    )
    export.add_argument("run", type=Path, help="run directory or checkpoint file")
    export.add_argument("--out", required=True, type=Path, help="output .pt file")

    evaluate = sub.add_parser("evaluate", help="score samples (.npy) against held-out real data")
    evaluate.add_argument("samples", type=Path, help=".npy file as written by `sample`")
    evaluate.add_argument("--dataset", required=True, choices=DATASETS)
    evaluate.add_argument("--seed", type=int, default=0, help="seed of KID's random subsets")

    critic = sub.add_parser(
        "critic",
        help="train a Wasserstein critic on two sample sets; print its estimate of W1 (JSON)",
        description="Train a critic to separate two sample sets (points [N, 2] or images "
        "[N, 1, 28, 28] in [-1, 1], as .npy) and print one JSON line with its estimate of "
        "the Wasserstein-1 distance W1(A, B) (key w1).",
    )
    critic.add_argument("a", type=Path, help=".npy file: samples of A")
    critic.add_argument("b", type=Path, help=".npy file: samples of B")
    critic.add_argument(
        "--method",
        choices=("gp", "clip"),
        default="gp",
        help="keep the critic 1-Lipschitz with the gradient penalty (WGAN-GP: estimates W1) or "
        "weight clipping (WGAN: W1 up to an unknown scale)",
    )
    critic.add_argument(
        "--steps", type=_positive(int), default=None, help="critic updates (default: by data)"
    )
    critic.add_argument("--seed", type=int, default=0)

    bench = sub.add_parser(
        "bench",
        help="measure steps/s, images/s and peak memory of training steps on this machine",
        description="Time training steps of each configuration (GAN x precision x layout x "
        "compile), each in a fresh process on synthetic data of the right shape, and print a "
        "table, then one JSON line with the machine's description and every result. Peak "
        "memory is the process's RSS on a CPU, max_memory_allocated on CUDA.",
    )
    bench.add_argument(
        "--family",
        nargs="+",
        default=["dcgan"],
        choices=models,
        metavar="GAN",
        help=f"GANs to time, by model name ({', '.join(models)}; default dcgan)",
    )
    bench.add_argument(
        "--precision",
        nargs="+",
        default=["fp32"],
        choices=("fp32", "bf16", "fp16"),
        help="precisions to time (default fp32); e.g. --precision fp32 bf16",
    )
    bench.add_argument(
        "--channels-last", action="store_true", help="also time channels-last (beside NCHW)"
    )
    bench.add_argument("--compile", action="store_true", help="also time torch.compile'd networks")
    bench.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    bench.add_argument(
        "--batch-size",
        type=_positive(int),
        nargs="+",
        default=None,
        help="batch sizes to time (default: each recipe's)",
    )
    bench.add_argument(
        "--threads", type=_positive(int), nargs="+", default=None,
        help="torch threads to time with (default: as torch starts)",
    )  # fmt: skip
    bench.add_argument(
        "--steps", type=_positive(int), default=20, help="timed steps each (default 20)"
    )
    bench.add_argument("--json", type=Path, default=None, help="also write the JSON to a file")
    bench.add_argument(
        "--profile",
        action="store_true",
        help="also print torch.profiler's view of the first configuration's step",
    )

    edges = sub.add_parser(
        "edges",
        help="edge maps of images (.npy): the sketches of the edges -> garment task",
        description="Apply the course's edge operator (gannotes.edges.edge_map: Sobel magnitude, "
        "thresholded) to images [N, 1, 28, 28] in [-1, 1] and write the edge maps, same shape, "
        "+1 on an edge and -1 elsewhere.",
    )
    edges.add_argument("images", type=Path, help=".npy file: images [N, 1, 28, 28] in [-1, 1]")
    edges.add_argument("--out", required=True, type=Path, help="output .npy file")
    edges.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="of the normalised gradient magnitude, in (0, 1.5) (default 0.25)",
    )

    mark = sub.add_parser(
        "watermark",
        help="add or detect a keyed invisible watermark in images (.npy)",
        description="A keyed spread-spectrum watermark (gannotes.watermark): `embed` adds the "
        "key's pattern to images [N, 1, 28, 28] in [-1, 1] (PSNR >= 36.5 dB); `detect` tests each "
        "image for it and prints one JSON line: n, detected, fraction, and fpr, the bound on the "
        "false-positive rate per image of the threshold used.",
    )
    mark_sub = mark.add_subparsers(dest="action", required=True, parser_class=_Parser)
    detect = mark_sub.add_parser("detect", help="test images for the mark of --key")
    detect.add_argument("images", type=Path, help=".npy file: images [N, 1, 28, 28] in [-1, 1]")
    detect.add_argument("--key", required=True, help="the watermark key (string or integer)")
    detect.add_argument(
        "--fpr",
        type=_number(Range(0, 1, low_open=True, high_open=True)),
        default=None,
        help="false-positive rate per image the threshold allows, in (0, 1) (default 0.001)",
    )
    embed = mark_sub.add_parser("embed", help="add the mark of --key to images")
    embed.add_argument("images", type=Path, help=".npy file: images [N, 1, 28, 28] in [-1, 1]")
    embed.add_argument("--key", required=True, help="the watermark key (string or integer)")
    embed.add_argument("--out", required=True, type=Path, help="output .npy file")

    invert = sub.add_parser(
        "invert",
        help="find the latents of real images (.npy) in a dcgan or stylegan run (GAN inversion)",
        description="Write the reconstructions of IMAGES (what the generator draws from the "
        "latents found; gannotes.inversion) and print one JSON line: pixel RMS error, class kept "
        "(the course's classifier), distance from the latent prior, seconds per image.",
    )
    invert.add_argument("run", type=Path, help="run directory or checkpoint file (dcgan, stylegan)")
    invert.add_argument("images", type=Path, help=".npy file: images [N, 1, 28, 28] in [-1, 1]")
    invert.add_argument("--out", required=True, type=Path, help="output .npy: the reconstructions")
    invert.add_argument("--latents", type=Path, default=None, help="also write the latents (.npy)")
    _add_inversion_options(invert)

    edit = sub.add_parser(
        "edit",
        help="walk samples (or inverted real images) of a dcgan or stylegan run toward a class",
        description="Write N samples of seed S (or the inversions of --images) edited toward class "
        "C (gannotes.editing.edit_toward): each latent walks toward the nearest latent the "
        "course's classifier gives class C, and stops a margin past the first point labelled C. "
        "--strength 0 writes exactly what `sample` (or `invert`) writes. Prints one JSON line.",
    )
    edit.add_argument("run", type=Path, help="run directory or checkpoint file (dcgan, stylegan)")
    edit.add_argument("--toward", required=True, type=int, metavar="C", help="class 0-9")
    edit.add_argument(
        "--strength",
        type=_number(Range(0, 10, high_open=False)),
        default=1.0,
        metavar="T",
        help="how far to walk: 0 none, 1 (default) a margin past the class's border",
    )
    edit.add_argument("--n", type=_positive(int), default=None, help="samples (without --images)")
    edit.add_argument("--images", type=Path, default=None, help=".npy images to invert and edit")
    edit.add_argument("--out", required=True, type=Path, help="output .npy file")
    _add_inversion_options(edit)

    dissect = sub.add_parser(
        "dissect",
        help="find the units of a generator layer that draw a class (GAN Dissection)",
        description="Rank the units of one layer of a dcgan or stylegan generator by how much "
        "switching them off lowers the course's classifier's probability of class C "
        "(gannotes.dissection), write the top K to a JSON file for `sample --ablate`, and print "
        "the measured share of class C with them off, and with as many random units off.",
    )
    dissect.add_argument(
        "run", type=Path, help="run directory or checkpoint file (dcgan, stylegan)"
    )
    dissect.add_argument("--class", dest="cls", required=True, type=int, metavar="C")
    dissect.add_argument("--layer", default=None, help="layer name (default: the first)")
    dissect.add_argument(
        "--top",
        type=_positive(int),
        default=None,
        metavar="K",
        help="units to keep (default: the fewest, up to a quarter of the layer, that bring the "
        "class's share of 2,000 samples to 0.4 times what it was)",
    )
    dissect.add_argument("--seed", type=int, default=0)
    dissect.add_argument("--out", required=True, type=Path, help="output .json file")

    card = sub.add_parser(
        "card",
        help="write a model card (Markdown) for a run: data, training, measured quality, ...",
        description="Measure a trained run and write its model card (gannotes.card): the data and "
        "its licence, the config and command, training time and hardware, FID, precision, recall "
        "and classes of 2,000 samples, the memorisation audit, intended use and limitations, "
        "watermark status.",
    )
    card.add_argument("run", type=Path, help="run directory or checkpoint file")
    card.add_argument(
        "--out", type=Path, default=None, help="output .md file (default: print to stdout)"
    )
    card.add_argument(
        "--n",
        type=_number(Range(50, integer=True)),
        default=2000,
        help="samples measured, at least 50 (default 2000)",
    )

    anomaly = sub.add_parser(
        "anomaly",
        help="score images (.npy) for how anomalous they are to a GAN trained on normal data",
        description="Write one score per image, higher = more anomalous (gannotes.anomaly), for a "
        "classic-family dcgan run trained on the normal data (e.g. train ... --classes 7). "
        "f-AnoGAN's encoder is trained on first use (or with --fit) and cached.",
    )
    anomaly.add_argument("run", type=Path, help="run directory or exported .pt (dcgan)")
    anomaly.add_argument(
        "images", type=Path, nargs="?", help=".npy file: images [N, 1, 28, 28] in [-1, 1]"
    )
    anomaly.add_argument("--out", type=Path, default=None, help="output .npy file: scores [N]")
    anomaly.add_argument(
        "--method",
        default=None,
        help="combined (default: f-AnoGAN + pixel nearest neighbour, each in standard deviations "
        "of its scores on normal images), fanogan, anogan (slow: 100 Adam steps per image), "
        "discriminator, pixel-nn, feature-nn, autoencoder (trained as many steps as the GAN)",
    )
    anomaly.add_argument(
        "--fit",
        action="store_true",
        help="train f-AnoGAN's encoder now (even if cached) and cache it; IMAGES optional",
    )
    anomaly.add_argument(
        "--encoder",
        type=Path,
        default=None,
        help="the encoder's cache (default RUN/fanogan_encoder.pt; beside a .pt RUN: "
        "RUN_fanogan_encoder.pt)",
    )
    anomaly.add_argument(
        "--encoder-steps",
        type=_positive(int),
        default=None,
        help="batches of 64 the encoder trains on when it is trained (default 1000)",
    )
    return parser


def _save_npy(path: Path, array) -> None:
    """Write a numpy array as .npy, atomically: a crash leaves the old file or the new one."""
    import io

    import numpy as np

    from .checkpoint import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, array)
    atomic_write_bytes(path, buf.getvalue())


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
    if not isinstance(x, np.ndarray):
        raise GannotesError(f"{path} must hold one array (.npy), got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise GannotesError(f"{path} must hold a numeric array (real), got dtype {x.dtype}")
    return x


def _evaluate(args) -> int:
    import json

    from .checkpoint import GannotesError
    from .data import IMAGE_DATASETS

    x = _load_samples(args.samples)
    if args.dataset in IMAGE_DATASETS:  # edges2fashion's outputs are garments too
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
    from . import parallel

    # torchrun's processes join one data-parallel run (gannotes.parallel); one process: no-op
    world, args.device = parallel.init_from_environment(args.device)
    try:
        code = _train_in_process(args, world)
    except BaseException:
        parallel.shutdown(wait_for_others=False)
        raise
    parallel.shutdown()
    if world is not None:
        parallel.exit_process(code)  # see exit_process: a worker's finalization could abort
    return code


def _check_writable_dir(path: Path, flag: str = "--out") -> None:
    """Make the run directory ``path`` (and its parents), or say in one line why it cannot be
    one: a file in the way, no permission."""
    from .checkpoint import GannotesError

    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise GannotesError(f"{flag} {path}: {blocker} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise GannotesError(f"{flag} {path}: cannot write there ({exc.strerror})") from exc


def _train_in_process(args, world) -> int:
    import os
    import shlex

    import torch

    from .data import TOY_DATASETS

    if args.dataset in TOY_DATASETS and "OMP_NUM_THREADS" not in os.environ:
        # The toy MLPs are too small for intra-op threads to pay: one thread, and no risk of
        # spinning threads fighting other work for the cores.
        torch.set_num_threads(1)
    from .checkpoint import CHECKPOINT_NAME, GannotesError, write_json
    from .gans import family_for_model
    from .training import Trainer, TrainingInterrupted, default_config
    from .viz import save_image_grid

    ckpt = args.out / CHECKPOINT_NAME
    if args.tensorboard is not None:
        from .board import require_tensorboard

        require_tensorboard()  # before anything is trained or written
    elif args.tensorboard_every is not None:
        raise GannotesError("--tensorboard-every needs --tensorboard DIR")
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
        for name, value in _given_options(args).items():
            stored = getattr(cfg, name)
            if value != stored:
                raise GannotesError(
                    f"{_flag(name)} {_shown(value, name)} differs from the run's value "
                    f"{_shown(stored, name)}; "
                    "a resumed run keeps its options (start a new --out to change them)"
                )
    else:
        if ckpt.exists():
            raise GannotesError(
                f"{args.out} already holds a run; add --resume to continue it, or pick another --out"
            )
        seed = 0 if args.seed is None else args.seed
        options = _given_options(args)
        family = family_for_model(args.model)
        foreign = [n for n in options if not hasattr(family.Config, n)]
        if foreign:
            raise GannotesError(
                f"{_flag(foreign[0])} does not apply to {args.model} "
                f"(the {family.name} family has no knob {foreign[0]})"
            )
        config = default_config(args.model, args.dataset, seed=seed, **options)  # checks it
        if args.tensorboard is not None:
            _check_writable_dir(args.tensorboard, "--tensorboard")
        _check_writable_dir(args.out)  # before training, not when the first checkpoint fails
        trainer = Trainer(config, args.out, device=args.device)
    main = world is None or world.is_main
    if main:
        processes = f"; {world.world_size} processes ({world.backend})" if world else ""
        compiled = ""
        if trainer.config.compile:
            left = "; ".join(
                f"{k} not ({why} needs a double backward)"
                for k, why in trainer.not_compiled.items()
            )
            compiled = f"; compiled {', '.join(trainer.compiled) or 'nothing'}" + (
                f" ({left})" if left else ""
            )
        print(
            f"data: {trainer.data_source}; device: {trainer.device}; precision "
            f"{trainer.config.precision}{processes}{compiled}; from step {trainer.step}",
            file=sys.stderr,
        )
    board = None
    if args.tensorboard is not None and main:
        from .board import DEFAULT_EVERY, TensorBoardCallback

        _check_writable_dir(args.tensorboard, "--tensorboard")  # (a resumed run's too)
        every = args.tensorboard_every or DEFAULT_EVERY
        board = TensorBoardCallback(trainer, args.tensorboard, name=args.out.name, every=every)
    started, from_step, elapsed = _utc_now(), trainer.step, trainer.elapsed
    try:
        trainer.run(steps=args.steps, minutes=args.minutes, progress=not args.quiet, callback=board)
    except TrainingInterrupted as stop:  # Ctrl-C: the step finished and the checkpoint is saved
        if main:
            write_json(args.out / "history.json", trainer.history)
            _record_session(args, trainer, world, started, from_step, trainer.elapsed - elapsed)
            launcher = f"torchrun --nproc_per_node {world.world_size} -m" if world else "python -m"
            again = [*args.argv, *([] if args.resume else ["--resume"])]
            print(
                f"gannotes train: {stop.where()}; wrote {ckpt}, history.json, run.json; "
                f"continue: {launcher} gannotes {shlex.join(again)}",
                file=sys.stderr,
            )
        return 130  # a shell's code for a run stopped by SIGINT
    finally:
        if board is not None:
            board.close()
    trainer.save()
    if not main:
        return 0  # rank 0 writes the history, samples and summary
    write_json(args.out / "history.json", trainer.history)
    _record_session(args, trainer, world, started, from_step, trainer.elapsed - elapsed)
    conditional = bool(trainer.family.n_classes)
    samples = trainer.sample(100 if conditional else 64, seed=0)
    if samples.ndim == 4:  # conditional: one column per class (samples come in class order)
        save_image_grid(samples, args.out / "samples.png", nrow=10 if conditional else 8)
    else:
        _save_points_png(trainer, samples, args.out / "samples.png")
    rate = trainer.history.get("images_per_s", [])[-5:]
    speed = f", {sum(rate) / len(rate):.0f} images/s" if rate else ""
    done = ""
    if trainer.schedule_finished:
        done = " (the learning-rate decay ended there: more steps would not change G)"
    print(
        f"trained to step {trainer.step} in {trainer.elapsed / 60:.2f} min{speed}{done}; "
        f"wrote {ckpt}, samples.png, history.json, run.json"
    )
    return 0


def _utc_now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record_session(args, trainer, world, started: str, from_step: int, seconds: float) -> None:
    """Append this training session to the run's record, ``run.json``: the command, the data's
    source, when, the steps and minutes trained, and the machine (gannotes.bench.machine)."""
    import json
    import shlex

    from .bench import machine
    from .card import RUN_RECORD
    from .checkpoint import write_json

    path = args.out / RUN_RECORD
    record: dict = {"sessions": []}
    if args.resume and path.is_file():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            pass  # an unreadable record is replaced, never fatal (the card says what is missing)
        if not isinstance(record, dict) or not isinstance(record.get("sessions"), list):
            record = {"sessions": []}
    launcher = f"torchrun --nproc_per_node {world.world_size} -m" if world else "python -m"
    record.setdefault("sessions", []).append(
        {
            "command": f"{launcher} gannotes {shlex.join(args.argv)}",
            "started": started,
            "finished": _utc_now(),
            "from_step": from_step,
            "to_step": trainer.step,
            "minutes": round(seconds / 60, 3),
            "device": str(trainer.device),
            "data": trainer.data_source,
            "classes": list(trainer.config.classes) if trainer.config.classes else None,
            "machine": machine(),
        }
    )
    write_json(path, record)


def _given_options(args) -> dict:
    """The knobs given on the command line (name -> value; tuples for several numbers)."""
    given = {}
    for name in _train_knobs():
        value = getattr(args, name, None)
        if value is not None:
            given[name] = tuple(value) if isinstance(value, list) else value
    return given


def _flag(name: str) -> str:
    spec = _train_knobs()[name][0]
    return f"--{spec.flag or name.replace('_', '-')}"


def _shown(value, name: str = "") -> str:
    many = name in _train_knobs() and _train_knobs()[name][0].many
    return ("," if many else " ").join(map(str, value)) if isinstance(value, tuple) else str(value)


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

    from .checkpoint import GannotesError
    from .training import load_family

    if args.out.suffix != ".npy":
        raise GannotesError(f"--out must end in .npy, got {args.out}")
    if args.watermark is not None:
        from .watermark import key_seed

        key_seed(args.watermark)  # an empty key fails before any sampling
    family = load_family(args.run)  # any GAN family: its own sampler and inputs
    if args.ablate is not None:
        from .dissection import ablated, load_units

        units = load_units(args.ablate, family)
        with ablated(family, units["layer"], units["units"], to=units.get("to", "zero")):
            args.ablate = None
            return _sample_family(args, family, f", units {units['units']} of {units['layer']} off")
    return _sample_family(args, family)


def _sample_family(args, family, what: str = "") -> int:
    import numpy as np

    from .checkpoint import GannotesError

    if args.truncation is not None:
        stylegan = _stylegan(family, args.run, "--truncation")
        _check_psi(args.truncation)
        x = stylegan.sample(args.n, seed=args.seed, truncation=args.truncation)
        what = f" (psi {args.truncation:g})"
    elif family.n_classes:
        if args.label is not None and not 0 <= args.label < family.n_classes:
            raise GannotesError(
                f"--label must be a class in 0-{family.n_classes - 1}, got {args.label}"
            )
        x, labels = family.sample_labelled(args.n, seed=args.seed, label=args.label)
        labels_path = args.out.with_name(f"{args.out.stem}_labels.npy")
        _save_npy(labels_path, labels.numpy().astype(np.int64))
        which = f"all of class {args.label}" if args.label is not None else "classes in turn"
        what = f" ({which}; labels in {labels_path})"
    else:
        if args.label is not None:
            raise GannotesError(
                f"--label needs a class-conditional run (cgan); {args.run} holds a "
                f"{family.config.model} run of the {family.name} family"
            )
        x = family.sample(args.n, seed=args.seed)
    if args.watermark is not None:
        from .watermark import embed, psnr

        if x.ndim != 4:
            raise GannotesError(f"--watermark marks images; {args.run} samples {list(x.shape)}")
        plain = x
        x = embed(plain, args.watermark)
        what += f", watermarked (PSNR >= {float(psnr(x, plain).min()):.1f} dB)"
    x = x.numpy().astype(np.float32)
    _save_npy(args.out, x)
    print(f"wrote {args.n} samples {list(x.shape)}{what} to {args.out}")
    return 0


def _load_images(path: Path):
    """Images ``[N, 1, 28, 28]`` from a .npy file, or a one-line error."""
    from .checkpoint import GannotesError
    from .features import as_images

    x = _load_samples(path)
    try:
        return as_images(x)
    except ValueError as exc:
        raise GannotesError(f"{path}: {exc}") from None


def _check_out(path: Path, suffix: str = ".npy") -> None:
    from .checkpoint import GannotesError

    if path.suffix != suffix:
        raise GannotesError(f"--out must end in {suffix}, got {path}")


def _encoder_for(args, space):
    """The encoder of --encoder (read, or trained and saved), or one trained now."""
    import io

    import torch

    from .checkpoint import GannotesError, atomic_write_bytes
    from .inversion import Encoder, train_encoder

    if args.method == "optimise":
        return None
    path = args.encoder
    if path is not None and path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            enc = Encoder(tuple(state["shape"]))
            enc.load_state_dict(state["encoder"])
        except Exception:
            raise GannotesError(f"{path} is not an encoder file written by invert") from None
        if tuple(state["shape"]) != space.shape:
            raise GannotesError(
                f"{path} encodes latents {list(state['shape'])}; the {space.space} space of this "
                f"generator has {list(space.shape)}"
            )
        return enc.eval()
    if path is not None and path.suffix != ".pt":
        raise GannotesError(f"--encoder must end in .pt, got {path}")
    enc, seconds = train_encoder(space, seed=args.seed)
    print(f"trained an encoder for {space.space} in {seconds:.0f} s", file=sys.stderr)
    if path is not None:
        buf = io.BytesIO()
        torch.save({"shape": list(space.shape), "encoder": enc.state_dict()}, buf)
        atomic_write_bytes(path, buf.getvalue())
    return enc


def _invert_images(args, family, images):
    from .inversion import invert, latent_space

    space = latent_space(family, args.space)  # a wrong family or space: one line, first
    encoder = _encoder_for(args, space)
    return invert(family, images, args.method, space.space, args.steps, args.seed, encoder=encoder)


def _invert(args) -> int:
    import json

    import numpy as np

    from .inversion import reconstruction_report
    from .training import load_family

    _check_out(args.out)
    if args.latents is not None:
        _check_out(args.latents)
    family = load_family(args.run)
    from .inversion import latent_space

    latent_space(family, args.space)
    images = _load_images(args.images)
    inv = _invert_images(args, family, images)
    report = reconstruction_report(images, inv, family)
    _save_npy(args.out, inv.images.numpy().astype(np.float32))
    if args.latents is not None:
        _save_npy(args.latents, inv.latents.numpy().astype(np.float32))
    print(json.dumps({"n": len(images), **report, "out": str(args.out)}))
    return 0


def _edit(args) -> int:
    import json

    import numpy as np

    from .checkpoint import GannotesError
    from .editing import classify, edit_toward
    from .inversion import latent_space
    from .training import load_family

    _check_out(args.out)
    if not 0 <= args.toward < 10:
        raise GannotesError(f"--toward must be a class in 0-9, got {args.toward}")
    if (args.images is None) == (args.n is None):
        raise GannotesError("give --n N (edit N samples) or --images IN.npy (edit real images)")
    family = load_family(args.run)
    space = latent_space(family, args.space)
    noise = None
    if args.images is not None:
        inv = _invert_images(args, family, _load_images(args.images))
        latents = inv.latents
    else:
        inputs = family.latent(args.n, __import__("torch").Generator().manual_seed(args.seed))
        z, *noise = inputs if isinstance(inputs, tuple) else (inputs,)
        latents = space.from_z(z)
    edited = edit_toward(space, latents, args.toward, strength=args.strength)
    x = space.render(edited, noise or None)
    before = classify(space.render(latents, noise or None)).argmax(1)
    after = classify(x).argmax(1)
    _save_npy(args.out, x.numpy().astype(np.float32))
    info = {
        "n": len(x),
        "toward": args.toward,
        "strength": args.strength,
        "space": space.space,
        "of_class_before": float((before == args.toward).float().mean()),
        "of_class_after": float((after == args.toward).float().mean()),
        "out": str(args.out),
    }
    print(json.dumps(info))
    return 0


def _dissect(args) -> int:
    import json

    import torch

    from .dissection import ablated, class_share, dissect, layer_channels, save_units
    from .training import load_family

    _check_out(args.out, ".json")
    family = load_family(args.run)
    from .dissection import default_layer

    layer = args.layer if args.layer is not None else default_layer(family)
    channels = layer_channels(family, layer)
    result = dissect(family, args.cls, layer=layer, top=args.top, seed=args.seed)
    top = len(result["units"])
    n = 2000
    before = class_share(family, args.cls, n, seed=args.seed + 1)
    with ablated(family, layer, result["units"], to=result["to"]):
        after = class_share(family, args.cls, n, seed=args.seed + 1)
    others = torch.randperm(channels, generator=torch.Generator().manual_seed(args.seed))[:top]
    with ablated(family, layer, others.tolist(), to=result["to"]):
        control = class_share(family, args.cls, n, seed=args.seed + 1)
    result["measured"] = {
        "samples": n,
        "share": before,
        "share_units_off": after,
        "random_units": sorted(int(u) for u in others),
        "share_random_units_off": control,
    }
    save_units(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "alpha"} | {"out": str(args.out)}))
    return 0


def _stylegan(family, run: Path, what: str):
    """``family`` if it is a StyleGAN, else a one-line error naming ``what`` needs one."""
    from .checkpoint import GannotesError

    if family.name != "stylegan":
        raise GannotesError(
            f"{what} needs a stylegan run; {run} holds a {family.config.model} run of the "
            f"{family.name} family, which is not a StyleGAN"
        )
    return family


def _check_psi(psi: float) -> None:
    import math

    from .checkpoint import GannotesError

    if not (math.isfinite(psi) and 0 <= psi <= 1):
        raise GannotesError(f"--truncation must be a number in [0, 1] (1: none), got {psi:g}")


def _mix(args) -> int:
    import json

    import numpy as np

    from .checkpoint import GannotesError
    from .gans.stylegan import crossover_layers
    from .training import load_family

    if args.out.suffix != ".npy":
        raise GannotesError(f"--out must end in .npy, got {args.out}")
    _check_psi(args.truncation)
    family = _stylegan(load_family(args.run), args.run, "mix")
    num_ws = family.model_cfg.num_ws
    try:
        k = family.crossover(args.crossover)
    except ValueError as exc:
        raise GannotesError(f"--crossover: {exc}") from None
    x = family.mix(args.coarse_seed, args.fine_seed, k, n=args.n, psi=args.truncation)
    _save_npy(args.out, x.numpy().astype(np.float32))
    names = crossover_layers(family.model_cfg.layers)
    info = {
        "style_layers": num_ws,
        "coarse": list(range(names["coarse"])),
        "middle": list(range(names["coarse"], names["middle"])),
        "fine": list(range(names["middle"], num_ws)),
        "crossover": k,
        "from_coarse_seed": list(range(k)),
        "from_fine_seed": list(range(k, num_ws)),
        "n": args.n,
        "out": str(args.out),
    }
    print(json.dumps(info))
    return 0


def _export(args) -> int:
    import hashlib

    from .checkpoint import GannotesError, export_weights, load_checkpoint, save_checkpoint
    from .training import load_family

    if args.out.suffix != ".pt":
        raise GannotesError(f"--out must end in .pt, got {args.out}")
    state = load_checkpoint(args.run)
    save_checkpoint(args.out, export_weights(state))
    load_family(args.out)  # it reads back as the same family
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    size = args.out.stat().st_size / 2**20
    print(f"wrote {args.out} ({size:.1f} MB, sha256 {digest}), step {state['step']}")
    return 0


def _translate(args) -> int:
    import numpy as np

    from .checkpoint import GannotesError
    from .training import load_family

    if args.out.suffix != ".npy":
        raise GannotesError(f"--out must end in .npy, got {args.out}")
    family = load_family(args.run)
    if not family.directions:
        raise GannotesError(
            f"{args.run} holds a {family.config.model} run, which generates images but does "
            "not translate them; translate needs a pix2pix or cyclegan run"
        )
    if args.direction not in family.directions:
        raise GannotesError(
            f"a {family.name} run translates {' and '.join(family.directions)} only, not "
            f"--direction {args.direction} (train cyclegan for both ways)"
        )
    x = _load_samples(args.input)
    try:
        out = family.translate(x, seed=args.seed, direction=args.direction)
    except ValueError as exc:
        raise GannotesError(f"{args.input}: {exc}") from None
    out = out.numpy().astype(np.float32)
    _save_npy(args.out, out)
    print(f"wrote {len(out)} translations {list(out.shape)} to {args.out}")
    return 0


def _critic(args) -> int:
    import json
    import os

    import numpy as np
    import torch

    from .checkpoint import GannotesError
    from .models import IMAGE_SHAPE
    from .wasserstein import train_critic

    sets = []
    for name, path in (("A", args.a), ("B", args.b)):
        x = _load_samples(path)
        if x.ndim < 2 or tuple(x.shape[1:]) not in ((2,), IMAGE_SHAPE):
            raise GannotesError(
                f"{path}: expected points [N, 2] or images [N, 1, 28, 28], got {list(x.shape)}"
            )
        if len(x) < 2:
            raise GannotesError(f"{path}: set {name} needs at least 2 samples, got {len(x)}")
        if not np.isfinite(x).all():
            raise GannotesError(f"{path}: set {name} holds NaN or infinite values")
        if x.ndim == 4 and (x.min() < -1 - 1e-4 or x.max() > 1 + 1e-4):
            raise GannotesError(
                f"{path}: images must lie in [-1, 1] (as `sample` writes them), "
                f"got values in [{x.min():.3g}, {x.max():.3g}]"
            )
        sets.append(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    a, b = sets
    if a.shape[1:] != b.shape[1:]:
        raise GannotesError(
            f"A holds samples {list(a.shape[1:])} but B holds {list(b.shape[1:])}: compare like "
            "with like"
        )
    if a.ndim == 2 and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)  # a small MLP: threads cost more than they give
    result = train_critic(a, b, args.method, steps=args.steps, seed=args.seed)
    print(json.dumps({**result.as_dict(), "n_a": len(a), "n_b": len(b)}))
    return 0


def _edges(args) -> int:
    import numpy as np

    from .checkpoint import GannotesError
    from .edges import EDGE_THRESHOLD, edge_map
    from .models import IMAGE_SHAPE

    x = _load_samples(args.images)
    if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE or len(x) == 0:
        raise GannotesError(
            f"{args.images}: expected images [N, 1, 28, 28] (N >= 1), got {list(x.shape)}"
        )
    threshold = EDGE_THRESHOLD if args.threshold is None else args.threshold
    edges = edge_map(np.ascontiguousarray(x, dtype=np.float32), threshold).numpy()
    _save_npy(args.out, edges)
    print(f"wrote {len(edges)} edge maps {list(edges.shape)} to {args.out}")
    return 0


def _bench(args) -> int:
    import itertools
    import json

    from .bench import BenchConfig, bench, profile_step, table, trainer_for
    from .checkpoint import GannotesError, write_json
    from .training import select_device

    device = str(select_device(args.device))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise GannotesError(f"--device {args.device}: CUDA is not available here")
    layouts = (False, True) if args.channels_last else (False,)
    compiles = (False, True) if args.compile else (False,)
    configs = [
        BenchConfig(
            model=m,
            precision=p,
            channels_last=cl,
            compile=c,
            device=device,
            batch_size=b,
            threads=t,
            steps=args.steps,
        )
        for m, b, t, p, cl, c in itertools.product(
            args.family,
            args.batch_size or [None],
            args.threads or [None],
            args.precision,
            layouts,
            compiles,
        )
    ]
    print(f"timing {len(configs)} configuration(s) on {device}, {args.steps} steps each...",
          file=sys.stderr)  # fmt: skip
    out = bench(configs)
    m = out["machine"]
    gpus = f"; GPU {', '.join(m['gpus'])}" if m["gpus"] else ""
    print(
        f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores usable, torch {m['torch']} "
        f"(bf16 native on this CPU: {'yes' if m['cpu_bf16_native'] else 'no'}){gpus}"
    )
    print(table(out["results"]))
    if args.profile:
        import torch

        if configs[0].threads:
            torch.set_num_threads(configs[0].threads)
        prof = profile_step(trainer_for(configs[0]))
        out["profile"] = prof
        split = ", ".join(f"{k} {v:.0%}" for k, v in prof["split"].items())
        print(f"\nprofile of one {configs[0].label()} step ({prof['ms_per_step']:.1f} ms): {split}")
        for op in prof["ops"]:
            print(f"  {op['op'][:48]:48} {op['kind']:9} {op['self_ms_per_step']:8.2f} ms "
                  f"{op['share']:6.1%}")  # fmt: skip
    if args.json is not None:
        write_json(args.json, out)
    print(json.dumps(out))
    failed = [r["label"] for r in out["results"] if "error" in r]
    return 1 if failed and len(failed) == len(out["results"]) else 0


def _watermark(args) -> int:
    import json

    from . import watermark
    from .checkpoint import GannotesError

    watermark.key_seed(args.key)  # an empty key: one line, before reading anything
    x = _load_samples(args.images)
    if x.ndim != 4:
        raise GannotesError(f"{args.images} must hold images [N, C, H, W], got {list(x.shape)}")
    if x.dtype == "uint8":  # 8-bit images: 0..255 -> [-1, 1]
        x = x / 127.5 - 1
    elif x.size and (x.min() < -1.5 or x.max() > 1.5):
        raise GannotesError(
            f"{args.images} must hold images in [-1, 1] (or uint8 0-255), got values in "
            f"[{x.min():.3g}, {x.max():.3g}]"
        )
    if args.action == "embed":
        if args.out.suffix != ".npy":
            raise GannotesError(f"--out must end in .npy, got {args.out}")
        marked = watermark.embed(x.astype("float32"), args.key)
        _save_npy(args.out, marked.numpy())
        low = float(watermark.psnr(marked, x.astype("float32")).min())
        print(f"wrote {len(marked)} watermarked images to {args.out} (PSNR >= {low:.1f} dB)")
        return 0
    fpr = watermark.DEFAULT_FPR if args.fpr is None else args.fpr
    print(json.dumps(watermark.detect(x.astype("float32"), args.key, fpr=fpr).summary()))
    return 0


def _card(args) -> int:
    from .card import model_card
    from .checkpoint import atomic_write_text

    text = model_card(args.run, n=args.n)
    if args.out is None:
        print(text)
    else:
        atomic_write_text(args.out, text)
        print(f"wrote the model card of {args.run} to {args.out}")
    return 0


def _anomaly(args) -> int:
    import numpy as np

    from . import anomaly
    from .checkpoint import GannotesError

    method = anomaly.DEFAULT_METHOD if args.method is None else args.method
    if method not in anomaly.METHODS:
        raise GannotesError(f"unknown --method {method!r}; valid: {', '.join(anomaly.METHODS)}")
    if args.images is None and not args.fit:
        raise GannotesError("give IMAGES.npy to score (or --fit to train the encoder only)")
    if args.images is not None:
        if args.out is None or args.out.suffix != ".npy":
            raise GannotesError(f"--out must end in .npy, got {args.out}")
        x = anomaly.check_images(_load_samples(args.images))
    if args.encoder is not None and args.encoder.suffix != ".pt":
        raise GannotesError(f"--encoder must end in .pt, got {args.encoder}")
    need_encoder = method in ("combined", "fanogan")
    det = anomaly.load_detectors(
        args.run,
        encoder=args.encoder,
        fit=args.fit,
        need_encoder=need_encoder,
        encoder_steps=args.encoder_steps or anomaly.ENCODER_STEPS,
    )
    if args.images is None:
        return 0
    if method == "autoencoder":
        cost = det.fit_autoencoder()
        print(
            f"autoencoder: trained {cost['steps']} steps of {cost['batch']} images (the GAN's) "
            f"in {cost['cpu_seconds']:.1f} CPU-s"
        )
    scores = det.score(x, method).astype(np.float32)
    _save_npy(args.out, scores)
    print(
        f"wrote {len(scores)} {method} scores (higher = more anomalous; median "
        f"{float(np.median(scores)):.4g}) to {args.out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gannotes`` and the ``gannotes`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from .checkpoint import GannotesError

    try:
        commands = {
            "train": _train,
            "sample": _sample,
            "evaluate": _evaluate,
            "critic": _critic,
            "edges": _edges,
            "translate": _translate,
            "export": _export,
            "mix": _mix,
            "bench": _bench,
            "watermark": _watermark,
            "card": _card,
            "invert": _invert,
            "edit": _edit,
            "dissect": _dissect,
            "anomaly": _anomaly,
        }
        return commands[args.command](args)
    except (GannotesError, ValueError, FileNotFoundError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gannotes {args.command}: error: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file the command reads or writes: the system's reason, one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"gannotes {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gannotes {args.command}: interrupted", file=sys.stderr)
        return 130
