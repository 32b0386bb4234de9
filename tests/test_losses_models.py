"""gannotes.losses against closed forms and autograd; gannotes.models shapes, ranges, init."""

import math

import pytest
import torch
import torch.nn.functional as F

from gannotes.losses import (
    OBJECTIVES,
    d_logistic_loss,
    d_loss_with_targets,
    g_loss,
    g_minimax_loss,
    g_nonsaturating_loss,
    optimal_discriminator,
    r1_penalty,
    value_function,
)
from gannotes.models import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPConfig,
    MLPDiscriminator,
    MLPGenerator,
    build_models,
    config_for,
)

LOGITS = torch.tensor([-6.0, -2.0, -0.3, 0.0, 0.7, 3.0])


# ----------------------------------------------------------------------------- losses


def test_d_loss_is_binary_cross_entropy_with_real_one_fake_zero():
    real, fake = torch.randn(7), torch.randn(5)
    expected = F.binary_cross_entropy(torch.sigmoid(real), torch.ones(7)) + F.binary_cross_entropy(
        torch.sigmoid(fake), torch.zeros(5)
    )
    torch.testing.assert_close(d_logistic_loss(real, fake), expected)


def test_generator_losses_match_the_papers_formulas():
    d = torch.sigmoid(LOGITS.double())
    torch.testing.assert_close(g_minimax_loss(LOGITS.double()), torch.log(1 - d).mean())
    torch.testing.assert_close(g_nonsaturating_loss(LOGITS.double()), -torch.log(d).mean())
    assert g_loss("minimax", LOGITS) == g_minimax_loss(LOGITS)
    with pytest.raises(ValueError, match="valid: nonsaturating, minimax"):
        g_loss("vanilla", LOGITS)


def test_minimax_saturates_where_nonsaturating_does_not():
    """d/dl of log(1 - sigmoid(l)) is -sigmoid(l) (vanishes as D rejects); of -log sigmoid(l) is
    -(1 - sigmoid(l)) (stays near -1)."""
    logits = LOGITS.clone().requires_grad_(True)
    (grad_mm,) = torch.autograd.grad(g_minimax_loss(logits), logits)
    (grad_ns,) = torch.autograd.grad(g_nonsaturating_loss(logits), logits)
    n = len(LOGITS)
    torch.testing.assert_close(grad_mm, -torch.sigmoid(LOGITS) / n)
    torch.testing.assert_close(grad_ns, -(1 - torch.sigmoid(LOGITS)) / n)
    assert abs(grad_mm[0]) < 0.01 * abs(grad_ns[0])  # at D(G(z)) ~ 0.0025


def test_losses_are_finite_for_extreme_logits():
    extreme = torch.tensor([-1e4, 1e4])
    for value in (
        d_logistic_loss(extreme, extreme),
        g_minimax_loss(extreme),
        g_nonsaturating_loss(extreme),
    ):
        assert torch.isfinite(value)


def test_losses_accept_score_maps_and_reject_scores_without_a_batch_axis():
    """A PatchGAN scores a map [N, 1, H, W]: every loss is the mean over all of its scores,
    the same as on the flattened scores."""
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4, 1, 3, 3, generator=gen), torch.randn(4, 1, 3, 3, generator=gen)
    for name, obj in OBJECTIVES.items():
        torch.testing.assert_close(
            obj.d_loss(real, fake), obj.d_loss(real.flatten(), fake.flatten())
        )
        torch.testing.assert_close(obj.g_loss(fake), obj.g_loss(fake.flatten()), msg=name)
    flips = torch.tensor([1.0, 0.0, 1.0, 1.0])  # per-sample targets apply to the whole map
    torch.testing.assert_close(
        d_loss_with_targets(real, fake, flips, 0.0),
        d_loss_with_targets(real.flatten(), fake.flatten(), flips.repeat_interleave(9), 0.0),
    )
    with pytest.raises(ValueError, match=r"batch axis first"):
        d_logistic_loss(torch.tensor(0.5), torch.zeros(4))


def test_optimal_discriminator_for_two_gaussians():
    """p_data = N(0,1), p_g = N(2,1): D*(x) = sigmoid(log p_data - log p_g) = sigmoid(2 - 2x)."""
    x = torch.linspace(-3, 5, 101, dtype=torch.float64)
    p_data = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    p_g = torch.exp(-0.5 * (x - 2) ** 2) / math.sqrt(2 * math.pi)
    torch.testing.assert_close(optimal_discriminator(p_data, p_g), torch.sigmoid(2 - 2 * x))
    assert optimal_discriminator(torch.tensor([0.0]), torch.tensor([0.0])).item() == 0.5


