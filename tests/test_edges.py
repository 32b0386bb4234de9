"""The edge operator (gannotes.edges) against scipy's Sobel filter and closed forms, and the
`edges` command as a user types it."""

import re

import numpy as np
import pytest
import torch

from gannotes.data import load_fashion_mnist
from gannotes.edges import EDGE_THRESHOLD, edge_map, gradient_magnitude

ndimage = pytest.importorskip("scipy.ndimage")


def _scipy_magnitude(images: np.ndarray) -> np.ndarray:
    """The reference: scipy's Sobel (rows and columns) with replicated borders."""
    out = []
    for image in images[:, 0].astype(np.float64):  # one 2-D image at a time: on a 3-D array
        unit = (image + 1) / 2  # scipy's Sobel would also smooth across the batch axis
        gy = ndimage.sobel(unit, axis=0, mode="nearest")
        gx = ndimage.sobel(unit, axis=1, mode="nearest")
        out.append(np.hypot(gx, gy) / 4)
    return np.stack(out)  # [N, H, W]


def test_magnitude_matches_scipy_on_real_images():
    images = load_fashion_mnist("test", subset=True).images[:64].numpy()  # [64, 1, 28, 28]
    ours = gradient_magnitude(torch.as_tensor(images))[:, 0].numpy()
    np.testing.assert_allclose(ours, _scipy_magnitude(images), atol=1e-5)
    expected = np.where(_scipy_magnitude(images) > EDGE_THRESHOLD, 1.0, -1.0)[:, None]
    # thresholding may differ only where the magnitude sits within float error of the threshold
    differ = edge_map(images).numpy() != expected
    near = np.abs(_scipy_magnitude(images) - EDGE_THRESHOLD)[:, None] < 1e-5
    assert not (differ & ~near).any()


def test_a_square_has_its_boundary_as_edges_and_nothing_else():
    x = -np.ones((1, 1, 28, 28), np.float32)
    x[..., 10:18, 10:18] = 1.0  # a white 8x8 square
    e = edge_map(x)[0, 0].numpy() > 0
    ring = np.zeros((28, 28), bool)
    ring[9:19, 9:19] = True  # the step is seen from both sides: one pixel out, one pixel in
    ring[11:17, 11:17] = False
    np.testing.assert_array_equal(e, ring)
    # its four outer corners see the step only diagonally: magnitude sqrt(2)/4 = 0.354
    corner = gradient_magnitude(torch.as_tensor(x))[0, 0, 9, 9].item()
    assert corner == pytest.approx(2**0.5 / 4)
    assert not edge_map(x, threshold=0.4)[0, 0, 9, 9] > 0  # a higher threshold drops them
    assert gradient_magnitude(torch.as_tensor(x))[0, 0, 13, 9].item() == pytest.approx(1.0)


def test_flat_images_and_a_garment_touching_the_frame_have_no_spurious_edges():
    for value in (-1.0, 0.3, 1.0):
        assert (edge_map(np.full((2, 1, 28, 28), value, np.float32)) == -1).all()
    x = -np.ones((1, 1, 28, 28), np.float32)
    x[..., :, :14] = 1.0  # left half white, touching three sides of the frame
    e = edge_map(x)[0, 0].numpy() > 0
    assert e[:, 13:15].all() and e.sum() == 2 * 28  # only the vertical boundary


def test_edges_are_per_image_and_deterministic():
    images = load_fashion_mnist("test", subset=True).images[:16].numpy()
    full = edge_map(images)
    assert full.shape == (16, 1, 28, 28) and full.dtype == torch.float32
    assert set(full.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(edge_map(images[5:6]), full[5:6])
    torch.testing.assert_close(edge_map(torch.as_tensor(images)), full)
    # a sketch, not a copy: a minority of the pixels, but every garment has an outline
    on = (full > 0).float().mean(dim=(1, 2, 3))
    assert (on > 0.05).all() and (on < 0.5).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 28, 28), np.float32), r"expected images \[N, 1, H, W\]"),
        (np.zeros((4, 3, 28, 28), np.float32), r"expected images \[N, 1, H, W\]"),
        (np.zeros((0, 1, 28, 28), np.float32), r"N >= 1"),
        (np.zeros((4, 1, 28, 28), np.int64), "floating point"),
        (np.full((4, 1, 28, 28), 255.0, np.float32), r"\[-1, 1\]"),
        (np.full((4, 1, 28, 28), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_get_one_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        edge_map(bad)


def test_bad_threshold():
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1.5\)"):
        edge_map(np.zeros((1, 1, 28, 28), np.float32), threshold=0)


def test_edges_command_writes_what_edge_map_computes(run_cli, tmp_path):
    images = load_fashion_mnist("test", subset=True).images[:10]
    np.save(tmp_path / "x.npy", images)
    r = run_cli("edges", tmp_path / "x.npy", "--out", tmp_path / "e.npy")
    assert r.returncode == 0, r.stderr
    assert "wrote 10 edge maps [10, 1, 28, 28]" in r.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy"), edge_map(images).numpy())
    r = run_cli("edges", tmp_path / "x.npy", "--out", tmp_path / "e2.npy", "--threshold", "0.1")
    assert r.returncode == 0, r.stderr
    assert (np.load(tmp_path / "e2.npy") > 0).sum() > (np.load(tmp_path / "e.npy") > 0).sum()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 2), np.float32), r"expected images \[N, 1, 28, 28\]"),
        (np.full((5, 1, 28, 28), 255, np.float32), r"\[-1, 1\]"),
        (None, "samples file not found"),
    ],
)
def test_edges_command_bad_input_is_one_line(run_cli, tmp_path, array, message):
    path = tmp_path / "in.npy"
    if array is not None:
        np.save(path, array)
    r = run_cli("edges", path, "--out", tmp_path / "out.npy")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gannotes edges: error:"), r.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out.npy").exists()
