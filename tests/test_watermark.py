"""The keyed watermark (gannotes.watermark) and its CLI: invisibility, detection, false positives.

Oracles: the PSNR's closed-form floor; the statistic recomputed with numpy loops; Hoeffding's bound
against the empirical rate on unmarked images; real held-out Fashion-MNIST images as the host.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes import watermark as wm
from gannotes.cli import main
from gannotes.data import load_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real():
    return torch.as_tensor(load_fashion_mnist("test", subset=True).images[:1000]).float()


def _degrade(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The acceptance's degradations: 8-bit and back, then Gaussian noise of std 0.01."""
    eight_bit = torch.round((x + 1) * 127.5) / 127.5 - 1
    gen = torch.Generator().manual_seed(seed)
    return eight_bit + 0.01 * torch.randn(x.shape, generator=gen)


def test_keys_give_fixed_independent_sign_patterns():
    p = wm.pattern("alice")
    assert p.shape == (1, 28, 28) and set(p.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(p, wm.pattern("alice"))  # the same key on every call
    assert torch.equal(wm.pattern(42), wm.pattern("42"))  # an integer is its text
    q = wm.pattern("bob")
    assert abs(float((p * q).mean())) < 0.15  # independent signs: correlation ~ N(0, 1/784)
    assert abs(float(p.mean())) < 0.15  # fair coins
    assert (
        wm.key_seed("alice")
        == int.from_bytes(__import__("hashlib").sha256(b"alice").digest()[:8], "big") >> 1
    )


def test_the_mark_is_invisible_by_the_psnr_bound(real):
    marked = wm.embed(real, "k")
    assert marked.min() >= -1 and marked.max() <= 1
    assert (marked - real).abs().max() <= wm.STRENGTH + 1e-6
    floor = 10 * math.log10(4 / wm.STRENGTH**2)  # every pixel moved by at most STRENGTH
    assert floor > 36.4
    assert float(wm.psnr(marked, real).min()) >= floor - 1e-3


def test_scores_match_a_loop_reference():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 7, 6, generator=gen) * 2 - 1
    p = wm.pattern("ref", (1, 7, 6)).numpy()[0]
    got = wm.scores(x, "ref").numpy()

    def box(a):  # mean over the 3x3 neighbours inside the image
        out = np.zeros_like(a)
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                out[i, j] = a[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].mean()
        return out

    for n in range(3):
        img = x[n, 0].double().numpy()
        r = img - box(img)
        c = r / (box(r * r) + 1e-4)
        want = (c * p).sum() / np.sqrt((c * c).sum())
        assert got[n] == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_unmarked_images_respect_the_stated_false_positive_rate(real):
    # Real images, unmarked, with 20 keys: the statistic is about N(0, 1), and the fraction above
    # each threshold stays under Hoeffding's bound (plus sampling slack).
    z = torch.cat([wm.scores(real[:500], f"key{k}") for k in range(20)])  # 10,000 scores
    assert abs(float(z.mean())) < 0.1 and 0.85 < float(z.std()) < 1.15
    for t in (1.5, 2.0, 2.5):
        assert float((z >= t).float().mean()) <= wm.false_positive_bound(t) + 0.01
    t = wm.threshold_for(1e-3)
    assert t == pytest.approx(math.sqrt(2 * math.log(1000)))
    assert wm.false_positive_bound(t) == pytest.approx(1e-3)
    assert int((z >= t).sum()) <= 5  # expected <= 10 by the bound; normal-like: ~1


def test_marked_images_are_detected_after_8_bit_and_noise(real):
    marked = _degrade(wm.embed(real, "owner"))
    found = wm.detect(marked, "owner")
    assert found.fraction >= 0.99 and float(found.scores.median()) > 10
    assert wm.detect(_degrade(real), "owner").fraction <= 0.01  # real, unmarked
    assert wm.detect(marked, "someone else").fraction <= 0.01  # another key


def test_blur_and_a_shift_break_the_mark(real):
    from gannotes.evaluation import box_blur

    marked = wm.embed(real[:300], "owner")
    assert wm.detect(marked, "owner").fraction == 1.0
    assert wm.detect(box_blur(marked, 3), "owner").fraction < 0.2
    assert wm.detect(torch.roll(marked, 1, dims=3), "owner").fraction < 0.2


