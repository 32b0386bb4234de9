"""gannotes.tricks and the training options built on them, each against an oracle kept here."""

import math

import pytest
import torch

from gannotes.checkpoint import load_checkpoint
from gannotes.losses import d_logistic_loss, d_loss_with_targets
from gannotes.models import MLPConfig, MLPDiscriminator, MLPGenerator
from gannotes.training import (
    StepOptions,
    TrainConfig,
    Trainer,
    adversarial_step,
    default_config,
    load_generator,
)
from gannotes.tricks import (
    MinibatchStdDev,
    add_instance_noise,
    apply_spectral_norm,
    diff_augment,
    ema_copy,
    ema_decay,
    ema_update_,
    flip_labels,
    instance_noise_std,
    pack,
    smooth_targets,
    top_k_fraction,
)


def bce_by_hand(logit: float, target: float) -> float:
    """-(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))), in plain math."""
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def small_toy(**overrides):
    base = dict(batch_size=32, log_every=5, snapshot_every=5, checkpoint_every=10, n_fixed=16)
    return default_config(
        "mlp", "ring", model_config=dict(hidden=32, depth=2, z_dim=4), **{**base, **overrides}
    )


# ----------------------------------------------------------------------------- labels


def test_targets_one_and_zero_are_the_logistic_loss():
    real, fake = torch.randn(7), torch.randn(5)
    torch.testing.assert_close(
        d_loss_with_targets(real, fake, 1.0, 0.0), d_logistic_loss(real, fake)
    )


def test_smoothed_and_flipped_targets_against_hand_computed_bce():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    targets = smooth_targets(2, 0.1)
    torch.testing.assert_close(targets, torch.tensor([0.9, 0.9]))
    expected = (bce_by_hand(2.0, 0.9) + bce_by_hand(-1.0, 0.9)) / 2 + (
        bce_by_hand(0.5, 0.0) + bce_by_hand(-3.0, 0.0)
    ) / 2
    assert d_loss_with_targets(real, fake, targets, 0.0).item() == pytest.approx(expected, rel=1e-6)
    flipped_fake = torch.tensor([1.0, 0.0])  # the first fake label flipped to "real"
    expected = (bce_by_hand(2.0, 1) + bce_by_hand(-1.0, 1)) / 2 + (
        bce_by_hand(0.5, 1) + bce_by_hand(-3.0, 0)
    ) / 2
    assert d_loss_with_targets(real, fake, 1.0, flipped_fake).item() == pytest.approx(
        expected, rel=1e-6
    )
    with pytest.raises(ValueError, match=r"label smoothing must be in \[0, 1\)"):
        smooth_targets(3, 1.0)


