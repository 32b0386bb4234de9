"""The conditional families: class-conditional GANs (cgan) and paired translation (pix2pix).

Oracles: the papers' formulas written out by hand (the projection discriminator's inner
product, AC-GAN's cross-entropy, the double softmax's closed-form range, pix2pix's L1), the
engine's own exact-resume guarantee, and data built so that a label can be read off its image.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes.cli import main
from gannotes.data import dataset_tensors, load_fashion_mnist
from gannotes.edges import edge_map
from gannotes.gans import FAMILIES
from gannotes.gans.pix2pix import check_translation_inputs
from gannotes.losses import ac_class_loss, ac_class_loss_double_softmax, l1_loss
from gannotes.models import (
    CGANConfig,
    ConditionalDiscriminator,
    ConditionalGenerator,
    PatchDiscriminator,
    Pix2PixConfig,
    UNetGenerator,
)
from gannotes.training import Trainer, default_config, load_family

SMALL_CGAN = dict(model_config=dict(g_width=8, d_width=8, z_dim=8), batch_size=16, log_every=5)
SMALL_P2P = dict(model_config=dict(width=8, d_width=8), batch_size=16, log_every=5)


@pytest.fixture(scope="module")
def labelled():
    fm = load_fashion_mnist("train", subset=True, limit=256)
    return {"images": fm.images, "labels": fm.labels}


@pytest.fixture(scope="module")
def pairs(labelled):
    return {"edges": edge_map(labelled["images"]), "images": labelled["images"]}


# ----------------------------------------------------------------------------- models


def test_the_projection_discriminator_is_an_inner_product_with_the_labels_embedding():
    torch.manual_seed(0)
    D = ConditionalDiscriminator(CGANConfig(d_width=4, d_cond="projection")).eval()
    x, y = torch.randn(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 9, 9])
    phi = D.features(x)
    want = phi @ D.score.weight[0] + D.score.bias + (D.embed.weight[y] * phi).sum(1)  # Eq. 3
    torch.testing.assert_close(D(x, y), want)
    # the same image scores differently under different labels, and identically under the same
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
    assert D(x, y)[4] == D(x, y)[5] or not torch.equal(x[4], x[5])


@pytest.mark.parametrize("d_cond", ["concat", "projection", "acgan"])
def test_the_three_discriminators_use_the_label_as_their_paper_says(d_cond):
    torch.manual_seed(0)
    cfg = CGANConfig(g_width=4, d_width=4, d_cond=d_cond)
    G, D = ConditionalGenerator(cfg).eval(), ConditionalDiscriminator(cfg).eval()
    z, y = torch.randn(5, cfg.z_dim), torch.arange(5)
    x = G(z, y)
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    assert not torch.allclose(G(z, y), G(z, y + 5))  # the label changes the image
    score, logits = D.scores(x, y)
    assert score.shape == (5,)
    if d_cond == "acgan":  # D predicts the label and does not read it
        assert logits.shape == (5, 10)
        torch.testing.assert_close(D(x, y), D(x, (y + 3) % 10))
    else:
        assert logits is None
        assert not torch.allclose(D(x, y), D(x, (y + 3) % 10))
    with pytest.raises(ValueError, match="y has shape"):
        D(x, y[:3])
    with pytest.raises(ValueError, match="int64"):
        G(z, y.float())


def test_the_unet_passes_detail_through_its_skips_and_the_patchgan_judges_patches():
    torch.manual_seed(0)
    cfg = Pix2PixConfig(width=4, d_width=4)
    G, D = UNetGenerator(cfg).eval(), PatchDiscriminator(cfg).eval()
    x = torch.randn(3, 1, 28, 28).clamp(-1, 1)
    assert G(x).shape == (3, 1, 28, 28)
    assert D(x, G(x)).shape == (3, 1, 7, 7)
    # a patch logit sees an 18x18 window: changing a far corner leaves patch (0, 0) alone
    x2 = x.clone()
    x2[:, :, 20:, 20:] = -x2[:, :, 20:, 20:]
    y = G(x)
    torch.testing.assert_close(D(x, y)[:, :, 0, 0], D(x2, y)[:, :, 0, 0])
    assert not torch.allclose(D(x, y)[:, :, 6, 6], D(x2, y)[:, :, 6, 6])
    # the skip from the 14x14 encoder block: a pixel change reaches the output at that place
    x3 = x.clone()
    x3[:, :, 2, 2] += 0.5
    delta = (G(x3) - G(x)).abs()[0, 0]
    assert delta[:6, :6].sum() > 0


# ----------------------------------------------------------------------------- losses


def test_ac_class_loss_is_the_cross_entropy_of_the_logits():
    logits, labels = torch.randn(7, 10), torch.randint(0, 10, (7,))
    want = -torch.log_softmax(logits, 1)[torch.arange(7), labels].mean()
    torch.testing.assert_close(ac_class_loss(logits, labels), want)
    with pytest.raises(ValueError, match="logits"):
        ac_class_loss(logits[:, :, None], labels)


def test_the_double_softmax_stays_between_log_1_plus_9_over_e_and_log_9_plus_e():
    labels = torch.arange(10)
    certain = torch.full((10, 10), -1e4)
    certain[labels, labels] = 1e4  # D is sure and right
    torch.testing.assert_close(
        ac_class_loss_double_softmax(certain, labels), torch.tensor(math.log(1 + 9 / math.e))
    )
    assert float(ac_class_loss(certain, labels)) < 1e-6  # the right loss reaches 0
    uniform = torch.zeros(10, 10)
    torch.testing.assert_close(
        ac_class_loss_double_softmax(uniform, labels), torch.tensor(math.log(10))
    )
    wrong = certain.roll(1, dims=1)  # sure of another class: the most it can say
    torch.testing.assert_close(
        ac_class_loss_double_softmax(wrong, labels), torch.tensor(math.log(9 + math.e))
    )
    assert float(ac_class_loss(wrong, labels)) > 1e3  # the right loss: as wrong as D is sure
    # and its gradient vanishes as D becomes sure (the signal that should teach G fades)
    sure = (certain / 1e3).requires_grad_(True)
    ac_class_loss_double_softmax(sure, labels).backward()
    assert sure.grad.abs().max() < 1e-3


def test_l1_loss_is_the_mean_absolute_error():
    a, b = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(l1_loss(a, b), torch.tensor(np.abs(a.numpy() - b.numpy()).mean()))
    with pytest.raises(ValueError, match="differ"):
        l1_loss(a, b[:1])


# ----------------------------------------------------------------------------- the engine


def test_batches_carry_the_labels_of_their_own_images():
    """Images whose pixels spell their label: every batch's labels must match its images."""
    labels = torch.arange(100) % 10
    images = (labels.float() / 10 - 0.5)[:, None, None, None].expand(100, 1, 28, 28).contiguous()
    t = Trainer(default_config("cgan", **SMALL_CGAN), data={"images": images, "labels": labels})
    for _ in range(20):  # several epochs of shuffled batches
        x, y = t.real_batch()
        torch.testing.assert_close(((x[:, 0, 0, 0] + 0.5) * 10).round().long(), y)
    with pytest.raises(ValueError, match="trains on images, labels; the data given has no labels"):
        Trainer(default_config("cgan", **SMALL_CGAN), data=images)
    with pytest.raises(ValueError, match="differ in length"):
        Trainer(
            default_config("cgan", **SMALL_CGAN), data={"images": images, "labels": labels[:50]}
        )


