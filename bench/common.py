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


NORM_VARIANTS = {"target": " · target norm", "keep": " · kept norm"}
"""Suffixes of benchmark rows that run a recycler with another row-length rule than its default: ``--norm target``
(rows rescaled to the target vocabulary's mean norm) or ``--norm keep`` (rows as mapped)."""


def other_norm(method_default: str) -> str:
    """The row-length rule a benchmark variant of a recycler uses: ``keep`` for one that rescales, else ``target``."""
    return "keep" if method_default == "target" else "target"


def base_label(label: str) -> str:
    """The recycler name of a benchmark row label (``procrustes · kept norm`` -> ``procrustes``)."""
    for suffix in NORM_VARIANTS.values():
        label = label.removesuffix(suffix)
    return label


def method_and_params(label: str) -> tuple[str, dict[str, dict[str, str]]]:
    """The recycler name and ``recycle`` params behind a benchmark row label such as ``v2v-lin · target norm``."""
    for norm, suffix in NORM_VARIANTS.items():
        if label.endswith(suffix):
            method = label.removesuffix(suffix)
            return method, {method: {"norm": norm}}
    return label, {}