def test_flip_labels_flips_with_probability_p():
    gen = torch.Generator().manual_seed(0)
    t = torch.ones(20000)
    flipped = flip_labels(t, 0.2, gen)
    assert set(flipped.unique().tolist()) == {0.0, 1.0}
    assert (flipped == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert torch.equal(flip_labels(t, 0.0, gen), t)
    soft = flip_labels(torch.full((4,), 0.9), 1.0)
    torch.testing.assert_close(soft, torch.full((4,), 0.1))


# ----------------------------------------------------------------------------- instance noise


def test_instance_noise_schedule_is_linear_to_zero():
    assert [instance_noise_std(s, 0.4, 100) for s in (0, 25, 50, 100, 500)] == pytest.approx(
        [0.4, 0.3, 0.2, 0.0, 0.0]
    )
    x = torch.zeros(50000, 2)
    assert add_instance_noise(x, 0.0) is x
    noisy = add_instance_noise(x, 0.3, torch.Generator().manual_seed(1))
    assert noisy.std().item() == pytest.approx(0.3, rel=0.02)


# ----------------------------------------------------------------------------- DiffAugment


def test_translation_keeps_shape_and_shifts_content():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one bright pixel per image
    out = diff_augment(x, "translation", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for img in out[:, 0]:
        ((y, xx),) = img.nonzero().tolist()  # still exactly one bright pixel ...
        assert abs(y - 8) <= 2 and abs(xx - 8) <= 2  # ... shifted by at most 16/8 = 2
    shifts = {tuple(img.nonzero()[0].tolist()) for img in out[:, 0]}
    assert len(shifts) > 5  # each image gets its own shift
    # one shift per image, the same for all its channels
    y = torch.randn(3, 1, 16, 16)
    out = diff_augment(
        torch.cat([y, 2 * y], dim=1), "translation", torch.Generator().manual_seed(4)
    )
    torch.testing.assert_close(out[:, 1], 2 * out[:, 0])


def test_augmentations_are_differentiable_and_seeded():
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    for policy in ("color", "translation", "cutout", "color,translation,cutout"):
        out = diff_augment(x, policy, torch.Generator().manual_seed(0))
        assert out.shape == x.shape
        (grad,) = torch.autograd.grad(out.square().sum(), x)
        assert grad.abs().sum() > 0  # gradients reach the input
        again = diff_augment(x, policy, torch.Generator().manual_seed(0))
        assert torch.equal(out, again)  # same generator state, same random parameters
    pts = torch.randn(8, 2, requires_grad=True)
    out = diff_augment(pts, "jitter,translation", torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(out.sum(), pts)
    torch.testing.assert_close(grad, torch.ones(8, 2))  # additive: identity Jacobian
    with pytest.raises(ValueError, match="'cutout' does not apply"):
        diff_augment(pts, "cutout")
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        diff_augment(x, "blur")


def test_cutout_zeroes_a_square_of_half_the_size():
    out = diff_augment(torch.ones(10, 1, 8, 8), "cutout", torch.Generator().manual_seed(2))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert ((zeros > 0) & (zeros <= 16)).all()  # a 4x4 square, clipped at the border


# ----------------------------------------------------------------------------- D's view


def test_pack_shapes_and_order():
    x = torch.arange(12.0).reshape(6, 2)  # sample i is (2i, 2i+1)
    packed = pack(x, 3)
    assert packed.shape == (2, 6)
    assert packed[0].tolist() == [0, 1, 2, 3, 4, 5]  # samples 0, 1, 2 concatenated in order
    imgs = torch.randn(8, 1, 28, 28)
    p = pack(imgs, 4)
    assert p.shape == (2, 4, 28, 28) and torch.equal(p[1, 2], imgs[6, 0])
    assert pack(x, 1) is x
    with pytest.raises(ValueError, match="cannot pack a batch of 6 into groups of 4"):
        pack(x, 4)


def test_minibatch_std_against_a_hand_computed_std():
    x = torch.tensor([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0], [3.0, 4.0]])
    out = MinibatchStdDev(group_size=2, eps=0.0)(x)
    # group 1: stds of the features (population) 1 and 0 -> mean 0.5; group 2: 1 and 2 -> 1.5
    assert out.shape == (4, 3)
    torch.testing.assert_close(out[:, 2], torch.tensor([0.5, 0.5, 1.5, 1.5]))
    torch.testing.assert_close(out[:, :2], x)
    imgs = torch.randn(6, 3, 4, 4)
    out = MinibatchStdDev(group_size=8)(imgs)  # group = min(8, 6) = whole batch
    expected = imgs.std(dim=0, unbiased=False).mean()
    assert out.shape == (6, 4, 4, 4)
    torch.testing.assert_close(out[:, 3], expected.expand(6, 4, 4), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="not a multiple of group size 4"):
        MinibatchStdDev(4)(torch.randn(6, 2))


# ----------------------------------------------------------------------------- weights


class _WithAverage(torch.nn.Module):  # a BatchNorm layer and a buffer of another kind
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(3)
        self.register_buffer("w_avg", torch.zeros(2))  # as StyleGAN's mapping network keeps


def test_ema_update_is_the_formula_for_weights_and_running_statistics():
    """Weights and BatchNorm's running mean and variance follow the same average (hand
    computed: 0.9 old + 0.1 new); the batch counter and other buffers are copied. The running
    statistics were copied from the live network: statistics of other weights than the EMA's."""
    a, b = _WithAverage(), _WithAverage()
    with torch.no_grad():
        a.norm.weight.fill_(1.0)
        b.norm.weight.fill_(3.0)
    b.norm.running_mean.fill_(7.0)  # a's: 0 and 1, BatchNorm's start
    b.norm.running_var.fill_(3.0)
    b.norm.num_batches_tracked.fill_(5)
    b.w_avg.fill_(2.0)
    ema = ema_copy(a)
    ema_update_(ema, b, 0.9)
    torch.testing.assert_close(ema.norm.weight, torch.full((3,), 0.9 * 1 + 0.1 * 3))
    torch.testing.assert_close(ema.norm.running_mean, torch.full((3,), 0.9 * 0 + 0.1 * 7))
    torch.testing.assert_close(ema.norm.running_var, torch.full((3,), 0.9 * 1 + 0.1 * 3))
    assert int(ema.norm.num_batches_tracked) == 5 and torch.equal(ema.w_avg, b.w_avg)
    assert not ema.norm.weight.requires_grad
    assert [ema_decay(0.999, t) for t in (0, 8, 10**6)] == pytest.approx([0.1, 0.5, 0.999])


def test_spectral_norm_makes_the_largest_singular_value_one():
    torch.manual_seed(0)
    D = apply_spectral_norm(MLPDiscriminator(MLPConfig(hidden=16, depth=2)))
    for _ in range(30):  # power iterations happen in training-mode forward passes
        D(torch.randn(4, 2))
    linears = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for m in linears:
        sigma = torch.linalg.matrix_norm(m.weight.detach(), 2).item()
        assert sigma == pytest.approx(1.0, abs=1e-3)


# ----------------------------------------------------------------------------- training options


def test_rmsprop_when_asked_and_configs_are_validated():
    assert isinstance(Trainer(small_toy(optimizer="rmsprop")).opt_d, torch.optim.RMSprop)
    assert isinstance(Trainer(small_toy()).opt_g, torch.optim.Adam)
    for bad, match in [
        (dict(optimizer="sgd"), "unknown optimizer 'sgd'; valid: adam, rmsprop"),
        (dict(pack=5), "batch_size 32 must be divisible by pack 5"),
        (dict(label_smoothing=1.0), r"label_smoothing must be a number in \[0, 1\), got 1.0"),
        (dict(ema=1.0), r"ema must be a number in \[0, 1\) \(0: off\), got 1.0"),
        (dict(augment="color"), "augment 'color' does not apply to ring"),
        (dict(grad_clip=0.0), r"grad_clip must be a positive number \(None: off\), got 0.0"),
        (dict(r1=-1.0), r"r1 must be a number >= 0 \(0: off\), got -1.0"),
        (dict(r1=float("inf")), r"r1 must be a number >= 0 \(0: off\), got inf"),
        (dict(r1_every=0), "r1_every must be a positive integer, got 0"),
        (dict(d_pretrain_steps=-1), "d_pretrain_steps must be an integer >= 0, got -1"),
        (dict(pack=2.0), "pack must be a positive integer, got 2.0"),
        (dict(minibatch_std=True, batch_size=36, pack=2), "multiple of the group size 4"),
    ]:
        with pytest.raises(ValueError, match=match):
            small_toy(**bad)


def test_grad_clip_bounds_the_update_norm():
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=16, depth=2, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    seen = {}
    opt_g, opt_d = torch.optim.SGD(G.parameters(), 1e-3), torch.optim.SGD(D.parameters(), 1e-3)
    for name, opt in (("g", opt_g), ("d", opt_d)):
        opt.register_step_pre_hook(
            lambda o, *a, name=name: seen.__setitem__(
                name,
                torch.nn.utils.get_total_norm(
                    [p.grad for g in o.param_groups for p in g["params"]]
                ).item(),
            )
        )
    stats = adversarial_step(
        G,
        D,
        opt_g,
        opt_d,
        [10 * torch.randn(16, 2)],
        lambda n: torch.randn(n, 3),
        options=StepOptions(grad_clip=0.01),
    )
    assert stats["grad_norm_d"] > 0.01 and stats["grad_norm_g"] > 0.01  # norms before clipping
    assert seen["d"] == pytest.approx(0.01, rel=1e-4) and seen["g"] == pytest.approx(0.01, rel=1e-4)


def test_r1_adds_the_gradient_penalty_to_ds_step():
    """D's SGD update with r1 = gamma equals the update on the logistic loss plus
    gamma/2 E|grad_x D(x)|^2 at the reals, the penalty written out here with autograd."""
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=8, depth=2, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    D_ref = MLPDiscriminator(cfg)
    D_ref.load_state_dict(D.state_dict())
    real, z = torch.randn(6, 2), torch.randn(12, 3)
    zs = iter(z.split(6))
    gamma, lr = 3.0, 0.1

    x = real.clone().requires_grad_(True)
    logits = D_ref(x)
    grad_x = torch.autograd.grad(logits.sum(), x, create_graph=True)[0]  # [6, 2]: per sample
    penalty = gamma / 2 * (grad_x[:, 0] ** 2 + grad_x[:, 1] ** 2).mean()
    loss = d_logistic_loss(logits, D_ref(G(z[:6]).detach())) + penalty
    grads = torch.autograd.grad(loss, list(D_ref.parameters()))
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr), torch.optim.SGD(D.parameters(), lr)
    adversarial_step(G, D, opt_g, opt_d, [real], lambda n: next(zs), options=StepOptions(r1=gamma))
    for p, p0, g in zip(D.parameters(), D_ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p, p0 - lr * g)
    assert penalty.item() > 1e-3  # the penalty mattered
    assert not real.requires_grad  # the caller's batch is left alone


def test_lazy_r1_applies_the_scaled_penalty_every_nth_step():
    t = Trainer(small_toy(r1=0.5, r1_every=4))
    gammas, reported = [], []
    for _ in range(8):
        gammas.append(t.family.step_options(t.step).r1)
        reported.append(float(t.train_step()["r1"]))
    assert gammas == [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]  # same average: 0.5 a step
    assert [r > 0 for r in reported] == [g > 0 for g in gammas]  # the history shows the penalty
    assert Trainer(small_toy(r1=0.5, r1_every=1)).family.step_options(0).r1 == 0.5


def test_top_k_moves_g_on_the_fakes_d_scores_highest_only():
    """Top-k training (Sinha et al. 2020): G's SGD update with top_k = 0.5 equals the update on
    the non-saturating loss of the half of its fakes that D scores highest, picked here by
    sorting the scores by hand; the fraction falls linearly from 1 over top_k_steps."""
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=8, depth=2, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    G_ref = MLPGenerator(cfg)
    G_ref.load_state_dict(G.state_dict())
    real, z = torch.randn(6, 2), torch.randn(12, 3)
    lr = 0.1
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr), torch.optim.SGD(D.parameters(), lr)
    zs = iter(z.split(6))
    adversarial_step(G, D, opt_g, opt_d, [real], lambda n: next(zs), options=StepOptions(top_k=0.5))
    # the oracle: D after its own update (the step updates D first), G's 6 fakes scored, the
    # 3 best kept by sorting in Python, G's loss -log sigmoid(l) averaged over those 3
    scores = D(G_ref(z[6:]))
    by_score = scores.tolist()
    best = sorted(range(6), key=lambda i: -by_score[i])[:3]
    loss = sum(-torch.log(torch.sigmoid(scores[i])) for i in best) / 3
    grads = torch.autograd.grad(loss, list(G_ref.parameters()))
    for p, p0, g in zip(G.parameters(), G_ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p, p0 - lr * g)
    assert min(by_score) < min(by_score[i] for i in best)  # a fake was left out
    assert [top_k_fraction(s, 0.5, 100) for s in (0, 50, 100, 500)] == [1.0, 0.75, 0.5, 0.5]
    assert top_k_fraction(0, 0.5, 0) == 0.5
    t = Trainer(small_toy(top_k=0.5, top_k_steps=4))
    assert [t.family.step_options(s).top_k for s in (0, 2, 4, 8)] == [1.0, 0.75, 0.5, 0.5]
    with pytest.raises(ValueError, match="top_k must be"):
        small_toy(top_k=0.0)