@pytest.mark.parametrize(
    ("model", "dataset", "overrides"),
    [
        ("cgan", "fashion-mnist", dict(d_cond="projection")),
        ("cgan", "fashion-mnist", dict(d_cond="concat")),
        ("cgan", "fashion-mnist", dict(d_cond="acgan", class_loss="double-softmax")),
        ("pix2pix", "edges2fashion", {}),
        ("pix2pix", "edges2fashion", dict(l1_only=True)),
    ],
)
def test_each_conditional_family_trains_and_resumes_exactly(
    model, dataset, overrides, labelled, pairs, tmp_path
):
    data = labelled if model == "cgan" else pairs
    small = SMALL_CGAN if model == "cgan" else SMALL_P2P
    # pix2pix decays its rates over the budget: a fixed horizon, so that "10, then resume to
    # 20" follows the same schedule as "20" (see TrainerConfig.lr_decay_steps)
    horizon = {"lr_decay_steps": 20} if model == "pix2pix" else {}
    cfg = default_config(model, dataset, **small, **overrides, **horizon, checkpoint_every=10)
    straight = Trainer(cfg, data=data, device="cpu")
    straight.run(steps=20, progress=False)
    first = Trainer(cfg, tmp_path, data=data, device="cpu")
    first.run(steps=10, progress=False)
    resumed = Trainer.resume(tmp_path, data=data, device="cpu")
    resumed.run(steps=20, progress=False)
    torch.testing.assert_close(resumed.sample(8, seed=1), straight.sample(8, seed=1))
    timing = ("images_per_s", "seconds")
    assert {k: v for k, v in resumed.history.items() if k not in timing} == {
        k: v for k, v in straight.history.items() if k not in timing
    }
    if overrides.get("l1_only"):  # no discriminator was trained
        assert "loss_d" not in straight.history
        fresh = Trainer(cfg, data=data, device="cpu")
        for a, b in zip(fresh.D.parameters(), straight.D.parameters(), strict=True):
            torch.testing.assert_close(a, b)


