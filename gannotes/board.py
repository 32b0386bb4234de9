"""TensorBoard for a training run: a Trainer callback that writes its curves, samples and weights.

    python -m gannotes train dcgan --dataset fashion-mnist --out runs/dcgan --minutes 3 \\
        --tensorboard runs/tb
    tensorboard --logdir runs/tb      # one subfolder per run: several runs in one board

From Python (a notebook: ``%load_ext tensorboard`` then ``%tensorboard --logdir runs/tb``)::

    trainer = Trainer(default_config("dcgan", "fashion-mnist"), "runs/dcgan")
    with TensorBoardCallback(trainer, "runs/tb") as board:
        trainer.run(minutes=3, callback=board)

What is written, and when (``step`` is the generator step of the Trainer):

* **scalars, at every history row** (every ``log_every`` steps; each value is the row's mean
  over the steps since the last row): the losses (``loss/d``, ``loss/g``, ...), the
  discriminator's mean output on real and generated data (``D/D(x)``, ``D/D(G(z))``: a
  probability for the logistic objectives, a raw score for the others), the gradient norms
  (``grad_norm/g``, ``grad_norm/d``), every other statistic the family's step returns
  (``train/r1``, ``train/l1``, ...), images per second, and each optimizer's current learning
  rate (``lr/G``, ``lr/D``: the schedule's decay shows here);
* **every ``every`` steps** (at the first row at or after each multiple of it): a cheap quality
  curve (``quality/fid``: the Frechet distance in the course's feature space between
  ``n_quality`` samples of a fixed seed and the held-out test images of the classes trained on;
  on the 2-D toy sets ``quality/modes`` and ``quality/high_quality``), the sampler on the
  run's fixed inputs as an image grid (``samples/fixed``: the same inputs every time, so the
  grid shows G changing, not the noise), and a histogram of each trained network's weights
  (``weights/G/<parameter>``).

The board never changes what is learned: its sampling runs on a copy of the random state.
A resumed run continues its curves: the writer tells TensorBoard to drop any event of an
earlier session at a step after the checkpoint (``purge_step``), so a run that stopped after its
last checkpoint has no step twice. ``tensorboard`` is an optional extra
(``pip install -e ".[tensorboard]"``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .checkpoint import GannotesError

__all__ = ["DEFAULT_EVERY", "TensorBoardCallback", "require_tensorboard", "scalar_tag"]

DEFAULT_EVERY = 200  # steps between quality points, sample grids and weight histograms
INSTALL_HINT = 'pip install -e ".[tensorboard]" (or pip install tensorboard)'


def require_tensorboard() -> None:
    """Raise GannotesError (one line: how to get it) unless the tensorboard package imports."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise GannotesError(
            f"--tensorboard needs the tensorboard package: {INSTALL_HINT}"
        ) from None


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a history statistic: ``loss_d`` -> ``loss/d``, ``d_real`` ->
    ``D/D(x)``, ``grad_norm_g`` -> ``grad_norm/g``, ``r1`` -> ``train/r1``."""
    if key == "d_real":
        return "D/D(x)"
    if key == "d_fake":
        return "D/D(G(z))"
    for prefix in ("loss", "grad_norm"):
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key[len(prefix) + 1 :]}"
    if key == "images_per_s":
        return "speed/images_per_s"
    return f"train/{key}"


class TensorBoardCallback:
    """``trainer.run(..., callback=TensorBoardCallback(trainer, log_dir))``: see the module.

    Args:
        trainer: the run (made or resumed before the callback: a resumed run continues its
            curves from ``trainer.step``).
        log_dir: the board's directory; this run writes into ``log_dir/name``.
        name: the run's name in the board (default: the run directory's name, else
            ``model-dataset-seedN``).
        every: steps between quality points, sample grids and weight histograms.
        n_quality: samples the quality curve is computed on (0: no quality curve).
        flush_secs: how often the event file is flushed (a board open beside the run shows
            the new points after at most this long).
    """

    def __init__(
        self,
        trainer: Any,
        log_dir: str | Path,
        *,
        name: str | None = None,
        every: int = DEFAULT_EVERY,
        n_quality: int = 500,
        flush_secs: int = 10,
    ):
        if not (isinstance(every, int) and every >= 1):
            raise ValueError(f"every must be a positive number of steps, got {every!r}")
        if not (isinstance(n_quality, int) and n_quality >= 0):
            raise ValueError(f"n_quality must be an integer >= 0, got {n_quality!r}")
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        cfg = trainer.config
        if name is None:
            out = getattr(trainer, "out_dir", None)
            name = out.name if out is not None else f"{cfg.model}-{cfg.dataset}-seed{cfg.seed}"
        self.every = every
        self.n_quality = n_quality
        self.run_dir = Path(log_dir) / name
        self._reference = None  # the quality curve's reference features (computed once)
        # Events of an earlier session after the step this run resumes from are dropped by
        # TensorBoard's reader: those steps are trained (and written) again.
        self.writer = SummaryWriter(
            str(self.run_dir), purge_step=trainer.step + 1, flush_secs=flush_secs
        )

    # ------------------------------------------------------------------ the callback
    def __call__(self, trainer: Any, row: dict[str, float]) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key in ("step", "seconds"):
                continue
            self.writer.add_scalar(scalar_tag(key), value, step)
        for name, opt in trainer.optimizers.items():
            self.writer.add_scalar(f"lr/{name}", opt.param_groups[0]["lr"], step)
        # The heavy items at the first row at or after each multiple of `every` (rows come
        # every log_every steps): a rule of the step alone, so a resumed run keeps it.
        if step % self.every < trainer.config.log_every:
            self.write_heavy(trainer, step)

    def write_heavy(self, trainer: Any, step: int) -> None:
        """The quality point, the fixed-input sample grid and the weight histograms at ``step``
        (on a copy of the random state: the run's training is unchanged)."""
        devices = [trainer.device] if trainer.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            for tag, value in self.quality(trainer).items():
                self.writer.add_scalar(tag, value, step)
            self._samples(trainer, step)
        for net_name, net in trainer.networks.items():
            if net_name.endswith("_ema"):
                continue  # the trained networks, not their EMA copies
            for param_name, p in net.named_parameters():
                self.writer.add_histogram(
                    f"weights/{net_name}/{param_name}", p.detach().float().cpu(), step
                )

    def quality(self, trainer: Any) -> dict[str, float]:
        """The cheap quality curve's values now (empty where it does not apply)."""
        from .data import TOY_DATASETS

        cfg = trainer.config
        if self.n_quality == 0:
            return {}
        if cfg.dataset in TOY_DATASETS:
            from .metrics import mode_coverage

            cover = mode_coverage(trainer.sample(self.n_quality, seed=0), cfg.dataset)
            return {"quality/modes": float(cover.modes), "quality/high_quality": cover.high_quality}
        if cfg.dataset != "fashion-mnist":
            return {}  # translation sets: their quality is a matter of pairs (notebook 03)
        from .features import features
        from .metrics import frechet_distance

        if self._reference is None:
            self._reference = _reference_features(cfg.classes)
        fid = frechet_distance(features(trainer.sample(self.n_quality, seed=0)), self._reference)
        return {"quality/fid": fid} if math.isfinite(fid) else {}

    def _samples(self, trainer: Any, step: int) -> None:
        out = trainer.family.generate(trainer.fixed)
        if out.ndim == 4:  # images in [-1, 1]: one grid
            grid = ((out.clamp(-1, 1) + 1) / 2).float()
            self.writer.add_images("samples/fixed", grid, step, dataformats="NCHW")
        else:  # 2-D points: a scatter plot
            from matplotlib.figure import Figure

            fig = Figure(figsize=(3, 3))
            ax = fig.add_subplot()
            ax.scatter(out[:, 0].numpy(), out[:, 1].numpy(), s=4)
            ax.set_title(f"step {step}")
            self.writer.add_figure("samples/fixed", fig, step)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Write what is pending and close the event file."""
        self.writer.close()

    def __enter__(self) -> TensorBoardCallback:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _reference_features(classes: tuple[int, ...] | None):
    """Course features of the shipped held-out test images (gannotes.evaluation), of
    ``classes`` only when the run trains on a subset."""
    from .data import load_fashion_mnist
    from .evaluation import reference_features

    feats = reference_features()[0]
    if not classes:
        return feats
    labels = load_fashion_mnist("test", subset=True).labels.numpy()
    keep = torch.isin(torch.from_numpy(labels), torch.tensor(classes)).numpy()
    return feats[keep]
