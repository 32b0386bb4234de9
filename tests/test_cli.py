"""The command line: train, resume, sample, and one clear line for every bad input."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gannotes.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_train_writes_a_run_and_sample_reads_it(tmp_path, capsys):
    out = tmp_path / "ring"
    assert (
        main(["train", "mlp", "--dataset", "ring", "--out", str(out), "--steps", "30", "--quiet"])
        == 0
    )
    assert {p.name for p in out.iterdir()} == {
        "checkpoint.pt",
        "samples.png",
        "history.json",
        "run.json",
    }
    history = json.loads((out / "history.json").read_text())
    assert history["step"][-1] == 30
    assert main(["sample", str(out), "--n", "7", "--out", str(tmp_path / "s.npy")]) == 0
    points = np.load(tmp_path / "s.npy")
    assert points.shape == (7, 2) and points.dtype == np.float32


@pytest.mark.parametrize(
    "model,dataset,shape",
    [("dcgan", "fashion-mnist", (64, 1, 28, 28)), ("mlp", "grid", (64, 2))],  # grid: lr decay on
)
def test_resume_to_40_equals_training_40(tmp_path, model, dataset, shape):
    """The acceptance check: 40 steps straight, or 20 then --resume to 40, give identical samples
    (the toy recipe's learning-rate decay included)."""
    common = ["--dataset", dataset, "--quiet", "--seed", "0"]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main(["train", model, "--out", a, "--steps", "40", *common]) == 0
    assert main(["train", model, "--out", b, "--steps", "20", *common]) == 0
    assert main(["train", model, "--out", b, "--steps", "40", "--resume", *common]) == 0
    for run in (a, b):
        assert main(["sample", run, "--n", "64", "--seed", "1", "--out", run + ".npy"]) == 0
    x, y = np.load(a + ".npy"), np.load(b + ".npy")
    assert x.shape == shape and x.dtype == np.float32
    if model == "dcgan":
        assert -1 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x, y)


def _corrupt(path: Path):
    path.write_bytes(b"\x00garbage" * 10)


def _foreign(path: Path):
    torch.save({"state_dict": {"w": torch.zeros(3)}}, path)


class _Code:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize(
    "args,message",
    [
        (
            "train gan --dataset ring --out r --steps 5",
            r"argument model: invalid choice: 'gan' \(choose from '?mlp'?, '?dcgan'?, '?cgan'?, '?pix2pix'?, '?cyclegan'?, '?stylegan'?\)",
        ),
        (
            "train mlp --dataset mnist --out r --steps 5",
            r"argument --dataset: invalid choice: 'mnist' \(choose from '?fashion-mnist'?, '?edges2fashion'?, '?sneaker2boot'?, '?ring'?, '?grid'?\)",
        ),
        (
            "train mlp --dataset ring --out r --steps 0",
            "argument --steps: expected a positive integer, got 0",
        ),
        (
            "train mlp --dataset ring --out r --steps -3",
            "argument --steps: expected a positive integer, got -3",
        ),
        (
            "train mlp --dataset ring --out r --minutes nan",
            "argument --minutes: expected a positive number, got nan",
        ),
        ("train mlp --dataset ring --out r", "one of the arguments --steps --minutes is required"),
        (
            "train dcgan --dataset ring --out r --steps 5",
            "dcgan makes 28x28 images; use it with fashion-mnist, not 'ring'",
        ),
        (
            "train mlp --dataset ring --out r --steps 5 --resume",
            "--resume: no checkpoint.pt in r; train without it",
        ),
        ("train mlp --dataset grid --out r --steps 5 --pack 3", "must be divisible by pack 3"),
        (
            "train mlp --dataset ring --out r --steps 5 --augment cutout",
            "augment 'cutout' does not apply to ring; valid: jitter, translation",
        ),
        (
            "train mlp --dataset ring --out r --steps 5 --ema 1",
            "argument --ema: expected a number in [0, 1), got 1",
        ),
        (
            "train mlp --dataset ring --out r --steps 5 --label-noise x",
            "argument --label-noise: expected a number in [0, 0.5], got 'x'",
        ),
        (
            "train mlp --dataset ring --out r --steps 5 --optimizer sgd",
            "argument --optimizer: invalid choice: 'sgd'",
        ),
        (
            "train mlp --dataset ring --out r --steps 5 --d-pretrain -1",
            "argument --d-pretrain: expected an integer >= 0, got -1",
        ),
        ("sample missing --n 3 --out s.npy", "checkpoint not found: missing"),
        ("sample corrupt.pt --n 3 --out s.npy", "is corrupt or not a checkpoint"),
        ("sample foreign.pt --n 3 --out s.npy", "is not a gannotes checkpoint"),
        ("sample code.pt --n 3 --out s.npy", "(weights_only=True) does not run"),
        ("sample code.pt --n 0 --out s.npy", "argument --n: expected a positive integer, got 0"),
    ],
)
def test_bad_input_is_one_clear_line_and_non_zero(tmp_path, args, message, run_cli):
    _corrupt(tmp_path / "corrupt.pt")
    _foreign(tmp_path / "foreign.pt")
    torch.save(
        {"format": "gannotes-checkpoint", "x": _Code(tmp_path / "pwned")}, tmp_path / "code.pt"
    )
    result = run_cli(*args.split(), cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] or re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "pwned").exists()  # the checkpoint's code never ran
    assert not (tmp_path / "s.npy").exists()


