"""The ``classes`` knob: training on a subset of Fashion-MNIST's classes (the normal data of
anomaly detection), checked against the labels, validated in one line, resumed exactly."""

import json

import pytest
import torch

from gannotes.checkpoint import load_checkpoint
from gannotes.cli import main
from gannotes.data import dataset_tensors, load_fashion_mnist
from gannotes.training import Trainer, default_config

TINY = dict(batch_size=16, log_every=2, snapshot_every=4, model_config=dict(g_width=4, d_width=4))


def _expected(classes, limit):
    """The oracle: every training image and label, filtered by hand, the first ``limit``."""
    fm = load_fashion_mnist("train")
    keep = torch.zeros(len(fm), dtype=torch.bool)
    for c in classes:
        keep |= fm.labels == c
    return fm.images[keep][:limit], fm.labels[keep][:limit]


def test_the_trained_data_holds_only_those_classes_and_composes_with_data_limit():
    cfg = default_config("dcgan", "fashion-mnist", classes=(0, 2, 4), data_limit=300, **TINY)
    trainer = Trainer(cfg, None, device="cpu")
    images, labels = _expected((0, 2, 4), 300)
    assert trainer.n_data == 300
    assert torch.equal(trainer.data["images"], images)
    assert set(labels.tolist()) == {0, 2, 4}  # the first 300 of the three hold all three
    assert "classes 0 T-shirt/top, 2 Pullover, 4 Coat" in trainer.data_source
    batch = trainer.real_batch()  # what a step sees is drawn from those images
    assert all((images == x).all(dim=(1, 2, 3)).any() for x in batch)
    with pytest.raises(ValueError, match="needs a new Trainer"):  # the data would not follow
        trainer.reconfigure(classes=(1,))

    fields, source = dataset_tensors("fashion-mnist", "train", limit=50, classes=(7,))
    assert fields["labels"].tolist() == [7] * 50 and "7 Sneaker" in source
    assert torch.equal(fields["images"], _expected((7,), 50)[0])


def test_data_given_to_the_trainer_is_filtered_by_its_labels():
    images = torch.rand(40, 1, 28, 28) * 2 - 1
    labels = torch.arange(40) % 4
    cfg = default_config("dcgan", "fashion-mnist", classes=(1, 3), **TINY)
    trainer = Trainer(cfg, None, device="cpu", data={"images": images, "labels": labels})
    assert torch.equal(trainer.data["images"], images[labels % 2 == 1])
    with pytest.raises(ValueError, match="labels"):
        Trainer(cfg, None, device="cpu", data=images)


def test_classes_from_python_are_checked():
    assert default_config("dcgan", "fashion-mnist", classes=7).classes == (7,)
    assert default_config("dcgan", "fashion-mnist", classes=[0, 2]).classes == (0, 2)
    assert default_config("dcgan", "fashion-mnist").classes is None
    for bad, message in [
        ((), "at least one class"),
        ((3, 3), "class 3 is listed twice"),
        ((10,), r"an integer in \[0, 10\)"),
        ((1.5,), r"an integer in \[0, 10\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            default_config("dcgan", "fashion-mnist", classes=bad)
    with pytest.raises(ValueError, match="does not apply to ring"):
        default_config("mlp", "ring", classes=(1,))


@pytest.mark.parametrize(
    "model,dataset,classes,message",
    [
        ("dcgan", "fashion-mnist", "7,7", "class 7 is listed twice"),
        ("dcgan", "fashion-mnist", "12", "each an integer in [0, 10), got '12'"),
        ("dcgan", "fashion-mnist", "x", "each an integer in [0, 10), got 'x'"),
        ("dcgan", "fashion-mnist", "", "a comma-separated list"),
        ("dcgan", "fashion-mnist", "1,,2", "a comma-separated list"),
        ("mlp", "ring", "7", "does not apply to ring"),
        ("cgan", "fashion-mnist", "7", "does not apply to the conditional family"),
        ("pix2pix", "edges2fashion", "7", "does not apply to edges2fashion"),
    ],
)
def test_bad_classes_are_one_line_and_write_nothing(
    tmp_path, capsys, model, dataset, classes, message
):
    out = tmp_path / "run"
    args = ["train", model, "--dataset", dataset, "--out", str(out), "--steps", "2"]
    try:
        code = main([*args, "--quiet", "--classes", classes])
    except SystemExit as exc:  # argparse's refusal of the flag's text: exit status 2
        code = exc.code
    err = capsys.readouterr().err
    assert code in (1, 2)
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_resume_with_classes_equals_training_straight(tmp_path):
    """4 steps, then resumed to 8, equal 8 steps straight: the same images in the same order."""
    cfg = dict(classes=(5, 9), data_limit=48, checkpoint_every=3, **TINY)
    straight = Trainer(default_config("dcgan", "fashion-mnist", **cfg), tmp_path / "a")
    straight.run(steps=8, progress=False)
    first = Trainer(default_config("dcgan", "fashion-mnist", **cfg), tmp_path / "b")
    first.run(steps=4, progress=False)
    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.config.classes == (5, 9) and resumed.step == 4
    assert torch.equal(resumed.data["images"], straight.data["images"])
    resumed.run(steps=8, progress=False)
    for key in ("G", "D"):
        a, b = straight.state_dict()["networks"][key], resumed.state_dict()["networks"][key]
        for (name, p), q in zip(a.items(), b.values(), strict=True):
            assert torch.equal(p, q), name
    assert torch.equal(straight.sample(16, seed=1), resumed.sample(16, seed=1))


def test_the_cli_records_classes_and_a_resume_keeps_them(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train", "dcgan", "--dataset", "fashion-mnist", "--out", str(out), "--quiet"]
    small = ["--batch-size", "16", "--data-limit", "64"]
    assert main([*common, "--steps", "2", "--classes", "7", *small]) == 0
    assert load_checkpoint(out)["config"]["classes"] == (7,)
    session = json.loads((out / "run.json").read_text())["sessions"][0]
    assert session["classes"] == [7] and "7 Sneaker" in session["data"]
    assert main([*common, "--steps", "4", "--resume"]) == 0  # no flag: the run's classes
    assert main([*common, "--steps", "4", "--resume", "--classes", "7"]) == 0  # the same: fine
    capsys.readouterr()
    assert main([*common, "--steps", "6", "--resume", "--classes", "0,7"]) == 1
    err = capsys.readouterr().err
    assert "--classes 0,7 differs from the run's value 7" in err
    sessions = json.loads((out / "run.json").read_text())["sessions"]
    assert [s["classes"] for s in sessions] == [[7], [7], [7]]
    assert load_checkpoint(out)["step"] == 4
