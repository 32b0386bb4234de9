"""Shared pieces of the DCGAN benchmarks: recipes, interleaved throughput timing, scoring.

Two things are measured, separately, because the machine is shared and wall-clock is noisy:

* throughput (images/s): each recipe runs for a few seconds at a time, the recipes alternating
  A, B, A, B, ...; the median of the rounds is reported. Only training steps are timed, as
  Trainer.elapsed (the budget of ``--minutes``) does.
* quality at a fixed number of STEPS, which is deterministic and load-independent. A time budget
  becomes steps per recipe: steps = seconds * images/s / (batch_size * d_steps).
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import classifier  # noqa: E402
from tutorial_dcgan import TutorialRecipe  # noqa: E402

from gannotes.data import load_fashion_mnist  # noqa: E402
from gannotes.training import TrainConfig, Trainer, generate  # noqa: E402

_TRAIN: torch.Tensor | None = None


def train_images() -> torch.Tensor:
    global _TRAIN
    if _TRAIN is None:
        fm = load_fashion_mnist("train")
        assert len(fm) == 60000, f"need the full training split, got {len(fm)} from {fm.source}"
        _TRAIN = fm.images
    return _TRAIN


class OursRecipe:
    """gannotes' own Trainer with a TrainConfig; ``step()`` is Trainer.train_step()."""

    def __init__(self, name: str, seed: int = 0, **cfg):
        self.name = name
        model_config = cfg.pop("model_config", {})
        self.config = TrainConfig(
            model="dcgan", dataset="fashion-mnist", seed=seed, model_config=model_config, **cfg
        )
        self.trainer = Trainer(self.config, out_dir=None, device="cpu", data=train_images())
        self.images_per_step = self.config.batch_size * self.config.d_steps

    @property
    def G(self):
        return self.trainer.G

    def step(self):
        return self.trainer.train_step()


def make(spec: dict, seed: int = 0):
    """A recipe from a spec: {"name", "kind": "tutorial"|"ours", plus TrainConfig fields}."""
    spec = dict(spec)
    name, kind = spec.pop("name"), spec.pop("kind", "ours")
    if kind == "tutorial":
        r = TutorialRecipe(train_images(), seed=seed)
        r.name = name
        return r
    return OursRecipe(name, seed=seed, **spec)


def measure_throughput(specs: list[dict], rounds: int = 3, seconds: float = 4.0) -> dict:
    """Images/s of each recipe: ``rounds`` interleaved runs of ~``seconds`` CPU-s each; medians.

    Two clocks: ``images_per_s`` is images per second of this process's CPU time
    (time.process_time), which other jobs on a shared machine barely disturb when torch uses
    one thread; ``images_per_wall_s`` is images per wall-clock second, which they do.
    """
    recipes = [make(s) for s in specs]
    for r in recipes:  # warm-up
        for _ in range(3):
            r.step()
    cpu: dict[str, list[float]] = {r.name: [] for r in recipes}
    wall: dict[str, list[float]] = {r.name: [] for r in recipes}
    for _ in range(rounds):
        for r in recipes:
            n, c0, t0 = 0, time.process_time(), time.perf_counter()
            while (dc := time.process_time() - c0) < seconds:
                r.step()
                n += 1
            cpu[r.name].append(n * r.images_per_step / dc)
            wall[r.name].append(n * r.images_per_step / (time.perf_counter() - t0))
    return {
        name: {
            "images_per_s": round(statistics.median(cpu[name]), 1),
            "images_per_wall_s": round(statistics.median(wall[name]), 1),
            "rounds_cpu": [round(x, 1) for x in cpu[name]],
            "rounds_wall": [round(x, 1) for x in wall[name]],
            "threads": torch.get_num_threads(),
        }
        for name in cpu
    }


@torch.no_grad()
def sample_train_mode(G, n: int, seed: int = 0, batch: int = 500) -> torch.Tensor:
    """Samples with BatchNorm in training mode (batch statistics), on a copy of G."""
    g = copy.deepcopy(G).train()
    z = torch.randn(n, g.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([g(c).float() for c in z.split(batch)])


def evaluate(G, n: int = 5000, seed: int = 0, train_mode: bool = False) -> dict:
    """FID (classifier features, vs 10,000 real test images) and class report of n samples."""
    s = sample_train_mode(G, n, seed) if train_mode else generate(G, n, seed=seed)
    return classifier.score(s)
