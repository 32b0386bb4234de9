"""Model cards: what a trained run is, how it was made, and how well it does, measured.

A model card (Mitchell et al. 2019, "Model Cards for Model Reporting") travels with a model and
tells its next user what it was trained on, how, how it was evaluated, what it is for and what it
must not be used for. ``python -m gannotes card RUN`` writes one for any run of the course, in
Markdown, and fills every number by measuring the run when the card is written:

* **Model details**: the family and model, steps and minutes trained, the command, the machine
  (from the run's ``run.json``, which ``train`` writes), the checkpoint's sha256, the config.
* **Training data**: the data set, its source on this machine, its licence and citation, how many
  images the run used.
* **Measured quality**: :func:`gannotes.evaluation.evaluate_images` of ``n`` samples (FID, KID,
  precision, density, recall, coverage, classes covered) beside the course's quality gate where
  the model has one; for the 2-D toy sets, the modes covered and the high-quality fraction.
* **Memorisation audit**: :func:`gannotes.privacy.memorisation_audit`, each sample's distance to
  its nearest training image against held-out images' (a copy is flagged).
* **Intended use, limitations, watermark status**: the watermark is measured too (marked and
  unmarked samples of this run through :mod:`gannotes.watermark`'s detector).

Nothing is a placeholder: a field the run did not record (a run trained through the Python API
has no command) says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["RUN_RECORD", "model_card", "run_record"]

RUN_RECORD = "run.json"

_FASHION_MNIST = (
    "Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf, *Fashion-MNIST: a Novel Image Dataset for "
    "Benchmarking Machine Learning Algorithms*, 2017, arXiv:1708.07747): 28x28 grayscale images "
    "of 10 classes of Zalando articles. Licence: MIT, Copyright (c) 2017 Zalando SE "
    "(`data/LICENSE-fashion-mnist`)."
)


def run_record(run: str | Path) -> dict[str, Any] | None:
    """The training sessions ``train`` recorded beside a run's checkpoint, or None."""
    run = Path(run)
    path = (run if run.is_dir() else run.parent) / RUN_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("sessions") else None


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows]
    return "\n".join(lines)


def _config_rows(config) -> str:
    """The settings that differ from the course's recipe for this model and data (the flags
    the run was given, or what they switched on), then every setting."""
    from .training import default_config

    try:
        recipe = default_config(config.model, config.dataset, seed=config.seed)
    except (ValueError, TypeError):  # a config no recipe makes: compare with the class defaults
        recipe = type(config)()
    changed = [
        f"`{f.name}={getattr(config, f.name)!r}`"
        for f in fields(config)
        if getattr(config, f.name) != getattr(recipe, f.name, None)
    ]
    every = ", ".join(f"`{f.name}={getattr(config, f.name)!r}`" for f in fields(config))
    return (
        "Differs from the course's recipe for this model and data "
        f"(`gannotes.training.default_config`): {', '.join(changed) or 'nothing'}.\n\n"
        f"<details><summary>Every setting</summary>\n\n{every}\n\n</details>"
    )


