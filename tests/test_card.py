"""Model cards (gannotes.card, ``python -m gannotes card``) and the run record ``train`` writes.

The card's numbers are checked against the functions that measure them, run here on the same
samples (evaluate_images, memorisation_audit, the watermark detector): a card cannot carry a
placeholder or a stale number.
"""

from __future__ import annotations

import json

import pytest

from gannotes.card import model_card, run_record
from gannotes.cli import main

SECTIONS = [
    "## Model details",
    "## Training data",
    "## Measured quality",
    "## Memorisation audit",
    "## Intended use",
    "## Limitations and risks",
    "## Watermark",
    "## Licence",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("card") / "run"
    argv = ["train", "dcgan", "--dataset", "fashion-mnist", "--out", str(out), "--steps", "20"]
    assert main([*argv, "--data-limit", "600", "--quiet"]) == 0
    return out


def test_train_records_the_command_machine_and_each_session(run):
    record = run_record(run)
    (first,) = record["sessions"]
    assert first["command"].startswith("python -m gannotes train dcgan --dataset fashion-mnist")
    assert "--data-limit 600" in first["command"]
    assert (first["from_step"], first["to_step"]) == (0, 20)
    assert first["machine"]["cpu"] and first["machine"]["torch"]
    assert first["device"] == "cpu" and first["minutes"] > 0
    assert main(["train", "dcgan", "--dataset", "fashion-mnist", "--out", str(run),
                 "--steps", "30", "--resume", "--quiet"]) == 0  # fmt: skip
    sessions = run_record(run)["sessions"]
    assert [(s["from_step"], s["to_step"]) for s in sessions] == [(0, 20), (20, 30)]


def test_card_has_every_section_and_the_measured_numbers(run, tmp_path, capsys):
    import numpy as np
    import torch

    from gannotes.data import load_fashion_mnist
    from gannotes.evaluation import evaluate_images
    from gannotes.privacy import memorisation_audit
    from gannotes.training import load_family

    path = tmp_path / "CARD.md"
    assert main(["card", str(run), "--out", str(path), "--n", "300"]) == 0
    assert "wrote the model card" in capsys.readouterr().out
    card = path.read_text()
    positions = [card.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "not recorded" not in card and "TODO" not in card and "nan" not in card.lower()
    assert "30 generator steps" in card and "--data-limit 600" in card
    assert "the first 600 training images" in card and "MIT" in card

    family = load_family(run)
    samples = family.sample(300, seed=0)
    r = evaluate_images(samples)
    assert f"| FID (course feature network; lower is better) | {r['fid']:.1f} |" in card
    assert f"| Precision (fidelity) | {r['precision']:.3f} |" in card
    assert f"| Recall (diversity) | {r['recall']:.3f} |" in card
    assert f"| Density (fidelity, not fooled by outliers) | {r['density']:.3f} |" in card
    assert f"| Coverage (diversity, not fooled by outliers) | {r['coverage']:.3f} |" in card
    assert f"| Classes covered (>= 2% of samples) | {r['classes_covered']} of 10 |" in card
    assert "quality gate | fails" in card  # 30 steps: far from the gate, and the card says so
    heldout = torch.as_tensor(load_fashion_mnist("test", subset=True).images)
    train = torch.as_tensor(load_fashion_mnist("train", limit=600).images)
    audit = memorisation_audit(samples, train, heldout)
    assert f"| {np.median(audit.distances):.2f} |" in card
    assert f"{len(audit.flagged)} of 300" in card
    from gannotes import watermark as wm

    marked = wm.detect(wm.embed(samples, "model-card"), "model-card").fraction
    plain = wm.detect(samples, "model-card").fraction
    assert f"{marked:.1%} of marked samples detected, {plain:.1%} of unmarked" in card


def test_card_of_an_exported_checkpoint_says_what_was_not_recorded(tmp_path):
    from pathlib import Path

    ckpt = Path(__file__).resolve().parents[1] / "data/checkpoints/dcgan.pt"
    card = model_card(ckpt, n=200)
    assert "3,696 generator steps" in card
    assert "not recorded (no run.json" in card and "## Measured quality" in card


def test_card_errors_are_one_line(tmp_path, capsys):
    assert main(["card", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err
    with pytest.raises(SystemExit) as exit_:
        main(["card", str(tmp_path), "--n", "0"])
    assert exit_.value.code == 2 and "an integer >= 50" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n >= 50"):
        model_card(tmp_path, n=3)


def test_run_record_ignores_a_damaged_file(tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    assert run_record(tmp_path) is None
    (tmp_path / "run.json").write_text(json.dumps({"sessions": []}))
    assert run_record(tmp_path) is None


def test_card_of_a_toy_run_and_of_a_translator(tmp_path):
    from pathlib import Path

    out = tmp_path / "toy"
    assert (
        main(["train", "mlp", "--dataset", "ring", "--out", str(out), "--steps", "20", "--quiet"])
        == 0
    )
    card = model_card(out, n=300)
    assert "| Modes covered |" in card and "synthetic 2-D distribution `ring`" in card
    assert "Not applicable" in card and "this run makes points" in card and "garments" not in card
    assert "Differs from the course's recipe for this model and data" in card
    ckpt = Path(__file__).resolve().parents[1] / "data/checkpoints/cyclegan_sneaker2boot.pt"
    card = model_card(ckpt, n=100)
    assert "| Classified as Ankle boot (the goal) |" in card and "| FID" not in card


@pytest.mark.filterwarnings("ignore:frechet_distance")  # 60 samples: a biased FID is fine here
def test_card_of_other_families_and_an_unrecorded_checkpoint():
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "data/checkpoints"
    for name in ("cgan_projection.pt", "stylegan.pt"):
        card = model_card(shipped / name, n=60)
        assert "## Measured quality" in card and "| FID (course feature network" in card
    card = model_card(shipped / "dcgan_skewed.pt", n=60)
    assert "**Not recorded** (no run.json)" in card  # its 6,000 images are not in its config


@pytest.mark.filterwarnings("ignore:frechet_distance")
def test_a_record_of_another_run_is_flagged(run, tmp_path):
    import shutil

    other = tmp_path / "copy"
    shutil.copytree(run, other)
    record = json.loads((other / "run.json").read_text())
    record["sessions"][-1]["to_step"] = 7
    (other / "run.json").write_text(json.dumps(record))
    assert "it may describe another run" in model_card(other, n=60)
