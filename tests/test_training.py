"""gannotes.training and gannotes.checkpoint: the step, determinism, exact resume, atomic
checkpoints, the NaN stop and safe loading."""

import json
import os
import pickle
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gannotes import checkpoint as ckpt_mod
from gannotes.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from gannotes.cli import main
from gannotes.data import load_fashion_mnist
from gannotes.losses import d_logistic_loss, g_nonsaturating_loss
from gannotes.metrics import mode_coverage
from gannotes.models import MLPConfig, MLPDiscriminator, MLPGenerator
from gannotes.training import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    adversarial_step,
    default_config,
    generate,
    load_generator,
    lr_factor,
    select_device,
)


def small_toy(**overrides):
    base = dict(batch_size=32, log_every=5, snapshot_every=5, checkpoint_every=10, n_fixed=16)
    base.update(overrides)
    return default_config("mlp", "ring", model_config=dict(hidden=32, depth=2, z_dim=4), **base)


@pytest.fixture(scope="module")
def images():
    return load_fashion_mnist("train", subset=True, limit=512).images


def same_numbers(h1, h2):
    """Histories agree on everything but wall-clock timings."""
    timing = {"images_per_s", "seconds"}
    return {k: v for k, v in h1.items() if k not in timing} == {
        k: v for k, v in h2.items() if k not in timing
    }


def params(module):
    return [p.detach().clone() for p in module.parameters()]


# ----------------------------------------------------------------------------- the step


