"""The StyleGAN family: a style-based generator, its parts and its claims' measurements.

Oracles: AdaIN's and demodulation's closed forms (output statistics), a per-sample grouped
convolution with the paper's Eq. 1 and 3 weights written out, Adam's first step (for the
equalised learning rate and the mapping network's 0.01), the moving average written out, the
truncation formula, the truncated normal's variance, linear maps whose path length and
Jacobian are known, and the engine's exact-resume guarantee.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gannotes.cli import main
from gannotes.gans.stylegan import crossover_layers, mix_ws, path_lengths
from gannotes.models.stylegan import (
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    NoiseInput,
    StyleDiscriminator,
    StyleGANConfig,
    StyleGenerator,
    adain,
    fade_in,
    modulate_demodulate,
)
from gannotes.style import (
    perceptual_path_length,
    resampling_std,
    slerp,
    truncated_normal,
)
from gannotes.training import Trainer, default_config, load_family

SMALL = dict(model_config=dict(width=8, d_width=8, z_dim=16, w_dim=16), batch_size=8, log_every=5)


@pytest.fixture(scope="module")
def images():
    from gannotes.data import dataset_tensors

    return dataset_tensors("fashion-mnist", "test", limit=64)[0]["images"]


# ----------------------------------------------------------------------------- the parts


def test_adain_sets_each_channels_mean_and_std_to_the_style():
    gen = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(4, 5, 8, 8, generator=gen) + 2
    y_s, y_b = torch.rand(4, 5, generator=gen) + 0.5, torch.randn(4, 5, generator=gen)
    out = adain(x, y_s, y_b)
    torch.testing.assert_close(out.mean(dim=(2, 3)), y_b, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), y_s, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="y_s has shape"):
        adain(x, y_s[:, :3], y_b)


def test_modulated_conv_is_a_per_sample_convolution_with_the_papers_weights():
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 4, 3, w_dim=5)
    x, w = torch.randn(3, 6, 7, 7), torch.randn(3, 5)
    s = conv.affine(w)
    weights = modulate_demodulate(conv.weight * conv.scale, s)  # [N, O, I, 3, 3]
    want = torch.cat([F.conv2d(x[i : i + 1], weights[i], padding=1) for i in range(3)])
    torch.testing.assert_close(conv(x, w), want, atol=1e-5, rtol=1e-5)
    # Eq. 1 and 3 written out for one weight
    wt, st = conv.weight * conv.scale, s[1]
    j = 2
    mod = st[:, None, None] * wt[j]
    torch.testing.assert_close(weights[1, j], mod / mod.square().sum().add(1e-8).sqrt())
    plain = modulate_demodulate(wt, s, demodulate=False)
    torch.testing.assert_close(plain[0], wt * s[0][None, :, None, None])


def test_demodulation_gives_unit_output_variance_for_unit_variance_input():
    torch.manual_seed(0)
    conv = ModulatedConv2d(32, 16, 3, w_dim=8)
    with torch.no_grad():
        conv.affine.weight.mul_(3)  # styles far from 1: the input is strongly rescaled
    x = torch.randn(4, 32, 40, 40)
    out = conv(x, torch.randn(4, 8))[:, :, 1:-1, 1:-1]  # away from the zero padding
    std = out.std(dim=(2, 3))  # [N, O]: every sample, every channel
    assert std.min() > 0.93 and std.max() < 1.07, std
    raw = ModulatedConv2d(32, 16, 3, w_dim=8, demodulate=False)
    raw.load_state_dict(conv.state_dict())
    assert raw(x, torch.randn(4, 8)).std() > 1.5  # without demodulation the scale drifts


def test_equalised_layers_scale_by_he_and_the_mapping_rate_is_100x_smaller():
    torch.manual_seed(0)
    lin = EqualLinear(400, 50)
    assert (lin.weight * lin.scale).std().item() == pytest.approx(1 / math.sqrt(400), rel=0.05)
    conv = EqualConv2d(16, 8, 3)
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(144), conv.bias))
    # One Adam step moves each stored weight by ~lr; the effective weight moves by lr * scale.
    moves = []
    for lr_mul in (1.0, 0.01):
        torch.manual_seed(1)
        layer = EqualLinear(64, 64, lr_mul=lr_mul)
        before = (layer.weight * layer.scale).detach().clone()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
        layer(torch.randn(8, 64)).square().sum().backward()
        opt.step()
        moves.append((layer.weight * layer.scale - before).abs().mean().item())
    assert moves[1] / moves[0] == pytest.approx(0.01, rel=5e-3)  # Adam's eps: not exact


def test_noise_inputs_start_silent_and_add_strength_times_noise():
    layer = NoiseInput(3)
    x, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(layer(x, noise), x)
    with torch.no_grad():
        layer.strength.copy_(torch.tensor([0.0, 1.0, -2.0]))
    torch.testing.assert_close(layer(x, noise)[:, 2], x[:, 2] - 2 * noise[:, 0])


def test_fade_in_blends_the_upsampled_old_image_into_the_new():
    low, high = torch.randn(2, 1, 7, 7), torch.randn(2, 1, 14, 14)
    up = low.repeat_interleave(2, 2).repeat_interleave(2, 3)  # nearest, written out
    torch.testing.assert_close(fade_in(0.0, low, high), up)
    torch.testing.assert_close(fade_in(1.0, low, high), high)
    torch.testing.assert_close(fade_in(0.25, low, high), 0.75 * up + 0.25 * high)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        fade_in(1.5, low, high)


@pytest.mark.parametrize("block", ["modulated", "adain"])
def test_generator_shapes_truncation_and_w_avg(block):
    torch.manual_seed(0)
    cfg = StyleGANConfig(
        width=8, d_width=8, z_dim=16, w_dim=16, block=block, w_avg_decay=0.9, tanh=True
    )
    G, D = StyleGenerator(cfg), StyleDiscriminator(cfg)
    assert cfg.num_ws == 7 and [s[1] for s in G.synthesis.noise_shapes] == [7, 7, 14, 14, 28, 28]
    z = torch.randn(8, 16)
    noise = [torch.randn(8, *s) for s in G.synthesis.noise_shapes]
    assert G(z, *noise).shape == (8, 1, 28, 28) and D(G(z)).shape == (8,)
    raw = StyleGenerator(StyleGANConfig(width=8, z_dim=16, w_dim=16, block=block, tanh=False))
    raw.load_state_dict(G.state_dict())
    torch.testing.assert_close(G(z, *noise), torch.tanh(raw(z, *noise)))  # the output squash
    G(z, *noise).square().mean().backward()  # every parameter takes part: none is dead
    assert [n for n, p in G.named_parameters() if p.grad is None] == []
    with pytest.raises(ValueError, match="expected 6 noise maps"):
        G(z, *noise[:2])
    # w_avg: a moving average of the batch means, updated in training mode only
    G.train()
    G.mapping.w_avg.zero_()  # (the calls above, in training mode, moved it)
    with torch.no_grad():
        w = G.mapping(z)
    torch.testing.assert_close(G.mapping.w_avg, 0.1 * w.mean(0))
    G.eval()
    with torch.no_grad():
        G.mapping(torch.randn(8, 16))
    torch.testing.assert_close(G.mapping.w_avg, 0.1 * w.mean(0))
    # the truncation trick: w_avg + psi (w - w_avg), the same w at every layer
    avg = G.mapping.w_avg
    with torch.no_grad():
        for psi in (0.0, 0.5, 1.0):
            ws = G.ws(z, psi)
            assert ws.shape == (8, 7, 16)
            torch.testing.assert_close(ws[:, 3], avg + psi * (w - avg))
            torch.testing.assert_close(ws[:, 0], ws[:, 6])


def test_mixing_takes_the_first_k_layers_from_a():
    a, b = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    mixed = mix_ws(a, b, 2)
    assert mixed[:, :2].eq(0).all() and mixed[:, 2:].eq(1).all()
    assert mix_ws(a, b, 0).eq(1).all() and mix_ws(a, b, 6).eq(0).all()
    with pytest.raises(ValueError, match="crossover must be a layer in 0-6"):
        mix_ws(a, b, 7)
    assert crossover_layers((2, 2, 2)) == {"coarse": 3, "middle": 5, "all": 7, "none": 0}
    assert crossover_layers((3, 2, 1)) == {"coarse": 4, "middle": 6, "all": 7, "none": 0}


def test_path_lengths_are_the_jacobian_vector_norms():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(2, 3, 5, generator=gen)  # image [2 px, 3 layers x 5 dims -> flattened]
    ws = torch.randn(4, 3, 5, generator=gen, requires_grad=True)
    img = torch.einsum("pld,nld->np", A, ws).reshape(4, 1, 1, 2)
    y = torch.randn(4, 1, 1, 2, generator=gen)
    got = path_lengths(img, ws, y)
    jt_y = torch.einsum("pld,np->nld", A, y.reshape(4, 2))  # J^T y, by hand
    torch.testing.assert_close(got, jt_y.square().sum(2).mean(1).sqrt())


# ----------------------------------------------------------------------------- measurements


def test_truncated_normal_has_the_closed_form_variance():
    t = 1.0
    z = truncated_normal(20000, 8, t, torch.Generator().manual_seed(0))
    assert z.abs().max() <= t
    phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    big_phi = 0.5 * (1 + math.erf(t / math.sqrt(2)))
    var = 1 - 2 * t * phi / (2 * big_phi - 1)
    assert z.var().item() == pytest.approx(var, rel=0.02)
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        truncated_normal(2, 2, 0.0)


def test_slerp_walks_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    for t in (0.0, 0.3, 1.0):
        angle = t * math.pi / 2
        want = torch.tensor([[math.cos(angle), math.sin(angle)]])
        torch.testing.assert_close(slerp(a, b, torch.tensor([t])), want)


def test_path_length_of_a_linear_generator_is_its_stretch_squared():
    # G(l) = M l and d = squared distance: d(G(l(t)), G(l(t + eps))) / eps^2 = |M (b - a)|^2
    # in W (linear interpolation), whatever t is.
    gen = torch.Generator().manual_seed(0)
    M = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    a, b = (
        torch.randn(50, 4, generator=gen, dtype=torch.float64),
        torch.randn(50, 4, dtype=torch.float64),
    )
    mean, values = perceptual_path_length(
        lambda lat: lat @ M.T, (a, b), "w", eps=1e-3, distance=lambda x, y: (x - y).square().sum(1)
    )
    want = ((b - a) @ M.T).square().sum(1).numpy()
    np.testing.assert_allclose(values, want, rtol=1e-6)
    kept = want[(want >= np.percentile(want, 1)) & (want <= np.percentile(want, 99))]
    assert mean == pytest.approx(kept.mean())
    # In Z: on the unit circle, slerp moves at the angular speed omega, so the length is omega^2.
    a2, b2 = (
        torch.tensor([[1.0, 0.0]] * 4, dtype=torch.float64),
        torch.tensor([[0.0, 1.0]] * 4, dtype=torch.float64),
    )
    _, v = perceptual_path_length(
        lambda lat: lat, (a2, b2), "z", eps=1e-4, distance=lambda x, y: (x - y).square().sum(1)
    )
    np.testing.assert_allclose(v, (math.pi / 2) ** 2, rtol=1e-4)


def test_feature_distance_is_between_unit_normalised_features(images):
    from gannotes.features import features
    from gannotes.style import feature_distance

    x, y = images[:4], images[4:8]
    fx, fy = (torch.from_numpy(features(v)) for v in (x, y))
    want = (fx / fx.norm(dim=1, keepdim=True) - fy / fy.norm(dim=1, keepdim=True)).square().sum(1)
    torch.testing.assert_close(feature_distance(x, y), want)
    assert feature_distance(x, x).abs().max() < 1e-12


def test_resampling_std_is_the_std_over_redraws():
    x = torch.stack([torch.zeros(2, 1, 3, 3), 2 * torch.ones(2, 1, 3, 3)])
    torch.testing.assert_close(resampling_std(x), torch.full((2, 1, 3, 3), math.sqrt(2)))
    with pytest.raises(ValueError, match="K >= 2"):
        resampling_std(x[:1])


# ----------------------------------------------------------------------------- the family


def test_stylegan_trains_and_resumes_exactly(images, tmp_path):
    cfg = default_config(
        "stylegan",
        **SMALL,
        r1_every=3,
        pl_weight=2.0,
        pl_every=2,
        checkpoint_every=5,
        lr_decay_steps=10,  # a fixed horizon: "5, then resume to 10" follows the schedule of "10"
    )
    straight = Trainer(cfg, data=images, device="cpu")
    straight.run(steps=10, progress=False)
    first = Trainer(cfg, tmp_path, data=images, device="cpu")
    first.run(steps=5, progress=False)
    resumed = Trainer.resume(tmp_path, data=images, device="cpu")
    torch.testing.assert_close(resumed.family.pl_mean, first.family.pl_mean)
    resumed.run(steps=10, progress=False)
    torch.testing.assert_close(resumed.sample(6, seed=1), straight.sample(6, seed=1))
    timing = ("images_per_s", "seconds")
    assert {k: v for k, v in resumed.history.items() if k not in timing} == {
        k: v for k, v in straight.history.items() if k not in timing
    }
    assert straight.family.pl_mean > 0 and "r1" in straight.history
    w_avg = straight.networks["G"].mapping.w_avg
    assert w_avg.abs().sum() > 0  # tracked during training
    torch.testing.assert_close(straight.networks["G_ema"].mapping.w_avg, w_avg)


def test_w_avg_follows_the_main_batch_only(images):
    """w_avg moves towards the main batch's mean w, not the style-mixing latent's or the
    path-length batch's (StyleGAN2-ADA maps the mixing latent with skip_w_avg_update=True;
    StyleGAN3's loss updates the average from one batch's mapping per step). The oracle: the
    mapping before the step on the step's first noise draw, lerped by hand."""
    cfg = default_config("stylegan", **SMALL, style_mixing=1.0, pl_weight=2.0, pl_every=1)
    t = Trainer(cfg, data=images, device="cpu")
    mapping = t.networks["G"].mapping
    before, decay = mapping.w_avg.clone(), mapping.cfg.w_avg_decay
    draws = torch.Generator()
    draws.set_state(t.noise_gen.get_state())
    z = t.family.latent(cfg.batch_size, draws)[0]  # the main batch's z: the step's first draw
    with torch.no_grad():
        w = copy.deepcopy(mapping).eval()(z)
    assert "pl_penalty" in t.train_step()  # the step mapped a mixing and a path-length batch
    torch.testing.assert_close(mapping.w_avg, w.mean(0).lerp(before, decay), rtol=0, atol=1e-7)
    with torch.no_grad():  # a call asked not to update leaves it
        after = mapping.w_avg.clone()
        mapping(torch.randn(4, 16), update_w_avg=False)
        t.networks["G"].ws(torch.randn(4, 16), update_w_avg=False)
    assert torch.equal(mapping.w_avg, after)