def test_the_generator_step_does_not_move_the_discriminator(labelled, monkeypatch):
    """Within a step D changes in its own update only: with D's optimizer switched off, the
    generator's update must leave D's parameters exactly as they were."""
    t = Trainer(default_config("cgan", **SMALL_CGAN, d_cond="acgan"), data=labelled, device="cpu")
    monkeypatch.setattr(t.optimizers["D"], "step", lambda *a, **k: None)
    before = [p.detach().clone() for p in t.D.parameters()]
    g_before = [p.detach().clone() for p in t.G.parameters()]
    t.train_step()
    for a, b in zip(before, t.D.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, t.G.parameters(), strict=True))


def test_conditional_samples_come_in_the_classes_asked_for(labelled):
    t = Trainer(default_config("cgan", **SMALL_CGAN), data=labelled, device="cpu")
    x, y = t.family.sample_labelled(25, seed=3)
    assert y.tolist() == [i % 10 for i in range(25)] and x.shape == (25, 1, 28, 28)
    x7, y7 = t.family.sample_labelled(4, seed=3, label=7)
    assert y7.tolist() == [7] * 4
    # the same z per position whatever the label: sample i of class 7 is sample i re-labelled
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(x7, t.family.generate((z, y7)))
    for bad in (10, -1, 2.0, True):
        with pytest.raises(ValueError, match="label must be a class in 0-9"):
            t.family.sample_labelled(4, label=bad)


def test_seeded_translation_leaves_every_random_state_as_it_was(pairs, monkeypatch):
    """translate(seed=...) draws dropout from ``seed`` inside a fork of the random state of the
    CPU and of the family's own GPU, and seeds nothing else: it called torch.manual_seed, which
    also reseeds every GPU's generator, unforked (a CUDA run's dropout stream was clobbered).
    Its dropout is the one torch.manual_seed(seed) gives (the oracle, run by hand)."""
    t = Trainer(default_config("pix2pix", **SMALL_P2P), data=pairs, device="cpu")
    x = pairs["edges"][:4]
    seeded = []
    for fn in ("manual_seed", "manual_seed_all"):
        monkeypatch.setattr(torch.cuda, fn, lambda s, fn=fn: seeded.append(fn))
    cpu_before = torch.get_rng_state()
    out = t.family.translate(x, seed=3)
    assert seeded == [] and torch.equal(torch.get_rng_state(), cpu_before)
    monkeypatch.undo()
    G = t.family.sampling_network
    G.eval()
    for m in G.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(3)
        torch.testing.assert_close(out, G(x))
    G.train()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_seeded_translation_on_a_gpu_leaves_its_random_state(pairs):
    t = Trainer(default_config("pix2pix", **SMALL_P2P), data=pairs, device="cuda")
    x = pairs["edges"][:4]
    before = torch.cuda.get_rng_state(t.device)
    a = t.family.translate(x, seed=3)
    assert torch.equal(torch.cuda.get_rng_state(t.device), before)
    torch.testing.assert_close(a, t.family.translate(x, seed=3))


