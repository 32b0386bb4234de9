"""gannotes.bench and ``python -m gannotes bench``: the measurements notebook 08 shows."""

import json
import math

import pytest
import torch

from gannotes.bench import (
    BenchConfig,
    Readings,
    compared,
    data_loading,
    machine,
    measure,
    phase_times,
    profile_step,
    table,
    trainer_for,
    update_shares,
)


def test_machine_describes_cpu_cores_torch_and_gpus():
    m = machine()
    assert m["cores"] >= 1 and 1 <= m["usable_cores"] <= m["cores"]
    assert m["torch"] == torch.__version__
    assert isinstance(m["cpu_bf16_native"], bool) and isinstance(m["gpus"], list)
    assert m["cpu"]


def test_measure_counts_images_from_steps_and_batch():
    r = measure(BenchConfig(model="mlp", steps=4, warmup=1, batch_size=16, threads=1))
    assert r["batch_size"] == 16 and r["threads"] == 1
    assert math.isclose(r["images_per_s"], r["steps_per_s"] * 16, rel_tol=0.01)
    assert math.isclose(r["step_ms"], 1000 / r["steps_per_s"], rel_tol=0.01)
    assert r["peak_memory_mb"] > 50 and r["memory_kind"] == "rss"
    assert r["losses_finite"]


def test_table_lists_each_configuration_against_its_baseline():
    rows = [
        {"label": "dcgan fp32", "model": "dcgan", "batch_size": 32, "threads": 1,
         "device": "cpu", "step_ms": 50.0, "steps_per_s": 20.0, "images_per_s": 640.0,
         "peak_memory_mb": 300.0},
        {"label": "dcgan bf16", "model": "dcgan", "batch_size": 32, "threads": 1,
         "device": "cpu", "step_ms": 500.0, "steps_per_s": 2.0, "images_per_s": 64.0,
         "peak_memory_mb": 300.0},
        {"label": "dcgan fp16", "error": "boom"},
    ]  # fmt: skip
    text = table(rows).splitlines()
    assert "1.00x" in text[2] and "0.10x" in text[3] and "error: boom" in text[4]


def test_compared_gives_the_word_the_ratio_earns():
    """The verdicts notebook 08 prints: above 1 + tolerance, below 1 / (1 + tolerance), the same
    in between (both edges included in "the same"); a ratio that is not a measurement fails."""
    words = ("faster", "slower", "about as fast")
    cases = {13.15: "faster", 1.11: "faster", 1.1: "about as fast", 1.0: "about as fast",
             1 / 1.1: "about as fast", 0.9: "slower", 0.0868: "slower"}  # fmt: skip
    for ratio, want in cases.items():
        assert compared(ratio, *words) == want, ratio
    assert compared(1.2, *words, tolerance=0.25) == "about as fast"
    assert compared(1.0, *words, tolerance=0) == "about as fast"
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="must be positive and finite"):
            compared(bad, *words)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        compared(1.0, *words, tolerance=-0.1)


def test_profile_splits_a_step_into_forward_backward_and_optimizer():
    torch.set_num_threads(1)
    prof = profile_step(trainer_for(BenchConfig(model="dcgan", batch_size=8)), steps=1)
    assert math.isclose(sum(prof["split"].values()), 1.0, abs_tol=1e-3)
    # each phase took some of the step (how much is the machine's and its load's to say: a
    # busy machine moved the forward share from ~0.3 to 0.17, so no share is asserted)
    assert set(prof["split"]) >= {"forward", "backward", "optimizer"}
    assert all(share > 0 for share in prof["split"].values())
    assert any("convolution" in op["op"] for op in prof["ops"])
    conv = prof["conv_ms_per_step"]
    assert conv["forward"] > 0 and conv["backward"] > 0
    assert conv["backward"] >= sum(
        op["self_ms_per_step"]
        for op in prof["ops"]
        if op["kind"] == "backward" and "conv" in op["op"]
    )
    assert all(op["self_ms_per_step"] > 0 for op in prof["ops"])


