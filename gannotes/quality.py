"""Judging a generator beyond FID: quality gates, a memorisation check and a real-or-fake game.

Three small tools that notebooks 01 and 07 use and the tests check:

* **Quality gates** (``QUALITY_GATES``, ``gate_failures``): the thresholds a default training run
  of the course must pass on :func:`gannotes.evaluation.evaluate_images` (2,000 samples against
  the 2,000 held-out test images): a maximum FID and minimum precision, recall and number of
  classes covered. Each threshold sits next to the value it was set from. They are *meaningful*:
  an untrained generator and a generator collapsed to two classes fail them (tested).
* **Memorisation check** (``nearest_neighbour_distances``): FID, precision and recall all reward a
  generator that returns its training images, so we also measure how far each sample is from
  its nearest training image. Copies are at distance 0; as a yardstick, held-out real images are
  at the distance their own nearest training image happens to be (Webster et al. 2019, "Detecting
  Overfitting of Deep Generative Networks via Latent Recovery", use the same comparison).
* **Real-or-fake game** (``RealOrFakeGame``, ``real_or_fake_widget``): a person labels a shuffled
  deck of real and generated images; their accuracy is compared with chance (1/2) by an exact
  one-sided binomial test and a Wilson score interval (Wilson 1927). This is the human evaluation
  of Salimans et al. (2016, Sec. 4) in miniature. The game is plain Python; the widget is a thin
  ipywidgets shell over it, imported only when called, so ``import gannotes.quality`` needs no
  Jupyter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = [
    "QUALITY_GATES",
    "GameRecord",
    "NearestNeighbours",
    "QualityGate",
    "RealOrFakeGame",
    "binomial_p_value",
    "gate_failures",
    "nearest_neighbour_distances",
    "real_or_fake_widget",
    "wilson_interval",
]

# ----------------------------------------------------------------------------- quality gates


class QualityGate(NamedTuple):
    """Thresholds on ``evaluate_images`` of 2,000 samples; a run passes when it meets all four."""

    fid_max: float  # fid <= fid_max
    precision_min: float  # precision >= precision_min
    recall_min: float  # recall >= recall_min
    classes_min: int  # classes_covered >= classes_min (a class holds >= 2% of the samples)


# The gate of each default training run of the course, set from its measured value (seed 0, one
# CPU thread, torch 2.13, 2,000 samples). Failing generators, measured the same way (re-measured
# by tests/test_quality.py): an untrained DCGAN scores FID 1,070, precision 0, recall 0, 1 class;
# an untrained MLP generator FID 891 (precision 1.0: its identical grey images land in one
# outlier's ball), recall 0, 1 class; real training images of two classes (a perfectly collapsed
# generator) FID 635 / 545, precision 0.85 / 0.88, recall 0.20 / 0.39, 2 / 5 classes (trousers +
# sneakers / coats + shirts); five real classes FID 214, recall 0.62, 5 classes.
QUALITY_GATES: dict[str, QualityGate] = {
    # notebook 01, DCGAN, 2,500 steps at batch 32, lr 5e-4: FID 150, precision 0.68, recall 0.40,
    # 10 classes covered.
    "dcgan": QualityGate(fid_max=200.0, precision_min=0.5, recall_min=0.3, classes_min=9),
    # notebook 01, MLP GAN (G with BatchNorm), 1,000 steps at batch 64, lr 5e-4: FID 331,
    # precision 0.86, recall 0.001, 9 classes (seeds 1 and 2: FID 318 / 329, 9 classes each).
    # Its recall is near 0 at this budget, so the gate asks for classes, not recall: an
    # untrained MLP and real images of two classes fail it on FID and classes. (The recipe
    # before BatchNorm, lr 2e-4, collapsed: FID 957, 1 class.)
    "mlp": QualityGate(fid_max=420.0, precision_min=0.6, recall_min=0.0, classes_min=8),
}


def gate_failures(result: dict, gate: QualityGate) -> list[str]:
    """The gate's conditions that ``result`` (a dict from ``evaluate_images``) does not meet,
    each as one readable line; an empty list means the run passes."""
    checks = (
        ("fid", result["fid"] <= gate.fid_max, f"<= {gate.fid_max:g}"),
        ("precision", result["precision"] >= gate.precision_min, f">= {gate.precision_min:g}"),
        ("recall", result["recall"] >= gate.recall_min, f">= {gate.recall_min:g}"),
        (
            "classes_covered",
            result["classes_covered"] >= gate.classes_min,
            f">= {gate.classes_min}",
        ),
    )
    return [f"{name} = {result[name]:.4g}, needs {need}" for name, ok, need in checks if not ok]


# ----------------------------------------------------------------------------- memorisation


class NearestNeighbours(NamedTuple):
    distances: np.ndarray  # [N] Euclidean distance of each sample to its nearest training row
    indices: np.ndarray  # [N] index of that training row


def _flat(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.detach().to("cpu", torch.float32)
    if t.ndim < 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a batch [N, ...] with N >= 1, got shape {tuple(t.shape)}")
    t = t.reshape(len(t), -1)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def nearest_neighbour_distances(
    samples: Any, train: Any, *, chunk: int = 256, candidates: int = 4
) -> NearestNeighbours:
    """For each sample, the Euclidean distance to its nearest row of ``train`` and that row's index.

    ``samples`` ``[N, ...]`` and ``train`` ``[M, ...]`` are flattened (images: pixels; or pass
    features ``[N, D]``) and must have the same size per row. The search uses matrix products in
    float32, in chunks of ``chunk`` samples (never an N x M matrix); the ``candidates`` closest
    rows found that way are then re-measured exactly as ``|x - y|``, so an exact copy is at
    distance 0.0, not at a rounding error of the ``|x|^2 + |y|^2 - 2 x.y`` expansion.
    """
    x, y = _flat(samples, "samples"), _flat(train, "train")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"samples and train rows differ in size: {x.shape[1]} vs {y.shape[1]} values"
        )
    if chunk < 1 or candidates < 1:
        raise ValueError(f"chunk and candidates must be positive, got {chunk}, {candidates}")
    k = min(candidates, len(y))
    y_sq = (y * y).sum(1)  # [M]
    dist = np.empty(len(x))
    idx = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), chunk):
        xc = x[start : start + chunk]  # [c, P]
        d2 = y_sq[None, :] - 2 * xc @ y.T  # [c, M]: |y|^2 - 2 x.y (|x|^2 does not change argmin)
        cand = d2.topk(k, dim=1, largest=False).indices  # [c, k]
        exact = (xc[:, None, :].double() - y[cand].double()).norm(dim=2)  # [c, k]
        best = exact.argmin(1)
        rows = torch.arange(len(xc))
        dist[start : start + len(xc)] = exact[rows, best].numpy()
        idx[start : start + len(xc)] = cand[rows, best].numpy()
    return NearestNeighbours(dist, idx)


# ----------------------------------------------------------------------------- statistics


def binomial_p_value(correct: int, n: int, chance: float = 0.5) -> float:
    """One-sided exact binomial test: P(X >= correct) for X ~ Binomial(n, chance).

    Small means "this many right answers are unlikely from guessing". With n = 0 it is 1.
    """
    if not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if not 0 < chance < 1:
        raise ValueError(f"chance must be in (0, 1), got {chance}")
    tail = sum(math.comb(n, i) * chance**i * (1 - chance) ** (n - i) for i in range(correct, n + 1))
    return min(1.0, tail)


def wilson_interval(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a proportion ``correct / n`` (95% for the default z).

    Unlike the textbook p +- z sqrt(p(1-p)/n) it stays inside [0, 1] and is sensible for small n
    and for p near 0 or 1. With n = 0 it is (0, 1): nothing is known yet.
    """
    if not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# ----------------------------------------------------------------------------- the game