def test_translate_is_per_row_deterministic_and_dropout_is_seeded(pairs):
    t = Trainer(default_config("pix2pix", **SMALL_P2P), data=pairs, device="cpu")
    t.run(steps=5, progress=False)
    x = pairs["edges"][:6]
    out = t.family.translate(x)
    torch.testing.assert_close(out[2:3], t.family.translate(x[2:3]))  # row i is input i's
    torch.testing.assert_close(t.family.translate(x, seed=1), t.family.translate(x, seed=1))
    assert not torch.equal(t.family.translate(x, seed=1), t.family.translate(x, seed=2))
    assert t.G.training  # translate leaves the network as it found it
    for bad, message in [
        (torch.zeros(2, 28, 28), r"expected input images \[N, 1, 28, 28\]"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "floating point"),
        (torch.full((2, 1, 28, 28), 3.0), r"must lie in \[-1, 1\]"),
        (torch.full((2, 1, 28, 28), float("nan")), "NaN"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_translation_inputs(bad)


def test_edges2fashion_pairs_each_image_with_its_own_edge_map():
    fields, source = dataset_tensors("edges2fashion", "test", limit=50)
    torch.testing.assert_close(fields["edges"], edge_map(fields["images"]))
    assert "edge maps" in source and {"images", "labels", "edges"} <= set(fields)
    with pytest.raises(ValueError, match="not an image dataset"):
        dataset_tensors("ring")


def test_the_registry_holds_the_conditional_families():
    assert FAMILIES["conditional"].models == ("cgan",)
    assert FAMILIES["pix2pix"].models == ("pix2pix",)
    with pytest.raises(ValueError, match="pix2pix translates pairs; use it with edges2fashion"):
        default_config("pix2pix", "fashion-mnist")
    with pytest.raises(ValueError, match="cgan makes labelled 28x28 images"):
        default_config("cgan", "edges2fashion")
    with pytest.raises(ValueError, match="l1_only with l1 = 0"):
        default_config("pix2pix", l1_only=True, l1=0.0)
    with pytest.raises(ValueError, match="unknown d_cond"):
        default_config("cgan", d_cond="bogus")


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cgan") / "run"
    args = ["train", "cgan", "--dataset", "fashion-mnist", "--out", str(out), "--steps", "3"]
    assert main([*args, "--quiet", "--d-cond", "acgan"]) == 0
    return out


def test_sample_label_writes_one_class_and_the_labels_beside(cgan_run, tmp_path):
    out = tmp_path / "boots.npy"
    assert main(["sample", str(cgan_run), "--n", "12", "--label", "9", "--out", str(out)]) == 0
    assert np.load(out).shape == (12, 1, 28, 28)
    assert np.load(tmp_path / "boots_labels.npy").tolist() == [9] * 12
    assert main(["sample", str(cgan_run), "--n", "20", "--out", str(out)]) == 0
    labels = np.load(tmp_path / "boots_labels.npy")
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [2] * 10
    family = load_family(cgan_run)
    assert family.config.d_cond == "acgan"
    torch.testing.assert_close(torch.from_numpy(np.load(out)), family.sample(20, seed=0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "10"], "--label must be a class in 0-9, got 10"),
        (["--label", "-1"], "--label must be a class in 0-9, got -1"),
    ],
)
def test_bad_labels_are_one_line(cgan_run, tmp_path, capsys, args, message):
    out = str(tmp_path / "s.npy")
    assert main(["sample", str(cgan_run), "--n", "4", "--out", out, *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_label_on_an_unconditional_run_and_translate_on_a_generator_are_refused(
    cgan_run, tmp_path, capsys
):
    dcgan = tmp_path / "dcgan"
    assert (
        main(
            [
                "train",
                "dcgan",
                "--dataset",
                "fashion-mnist",
                "--out",
                str(dcgan),
                "--steps",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(["sample", str(dcgan), "--n", "4", "--label", "3", "--out", str(tmp_path / "s.npy")])
        == 1
    )
    assert "--label needs a class-conditional run (cgan)" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 28, 28), np.float32))
    for run in (dcgan, cgan_run):
        assert (
            main(["translate", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")])
            == 1
        )
        assert "translate needs a pix2pix or cyclegan run" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "cgan",
                "--dataset",
                "fashion-mnist",
                "--out",
                str(tmp_path / "c"),
                "--steps",
                "2",
                "--l1",
                "5",
            ]
        )
        == 1
    )
    assert "--l1 does not apply to cgan" in capsys.readouterr().err


