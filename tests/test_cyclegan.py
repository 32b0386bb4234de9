"""The CycleGAN family: unpaired translation between two domains (Zhu et al. 2017).

Oracles: the paper's objective written out by hand from the same networks and batch, the
authors' image-pool rule, the count of a transposed convolution's overlaps done with loops
(Odena et al. 2016), numpy's FFT for the checkerboard score, the engine's exact-resume
guarantee, and the construction of the unpaired data (which images went to which domain).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from gannotes.cli import main
from gannotes.data import dataset_tensors, load_fashion_mnist
from gannotes.edges import edge_map
from gannotes.gans import FAMILIES, StepContext
from gannotes.losses import cycle_consistency_loss, identity_loss
from gannotes.models import CycleDiscriminator, CycleGANConfig, ResnetGenerator
from gannotes.models.cyclegan import transposed_overlap
from gannotes.training import Trainer, default_config, load_family
from gannotes.translation import (
    checkerboard_score,
    class_agreement,
    perturbation_sensitivity,
    pixel_l1,
)
from gannotes.tricks import ImagePool

SMALL = dict(model_config=dict(width=8, d_width=8, n_blocks=1), batch_size=8, log_every=5)


@pytest.fixture(scope="module")
def domains():
    """64 sneakers (A) and 64 ankle boots (B) of the test split."""
    fields, _ = dataset_tensors("sneaker2boot", "test")
    return {"a": fields["a"][:64], "b": fields["b"][:64]}


# ----------------------------------------------------------------------------- the pieces


def test_cycle_and_identity_losses_are_the_papers_l1_terms():
    gen = torch.Generator().manual_seed(0)
    x, rec = torch.rand(4, 1, 28, 28, generator=gen), torch.rand(4, 1, 28, 28, generator=gen)
    by_hand = sum(abs(float(p) - float(q)) for p, q in zip(x.flatten(), rec.flatten(), strict=True))
    assert cycle_consistency_loss(x, rec).item() == pytest.approx(by_hand / x.numel(), rel=1e-5)
    assert identity_loss(x, rec).item() == pytest.approx(by_hand / x.numel(), rel=1e-5)
    assert cycle_consistency_loss(x, x).item() == 0
    with pytest.raises(ValueError, match="differ"):
        cycle_consistency_loss(x, rec[:2])


def test_image_pool_follows_the_authors_rule():
    gen = torch.Generator().manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first, gen), first) and len(pool) == 3  # filling: pass through
    second = torch.arange(3.0, 6.0).view(3, 1, 1, 1)
    out = pool.query(second, gen)
    assert out[0].item() == 3.0 and len(pool) == 4  # the 4th image filled the pool
    seen = set(range(6))
    swaps = 0
    for k in range(200):  # once full: each image is its own or a stored one, half the time
        batch = torch.arange(10.0 + 2 * k, 12.0 + 2 * k).view(2, 1, 1, 1)
        stored_before = set(pool.images.flatten().tolist())
        out = pool.query(batch, gen)
        seen |= set(batch.flatten().tolist())
        for fresh, got in zip(batch.flatten().tolist(), out.flatten().tolist(), strict=True):
            if got != fresh:  # an old fake (or one this batch stored a moment ago)
                swaps += 1
                assert got in stored_before or got in batch.flatten().tolist()
        assert len(pool) == 4 and set(pool.images.flatten().tolist()) <= seen
    assert 0.4 < swaps / 400 < 0.6
    assert torch.equal(ImagePool(0).query(first, gen), first)
    # state round trip: the same draws give the same batches
    copy = ImagePool(4)
    copy.load_state_dict(pool.state_dict())
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    batch = torch.full((3, 1, 1, 1), -1.0)
    torch.testing.assert_close(pool.query(batch, g1), copy.query(batch, g2))
    with pytest.raises(ValueError, match="pool size must be >= 0"):
        ImagePool(-1)


def test_the_pools_state_is_a_cpu_copy_that_training_does_not_move(domains):
    """The pool's state (checkpointed, and gathered from every process of a data-parallel run)
    is a detached CPU copy: the stored fakes as they were when it was taken, whatever the pool
    does next. It held the live tensor, which the next swap overwrote in place."""
    gen = torch.Generator().manual_seed(0)
    pool = ImagePool(2)
    pool.query(torch.zeros(2, 1, 1, 1), gen)
    state = pool.state_dict()
    for k in range(20):  # a full pool swaps about half of the fresh fakes in
        pool.query(torch.full((2, 1, 1, 1), k + 1.0), gen)
    assert pool.images.abs().sum() > 0  # the pool moved on ...
    assert torch.equal(state["images"], torch.zeros(2, 1, 1, 1))  # ... its saved state did not
    assert state["images"].device.type == "cpu" and not state["images"].requires_grad
    t = Trainer(default_config("cyclegan", "sneaker2boot", **SMALL), data=domains, device="cpu")
    t.run(steps=2, progress=False)
    saved = t.family.state_dict()
    for name in ("A", "B"):
        images = saved[f"pool_{name}"]["images"]
        assert images.device.type == "cpu" and torch.equal(images, t.family.pools[name].images)
        assert images.data_ptr() != t.family.pools[name].images.data_ptr()


def _overlap_by_loops(size, kernel, stride, padding):
    out_size = (size - 1) * stride - 2 * padding + kernel + stride - 1
    count = np.zeros((out_size, out_size))
    for i in range(size):
        for j in range(size):
            for ki in range(kernel):
                for kj in range(kernel):
                    oi, oj = i * stride - padding + ki, j * stride - padding + kj
                    if 0 <= oi < out_size and 0 <= oj < out_size:
                        count[oi, oj] += 1
    return count


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (4, 1)])
def test_transposed_overlap_counts_each_output_pixels_contributions(kernel, padding):
    got = transposed_overlap(7, kernel, 2, padding).numpy()
    np.testing.assert_allclose(got, _overlap_by_loops(7, kernel, 2, padding))
    inner = got[2:-2, 2:-2]
    if kernel % 2:  # kernel 3, stride 2: 1, 2, 4 alternate, the checkerboard
        assert set(np.unique(inner)) == {1.0, 2.0, 4.0}
    else:  # kernel 4, stride 2: even overlap inside
        assert set(np.unique(inner)) == {4.0}


def test_checkerboard_score_reads_the_period_two_amplitude():
    i, j = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    board = 0.5 + 0.1 * (-1.0) ** (i + j)  # [0, 1] pixels
    x = torch.tensor(board * 2 - 1, dtype=torch.float32).view(1, 1, 28, 28)
    assert checkerboard_score(x) == pytest.approx(0.1, rel=1e-5)
    gen = np.random.default_rng(0)
    imgs = gen.uniform(-1, 1, (3, 1, 28, 28)).astype(np.float32)
    spec = np.abs(np.fft.fft2(imgs[:, 0] / 2))  # numpy as the oracle
    want = np.sqrt(spec[:, 14, 0] ** 2 + spec[:, 0, 14] ** 2 + spec[:, 14, 14] ** 2) / 784
    assert checkerboard_score(imgs) == pytest.approx(want.mean(), rel=1e-4)
    assert checkerboard_score(torch.zeros(2, 1, 28, 28)) == 0
    with pytest.raises(ValueError, match="even height and width"):
        checkerboard_score(torch.zeros(1, 1, 27, 27))


def test_translation_scores_against_hand_computations():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.5)
    assert pixel_l1(x, y) == pytest.approx(0.25)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert class_agreement(probs, [0, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="differ"):
        pixel_l1(x, y[:1])
    with pytest.raises(ValueError, match=r"expected probs \[N, C\]"):
        class_agreement(probs, [0, 1])


def test_perturbation_sensitivity_is_zero_for_a_constant_and_sigma_for_the_identity():
    class Identity(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return x * self.w

    x = torch.zeros(50, 1, 28, 28)
    # identity: moves by E|sigma n| / 2 = sigma sqrt(2 / pi) / 2
    got = perturbation_sensitivity(Identity(), x, sigma=0.02)
    assert got == pytest.approx(0.02 * np.sqrt(2 / np.pi) / 2, rel=0.02)
    const = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1))
    torch.nn.init.zeros_(const[0].weight)
    assert perturbation_sensitivity(const, x, sigma=0.5) == 0
    ref = torch.full_like(x, 0.2)  # distance to a reference instead: |0 + noise - 0.2| ...
    assert perturbation_sensitivity(Identity(), x, sigma=0.0, reference=ref) == pytest.approx(0.1)


# ----------------------------------------------------------------------------- the networks


@pytest.mark.parametrize(
    ("upsample", "norm", "d_layers", "patches"),
    [("resize", "instance", 2, 7), ("transposed", "instance", 3, 3), ("resize", "batch", 2, 7)],
)
def test_generators_map_images_to_images_row_by_row(upsample, norm, d_layers, patches):
    cfg = CycleGANConfig(
        width=8, d_width=8, n_blocks=1, upsample=upsample, norm=norm, d_layers=d_layers
    )
    G, D = ResnetGenerator(cfg).eval(), CycleDiscriminator(cfg)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    y = G(x)
    assert y.shape == (5, 1, 28, 28) and y.abs().max() <= 1
    torch.testing.assert_close(G(x[2:3]), y[2:3])  # eval mode: no batch dependence
    assert D(x).shape == (5, 1, patches, patches)
    with pytest.raises(ValueError, match="norm must be one of instance, batch"):
        CycleGANConfig(norm="layer")
    with pytest.raises(ValueError, match="input"):
        G(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="upsample must be one of resize, transposed"):
        CycleGANConfig(upsample="pixelshuffle")


# ----------------------------------------------------------------------------- the data


def test_unpaired_edges2fashion_never_shows_a_pair():
    fm = load_fashion_mnist("train", limit=200)
    fields, _ = dataset_tensors("edges2fashion", "train", limit=200)
    torch.testing.assert_close(fields["a"], edge_map(fm.images[0::2]))  # edges of the evens
    torch.testing.assert_close(fields["b"], fm.images[1::2])  # images of the odds
    assert torch.equal(fields["labels_b"], fm.labels[1::2])
    test, _ = dataset_tensors("edges2fashion", "test", limit=30)  # the hidden partners
    torch.testing.assert_close(test["a"], edge_map(test["b"]))


def test_sneaker2boot_holds_the_two_classes():
    fields, source = dataset_tensors("sneaker2boot", "test")
    assert len(fields["a"]) == len(fields["b"]) == 1000 and "Sneaker" in source
    assert set(fields["labels_a"].tolist()) == {7} and set(fields["labels_b"].tolist()) == {9}
    assert set(fields["labels"].tolist()) == {7, 9} and len(fields["images"]) == 2000


# ----------------------------------------------------------------------------- the family


def _step_by_hand(family, a, b):
    """Eq. 3 with the least-squares GAN loss and the identity term, written out."""
    G, F, D_A, D_B = (family.networks[k] for k in ("G", "F", "D_A", "D_B"))
    cfg = family.config
    fake_b, fake_a = G(a), F(b)
    gan = ((D_B(fake_b) - 1) ** 2).mean() + ((D_A(fake_a) - 1) ** 2).mean()
    cyc = (F(fake_b) - a).abs().mean() + (G(fake_a) - b).abs().mean()
    idt = (G(b) - b).abs().mean() + (F(a) - a).abs().mean()
    lam = cfg.lambda_cycle
    loss_g = gan + lam * cyc + lam * cfg.lambda_identity * idt
    d_b = 0.5 * ((D_B(b) - 1) ** 2).mean() + 0.5 * (D_B(fake_b) ** 2).mean()
    d_a = 0.5 * ((D_A(a) - 1) ** 2).mean() + 0.5 * (D_A(fake_a) ** 2).mean()
    return float(loss_g), float(gan), float(cyc), float(idt), float(d_a + d_b)


def test_the_step_is_the_papers_objective(domains):
    family = FAMILIES["cyclegan"](
        default_config("cyclegan", "sneaker2boot", **SMALL, pool=0), "cpu"
    )
    a, b = domains["a"][:8], domains["b"][:8]
    with torch.no_grad():
        want_g, want_gan, want_cyc, want_idt, want_d = _step_by_hand(family, a, b)
    stats = family.step([(a, b)], StepContext(trick_gen=torch.Generator().manual_seed(0)))
    assert stats["loss_g"].item() == pytest.approx(want_g, rel=1e-4)
    assert stats["loss_gan"].item() == pytest.approx(want_gan, rel=1e-4)
    assert stats["loss_cycle"].item() == pytest.approx(want_cyc, rel=1e-4)
    assert stats["loss_identity"].item() == pytest.approx(want_idt, rel=1e-4)
    # D learns from the fakes of the step's start (pool 0: those fakes themselves), as the
    # authors' code does, and from D as it was: G's update did not touch it
    assert stats["loss_d"].item() == pytest.approx(want_d, rel=1e-4)


def test_cycle_noise_perturbs_each_translation_before_the_way_back(domains):
    cfg = default_config("cyclegan", "sneaker2boot", **SMALL, pool=0, cycle_noise=0.3)
    family = FAMILIES["cyclegan"](cfg, "cpu")
    G, F = family.networks["G"], family.networks["F"]
    a, b = domains["a"][:8], domains["b"][:8]
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        fake_b, fake_a = G(a), F(b)
        n_b, n_a = (
            torch.randn(fake_b.shape, generator=gen),
            torch.randn(fake_a.shape, generator=gen),
        )
        want = (F(fake_b + 0.3 * n_b) - a).abs().mean() + (G(fake_a + 0.3 * n_a) - b).abs().mean()
        clean = (F(fake_b) - a).abs().mean() + (G(fake_a) - b).abs().mean()
    stats = family.step([(a, b)], StepContext(trick_gen=torch.Generator().manual_seed(7)))
    assert stats["loss_cycle"].item() == pytest.approx(float(want), rel=1e-4)
    assert abs(float(want) - float(clean)) > 1e-3


def test_one_optimizer_moves_both_generators_and_g_step_leaves_d_alone(domains, monkeypatch):
    t = Trainer(default_config("cyclegan", "sneaker2boot", **SMALL), data=domains, device="cpu")
    g_params = {id(p) for k in ("G", "F") for p in t.networks[k].parameters()}
    assert {id(p) for group in t.optimizers["G"].param_groups for p in group["params"]} == g_params
    monkeypatch.setattr(t.optimizers["D"], "step", lambda *a, **k: None)
    d_before = [p.detach().clone() for k in ("D_A", "D_B") for p in t.networks[k].parameters()]
    f_before = [p.detach().clone() for p in t.networks["F"].parameters()]
    t.train_step()
    d_after = [p for k in ("D_A", "D_B") for p in t.networks[k].parameters()]
    for before, after in zip(d_before, d_after, strict=True):
        torch.testing.assert_close(before, after)
    assert any(
        not torch.equal(x, y) for x, y in zip(f_before, t.networks["F"].parameters(), strict=True)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(cycle="forward", lambda_identity=0.0),
        dict(adversarial=False),
        dict(lambda_cycle=0.0),
    ],
)
def test_cyclegan_trains_and_resumes_exactly(overrides, domains, tmp_path):
    # a fixed decay horizon, so that "10, then resume to 20" follows the same schedule as "20"
    cfg = default_config(
        "cyclegan", "sneaker2boot", **SMALL, **overrides, lr_decay_steps=20, checkpoint_every=10
    )
    straight = Trainer(cfg, data=domains, device="cpu")
    straight.run(steps=20, progress=False)
    first = Trainer(cfg, tmp_path, data=domains, device="cpu")
    first.run(steps=10, progress=False)
    resumed = Trainer.resume(tmp_path, data=domains, device="cpu")
    assert len(resumed.family.pools["B"]) == len(first.family.pools["B"])
    resumed.run(steps=20, progress=False)
    torch.testing.assert_close(resumed.sample(6, seed=1), straight.sample(6, seed=1))
    timing = ("images_per_s", "seconds")
    assert {k: v for k, v in resumed.history.items() if k not in timing} == {
        k: v for k, v in straight.history.items() if k not in timing
    }
    if overrides.get("adversarial") is False:  # cycle alone: no discriminator trained
        assert "loss_d" not in straight.history and "loss_gan" not in straight.history
    if overrides.get("lambda_cycle") == 0:  # GAN alone
        assert "loss_cycle" not in straight.history and "loss_identity" not in straight.history


def test_translate_runs_g_or_f_row_by_row(domains):
    t = Trainer(default_config("cyclegan", "sneaker2boot", **SMALL), data=domains, device="cpu")
    t.run(steps=3, progress=False)
    x = domains["a"][:5]
    with torch.no_grad():
        torch.testing.assert_close(t.family.translate(x), t.networks["G"].eval()(x))
        torch.testing.assert_close(t.family.translate(x, direction="b2a"), t.networks["F"](x))
    torch.testing.assert_close(t.family.translate(x)[1:2], t.family.translate(x[1:2]))
    with pytest.raises(ValueError, match="unknown direction 'sideways'; valid: a2b, b2a"):
        t.family.translate(x, direction="sideways")
    with pytest.raises(ValueError, match=r"expected input images \[N, 1, 28, 28\]"):
        t.family.translate(torch.zeros(3, 28, 28))


def test_the_config_refuses_what_cannot_train():
    with pytest.raises(ValueError, match="CycleGAN translates between two domains"):
        default_config("cyclegan", "fashion-mnist")
    with pytest.raises(ValueError, match="adversarial off with lambda_cycle = 0"):
        default_config("cyclegan", adversarial=False, lambda_cycle=0.0)
    with pytest.raises(
        ValueError, match="unknown cycle 'sideways'; valid: both, forward, backward"
    ):
        default_config("cyclegan", cycle="sideways")


# ----------------------------------------------------------------------------- the CLI


def test_train_then_translate_both_ways_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "s2b"
    args = ["train", "cyclegan", "--dataset", "sneaker2boot", "--out", str(run), "--steps", "2"]
    assert (
        main([*args, "--quiet", "--lambda-cycle", "5", "--pool", "10", "--upsample", "transposed"])
        == 0
    )
    family = load_family(run)
    assert (family.config.lambda_cycle, family.config.pool, family.config.upsample) == (
        5,
        10,
        "transposed",
    )
    sneakers = dataset_tensors("sneaker2boot", "test")[0]["a"][:7].numpy()
    np.save(tmp_path / "in.npy", sneakers)
    for direction in ("a2b", "b2a"):
        out = tmp_path / f"{direction}.npy"
        cmd = ["translate", str(run), str(tmp_path / "in.npy"), "--out", str(out)]
        assert main([*cmd, "--direction", direction]) == 0
        want = family.translate(torch.from_numpy(sneakers), direction=direction)
        torch.testing.assert_close(torch.from_numpy(np.load(out)), want)
    capsys.readouterr()
    cmd = ["translate", str(run), str(tmp_path / "in.npy"), "--out", str(tmp_path / "o.npy")]
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, exit status 2
        main([*cmd, "--direction", "sideways"])
    err = capsys.readouterr().err
    assert (
        exit_info.value.code == 2 and "invalid choice: 'sideways'" in err and err.count("\n") == 1
    )
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 28, 28), np.float32))
    bad = ["translate", str(run), str(tmp_path / "bad.npy"), "--out", str(tmp_path / "o.npy")]
    assert main(bad) == 1
    err = capsys.readouterr().err
    assert re.search(r"expected input images \[N, 1, 28, 28\]", err) and err.count("\n") == 1
    assert not (tmp_path / "o.npy").exists()
    wrong = ["train", "cyclegan", "--dataset", "fashion-mnist", "--out", str(tmp_path / "w")]
    assert main([*wrong, "--steps", "2"]) == 1
    assert "CycleGAN translates between two domains" in capsys.readouterr().err


def test_translate_b2a_needs_a_cyclegan_run(tmp_path, capsys):
    run = tmp_path / "p2p"
    args = ["train", "pix2pix", "--dataset", "edges2fashion", "--out", str(run), "--steps", "2"]
    assert main([*args, "--quiet", "--l1-only"]) == 0
    np.save(tmp_path / "e.npy", np.zeros((2, 1, 28, 28), np.float32))
    cmd = ["translate", str(run), str(tmp_path / "e.npy"), "--out", str(tmp_path / "o.npy")]
    capsys.readouterr()
    assert main([*cmd, "--direction", "b2a"]) == 1
    err = capsys.readouterr().err
    assert "a pix2pix run translates a2b only, not --direction b2a" in err and err.count("\n") == 1
    assert main([*cmd, "--direction", "a2b"]) == 0
