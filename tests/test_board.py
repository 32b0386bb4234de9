"""TensorBoard (gannotes.board): the event files a run writes, read back with tensorboard's own
reader and served by tensorboard itself; a resumed run continues its curves."""

import json
import math
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
import torch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from gannotes.board import TensorBoardCallback, scalar_tag  # noqa: E402
from gannotes.cli import main  # noqa: E402
from gannotes.training import Trainer, default_config  # noqa: E402

CFG = dict(
    batch_size=16,
    data_limit=64,
    log_every=5,
    snapshot_every=10,
    checkpoint_every=10,
    model_config=dict(g_width=4, d_width=4, z_dim=8),
)
ROW_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g")


def _read(run_dir) -> EventAccumulator:
    events = EventAccumulator(
        str(run_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0}
    )
    events.Reload()
    return events


def _steps(events, tag) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


def test_tags_follow_the_history_keys():
    assert [scalar_tag(k) for k in ROW_KEYS] == [
        "loss/d",
        "loss/g",
        "D/D(x)",
        "D/D(G(z))",
        "grad_norm/d",
        "grad_norm/g",
    ]
    assert scalar_tag("r1") == "train/r1" and scalar_tag("images_per_s") == "speed/images_per_s"


def test_a_run_writes_every_row_images_histograms_and_a_quality_curve(tmp_path):
    trainer = Trainer(default_config("dcgan", "fashion-mnist", **CFG), None, device="cpu")
    with TensorBoardCallback(trainer, tmp_path, name="tiny", every=10, n_quality=200) as board:
        trainer.run(steps=20, progress=False, callback=board)
    events = _read(tmp_path / "tiny")
    history = trainer.history
    for key in ROW_KEYS:  # every history row, with the row's value (stored as float32)
        scalars = events.Scalars(scalar_tag(key))
        assert [e.step for e in scalars] == history["step"] == [5, 10, 15, 20]
        assert [e.value for e in scalars] == pytest.approx(history[key], rel=1e-6)
    assert _steps(events, "lr/G") == _steps(events, "lr/D") == [5, 10, 15, 20]
    assert events.Scalars("lr/G")[0].value == pytest.approx(trainer.config.lr_g)
    assert _steps(events, "quality/fid") == [10, 20]
    assert all(e.value > 0 and math.isfinite(e.value) for e in events.Scalars("quality/fid"))
    images = events.Images("samples/fixed")
    assert [e.step for e in images] == [10, 20] and images[0].width > 28  # a grid of 64 images
    histograms = events.Tags()["histograms"]
    expected = {
        f"weights/{n}/{p}" for n in ("G", "D") for p, _ in trainer.networks[n].named_parameters()
    }
    assert set(histograms) == expected
    for tag in histograms:
        assert [e.step for e in events.Histograms(tag)] == [10, 20]
    # the board only watches: the same run without it learns exactly the same weights
    plain = Trainer(default_config("dcgan", "fashion-mnist", **CFG), None, device="cpu")
    plain.run(steps=20, progress=False)
    for name, p in trainer.G.state_dict().items():
        assert torch.equal(p, plain.G.state_dict()[name]), name


def test_a_toy_run_writes_mode_coverage_and_a_scatter_plot(tmp_path):
    trainer = Trainer(default_config("mlp", "ring", log_every=5, batch_size=32), None, device="cpu")
    with TensorBoardCallback(trainer, tmp_path, every=10, n_quality=200) as board:
        trainer.run(steps=10, progress=False, callback=board)
    events = _read(tmp_path / "mlp-ring-seed0")
    assert _steps(events, "loss/d") == [5, 10] and _steps(events, "train/r1") == [5, 10]
    assert _steps(events, "quality/modes") == [10] and _steps(events, "quality/high_quality") == [
        10
    ]
    assert 0 <= events.Scalars("quality/modes")[0].value <= 8
    assert [e.step for e in events.Images("samples/fixed")] == [10]


@pytest.mark.parametrize("model,dataset", [("cgan", "fashion-mnist"), ("cyclegan", "sneaker2boot")])
def test_every_family_writes_its_board(tmp_path, model, dataset):
    """Families with labelled inputs or two generators: their own statistics, every network's
    weights (cyclegan's optimizer "G" steps two networks, G_ab and G_ba)."""
    cfg = default_config(model, dataset, batch_size=8, log_every=2, data_limit=200)
    trainer = Trainer(cfg, None, device="cpu")
    with TensorBoardCallback(trainer, tmp_path, name=model, every=2, n_quality=200) as board:
        trainer.run(steps=2, progress=False, callback=board)
    events = _read(tmp_path / model)
    row = {k: v[-1] for k, v in trainer.history.items() if k not in ("step", "seconds")}
    for key, value in row.items():
        assert [e.value for e in events.Scalars(scalar_tag(key))] == pytest.approx([value])
    networks = [n for n in trainer.networks if not n.endswith("_ema")]
    assert {t.split("/")[1] for t in events.Tags()["histograms"]} == set(networks)
    assert [e.step for e in events.Images("samples/fixed")] == [2]