def test_edges_then_translate_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "p2p"
    args = ["train", "pix2pix", "--dataset", "edges2fashion", "--out", str(run), "--steps", "3"]
    assert main([*args, "--quiet", "--l1-only"]) == 0
    images = load_fashion_mnist("test", subset=True, limit=9).images.numpy()
    np.save(tmp_path / "img.npy", images)
    assert main(["edges", str(tmp_path / "img.npy"), "--out", str(tmp_path / "e.npy")]) == 0
    assert (
        main(["translate", str(run), str(tmp_path / "e.npy"), "--out", str(tmp_path / "t.npy")])
        == 0
    )
    out = np.load(tmp_path / "t.npy")
    assert out.shape == (9, 1, 28, 28) and out.dtype == np.float32
    family = load_family(run)
    assert family.config.l1_only
    torch.testing.assert_close(torch.from_numpy(out), family.translate(edge_map(images)))
    capsys.readouterr()
    for bad, message in [
        (np.zeros((2, 28, 28), np.float32), r"expected input images \[N, 1, 28, 28\]"),
        (np.full((2, 1, 28, 28), 5, np.float32), r"must lie in \[-1, 1\]"),
    ]:
        np.save(tmp_path / "bad.npy", bad)
        assert (
            main(
                ["translate", str(run), str(tmp_path / "bad.npy"), "--out", str(tmp_path / "o.npy")]
            )
            == 1
        )
        err = capsys.readouterr().err
        assert "bad.npy" in err and re.search(message, err) and err.count("\n") == 1
        assert not (tmp_path / "o.npy").exists()
    assert (
        main(
            [
                "train",
                "pix2pix",
                "--dataset",
                "fashion-mnist",
                "--out",
                str(tmp_path / "q"),
                "--steps",
                "2",
            ]
        )
        == 1
    )
    assert "pix2pix translates pairs; use it with edges2fashion" in capsys.readouterr().err


def test_export_keeps_what_samples_and_refuses_to_resume(cgan_run, tmp_path, capsys):
    out = tmp_path / "cgan.pt"
    assert main(["export", str(cgan_run), "--out", str(out)]) == 0
    assert "sha256" in capsys.readouterr().out
    assert out.stat().st_size < (cgan_run / "checkpoint.pt").stat().st_size
    full, slim = load_family(cgan_run), load_family(out)
    torch.testing.assert_close(
        slim.sample_labelled(6, seed=2)[0], full.sample_labelled(6, seed=2)[0]
    )
    run = tmp_path / "again"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(out.read_bytes())
    args = [
        "train",
        "cgan",
        "--dataset",
        "fashion-mnist",
        "--out",
        str(run),
        "--steps",
        "9",
        "--resume",
    ]
    assert main(args) == 1
    assert "exported weights only" in capsys.readouterr().err
    assert main(["export", str(cgan_run), "--out", str(tmp_path / "x.npy")]) == 1