class GameRecord(NamedTuple):
    index: int  # position in the deck
    is_real: bool  # the truth
    said_real: bool  # the player's answer

    @property
    def correct(self) -> bool:
        return self.is_real == self.said_real


class RealOrFakeGame:
    """A shuffled deck of ``rounds`` images, half real and half generated, and the answers so far.

    ``real`` and ``fake`` are image batches ``[N, ...]``; the deck takes ``rounds // 2`` of each
    (``rounds`` must be even), chosen and shuffled by ``np.random.default_rng(seed)``, so a seed
    gives the same game on every machine. Play with ``current()`` (the image to judge) and
    ``answer(said_real)``; read ``correct``, ``accuracy``, ``p_value()`` and ``interval()``.
    """

    def __init__(self, real: Any, fake: Any, rounds: int = 20, seed: int = 0):
        if rounds < 2 or rounds % 2:
            raise ValueError(f"rounds must be an even number >= 2, got {rounds}")
        real, fake = torch.as_tensor(real), torch.as_tensor(fake)
        half = rounds // 2
        for name, batch in (("real", real), ("fake", fake)):
            if batch.ndim < 2 or len(batch) < half:
                raise ValueError(
                    f"{name} must hold at least rounds / 2 = {half} images, got shape "
                    f"{tuple(batch.shape)}"
                )
        if real.shape[1:] != fake.shape[1:]:
            raise ValueError(
                f"real and fake images differ in shape: {tuple(real.shape[1:])} vs "
                f"{tuple(fake.shape[1:])}"
            )
        rng = np.random.default_rng(seed)
        pick_real = rng.choice(len(real), half, replace=False)
        pick_fake = rng.choice(len(fake), half, replace=False)
        images = torch.cat([real[pick_real], fake[pick_fake]])  # [rounds, ...]
        truth = np.array([True] * half + [False] * half)
        order = rng.permutation(rounds)
        self.images = images[torch.from_numpy(order)]
        self.truth = truth[order]  # [rounds] bool, True = real
        self.records: list[GameRecord] = []

    def __len__(self) -> int:
        return len(self.truth)

    @property
    def position(self) -> int:
        return len(self.records)

    @property
    def finished(self) -> bool:
        return self.position >= len(self)

    def current(self) -> torch.Tensor:
        """The image to judge now (one image of the deck)."""
        if self.finished:
            raise IndexError("the game is over: every image has been answered")
        return self.images[self.position]

    def answer(self, said_real: bool) -> bool:
        """Record the player's answer for the current image; returns whether it was right."""
        if self.finished:
            raise IndexError("the game is over: every image has been answered")
        i = self.position
        record = GameRecord(i, bool(self.truth[i]), bool(said_real))
        self.records.append(record)
        return record.correct

    @property
    def correct(self) -> int:
        return sum(r.correct for r in self.records)

    @property
    def accuracy(self) -> float:
        """Fraction of right answers so far (nan before the first answer)."""
        return self.correct / self.position if self.records else math.nan

    def p_value(self) -> float:
        """P(at least this many right answers by guessing), exact binomial with chance 1/2."""
        return binomial_p_value(self.correct, self.position)

    def interval(self) -> tuple[float, float]:
        """95% Wilson interval for the player's accuracy."""
        return wilson_interval(self.correct, self.position)

    def fooled_by(self) -> list[int]:
        """Deck positions of generated images the player called real."""
        return [r.index for r in self.records if not r.is_real and r.said_real]

    def summary(self) -> str:
        if not self.records:
            return f"0 of {len(self)} answered"
        lo, hi = self.interval()
        verdict = (
            "better than chance (p < 0.05)"
            if self.p_value() < 0.05
            else "not distinguishable from guessing"
        )
        return (
            f"{self.correct} of {self.position} right ({self.accuracy:.0%}; 95% interval "
            f"{lo:.0%}-{hi:.0%}; chance 50%): {verdict}, one-sided p = {self.p_value():.3f}"
        )

    def play(self, player: Callable[[torch.Tensor], bool]) -> RealOrFakeGame:
        """Let ``player(image) -> said_real`` answer every remaining image (a scripted player)."""
        while not self.finished:
            self.answer(bool(player(self.current())))
        return self