def _quality(family, n: int) -> tuple[str, torch.Tensor | None]:
    """The measured-quality section and the images it measured (None for points)."""
    from .data import IMAGE_DATASETS, TOY_DATASETS, dataset_tensors

    cfg = family.config
    if cfg.dataset in TOY_DATASETS:
        from .metrics import mode_coverage

        mc = mode_coverage(family.sample(n, seed=0).numpy(), cfg.dataset)
        rows = [
            ("Modes covered", f"{mc.modes} of {len(mc.histogram)}"),
            ("High-quality fraction", f"{mc.high_quality:.3f}"),
            ("Samples", n),
        ]
        return "Measured on samples of the generator (seed 0).\n\n" + _table(rows), None
    assert cfg.dataset in IMAGE_DATASETS
    from .evaluation import evaluate_images
    from .quality import QUALITY_GATES, gate_failures

    if getattr(family, "directions", None):
        test, _ = dataset_tensors(cfg.dataset, "test")
        inputs = test["a"][:n]
        images = family.translate(inputs, seed=0)
        how = (
            f"Measured on the translations of {len(images)} held-out inputs (domain a of the "
            f"{cfg.dataset} test split) against the 2,000 held-out test images."
        )
        if cfg.dataset == "sneaker2boot":  # one class into another: FID against all ten is moot
            from .data import ANKLE_BOOT, CLASSES, SNEAKER
            from .features import class_probabilities

            predicted = class_probabilities(images).argmax(1)
            rows = [
                ("Held-out Sneakers translated", len(images)),
                (
                    f"Classified as {CLASSES[ANKLE_BOOT]} (the goal)",
                    f"{(predicted == ANKLE_BOOT).mean():.1%}",
                ),
                (f"Still classified as {CLASSES[SNEAKER]}", f"{(predicted == SNEAKER).mean():.1%}"),
            ]
            text = (
                f"Measured on the translations (a to b) of {len(images)} held-out Sneakers, "
                "judged by the course's classifier (gannotes.features): a translation succeeds "
                "when it is classified as the other class. (Notebook 04 also measures whether "
                "it keeps the input's pose.)\n\n" + _table(rows)
            )
            return text, images
    else:
        images = family.sample(n, seed=0)
        how = f"Measured on {n} samples (seed 0) against the 2,000 held-out test images."
    r = evaluate_images(images)
    rows = [
        ("FID (course feature network; lower is better)", f"{r['fid']:.1f}"),
        ("KID", f"{r['kid']:.4f} +- {r['kid_std']:.4f}"),
        ("Precision (fidelity)", f"{r['precision']:.3f}"),
        ("Density (fidelity, not fooled by outliers)", f"{r['density']:.3f}"),
        ("Recall (diversity)", f"{r['recall']:.3f}"),
        ("Coverage (diversity, not fooled by outliers)", f"{r['coverage']:.3f}"),
        ("Classes covered (>= 2% of samples)", f"{r['classes_covered']} of 10"),
        ("Samples per class", " ".join(map(str, r["class_histogram"]))),
    ]
    gate = QUALITY_GATES.get(cfg.model) if not getattr(family, "directions", None) else None
    if gate is not None:
        failed = gate_failures(r, gate)
        verdict = "passes" if not failed else "fails (" + "; ".join(failed) + ")"
        rows.append((f"The course's {cfg.model} quality gate", verdict))
    text = (
        f"{how} The features are the course's Fashion-MNIST network (gannotes.features), not "
        "Inception: the numbers compare runs of this course, not papers. Read them together: "
        "precision and density ask whether the samples land among real images, recall and "
        "coverage whether they reach all of them, and FID compares the two sets' feature "
        "statistics (mean and covariance), so it rises with either failure (notebook 07)."
        "\n\n" + _table(rows)
    )
    return text, images


def _audit(family, images: torch.Tensor) -> str:
    from .data import dataset_tensors, load_fashion_mnist
    from .privacy import memorisation_audit

    train, _ = dataset_tensors(family.config.dataset, "train", limit=family.config.data_limit)
    heldout = torch.as_tensor(load_fashion_mnist("test", subset=True).images)
    a = memorisation_audit(images, train["images"], heldout)
    rows = [
        ("Training images searched", f"{len(train['images']):,}"),
        ("Median distance, sample to its nearest training image", f"{np.median(a.distances):.2f}"),
        (
            "Median distance, held-out real image to its nearest training image",
            f"{np.median(a.heldout_distances):.2f}",
        ),
        (
            f"Copy threshold (the held-out distances' {a.quantile:.0%} quantile)",
            f"{a.threshold:.2f}",
        ),
        (
            "Samples closer than that (flagged)",
            f"{len(a.flagged)} of {len(images)} ({a.fraction:.1%})",
        ),
    ]
    verdict = (
        "no sign of copying: about as many samples fall below the threshold as held-out images do"
        if a.fraction <= 3 * a.quantile
        else f"**{a.fraction / a.quantile:.0f} times as many samples as held-out images fall below "
        "the threshold: the generator reproduces training images**"
    )
    return (
        "Pixel distance (images in [-1, 1]) from each sample to its nearest training image, "
        f"against the same distance for {len(heldout):,} held-out real images "
        "(gannotes.privacy.memorisation_audit). By construction about "
        f"{a.quantile:.0%} of fresh images fall below the threshold. Verdict: {verdict}. This "
        "finds near-copies only; membership inference detects subtler leakage (notebook 09).\n\n"
        + _table(rows)
    )


