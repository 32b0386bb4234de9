"""The StyleGAN family: a style-based generator trained as StyleGAN2 trains it.

The networks are in gannotes.models.stylegan (mapping network, constant input, style layers
with noise, AdaIN or modulated convolutions). The step follows the phases of the authors'
``StyleGAN2Loss.accumulate_gradients`` (stylegan2-ada-pytorch, ``training/loss.py``):

* **Gmain**: G's non-saturating loss ``softplus(-D(G(z)))`` through a frozen D. With
  probability ``style_mixing`` (0.9) a batch is generated with *mixing regularisation*
  (StyleGAN Sec. 3.1): two latents z1, z2 and a crossover layer drawn at random; the layers
  before it take w1, the rest w2, so that no layer can count on its neighbours sharing a style.
* **Greg** (every ``pl_every`` steps when ``pl_weight > 0``): *path-length regularisation*
  (StyleGAN2 Sec. 3.2): the norm of the Jacobian-vector product ``J_w^T y`` (y a random image
  scaled by 1/sqrt(pixels)) is pulled towards its running mean ``a``:
  ``pl_weight * E (|J_w^T y| - a)^2``, so a fixed step in W moves the image by a fixed amount.
* **Dmain**: D's logistic loss on real images and detached fakes.
* **Dreg** (every ``r1_every`` steps, *lazy regularisation*, StyleGAN2 Sec. 3.1): R1,
  ``gamma/2 E|grad D(x)|^2`` on real data, times ``r1_every`` so the average pull is the same.

Lazy regularisation here, as in the classic family's lazy R1, adds each penalty to its
player's main loss on the steps where it is due, and the player steps once. The authors run
Greg and Dreg as *separate* optimizer steps, and only for that reason scale the rate and betas
by ``c = N / (N + 1)`` (StyleGAN2 Appendix B: N + 1 optimizer steps per N minibatches keep
Adam's moments right); with one step per minibatch there is nothing to correct, so the
optimizers take ``lr_g``, ``lr_d`` and ``betas`` as they are.

Sampling draws z and one noise map per style layer from the seed on the CPU, so a sample is
the same on every device; ``truncation < 1`` pulls w towards ``w_avg`` (the truncation trick)
and :meth:`StyleGAN.mix` puts two seeds' styles in one image. Images are clamped to [-1, 1]
when sampled: StyleGAN's generator has no tanh; the course's recipe adds one (``model_config``
``tanh``, on by default: it measured better at a CPU budget, see ``default_config``), and the
clamp is then a no-op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..config import TrainerConfig, knob
from ..losses import d_logistic_loss, g_nonsaturating_loss, input_gradient, r1_penalty
from ..models import config_for
from ..models.stylegan import BLOCKS, StyleDiscriminator, StyleGenerator
from .family import Family, StepContext, frozen, make_optimizer

__all__ = [
    "CROSSOVERS",
    "StyleGAN",
    "StyleGANTrainConfig",
    "crossover_layers",
    "mix_ws",
    "path_lengths",
]

CROSSOVERS = ("coarse", "middle", "all", "none")


@dataclass
class StyleGANTrainConfig(TrainerConfig):
    """A run of the StyleGAN family: the Trainer's knobs plus the generator's and the
    regularisers' (StyleGAN and StyleGAN2)."""

    mapping_layers: int = knob(
        4, "depth of the mapping network z -> w (the paper: 8)", low=1, metavar="N", rebuild=True
    )
    style_mixing: float = knob(
        0.9,
        "probability that a training batch mixes two latents' styles (StyleGAN: 0.9; 0 = off)",
        low=0,
        high=1,
        high_open=False,
        metavar="P",
    )
    r1: float = knob(
        0.1,
        "R1 penalty: GAMMA/2 * |grad of D at real data|^2 added to D's loss",
        low=0,
        note="0: off",
        metavar="GAMMA",
    )
    r1_every: int = knob(
        16, "lazy R1: the penalty (times N) on every N-th step only", low=1, metavar="N"
    )
    pl_weight: float = knob(
        0.0,
        "path-length regularisation weight (StyleGAN2: 2; 0 = off)",
        low=0,
        metavar="W",
    )
    pl_every: int = knob(4, "lazy path-length regularisation: every N-th step", low=1, metavar="N")
    block: str = knob(
        "modulated",
        "style layers: modulated (StyleGAN2's demodulated convolutions) or adain (StyleGAN's)",
        choices=BLOCKS,
        rebuild=True,
    )
    noise: bool = knob(True, "per-pixel noise inputs in the generator", rebuild=True)

    family = "stylegan"

    def check(self) -> None:
        super().check()
        if self.model not in StyleGAN.models:
            raise ValueError(f"unknown model {self.model!r}; the stylegan family has stylegan")
        cfg = self.model_cfg()  # validates model_config and the dataset
        group = min(cfg.mbstd_group, self.batch_size)
        if self.batch_size % group:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of the minibatch std group {group}"
            )

    def model_cfg(self):
        knobs = dict(mapping_layers=self.mapping_layers, block=self.block, noise=self.noise)
        return config_for(self.model, self.dataset, **{**knobs, **self.model_config})