def test_adversarial_step_updates_d_on_its_loss_and_g_through_a_frozen_d():
    torch.manual_seed(0)
    cfg = MLPConfig(hidden=8, depth=1, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    real = torch.randn(6, 2)
    z_all = torch.randn(12, 3)
    zs = iter(z_all.split(6))

    # the oracle: the same updates by hand with plain SGD
    G_ref, D_ref = MLPGenerator(cfg), MLPDiscriminator(cfg)
    G_ref.load_state_dict(G.state_dict())
    D_ref.load_state_dict(D.state_dict())
    lr = 0.1
    loss_d = d_logistic_loss(D_ref(real), D_ref(G_ref(z_all[:6]).detach()))
    grads_d = torch.autograd.grad(loss_d, list(D_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(D_ref.parameters(), grads_d, strict=True):
            p -= lr * g
    loss_g = g_nonsaturating_loss(D_ref(G_ref(z_all[6:])))
    grads_g = torch.autograd.grad(loss_g, list(G_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(G_ref.parameters(), grads_g, strict=True):
            p -= lr * g

    stats = adversarial_step(
        G,
        D,
        torch.optim.SGD(G.parameters(), lr),
        torch.optim.SGD(D.parameters(), lr),
        [real],
        lambda n: next(zs),
    )
    for p, q in zip(D.parameters(), D_ref.parameters(), strict=True):
        torch.testing.assert_close(p, q)  # D moved by its own loss only, not by G's
    for p, q in zip(G.parameters(), G_ref.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert all(p.requires_grad for p in D.parameters())  # unfrozen again
    assert stats["loss_d"] == pytest.approx(loss_d.item())
    assert 0 < stats["d_real"] < 1 and 0 < stats["d_fake"] < 1


def test_k_discriminator_steps_per_generator_step():
    cfg = MLPConfig(hidden=8, depth=1, z_dim=3)
    G, D = MLPGenerator(cfg), MLPDiscriminator(cfg)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), 0.01), torch.optim.SGD(D.parameters(), 0.01)
    counts = {"g": 0, "d": 0}
    opt_g.register_step_post_hook(lambda *a: counts.__setitem__("g", counts["g"] + 1))
    opt_d.register_step_post_hook(lambda *a: counts.__setitem__("d", counts["d"] + 1))
    adversarial_step(G, D, opt_g, opt_d, [torch.randn(4, 2)] * 3, lambda n: torch.randn(n, 3))
    assert counts == {"g": 1, "d": 3}
    with pytest.raises(ValueError, match="at least one real batch"):
        adversarial_step(G, D, opt_g, opt_d, [], lambda n: torch.randn(n, 3))


# ----------------------------------------------------------------------------- the loop


def test_seeded_runs_are_identical_and_seeds_differ():
    a, b, c = Trainer(small_toy()), Trainer(small_toy()), Trainer(small_toy(seed=1))
    for t in (a, b, c):
        t.run(steps=20, progress=False)
    for p, q in zip(params(a.G), params(b.G), strict=True):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(params(a.G), params(c.G), strict=True))
    assert same_numbers(a.history, b.history)


def test_history_and_snapshots(images):
    t = Trainer(small_toy())
    h = t.run(steps=20, progress=False)
    assert h["step"] == [5, 10, 15, 20]
    assert all(len(v) == 4 for v in h.values())
    assert all(0 < p < 1 for p in h["d_real"] + h["d_fake"])
    assert all(r > 0 for r in h["images_per_s"])
    assert t.snapshot_steps == [0, 5, 10, 15, 20] and t.snapshots[0].shape == (16, 2)
    img = Trainer(
        default_config(
            "dcgan",
            "fashion-mnist",
            batch_size=16,
            n_fixed=4,
            snapshot_every=2,
            max_snapshots=3,
            log_every=2,
            model_config=dict(g_width=4, d_width=4),
        ),
        data=images,
    )
    img.run(steps=8, progress=False)
    assert img.snapshots[0].dtype == torch.uint8 and img.snapshots[0].shape == (4, 1, 28, 28)
    assert len(img.snapshots) <= 3 and img.snapshot_steps[-1] == 8
    assert img.snapshot_steps == sorted(img.snapshot_steps)


def test_exact_resume_matches_an_uninterrupted_run(tmp_path, images):
    cfg = dict(
        batch_size=32,
        checkpoint_every=7,
        log_every=5,
        snapshot_every=5,
        model_config=dict(g_width=4, d_width=4, z_dim=8),
    )
    straight = Trainer(default_config("dcgan", "fashion-mnist", **cfg), tmp_path / "a", data=images)
    straight.run(steps=40, progress=False)
    first = Trainer(default_config("dcgan", "fashion-mnist", **cfg), tmp_path / "b", data=images)
    first.run(steps=20, progress=False)
    resumed = Trainer.resume(tmp_path / "b", data=images)
    assert resumed.step == 20
    resumed.run(steps=40, progress=False)
    for key in ("G", "D"):
        a, b = straight.state_dict()["networks"][key], resumed.state_dict()["networks"][key]
        for (name, p), q in zip(a.items(), b.values(), strict=True):
            assert torch.equal(p, q), name
    assert torch.equal(straight.sample(50, seed=3), resumed.sample(50, seed=3))
    assert same_numbers(straight.history, resumed.history)
    assert straight.snapshot_steps == resumed.snapshot_steps


def test_lr_decay_follows_the_budget_and_resumes_exactly(tmp_path):
    assert lr_factor("", 0.7) == 1.0
    assert lr_factor("linear", 0.0) == 1.0 and lr_factor("linear", 0.75) == pytest.approx(0.25)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5) and lr_factor("cosine", 1.0) == 0.0
    assert lr_factor("linear", 0.25, start=0.5) == 1.0
    assert lr_factor("linear", 0.75, start=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown lr_decay"):
        small_toy(lr_decay="step")
    with pytest.raises(ValueError, match="lr_decay_start"):
        small_toy(lr_decay="linear", lr_decay_start=1.0)

    with pytest.raises(ValueError, match="lr_decay_steps must be an integer >= 0"):
        small_toy(lr_decay="linear", lr_decay_steps=-1)

    cfg = small_toy(lr_decay="linear", lr_decay_steps=0, lr_g=1e-3, lr_d=2e-3, checkpoint_every=5)
    seen = []
    t = Trainer(cfg, tmp_path / "a")

    def record(trainer, row):
        lrs = (trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"])
        seen.append((trainer.step, *lrs))

    t.run(steps=20, progress=False, callback=record)
    # the lr of step s (0-based) is lr * (1 - s / 20); the last step ran at lr / 20
    assert seen[-1] == (20, pytest.approx(1e-3 / 20), pytest.approx(2e-3 / 20))

    def interrupt(trainer, row):  # an interrupted run (Ctrl-C at step 10), resumed
        if trainer.step == 10:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        Trainer(cfg, tmp_path / "b").run(steps=20, progress=False, callback=interrupt)
    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.step == 10
    resumed.run(steps=20, progress=False)
    assert torch.equal(t.sample(50, seed=3), resumed.sample(50, seed=3))
    assert same_numbers(t.history, resumed.history)


def test_lr_decay_over_a_fixed_horizon_ignores_the_budget(tmp_path):
    """With lr_decay_steps the schedule is fixed, so 20 steps then a resume to 40 is 40 straight."""
    cfg = small_toy(lr_decay="linear", lr_decay_steps=30, lr_g=1e-3, lr_d=1e-3)
    straight = Trainer(cfg, tmp_path / "a")
    straight.run(steps=40, progress=False)
    # the run stops at the horizon: its last step ran at lr/30, the next would run at 0
    assert straight.step == 30 and straight.schedule_finished
    assert straight.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 / 30)
    first = Trainer(cfg, tmp_path / "b")
    first.run(steps=20, progress=False)
    assert not first.schedule_finished
    assert first.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 19 / 30))
    resumed = Trainer.resume(tmp_path / "b")
    resumed.run(steps=40, progress=False)
    assert resumed.step == 30
    assert torch.equal(straight.sample(50, seed=3), resumed.sample(50, seed=3))
    resumed.run(minutes=5, progress=False)  # any budget: nothing left to do
    assert resumed.step == 30


def test_nan_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """The step's statistics stay on the device until the next log or checkpoint; a loss that
    became NaN at step 14 (between the log at 10 and the checkpoint at 15) is caught there, and
    the checkpoint of step 10 is kept."""
    t = Trainer(small_toy(checkpoint_every=5), tmp_path)
    t.run(steps=10, progress=False)
    good = load_checkpoint(tmp_path)
    assert good["step"] == 10
    real_step = t.family.step

    def poisoned(batches, ctx):
        stats = real_step(batches, ctx)
        return {**stats, "loss_g": torch.tensor(float("nan"))} if ctx.step >= 13 else stats

    monkeypatch.setattr(t.family, "step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 14: .*loss_g=nan.*last good checkpoint"):
        t.run(steps=30, progress=False)
    assert load_checkpoint(tmp_path)["step"] == 10
    assert not list(tmp_path.glob(".*tmp"))


def interrupt_at(step):
    """A run callback that sends this process SIGINT (Ctrl-C, Jupyter's stop button) once the
    run reaches ``step``."""

    def callback(trainer, row):
        if trainer.step == step:
            os.kill(os.getpid(), signal.SIGINT)

    return callback


def test_an_interrupt_finishes_the_step_saves_and_stops_with_one_line(tmp_path):
    """The step in progress finishes, the checkpoint is written at the step reached, and a
    KeyboardInterrupt (what stops Jupyter's Run All) says in one line where and how to go on."""
    t = Trainer(small_toy(checkpoint_every=1000, log_every=1), tmp_path)
    # The handler in place before the run: Python's default, or SIG_IGN in a process started
    # in the background by a non-interactive shell (nohup, `cmd &`), as CI may do.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as caught:
        t.run(steps=50, progress=False, callback=interrupt_at(3))
    stop = caught.value
    assert isinstance(stop, KeyboardInterrupt) and not isinstance(stop, Exception)
    assert t.step == stop.step == 3 and load_checkpoint(tmp_path)["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # restored
    message = str(stop)
    assert "\n" not in message
    assert message.startswith("interrupted at step 3 of 50; checkpoint saved to ")
    assert str(tmp_path / "checkpoint.pt") in message and "trainer.run(steps=50)" in message
    assert f"Trainer.resume({str(tmp_path)!r}).run(steps=50)" in message
    # IPython and Jupyter show this line alone, not a traceback
    assert stop._render_traceback_() == [f"TrainingInterrupted: {message}"]
    assert str(pickle.loads(pickle.dumps(stop))) == message


def test_an_interrupted_run_continues_exactly_from_disk_and_in_memory(tmp_path):
    """Interrupted at step 5 (a callback sends SIGINT), then continued with the same budget,
    from the checkpoint in a new Trainer or in the same Trainer without an out_dir: the run
    ends where an uninterrupted one does."""
    cfg = small_toy(log_every=5, checkpoint_every=1000)
    straight = Trainer(cfg, tmp_path / "a")
    straight.run(steps=20, progress=False)

    with pytest.raises(TrainingInterrupted):
        Trainer(cfg, tmp_path / "b").run(steps=20, progress=False, callback=interrupt_at(5))
    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.step == 5
    resumed.run(steps=20, progress=False)

    in_memory = Trainer(cfg)
    with pytest.raises(
        TrainingInterrupted,
        match=r"step 10 of 20; the run is kept in the "
        r"Trainer \(no out_dir\): continue: trainer\.run\(steps=20\)",
    ):
        in_memory.run(steps=20, progress=False, callback=interrupt_at(10))
    assert in_memory.step == 10
    in_memory.run(steps=20, progress=False)

    for other in (resumed, in_memory):
        assert other.step == 20
        assert torch.equal(straight.sample(50, seed=3), other.sample(50, seed=3))
        assert same_numbers(straight.history, other.history)
        assert straight.snapshot_steps == other.snapshot_steps


def test_an_interrupt_on_the_last_step_is_a_finished_run(tmp_path):
    t = Trainer(small_toy(log_every=1), tmp_path)
    t.run(steps=4, progress=False, callback=interrupt_at(4))  # the budget is met: no raise
    assert t.step == 4 and load_checkpoint(tmp_path)["step"] == 4


def test_cli_train_interrupted_saves_the_run_and_exits_130(tmp_path):
    """Ctrl-C in `python -m gannotes train`: the checkpoint, history.json and run.json are
    written at the step reached, one line says how to continue, and the exit code is 130."""
    out = tmp_path / "run"
    argv = ["train", "mlp", "--dataset", "ring", "--out", str(out), "--steps", "8000"]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gannotes", *argv], stderr=subprocess.PIPE, env=env
    )
    try:
        # Interrupt once the progress bar has counted a step: the run's loop, and its SIGINT
        # handler, are on then.
        seen, deadline = b"", time.monotonic() + 120
        while not re.search(rb"\b[1-9][0-9]*/8000\b", seen):
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode()
            if select.select([proc.stderr], [], [], 1.0)[0]:
                seen += os.read(proc.stderr.fileno(), 4096)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        proc.kill()
    stderr = (seen + rest).decode()
    assert proc.returncode == 130, stderr
    saved = load_checkpoint(out)
    step = saved["step"]
    assert 1 <= step < 8000
    assert json.loads((out / "history.json").read_text())["step"] == saved["history"]["step"]
    assert json.loads((out / "run.json").read_text())["sessions"][-1]["to_step"] == step
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"gannotes train: interrupted at step {step} of 8000; wrote "), line
    assert line.endswith(f"continue: python -m gannotes {' '.join(argv)} --resume"), line


