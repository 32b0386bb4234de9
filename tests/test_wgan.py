"""The Wasserstein objective, WGAN-GP's gradient penalty and WGAN's weight clipping: closed
forms, an autograd oracle for the critic's update, exact resume, recipes, flags."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gannotes.cli import main
from gannotes.losses import (
    OBJECTIVES,
    clip_weights_,
    d_wasserstein_loss,
    g_wasserstein_loss,
    gradient_penalty,
)
from gannotes.models import MLPConfig, MLPDiscriminator, MLPGenerator
from gannotes.training import StepOptions, Trainer, adversarial_step, default_config


def small_toy(**overrides):
    base = dict(batch_size=32, log_every=5, snapshot_every=5, checkpoint_every=7, n_fixed=16)
    return default_config(
        "mlp", "ring", model_config=dict(hidden=32, depth=2, z_dim=4), **{**base, **overrides}
    )


# ----------------------------------------------------------------------------- the objective


def test_the_critic_loss_is_minus_the_kantorovich_rubinstein_gap():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, 0.5])
    assert d_wasserstein_loss(real, fake).item() == pytest.approx(-0.25 - 2.0)  # E f(G) - E f(x)
    assert g_wasserstein_loss(fake).item() == pytest.approx(0.25)
    assert OBJECTIVES["wasserstein"].logits is False  # no sigmoid: a critic's values


# ----------------------------------------------------------------------------- the penalty


class Linear(nn.Module):
    """f(x) = w . x: its gradient is w everywhere, so the penalty is lambda (|w| - 1)^2."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_closed_form_and_its_gradient_with_respect_to_the_critic():
    critic = Linear([3.0, 4.0])  # |w| = 5
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    penalty = gradient_penalty(critic, real, fake, 10.0)
    assert penalty.item() == pytest.approx(10 * (5 - 1) ** 2)
    # create_graph: the penalty is differentiable in w: d/dw lambda (|w|-1)^2 = 2 lambda (|w|-1) w/|w|
    (dw,) = torch.autograd.grad(penalty, critic.w)
    torch.testing.assert_close(dw, 2 * 10 * (5 - 1) * torch.tensor([3.0, 4.0]) / 5)


def test_gradient_penalty_interpolates_per_sample_and_takes_norms_per_sample():
    """f(x) = |x|^2 has gradient 2 x_hat: with eps given, the penalty is known exactly, and
    images are flattened per sample (one norm per image, over all its pixels)."""

    class Square(nn.Module):
        def forward(self, x):
            return x.flatten(1).square().sum(1)

    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    eps = torch.rand(5)
    x_hat = eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake
    slopes = (2 * x_hat).flatten(1).norm(dim=1)
    expected = 2.0 * ((slopes - 1) ** 2).mean()
    torch.testing.assert_close(gradient_penalty(Square(), real, fake, 2.0, eps=eps), expected)
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(  # drawn from the generator when eps is not given
        gradient_penalty(Square(), real, fake, generator=gen_a),
        gradient_penalty(Square(), real, fake, eps=torch.rand(5, generator=gen_b)),
    )
    with pytest.raises(ValueError, match="differ"):
        gradient_penalty(Square(), real, fake[:3])


def test_clip_weights_clamps_every_parameter():
    D = MLPDiscriminator(MLPConfig(hidden=8, depth=2))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(100)
    clip_weights_(D, 0.01)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())
    with pytest.raises(ValueError, match="positive"):
        clip_weights_(D, 0.0)


# ----------------------------------------------------------------------------- the step


def test_the_critics_update_with_the_penalty_against_autograd():
    """One critic update of the step, with SGD, equals the update on
    E f(G(z)) - E f(x) + lambda E[(|grad f(x_hat)| - 1)^2] written out here."""
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=8, depth=2, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    D_ref = MLPDiscriminator(cfg)
    D_ref.load_state_dict(D.state_dict())
    real, z = torch.randn(6, 2), torch.randn(12, 3)
    zs = iter(z.split(6))
    lr, lam = 0.05, 10.0

    eps = torch.rand(6, generator=torch.Generator().manual_seed(7))
    fake = G(z[:6]).detach()
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D_ref(x_hat).sum(), x_hat, create_graph=True)
    penalty = lam * ((g.norm(dim=1) - 1) ** 2).mean()
    loss = D_ref(fake).mean() - D_ref(real).mean() + penalty
    grads = torch.autograd.grad(loss, list(D_ref.parameters()))

    opts = StepOptions(gp=lam, generator=torch.Generator().manual_seed(7))
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr), torch.optim.SGD(D.parameters(), lr)
    stats = adversarial_step(G, D, opt_g, opt_d, [real], lambda n: next(zs), "wasserstein", opts)
    for p, p0, grad in zip(D.parameters(), D_ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p, p0 - lr * grad)
    assert stats["gp"].item() == pytest.approx(penalty.item(), rel=1e-5)
    assert {"score_real", "score_fake", "gp"} <= set(stats) and "d_real" not in stats