def _watermark(family, images: torch.Tensor | None) -> str:
    import math

    from . import watermark as wm

    if images is None:
        return (
            "Not applicable: the watermark (`sample --watermark KEY`) marks images; this run "
            "makes points."
        )
    floor = 10 * math.log10(4 / wm.STRENGTH**2)
    some = images[:500]
    marked = wm.detect(wm.embed(some, "model-card"), "model-card")
    plain = wm.detect(some, "model-card")
    return (
        "`python -m gannotes sample` adds no watermark unless it is given `--watermark KEY`; "
        "with it each sample carries an invisible keyed mark (PSNR >= "
        f"{floor:.1f} dB) that `python -m gannotes watermark detect FILE.npy --key KEY` finds at "
        f"a false-positive rate of at most {wm.DEFAULT_FPR:g} per image. It survives 8-bit "
        "quantisation and mild noise; blurring, cropping or a key holder can remove it. (A mark "
        "the generator learned from marked training data is another matter: notebook 09.)"
        f"\n\nMeasured on {len(some)} samples of this run: {marked.fraction:.1%} of marked "
        f"samples detected, {plain.fraction:.1%} of unmarked ones (bound {wm.DEFAULT_FPR:g})."
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


MIN_SAMPLES = 50  # fewer samples than this make KID's subsets and the k-NN metrics meaningless


def _record_note(sessions: list[dict], step: Any) -> str:
    """What the record cannot vouch for: steps trained before it began, or a record that ends
    at another step than the checkpoint (a run.json that belongs to another run)."""
    notes = []
    if sessions and sessions[0].get("from_step", 0):
        notes.append(f"steps 0-{sessions[0]['from_step']:,} were trained without a record")
    if sessions and isinstance(step, int) and sessions[-1].get("to_step") != step:
        notes.append(
            f"the record ends at step {sessions[-1].get('to_step')}, the checkpoint is at step "
            f"{step:,}: it may describe another run"
        )
    return f" (**{'; '.join(notes)}**)" if notes else ""


def model_card(run: str | Path, *, n: int = 2000) -> str:
    """The Markdown model card of a run directory or checkpoint file, measured now on ``n``
    samples (at least 50)."""
    from .checkpoint import find_checkpoint
    from .data import IMAGE_DATASETS
    from .training import load_family

    if isinstance(n, bool) or not isinstance(n, int) or n < MIN_SAMPLES:
        raise ValueError(f"a model card needs n >= {MIN_SAMPLES} samples to measure, got {n!r}")
    ckpt = find_checkpoint(run)
    family = load_family(ckpt)
    cfg = family.config
    images_run = cfg.dataset in IMAGE_DATASETS
    record = run_record(ckpt)
    sessions = record["sessions"] if record else []
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    step, elapsed = state.get("step", "?"), state.get("elapsed")
    quality, images = _quality(family, n)

    if sessions:
        last = sessions[-1]
        m = last.get("machine", {})
        commands = "<br>".join(f"`{s.get('command', '?')}`" for s in sessions)
        commands += _record_note(sessions, step)
        gpus = ", ".join(m.get("gpus", [])) or "none"
        hardware = (
            f"{m.get('cpu', '?')}, {m.get('usable_cores', '?')} usable cores, "
            f"{m.get('torch_threads', '?')} torch threads; GPUs: {gpus}; device "
            f"{last.get('device', '?')}; torch {m.get('torch', '?')}, Python {m.get('python', '?')}"
        )
        when = f"{sessions[0].get('started', '?')} to {last.get('finished', '?')}"
        source = f"Source on the training machine: {last.get('data', '?')}."
    else:
        commands = (
            f"not recorded (no {RUN_RECORD} beside the checkpoint: trained through the Python "
            "API, exported, or by a gannotes older than run records)"
        )
        hardware = when = "not recorded (see Command)"
        source = (
            f"**Not recorded** (no {RUN_RECORD}): the above is what the config says; a run given "
            "its own images through the Python API (a subset, edited images) is not described "
            "by it."
        )
    trained = f"{step:,} generator steps" if isinstance(step, int) else f"{step} steps"
    if elapsed is not None:
        trained += f" in {float(elapsed) / 60:.1f} minutes of training"

    details = _table(
        [
            ("Family / model", f"{family.name} / {cfg.model}"),
            ("Trained", trained),
            ("Command", commands),
            ("When (UTC)", when),
            ("Hardware", hardware),
            (
                "Checkpoint",
                f"`{ckpt}` ({ckpt.stat().st_size / 1e6:.1f} MB), sha256 `{_sha256(ckpt)}`",
            ),
        ]
    )
    if images_run:
        used = (
            f"the first {cfg.data_limit:,} training images"
            if cfg.data_limit
            else "every training image"
        )
        data = f"{_FASHION_MNIST}\n\nThis run: data set `{cfg.dataset}`, {used}. {source}"
        audit = _audit(family, images)
        use = (
            "Teaching and study of generative adversarial networks (the gannotes course): "
            "looking at what a GAN learns, measuring it, comparing training choices. Outputs are "
            "small grayscale pictures of garments, not photographs of people or real products."
        )
        limits = (
            "- Quality is measured with the course's own small feature network: numbers compare "
            "runs of this course only, and a low FID does not mean an image is free of artefacts.\n"
            "- The generator reproduces the imbalances of its data and can make them worse "
            "(truncation erases the minority classes: notebook 09); the class shares above show "
            "this run's.\n"
            "- A GAN can memorise: the audit above catches near-copies, not the leakage that "
            "membership inference finds through a discriminator (a GAN trained on few images "
            "exposes them: notebook 09).\n"
            "- Not for: passing generated images off as real, training data for decisions about "
            "people, or any claim about real products."
        )
    else:
        data = (
            f"The synthetic 2-D distribution `{cfg.dataset}` (gannotes.data): points drawn fresh "
            "for every batch; no personal or licensed data."
        )
        audit = "Not applicable: the training points are fresh draws of a synthetic distribution."
        use = (
            "Teaching (the gannotes course): watching a GAN learn a 2-D distribution and lose or "
            "keep its modes. Outputs are points in the plane."
        )
        limits = (
            "- The measurements above say how many of the distribution's modes the samples cover "
            "and how close they fall; they say nothing about any real data."
        )

    today = datetime.now(timezone.utc).date().isoformat()
    sections = [
        f"# Model card: {cfg.model} on {cfg.dataset}",
        f"Written by `python -m gannotes card` on {today}. Every number in it was measured when "
        "the card was written, on this checkpoint.",
        "## Model details",
        details,
        "### Configuration",
        _config_rows(cfg),
        "## Training data",
        data,
        "## Measured quality",
        quality,
        "## Memorisation audit",
        audit,
        "## Intended use",
        use,
        "## Limitations and risks",
        limits,
        "## Watermark",
        _watermark(family, images),
        "## Licence",
        "Code and weights: MIT (the gannotes licence). Training data: see above.",
    ]
    return "\n\n".join(sections) + "\n"
