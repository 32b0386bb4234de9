"""Inside a trained generator (notebook 10): inversion, editing and dissection, each against an
oracle (a known latent, a closed form, a hand-written forward pass), and their commands."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes.checkpoint import GannotesError
from gannotes.cli import main
from gannotes.dissection import (
    ablated,
    class_share,
    dissect,
    layer_channels,
    load_units,
    mean_activation,
)
from gannotes.editing import (
    LabelledPool,
    classify,
    edit_toward,
    fit_boundary,
    ganspace_directions,
    label_pool,
    move,
)
from gannotes.features import feature_network
from gannotes.inversion import (
    Encoder,
    feature_loss,
    invert,
    latent_space,
    nearest_start,
    pixel_loss,
    train_encoder,
)
from gannotes.training import load_family

ROOT = Path(__file__).resolve().parent.parent
DCGAN = ROOT / "data" / "checkpoints" / "dcgan.pt"
STYLEGAN = ROOT / "data" / "checkpoints" / "stylegan.pt"
CGAN = ROOT / "data" / "checkpoints" / "cgan_projection.pt"


@pytest.fixture(scope="module")
def dcgan():
    return load_family(DCGAN)


@pytest.fixture(scope="module")
def stylegan():
    return load_family(STYLEGAN)


def _real(n: int = 4) -> torch.Tensor:
    from gannotes.data import dataset_tensors

    return dataset_tensors("fashion-mnist", "test", limit=n)[0]["images"]


# ----------------------------------------------------------------------------- inversion
@pytest.mark.parametrize("which,space", [("dcgan", "z"), ("stylegan", "w"), ("stylegan", "w+")])
def test_a_latent_renders_as_the_sample_of_its_seed(which, space, dcgan, stylegan):
    family = dcgan if which == "dcgan" else stylegan
    s = latent_space(family, space)
    inputs = family.latent(6, torch.Generator().manual_seed(3))
    noise = list(inputs[1:]) if isinstance(inputs, tuple) else None
    rendered = s.render(s.sample(6, seed=3), noise)
    assert torch.equal(rendered, family.sample(6, seed=3))
    with torch.no_grad():  # the differentiable path draws the same images, without noise
        assert torch.allclose(
            s.decode(s.sample(6, seed=3)), s.render(s.sample(6, seed=3)), atol=1e-5
        )


def test_losses_are_the_per_image_means_they_name():
    net = feature_network()
    a, b = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    expected = ((a - b) ** 2).reshape(3, -1).mean(1)
    assert torch.allclose(pixel_loss(a, b), expected)
    with torch.no_grad():
        fa, fb = net(a)[0], net(b)[0]
        assert torch.allclose(feature_loss(a, fb, net), ((fa - fb) ** 2).mean(1))


def test_the_start_is_the_nearest_prior_draw(dcgan):
    s = latent_space(dcgan)
    x = _real(3)
    start = nearest_start(s, x, candidates=50, seed=4)
    pool = s.sample(50, seed=4)
    with torch.no_grad():
        images = s.decode(pool)
    for i in range(3):  # brute force: the pool's image closest to image i, one by one
        d = [float(((images[j] - x[i]) ** 2).sum()) for j in range(50)]
        assert torch.equal(start[i], pool[int(np.argmin(d))])


def test_optimisation_recovers_a_generated_image_better_than_its_start(dcgan):
    """An image the DCGAN drew has a latent that reproduces it exactly: optimisation from the
    nearest of a few draws must come much closer to it than that start."""
    s = latent_space(dcgan)
    target = s.render(s.sample(4, seed=11))
    start = nearest_start(s, target, candidates=20, seed=0)
    inv = invert(dcgan, target, steps=150, candidates=20)
    with torch.no_grad():
        before = pixel_loss(s.decode(start), target).sqrt()
    after = pixel_loss(inv.images, target).sqrt()
    assert (after < 0.6 * before).all() and after.mean() < 0.4 * before.mean(), (before, after)
    assert inv.latents.shape == (4, 64) and inv.images.shape == (4, 1, 28, 28)


def test_w_plus_fits_real_garments_at_least_as_well_as_w(stylegan):
    x = _real(4)
    w = invert(stylegan, x, space="w", steps=40, candidates=200)
    wp = invert(stylegan, x, space="w+", steps=40, candidates=200)
    assert wp.latents.shape == (4, stylegan.model_cfg.num_ws, stylegan.model_cfg.w_dim)
    assert pixel_loss(wp.images, x).mean() <= pixel_loss(w.images, x).mean()


def test_an_encoder_learns_to_predict_latents(dcgan):
    s = latent_space(dcgan)
    z = s.sample(64, seed=9)
    with torch.no_grad():
        x = s.decode(z)
    torch.manual_seed(0)
    untrained = Encoder(s.shape)
    enc, seconds = train_encoder(s, steps=150, seed=0)
    with torch.no_grad():
        assert ((enc(x) - z) ** 2).mean() < 0.8 * ((untrained(x) - z) ** 2).mean()
    assert seconds > 0
    hybrid = invert(dcgan, x[:4], method="hybrid", steps=5, encoder=enc)
    assert hybrid.method == "hybrid" and hybrid.latents.shape == (4, 64)


def test_prior_distance_is_about_one_for_prior_draws_and_grows_off_it(dcgan, stylegan):
    for family, space in ((dcgan, "z"), (stylegan, "w"), (stylegan, "w+")):
        s = latent_space(family, space)
        lat = s.sample(2000, seed=5)
        d = s.prior_distance(lat)
        assert 0.85 < float(d.mean()) < 1.15, (space, float(d.mean()))
        mean = lat.mean(0, keepdim=True)
        assert float(s.prior_distance(mean + 3 * (lat - mean)).mean()) > 2.5


def test_layer_spread_is_zero_for_one_w_at_every_layer_and_grows_with_disagreement(stylegan):
    s = latent_space(stylegan, "w+")
    lat = s.sample(50, seed=1)
    assert torch.allclose(s.layer_spread(lat), torch.zeros(50), atol=1e-3)
    mixed = lat.clone()
    mixed[:, 3:] = s.sample(50, seed=2)[:, 3:]  # the fine layers from other draws
    assert float(s.layer_spread(mixed).mean()) > 0.5
    assert torch.equal(latent_space(stylegan, "w").layer_spread(lat[:, 0]), torch.zeros(50))


def test_inversion_refuses_what_it_cannot_invert(dcgan):
    with pytest.raises(GannotesError, match="unconditional image generator"):
        latent_space(load_family(CGAN))
    with pytest.raises(GannotesError, match="only the latent space z"):
        latent_space(dcgan, "w")
    with pytest.raises(GannotesError, match="unknown inversion method"):
        invert(dcgan, _real(1), method="guess")
    with pytest.raises(GannotesError, match="needs an encoder"):
        invert(dcgan, _real(1), method="encoder")


# ----------------------------------------------------------------------------- editing
def test_interfacegan_boundary_recovers_a_planted_linear_boundary():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 8, generator=g) * torch.linspace(0.5, 2, 8)  # not isotropic
    u = torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0)
    labels = (x @ u > 0.3).long() * 3  # class 3 on one side, class 0 on the other
    pool = LabelledPool(x, torch.nn.functional.one_hot(labels, 10).float())
    b = fit_boundary(pool, 3)
    assert float(b.normal @ u) > 0.98
    assert abs(b.offset + 0.3) < 0.1
    assert b.accuracy > 0.97
    assert (((b.distance(x) > 0).long() * 3) == labels).float().mean() > 0.97


def test_move_is_latent_plus_amount_times_direction():
    lat = torch.randn(3, 4, 5)
    d = torch.randn(4, 5)
    out = move(lat, d, torch.tensor([0.0, 1.0, -2.0]))
    for i, a in enumerate((0.0, 1.0, -2.0)):
        assert torch.allclose(out[i], lat[i] + a * d)


def test_ganspace_of_w_is_its_principal_components(stylegan):
    s = latent_space(stylegan, "w")
    dirs, share = ganspace_directions(s, k=3, n=3000, seed=2)
    z = torch.randn(3000, stylegan.model_cfg.z_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        w = stylegan.sampling_network.mapping(z, update_w_avg=False).double()
    evals, evecs = torch.linalg.eigh(torch.cov(w.T))  # ascending
    for i in range(3):
        assert abs(float(dirs[i].double() @ evecs[:, -1 - i])) > 0.99
    assert torch.allclose(share.double(), (evals.flip(0) / evals.sum())[:3], rtol=1e-3)


def test_ganspace_of_the_dcgan_gives_unit_directions_in_z(dcgan):
    dirs, share = ganspace_directions(latent_space(dcgan), k=4, n=2000)
    assert dirs.shape == (4, 64)
    assert torch.allclose(dirs.norm(dim=1), torch.ones(4), atol=1e-5)
    assert (share[:-1] >= share[1:]).all()


@pytest.fixture(scope="module")
def dcgan_pool(dcgan):
    return label_pool(latent_space(dcgan), n=3000)


def test_edit_toward_a_class_reaches_it_and_strength_zero_changes_nothing(dcgan, dcgan_pool):
    s = latent_space(dcgan)
    lat = s.sample(60, seed=21)
    before = classify(s.render(lat)).argmax(1)
    assert torch.equal(edit_toward(s, lat, 1, strength=0, pool=dcgan_pool), lat)
    edited = edit_toward(s, lat, 1, pool=dcgan_pool)
    after = classify(s.render(edited)).argmax(1)
    moved = before != 1
    assert (after[moved] == 1).float().mean() >= 0.9
    # each edit lies on the segment from the latent to a member of class 1 in the pool
    members = dcgan_pool.latents[(dcgan_pool.labels == 1) & (dcgan_pool.probs[:, 1] >= 0.8)]
    target = members[torch.cdist(lat, members).argmin(1)]
    t = ((edited - lat) * (target - lat)).sum(1) / (target - lat).square().sum(1)
    assert torch.allclose(lat + t[:, None] * (target - lat), edited, atol=1e-5)
    assert ((t >= 0) & (t <= 1)).all()
    half = edit_toward(s, lat, 1, strength=0.5, pool=dcgan_pool)
    assert torch.allclose(half - lat, 0.5 * (edited - lat), atol=1e-5)


def test_edit_refuses_a_class_that_is_not_one(dcgan, dcgan_pool):
    s = latent_space(dcgan)
    with pytest.raises(GannotesError, match="0-9"):
        edit_toward(s, s.sample(2), 10, pool=dcgan_pool)


# ----------------------------------------------------------------------------- dissection
def test_an_ablated_unit_shows_its_mean_activation(dcgan):
    """The DCGAN's forward pass by hand: project, replace units 3 and 7 of its ReLU output by
    their mean maps, upsample."""
    G = dcgan.sampling_network
    mean = mean_activation(dcgan, "project.2")
    z = dcgan.latent(5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = G.project(z[:, :, None, None])
        h[:, [3, 7]] = mean[[3, 7]]
        expected = G.up(h)
        with ablated(dcgan, "project.2", [3, 7], to="mean"):
            got = dcgan.sample(5, seed=0)
        zero = h.clone()
        zero[:, [3, 7]] = 0
        with ablated(dcgan, "project.2", [3, 7]):  # Bau et al.'s: to zero
            got_zero = dcgan.sample(5, seed=0)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got_zero, G.up(zero), atol=1e-6)
    assert not torch.equal(got, dcgan.sample(5, seed=0))  # and the hook is gone after the block
    assert torch.equal(dcgan.sample(5, seed=0), dcgan.sample(5, seed=0))


def test_dissect_ranks_units_by_their_learned_ablation(dcgan):
    r = dissect(dcgan, 1, top=5, steps=10, batch=16)
    assert r["channels"] == layer_channels(dcgan, "project.2") == 64
    alpha = torch.tensor(r["alpha"])
    assert ((alpha >= 0) & (alpha <= 1)).all()
    assert [r["alpha"][u] for u in r["units"]] == sorted(r["alpha"], reverse=True)[:5]


def test_dissect_keeps_the_fewest_units_that_halve_the_class(dcgan):
    """top=None: the first k of the ranking whose ablation brings the class's share of the
    same 1,000 samples to 0.4 times what it was; k - 1 of them did not."""
    r = dissect(dcgan, 1, steps=30, batch=32, n_check=1000)
    k = len(r["units"])
    before = class_share(dcgan, 1, 1000, seed=1)
    with ablated(dcgan, "project.2", r["units"]):
        assert class_share(dcgan, 1, 1000, seed=1) <= 0.4 * before
    with ablated(dcgan, "project.2", r["units"][: k - 1]):  # one unit fewer did not reach it
        assert class_share(dcgan, 1, 1000, seed=1) > 0.4 * before


def test_a_units_file_must_fit_the_network(tmp_path, dcgan, stylegan):
    good = {"model": "dcgan", "layer": "project.2", "units": [1, 2], "to": "mean"}
    path = tmp_path / "u.json"
    path.write_text(json.dumps(good))
    assert load_units(path, dcgan)["units"] == [1, 2]
    for bad, message in (
        ({**good, "units": [64]}, "unit indices in 0-63"),
        ({**good, "layer": "up.9"}, "unknown layer"),
        ({**good, "model": "stylegan"}, "stylegan generator, this is a dcgan"),
        ({"units": [1]}, "no model, layer and units"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(GannotesError, match=message):
            load_units(path, dcgan)
    path.write_text("{not json")
    with pytest.raises(GannotesError, match="not a JSON units file"):
        load_units(path, dcgan)


# ----------------------------------------------------------------------------- the commands
def _npy(path: Path, x) -> Path:
    np.save(path, np.asarray(x, dtype=np.float32))
    return path


def test_invert_and_edit_commands(tmp_path, capsys):
    images = _npy(tmp_path / "real.npy", _real(3).numpy())
    out, lat = tmp_path / "recon.npy", tmp_path / "lat.npy"
    args = ["invert", str(DCGAN), str(images), "--out", str(out), "--latents", str(lat)]
    assert main([*args, "--steps", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 3 and report["space"] == "z" and 0 <= report["class_kept"] <= 1
    recon = np.load(out)
    assert recon.shape == (3, 1, 28, 28) and np.load(lat).shape == (3, 64)
    # edit --images --strength 0 writes exactly what invert wrote
    same = tmp_path / "same.npy"
    edit = ["edit", str(DCGAN), "--toward", "8", "--images", str(images), "--steps", "5"]
    assert main([*edit, "--strength", "0", "--out", str(same)]) == 0
    np.testing.assert_array_equal(np.load(same), recon)


@pytest.mark.parametrize("run", [DCGAN, STYLEGAN], ids=["dcgan", "stylegan"])
def test_edit_strength_zero_is_sample_exactly(tmp_path, run, capsys):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["sample", str(run), "--n", "7", "--seed", "4", "--out", str(a)]) == 0
    edit = ["edit", str(run), "--toward", "5", "--n", "7", "--seed", "4", "--strength", "0"]
    assert main([*edit, "--out", str(b)]) == 0
    np.testing.assert_array_equal(np.load(a), np.load(b))


def test_dissect_then_sample_with_the_units_off(tmp_path, dcgan, capsys):
    units = tmp_path / "units.json"
    assert main(["dissect", str(DCGAN), "--class", "1", "--top", "4", "--out", str(units)]) == 0
    spec = json.loads(units.read_text())
    assert len(spec["units"]) == 4 and spec["layer"] == "project.2"
    printed = json.loads(capsys.readouterr().out)
    assert printed["measured"]["share"] > 0
    out = tmp_path / "s.npy"
    assert main(["sample", str(DCGAN), "--n", "5", "--out", str(out), "--ablate", str(units)]) == 0
    with ablated(dcgan, spec["layer"], spec["units"]):
        expected = dcgan.sample(5, seed=0)
    np.testing.assert_array_equal(np.load(out), expected.numpy())


def _fails(argv, capsys, *outputs, match: str):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err
    for path in outputs:
        assert not Path(path).exists()


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    real = _npy(tmp_path / "real.npy", _real(2).numpy())
    wrong = _npy(tmp_path / "wrong.npy", np.zeros((2, 3, 32, 32)))
    out = tmp_path / "out.npy"
    _fails(
        ["invert", str(CGAN), str(real), "--out", str(out)],
        capsys,
        out,
        match="unconditional image generator",
    )
    _fails(
        ["invert", str(DCGAN), str(wrong), "--out", str(out)], capsys, out, match="[N, 1, 28, 28]"
    )
    _fails(
        ["invert", str(DCGAN), str(real), "--space", "w+", "--out", str(out)],
        capsys,
        out,
        match="only the latent space z",
    )
    _fails(
        ["edit", str(DCGAN), "--toward", "10", "--n", "3", "--out", str(out)],
        capsys,
        out,
        match="0-9",
    )
    _fails(
        ["edit", str(CGAN), "--toward", "1", "--n", "3", "--out", str(out)],
        capsys,
        out,
        match="unconditional image generator",
    )
    units = tmp_path / "u.json"
    _fails(
        ["dissect", str(DCGAN), "--class", "12", "--out", str(units)], capsys, units, match="0-9"
    )
    _fails(
        ["dissect", str(STYLEGAN), "--class", "1", "--layer", "up.2", "--out", str(units)],
        capsys,
        units,
        match="unknown layer",
    )
    units.write_text(json.dumps({"model": "dcgan", "layer": "project.2", "units": [99]}))
    _fails(
        ["sample", str(DCGAN), "--n", "2", "--out", str(out), "--ablate", str(units)],
        capsys,
        out,
        match="unit indices in 0-63",
    )
    _fails(
        ["sample", str(STYLEGAN), "--n", "2", "--out", str(out), "--ablate", str(units)],
        capsys,
        out,
        match="this is a stylegan",
    )


def test_the_readme_tables_are_the_recorded_result(monkeypatch):
    """benchmarks/README.md quotes benchmarks/results/inside_generator.json through the
    benchmark's own table printer: every line of it is in the README."""
    import importlib.util

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script
    spec = importlib.util.spec_from_file_location(
        "inside_generator", ROOT / "benchmarks" / "inside_generator.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    record = json.loads((ROOT / "benchmarks" / "results" / "inside_generator.json").read_text())
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for line in bench.tables(record).splitlines():
        assert line in readme, line
    halved = sum(
        r["share_units_off_independent"] <= 0.5 * r["share_independent"]
        for r in record["dissect"]["dcgan"]
    )
    assert f"share falls by at least half for {halved} of the 10 classes" in readme