def test_lazy_r1_runs_every_nth_step_in_the_main_step_with_adams_settings_unchanged(
    images, monkeypatch
):
    """Lazy R1 as in the classic family: the penalty (times N) joins D's loss every N-th step
    and D steps once per training step, so there is no separate regularisation step for
    StyleGAN2's N/(N+1) correction of Adam's rate and betas to correct (it was applied without
    one: lr 0.8x, betas ** 0.8 with N = 4)."""
    import gannotes.gans.stylegan as sg

    calls, applied = [], []
    real = sg.r1_penalty

    def r1_penalty(*a):
        calls.append(a[2])
        value = real(*a)
        applied.append(float(value))
        return value

    monkeypatch.setattr(sg, "r1_penalty", r1_penalty)
    t = Trainer(
        default_config(
            "stylegan", **{**SMALL, "log_every": 9}, r1=0.5, r1_every=4, pl_weight=2.0, lr_decay=""
        ),
        data=images,
        device="cpu",
    )
    steps = {"G": 0, "D": 0}
    for name, opt in t.optimizers.items():
        opt.register_step_post_hook(lambda *_, name=name: steps.__setitem__(name, steps[name] + 1))
    t.run(steps=9, progress=False)
    assert calls == [2.0, 2.0, 2.0]  # steps 0, 4, 8; gamma times r1_every
    # the penalty is logged as 0 on the steps it skips (as the classic family logs it): a row's
    # mean over 9 steps is the penalty's average per step, not its value on the steps it ran
    assert t.history["r1"][0] == pytest.approx(sum(applied) / len(applied) * 3 / 9, rel=1e-5)
    assert steps == {"G": 9, "D": 9}  # one step of each per training step, penalty or not
    cfg = t.config
    for name, lr in (("D", cfg.lr_d), ("G", cfg.lr_g)):
        group = t.optimizers[name].param_groups[0]
        assert group["lr"] == pytest.approx(lr) and group["betas"] == pytest.approx(cfg.betas)