def test_d_pretraining_leaves_g_unchanged():
    t = Trainer(small_toy(d_pretrain_steps=10, ema=0.9))
    g0 = [p.clone() for p in t.G.parameters()]
    d0 = [p.clone() for p in t.D.parameters()]
    t.run(steps=10, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(g0, t.G.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(d0, t.D.parameters(), strict=True))
    assert t.history["grad_norm_g"] == [0.0, 0.0] and all(v > 0 for v in t.history["grad_norm_d"])
    t.run(steps=11, progress=False)  # then G starts
    assert not all(torch.equal(p, q) for p, q in zip(g0, t.G.parameters(), strict=True))


def test_history_holds_gradient_norms_in_equal_lists():
    h = Trainer(small_toy(pack=2, minibatch_std=True, spectral_norm=True)).run(
        steps=10, progress=False
    )
    assert {"grad_norm_d", "grad_norm_g"} <= set(h)
    assert len({len(v) for v in h.values()}) == 1
    assert all(v > 0 for v in h["grad_norm_g"])


TRICKS = dict(
    ema=0.9,
    pack=4,
    instance_noise=0.1,
    instance_noise_steps=30,
    augment="jitter,translation",
    label_noise=0.1,
    label_smoothing=0.1,
    minibatch_std=True,
    spectral_norm=True,
    grad_clip=5.0,
    r1=0.5,
    r1_every=3,
    d_pretrain_steps=3,
)


def test_exact_resume_with_tricks_on(tmp_path):
    # the toy recipe's lr decay runs over a fixed horizon of steps, so it resumes exactly too
    assert small_toy().lr_decay and small_toy().lr_decay_steps
    straight = Trainer(small_toy(**TRICKS), tmp_path / "a")
    straight.run(steps=40, progress=False)
    first = Trainer(small_toy(**TRICKS), tmp_path / "b")
    first.run(steps=20, progress=False)
    resumed = Trainer.resume(tmp_path / "b")
    resumed.run(steps=40, progress=False)
    for key in ("G", "D", "G_ema"):
        a, b = straight.state_dict()["networks"][key], resumed.state_dict()["networks"][key]
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), (key, name)
    assert torch.equal(straight.sample(50, seed=3), resumed.sample(50, seed=3))
    timing = {"images_per_s", "seconds"}
    assert {k: v for k, v in straight.history.items() if k not in timing} == {
        k: v for k, v in resumed.history.items() if k not in timing
    }
    # the checkpoint loads safely (weights_only=True), spectral-norm keys included
    state = load_checkpoint(tmp_path / "b")
    assert any("parametrizations.weight.original" in k for k in state["networks"]["D"])
    G, config = load_generator(tmp_path / "b")  # the EMA generator
    assert config.ema == 0.9
    assert torch.equal(G.net[0].weight, resumed.G_ema.net[0].weight)
    assert not torch.equal(G.net[0].weight, resumed.G.net[0].weight)


