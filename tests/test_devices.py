"""The device a run uses and the memory it takes, as the status bar and `doctor` show them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recycler_gui.cli import main
from recycler_gui.core.models import devices
from recycler_gui.core.models.devices import MemoryUse


def test_the_cpu_is_described_with_its_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert devices.describe_device("cpu") == "CPU, 3 threads"


def test_resident_memory_is_read_from_proc(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n")
    assert devices._resident_bytes(status) == 123456 * 1024
    assert devices._resident_bytes(tmp_path / "absent") is None


def test_memory_in_use_grows_with_a_large_tensor() -> None:
    before = devices.memory_in_use()
    block = torch.ones(64 * 2**20, dtype=torch.uint8)  # 64 MiB, touched
    after = devices.memory_in_use()
    assert before.resident and after.resident
    assert after.resident - before.resident > 48 * 2**20
    del block


def test_memory_reads_for_people() -> None:
    assert str(MemoryUse(int(1.5 * 2**30))) == "RAM 1.5 GiB"
    on_gpu = MemoryUse(300 * 2**20, gpu_held=2 * 2**30, gpu_total=80 * 2**30)
    assert str(on_gpu) == "RAM 300 MiB, GPU 2.0 GiB of 80.0 GiB"
    assert str(MemoryUse(2**30, resident_is_peak=True)) == "RAM peak 1.0 GiB"


def test_the_gpu_is_not_started_just_to_read_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert devices.memory_in_use().gpu_held is None


def test_a_model_larger_than_the_free_gpu_memory_is_spread_with_a_device_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 2**30, 16 * 2**30))
    cuda = torch.device("cuda")
    assert devices.device_map_for(cuda, 4 * 2**30) is None
    assert devices.device_map_for(cuda, 12 * 2**30) == "auto"
    assert devices.device_map_for(torch.device("cpu"), 10**15) is None


def test_doctor_prints_the_device_and_the_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    checks = {check["name"]: check["detail"] for check in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["devices"].startswith(f"runs use {devices.describe_device()}")
    assert checks["memory"].startswith("this process: RAM ")