def test_samples_are_reproducible_clamped_and_mixing_recovers_each_seed(images):
    t = Trainer(default_config("stylegan", **SMALL), data=images, device="cpu")
    t.run(steps=3, progress=False)
    fam = t.family
    x = fam.sample(5, seed=3)
    torch.testing.assert_close(x, fam.sample(5, seed=3))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    own_a = torch.cat([fam.sample(1, seed=10 + i) for i in range(3)])
    own_b = torch.cat([fam.sample(1, seed=50 + i) for i in range(3)])
    torch.testing.assert_close(fam.mix(10, 50, "all", n=3), own_a)
    torch.testing.assert_close(fam.mix(10, 50, "none", n=3), own_b)
    torch.testing.assert_close(fam.mix(10, 50, 7, n=3), own_a)
    coarse = fam.mix(10, 50, "coarse", n=3)
    assert not torch.equal(coarse, own_a) and not torch.equal(coarse, own_b)
    # psi = 0: every sample is the image of w_avg (up to its noise)
    z0 = fam.ws_of(torch.randn(4, 16), 0.0)
    torch.testing.assert_close(z0, fam.G.mapping.w_avg.expand(4, 7, -1))
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match=r"truncation psi must be a number in \[0, 1\]"):
            fam.sample(2, truncation=bad)
    with pytest.raises(ValueError, match="crossover must be a number of style layers in 0-7"):
        fam.mix(0, 1, 8)
    with pytest.raises(ValueError, match="or one of coarse, middle, all, none"):
        fam.mix(0, 1, "fine")