def test_phase_times_cover_algorithm_1_and_leave_the_networks_as_they_were():
    tr = trainer_for(BenchConfig(model="dcgan", batch_size=8))
    phases = phase_times(tr, repeats=2)
    assert list(phases) == [
        "G forward (D's batch)", "D forward (real + fake)", "D backward", "D optimizer step",
        "G forward + D forward (G's loss)", "G backward (through D)", "G optimizer step",
    ]  # fmt: skip
    assert all(v > 0 for v in phases.values())
    shares = update_shares(phases)
    d = sum(phases[k] for k in list(phases)[:4])  # G's forward for D's batch, then D's phases
    assert math.isclose(shares["D"], d / sum(phases.values()))
    assert math.isclose(shares["D"] + shares["G"], 1.0)
    assert all(p.requires_grad for p in tr.D.parameters())


def test_trainer_for_gives_each_gan_its_own_datas_fields():
    for model, fields in (("cgan", ("images", "labels")), ("pix2pix", ("edges", "images")),
                          ("cyclegan", ("a", "b"))):  # fmt: skip
        tr = trainer_for(BenchConfig(model=model, batch_size=4))
        assert tuple(tr.data) == fields and tr.data_source == "tensors given to Trainer"
    tr = trainer_for(BenchConfig(model="mlp", overrides={"dataset": "ring"}))
    assert tr.data is None and tr.config.dataset == "ring"


def test_data_loading_compares_memory_and_dataloaders():
    images = torch.rand(512, 1, 28, 28) * 2 - 1
    rows = data_loading(images, batch_size=32, batches=8, workers=(0,))
    assert [r["loader"] for r in rows] == [
        "in memory (index a tensor)",
        "DataLoader(TensorDataset)",
        "DataLoader(decode + flip per item)",
    ]
    assert all(r["batches_per_s"] > 0 and r["images_per_s"] > 0 for r in rows)


def test_data_loading_keeps_the_best_of_its_repeats(monkeypatch):
    """A fake clock: of three timings of "in memory" (2 s, 1 s, 3 s) the row keeps the best,
    8 batches in 1 s (not the first, the last or the mean)."""
    import itertools

    import gannotes.bench as bench

    clock = itertools.chain([0.0, 2.0, 10.0, 11.0, 20.0, 23.0], itertools.count(100.0))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    images = torch.rand(512, 1, 28, 28) * 2 - 1
    rows = data_loading(images, batch_size=32, batches=8, workers=(0,), repeats=3)
    assert rows[0]["loader"] == "in memory (index a tensor)"
    assert rows[0]["batches_per_s"] == 8.0 and rows[0]["images_per_s"] == 256
    with pytest.raises(ValueError, match="repeats must be at least 1, got 0"):
        data_loading(images, repeats=0)


def test_readings_measure_memory_and_the_time_an_epoch_takes():
    tr = trainer_for(BenchConfig(model="dcgan", batch_size=8))
    tr.config.log_every = 2
    readings = Readings()
    tr.run(steps=4, progress=False)
    r = readings.read(tr)
    assert r["rss_mb"] > 50 and r["peak_rss_mb"] >= r["rss_mb"]
    assert 0 < r["cpu_cores_busy"] < 64
    speed = tr.history["images_per_s"][-1]
    assert math.isclose(r["epoch_minutes"], tr.n_data / speed / 60, abs_tol=6e-4)


def test_cli_bench_prints_a_table_and_json(run_cli, tmp_path):
    out = tmp_path / "bench.json"
    r = run_cli("bench", "--family", "mlp", "--precision", "fp32", "bf16", "--steps", "2",
                "--threads", "1", "--json", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "configuration" in lines[1] and "images/s" in lines[1]
    assert any(line.startswith("mlp fp32 ") for line in lines)
    assert any(line.startswith("mlp bf16 ") for line in lines)
    printed = json.loads(lines[-1])
    assert printed == json.loads(out.read_text())
    assert [x["precision"] for x in printed["results"]] == ["fp32", "bf16"]
    assert printed["machine"]["cores"] >= 1


def test_cli_bench_bad_input_is_one_line(run_cli):
    for args in (["--family", "nonsense"], ["--precision", "fp64"], ["--steps", "0"]):
        r = run_cli("bench", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, args
    r = run_cli("bench", "--device", "cuda", "--steps", "1")
    if not torch.cuda.is_available():
        assert r.returncode == 1 and "CUDA is not available" in r.stderr
