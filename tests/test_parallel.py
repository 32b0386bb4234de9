"""Data-parallel training (gannotes.parallel): gradients against one process with the doubled
batch and against torch's DistributedDataParallel, data shards, and torchrun through the CLI
with an exact resume."""

import shutil
from pathlib import Path

import pytest
import torch

from gannotes.parallel import Distributed, data_parallel_gradients, torchrun
from gannotes.training import Trainer, default_config, load_family

ROOT = Path(__file__).resolve().parent.parent


def test_two_processes_gradients_equal_one_process_with_the_doubled_batch():
    g = data_parallel_gradients(world_size=2, batch_size=16, d_norm="none")
    assert g["one_process"].abs().max() > 1e-3  # a real gradient, not zeros
    torch.testing.assert_close(g["data_parallel"], g["one_process"], rtol=0, atol=1e-6)
    torch.testing.assert_close(g["data_parallel"], g["ddp"], rtol=0, atol=1e-6)


def test_batchnorm_makes_the_processes_gradients_differ_from_one_process():
    # BatchNorm normalises each process's batch with its own statistics: the reason the
    # equivalence above is stated for a D without it
    g = data_parallel_gradients(world_size=2, batch_size=16, d_norm="batch")
    assert (g["data_parallel"] - g["one_process"]).abs().max() > 1e-3


def test_each_process_takes_its_shard_of_the_same_epoch():
    data = torch.arange(64, dtype=torch.float32)[:, None, None, None].expand(64, 1, 28, 28)
    cfg = default_config("dcgan", "fashion-mnist", batch_size=8)
    one = Trainer(default_config("dcgan", "fashion-mnist", batch_size=16), device="cpu", data=data)
    ranks = []
    for rank in (0, 1):
        tr = Trainer(cfg, device="cpu", data=data)
        tr.distributed = Distributed(rank=rank, world_size=2, local_rank=rank, backend="gloo")
        ranks.append(tr)
    for _ in range(6):  # past the end of an epoch (64 / 16 = 4 batches)
        whole = one.real_batch()[:, 0, 0, 0]
        parts = [tr.real_batch()[:, 0, 0, 0] for tr in ranks]
        assert torch.equal(torch.cat(parts), whole)
    # each process draws its own noise; rank 0 draws what one process draws
    n0 = torch.Generator().manual_seed(cfg.seed + 1)
    assert torch.equal(
        ranks[0].family.latent(4, n0),
        one.family.latent(4, torch.Generator().manual_seed(cfg.seed + 1)),
    )


def test_a_parameter_no_process_gave_a_gradient_is_not_moved(tmp_path):
    """Averaging keeps a missing gradient missing: as zeros, Adam's momentum from earlier
    steps moved a parameter that no loss of this step reached (a world of one process: the
    average is the identity, so the result must equal the optimizer without any exchange)."""
    import torch.distributed as dist

    from gannotes.parallel import all_reduce_gradients

    def run(exchange: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        a, b = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
        opt = torch.optim.Adam([*a.parameters(), *b.parameters()], lr=0.1)
        x = torch.randn(8, 3)
        for through_b in (True, False):  # the second loss does not reach b
            opt.zero_grad(set_to_none=True)
            loss = b(a(x)).square().mean() if through_b else a(x).square().mean()
            loss.backward()
            if exchange:
                all_reduce_gradients(opt)
            opt.step()
        return [p.detach().clone() for p in (*a.parameters(), *b.parameters())]

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1)
    try:
        exchanged = run(True)
    finally:
        dist.destroy_process_group()
    for got, want in zip(exchanged, run(False), strict=True):
        assert torch.equal(got, want)


def _torchrun(*args, nproc=2):
    return torchrun(nproc, *args, timeout=300)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_torchrun_trains_resumes_exactly_and_samples(tmp_path, run_cli):
    train = ("train", "dcgan", "--dataset", "fashion-mnist", "--quiet")
    r = _torchrun(*train, "--steps", "8", "--out", tmp_path / "half")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 processes (gloo)" in r.stderr
    assert sorted(p.name for p in (tmp_path / "half").iterdir()) == [
        "checkpoint.pt", "history.json", "run.json", "samples.png",
    ]  # fmt: skip
    r = _torchrun(*train, "--steps", "16", "--out", tmp_path / "half", "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "from step 8" in r.stderr and "trained to step 16" in r.stdout
    r = _torchrun(*train, "--steps", "16", "--out", tmp_path / "straight")
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = load_family(tmp_path / "half"), load_family(tmp_path / "straight")
    for (name, x), y in zip(
        a.networks["G"].state_dict().items(), b.networks["G"].state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    state = torch.load(tmp_path / "half" / "checkpoint.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    r = run_cli("sample", tmp_path / "half", "--n", "8", "--out", tmp_path / "s.npy")
    assert r.returncode == 0, r.stderr
    # the history counts both processes' images; resuming in one process is refused
    shutil.copytree(tmp_path / "half", tmp_path / "copy")
    r = run_cli(*train, "--steps", "20", "--out", tmp_path / "copy", "--resume")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "trained with 2 process(es), this is 1" in r.stderr


def test_shutdown_waits_for_the_others_unless_told_not_to(monkeypatch):
    """On a normal exit every process passes a barrier before tearing gloo down (a process that
    left while another's last collective was in flight aborted); after an error it does not
    wait, since the others may never arrive."""
    import torch.distributed as dist

    from gannotes import parallel

    calls = []
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    parallel.shutdown()
    assert calls == ["barrier", "destroy"]
    calls.clear()
    parallel.shutdown(wait_for_others=False)
    assert calls == ["destroy"]


def test_exit_process_flushes_output_and_skips_finalization():
    """A worker's piped output is flushed before it leaves; atexit handlers (finalization) do
    not run; the exit status is the one given."""
    import subprocess
    import sys

    code = (
        "import atexit, sys\n"
        "from gannotes.parallel import exit_process\n"
        "atexit.register(lambda: print('finalized'))\n"
        "print('trained', end='')\n"
        "sys.stderr.write('wrote')\n"
        "exit_process(3)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (3, "trained", "wrote")