def test_redraws_change_only_the_input_asked_for(images):
    t = Trainer(default_config("stylegan", **SMALL), data=images, device="cpu")
    t.run(steps=2, progress=False)
    fam = t.family
    with torch.no_grad():
        for G in (fam.networks["G"], fam.networks["G_ema"]):
            for layer in G.synthesis.layers:
                layer.noise.strength.fill_(0.5)  # noise that shows
    z, *noise = fam.latent(3, torch.Generator().manual_seed(4))
    ws = fam.ws_of(z)
    x = fam.redraws(3, "noise", redraws=2, seed=4, layers=[5])
    assert x.shape == (2, 3, 1, 28, 28)
    fresh = fam.latent(3, torch.Generator().manual_seed(1004))[1:]
    torch.testing.assert_close(x[0], fam.synthesize(ws, [*noise[:5], fresh[5]]))
    assert resampling_std(fam.redraws(3, "noise", redraws=2, seed=4, layers=[])).max() == 0
    w = fam.redraws(3, "w", redraws=2, seed=4)
    z2 = torch.randn(z.shape, generator=torch.Generator().manual_seed(1005))
    torch.testing.assert_close(w[1], fam.synthesize(fam.ws_of(z2), noise))
    with pytest.raises(ValueError, match="what must be 'noise' or 'w'"):
        fam.redraws(3, "z")


