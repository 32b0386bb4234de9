"""GAN Lab (gannotes.widgets): the training logic and the widget's callbacks, without a browser."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gannotes import widgets
from gannotes.widgets import GANLab


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_lab(**kwargs) -> GANLab:
    options = dict(hidden=16, n_points=32, n_arrows=8, resolution=12, batch_size=32)
    return GANLab("ring", 0, **{**options, **kwargs})


def test_step_advances_the_trainer_and_moves_g():
    lab = small_lab()
    before = [p.detach().clone() for p in lab.trainer.G.parameters()]
    stats = lab.step(3)
    assert lab.trainer.step == 3
    assert set(stats) >= {"loss_d", "loss_g", "d_real", "d_fake"}
    assert any(
        not torch.equal(a, b) for a, b in zip(before, lab.trainer.G.parameters(), strict=True)
    )


def test_set_option_changes_learning_rates_and_k():
    lab = small_lab()
    assert lab.set_option("lr_g", 3e-3) and lab.set_option("lr_d", 7e-4)
    assert [g["lr"] for g in lab.trainer.opt_g.param_groups] == [3e-3]
    assert [g["lr"] for g in lab.trainer.opt_d.param_groups] == [7e-4]

    d_updates, g_updates = [], []
    lab.trainer.opt_d.register_step_post_hook(lambda *_: d_updates.append(1))
    lab.trainer.opt_g.register_step_post_hook(lambda *_: g_updates.append(1))
    lab.step(2)
    assert (len(d_updates), len(g_updates)) == (2, 2)  # k = 1 by default
    assert lab.set_option("d_steps", 3)
    lab.step(2)
    assert (len(d_updates), len(g_updates)) == (2 + 6, 2 + 2)


def test_set_option_live_tricks_reach_step_options_and_reset_ones_wait():
    lab = small_lab()
    assert lab.set_option("label_smoothing", 0.1)
    assert lab.set_option("instance_noise", 0.2)
    assert lab.set_option("grad_clip", 1.0)
    assert lab.set_option("g_loss", "minimax")  # the knob's old name for loss
    opts = lab.trainer.family.step_options(lab.trainer.step)
    assert opts.real_target == pytest.approx(0.9)
    assert opts.instance_noise == pytest.approx(0.2, rel=1e-6)  # constant: no annealing here
    assert opts.grad_clip == 1.0
    assert lab.trainer.config.loss == "minimax" and lab.trainer.family.config.loss == "minimax"
    lab.step(1)

    assert lab.set_option("pack", 2) is False  # changes D: waits for reset()
    assert lab.needs_reset and lab.trainer.family.step_options(0).pack == 1
    lab.step(1)  # still trains with the old models
    lab.reset(seed=1)
    assert not lab.needs_reset and lab.trainer.family.step_options(0).pack == 2
    assert lab.trainer.step == 0 and lab.trainer.config.seed == 1
    assert lab.trainer.config.label_smoothing == pytest.approx(0.1)  # kept through the reset
    frame = lab.frame()  # the surface and arrows work on packed D
    assert frame["arrows"].shape == (8, 2)

    with pytest.raises(ValueError):
        lab.set_option("label_smoothing", 1.5)
    with pytest.raises(ValueError):
        lab.set_option("loss", "vanilla")
    with pytest.raises(ValueError):
        lab.set_option("momentum", 0.9)
    assert lab.trainer.config.label_smoothing == pytest.approx(0.1)  # unchanged


class LinearD(nn.Module):
    """logit(x) = w . x: the non-saturating loss mean(softplus(-w.x)) has gradient
    -(1 - sigmoid(w.x)) w / N at each point, so -gradient points along +w."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax"])
def test_arrows_are_minus_the_generator_loss_gradient(loss):
    lab = small_lab(loss=loss)
    w = [0.6, -0.8]
    lab.trainer.networks["D"] = LinearD(w)
    x = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-2.0, 1.0], [0.3, -0.3]])
    arrows = lab.generator_arrows(x)

    wt = torch.tensor(w)
    s = torch.sigmoid(x @ wt)[:, None]
    # the reference: d/dx of mean softplus(-w.x) is -(1-s) w / N; of mean -softplus(w.x), -s w / N
    grad = -(1 - s) * wt / len(x) if loss == "nonsaturating" else -s * wt / len(x)
    torch.testing.assert_close(arrows, -grad)
    cos = (arrows @ wt) / (arrows.norm(dim=1) * wt.norm())
    torch.testing.assert_close(cos, torch.ones(len(x)))  # along +w: toward "real"
    assert lab.trainer.networks["D"].w.grad is None  # autograd went through D without touching it


def test_frame_has_the_arrays_to_draw():
    lab = small_lab()
    lab.step(1)
    frame = lab.frame()
    assert frame["real"].shape == frame["fake"].shape == (32, 2)
    assert frame["arrow_at"].shape == frame["arrows"].shape == (8, 2)
    np.testing.assert_array_equal(frame["arrow_at"], frame["fake"][:8])
    assert frame["xx"].shape == frame["yy"].shape == frame["probs"].shape == (12, 12)
    assert ((frame["probs"] >= 0) & (frame["probs"] <= 1)).all()
    assert frame["lim"] == widgets.LIMITS["ring"]
    assert frame["step"] == 1 and frame["n_modes"] == 8 and 0 <= frame["modes"] <= 8
    assert np.isfinite([frame[k] for k in ("loss_d", "loss_g", "d_real", "d_fake")]).all()
    png = lab.render_png(frame)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def title_of(lab: GANLab) -> str:
    return lab._figure.axes[0].get_title()