def test_clipping_follows_every_critic_update_and_never_touches_g():
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=8, depth=2, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    seen = []
    opt_g, opt_d = torch.optim.SGD(G.parameters(), 1.0), torch.optim.SGD(D.parameters(), 1.0)
    opt_d.register_step_post_hook(
        lambda *a: seen.append(max(p.abs().max().item() for p in D.parameters()))
    )
    adversarial_step(
        G,
        D,
        opt_g,
        opt_d,
        [torch.randn(4, 2) for _ in range(3)],
        lambda n: torch.randn(n, 3),
        "wasserstein",
        StepOptions(clip=0.01),
    )
    assert len(seen) == 3 and all(v > 0.01 for v in seen)  # each update leaves the box ...
    assert all(p.abs().max() <= 0.01 for p in D.parameters())  # ... and is clipped back
    assert max(p.abs().max().item() for p in G.parameters()) > 0.01


@pytest.mark.parametrize(
    "overrides",
    [dict(loss="wasserstein"), dict(loss="wasserstein", clip=0.01)],
    ids=["wgan-gp", "wgan-clip"],
)
def test_exact_resume_for_wasserstein_runs(tmp_path, overrides):
    straight = Trainer(small_toy(**overrides), tmp_path / "a")
    straight.run(steps=30, progress=False)
    first = Trainer(small_toy(**overrides), tmp_path / "b")
    first.run(steps=14, progress=False)
    resumed = Trainer.resume(tmp_path / "b")
    resumed.run(steps=30, progress=False)
    for name, net in straight.networks.items():
        for (key, p), q in zip(
            net.state_dict().items(), resumed.networks[name].state_dict().values(), strict=True
        ):
            assert torch.equal(p, q), (name, key)
    assert torch.equal(straight.sample(40, seed=2), resumed.sample(40, seed=2))
    timing = ("images_per_s", "seconds")
    assert {k: v for k, v in straight.history.items() if k not in timing} == {
        k: v for k, v in resumed.history.items() if k not in timing
    }
    key = "gp" if "clip" not in overrides else "score_real"
    assert key in straight.history


# ----------------------------------------------------------------------------- recipes and flags


def test_loss_wasserstein_picks_the_papers_settings_unless_overridden():
    gp = default_config("dcgan", "fashion-mnist", loss="wasserstein")
    # the DCGAN's: lambda 10 and layer norm from the paper, n_critic and Adam tuned for a CPU
    assert (gp.gp, gp.clip, gp.d_steps, gp.betas, gp.lr_g, gp.lr_d, gp.optimizer) == (
        10.0,
        0.0,
        1,
        (0.0, 0.9),
        1e-3,
        1e-3,
        "adam",
    )
    assert gp.model_cfg().d_norm == "layer"  # no BatchNorm in a penalised critic
    mlp = default_config("mlp", "fashion-mnist", loss="wasserstein")  # the paper's
    assert (mlp.gp, mlp.d_steps, mlp.betas, mlp.lr_g) == (10.0, 5, (0.5, 0.9), 1e-4)
    clip = default_config("dcgan", "fashion-mnist", loss="wasserstein", clip=0.05)
    assert (clip.clip, clip.gp, clip.optimizer, clip.lr_d, clip.d_steps) == (
        0.05,
        0.0,
        "rmsprop",
        5e-5,
        5,
    )
    mine = default_config("dcgan", "fashion-mnist", loss="wasserstein", gp=5.0, d_steps=2)
    assert (mine.gp, mine.d_steps) == (5.0, 2)
    toy = default_config("mlp", "grid", loss="wasserstein")
    assert toy.r1 == 0 and toy.gp == 10 and toy.model_config == {"hidden": 128}


def test_a_penalty_with_batchnorm_in_the_critic_is_warned_about():
    cfg = default_config(
        "dcgan", "fashion-mnist", loss="wasserstein", model_config=dict(d_norm="batch")
    )
    with pytest.warns(UserWarning, match="BatchNorm"):
        Trainer(cfg, data=torch.zeros(64, 1, 28, 28))


def test_the_command_line_trains_wgan_gp_and_refuses_bad_penalties(tmp_path, run_cli):
    out = tmp_path / "wgan"
    args = ["train", "dcgan", "--dataset", "fashion-mnist", "--out", out, "--quiet"]
    assert main(list(map(str, [*args, "--steps", "2", "--loss", "wasserstein", "--gp", "10"]))) == 0
    from gannotes.checkpoint import load_checkpoint

    cfg = load_checkpoint(out)["config"]
    assert (cfg["loss"], cfg["gp"], cfg["d_steps"]) == ("wasserstein", 10.0, 1)
    for flags, message in [
        (["--gp", "1", "--clip", "0.01"], "set one of them, not both"),
        (["--gp", "-1"], "argument --gp: expected a number >= 0, got -1"),
        (["--clip", "x"], "argument --clip: expected a number >= 0, got 'x'"),
        (["--loss", "wgan"], "argument --loss/--g-loss: invalid choice: 'wgan'"),
        (
            ["--loss", "wasserstein", "--label-smoothing", "0.1"],
            "the wasserstein objective has none",
        ),
    ]:
        result = run_cli(*args[:4], "--out", tmp_path / "bad", "--steps", "1", *flags)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and message in lines[0], result.stderr