def test_an_existing_run_is_never_overwritten(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "mlp", "--dataset", "ring", "--out", out, "--steps", "5", "--quiet"]) == 0
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    assert main(["train", "mlp", "--dataset", "ring", "--out", out, "--steps", "5", "--quiet"]) == 1
    assert "already holds a run; add --resume" in capsys.readouterr().err
    assert (
        main(["train", "mlp", "--dataset", "grid", "--out", out, "--steps", "9", "--resume"]) == 1
    )
    assert "holds a mlp run on ring, not mlp on grid" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "mlp",
                "--dataset",
                "ring",
                "--out",
                out,
                "--steps",
                "9",
                "--resume",
                "--seed",
                "4",
            ]
        )
        == 1
    )
    assert "differs from the run's seed 0" in capsys.readouterr().err
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_sample_needs_a_npy_path(tmp_path, capsys):
    out = str(tmp_path / "run")
    main(["train", "mlp", "--dataset", "grid", "--out", out, "--steps", "3", "--quiet"])
    assert main(["sample", out, "--n", "3", "--out", str(tmp_path / "s.txt")]) == 1
    assert "--out must end in .npy" in capsys.readouterr().err


def test_help_lists_the_commands(run_cli):
    result = run_cli("--help")
    assert result.returncode == 0 and "train" in result.stdout and "sample" in result.stdout


def test_train_help_lists_every_training_option(run_cli):
    text = " ".join(run_cli("train", "--help").stdout.split())
    for flag in (
        "--batch-size",
        "--lr-g",
        "--lr-d",
        "--d-steps",
        "--g-loss",
        "--label-smoothing",
        "--label-noise",
        "--instance-noise",
        "--grad-clip",
        "--r1",
        "--r1-every",
        "--augment",
        "--minibatch-std",
        "--pack",
        "--optimizer",
        "--ema",
        "--spectral-norm",
        "--d-pretrain",
    ):
        assert flag in text, flag


def test_training_flags_reach_the_config_and_resume_keeps_them(tmp_path, capsys):
    out = str(tmp_path / "run")
    flags = ["--pack", "4", "--ema", "0.99", "--lr-d", "0.0005", "--augment", "jitter"]
    flags += ["--r1", "2", "--r1-every", "4"]
    common = ["train", "mlp", "--dataset", "grid", "--out", out, "--quiet"]
    assert main([*common, "--steps", "6", *flags]) == 0
    from gannotes.checkpoint import load_checkpoint

    cfg = load_checkpoint(out)["config"]
    assert (cfg["pack"], cfg["ema"], cfg["lr_d"], cfg["augment"]) == (4, 0.99, 5e-4, "jitter")
    assert (cfg["r1"], cfg["r1_every"]) == (2.0, 4)
    assert cfg["lr_g"] == load_checkpoint(out)["config"]["lr_g"]  # the recipe's value
    assert main([*common, "--steps", "8", "--resume", "--pack", "4"]) == 0  # same value: fine
    assert main([*common, "--steps", "9", "--resume", "--pack", "2"]) == 1
    assert "--pack 2 differs from the run's value 4" in capsys.readouterr().err
    assert load_checkpoint(out)["step"] == 8