def test_value_at_optimal_discriminator_is_minus_log4_plus_twice_jsd():
    """Theorem 1: C(G) = V(D*, G) = -log 4 + 2 JSD(p_data || p_g), on discrete distributions."""
    p = torch.tensor([0.5, 0.3, 0.2, 0.0], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.2, 0.4], dtype=torch.float64)
    d_star = optimal_discriminator(p, q)
    logit = torch.log(d_star) - torch.log1p(-d_star)  # D* as a logit, per point
    # V as an expectation: weight each point by its probability under p (real) or q (fake)
    real_term = (p * -F.softplus(-logit)).nansum()
    fake_term = (q * -F.softplus(logit)).nansum()
    m = (p + q) / 2
    kl = lambda a, b: (a * (a / b).log()).nansum()  # noqa: E731
    jsd = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    torch.testing.assert_close(real_term + fake_term, -math.log(4) + 2 * jsd)
    # and the batch estimator agrees with the loss: V = -d_logistic_loss
    r, f = torch.randn(9), torch.randn(9)
    torch.testing.assert_close(value_function(r, f), -d_logistic_loss(r, f))


def test_optimal_discriminator_validates():
    with pytest.raises(ValueError, match="non-negative"):
        optimal_discriminator(torch.tensor([-1.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="differ in shape"):
        optimal_discriminator(torch.ones(2), torch.ones(3))


def test_r1_penalty_matches_closed_forms_and_is_differentiable():
    """Linear D(x) = w.x has grad_x = w everywhere: R1 = gamma/2 |w|^2, d/dw = gamma w.
    Quadratic D(x) = |x|^2 has grad_x = 2x: R1 = gamma/2 E[4 |x|^2]."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=gen).requires_grad_(True)
    w = torch.tensor([0.3, -1.2], requires_grad=True)
    penalty = r1_penalty(x @ w, x, gamma=10.0)
    torch.testing.assert_close(penalty, 5.0 * w.detach().square().sum())
    (dw,) = torch.autograd.grad(penalty, w)
    torch.testing.assert_close(dw, 10.0 * w.detach())
    penalty = r1_penalty(x.square().sum(1), x, gamma=0.5)
    torch.testing.assert_close(penalty, 0.25 * (4 * x.detach().square().sum(1)).mean())
    images = torch.randn(8, 1, 28, 28, generator=gen).requires_grad_(True)
    logits = (images * 2).flatten(1).sum(1)
    torch.testing.assert_close(r1_penalty(logits, images, 1.0), torch.tensor(0.5 * 4 * 784))


def test_r1_penalty_needs_reals_that_require_grad():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="reals must require grad"):
        r1_penalty(x.sum(1), x, 1.0)


# ----------------------------------------------------------------------------- models


def test_mlp_shapes_for_points_and_images():
    G, D = MLPGenerator(), MLPDiscriminator()
    z = torch.randn(5, MLPConfig().z_dim)
    assert G(z).shape == (5, 2) and D(G(z)).shape == (5,)
    cfg = config_for("mlp", "fashion-mnist")
    G, D = build_models(cfg)
    x = G(torch.randn(3, cfg.z_dim))
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (3,)


def test_dcgan_shapes_range_and_init():
    G, D = DCGANGenerator(), DCGANDiscriminator()
    x = G(torch.randn(4, DCGANConfig().z_dim))
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (4,)
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    bn = [m for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    assert abs(bn.weight.mean().item() - 1) < 0.02


def test_models_reject_wrong_shapes_with_a_clear_message():
    with pytest.raises(ValueError, match=r"z has shape \(2, 3\), expected \(None, 64\)"):
        DCGANGenerator()(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected"):
        DCGANDiscriminator()(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="expected"):
        MLPDiscriminator()(torch.randn(2, 3))


def test_config_for_validates_pairs_and_overrides():
    assert config_for("dcgan", "fashion-mnist", g_width=8).g_width == 8
    with pytest.raises(ValueError, match="use it with fashion-mnist"):
        config_for("dcgan", "ring")
    with pytest.raises(ValueError, match="valid models are mlp, dcgan"):
        config_for("vae", "ring")
    with pytest.raises(TypeError):
        build_models(object())


def test_hinge_and_least_squares_objectives_match_their_papers():
    """Hinge (Lim and Ye 2017; Miyato et al. 2018 Eq. 16-17) and least squares (Mao et al.
    2017, Eq. 2 with a = 0, b = c = 1), against the formulas written out per sample."""
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.3])
    hinge, ls = OBJECTIVES["hinge"], OBJECTIVES["least-squares"]
    d_hinge = (0 + 0.5 + 2.0) / 3 + (0 + 1.3) / 2  # mean max(0, 1 - r) + mean max(0, 1 + f)
    assert hinge.d_loss(real, fake).item() == pytest.approx(d_hinge)
    assert hinge.g_loss(fake).item() == pytest.approx(-(-2.0 + 0.3) / 2)
    d_ls = 0.5 * (1 + 0.25 + 4) / 3 + 0.5 * (4 + 0.09) / 2
    assert ls.d_loss(real, fake).item() == pytest.approx(d_ls)
    assert ls.g_loss(fake).item() == pytest.approx(0.5 * (9 + 0.49) / 2)
    assert not hinge.logits and not ls.logits
    with pytest.raises(
        ValueError, match="valid: nonsaturating, minimax, wasserstein, hinge, least-squares"
    ):
        g_loss("vanilla", LOGITS)