def test_minutes_budget_counts_training_time(monkeypatch):
    # a fake clock that advances 1/8 s at each reading: every step takes 0.125 s of training
    # time (exact in binary), so a budget of 0.01 min (0.6 s) is 5 steps (0.625 s), whatever
    # else the machine is doing
    import gannotes.training as training

    ticks = iter(range(10**6))
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(ticks) / 8)
    t = Trainer(small_toy())
    t.run(minutes=0.01, progress=False)
    assert t.step == 5 and t.elapsed == 0.625
    t.run(minutes=0.01, progress=False)  # the total is already spent
    assert t.step == 5
    t.run(minutes=0.02, progress=False)  # a larger total continues from there: 1.2 s
    assert t.step == 10 and t.elapsed == 1.25


def test_budgets_and_configs_are_validated():
    t = Trainer(small_toy())
    with pytest.raises(ValueError, match="give a budget"):
        t.run()
    with pytest.raises(ValueError, match="positive integer"):
        t.run(steps=0)
    with pytest.raises(
        ValueError,
        match="unknown dataset .cifar.; valid: fashion-mnist, edges2fashion, sneaker2boot, ring, grid",
    ):
        TrainConfig(dataset="cifar")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        Trainer(default_config("dcgan", "fashion-mnist"), data=torch.zeros(3, 1, 28, 28))