# On screen sizes of the widget, in CSS pixels: the image being judged and each thumbnail of the
# game-over view. Images are enlarged by a whole factor with nearest-neighbour upsampling inside the
# PNG (a 28x28 image: 5x and 4x), so the browser shows them pixel for pixel, sharp, not blurred.
PLAY_PX = 140
THUMB_PX = 112
STILL_CARDS = 6  # the images the game's still shows (what a page without a kernel shows)
THUMBS_PER_ROW = 5  # a 20-image game has at most 10 fakes: two rows of 5 at 112 px, ~590 px wide


def _enlarged_png(
    images: torch.Tensor, nrow: int, min_px: int, padding: int
) -> tuple[bytes, tuple[int, int]]:
    """PNG bytes of a grid of ``images`` ``[N, C, H, W]``, each enlarged to at least ``min_px``.

    Every pixel of the grid (padding included) becomes a ``scale x scale`` block, the smallest
    whole scale that reaches ``min_px``. Returns the PNG and its ``(width, height)``, so a caller
    can size the ``ipywidgets.Image`` to the PNG's own pixels.
    """
    import io

    from PIL import Image

    from .viz import _unit_to_uint8, make_grid

    scale = max(1, math.ceil(min_px / max(images.shape[-2:])))
    grid = make_grid(images, nrow=nrow, padding=padding)  # [H', W'] or [H', W', 3] in [0, 1]
    pixels = _unit_to_uint8(grid.repeat(scale, axis=0).repeat(scale, axis=1))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue(), (pixels.shape[1], pixels.shape[0])


