"""Tests for gannotes.viz: exact pixels, formulas and file behaviour, not just "it runs"."""

from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from gannotes import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    """Keep figures from piling up between tests."""
    yield
    plt.close("all")


def _ramp(n: int, c: int, h: int, w: int) -> torch.Tensor:
    """A batch with distinct values in [-1, 1] so misplaced pixels are detectable."""
    return torch.linspace(-1.0, 1.0, n * c * h * w).reshape(n, c, h, w)


# ------------------------------------------------------------------------------------------
# to_uint8
# ------------------------------------------------------------------------------------------


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]).reshape(1, 1, 1, 7)
    # (x + 1) / 2 * 255 after clipping: 0, 0, 63.75, 127.5, 191.25, 255, 255; halves round up.
    expected = np.array([0, 0, 64, 128, 191, 255, 255], dtype=np.uint8).reshape(1, 1, 7, 1)
    out = viz.to_uint8(x)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((2, 1, 3, 4), (2, 3, 4, 1)), ((2, 3, 3, 4), (2, 3, 4, 3)), ((2, 3, 4), (2, 3, 4, 1))],
)
def test_to_uint8_shapes_and_channel_order(shape, expected):
    x = np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32)
    out = viz.to_uint8(x)
    assert out.shape == expected
    nchw = x if x.ndim == 4 else x[:, None]
    ref = np.floor((nchw + 1) / 2 * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(out, ref)


def test_to_uint8_accepts_grad_tensor_and_uint8():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    assert viz.to_uint8(x).max() == 128
    u = np.array([[[0, 17], [200, 255]]], dtype=np.uint8)  # [N, H, W], already in [0, 255]
    np.testing.assert_array_equal(viz.to_uint8(u)[..., 0], u)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((4, 4)), r"\[N, C, H, W\] or \[N, H, W\]"),
        (np.zeros((1, 2, 4, 4)), "1 or 3 channels"),
        (np.full((1, 1, 2, 2), np.nan), "NaN or inf"),
        (np.zeros((0, 1, 2, 2)), "empty"),
    ],
)
def test_to_uint8_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        viz.to_uint8(bad)


# ------------------------------------------------------------------------------------------
# make_grid / show_images / save_image_grid
# ------------------------------------------------------------------------------------------


def test_make_grid_exact_layout_2x2_with_empty_slot():
    # Three 2x2 grayscale images with values a, b, c; two per row; padding 1 of value 0.5.
    a, b, c = -1.0, 0.0, 1.0  # -> 0.0, 0.5, 1.0 in the output
    images = torch.tensor([a, b, c]).reshape(3, 1, 1, 1).expand(3, 1, 2, 2)
    p = 0.5
    expected = np.array(
        [
            [p, p, p, p, p, p, p],
            [p, 0, 0, p, 0.5, 0.5, p],
            [p, 0, 0, p, 0.5, 0.5, p],
            [p, p, p, p, p, p, p],
            [p, 1, 1, p, p, p, p],  # the fourth slot is empty: pad value
            [p, 1, 1, p, p, p, p],
            [p, p, p, p, p, p, p],
        ]
    )
    grid = viz.make_grid(images, nrow=2, padding=1, pad_value=p)
    assert grid.shape == (7, 7)  # grayscale squeezed to 2-D
    np.testing.assert_allclose(grid, expected)


def test_make_grid_rgb_positions_and_range():
    images = _ramp(5, 3, 4, 3)  # [N, C, H, W]
    grid = viz.make_grid(images, nrow=3, padding=2, pad_value=1.0)
    # rows = ceil(5 / 3) = 2, cols = 3: H' = 2 * (4 + 2) + 2, W' = 3 * (3 + 2) + 2
    assert grid.shape == (14, 17, 3)
    assert grid.min() >= 0.0 and grid.max() <= 1.0
    unit = ((images + 1) / 2).numpy().transpose(0, 2, 3, 1)  # [N, H, W, C]
    for k in range(5):
        r, q = divmod(k, 3)
        top, left = r * 6 + 2, q * 5 + 2
        np.testing.assert_allclose(grid[top : top + 4, left : left + 3], unit[k], atol=1e-6)


def test_make_grid_nrow_larger_than_batch_uses_one_row():
    grid = viz.make_grid(torch.zeros(3, 1, 2, 2), nrow=8, padding=0)
    assert grid.shape == (2, 6)
    np.testing.assert_allclose(grid, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"nrow": 0}, "nrow"), ({"padding": -1}, "padding"), ({"pad_value": 2.0}, "pad_value")],
)
def test_make_grid_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.make_grid(torch.zeros(2, 1, 2, 2), **kwargs)