def test_image_tricks_run_on_dcgan():
    cfg = default_config(
        "dcgan",
        "fashion-mnist",
        batch_size=8,
        pack=2,
        minibatch_std=True,
        ema=0.5,
        augment="color,translation,cutout",
        spectral_norm=True,
        log_every=2,
        n_fixed=4,
        model_config=dict(g_width=4, d_width=4),
    )
    t = Trainer(cfg, data=torch.rand(16, 1, 28, 28) * 2 - 1)
    h = t.run(steps=4, progress=False)
    assert len(h["loss_d"]) == 2 and all(math.isfinite(v) for v in h["loss_d"] + h["loss_g"])
    assert t.D.net[0].in_channels == 2  # packs of 2 single-channel images
    assert isinstance(TrainConfig().pack, int)


def test_r1_with_packing_is_r1_on_the_packs_d_judges():
    """R1 = gamma/2 E|grad D|^2 over D's inputs: with PacGAN those are the N/m packs, so the
    penalty is autograd's on the packed batch (the mean over the N samples was m times too
    small)."""
    from gannotes.gans.classic import StepOptions, adversarial_step
    from gannotes.tricks import pack

    torch.manual_seed(0)
    G = torch.nn.Linear(3, 2)
    D = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real = torch.randn(8, 2)
    packed = pack(real, 2).requires_grad_(True)  # [4, 4]
    (grad,) = torch.autograd.grad(D(packed).sum(), packed)
    want = 0.5 * 3.0 * grad.square().sum(1).mean()
    opt_g = torch.optim.SGD(G.parameters(), lr=0.0)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.0)
    stats = adversarial_step(
        G, D, opt_g, opt_d, [real], lambda n: torch.randn(n, 3), options=StepOptions(pack=2, r1=3.0)
    )
    torch.testing.assert_close(stats["r1"], want.detach())
