"""Describe any path the user may give: a prompt file or a model checkpoint, whichever it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .models.checkpoints import describe_reference, is_gguf
from .prompts.formats import PEFT_CONFIG, describe_prompt, read_prompt


def describe_path(path: str, key: str | None = None, download: bool | None = None) -> dict[str, Any]:
    """``describe_prompt`` for prompt files and adapter folders, ``describe_reference`` for models (``download``:
    may a Hub model's config be fetched; None lets ``PROMPT_RECYCLER_DOWNLOAD`` decide)."""
    candidate = Path(path).expanduser()
    is_prompt = (candidate.is_dir() and (candidate / PEFT_CONFIG).is_file()) or (
        candidate.is_file() and candidate.name != "config.json" and not is_gguf(candidate)
    )
    if is_prompt:
        return describe_prompt(read_prompt(candidate, key=key))
    return describe_reference(path, download=download)


def format_description(info: dict[str, Any]) -> str:
    """Aligned ``key: value`` lines for people."""
    width = max(len(key) for key in info)
    lines = []
    for key, value in info.items():
        if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
            value = f"{value:,}"
        lines.append(f"{key.replace('_', ' '):>{width}}: {'-' if value is None else value}")
    return "\n".join(lines)