def test_show_images_draws_the_grid_in_gray():
    images = _ramp(4, 1, 3, 3)
    ax = viz.show_images(images, nrow=2, title="samples", labels=["a", "b", "c", "d"])
    (im,) = ax.get_images()
    np.testing.assert_allclose(im.get_array(), viz.make_grid(images, nrow=2))
    assert im.get_cmap().name == "gray"
    assert im.get_clim() == (0.0, 1.0)
    assert not ax.axison
    assert ax.get_title() == "samples"
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="one entry per image"):
        viz.show_images(images, labels=["a"])


def test_save_image_grid_writes_png_roundtrip(tmp_path):
    images = _ramp(3, 3, 4, 4)
    path = viz.save_image_grid(images, tmp_path / "sub" / "grid.png", nrow=2)
    assert path == tmp_path / "sub" / "grid.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        pixels = np.asarray(im)
    expected = np.floor(viz.make_grid(images, nrow=2) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.png"]  # no temp files


def test_save_image_grid_grayscale_mode(tmp_path):
    path = viz.save_image_grid(torch.zeros(2, 1, 2, 2), tmp_path / "g.png")
    with Image.open(path) as im:
        assert im.mode == "L"


def test_save_image_grid_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "grid.png"
    path.write_bytes(b"old contents")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        viz.save_image_grid(torch.zeros(1, 1, 2, 2), path)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_save_image_grid_rejects_non_png(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        viz.save_image_grid(torch.zeros(1, 1, 2, 2), tmp_path / "grid.jpg")


# ------------------------------------------------------------------------------------------
# plot_history
# ------------------------------------------------------------------------------------------


def _history(n: int = 6) -> dict[str, list[float]]:
    return {
        "step": [10 * i for i in range(n)],
        "loss_d": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0][:n],
        "loss_g": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0][:n],
        "d_real": [0.9] * n,
        "d_fake": [0.1] * n,
        "images_per_s": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0][:n],
    }


