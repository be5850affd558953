"""``prompt-recycler doctor``: what this installation has, and whether the engine works end to end."""

from __future__ import annotations

import importlib
import platform
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("torch", "transformers", "peft", "safetensors", "sentencepiece", "gguf", "platformdirs", "pyqtgraph")


def run_checks() -> dict[str, Any]:
    """Run every check; ``ok`` is false when any fails."""
    checks = [
        _check("python", lambda: f"{platform.python_version()} on {platform.system()} {platform.machine()}"),
        *(_check(name, lambda name=name: _version(name)) for name in _PACKAGES),
        _check("Qt (PySide6)", _qt),
        _check("devices", _devices),
        _check("memory", _memory),
        _check("folders", _folders),
        _check("prompt files", _prompt_round_trip),
    ]
    return {"ok": all(check["ok"] for check in checks), "checks": checks}


def _check(name: str, probe: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"name": name, "ok": True, "detail": probe()}
    except Exception as error:
        return {"name": name, "ok": False, "detail": f"{type(error).__name__}: {error}"}


def _version(name: str) -> str:
    importlib.import_module(name)
    return metadata.version(name)


def _qt() -> str:
    qt_core = importlib.import_module("PySide6.QtCore")
    importlib.import_module("PySide6.QtWidgets")
    return f"PySide6 {metadata.version('PySide6-Essentials')}, Qt {qt_core.qVersion()}"


def _devices() -> str:
    from .core.models.devices import all_devices, describe_device

    return f"runs use {describe_device()}; found {', '.join(all_devices())}"


def _memory() -> str:
    from .core.models.devices import memory_in_use

    return f"this process: {memory_in_use()}"


def _folders() -> str:
    from .core.storage import cache_dir, data_dir

    return f"cache {cache_dir()}, data {data_dir()}"


def _prompt_round_trip() -> str:
    import torch

    from .core.prompts.formats import FORMATS, SoftPrompt, read_prompt, write_prompt

    prompt = SoftPrompt(torch.randn(4, 8))
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            path = write_prompt(prompt, Path(folder) / f"prompt.{fmt}", fmt)
            if not torch.equal(read_prompt(path).encoder, prompt.encoder):
                raise RuntimeError(f"{fmt} did not read back what was written")
    return f"{', '.join(FORMATS)} write and read back"
