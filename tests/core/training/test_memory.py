"""Every training run reports its peak memory: the process's resident peak, and CUDA's when used."""

from __future__ import annotations

import sys

import pytest

from core.training.memory import PeakMemory, peak_memory


def test_describe_names_resident_and_cuda_peaks():
    assert PeakMemory(5_100_000_000).describe() == "peak memory: 5.1 GB resident"
    assert PeakMemory(5_100_000_000, 2_340_000_000).describe() == "peak memory: 5.1 GB resident, 2.3 GB CUDA"
    assert PeakMemory(None).describe() == "peak memory: resident unknown"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_resident_peak_is_about_what_is_resident_now_or_more():
    with open("/proc/self/status") as status:
        now_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    peak = peak_memory()
    assert peak.resident_bytes is not None
    assert peak.resident_bytes >= 0.95 * now_kib * 1024  # the kernel updates the peak lazily: a little behind is fine


def test_the_cuda_peak_is_that_of_the_device_the_run_used_not_the_current_one(monkeypatch):
    """``--device cuda:1`` trains on the second GPU while the current device stays 0: the line said 0.0 GB CUDA."""
    import torch

    peaks = {0: 0, 1: 2_340_000_000}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: peaks[0 if device is None else int(device)])
    assert peak_memory().cuda_bytes == 2_340_000_000
    assert peak_memory().describe().endswith(", 2.3 GB CUDA")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/clear_refs")
def test_each_run_in_one_process_reports_its_own_peak(tmp_path, monkeypatch):
    """``train --splits 1,2,3`` (and the ablation's variants) run one after another in one process: the second split
    printed the first one's peak when it was higher.  Each train() now starts the peaks afresh."""
    import numpy as np

    from core.training import memory
    from core.training.memory import reset_peaks

    big = np.ones(400_000_000 // 8)  # 400 MB resident, then freed
    del big
    before = peak_memory().resident_bytes
    reset_peaks()
    after = peak_memory().resident_bytes
    assert after < before - 300_000_000

    import core.training.run as run

    calls = []
    monkeypatch.setattr(memory, "reset_peaks", lambda: calls.append(1))
    monkeypatch.setattr(run, "family", lambda name: pytest.fail("reached the trainer") if not calls else (_ for _ in ()).throw(KeyError(name)))
    from core.training import TrainSettings

    with pytest.raises(KeyError):
        run.train(tmp_path, TrainSettings(), tmp_path / "m.safetensors")
    assert calls == [1]  # before the trainer started
