"""Shared helpers of the benchmark scripts: the machine line and replacing one section of docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"


def machine_line() -> str:
    """What ran the benchmark: CPU, threads and library versions."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return (f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {device}; "
            f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}.")


def save_json(name: str, data: Any) -> Path:
    """Write raw results to ``bench/results/NAME``."""
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def write_section(title: str, body: list[str]) -> None:
    """Replace (or append) the ``## title`` section of docs/BENCHMARKS.md with ``body``."""
    section = "\n".join([f"## {title}", "", *body]).rstrip("\n") + "\n"
    text = (BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists()
            else "# Benchmarks\n\nEach section names the command that made it.\n\n")
    start = text.find(f"## {title}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS_MD.write_text(text)


TARGET_NORM = " · target norm"
"""Suffix of a benchmark row that is a recycler run with ``--norm target`` (rows rescaled to the target vocabulary's
mean norm), where that is not the recycler's own default."""


def method_and_params(label: str) -> tuple[str, dict[str, dict[str, str]]]:
    """The recycler name and ``recycle`` params behind a benchmark row label such as ``procrustes · target norm``."""
    if label.endswith(TARGET_NORM):
        method = label.removesuffix(TARGET_NORM)
        return method, {method: {"norm": "target"}}
    return label, {}