def crossover_layers(layers: tuple[int, ...]) -> dict[str, int]:
    """The crossover K each name means, for a generator with ``layers`` style layers at 7x7,
    14x14 and 28x28 (and, as StyleGAN2 indexes them, one w per layer plus one: a resolution's
    toRGB shares its w with the next resolution's first, upsampling, layer). ``coarse``: the
    7x7 block's styles come from the coarse seed; ``middle``: the 7x7 and 14x14 blocks';
    ``all``: every style (the coarse seed's own image); ``none``: the fine seed's own image."""
    coarse = layers[0] + 1
    return {"coarse": coarse, "middle": coarse + layers[1], "all": sum(layers) + 1, "none": 0}


def mix_ws(ws_a: torch.Tensor, ws_b: torch.Tensor, crossover: int) -> torch.Tensor:
    """Style mixing: layers ``[0, crossover)`` take ``ws_a``'s styles, the rest ``ws_b``'s.
    ``ws_a``, ``ws_b`` ``[N, num_ws, w_dim]``."""
    if ws_a.shape != ws_b.shape:
        raise ValueError(f"ws_a {tuple(ws_a.shape)} and ws_b {tuple(ws_b.shape)} differ")
    num_ws = ws_a.shape[1]
    if not 0 <= crossover <= num_ws:
        raise ValueError(f"crossover must be a layer in 0-{num_ws}, got {crossover}")
    layer = torch.arange(num_ws, device=ws_a.device)[None, :, None]
    return torch.where(layer < crossover, ws_a, ws_b)


def path_lengths(
    images: torch.Tensor, ws: torch.Tensor, y: torch.Tensor, scale: float = 1.0
) -> torch.Tensor:
    """StyleGAN2's path lengths (Sec. 3.2): ``|J_w^T y|`` per sample, J the Jacobian of the
    images with respect to w, y a random image; averaged over the style layers' copies of w as
    the authors do (``sqrt(mean_layers sum_dims g^2)``). The graph is kept, so the penalty
    built from it trains G. ``scale``: the fp16 gradient scaler's factor
    (gannotes.losses.input_gradient)."""
    grad = input_gradient((images.float() * y).sum(), ws, scale)  # [N, L, D]
    return grad.square().sum(2).mean(1).sqrt()