def test_generate_is_seeded_and_restores_mode():
    t = Trainer(small_toy())
    t.G.train()
    a, b = generate(t.G, 10, seed=5), generate(t.G, 10, seed=5)
    assert torch.equal(a, b) and not torch.equal(a, generate(t.G, 10, seed=6))
    assert t.G.training
    with pytest.raises(ValueError, match="positive"):
        generate(t.G, 0)


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert select_device().type == expected
    elif not (torch.backends.mps.is_available()):
        assert select_device().type == "cpu"


def test_a_device_that_does_not_exist_here_is_one_line(monkeypatch, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"unknown device 'foo'; valid: auto, cpu, cuda"):
        select_device("foo")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device cuda: CUDA is not available here"):
        select_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device cuda:1: only 1 CUDA device\(s\) here"):
        select_device("cuda:1")
    monkeypatch.undo()
    if not torch.cuda.is_available():
        out = tmp_path / "run"
        argv = ["train", "mlp", "--dataset", "ring", "--steps", "2", "--out", str(out)]
        assert main([*argv, "--device", "cuda", "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "CUDA is not available here" in err


def test_an_out_that_cannot_be_a_directory_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "run"):
        argv = ["train", "mlp", "--dataset", "ring", "--steps", "2", "--quiet", "--out", str(out)]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == f"gannotes train: error: --out {out}: {blocker} is a file, not a directory\n"
    # an error of the system while a command writes is one line too, never a traceback
    run = tmp_path / "ok"
    assert (
        main(["train", "mlp", "--dataset", "ring", "--steps", "2", "--quiet", "--out", str(run)])
        == 0
    )
    capsys.readouterr()
    target = blocker / "x.pt"
    assert main(["export", str(run), "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gannotes export: error: ") and err.count("\n") == 1


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_roundtrip_and_load_generator(tmp_path):
    t = Trainer(small_toy(), tmp_path)
    t.run(steps=10, progress=False)
    G, config = load_generator(tmp_path)
    assert config == t.config
    assert torch.equal(generate(G, 8, seed=1), t.sample(8, seed=1))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


class _Payload:
    """Unpickling this would create a marker file: the checkpoint 'carries code'."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize(
    "content,match",
    [
        (b"not a zip, not a pickle", "corrupt or not a checkpoint"),
        (None, "not a gannotes checkpoint"),
    ],
)
def test_corrupt_and_foreign_files_are_refused(tmp_path, content, match):
    path = tmp_path / "x.pt"
    if content is None:
        torch.save({"model": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 3, "w": torch.randn(1000)})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_a_checkpoint_carrying_code_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "gannotes-checkpoint", "payload": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)
    assert not marker.exists()


def test_missing_checkpoints_are_reported(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="no checkpoint.pt in run directory"):
        load_checkpoint(tmp_path)


def test_the_toy_recipe_covers_every_grid_mode():
    """The headline of notebook 02 and benchmarks/toy_recipe.md, on seed 0: the recipe trained
    to the end of its schedule (8,000 steps, ~50 s on one core) captures all 25 grid modes with
    >= 85% high-quality samples, under the VEEGAN/PacGAN protocol (2,500 samples, 3 std).
    Measured (Adam 3e-3, betas (0, 0.99)): 25 modes and 0.906, 0.906, 0.894 high quality on
    seeds 0-2 (benchmarks/toy_recipe.py, samples seed 123); the CLI path:
    benchmarks/results/toy_cli.json."""
    trainer = Trainer(default_config("mlp", "grid", seed=0), device="cpu")
    trainer.run(minutes=10, progress=False)  # the schedule ends the run
    assert trainer.step == trainer.config.lr_decay_steps == 8000 and trainer.schedule_finished
    mc = mode_coverage(trainer.sample(2500, seed=0), "grid")
    assert mc.modes == 25
    assert mc.high_quality >= 0.85


# ----------------------------------------------------------------------------- random state by rank


class FakeGPUs:
    """One process's view of the random states of ``n`` GPUs, installed in place of
    torch.cuda's functions (this test machine has none). Like torch, an index past the last
    visible GPU raises (``torch.cuda.default_generators[i]``: IndexError)."""

    def __init__(self, n: int, start: int = 0):
        self.states = {i: torch.full((4,), start + i, dtype=torch.uint8) for i in range(n)}

    @staticmethod
    def _index(device) -> int:
        return device if isinstance(device, int) else torch.device(device).index or 0

    def get(self, device="cuda"):
        return self.states[self._index(device)].clone()  # KeyError past the last GPU

    def set(self, state, device="cuda"):
        i = self._index(device)
        if i not in self.states:
            raise IndexError(f"no GPU {i} (tuple index out of range)")
        self.states[i] = state.clone()

    def install(self, monkeypatch):
        cuda = torch.cuda
        monkeypatch.setattr(cuda, "is_available", lambda: True)
        monkeypatch.setattr(cuda, "device_count", lambda: len(self.states))
        monkeypatch.setattr(cuda, "get_rng_state", self.get)
        monkeypatch.setattr(cuda, "set_rng_state", self.set)
        monkeypatch.setattr(cuda, "get_rng_state_all", lambda: [self.get(i) for i in self.states])

        def set_all(states):  # torch.cuda.set_rng_state_all: set_rng_state(state, i) for each
            for i, s in enumerate(states):
                self.set(s, i)

        monkeypatch.setattr(cuda, "set_rng_state_all", set_all)


def test_a_checkpoint_from_a_machine_with_more_gpus_resumes_the_own_gpus_state(monkeypatch):
    """Format 1 and early format 2 kept every GPU's state (get_rng_state_all): 4 GPUs there, 2
    here. The run's own GPU (cuda:0) gets its state back; the GPUs this machine lacks are not
    asked for (set_rng_state_all failed on them)."""
    state = Trainer(small_toy()).state_dict()
    state["rng"]["cuda"] = [torch.full((4,), 100 + i, dtype=torch.uint8) for i in range(4)]
    t = Trainer(small_toy())
    t.device = torch.device("cuda", 0)
    gpus = FakeGPUs(2)
    gpus.install(monkeypatch)
    t.load_state_dict(state)
    assert gpus.states[0].tolist() == [100] * 4  # its own
    assert gpus.states[1].tolist() == [1] * 4  # untouched


def test_each_rank_saves_and_restores_its_own_gpus_random_state(monkeypatch):
    """Two processes, one GPU each, each with its own view of both GPUs' random states. Rank 0
    writes the checkpoint; rank 1 must get back the state of *its* GPU as *it* left it, not
    rank 0's view of that GPU, and no other GPU's state is touched."""
    from gannotes import parallel
    from gannotes.parallel import Distributed

    # rank 0, rank 1, and rank 1 again after a restart (built before the fake GPUs appear)
    t0, t1, resumed = Trainer(small_toy()), Trainer(small_toy()), Trainer(small_toy())
    for rank, t in ((0, t0), (1, t1), (1, resumed)):
        t.distributed = Distributed(rank=rank, world_size=2, local_rank=rank, backend="nccl")
        t.device = torch.device("cuda", rank)
    view0, view1 = FakeGPUs(2, start=10), FakeGPUs(2, start=20)  # what each process sees
    view1.install(monkeypatch)
    rank1_rng = t1._rank_rng()  # rank 1's part, gathered into rank 0's checkpoint
    view0.install(monkeypatch)
    monkeypatch.setattr(parallel, "gather", lambda obj: [obj, rank1_rng if "noise" in obj else obj])
    state = t0.state_dict()
    assert state["rng_ranks"][1]["cuda"].tolist() == [21] * 4  # rank 1's GPU as rank 1 saw it

    view1 = FakeGPUs(2, start=50)  # rank 1 after a restart: its GPUs' states are new
    view1.install(monkeypatch)
    resumed.load_state_dict(state)
    assert view1.states[1].tolist() == [21] * 4  # its own GPU, as it left it
    assert view1.states[0].tolist() == [50] * 4  # rank 0's GPU: not this process's to set


def test_each_rank_seeds_its_own_dropout_after_the_networks_are_shared(monkeypatch):
    """Rank 0's global random stream (dropout) is a one-process run's; rank 1's differs, while
    its networks are the same as rank 0's (built from the shared seed, then broadcast)."""
    from gannotes import parallel
    from gannotes.parallel import Distributed

    def trainer_of_rank(rank):
        if rank is None:
            monkeypatch.setattr(parallel, "current", lambda: None)
        else:
            d = Distributed(rank=rank, world_size=2, local_rank=rank, backend="gloo")
            monkeypatch.setattr(parallel, "current", lambda: d)
        monkeypatch.setattr(parallel, "broadcast_networks", lambda nets: None)
        t = Trainer(small_toy())
        return t, torch.get_rng_state()

    (one, one_rng), (r0, r0_rng), (r1, r1_rng) = map(trainer_of_rank, (None, 0, 1))
    _, r1_again = trainer_of_rank(1)
    assert torch.equal(r0_rng, one_rng)  # a one-process run's stream, unchanged
    assert not torch.equal(r1_rng, r0_rng)  # rank 1 draws its own dropout
    assert torch.equal(r1_rng, r1_again)  # from the seed and the rank: reproducible
    for p, q in zip(params(r0.G), params(r1.G), strict=True):
        assert torch.equal(p, q)


def test_a_refused_resume_leaves_the_trainer_as_it_was():
    """Every check comes before the first weight is loaded: a checkpoint of two processes, or of
    a different model, is refused and the Trainer keeps its own networks and optimizers."""
    from gannotes.checkpoint import GannotesError

    donor = Trainer(small_toy())
    donor.run(steps=5, progress=False)
    t = Trainer(small_toy(seed=1))
    before = {k: v.clone() for k, v in t.G.state_dict().items()}
    state = donor.state_dict()
    with pytest.raises(GannotesError, match="trained with 2 process"):
        t.load_state_dict({**state, "world_size": 2})
    narrow = dict(hidden=16, depth=2, z_dim=4)
    other = Trainer(default_config("mlp", "ring", model_config=narrow)).state_dict()
    wrong_d = {**state, "networks": {**state["networks"], "D": other["networks"]["D"]}}
    with pytest.raises(CheckpointError, match="network 'D'"):
        t.load_state_dict(wrong_d)
    for k, v in t.G.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert t.step == 0 and not t.optimizers["G"].state


# ----------------------------------------------------------------------------- reading runs back


def test_generate_and_load_generator_refuse_a_sampler_that_needs_more_than_z(tmp_path, images):
    """generate(G, n) feeds G z alone: a class-conditional G (labels), StyleGAN's (noise maps)
    and the translators (images, no z) are refused in one line that names what samples any
    family, load_family(path).sample(n, seed); so is load_generator on such a run. A network
    that takes z alone, any network with cfg.z_dim (benchmarks/tutorial_dcgan.py), still works."""
    from types import SimpleNamespace

    from gannotes.checkpoint import GannotesError
    from gannotes.models import (
        CGANConfig,
        ConditionalGenerator,
        CycleGANConfig,
        Pix2PixConfig,
        ResnetGenerator,
        StyleGANConfig,
        StyleGenerator,
        UNetGenerator,
    )
    from gannotes.training import load_family

    for G in (
        ConditionalGenerator(CGANConfig()),
        StyleGenerator(StyleGANConfig(width=8, z_dim=16, w_dim=16)),
        UNetGenerator(Pix2PixConfig()),
        ResnetGenerator(CycleGANConfig()),
    ):
        with pytest.raises(ValueError, match=r"load_family\(path\)\.sample\(n, seed\)") as err:
            generate(G, 4)
        assert "\n" not in str(err.value)

    class ZOnly(torch.nn.Module):  # a network of its own, as the benchmarks write them
        def __init__(self):
            super().__init__()
            self.cfg = SimpleNamespace(z_dim=3)
            self.net = torch.nn.Linear(3, 2)

        def forward(self, z):
            return self.net(z)

    g = ZOnly()
    with torch.no_grad():
        expected = g(torch.randn(5, 3, generator=torch.Generator().manual_seed(2)))
    torch.testing.assert_close(generate(g, 5, seed=2), expected)

    cfg = default_config("stylegan", model_config=dict(width=8, d_width=8), batch_size=8)
    Trainer(cfg, tmp_path / "style", data=images, device="cpu").save()
    with pytest.raises(
        GannotesError, match=r"stylegan run.*load_family\(path\)\.sample\(n, seed\)"
    ):
        load_generator(tmp_path / "style")
    assert load_family(tmp_path / "style").sample(3, seed=0).shape == (3, 1, 28, 28)