def test_the_config_refuses_what_cannot_train():
    with pytest.raises(ValueError, match="stylegan makes 28x28 images"):
        default_config("stylegan", "ring")
    with pytest.raises(ValueError, match=r"style_mixing must be a number in \[0, 1\]"):
        default_config("stylegan", style_mixing=1.5)
    with pytest.raises(ValueError, match="unknown block 'fancy'; valid: modulated, adain"):
        default_config("stylegan", block="fancy")
    with pytest.raises(ValueError, match="multiple of the minibatch std group"):
        default_config("stylegan", batch_size=10)


# ----------------------------------------------------------------------------- the CLI


def test_train_sample_and_mix_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "style"
    args = ["train", "stylegan", "--dataset", "fashion-mnist", "--out", str(run), "--steps", "2"]
    knobs = ["--mapping-layers", "2", "--style-mixing", "0.5", "--r1", "0.2", "--pl-weight", "1"]
    assert main([*args, "--quiet", *knobs]) == 0
    family = load_family(run)
    cfg = family.config
    assert (cfg.mapping_layers, cfg.style_mixing, cfg.r1, cfg.pl_weight) == (2, 0.5, 0.2, 1.0)
    assert len(family.networks["G"].mapping.layers) == 2
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "--n", "4", "--out", str(out), "--truncation", "0.5"]) == 0
    np.testing.assert_allclose(np.load(out), family.sample(4, seed=0, truncation=0.5).numpy())
    capsys.readouterr()
    m = tmp_path / "m.npy"
    cmd = ["mix", str(run), "--coarse-seed", "5", "--fine-seed", "9", "--n", "3", "--out", str(m)]
    assert main([*cmd, "--crossover", "coarse"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["style_layers"] == 7 and info["coarse"] == [0, 1, 2] and info["middle"] == [3, 4]
    assert info["from_coarse_seed"] == [0, 1, 2] and info["from_fine_seed"] == [3, 4, 5, 6]
    np.testing.assert_allclose(np.load(m), family.mix(5, 9, 3, n=3).numpy(), atol=1e-6)
    assert main([*cmd, "--crossover", "all"]) == 0
    capsys.readouterr()
    own = np.concatenate([family.sample(1, seed=5 + i).numpy() for i in range(3)])
    np.testing.assert_allclose(np.load(m), own, atol=1e-5)  # "all": the coarse seed's own


MIX = ["mix", "RUN", "--coarse-seed", "0", "--fine-seed", "1", "--out", "o.npy", "--crossover"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["sample", "RUN", "--n", "2", "--out", "o.npy", "--truncation", "1.5"],
            "--truncation must be a number in [0, 1]",
        ),
        ([*MIX, "8"], "crossover must be a number of style layers in 0-7"),
        ([*MIX, "fine"], "or one of coarse, middle, all, none, got 'fine'"),
        ([*MIX, "2", "--truncation", "-0.5"], "--truncation must be a number in [0, 1]"),
        ([*MIX[:1], "DCGAN", *MIX[2:], "2"], "mix needs a stylegan run"),
        (
            ["sample", "DCGAN", "--n", "2", "--out", "o.npy", "--truncation", "0.5"],
            "--truncation needs a stylegan run",
        ),
    ],
)
def test_bad_input_gets_one_line(argv, message, tmp_path, capsys):
    run, dcgan = tmp_path / "style", tmp_path / "dcgan"
    for model, out in (("stylegan", run), ("dcgan", dcgan)):
        args = ["train", model, "--dataset", "fashion-mnist", "--out", str(out), "--steps", "1"]
        assert main([*args, "--quiet"]) == 0
    capsys.readouterr()
    argv = [str(run) if a == "RUN" else str(dcgan) if a == "DCGAN" else a for a in argv]
    argv = [str(tmp_path / a) if a.endswith(".npy") else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o.npy").exists()


# ----------------------------------------------------------------------------- widgets


def _png(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def test_style_mixing_and_truncation_widgets_show_the_familys_images(images):
    pytest.importorskip("ipywidgets")
    from gannotes import viz

    t = Trainer(default_config("stylegan", **SMALL), data=images, device="cpu")
    t.run(steps=2, progress=False)
    fam = t.family
    box = viz.style_mixing_widget(fam, coarse_seed=3, fine_seed=7, n=2)
    grid = _png(box.image.value)  # rows: coarse seeds' own, mixes (K = 2), fine seeds' own
    want = viz.to_uint8(
        torch.cat([fam.mix(3, 7, "all", 2), fam.mix(3, 7, "coarse", 2), fam.mix(3, 7, "none", 2)])
    )
    for row in range(3):
        for col in range(2):
            y, x = 2 + 30 * row, 2 + 30 * col
            np.testing.assert_array_equal(grid[y : y + 28, x : x + 28], want[2 * row + col, ..., 0])
    box.crossover.value = 5  # the observer redraws the middle row
    np.testing.assert_array_equal(
        _png(box.image.value)[32:60, 2:30], viz.to_uint8(fam.mix(3, 7, 5, 1))[0, ..., 0]
    )
    with pytest.raises(ValueError, match="crossover must be a number of style layers"):
        box.show(k=9)
    slider = viz.truncation_widget(fam, seed=4, n=8)
    slider.slider.value = 0.5
    np.testing.assert_array_equal(
        _png(slider.image.value)[2:30, 2:30],
        viz.to_uint8(fam.sample(8, seed=4, truncation=0.5))[0, ..., 0],
    )