def test_the_title_and_ticks_are_as_large_as_a_normal_plots_and_fit():
    """The PNG is shown at its pixel size, so text is fontsize * (PNG pixels per inch) / 72 pixels
    tall on screen: at least matplotlib's default body text (10 pt at its default 100 dpi, 13.9
    pixels); the title (the longest one: a big step, negative losses) stays inside the picture."""
    from matplotlib.image import imread

    lab = small_lab()
    lab.step(1)
    frame = {**lab.frame(), "step": 123456, "loss_d": -12.345, "loss_g": -12.345, "modes": 8}
    png = imread(io.BytesIO(lab.render_png(frame)))
    fig = lab._figure
    ax = fig.axes[0]
    px_per_pt = png.shape[1] / (fig.get_figwidth() * 72)
    assert ax.title.get_fontsize() >= 12
    assert ax.title.get_fontsize() * px_per_pt >= 10 * 100 / 72
    ticks = ax.get_xticklabels() + ax.get_yticklabels() + fig.axes[1].get_yticklabels()
    assert min(t.get_fontsize() for t in ticks) * px_per_pt >= 10 * 100 / 72 - 1e-9
    box = ax.title.get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    assert "step 123456" in ax.get_title() and "loss D -12.345" in ax.get_title()


def test_no_nan_in_the_title_before_the_first_step_or_after_reset():
    lab = small_lab()
    assert lab.frame()["has_stats"] is False
    lab.render_png()
    assert "nan" not in title_of(lab).lower() and "step 0" in title_of(lab)
    assert "press Play or Step" in title_of(lab)

    lab.step(2)
    assert lab.frame()["has_stats"] is True
    lab.render_png()
    assert "step 2" in title_of(lab) and "loss D" in title_of(lab)
    assert "nan" not in title_of(lab).lower()

    lab.reset()
    lab.render_png()
    assert "nan" not in title_of(lab).lower() and "step 0" in title_of(lab)
    # a frame from before has_stats existed: NaN losses also mean "no step yet"
    frame = {k: v for k, v in lab.frame().items() if k != "has_stats"}
    assert "nan" not in widgets.frame_title(frame).lower()


def test_the_app_steps_plays_and_reacts_to_its_controls():
    pytest.importorskip("ipywidgets")
    app = widgets.gan_lab(
        "ring",
        0,
        steps_per_frame=2,
        min_tick_gap_s=0.0,
        hidden=16,
        n_points=32,
        n_arrows=8,
        resolution=12,
        batch_size=32,
    )
    lab, image = app.lab, app.image
    assert app.children[1].layout.flex_flow == "row wrap"  # the panel wraps, the PNG keeps its size
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and lab.trainer.step == 0

    app.step_button.click()
    assert lab.trainer.step == 2 and image.value != first
    assert "step 2" in app.status.value

    app.play.value += 1  # the browser's ticker advancing, as Play does
    app.play.value += 1
    assert lab.trainer.step == 6
    app.play.value = 0  # the stop button rewinds: no step
    assert lab.trainer.step == 6

    app.controls["lr_g"].value = 1e-2
    assert lab.trainer.opt_g.param_groups[0]["lr"] == pytest.approx(1e-2)
    app.controls["d_steps"].value = 2
    assert lab.trainer.config.d_steps == 2
    app.controls["loss"].value = "minimax"
    assert lab.trainer.config.loss == "minimax"

    clip = app.controls["grad_clip"]
    assert clip.label == "off"
    clip.value = 1.0
    assert lab.trainer.family.step_options(lab.trainer.step).grad_clip == 1.0
    clip.index = 0
    assert lab.trainer.family.step_options(lab.trainer.step).grad_clip is None

    app.controls["spectral_norm"].value = True  # waits for Reset
    assert lab.needs_reset and "Reset" in app.status.value
    app.seed_box.value = 4
    app.reset_button.click()
    assert lab.trainer.step == 0 and lab.trainer.config.seed == 4
    assert "nan" not in title_of(lab).lower() and "step 0" in title_of(lab)
    assert "nan" not in app.status.value.lower()
    assert lab.trainer.config.spectral_norm and not lab.needs_reset
    assert lab.trainer.opt_g.param_groups[0]["lr"] == pytest.approx(1e-2)  # kept
    app.on_play_tick()
    assert lab.trainer.step == 2


def test_the_apps_still_is_a_fresh_lab_after_the_chosen_steps():
    """What the app shows without a kernel (gannotes.viz.with_still): the frames of a second lab
    built as the app's, after each of ``still_steps`` steps; the live lab does not move."""
    pytest.importorskip("ipywidgets")
    from IPython.core.formatters import DisplayFormatter

    options = dict(hidden=16, n_points=32, n_arrows=8, resolution=12, batch_size=32)
    app = widgets.gan_lab("ring", 0, still_steps=(3, 1), **options)
    app.on_step()
    data, metadata = DisplayFormatter().format(app)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert metadata["gannotes/still"]["settings"] == (
        "ring, seed 0, default options, after 1, 3 steps"
    )
    assert app.lab.trainer.step == 10  # the still trained its own lab
    panels = app.still_panels()
    assert [label for label, _ in panels] == ["after 1 step", "after 3 steps"]
    lab = GANLab("ring", 0, **options)
    lab.step(1)
    assert lab.render_png() == panels[0][1]  # the frame the app's callback draws at step 1
    lab.step(2)
    assert lab.render_png() == panels[1][1]
    still = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert still.format == "PNG" and still.width > 2 * 540