class StyleGAN(Family):
    """A style-based G (mapping + synthesis) and D, trained with mixing, R1 and optionally
    path-length regularisation."""

    name = "stylegan"
    Config = StyleGANTrainConfig
    models = ("stylegan",)

    def __init__(self, config: StyleGANTrainConfig, device: torch.device):
        super().__init__(config, device)
        self.model_cfg = cfg = config.model_cfg()
        G, D = StyleGenerator(cfg).to(device), StyleDiscriminator(cfg).to(device)
        self.networks = {"G": G, "D": D}
        # Lazy regularisation adds the penalty (times its interval) to the main loss and steps
        # once, as the classic family's lazy R1 does: the optimizers take the knobs' rates and
        # betas unchanged (see the module docstring).
        self.optimizers = {
            "G": make_optimizer(G.parameters(), config, config.lr_g),
            "D": make_optimizer(D.parameters(), config, config.lr_d),
        }
        self.pl_mean = torch.zeros((), device=device)  # the running mean a of the path length

    @classmethod
    def default_config(cls, model: str = "stylegan", dataset: str = "fashion-mnist", **overrides):
        """The course's recipe, tuned for quality per CPU-minute (benchmarks/README.md,
        "StyleGAN"; screened at 4 minutes of one core, FID of the independent classifier,
        benchmarks/results/stylegan_screen.jsonl): StyleGAN2's Adam betas (0, 0.99), R1 with
        gamma 0.1 every 16 steps, mixing 0.9, an EMA of G (decay 0.998), no path-length
        regularisation; batches of 8 (StyleGAN2: 32; 32 -> 16 -> 8 gave 126 -> 93 -> 76) at
        lr 4e-3 (StyleGAN2: 2e-3; 2e-3 / 4e-3 / 6e-3 at batch 8 gave 130 / 76 / 102), a
        generator of width 12 (16: 108) with a tanh output (without: 155 against 126). At 10
        minutes the rates decay linearly to 0 over the second half of the budget: FID 67.4
        against 77.3 without (batch 16 with the decay: 67.3, but its coarse styles kept the
        class in 64% of mixes, against 82%)."""
        base: dict[str, Any] = dict(
            batch_size=8,
            lr_g=4e-3,
            lr_d=4e-3,
            betas=(0.0, 0.99),
            ema=0.998,
            lr_decay="linear",
            lr_decay_start=0.5,
        )
        return StyleGANTrainConfig(model=model, dataset=dataset, **{**base, **overrides})

    # ------------------------------------------------------------------ sampling inputs
    @property
    def G(self) -> StyleGenerator:
        return self.sampling_network

    def latent(self, n: int, generator: torch.Generator | None = None):
        """(z ``[n, z_dim]``, then one noise map ``[n, 1, H, W]`` per style layer), drawn on
        the CPU; without noise inputs, (z,)."""
        z = torch.randn(n, self.model_cfg.z_dim, generator=generator)
        if not self.model_cfg.noise:
            return (z,)
        shapes = self.networks["G"].synthesis.noise_shapes
        return (z, *(torch.randn(n, *s, generator=generator) for s in shapes))

    # ------------------------------------------------------------------ training
    def _mixed_ws(
        self, G: StyleGenerator, z: torch.Tensor, ctx: StepContext, update_w_avg: bool = True
    ) -> torch.Tensor:
        """The batch's per-layer latents, mixed with a second latent with probability
        ``style_mixing`` at a crossover drawn uniformly in [1, num_ws) (one per batch). Only
        the batch's own mapping may move ``w_avg`` (``update_w_avg``), never the second's."""
        ws = G.ws(z, update_w_avg=update_w_avg)
        p = self.config.style_mixing
        if p > 0 and float(torch.rand((), generator=ctx.trick_gen)) < p:
            cutoff = int(torch.randint(1, G.num_ws, (), generator=ctx.trick_gen))
            z2 = torch.randn(z.shape, generator=ctx.trick_gen).to(z.device)
            ws = mix_ws(ws, G.ws(z2, update_w_avg=False), cutoff)
        # one memory layout either way (G.ws expands one w, mixing makes a new tensor): a
        # compiled synthesis network would otherwise recompile when the layout changes
        return ws.contiguous()

    def compiled_modules(self, name: str) -> list[torch.nn.Module]:
        net = self.networks[name]
        return [net.mapping, net.synthesis] if name == "G" else [net]

    def differentiated_twice(self) -> dict[str, str]:
        cfg = self.config
        twice = {"D": "R1"} if cfg.r1 > 0 else {}
        if cfg.pl_weight > 0:
            twice["G"] = "the path-length penalty"
        return twice

    def step(self, batches: list[torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        G, D = self.networks["G"], self.networks["D"]
        cfg = self.config
        real = batches[-1]  # [N, 1, 28, 28]
        n = real.shape[0]
        stats: dict[str, torch.Tensor] = {}

        # --- Gmain (+ Greg, lazily): G through a frozen D
        with frozen(D):
            z, *noise = ctx.noise(n)
            with ctx.autocast():
                fake = G.synthesis(self._mixed_ws(G, z, ctx), noise or None)
                loss_g = g_nonsaturating_loss(D(fake))
                if cfg.pl_weight and ctx.step % cfg.pl_every == 0:
                    penalty = self._path_length_penalty(G, ctx)
                    stats["pl_penalty"] = penalty.detach()
                    stats["pl_mean"] = self.pl_mean.clone()
                    loss_g = loss_g + penalty
            stats["grad_norm_g"] = ctx.optimizer_step(self.optimizers["G"], loss_g)

        # --- Dmain (+ Dreg, lazily): D on real images and Gmain's fakes, detached (the
        # authors draw new ones; reusing them saves a third of G's work per step)
        fake = fake.detach()
        lazy_r1 = cfg.r1 > 0 and ctx.step % cfg.r1_every == 0
        if lazy_r1:
            real = real.detach().requires_grad_(True)
        with ctx.autocast():
            real_logits, fake_logits = D(real), D(fake)
            loss_d = d_logistic_loss(real_logits, fake_logits)
            if lazy_r1:
                r1 = r1_penalty(real_logits, real, cfg.r1 * cfg.r1_every, ctx.grad_scale)
                stats["r1"] = r1.detach()
                loss_d = loss_d + r1
        stats["grad_norm_d"] = ctx.optimizer_step(self.optimizers["D"], loss_d)
        # a lazy penalty is 0 on the steps it skips, as in the classic family: a history row's
        # mean is then the penalty's average per step
        zero = torch.zeros((), device=loss_d.device)
        if cfg.r1 > 0:
            stats.setdefault("r1", zero)
        if cfg.pl_weight > 0:
            stats.setdefault("pl_penalty", zero)
        stats["loss_d"], stats["loss_g"] = loss_d.detach(), loss_g.detach()
        stats["d_real"] = torch.sigmoid(real_logits.detach().float()).mean()
        stats["d_fake"] = torch.sigmoid(fake_logits.detach().float()).mean()
        return stats

    def _path_length_penalty(self, G: StyleGenerator, ctx: StepContext) -> torch.Tensor:
        """StyleGAN2's path-length penalty on half a batch, times ``pl_every`` (lazy)."""
        cfg = self.config
        n = max(1, cfg.batch_size // 2)
        z, *noise = ctx.noise(n)
        ws = self._mixed_ws(G, z, ctx, update_w_avg=False)  # w_avg follows the main batch
        img = G.synthesis(ws, noise or None)  # [n, C, H, W]
        y = torch.randn(img.shape, generator=ctx.trick_gen).to(img.device)
        lengths = path_lengths(img, ws, y / math.sqrt(img.shape[2] * img.shape[3]), ctx.grad_scale)
        with torch.no_grad():  # a <- a + 0.01 (mean length - a), as the authors' decay 0.01
            self.pl_mean.lerp_(lengths.mean().detach(), 0.01)
        return cfg.pl_weight * cfg.pl_every * (lengths - self.pl_mean).square().mean()

    # ------------------------------------------------------------------ sampling
    def _check_psi(self, psi: float) -> None:
        if isinstance(psi, bool) or not isinstance(psi, int | float) or not 0 <= psi <= 1:
            raise ValueError(f"truncation psi must be a number in [0, 1], got {psi!r}")

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Images from per-layer latents ``ws`` ``[N, num_ws, w_dim]`` (and noise maps), with
        the sampling network in eval mode, clamped to [-1, 1]; a CPU tensor."""
        G = self.G
        was = G.training
        G.eval()
        try:
            out = []
            for i in range(0, len(ws), 500):
                nz = None if not noise else [m[i : i + 500].to(self.device) for m in noise]
                out.append(G.synthesis(ws[i : i + 500].to(self.device), nz).float().cpu())
        finally:
            G.train(was)
        return torch.cat(out).clamp(-1, 1)

    @torch.no_grad()
    def ws_of(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """The per-layer latents of z (truncated by ``psi``), from the sampling network."""
        self._check_psi(psi)
        G = self.G
        was = G.training
        G.eval()
        try:
            return G.ws(z.to(self.device), psi).cpu()
        finally:
            G.train(was)

    def sample(self, n: int, seed: int = 0, truncation: float = 1.0) -> torch.Tensor:
        """``n`` samples from ``seed`` (z and noise drawn on the CPU), w truncated towards
        ``w_avg`` by ``truncation`` = psi in [0, 1] (1: none)."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        self._check_psi(truncation)
        z, *noise = self.latent(n, torch.Generator().manual_seed(seed))
        return self.synthesize(self.ws_of(z, truncation), noise)

    def generate(self, inputs: Any, batch: int = 1000) -> torch.Tensor:
        """The sampling network on (z, noise maps...), clamped to [-1, 1] (snapshots)."""
        z, *noise = inputs if isinstance(inputs, tuple | list) else (inputs,)
        return self.synthesize(self.ws_of(z), noise)

    def crossover(self, crossover: int | str) -> int:
        """K for a crossover given as a number of layers or a name (:data:`CROSSOVERS`)."""
        num_ws = self.model_cfg.num_ws
        names = crossover_layers(self.model_cfg.layers)
        if isinstance(crossover, str) and crossover in names:
            return names[crossover]
        if isinstance(crossover, str) and crossover.isdigit():
            crossover = int(crossover)
        if (
            isinstance(crossover, bool)
            or not isinstance(crossover, int)
            or not (0 <= crossover <= num_ws)
        ):
            raise ValueError(
                f"crossover must be a number of style layers in 0-{num_ws} or one of "
                f"{', '.join(CROSSOVERS)}, got {crossover!r}"
            )
        return crossover

    def mix(
        self, coarse_seed: int, fine_seed: int, crossover: int | str, n: int = 1, psi: float = 1.0
    ) -> torch.Tensor:
        """``n`` mixed images: the i-th takes the first K style layers (and their noise) from
        seed ``coarse_seed + i`` and the rest from ``fine_seed + i``. K = ``all`` gives exactly
        ``sample(1, coarse_seed + i)``, ``none`` exactly ``sample(1, fine_seed + i)``."""
        if n < 1:
            raise ValueError(f"n must be a positive number of images, got {n}")
        k = self.crossover(crossover)
        parts = []
        for seed in (coarse_seed, fine_seed):
            drawn = [self.latent(1, torch.Generator().manual_seed(seed + i)) for i in range(n)]
            parts.append([torch.cat(t) for t in zip(*drawn, strict=True)])
        (za, *noise_a), (zb, *noise_b) = parts
        ws = mix_ws(self.ws_of(za, psi), self.ws_of(zb, psi), k)
        noise = [a if i < k else b for i, (a, b) in enumerate(zip(noise_a, noise_b, strict=True))]
        return self.synthesize(ws, noise)

    def redraws(
        self, n: int, what: str, redraws: int = 8, seed: int = 0, layers=None
    ) -> torch.Tensor:
        """``redraws`` versions ``[K, n, 1, 28, 28]`` of ``n`` samples of ``seed``, each with one
        input drawn again (StyleGAN Sec. 3.2, Fig. 4): ``what="noise"``: the noise maps of the
        style layers in ``layers`` (default: all), w kept; ``what="w"``: z, the noise kept.
        Redraw r uses seed ``seed + 1000 + r``. gannotes.style.resampling_std reads the result."""
        if what not in ("noise", "w"):
            raise ValueError(f"what must be 'noise' or 'w', got {what!r}")
        z, *noise = self.latent(n, torch.Generator().manual_seed(seed))
        ws = self.ws_of(z)
        layers = set(range(len(noise))) if layers is None else set(layers)
        out = []
        for r in range(redraws):
            gen = torch.Generator().manual_seed(seed + 1000 + r)
            if what == "noise":
                fresh = self.latent(n, gen)[1:]
                maps = [
                    f if i in layers else m
                    for i, (f, m) in enumerate(zip(fresh, noise, strict=True))
                ]
                out.append(self.synthesize(ws, maps))
            else:
                out.append(self.synthesize(self.ws_of(torch.randn(z.shape, generator=gen)), noise))
        return torch.stack(out)

    # ------------------------------------------------------------------ state of its own
    def state_dict(self) -> dict[str, Any]:
        return {"pl_mean": self.pl_mean.detach().cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "pl_mean" in state:
            self.pl_mean = state["pl_mean"].to(self.device)
