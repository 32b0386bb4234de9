"""Mixed precision, channels-last and compile in the engine (issue 12), against oracles:
autograd in float32, closed-form gradients, the same run in float32."""

import math

import pytest
import torch
from torch import nn

from gannotes.config import PRECISIONS
from gannotes.gans.family import Precision
from gannotes.losses import gradient_penalty, input_gradient, r1_penalty
from gannotes.training import Trainer, TrainingDiverged, default_config


def _dcgan(**knobs):
    torch.manual_seed(0)
    data = torch.rand(256, 1, 28, 28) * 2 - 1
    cfg = default_config("dcgan", "fashion-mnist", batch_size=16, **knobs)
    return Trainer(cfg, device="cpu", data=data)


def test_precision_knob_has_its_three_values_and_a_one_line_error():
    assert PRECISIONS == ("fp32", "bf16", "fp16")
    with pytest.raises(ValueError, match=r"unknown precision 'fp64'; valid: fp32, bf16, fp16"):
        default_config("dcgan", precision="fp64")
    p = Precision(torch.device("cpu"), "bf16")
    assert p.enabled and not p.scaler.is_enabled() and p.grad_scale == 1.0
    p = Precision(torch.device("cpu"), "fp16")
    assert p.scaler.is_enabled() and p.grad_scale == 2.0**16
    assert not Precision(torch.device("cpu")).enabled


def test_input_gradient_with_a_scale_is_autograds_gradient():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(5, 3, 4, requires_grad=True)
    out = D(x).sum()
    (want,) = torch.autograd.grad(out, x, create_graph=True)
    got = input_gradient(D(x).sum(), x, scale=1024.0)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    # the penalties take the scale and keep their values
    logits = D(x)
    torch.testing.assert_close(r1_penalty(logits, x, 10.0, 4096.0), r1_penalty(D(x), x, 10.0))
    real, fake = torch.randn(5, 3, 4), torch.randn(5, 3, 4)
    eps = torch.rand(5)
    torch.testing.assert_close(
        gradient_penalty(D, real, fake, eps=eps, scale=512.0),
        gradient_penalty(D, real, fake, eps=eps),
    )


def test_scaled_r1_survives_fp16_underflow_where_the_plain_one_vanishes():
    # D(x) = 1e-5 * <w, x>: the gradient 1e-5 * w (~1e-8) is below float16's smallest
    # subnormal (6e-8), so fp16 autocast flushes it to 0; scaled by the scaler's starting
    # 2^16 (over the batch of 4) it is representable, and divided back in float32 it equals
    # the closed form.
    w = torch.full((1, 16), 1e-3)
    lin = nn.Linear(16, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(w)

    def D(x):
        return 1e-5 * lin(x).squeeze(1)

    x = torch.randn(4, 16, requires_grad=True)
    gamma = 2.0
    closed_form = 0.5 * gamma * (1e-5 * w).square().sum()
    with torch.autocast("cpu", dtype=torch.float16):
        plain = r1_penalty(D(x), x, gamma)
        scaled = r1_penalty(D(x), x, gamma, scale=2.0**16)
    assert float(plain.detach()) == 0.0  # the gradient underflowed
    torch.testing.assert_close(scaled, closed_form, rtol=2e-2, atol=0)


def test_bf16_autocast_runs_the_convolutions_in_bf16_and_trains():
    tr = _dcgan(precision="bf16")
    seen = []
    conv = next(m for m in tr.D.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = [p.detach().clone() for p in tr.D.parameters()]
    stats = tr.train_step()
    assert torch.bfloat16 in seen
    assert all(math.isfinite(float(v)) for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.D.parameters(), strict=True))
    # the weights themselves stay float32 (autocast casts copies)
    assert all(p.dtype == torch.float32 for p in tr.D.parameters())


def test_bf16_step_stays_close_to_fp32():
    a, b = _dcgan(), _dcgan(precision="bf16")
    sa, sb = a.train_step(), b.train_step()
    for k in ("loss_d", "loss_g"):
        assert abs(float(sa[k]) - float(sb[k])) < 0.05 * abs(float(sa[k])) + 0.02, k


def test_fp16_scaler_skips_an_overflowing_step_and_recovers():
    tr = _dcgan(precision="fp16")
    tr.precision.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # overflows fp16
    before = [p.detach().clone() for p in tr.G.parameters()]
    tr.train_step()
    assert all(torch.equal(a, b) for a, b in zip(before, tr.G.parameters(), strict=True))
    assert tr.precision.scaler.get_scale() < 2.0**40  # halved after the skipped step
    tr.run(steps=40, progress=False)  # not fatal: the factor falls until steps go through
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.G.parameters(), strict=True))
    assert tr.precision.scaler.get_scale() < 2.0**30
    # each fall of the logged factor is a skipped step, counted
    assert tr.amp_skipped >= 10 and "amp_scale" in tr.history


