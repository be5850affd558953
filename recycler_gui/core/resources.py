"""Files shipped with Prompt Recycler besides code: the app icons and the source prompts tuned by `bench/`.

In a source checkout they live in the top-level ``resources/`` folder; an installed wheel carries the same folder as
``recycler_gui/resources`` (pyproject maps one onto the other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent.parent


def resource_root() -> Path:
    """The folder holding ``icons/`` and ``prompts/``: the installed package's copy, else the checkout's."""
    for candidate in (_PACKAGE / "resources", _PACKAGE.parent / "resources"):
        if (candidate / "icons").is_dir():
            return candidate
    return _PACKAGE / "resources"


def resource_path(*parts: str) -> Path | None:
    """A shipped file or folder, or None when this installation lacks it."""
    path = resource_root().joinpath(*parts)
    return path if path.exists() else None


@dataclass(frozen=True)
class ShippedPrompt:
    """A source prompt tuned with our own `tune` command, with the record of how (command, seed, accuracy)."""

    name: str
    path: Path
    record: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.record.get("model", ""))

    def describe(self) -> str:
        r = self.record
        test = r.get("test_accuracy")
        accuracy = f", test accuracy {100 * test:.1f}%" if isinstance(test, int | float) else ""
        return f"{self.name}: tuned on {self.model} ({r.get('steps', '?')} steps, seed {r.get('seed', '?')}{accuracy})"


def shipped_prompts(model: str | None = None) -> list[ShippedPrompt]:
    """The shipped source prompts (optionally only those tuned on ``model``), by name."""
    folder = resource_root() / "prompts"
    found = []
    for record_file in sorted(folder.glob("*/record.json")):
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        prompt = ShippedPrompt(record_file.parent.name, record_file.parent, record)
        if model is None or prompt.model == model:
            found.append(prompt)
    return found