def test_a_resumed_run_continues_its_curves_without_a_step_twice(tmp_path):
    """Session 1 trains to 15 but its last checkpoint is at 10 (as if it crashed at 15); the
    resumed session trains 10 -> 20 again: the board shows each step once, with the values of
    a run trained straight to 20."""
    straight = Trainer(default_config("dcgan", "fashion-mnist", **CFG), tmp_path / "a")
    with TensorBoardCallback(straight, tmp_path / "tb", name="a", every=10, n_quality=0) as b:
        straight.run(steps=20, progress=False, callback=b)

    first = Trainer(default_config("dcgan", "fashion-mnist", **CFG), tmp_path / "b")
    board = TensorBoardCallback(first, tmp_path / "tb", name="b", every=10, n_quality=0)
    first.run(steps=10, progress=False, callback=board)
    shutil.copy(first.checkpoint_path, tmp_path / "at10.pt")
    first.run(steps=15, progress=False, callback=board)
    board.close()
    shutil.copy(tmp_path / "at10.pt", first.checkpoint_path)  # the crash: back to step 10

    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.step == 10
    with TensorBoardCallback(resumed, tmp_path / "tb", name="b", every=10, n_quality=0) as board:
        resumed.run(steps=20, progress=False, callback=board)
    a, b = _read(tmp_path / "tb" / "a"), _read(tmp_path / "tb" / "b")
    for key in ROW_KEYS:
        tag = scalar_tag(key)
        assert _steps(b, tag) == _steps(a, tag) == [5, 10, 15, 20]
        assert [e.value for e in b.Scalars(tag)] == [e.value for e in a.Scalars(tag)]
    assert [e.step for e in b.Images("samples/fixed")] == [10, 20]
    assert [e.step for e in b.Histograms("weights/G/project.0.weight")] == [10, 20]


def test_the_cli_writes_one_subfolder_per_run_and_resume_continues_it(tmp_path, capsys):
    tb = tmp_path / "tb"
    small = ["--dataset", "fashion-mnist", "--batch-size", "16", "--data-limit", "64", "--quiet"]
    board = ["--tensorboard", str(tb), "--tensorboard-every", "10"]
    for name in ("one", "two"):
        out = str(tmp_path / name)
        assert main(["train", "dcgan", "--out", out, "--steps", "20", *small, *board]) == 0
    out = str(tmp_path / "one")
    assert main(["train", "dcgan", "--out", out, "--steps", "30", "--resume", *small, *board]) == 0
    assert sorted(p.name for p in tb.iterdir()) == ["one", "two"]
    one, two = _read(tb / "one"), _read(tb / "two")
    assert _steps(one, "loss/d") == [10, 20, 30] and _steps(two, "loss/d") == [10, 20]
    history = json.loads((tmp_path / "one" / "history.json").read_text())
    assert [e.value for e in one.Scalars("loss/g")] == pytest.approx(history["loss_g"], rel=1e-6)
    assert _steps(one, "quality/fid") == [10, 20, 30]
    assert [e.step for e in one.Images("samples/fixed")] == [10, 20, 30]


def test_without_tensorboard_the_flag_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    out, tb = tmp_path / "run", tmp_path / "tb"
    args = ["train", "dcgan", "--dataset", "fashion-mnist", "--out", str(out), "--steps", "2"]
    assert main([*args, "--tensorboard", str(tb)]) == 1
    err = capsys.readouterr().err
    assert 'pip install -e ".[tensorboard]"' in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not tb.exists()
    assert main([*args, "--tensorboard-every", "5"]) == 1
    assert "--tensorboard-every needs --tensorboard DIR" in capsys.readouterr().err
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_serves_the_scalars_of_a_run(tmp_path):
    trainer = Trainer(default_config("dcgan", "fashion-mnist", **CFG), None, device="cpu")
    with TensorBoardCallback(trainer, tmp_path, name="served", every=10, n_quality=0) as board:
        trainer.run(steps=20, progress=False, callback=board)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path)]
        + ["--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    query = urllib.parse.urlencode({"run": "served", "tag": "loss/d"})
    url = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?{query}"
    try:
        deadline = time.monotonic() + 180  # bounds the wait only: not a pass/fail criterion
        answer = None
        while answer is None:
            assert server.poll() is None, f"tensorboard exited: {server.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "tensorboard did not serve the run within 180 s"
            try:
                if "served" in _get_json(f"http://127.0.0.1:{port}/data/runs"):
                    answer = _get_json(url)
            except OSError:  # not listening yet, or the run not loaded yet
                pass
            if answer is None:
                time.sleep(0.5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    # [wall_time, step, value] per point
    assert [point[1] for point in answer] == trainer.history["step"]
    assert [point[2] for point in answer] == pytest.approx(trainer.history["loss_d"], rel=1e-6)