def real_or_fake_widget(real: Any, fake: Any, rounds: int = 20, seed: int = 0) -> Any:
    """An ipywidgets game: one image at a time, the player clicks "real" or "fake".

    After each click the widget says whether the answer was right and shows the running score
    against chance; at the end it shows the summary and, under a caption, the fakes that fooled
    the player, each at least ``THUMB_PX`` pixels wide. The returned VBox exposes ``game`` (a
    :class:`RealOrFakeGame`), ``real_button``, ``fake_button``, ``restart_button``, ``image``,
    ``caption``, ``feedback`` and ``score``, so tests (and scripts) can drive it with
    ``box.real_button.click()`` without a browser.
    """
    import ipywidgets as widgets

    box = widgets.VBox()
    caption = widgets.HTML()  # above the image; says what the game-over image shows
    image = widgets.Image(format="png")
    real_button = widgets.Button(description="real", button_style="info")
    fake_button = widgets.Button(description="fake", button_style="warning")
    restart_button = widgets.Button(description="new game")
    feedback = widgets.HTML()
    score = widgets.HTML()
    state = {"seed": int(seed)}

    def put(png: bytes | None, size: tuple[int, int] = (0, 0)) -> None:
        """Show a PNG at its own pixel size (no resampling by the browser), or hide the image."""
        image.layout.display = "none" if png is None else None
        image.value = png or b""
        image.width, image.height = str(size[0]), str(size[1])

    def show() -> None:
        game = box.game
        score.value = game.summary()
        done = game.finished
        real_button.disabled = fake_button.disabled = done
        if not done:
            caption.value = f"Image {game.position + 1} of {len(game)}:"
            put(*_enlarged_png(game.current()[None], nrow=1, min_px=PLAY_PX, padding=0))
            return
        fooled = game.fooled_by()
        feedback.value = f"<b>Game over.</b> {len(fooled)} generated image(s) fooled you" + (
            " (shown above)." if fooled else "."
        )
        if not fooled:
            caption.value = "No generated image fooled you."
            put(None)
            return
        caption.value = (
            f"<b>The {len(fooled)} generated image(s) you called real</b> (deck positions "
            + ", ".join(str(i + 1) for i in fooled)
            + "), enlarged. What do they get right that the others did not?"
        )
        nrow = min(len(fooled), THUMBS_PER_ROW)
        put(*_enlarged_png(game.images[fooled], nrow=nrow, min_px=THUMB_PX, padding=1))

    def on_answer(said_real: bool) -> None:
        if box.game.finished:
            return
        truth = bool(box.game.truth[box.game.position])
        right = box.game.answer(said_real)
        feedback.value = ("right: " if right else "wrong: ") + (
            "it was a real image" if truth else "it was generated"
        )
        show()

    def restart(new_seed: int | None = None) -> None:
        state["seed"] = state["seed"] + 1 if new_seed is None else int(new_seed)
        box.game = RealOrFakeGame(real, fake, rounds=rounds, seed=state["seed"])
        feedback.value = "Is this image real or generated?"
        show()

    real_button.on_click(lambda _: on_answer(True))
    fake_button.on_click(lambda _: on_answer(False))
    restart_button.on_click(lambda _: restart())

    box.game = RealOrFakeGame(real, fake, rounds=rounds, seed=state["seed"])
    box.children = [
        caption,
        image,
        widgets.HBox([real_button, fake_button, restart_button]),
        feedback,
        score,
    ]
    box.real_button, box.fake_button, box.restart_button = real_button, fake_button, restart_button
    box.image, box.caption, box.feedback, box.score = image, caption, feedback, score
    box.restart = restart
    feedback.value = "Is this image real or generated?"
    show()
    from .viz import with_still

    deck = RealOrFakeGame(real, fake, rounds=rounds, seed=int(seed))  # the first game, untouched
    shown = min(STILL_CARDS, len(deck))
    return with_still(
        box,
        lambda: [
            (
                f"image {i + 1}: " + ("real" if deck.truth[i] else "generated"),
                _enlarged_png(deck.images[i : i + 1], nrow=1, min_px=THUMB_PX, padding=0)[0],
            )
            for i in range(shown)
        ],
        f"the first {shown} images of the game with seed {int(seed)}, each with its answer",
        ncols=shown,
    )
