"""Notebook 02's experiments on the 2-D toy sets, as functions: a scored toy run and the
knobs of each variant compared (the classic tricks, pitfall 6a's high learning rate), and how
much D swings late in a run.

``notebooks/02_training_process.ipynb`` runs them at a small budget and
``benchmarks/training_process.py`` at the recorded one (2,000 steps, seeds 0-2), so the two
compare the same runs. Each variant is a dict of knobs laid over the plain GAN (every trick
off, ``gannotes.config.trick_defaults``); the score is VEEGAN's mode coverage
(gannotes.metrics.mode_coverage).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .metrics import mode_coverage
from .training import Trainer, default_config

__all__ = ["high_lr_variants", "late_swing", "toy_run", "toy_trick_variants"]


def toy_run(
    dataset: str, steps: int, seed: int = 0, *, n_samples: int = 2500, **overrides: Any
) -> tuple[Trainer, dict[str, float]]:
    """Train the MLP GAN on a 2-D toy set for ``steps`` steps (on the CPU) and score it.

    ``overrides`` are knobs on top of ``default_config("mlp", dataset)``. The score is the mode
    coverage of ``n_samples`` samples (VEEGAN's protocol: modes with a sample within 3 std,
    and the fraction of such high-quality samples). Returns the trainer and
    ``{"modes": ..., "high_quality": ...}``.
    """
    trainer = Trainer(default_config("mlp", dataset, seed=seed, **overrides), device="cpu")
    trainer.run(steps=steps, progress=False)
    mc = mode_coverage(trainer.sample(n_samples, seed=seed), dataset)
    return trainer, {"modes": int(mc.modes), "high_quality": round(float(mc.high_quality), 3)}


def toy_trick_variants(dataset: str, steps: int) -> dict[str, dict[str, Any]]:
    """Notebook 02's comparison of the classic tricks (and ``benchmarks/training_process.py``'s):
    name -> the knobs that switch one trick on, to be laid over the plain GAN (every trick off,
    ``gannotes.config.trick_defaults``). ``steps`` is the run's budget (instance noise anneals to
    0 over it, and top-k's fraction falls from 1 to 0.5 over it); TTUR doubles D's learning
    rate of ``default_config("mlp", dataset)`` and halves G's."""
    base = default_config("mlp", dataset)
    return {
        "plain": {},
        "label smoothing 0.1": dict(label_smoothing=0.1),
        "label noise 0.05": dict(label_noise=0.05),
        "instance noise 0.1": dict(instance_noise=0.1, instance_noise_steps=steps),
        "grad clip 1.0": dict(grad_clip=1.0),
        "augment jitter": dict(augment="jitter"),
        "minibatch std": dict(minibatch_std=True),
        "pack 2": dict(pack=2),
        "pack 4": dict(pack=4),
        "TTUR (lr_d 2x, lr_g 1/2x)": dict(lr_d=2 * base.lr_d, lr_g=base.lr_g / 2),
        "RMSprop": dict(optimizer="rmsprop"),
        "EMA 0.99": dict(ema=0.99),
        "spectral norm": dict(spectral_norm=True),
        "R1 penalty 3": dict(r1=3.0),
        "top-k 0.5": dict(top_k=0.5, top_k_steps=steps),
    }


def high_lr_variants(lr: float = 1e-2) -> dict[str, dict[str, Any]]:
    """Notebook 02's pitfall 6a: one learning rate ``lr`` for both networks, then the same with
    spectral normalisation of D, then with G's learning rate 10x lower (TTUR). Name -> knobs,
    to be laid over the plain GAN."""
    return {
        f"lr {lr:g} for both": dict(lr_d=lr, lr_g=lr),
        "... + spectral norm": dict(lr_d=lr, lr_g=lr, spectral_norm=True),
        "... + TTUR (lr_g 10x lower)": dict(lr_d=lr, lr_g=lr / 10),
    }


def late_swing(history: dict[str, list]) -> dict[str, float]:
    """How much D(x) and D's loss swing over the second half of a run's ``history``: their
    standard deviations, and the mean of D(x) (0.5 with no swing means D stopped learning)."""
    half = len(history["d_real"]) // 2
    d_real, loss_d = history["d_real"][half:], history["loss_d"][half:]
    return {
        "d_real_std_second_half": round(float(np.std(d_real)), 4),
        "d_real_mean_second_half": round(float(np.mean(d_real)), 4),
        "loss_d_std_second_half": round(float(np.std(loss_d)), 4),
    }