def test_bad_input_is_refused_in_one_line():
    x = torch.zeros(2, 1, 28, 28)
    for bad, match in [
        (lambda: wm.pattern(""), "empty"),
        (lambda: wm.pattern(1.5), "string or an integer"),
        (lambda: wm.embed(x + 3, "k"), r"in \[-1, 1\]"),
        (lambda: wm.embed(torch.zeros(2, 5), "k"), r"\[N, C, H, W\]"),
        (lambda: wm.embed(x, "k", strength=0), "strength"),
        (lambda: wm.scores(x * float("nan"), "k"), "NaN"),
        (lambda: wm.detect(x, "k", fpr=0), "false-positive rate"),
        (lambda: wm.scores(np.zeros((2, 28, 28), np.uint8), "k"), "float"),
    ]:
        with pytest.raises(ValueError, match=match):
            bad()
    assert wm.scores(x, "k").tolist() == [0.0, 0.0]  # a constant image carries no mark


def test_cli_detects_the_mark_in_a_file(tmp_path, capsys, real):
    path = tmp_path / "marked.npy"
    np.save(path, wm.embed(real[:50], 7).numpy())
    assert main(["watermark", "detect", str(path), "--key", "7"]) == 0
    line = capsys.readouterr().out.strip().splitlines()
    assert len(line) == 1
    out = json.loads(line[0])
    assert {"n", "detected", "fraction", "fpr"} <= out.keys()
    assert out["n"] == 50 and out["detected"] == 50 and out["fraction"] == 1.0
    assert out["fpr"] == pytest.approx(1e-3)
    assert main(["watermark", "detect", str(path), "--key", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["detected"] <= 1


def test_cli_watermark_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 3)))
    for argv, match in [
        (["watermark", "detect", str(tmp_path / "none.npy"), "--key", "k"], "not found"),
        (["watermark", "detect", str(bad), "--key", "k"], "[N, C, H, W]"),
        (["watermark", "detect", str(bad), "--key", " "], "empty"),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and match in err


def test_acceptance_sample_with_a_watermark_through_the_cli(tmp_path, capsys, real):
    # The acceptance on the shipped DCGAN: 1,000 marked samples, 8-bit and noise 0.01.
    ckpt = str(ROOT / "data/checkpoints/dcgan.pt")
    marked, plain = tmp_path / "m.npy", tmp_path / "p.npy"
    assert main(["sample", ckpt, "--n", "1000", "--out", str(marked), "--watermark", "K"]) == 0
    assert "watermarked (PSNR >= 36." in capsys.readouterr().out
    assert main(["sample", ckpt, "--n", "1000", "--out", str(plain)]) == 0
    m = _degrade(torch.from_numpy(np.load(marked)))
    p = _degrade(torch.from_numpy(np.load(plain)), seed=1)
    assert wm.detect(m, "K").fraction >= 0.99
    assert wm.detect(p, "K").fraction <= 0.01
    assert wm.detect(m, "L").fraction <= 0.01
    assert wm.detect(_degrade(real, seed=2), "K").fraction <= 0.01
    assert main(["sample", ckpt, "--n", "2", "--out", str(marked), "--watermark", ""]) == 1
    assert "empty" in capsys.readouterr().err


def test_the_recorded_watermark_acceptance():
    rec = json.loads((ROOT / "benchmarks/results/watermark.json").read_text())
    assert rec["real_heldout"]["n"] == 1000 and rec["real_heldout"]["fraction"] <= 0.01
    assert set(rec["generators"]) == {"dcgan", "cgan", "stylegan"}
    for row in rec["generators"].values():
        assert row["marked"]["n"] == 1000 and row["marked"]["fraction"] >= 0.99
        for null in ("unmarked", "other_key"):
            assert row[null]["fraction"] <= 0.01
        assert row["blurred_3x3"]["fraction"] < 0.5  # what breaks it, as the notebook says


def test_the_recorded_fingerprint_experiment_matches_the_shipped_generators():
    # benchmarks/fingerprint.py: a DCGAN trained on marked images samples marked images.
    from gannotes.training import load_family

    rec = json.loads((ROOT / "benchmarks/results/fingerprint.json").read_text())
    assert rec["steps"] == 3696 and rec["training_images_detected"] == 1.0
    for name, ckpt in [
        ("trained_on_marked_data", "dcgan_fingerprinted.pt"),
        ("trained_on_clean_data", "dcgan.pt"),
    ]:
        found = wm.detect(
            load_family(ROOT / "data/checkpoints" / ckpt).sample(1000, seed=0), rec["key"]
        )
        assert found.fraction == pytest.approx(rec[name]["fraction"], abs=0.01)
        assert float(found.scores.median()) == pytest.approx(rec[name]["median_score"], abs=0.1)
    assert rec["trained_on_marked_data"]["fraction"] > 0.9  # the notebook says "almost every"
    assert rec["trained_on_clean_data"]["fraction"] <= 0.01
