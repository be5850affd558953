"""Where a model runs and what it takes: the device and dtype a run uses, and the memory in use now.

``auto`` picks CUDA, then Apple MPS, then the CPU. A model larger than the free memory of the chosen GPU is loaded
with accelerate's ``device_map="auto"``: its layers are spread over every visible GPU, then CPU memory, and outputs
come back to the first device. The window's status bar and ``doctor`` show ``describe_device`` and ``memory_in_use``.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
FREE_MEMORY_SHARE = 0.9
"""A model whose weights take more than this share of the GPU's free memory is spread with a device map."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise CheckpointError(f"unknown device {name!r}", "use auto, cpu, cuda, cuda:N or mps") from error
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise CheckpointError(f"the device {name!r} is not available on this machine", "use --device auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise CheckpointError(f"the device {name!r} is not available: this machine's GPUs are cuda:0 to "
                              f"cuda:{torch.cuda.device_count() - 1}", "use --device cuda or auto")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on CUDA devices that support it and float32 elsewhere."""
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if name not in DTYPES:
        raise CheckpointError(f"unknown dtype {name!r}", f"use auto or one of {', '.join(DTYPES)}")
    return DTYPES[name]


def device_map_for(device: torch.device, weight_bytes: int) -> str | None:
    """``"auto"`` (accelerate spreads the layers) when the weights do not fit the GPU's free memory, else None."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return "auto" if weight_bytes > FREE_MEMORY_SHARE * free else None


def describe_device(name: str = "auto") -> str:
    """What a run on ``name`` uses, for people: ``CPU, 2 threads`` or ``NVIDIA H100 80GB HBM3, 79.1 GiB (cuda:0)``."""
    device = resolve_device(name)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        others = torch.cuda.device_count() - 1
        more = f", {others} more GPU{'s' if others > 1 else ''}" if others else ""
        return f"{properties.name}, {properties.total_memory / 2**30:.1f} GiB (cuda:{index}){more}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU, {torch.get_num_threads()} threads"


def all_devices() -> list[str]:
    """Every device this machine offers, for ``doctor``."""
    found = [f"cpu ({os.cpu_count()} cores, torch uses {torch.get_num_threads()} threads)"]
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        properties = torch.cuda.get_device_properties(index)
        found.append(f"cuda:{index} ({properties.name}, {properties.total_memory / 2**30:.1f} GiB)")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


@dataclass(frozen=True)
class MemoryUse:
    """This process's memory: resident (RAM) and, once it uses CUDA, what it holds on the GPUs and their size."""

    resident: int | None
    resident_is_peak: bool = False
    gpu_held: int | None = None
    gpu_total: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.resident is not None:
            parts.append(f"RAM {'peak ' if self.resident_is_peak else ''}{_gib(self.resident)}")
        if self.gpu_held is not None:
            parts.append(f"GPU {_gib(self.gpu_held)} of {_gib(self.gpu_total or 0)}")
        return ", ".join(parts) or "memory use unknown"


def memory_in_use() -> MemoryUse:
    """Resident memory now (Linux ``/proc``; elsewhere the peak) and, when CUDA is in use, the GPU memory held."""
    resident, peak = _resident_bytes(), False
    if resident is None:
        resident, peak = _peak_resident_bytes(), True
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():  # never start CUDA just to look
        return MemoryUse(resident, peak)
    count = torch.cuda.device_count()
    held = sum(torch.cuda.memory_reserved(index) for index in range(count))
    total = sum(torch.cuda.get_device_properties(index).total_memory for index in range(count))
    return MemoryUse(resident, peak, held, total)


def _resident_bytes(status: Path = Path("/proc/self/status")) -> int | None:
    try:
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _peak_resident_bytes() -> int | None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kilobytes elsewhere


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"