def test_plot_history_panels_and_equilibrium_line():
    fig = viz.plot_history(_history())
    ax_loss, ax_prob = fig.axes[:2]
    lines = {line.get_label(): line for line in ax_loss.get_lines()}
    np.testing.assert_array_equal(lines["loss_d"].get_xdata(), [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(lines["loss_d"].get_ydata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(lines["loss_g"].get_ydata(), [6, 5, 4, 3, 2, 1])
    assert "350 images/s" in ax_loss.get_title()  # the median throughput
    prob = {line.get_label(): line for line in ax_prob.get_lines()}
    np.testing.assert_allclose(prob["D(x) (real)"].get_ydata(), 0.9)
    np.testing.assert_allclose(prob["D(G(z)) (generated)"].get_ydata(), 0.1)
    eq = prob["equilibrium 0.5"]
    assert eq.get_linestyle() == "--"
    np.testing.assert_allclose(eq.get_ydata(), 0.5)


def test_plot_history_smoothing_is_a_trailing_mean_and_keys_select_curves():
    fig = viz.plot_history(_history(), keys=["loss_d"], smooth=3)
    (line,) = fig.axes[0].get_lines()
    # trailing windows: [1], [1,2], [1,2,3], [2,3,4], [3,4,5], [4,5,6]
    np.testing.assert_allclose(line.get_ydata(), [1.0, 1.5, 2.0, 3.0, 4.0, 5.0])


def test_plot_history_draws_into_given_axes_without_optional_keys():
    fig, axes = plt.subplots(1, 2)
    hist = {k: v for k, v in _history(3).items() if k in ("step", "loss_d", "loss_g")}
    assert viz.plot_history(hist, ax=axes) is fig
    assert [line.get_label() for line in axes[1].get_lines()] == ["equilibrium 0.5"]


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        ({"loss_g": None}, {}, "missing"),
        ({"loss_d": [1.0]}, {}, "same length"),
        ({}, {"smooth": 0}, "smooth"),
        ({}, {"keys": ["loss_x"]}, "not in history"),
    ],
)
def test_plot_history_rejects_bad_input(change, kwargs, match):
    hist = _history()
    for key, value in change.items():
        if value is None:
            del hist[key]
        else:
            hist[key] = value
    with pytest.raises(ValueError, match=match):
        viz.plot_history(hist, **kwargs)


# ------------------------------------------------------------------------------------------
# animate
# ------------------------------------------------------------------------------------------


def _frames(t: int = 3) -> torch.Tensor:
    """[T, N, C, H, W] frames that differ from each other (so GIF frames are not merged)."""
    return torch.stack([torch.full((4, 1, 6, 6), -1.0 + 2.0 * i / max(t - 1, 1)) for i in range(t)])


def test_animate_jshtml_has_one_embedded_frame_per_step_and_closes_figure():
    before = plt.get_fignums()
    html = viz.animate(_frames(3), steps=[100, 200, 300], nrow=2)
    data = html.data
    assert "<script" in data
    assert len(re.findall(r"frames\[\d+\] = \"data:image/png;base64,", data)) == 3
    assert plt.get_fignums() == before


def test_animate_accepts_list_of_uint8_batches():
    frames = [np.full((2, 5, 5), v, dtype=np.uint8) for v in (0, 128, 255)]  # [N, H, W] each
    html = viz.animate(frames)
    assert len(re.findall(r"frames\[\d+\] = ", html.data)) == 3


def test_animate_gif_frame_count_and_no_temp_files(tmp_path):
    path = viz.animate(_frames(4), fmt="gif", path=tmp_path / "train.gif", nrow=2, interval=100)
    assert path == tmp_path / "train.gif"
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 4
    assert [p.name for p in tmp_path.iterdir()] == ["train.gif"]


def test_animate_gif_keeps_old_file_when_writer_fails(tmp_path, monkeypatch):
    path = tmp_path / "train.gif"
    path.write_bytes(b"old gif")

    def fail(self, *args, **kwargs):
        raise RuntimeError("writer crashed")

    monkeypatch.setattr(matplotlib.animation.PillowWriter, "finish", fail)
    with pytest.raises(RuntimeError, match="writer crashed"):
        viz.animate(_frames(2), fmt="gif", path=path)
    assert path.read_bytes() == b"old gif"
    assert [p.name for p in tmp_path.iterdir()] == ["train.gif"]


def test_animate_points_gif(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(3, 50, 2)) * np.array([1.0, 2.0, 3.0])[:, None, None]
    path = viz.animate(
        frames,
        fmt="gif",
        path=tmp_path / "p.gif",
        kind="points",
        lim=4,
        real=rng.normal(size=(20, 2)),
    )
    with Image.open(path) as im:
        assert im.n_frames == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmt": "mp4"}, "fmt must be one of"),
        ({"fmt": "gif"}, "needs a path"),
        ({"fmt": "gif", "path": "x.png"}, r"\.gif"),
        ({"steps": [1, 2]}, "one entry per frame"),
        ({"kind": "video"}, "kind must be one of"),
    ],
)
def test_animate_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.animate(_frames(3), **kwargs)


def test_animate_rejects_wrong_ndim():
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\]"):
        viz.animate(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"\[T, N, 2\]"):
        viz.animate(np.zeros((3, 4)), kind="points")


# ------------------------------------------------------------------------------------------
# interpolate
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_endpoints_are_exact(method):
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=g), torch.randn(16, generator=g)
    path = viz.interpolate(z0, z1, steps=7, method=method)
    assert path.shape == (7, 16) and path.dtype == torch.float32
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_lerp_midpoint_is_the_mean():
    z0, z1 = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([3.0, 0.0, -1.0])
    path = viz.interpolate(z0, z1, steps=3, method="lerp")
    torch.testing.assert_close(path[1], (z0 + z1) / 2)


def test_slerp_preserves_norm_for_equal_norms():
    g = torch.Generator().manual_seed(1)
    z0, z1 = (
        torch.randn(32, generator=g, dtype=torch.float64),
        torch.randn(32, generator=g, dtype=torch.float64),
    )
    z1 = z1 / z1.norm() * z0.norm()
    path = viz.interpolate(z0, z1, steps=11, method="slerp")
    torch.testing.assert_close(path.norm(dim=1), z0.norm().expand(11))
    lerp = viz.interpolate(z0, z1, steps=11, method="lerp")
    assert lerp[5].norm() < z0.norm() - 1e-3  # the straight line cuts inside the shell


