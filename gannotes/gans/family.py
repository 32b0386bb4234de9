"""What a GAN family is: networks, optimizers, one training step and a sampler.

The Trainer (gannotes.training) owns time and state: budgets, seeds and random streams, data,
the learning-rate schedule, history, snapshots, checkpoints, exact resume, device, precision,
the EMA of networks. A *family* owns what one step means. It

* builds its networks and optimizers, by name, from its config (``networks``, ``optimizers``);
* says which fields of the data a batch holds (:attr:`Family.data_fields`: images alone, images
  and their labels, or (edges, image) pairs) and how many real batches one step consumes
  (:meth:`Family.batches_per_step`);
* defines :meth:`Family.step` ``(batches, ctx) -> dict of tensors``: one update of every player,
  reading like the paper's algorithm, returning detached scalar tensors (losses, scores, norms)
  that the Trainer logs without synchronising with the device at every step. A step says what
  the losses are; it updates a player with one call, ``ctx.optimizer_step(opt, loss)`` (zero
  grad, scaled backward, averaging across processes, unscale, clip, step, scaler update), and
  freezes the other with ``with frozen(D):``;
* says how it samples: :meth:`Family.latent` draws the inputs (noise, and labels where it has
  them) and :meth:`Family.generate` runs the sampling network on them;
* keeps any state of its own that must be checkpointed (:meth:`Family.state_dict`).

A new family is one file beside ``classic.py`` with a config class (a subclass of
gannotes.config.TrainerConfig holding the family's knobs) and a Family subclass, and one line in
``gannotes.gans.FAMILIES``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import TrainerConfig

__all__ = ["Family", "Precision", "StepContext", "frozen", "make_optimizer", "to_device"]


def to_device(x: Any, device: torch.device) -> Any:
    """A tensor, or a tuple of tensors (e.g. noise and labels), moved to ``device``."""
    if isinstance(x, tuple | list):
        return tuple(t.to(device) for t in x)
    return x.to(device)


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """The autocast context and gradient scaler of a run (``precision``: fp32, bf16 or fp16).

    * fp32: both are no-ops: ``autocast()`` is a null context and the scaler is disabled, so
      ``scaler.scale(loss)`` is ``loss`` and ``scaler.step(opt)`` is ``opt.step()``.
    * bf16: autocast runs matrix products and convolutions in bfloat16; no scaler, since
      bfloat16 has float32's exponent range (gradients do not underflow).
    * fp16: autocast in float16 and a gradient scaler: the loss is multiplied by a large factor
      before backward so small gradients do not flush to zero, the gradients are divided by it
      before the optimizer steps, and a step whose gradients hold inf or NaN is skipped (the
      factor then halves). ``update()`` runs after every optimizer step
      (:meth:`StepContext.optimizer_step`).

    Steps are written against this object, so precision is a switch, not a rewrite.
    """

    def __init__(self, device: torch.device, precision: str | torch.dtype = "fp32"):
        if isinstance(precision, torch.dtype):
            names = {v: k for k, v in DTYPES.items()}
            precision = names.get(precision, str(precision))
        if precision not in DTYPES:
            raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(DTYPES)}")
        self.name = precision
        self.device_type, self.dtype = torch.device(device).type, DTYPES[precision]
        self.enabled = self.dtype != torch.float32
        # float16 needs loss scaling against underflow; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scale_tensor(self) -> torch.Tensor:
        """The scaler's factor now, as a tensor on the device (no synchronisation): logged
        after every fp16 step, so that a fall marks a step the scaler skipped."""
        scale = getattr(self.scaler, "_scale", None)  # set at the first scale()
        if isinstance(scale, torch.Tensor):
            return scale.detach().reshape(()).clone()
        return torch.tensor(self.scaler.get_scale())

    @property
    def grad_scale(self) -> float:
        """The factor the scaler multiplies losses by now (1.0 without a scaler). Penalties
        that take a gradient inside the step (R1, the gradient penalty, path length) multiply
        what they differentiate by it and divide the gradient by it, as PyTorch's AMP examples
        do, so that the gradient does not underflow in float16."""
        return self.scaler.get_scale() if self.scaler.is_enabled() else 1.0


@dataclass
class StepContext:
    """What a family's step may use of the Trainer's state, at one step.

    ``noise(n)`` draws the family's latent inputs from the run's noise stream, on the device;
    ``trick_gen`` is the stream for the step's other randomness (augmentation, label flips,
    the gradient penalty's interpolation points). All streams live on the CPU and are
    checkpointed, so a resumed run draws the same numbers.
    """

    step: int = 0  # steps done before this one
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    noise: Callable[[int], Any] | None = None
    trick_gen: torch.Generator | None = None
    precision: Precision | None = None
    # In a data-parallel run (gannotes.parallel): averages an optimizer's gradients over the
    # processes before it steps. Only that optimizer's: D's gradients are not exchanged while
    # G updates.
    all_reduce: Callable[[torch.optim.Optimizer], None] | None = None
    # fp16: how many of this step's optimizer steps the scaler skipped (a tensor; None before
    # the first scaled step). The Trainer logs it as ``amp_skipped``.
    skipped: torch.Tensor | None = None

    def __post_init__(self):
        if self.precision is None:
            self.precision = Precision(self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        return self.precision.autocast()

    @property
    def scaler(self) -> torch.amp.GradScaler:
        return self.precision.scaler

    @property
    def grad_scale(self) -> float:
        """See :attr:`Precision.grad_scale`: pass it to the penalties as their ``scale``."""
        return self.precision.grad_scale

    def optimizer_step(
        self,
        opt: torch.optim.Optimizer,
        loss: torch.Tensor,
        params: Sequence[torch.Tensor] | None = None,
        clip: float | None = None,
    ) -> torch.Tensor:
        """One optimizer step, end to end: zero ``opt``'s gradients, backward through the
        gradient scaler, average the gradients over the processes of a data-parallel run,
        unscale them, clip their norm (when ``clip`` is given), step, and update the scaler;
        returns the gradient norm before clipping, as a tensor (no synchronisation).

        ``params``: the parameters whose norm is measured and clipped (default: every
        parameter of ``opt``).

        A family calls this once per update of a player and never steps an optimizer itself,
        so the order cannot go wrong: the average comes before unscaling (every process then
        unscales the same gradients and its scaler takes the same decision), and the fp16
        scaler is updated after *every* optimizer step. PyTorch's GradScaler refuses to unscale
        an optimizer twice between two updates, which is what a step with k > 1 updates of D
        would do with one update per training step. A step the scaler skips (inf or NaN in the
        gradients) is counted in :attr:`skipped`.
        """
        if params is None:
            params = [p for group in opt.param_groups for p in group["params"]]
        opt.zero_grad(set_to_none=True)
        scaler = self.scaler
        scaler.scale(loss).backward()
        if self.all_reduce is not None:
            self.all_reduce(opt)
        scaler.unscale_(opt)
        grads = [p.grad for p in params if p.grad is not None]
        norm = (
            torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=loss.device)
        )
        if clip is not None:
            torch.nn.utils.clip_grads_with_norm_(params, clip, norm)
        if scaler.is_enabled():
            before = self.precision.scale_tensor()
            scaler.step(opt)
            scaler.update()
            fell = (self.precision.scale_tensor() < before).float()  # the factor halves on a skip
            self.skipped = fell if self.skipped is None else self.skipped + fell
        else:
            scaler.step(opt)  # opt.step()
        return norm


@contextlib.contextmanager
def frozen(*networks: nn.Module) -> Iterator[None]:
    """``with frozen(D): ...``: the networks' parameters take no gradient inside the block
    (``requires_grad`` False), so a loss computed through them moves only the others (G's loss
    through D must move G only). Each parameter's flag is restored on leaving, also on an
    error."""
    params = [p for net in networks for p in net.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def make_optimizer(
    params: Iterable[torch.Tensor] | Iterable[dict], config: TrainerConfig, lr: float
) -> torch.optim.Optimizer:
    """Adam with ``config.betas`` (DCGAN's choice) or RMSprop (as in WGAN), at ``lr``.

    Adam uses its fused kernel where torch has one for the parameters' device (CPU from torch
    2.4, CUDA): the same update in one pass, 15% faster per step of the toy MLP on one core.
    ``params`` may be parameter groups (dicts), e.g. with a learning-rate multiplier each.
    """
    params = list(params)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    try:
        return torch.optim.Adam(params, lr=lr, betas=config.betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or torch
        return torch.optim.Adam(params, lr=lr, betas=config.betas)


class Family:
    """Base class of a GAN family; see the module docstring. Subclasses set the class
    attributes and implement :meth:`step` and :meth:`latent`."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[TrainerConfig]] = TrainerConfig
    models: ClassVar[tuple[str, ...]] = ()  # architectures (gannotes.models) it trains
    ema_networks: ClassVar[tuple[str, ...]] = ("G",)  # averaged by the Trainer when ema > 0
    sampler: ClassVar[str] = "G"  # the network samples come from (its EMA copy when there is one)
    learning_rates: ClassVar[dict[str, str]] = {"G": "lr_g", "D": "lr_d"}  # optimizer -> knob
    # The fields of an image dataset a real batch holds (gannotes.data.dataset_tensors): one
    # field gives a tensor per batch, several a tuple in this order. Toy sets are points.
    data_fields: ClassVar[tuple[str, ...]] = ("images",)
    n_classes: ClassVar[int] = 0  # class-conditional families: the number of labels
    directions: ClassVar[tuple[str, ...]] = ()  # translating families: "a2b" (and "b2a")

    def __init__(self, config: TrainerConfig, device: torch.device):
        self.config = config
        self.device = device
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def build_pair(self, model_cfg) -> None:
        """The usual players: G and D of ``model_cfg`` (gannotes.models.build_models) on the
        device, each with its optimizer at ``lr_g`` / ``lr_d`` (:attr:`learning_rates`)."""
        from ..models import build_models

        self.model_cfg = model_cfg
        G, D = build_models(model_cfg)
        self.networks = {"G": G.to(self.device), "D": D.to(self.device)}
        self.optimizers = {
            "G": make_optimizer(G.parameters(), self.config, self.config.lr_g),
            "D": make_optimizer(D.parameters(), self.config, self.config.lr_d),
        }

    # ------------------------------------------------------------------ recipes
    @classmethod
    def default_config(
        cls, model: str, dataset: str = "fashion-mnist", **overrides: Any
    ) -> TrainerConfig:
        """The family's recipe for ``model`` on ``dataset``, with ``overrides`` applied."""
        return cls.Config(model=model, dataset=dataset, **overrides)

    # ------------------------------------------------------------------ training
    def batches_per_step(self) -> int:
        """How many real batches one :meth:`step` consumes."""
        return 1

    def step(self, batches: list[Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One training step: update every player once; return detached scalar tensors."""
        raise NotImplementedError

    def differentiated_twice(self) -> dict[str, str]:
        """The networks a penalty of this config differentiates twice (a gradient of a
        gradient), each with the penalty's name: torch.compile has no double backward, so the
        Trainer leaves them uncompiled."""
        return {}

    def compiled_modules(self, name: str) -> list[nn.Module]:
        """What ``--compile`` compiles of network ``name``: the modules the step calls. The
        network itself by default; a family whose step calls parts of a network (StyleGAN's
        ``G.mapping`` and ``G.synthesis``) names those, since compiling a module compiles its
        ``forward`` only."""
        return [self.networks[name]]

    def ema_active(self, step: int) -> bool:
        """Whether the EMA networks follow their networks after this step (False while the
        generator waits, e.g. during discriminator pre-training)."""
        return True

    # ------------------------------------------------------------------ sampling
    def latent(self, n: int, generator: torch.Generator | None = None) -> Any:
        """The sampling network's inputs for ``n`` samples, drawn on the CPU: a tensor (z) or
        a tuple of tensors (z and labels) whose first dimension is ``n``."""
        raise NotImplementedError

    @property
    def sampling_network(self) -> nn.Module:
        """The network to sample from: the EMA copy of :attr:`sampler` when there is one."""
        return self.networks.get(f"{self.sampler}_ema", self.networks[self.sampler])

    @torch.no_grad()
    def generate(self, inputs: Any, batch: int = 1000) -> torch.Tensor:
        """The sampling network on ``inputs`` (a tensor, or a tuple of tensors passed as its
        arguments) in eval mode; a CPU float32 tensor."""
        net = self.sampling_network
        parts = inputs if isinstance(inputs, tuple | list) else (inputs,)
        chunks = zip(*(t.split(batch) for t in parts), strict=True)
        was_training = net.training
        net.eval()
        try:
            out = [net(*to_device(chunk, self.device)).float().cpu() for chunk in chunks]
        finally:
            net.train(was_training)
        return torch.cat(out)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` samples, reproducible with ``seed`` on any device (inputs drawn on the CPU)."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        return self.generate(self.latent(n, torch.Generator().manual_seed(seed)))

    def sample_labelled(
        self, n: int, seed: int = 0, label: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples and their labels, of class ``label`` or of every class in equal shares
        (class-conditional families only)."""
        raise ValueError(
            f"a {self.name} run is not class-conditional: it has no labels to sample "
            "(train cgan for that)"
        )

    def translate(
        self, inputs: torch.Tensor, seed: int | None = None, direction: str = "a2b"
    ) -> torch.Tensor:
        """The translation of each input image, in ``direction`` (translating families only:
        see :attr:`directions`)."""
        raise ValueError(
            f"a {self.name} run generates images, it does not translate them (train pix2pix "
            "or cyclegan for that)"
        )

    # ------------------------------------------------------------------ state of its own
    def state_dict(self) -> dict[str, Any]:
        """State of the family's own that a checkpoint must hold (beyond networks and
        optimizers): a running mean, an image pool. Tensors, numbers, strings, containers."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