def _inf_steps(tr, bad_steps):
    step = tr.family.step

    def patched(batches, ctx):
        stats = step(batches, ctx)
        if ctx.step in bad_steps:
            stats["loss_d"] = torch.tensor(float("inf"))
        return stats

    tr.family.step = patched


def test_fp16_nonfinite_losses_are_skipped_but_a_run_that_never_recovers_stops():
    tr = _dcgan(precision="fp16")
    _inf_steps(tr, {3, 4, 5})
    tr.run(steps=20, progress=False)
    assert tr.amp_skipped >= 3
    assert max(tr.history["amp_skipped"]) > 0
    assert all(math.isfinite(v) for v in tr.history["loss_d"])  # skipped steps left out

    tr = _dcgan(precision="fp16")
    _inf_steps(tr, set(range(5, 1000)))
    with pytest.raises(TrainingDiverged, match="40 fp16 steps in a row skipped"):
        tr.run(steps=60, progress=False)
    # bf16 has no scaler: one non-finite loss stops the run, as in fp32
    tr = _dcgan(precision="bf16")
    _inf_steps(tr, {2})
    with pytest.raises(TrainingDiverged, match="at step 3"):
        tr.run(steps=20, progress=False)


def test_fp16_resume_is_exact_with_the_scalers_state(tmp_path):
    cfg = default_config("dcgan", "fashion-mnist", batch_size=16, precision="fp16")
    data = torch.rand(256, 1, 28, 28) * 2 - 1
    straight = Trainer(cfg, device="cpu", data=data)
    straight.run(steps=12, progress=False)
    half = Trainer(cfg, tmp_path / "run", device="cpu", data=data)
    half.run(steps=6, progress=False)
    resumed = Trainer.resume(tmp_path / "run", device="cpu", data=data)
    assert resumed.precision.scaler.get_scale() == half.precision.scaler.get_scale()
    resumed.run(steps=12, progress=False)
    for a, b in zip(straight.G.parameters(), resumed.G.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fp16_with_several_critic_updates_per_step_trains_and_resumes_exactly(tmp_path):
    """fp16 with k = 2 critic updates: the scaler is updated after every optimizer step. With
    one update per training step the second critic update unscaled an optimizer already
    unscaled since the last update, and GradScaler stopped the run on its first step."""
    data = torch.rand(64, 1, 28, 28) * 2 - 1
    knobs = dict(loss="wasserstein", gp=10.0, d_steps=2, precision="fp16", batch_size=8)
    knobs.update(log_every=2, checkpoint_every=3)
    cfg = default_config("dcgan", "fashion-mnist", **knobs)
    straight = Trainer(cfg, tmp_path / "a", device="cpu", data=data)
    d_steps = []
    straight.optimizers["D"].register_step_post_hook(lambda *_: d_steps.append(1))
    straight.run(steps=6, progress=False)
    assert len(d_steps) == 12  # two critic steps per training step, each through the scaler
    assert all(math.isfinite(v) for v in straight.history["loss_d"])
    first = Trainer(cfg, tmp_path / "b", device="cpu", data=data)
    first.run(steps=3, progress=False)
    resumed = Trainer.resume(tmp_path / "b", device="cpu", data=data)
    resumed.run(steps=6, progress=False)
    for a, b in zip(straight.G.parameters(), resumed.G.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed.precision.scaler.get_scale() == straight.precision.scaler.get_scale()
    timing = ("images_per_s", "seconds")
    assert {k: v for k, v in resumed.history.items() if k not in timing} == {
        k: v for k, v in straight.history.items() if k not in timing
    }


def test_a_skip_by_any_optimizer_step_of_a_training_step_is_counted():
    """The scaler updates after each optimizer step, so a skip in D's update (the factor
    halves) and not in G's is still a skipped training step."""
    tr = _dcgan(precision="fp16", d_steps=2)
    tr.precision.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # overflows fp16
    stats = tr.train_step()
    assert float(stats["amp_skipped"]) == 1.0
    assert float(stats["amp_scale"]) == tr.precision.scaler.get_scale() < 2.0**40


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_penalties_train_under_amp(precision):
    # R1 in the classic family and the path-length penalty in StyleGAN's differentiate
    # through the networks inside autocast
    tr = _dcgan(precision=precision, r1=1.0)
    stats = tr.train_step()
    assert math.isfinite(float(stats["r1"])) and float(stats["r1"]) > 0
    data = torch.rand(64, 1, 28, 28) * 2 - 1
    cfg = default_config(
        "stylegan", "fashion-mnist", batch_size=4, pl_weight=2.0, pl_every=1, r1_every=1,
        precision=precision,
    )  # fmt: skip
    st = Trainer(cfg, device="cpu", data=data)
    stats = st.train_step()
    assert math.isfinite(float(stats["pl_penalty"])) and math.isfinite(float(stats["r1"]))


def test_channels_last_stores_weights_and_batches_nhwc_and_computes_the_same():
    a, b = _dcgan(), _dcgan(channels_last=True)
    conv = next(m for m in b.D.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert b.real_batch().is_contiguous(memory_format=torch.channels_last)
    a, b = _dcgan(), _dcgan(channels_last=True)
    for _ in range(3):
        sa, sb = a.train_step(), b.train_step()
    torch.testing.assert_close(sa["loss_d"], sb["loss_d"], rtol=1e-3, atol=1e-4)


def test_compile_leaves_twice_differentiated_networks_eager():
    # (building the trainer does not compile yet: compilation happens at the first call)
    tr = _dcgan(compile=True, r1=1.0)
    assert tr.compiled == ["G"] and tr.not_compiled == {"D": "R1"}
    tr = _dcgan(compile=True)
    assert sorted(tr.compiled) == ["D", "G"] and tr.not_compiled == {}
    cfg = default_config("stylegan", "fashion-mnist", compile=True, pl_weight=2.0)
    st = Trainer(cfg, device="cpu", data=torch.rand(64, 1, 28, 28) * 2 - 1)
    assert st.compiled == [] and set(st.not_compiled) == {"G", "D"}
    # StyleGAN's step calls G's mapping and synthesis, not G itself: those are compiled
    cfg = default_config("stylegan", "fashion-mnist", compile=True)
    st = Trainer(cfg, device="cpu", data=torch.rand(64, 1, 28, 28) * 2 - 1)
    assert st.compiled == ["G"] and st.not_compiled == {"D": "R1"}
    assert st.G.mapping._compiled_call_impl is not None
    assert st.G.synthesis._compiled_call_impl is not None
    # state dicts keep their names (nn.Module.compile compiles in place)
    assert set(tr.G.state_dict()) == set(_dcgan().G.state_dict())


def test_reconfigure_refuses_a_penalty_a_compiled_network_cannot_take():
    """R1 or the gradient penalty switched on after D was compiled would differentiate the
    compiled D twice: refused in one line, and the config is left as it was."""
    tr = Trainer(default_config("mlp", "ring", r1=0.0, compile=True), device="cpu")
    assert tr.compiled == ["G", "D"]
    for knob in ({"r1": 1.0}, {"gp": 10.0, "loss": "wasserstein"}):
        with pytest.raises(ValueError, match="differentiates D twice"):
            tr.reconfigure(**knob)
        assert tr.config.r1 == 0.0 and tr.config.gp == 0.0 and tr.family.config is tr.config
    tr.reconfigure(label_smoothing=0.1)  # a knob that needs no rebuild still changes
    assert tr.family.config.label_smoothing == 0.1
    eager = Trainer(default_config("mlp", "ring", r1=0.0), device="cpu")
    eager.reconfigure(r1=1.0)  # nothing compiled: nothing to refuse
    assert eager.family.config.r1 == 1.0


def test_compiled_mlp_step_matches_eager():
    cfg = dict(batch_size=64, model_config=dict(hidden=32))
    torch.manual_seed(0)
    a = Trainer(default_config("mlp", "ring", **cfg), device="cpu")
    b = Trainer(default_config("mlp", "ring", compile=True, **cfg), device="cpu")
    assert sorted(b.compiled) == ["G"]  # the toy recipe's R1 keeps D eager
    for _ in range(3):
        sa, sb = a.train_step(), b.train_step()
    torch.testing.assert_close(sa["loss_g"], sb["loss_g"], rtol=1e-4, atol=1e-5)


def test_cli_precision_flags(run_cli, tmp_path):
    r = run_cli("train", "dcgan", "--dataset", "fashion-mnist", "--steps", "4",
                "--out", tmp_path / "r", "--precision", "fp64")  # fmt: skip
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "fp32, bf16, fp16" in r.stderr.replace("'", "")
    r = run_cli("train", "dcgan", "--dataset", "fashion-mnist", "--steps", "4", "--quiet",
                "--out", tmp_path / "r", "--precision", "bf16", "--channels-last")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "precision bf16" in r.stderr
    # a resumed run keeps its precision
    r = run_cli("train", "dcgan", "--dataset", "fashion-mnist", "--steps", "6", "--resume",
                "--out", tmp_path / "r", "--precision", "fp32")  # fmt: skip
    assert r.returncode == 1 and "--precision fp32 differs from the run's value bf16" in r.stderr