def test_slerp_of_orthogonal_unit_vectors():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = viz.interpolate(z0, z1, steps=3, method="slerp")
    torch.testing.assert_close(path[1], (z0 + z1) / math.sqrt(2))
    # and a 30-degree step along the arc for steps=4
    path4 = viz.interpolate(z0, z1, steps=4, method="slerp")
    torch.testing.assert_close(
        path4[1], torch.tensor([math.cos(math.pi / 6), math.sin(math.pi / 6)])
    )


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    z0 = torch.tensor([1.0, 2.0])
    path = viz.interpolate(z0, 3 * z0, steps=3, method="slerp")
    torch.testing.assert_close(path, viz.interpolate(z0, 3 * z0, steps=3, method="lerp"))
    assert torch.isfinite(viz.interpolate(torch.zeros(2), z0, steps=3)).all()


@pytest.mark.parametrize(
    ("z0", "z1", "kwargs", "match"),
    [
        (torch.zeros(3), torch.zeros(3), {"method": "cubic"}, "method must be one of"),
        (torch.zeros(3), torch.zeros(4), {}, "same shape"),
        (torch.zeros(1, 3), torch.zeros(1, 3), {}, "1-D"),
        (torch.zeros(3), torch.zeros(3), {"steps": 1}, "steps"),
    ],
)
def test_interpolate_rejects_bad_input(z0, z1, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.interpolate(z0, z1, **kwargs)


# ------------------------------------------------------------------------------------------
# interpolation_widget
# ------------------------------------------------------------------------------------------


def _tiny_generator(z_dim: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(z_dim, 28 * 28),
        torch.nn.BatchNorm1d(28 * 28),  # behaves differently in train mode: checks eval()
        torch.nn.Tanh(),
        torch.nn.Unflatten(1, (1, 28, 28)),
    )


def _png(value: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(value)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def test_interpolation_widget_shows_generated_image_and_reacts():
    pytest.importorskip("ipywidgets")
    gen = _tiny_generator()
    gen.train()
    box = viz.interpolation_widget(gen, z_dim=4, seed=3, steps=5)
    assert gen.training  # the training flag is restored

    # The image at t = 0 is exactly G(z0) for z0 drawn from torch.Generator seeded with 3.
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(3))
    gen.eval()
    with torch.no_grad():
        expected = viz.to_uint8(gen(z[:1]))[0, ..., 0]
    gen.train()
    np.testing.assert_array_equal(_png(box.image.value), expected)
    strip = _png(box.strip.value)
    assert strip.shape == (28 + 2, 5 * 29 + 1)  # 5 tiles in one row, padding 1

    first = box.image.value
    box.update(1.0)
    assert box.slider.value == 1.0
    gen.eval()
    with torch.no_grad():
        expected_end = viz.to_uint8(gen(z[1:]))[0, ..., 0]
    gen.train()
    np.testing.assert_allclose(_png(box.image.value), expected_end, atol=1)
    assert box.image.value != first

    at_one = box.image.value
    box.button.click()  # new endpoints: seed 3 -> 4
    assert box.seed_box.value == 4
    assert box.image.value != at_one
    assert gen.training
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        box.update(1.5)


# ------------------------------------------------------------------------------------------
# 2-D toy plots
# ------------------------------------------------------------------------------------------


def test_plot_points_colours_limits_and_aspect():
    real = np.array([[0.0, 1.0], [1.0, 0.0]])
    fake = torch.tensor([[0.5, 0.5]])
    ax = viz.plot_points(real, fake, lim=2, title="toy")
    real_pc, fake_pc = ax.collections
    np.testing.assert_array_equal(real_pc.get_offsets(), real)
    np.testing.assert_array_equal(fake_pc.get_offsets(), fake.numpy())
    assert not np.allclose(real_pc.get_facecolor()[0][:3], fake_pc.get_facecolor()[0][:3])
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-2.0, 2.0)
    assert ax.get_aspect() == 1.0
    assert ax.get_title() == "toy"
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        viz.plot_points(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="lo < hi"):
        viz.plot_points(real, lim=(1, -1))


def test_plot_density_counts_points_per_bin():
    points = np.array([[-0.5, -0.5], [-0.5, -0.5], [0.5, 0.5]])
    ax = viz.plot_density(points, bins=2, lim=1)
    (mesh,) = ax.collections
    counts = np.ma.filled(mesh.get_array(), 0).reshape(2, 2)  # [y, x]
    np.testing.assert_array_equal(counts, [[2, 0], [0, 1]])
    assert mesh.norm.__class__.__name__ == "LogNorm"


class _XLogit(torch.nn.Module):
    """A 'discriminator' whose logit is the x coordinate; records its mode and grad state."""

    def __init__(self, keepdim: bool):
        super().__init__()
        self.keepdim = keepdim
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return x[:, :1] if self.keepdim else x[:, 0]


