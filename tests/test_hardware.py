"""gannotes.hardware: cgroup CPU quotas, read from files laid out as the kernel writes them."""

import torch

from gannotes.hardware import cpu_quota, limit_threads


def test_cgroup_v2_quota(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    missing = (tmp_path / "no-quota", tmp_path / "no-period")
    cpu_max.write_text("100000 100000\n")
    assert cpu_quota(cpu_max, missing) == 1
    cpu_max.write_text("150000 100000\n")
    assert cpu_quota(cpu_max, missing) == 2  # 1.5 CPUs: round up
    cpu_max.write_text("max 100000\n")
    assert cpu_quota(cpu_max, missing) is None


def test_cgroup_v1_quota(tmp_path):
    quota, period = tmp_path / "cpu.cfs_quota_us", tmp_path / "cpu.cfs_period_us"
    period.write_text("100000\n")
    quota.write_text("200000\n")
    assert cpu_quota(tmp_path / "absent", (quota, period)) == 2
    quota.write_text("-1\n")
    assert cpu_quota(tmp_path / "absent", (quota, period)) is None
    assert cpu_quota(tmp_path / "absent", (tmp_path / "x", tmp_path / "y")) is None


def test_limit_threads_only_lowers(monkeypatch):
    import gannotes.hardware as hardware

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(hardware, "cpu_quota", lambda: 1)
        torch.set_num_threads(2)
        assert limit_threads() == 1
        monkeypatch.setattr(hardware, "cpu_quota", lambda: 64)
        torch.set_num_threads(1)
        assert limit_threads() == 1  # never raised
    finally:
        torch.set_num_threads(before)
