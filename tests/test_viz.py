"""Tests for gannotes.viz: exact pixels, formulas and file behaviour, not just "it runs"."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

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


def _player(html: str) -> tuple[list[str], list[str]]:
    """The frames (PNG data URIs, in order) and the step labels of an animate() HTML player."""
    frames = re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", html)
    labels = json.loads(re.search(r"labels = (\[.*?\]),", html).group(1))
    assert len(frames) == len(labels)
    return frames, labels


def _training_snapshots(t: int = 120, n: int = 64, size: int = 28) -> list[np.ndarray]:
    """Stand-ins for a DCGAN's snapshots of 64 Fashion-MNIST-sized images: blotchy noise that
    turns into bright boxes. Calibrated so their PNG frames are as big as those of the real
    notebook-01 run (about 29 kB of base64 per 8 x 8 grid, 15-40 kB over the run)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    w, h = rng.uniform(0.15, 0.4, (2, n, 1, 1))
    boxes = (np.abs(xx) < w) & (np.abs(yy) < h)  # [N, H, W]
    snapshots = []
    for k in range(t):
        a = k / (t - 1)  # progress of training
        blobs = rng.normal(0.0, 1.0, (n, size // 2, size // 2)).repeat(2, 1).repeat(2, 2)
        noise = rng.normal(0.0, 0.05, (n, size, size))
        images = 2.0 * a * boxes - 1.0 + 0.3 * (1.0 - 0.7 * a) * blobs + noise
        snapshots.append(np.clip(images, -1.0, 1.0)[:, None].astype(np.float32))  # [N, 1, H, W]
    return snapshots


def test_animate_jshtml_has_one_embedded_frame_per_step_and_closes_figure():
    before = plt.get_fignums()
    html = viz.animate(_frames(3), steps=[100, 200, 300], nrow=2)
    frames, labels = _player(html.data)
    assert "<script" in html.data
    assert len(frames) == 3 == len(set(frames))
    assert labels == ["step 100", "step 200", "step 300"]
    assert plt.get_fignums() == before


def test_animate_jshtml_frames_are_the_grids_at_their_own_resolution():
    frames = torch.stack([_ramp(4, 1, 6, 6), -_ramp(4, 1, 6, 6)])  # [T, N, C, H, W]
    uris, _ = _player(viz.animate(frames, nrow=2).data)
    for uri, batch in zip(uris, frames, strict=True):
        png = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert png.mode == "L" and png.size == (18, 18)  # one byte a pixel, no upscaling
        grid = viz.make_grid(batch, nrow=2)  # [18, 18] in [0, 1]
        # 32 levels, steps of 1/31 (black and white stay exact), then 8 bits rounding half up
        want = np.floor(np.round(grid * 31) / 31 * 255 + 0.5)
        assert np.array_equal(np.asarray(png), want)
        assert np.abs(np.asarray(png) - grid * 255).max() <= 255 / 62 + 0.5


def test_animate_accepts_list_of_uint8_batches():
    frames = [np.full((2, 5, 5), v, dtype=np.uint8) for v in (0, 128, 255)]  # [N, H, W] each
    html = viz.animate(frames)
    assert len(_player(html.data)[0]) == 3


def test_animate_jshtml_is_self_contained():
    """Offline-safe: no CDN stylesheet or icon font (matplotlib's to_jshtml links Font Awesome)."""
    for kwargs in ({}, {"kind": "points", "frames": np.zeros((3, 5, 2))}):
        html = viz.animate(**({"frames": _frames(3)} | kwargs)).data
        assert "http://" not in html and "https://" not in html
        assert "<link" not in html and "fa fa-" not in html and "@import" not in html
        srcs = re.findall(r'src="([^"]*)"', html)
        assert srcs and all(src.startswith("data:image/png;base64,") for src in srcs)


def test_animate_jshtml_buttons_are_wired_to_the_script():
    html = viz.animate(_frames(3)).data
    uid = re.search(r'id="(gan-anim-[0-9a-f]+)-frame"', html).group(1)
    script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
    for action in ("first", "previous", "play", "next", "last", "slower", "faster"):
        assert re.search(rf'<button id="{uid}-{action}" type="button" title="[^"]+"', html)
        assert re.search(rf"\b{action}: function", script)  # its handler
    for part in ("slider", "loop", "caption"):
        assert f'id="{uid}-{part}"' in html
    assert 'addEventListener("click", actions[name])' in script
    assert 'slider.addEventListener("input"' in script
    # Another animation in the same notebook gets its own ids.
    assert uid not in viz.animate(_frames(3)).data


_DOM_HARNESS = """
const elements = %(elements)s, FRAMES = %(frames)s, UID = %(uid)s;
for (const el of Object.values(elements)) {
  el.listeners = {};
  el.addEventListener = (type, f) => { (el.listeners[type] = el.listeners[type] || []).push(f); };
}
const timers = new Map(), timeouts = [];
let nextTimer = 1;
globalThis.document = { getElementById: (id) => elements[id] || null };
globalThis.setTimeout = (f) => { timeouts.push(f); };
globalThis.setInterval = (f, ms) => { timers.set(nextTimer, { f, ms }); return nextTimer++; };
globalThis.clearInterval = (id) => { timers.delete(id); };
eval(%(script)s);
while (timeouts.length) { timeouts.shift()(); }
const q = (name) => elements[UID + "-" + name];
const fire = (name, type) => { q(name).listeners[type].forEach((f) => f()); };
const tick = () => { [...timers.values()].forEach((t) => t.f()); };
const log = [];
const note = (what) => log.push({
  what, frame: FRAMES.indexOf(q("frame").src), caption: q("caption").textContent,
  slider: Number(q("slider").value), timers: [...timers.values()].map((t) => Math.round(t.ms)),
  playing: q("play").innerHTML.includes("10074"),
});
note("start");
for (const action of ["next", "last", "previous", "first"]) { fire(action, "click"); note(action); }
q("slider").value = "2"; fire("slider", "input"); note("slider");
fire("play", "click"); note("play");
tick(); note("tick"); tick(); note("tick");
fire("faster", "click"); note("faster");
fire("play", "click"); note("pause");
q("loop").checked = false; fire("last", "click"); fire("play", "click"); note("play at end");
tick(); tick(); tick(); note("3 ticks"); tick(); note("tick at end, no loop");
console.log(JSON.stringify(log));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the player's script")
def test_animate_jshtml_buttons_control_the_animation():
    """Run the player's JavaScript against a minimal fake DOM and press its buttons."""
    html = viz.animate(_frames(4), steps=[10, 20, 30, 40], interval=200).data
    frames, _ = _player(html)
    elements = {}
    for tag in re.findall(r"<(?:img|input|div|button)\b[^>]*>", html):
        if (found := re.search(r'id="([^"]+)"', tag)) is None:
            continue
        src, value = re.search(r'src="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        elements[found.group(1)] = {
            "src": src.group(1) if src else "",
            "value": value.group(1) if value else "",
            "checked": " checked" in tag,
            "innerHTML": "",
            "textContent": "",
        }
    uid = re.search(r'id="(gan-anim-[0-9a-f]+)-frame"', html).group(1)
    script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
    program = _DOM_HARNESS % {
        "elements": json.dumps(elements),
        "frames": json.dumps(frames),
        "uid": json.dumps(uid),
        "script": json.dumps(script),
    }
    run = subprocess.run(
        ["node", "-e", program], capture_output=True, text=True, timeout=60, check=True
    )
    log = {i: entry for i, entry in enumerate(json.loads(run.stdout))}
    got = [(e["what"], e["frame"], e["slider"], e["timers"], e["playing"]) for e in log.values()]
    assert got == [
        ("start", 0, 0, [], False),
        ("next", 1, 1, [], False),
        ("last", 3, 3, [], False),
        ("previous", 2, 2, [], False),
        ("first", 0, 0, [], False),
        ("slider", 2, 2, [], False),
        ("play", 2, 2, [200], True),
        ("tick", 3, 3, [200], True),
        ("tick", 0, 0, [200], True),  # loops
        ("faster", 0, 0, [133], True),
        ("pause", 0, 0, [], False),
        ("play at end", 0, 0, [133], True),  # play from the last frame restarts
        ("3 ticks", 3, 3, [133], True),
        ("tick at end, no loop", 3, 3, [], False),  # stops
    ]
    assert [e["caption"] for e in log.values()][:3] == ["step 10", "step 20", "step 40"]


def test_animate_keeps_realistic_training_animation_small():
    """A DCGAN run's 120 snapshots of 64 28x28 images: matplotlib's to_jshtml made 21 MB of
    HTML of it (6.2 MB for notebook 01's 51 snapshots); the player stays under 1 MB and keeps
    enough frames to watch, the first and the last among them."""
    snapshots = _training_snapshots()
    steps = [50 * i for i in range(len(snapshots))]
    html = viz.animate(snapshots, steps=steps, interval=150).data
    frames, labels = _player(html)
    assert len(html) < viz.ANIMATION_MAX_BYTES + 20_000 < 1_000_000
    assert 20 <= len(frames) <= viz.ANIMATION_MAX_FRAMES
    assert labels[0] == "step 0" and labels[-1] == f"step {steps[-1]}"
    shown = [int(label.split()[1]) // 50 for label in labels]
    assert shown == sorted(set(shown))  # in order, none twice
    assert max(np.diff(shown)) - min(np.diff(shown)) <= 1  # evenly spread


def test_animate_caps_frames_keeping_first_and_last():
    frames = torch.linspace(-1.0, 1.0, 120)[:, None, None, None, None].expand(120, 2, 1, 4, 4)
    steps = [10 * i for i in range(120)]
    _, labels = _player(viz.animate(frames, steps=steps, nrow=2).data)
    assert len(labels) == viz.ANIMATION_MAX_FRAMES == 48
    chosen = [int(label.split()[1]) // 10 for label in labels]
    assert chosen[0] == 0 and chosen[-1] == 119
    assert chosen == [int(k) for k in np.floor(np.linspace(0, 119, 48) + 0.5)]
    _, labels = _player(viz.animate(frames, steps=steps, nrow=2, max_frames=None).data)
    assert len(labels) == 120
    _, labels = _player(viz.animate(frames[:5], nrow=2, max_frames=2).data)
    assert labels == ["step 0", "step 4"]


def test_animate_byte_budget_drops_frames_down_to_the_two_ends():
    snapshots = _training_snapshots(t=10)
    one = len(_player(viz.animate(snapshots[-1:]).data)[0][0])
    _, labels = _player(viz.animate(snapshots, max_bytes=4 * one).data)
    assert 2 <= len(labels) <= 4 and labels[0] == "step 0" and labels[-1] == "step 9"
    _, labels = _player(viz.animate(snapshots, max_bytes=1).data)
    assert labels == ["step 0", "step 9"]


def test_animate_points_jshtml_renders_small_palette_frames():
    rng = np.random.default_rng(0)
    sets = rng.normal(size=(7, 500, 2))
    html = viz.animate(sets, kind="points", lim=3, real=rng.normal(size=(200, 2)), max_frames=4)
    frames, labels = _player(html.data)
    assert labels == ["step 0", "step 2", "step 4", "step 6"]
    png = Image.open(io.BytesIO(base64.b64decode(frames[0].split(",", 1)[1])))
    assert png.mode == "P" and png.size == (400, 400)  # a 64-colour palette
    assert len(html.data) < 4 * 20_000  # matplotlib's RGBA frames of it: about 25 kB each


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


def test_animate_gif_caps_frames(tmp_path):
    path = viz.animate(_frames(7), fmt="gif", path=tmp_path / "t.gif", nrow=2, max_frames=3)
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
        ({"max_frames": 1}, "max_frames must be"),
        ({"max_frames": 2.5}, "max_frames must be"),
        ({"max_bytes": 0}, "max_bytes must be"),
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


def test_edit_widget_renders_the_package_edits_of_an_inverted_image():
    """Notebook 10's widget: the strip is real | space.render(latent) | the edit, where the edit
    is edit_toward (a class) or move along a GANSpace component, exactly."""
    pytest.importorskip("ipywidgets")
    from gannotes.editing import edit_toward, ganspace_directions, label_pool, move
    from gannotes.inversion import latent_space
    from gannotes.training import load_family

    family = load_family(str(Path(__file__).resolve().parents[1] / "data/checkpoints/dcgan.pt"))
    space = latent_space(family, "z")
    latents = space.sample(2, seed=7)  # stand-ins for inverted latents
    real = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    pool = label_pool(space, 400, seed=1)
    dirs, _ = ganspace_directions(space, k=2, n=500)
    box = viz.edit_widget(space, real, latents, pool, dirs, classes=[f"c{i}" for i in range(10)])

    def tiles():
        strip = _png(box.image.value)
        assert strip.shape == (28 + 4, 3 * 30 + 2)
        return [strip[2:30, 2 + 30 * k : 30 + 30 * k] for k in range(3)]

    def want(x):
        return viz.to_uint8(x)[0, ..., 0]

    shown = tiles()  # strength 0: the edit is the reconstruction
    np.testing.assert_array_equal(shown[0], want(real[:1]))
    np.testing.assert_array_equal(shown[1], want(space.render(latents[:1])))
    np.testing.assert_array_equal(shown[2], shown[1])
    assert box.strength.min == 0.0 and "toward c0" in box.caption.value

    box.direction.value = ("class", 7)
    box.strength.value = 1.0  # the observer redraws with edit_toward
    edited = edit_toward(space, latents[:1], 7, strength=1.0, pool=pool)
    np.testing.assert_array_equal(tiles()[2], want(space.render(edited)))
    assert "toward c7, strength 1.0" in box.caption.value

    box.image_slider.value = 1  # the other image, same edit
    edited = edit_toward(space, latents[1:], 7, strength=1.0, pool=pool)
    np.testing.assert_array_equal(tiles()[0], want(real[1:]))
    np.testing.assert_array_equal(tiles()[2], want(space.render(edited)))

    box.direction.value = ("pc", 1)  # a component has two ways: the slider goes negative
    assert box.strength.min == -2.0
    box.strength.value = -1.0
    np.testing.assert_array_equal(tiles()[2], want(space.render(move(latents[1:], dirs[1], -3.0))))
    assert "GANSpace 2, -3.0 along it" in box.caption.value
    box.direction.value = ("class", 2)  # back to a class: the strength is clamped to 0
    assert box.strength.value == 0.0 and box.strength.min == 0.0
    np.testing.assert_array_equal(tiles()[2], tiles()[1])
    with pytest.raises(ValueError, match="strength is in"):
        box.show(0, ("class", 2), 3.0)
    with pytest.raises(ValueError, match="one latent per image"):
        viz.edit_widget(space, real, latents[:1], pool)

    # Its still: image 0 toward each class, then along GANSpace 1 and 2 both ways; each panel
    # is the strip the widget draws at that setting.
    panels = _assert_still(box, "image 0 edited toward each class at strength 1")
    assert [label for label, _ in panels[:1] + panels[-1:]] == [
        "toward c0, strength 1.0",
        "GANSpace 2, +3.0 along it",
    ]
    assert len(panels) == 10 + 4
    box.show(0, ("class", 7), 1.0)
    assert box.image.value == panels[7][1]
    box.show(0, ("pc", 1), 1.0)
    assert box.image.value == panels[13][1]


# ------------------------------------------------------------------------------------------
# Widget stills: what a widget shows where no kernel runs (the book, a notebook viewer)
# ------------------------------------------------------------------------------------------


def _bundle(box) -> tuple[dict, dict]:
    """What displaying ``box`` puts in the notebook: (data, metadata)."""
    from IPython.core.formatters import DisplayFormatter

    return DisplayFormatter().format(box)


def _assert_still(box, settings_part: str) -> list[tuple[str, bytes]]:
    """The displayed bundle holds the live view and the still; returns the still's panels."""
    data, metadata = _bundle(box)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert settings_part in metadata[viz.STILL_KEY]["settings"]
    png = base64.b64decode(data["image/png"])
    assert png == box.still()
    still = _png(png)
    panels = box.still_panels()
    tallest = max(_png(p).shape[0] for _, p in panels)
    assert still.shape[0] > tallest and still.shape[1] >= max(_png(p).shape[1] for _, p in panels)
    assert "still:" in data["text/plain"]
    return panels


def test_still_png_lays_out_labelled_panels_enlarged():
    a = viz._png_bytes(_ramp(3, 1, 8, 8), nrow=3)  # [10, 28]
    b = viz._png_bytes(_ramp(1, 3, 8, 8), nrow=1)  # colour, [10, 10]
    still = _png(viz.still_png([("a", a), ("b", b)], ncols=2))
    scale = min(4, viz.STILL_WIDTH // (2 * 28))
    assert still.shape[1] >= 2 * 28 * scale and still.shape[0] >= 10 * scale
    with pytest.raises(ValueError, match="at least one panel"):
        viz.still_png([])


def test_interpolation_widget_still_is_the_strip_at_its_seeds():
    pytest.importorskip("ipywidgets")
    box = viz.interpolation_widget(_tiny_generator(), z_dim=4, seed=3, steps=5)
    panels = _assert_still(box, "seeds 3-5")
    assert [label.split(":")[0] for label, _ in panels] == ["seed 3", "seed 4", "seed 5"]
    assert panels[0][1] == box.strip.value  # the seed's own strip
    box.button.click()  # new endpoints: seed 4, as the still's second panel
    assert box.strip.value == panels[1][1]
    assert box.seed_box.value == 4  # the still left the widget where the click put it
    box.close()
    assert set(_bundle(box)[0]) == {"text/plain"}  # a closed widget: its repr, no still


def test_class_widget_still_is_the_walk_in_each_class():
    pytest.importorskip("ipywidgets")
    G = _tiny_conditional_generator()
    box = viz.class_widget(G, z_dim=4, classes=[f"c{i}" for i in range(10)], seed=3, steps=5)
    panels = _assert_still(box, "seed 3 in each class")
    assert len(panels) == 10 and panels[7][0].startswith("c7")
    assert box.dropdown.value == 0
    box.set_class(7)
    assert box.strip.value == panels[7][1]


def test_translation_widget_still_is_the_first_images_both_ways():
    pytest.importorskip("ipywidgets")
    a = torch.linspace(-1, 1, 4 * 28 * 28).view(4, 1, 28, 28)
    b = -a.flip(0)
    box = viz.translation_widget(lambda x, d: -x, {"A": a, "B": b}, partners={"A": b})
    panels = _assert_still(box, "images 0-2, both ways")
    assert len(panels) == 6 and panels[3][0].startswith("image 1, B -> A -> B")
    box.show(1, "b2a")
    assert box.image.value == panels[3][1]


class _FakeStyleGAN:
    """The little of gannotes.gans.StyleGAN the StyleGAN widgets use, with images that say
    which seeds, crossover and truncation made them."""

    model_cfg = type("cfg", (), {"num_ws": 6})

    def crossover(self, k):
        return {"coarse": 2, "middle": 4, "all": 6, "none": 0}.get(k, k)

    def mix(self, a, b, k, n):
        k = self.crossover(k)
        return torch.linspace(-1, 1, n * 28 * 28).view(n, 1, 28, 28) * (k + 1) / 7 + 0 * a * b

    def sample(self, n, seed, truncation):
        return torch.full((n, 1, 28, 28), float(truncation) * 2 - 1) + 0 * seed


def test_stylegan_widgets_stills_are_their_images_at_the_chosen_settings():
    pytest.importorskip("ipywidgets")
    fam = _FakeStyleGAN()
    box = viz.style_mixing_widget(fam, coarse_seed=3, fine_seed=7, n=2)
    panels = _assert_still(box, "crossover K = 1, 2, 4 of 6")
    assert [label.split(":")[0] for label, _ in panels] == [f"crossover K = {k}" for k in (1, 2, 4)]
    assert box.image.value == panels[1][1]  # the default K is the coarse one
    box.crossover.value = 4
    assert box.image.value == panels[2][1]

    box = viz.truncation_widget(fam, seed=4, n=8)
    panels = _assert_still(box, "psi = 1, 0.7, 0.4, 0")
    assert box.slider.value == 1.0 and box.image.value == panels[0][1]
    box.slider.value = 0.4
    assert box.image.value == panels[2][1]