@pytest.mark.parametrize("class_fakes", [True, False])
def test_acgans_class_loss_sees_the_fakes_only_when_asked(labelled, monkeypatch, class_fakes):
    """The paper (class_fakes=True): L_C on real and generated images in D's update, then on
    generated ones in G's. class_fakes=False: D's class head learns from real labels only."""
    seen = []
    import gannotes.gans.conditional as conditional

    def spy(logits, labels):
        seen.append(labels.clone())
        return conditional.ac_class_loss(logits, labels)

    monkeypatch.setitem(conditional.CLASS_LOSSES, "cross-entropy", spy)
    cfg = default_config("cgan", **SMALL_CGAN, d_cond="acgan", class_fakes=class_fakes)
    t = Trainer(cfg, data={k: v[:16] for k, v in labelled.items()}, device="cpu")
    t.train_step()
    assert len(seen) == (3 if class_fakes else 2)  # D: real (and fake); G: fake
    torch.testing.assert_close(seen[0].sort().values, labelled["labels"][:16].sort().values)


# ----------------------------------------------------------------------------- shipped models

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "checkpoints"


@pytest.mark.parametrize("name", sorted(p.name for p in SHIPPED.glob("*.pt")))
def test_each_shipped_model_is_listed_with_its_checksum_and_loads_safely(name):
    """data/checkpoints/README.md names the command and sha256 of each file the notebooks load;
    each is a few MB, loads with weights_only=True and samples or translates."""
    path = SHIPPED / name
    readme = (SHIPPED / "README.md").read_text()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"`{name}`" in readme and digest in readme
    assert path.stat().st_size < 4 * 2**20
    state = torch.load(path, weights_only=True)
    assert state["exported"] and f"{state['step']:,} steps" in readme.split(f"`{name}`")[1]
    family = load_family(path)
    if family.n_classes:
        assert family.sample_labelled(4, label=3)[0].shape == (4, 1, 28, 28)
    else:
        edges = edge_map(load_fashion_mnist("test", subset=True, limit=4).images)
        for direction in family.directions:
            assert family.translate(edges, direction=direction).shape == (4, 1, 28, 28)
        if not family.directions:  # a generating model (StyleGAN)
            assert family.sample(4, seed=0).shape == (4, 1, 28, 28)


@pytest.mark.parametrize(
    ("model", "dataset"), [("cgan", "fashion-mnist"), ("pix2pix", "edges2fashion")]
)
def test_an_objective_that_needs_a_lipschitz_critic_is_refused_where_none_is_applied(
    model, dataset, tmp_path, capsys
):
    """The conditional and pix2pix families apply no gradient penalty or clipping, so the
    Wasserstein objective would train an unconstrained critic: refused in one line, naming
    what is valid; the other objectives train."""
    with pytest.raises(ValueError, match="needs a Lipschitz critic"):
        default_config(model, dataset, loss="wasserstein")
    out = str(tmp_path / "run")
    base = ["train", model, "--dataset", dataset, "--out", out, "--steps", "1", "--quiet"]
    assert main([*base, "--loss", "wasserstein"]) == 1
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "valid here: nonsaturating, minimax, hinge, least-squares" in err
    )
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert default_config(model, dataset, loss="hinge").loss == "hinge"


def test_pix2pix_weighs_its_adversarial_terms_as_the_authors_ganloss():
    """The authors' GANLoss (pytorch-CycleGAN-and-pix2pix, models/networks.py): D's loss is
    0.5 * (loss(real, 1) + loss(fake, 0)), G's loss(fake, 1), with loss the BCE of the logits
    or the plain MSE. With LSGAN's halves kept, least-squares had G's term at half and D's at a
    quarter (lambda L1 in effect doubled)."""
    import torch.nn.functional as F

    from gannotes.gans.pix2pix import d_pix2pix_loss, g_pix2pix_loss

    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4, 1, 7, 7, generator=gen), torch.randn(4, 1, 7, 7, generator=gen)
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    for loss, crit in (
        ("least-squares", F.mse_loss),
        ("nonsaturating", F.binary_cross_entropy_with_logits),
    ):
        want_d = 0.5 * (crit(real, ones) + crit(fake, zeros))
        torch.testing.assert_close(d_pix2pix_loss(loss, real, fake), want_d)
        torch.testing.assert_close(g_pix2pix_loss(loss, fake), crit(fake, ones))
