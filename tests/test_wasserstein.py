"""gannotes.wasserstein and ``python -m gannotes critic``: closed forms, and a trained critic
against the exact optimal-transport distance of the same samples (scipy, test-only)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gannotes.cli import main
from gannotes.wasserstein import (
    critic_gap,
    critic_slope,
    divergences_parallel_lines,
    parallel_lines,
    shifted_gaussians,
    train_critic,
)


def exact_w1(a: torch.Tensor, b: torch.Tensor) -> float:
    """W1 between two equal-size point sets: the optimal assignment (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(a.double(), b.double()).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def test_wgan_example_1_in_closed_form():
    """Parallel segments at distance theta: JS is log 2 at every theta != 0, W1 = |theta|."""
    for theta in (-1.0, -0.1, 0.01, 0.5):
        d = divergences_parallel_lines(theta)
        assert d["js"] == pytest.approx(math.log(2)) and d["w1"] == abs(theta)
        assert d["kl"] == math.inf and d["tv"] == 1.0
    assert divergences_parallel_lines(0.0) == {"w1": 0.0, "js": 0.0, "kl": 0.0, "tv": 0.0}
    x = parallel_lines(500, 0.3, torch.Generator().manual_seed(0))
    assert torch.all(x[:, 0] == 0.3) and 0 <= x[:, 1].min() and x[:, 1].max() <= 1
    # the optimal transport of the two segments moves every point by theta
    a = parallel_lines(300, 0.0, torch.Generator().manual_seed(1))
    b = parallel_lines(300, 0.7, torch.Generator().manual_seed(1))
    assert exact_w1(a, b) == pytest.approx(0.7)


def test_a_linear_critic_measures_gap_and_slope_exactly():
    w = torch.tensor([0.6, 0.8])  # |w| = 1: a 1-Lipschitz critic
    critic = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(w[None])
    f = lambda x: critic(x).squeeze(1).detach()  # noqa: E731
    a, b = torch.randn(100, 2), torch.randn(80, 2)
    gap = critic_gap(torch.nn.Sequential(critic, torch.nn.Flatten(0)), a, b)
    assert gap == pytest.approx(float(f(a).mean() - f(b).mean()), abs=1e-6)
    assert critic_slope(torch.nn.Sequential(critic, torch.nn.Flatten(0)), a, b) == pytest.approx(
        1.0
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_the_penalised_critic_gets_the_exact_distance_of_the_samples(seed):
    """Shifted Gaussians: the critic's estimate is within 5% of the exact W1 of the very same
    samples (and of |v|); the raw gap of the soft penalty overshoots for large shifts, which the
    slope correction removes (measured: gap 2.18, slope 1.09, estimate 2.00 at |v| = 2)."""
    torch.set_num_threads(1)
    for v in (0.5, 2.0):
        a, b = shifted_gaussians(1000, (0.0, v), torch.Generator().manual_seed(10 + seed))
        result = train_critic(a, b, "gp", steps=600, seed=seed)
        exact = exact_w1(a, b)
        assert result.w1 == pytest.approx(exact, rel=0.05), (v, result.as_dict(), exact)
        assert result.gap >= result.w1 * 0.99 and result.slope > 0.95


def test_the_clipped_critic_ranks_distances_without_measuring_them():
    torch.set_num_threads(1)
    estimates = []
    for v in (0.5, 1.0, 2.0):
        a, b = shifted_gaussians(1000, (v, 0.0), torch.Generator().manual_seed(3))
        estimates.append(train_critic(a, b, "clip", steps=500, seed=0).w1)
    assert estimates == sorted(estimates) and estimates[0] > 0
    assert estimates[-1] < 0.2  # K-Lipschitz with K far below 1: the scale is lost


def _write(path, array):
    np.save(path, np.asarray(array, dtype=np.float32))
    return path


def test_the_critic_command_meets_the_acceptance(tmp_path, run_cli):
    """The issue's check as a learner types it: 2,000 points a set, shifts 0.5, 1 and 2. The
    penalised critic is within 10% of |v|; the clipped critic ranks the three. (Measured on a
    slow 2-core machine: 12-13 CPU-s a run, errors < 2% beyond the samples' own. The critic
    trains a fixed number of steps, so its time is not gated: CPU time moves with the machine
    and with what shares it.)"""
    rng = np.random.default_rng(0)
    clipped = []
    for v in (0.5, 1.0, 2.0):
        a = _write(tmp_path / f"a{v}.npy", rng.standard_normal((2000, 2)))
        b = _write(tmp_path / f"b{v}.npy", rng.standard_normal((2000, 2)) + [v * 0.6, v * 0.8])
        result = run_cli("critic", a, b)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert abs(out["w1"] - v) <= 0.1 * v, out
        out = json.loads(run_cli("critic", a, b, "--method", "clip").stdout)
        clipped.append(out["w1"])
    assert clipped == sorted(clipped)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p.write_text("x"), "is not a readable .npy array"),
        (lambda p: _write(p, np.zeros((10, 3))), "expected points [N, 2] or images [N, 1, 28, 28]"),
        (lambda p: _write(p, np.zeros((1, 2))), "needs at least 2 samples, got 1"),
        (lambda p: _write(p, [[0.0, np.nan], [1.0, 1.0]]), "holds NaN or infinite values"),
        (lambda p: _write(p, np.full((4, 1, 28, 28), 3.0)), "images must lie in [-1, 1]"),
        (lambda p: _write(p, np.zeros((4, 1, 28, 28))), "A holds samples [2] but B holds"),
        (lambda p: np.save(p, np.array(["a", "b"])), "must hold a numeric array"),
    ],
)
def test_critic_bad_input_is_one_clear_line(tmp_path, capsys, make, message):
    good = _write(tmp_path / "good.npy", np.random.default_rng(0).standard_normal((20, 2)))
    bad = tmp_path / "bad.npy"
    make(bad)
    assert main(["critic", str(good), str(bad), "--steps", "5"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_critic_missing_files_and_bad_flags(tmp_path, run_cli):
    good = _write(tmp_path / "good.npy", np.random.default_rng(0).standard_normal((20, 2)))
    result = run_cli("critic", good, tmp_path / "missing.npy")
    assert result.returncode == 1 and "samples file not found" in result.stderr
    for flags, message in (
        (["--method", "both"], "argument --method: invalid choice: 'both'"),
        (["--steps", "0"], "argument --steps: expected a positive integer, got 0"),
    ):
        result = run_cli("critic", good, good, *flags)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0]
        assert "Traceback" not in result.stderr


def test_the_critic_command_on_images_orders_real_blurred_and_noise(tmp_path, capsys):
    from gannotes.data import load_fashion_mnist
    from gannotes.evaluation import box_blur

    images = load_fashion_mnist("train", subset=True, limit=600).images
    real_a = _write(tmp_path / "a.npy", images[:200])
    real_b = _write(tmp_path / "b.npy", images[200:400])
    blurred = _write(tmp_path / "c.npy", box_blur(images[400:600], 5))
    noise = _write(tmp_path / "d.npy", torch.rand(200, 1, 28, 28) * 2 - 1)
    w = []
    for other in (real_b, blurred, noise):
        assert main(["critic", str(real_a), str(other), "--steps", "60"]) == 0
        w.append(json.loads(capsys.readouterr().out)["w1"])
    assert w[0] < w[1] < w[2], w
