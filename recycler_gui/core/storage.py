"""Where Prompt Recycler keeps its files, and how it writes them without ever leaving half a file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import platformdirs

from .errors import OverwriteError

APP_NAME = "prompt-recycler"


def cache_dir() -> Path:
    """User cache folder (converted GGUF checkpoints, fitted recyclers); ``PROMPT_RECYCLER_CACHE`` overrides it."""
    override = os.environ.get("PROMPT_RECYCLER_CACHE")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    """User data folder (run history); ``PROMPT_RECYCLER_DATA`` overrides it."""
    override = os.environ.get("PROMPT_RECYCLER_DATA")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def ensure_not_input(target: Path, inputs: Iterable[Path]) -> None:
    """Refuse a write to ``target`` when it is, holds or lies inside one of the user's input paths."""
    resolved = target.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if resolved == source or source.is_relative_to(resolved) or resolved.is_relative_to(source):
            raise OverwriteError(
                f"refusing to write {target}: it would overwrite the input {given}",
                "choose another output path",
            )


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)


def write_text_atomic(target: Path, text: str) -> None:
    """Write a text file atomically."""
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