@pytest.mark.parametrize("keepdim", [False, True])
def test_decision_surface_matches_sigmoid_of_x(keepdim):
    disc = _XLogit(keepdim)
    xx, yy, probs = viz.decision_surface(disc, lim=(-2, 2), resolution=5)
    axis = np.linspace(-2, 2, 5)
    assert xx.shape == yy.shape == probs.shape == (5, 5)
    np.testing.assert_allclose(xx, np.tile(axis, (5, 1)))
    np.testing.assert_allclose(yy, np.tile(axis[:, None], (1, 5)))
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-xx)), rtol=1e-6)
    assert disc.calls == [(False, False)]  # eval mode, no grad
    assert disc.training  # restored


def test_decision_surface_rejects_bad_logit_shape():
    class Two(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"logits \[N\] or \[N, 1\]"):
        viz.decision_surface(Two(), resolution=3)


def test_plot_decision_surface_draws_heatmap_and_points():
    ax = viz.plot_decision_surface(
        _XLogit(False), real=np.zeros((3, 2)), fake=np.ones((2, 2)), lim=1, resolution=10
    )
    assert ax.get_xlim() == (-1.0, 1.0)
    offsets = [c.get_offsets().shape[0] for c in ax.collections if hasattr(c, "get_offsets")]
    assert 3 in offsets and 2 in offsets
    assert len(ax.figure.axes) == 2  # the heatmap plus its colorbar


def _tiny_conditional_generator():
    from gannotes.models import CGANConfig, ConditionalGenerator

    torch.manual_seed(0)
    return ConditionalGenerator(CGANConfig(z_dim=4, g_width=4, embed_dim=3))


def test_class_grid_keeps_z_per_column_and_the_class_per_row():
    G = _tiny_conditional_generator().eval()
    grid = viz.class_grid(G, z_dim=4, n_classes=10, columns=3, seed=5)
    assert grid.shape == (30, 1, 28, 28)
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        row7 = G(z, torch.full((3,), 7))
    torch.testing.assert_close(grid[21:24], row7)


def test_class_widget_switches_class_and_keeps_the_path():
    pytest.importorskip("ipywidgets")
    G = _tiny_conditional_generator()
    box = viz.class_widget(G, z_dim=4, classes=[f"c{i}" for i in range(10)], seed=3, steps=5)
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(3))
    G.eval()
    with torch.no_grad():
        want0, want9 = (viz.to_uint8(G(z[:1], torch.tensor([c])))[0, ..., 0] for c in (0, 9))
    G.train()
    np.testing.assert_array_equal(_png(box.image.value), want0)
    box.dropdown.value = 9  # the observer redraws in class 9, same z
    np.testing.assert_array_equal(_png(box.image.value), want9)
    assert G.training
    with pytest.raises(ValueError, match="class must be in 0-9"):
        box.set_class(10)


def test_translation_widget_shows_the_round_trip_of_the_chosen_image():
    pytest.importorskip("ipywidgets")
    a = torch.linspace(-1, 1, 3 * 28 * 28).view(3, 1, 28, 28)
    b = -a.flip(0)

    def translate(x, direction):  # a2b negates, b2a negates back: exact round trips
        return -x if direction == "a2b" else -x

    box = viz.translation_widget(translate, {"A": a, "B": b}, partners={"A": b})
    strip = _png(box.image.value)
    want = viz.to_uint8(torch.cat([a[0:1], -a[0:1], a[0:1], b[0:1]]))
    np.testing.assert_array_equal(strip[2:30, 2:30], want[0, ..., 0])
    np.testing.assert_array_equal(strip[2:30, 32:60], want[1, ..., 0])
    np.testing.assert_array_equal(strip[2:30, 92:120], want[3, ..., 0])
    box.slider.value = 2  # the observer redraws image 2
    np.testing.assert_array_equal(
        _png(box.image.value)[2:30, 2:30], viz.to_uint8(a[2:3])[0, ..., 0]
    )
    box.dropdown.value = "b2a"  # B's image 2, no partner shown for B
    strip = _png(box.image.value)
    assert strip.shape[1] == 3 * 30 + 2
    np.testing.assert_array_equal(strip[2:30, 2:30], viz.to_uint8(b[2:3])[0, ..., 0])
    with pytest.raises(ValueError, match="index must be in 0-2"):
        box.show(3)
    with pytest.raises(ValueError, match="domains must hold 'A' and 'B'"):
        viz.translation_widget(translate, {"A": a})
