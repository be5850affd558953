"""Settings dataclasses whose fields carry their own help, so the CLI and the window read defaults from one place.

A field declared ``eval_size: int = setting(200, "test examples scored per prompt")`` holds its default and its help;
``default_of(Job, "eval_size")`` gives the default (the window's spin boxes start there) and
``help_of(Job, "eval_size")`` the help with the default appended (the CLI's ``--eval-size`` help).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, field, fields
from typing import Any

HELP = "help"


def setting(default: Any = MISSING, help: str = "", *, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with ``default`` (or ``factory`` for mutable defaults) and a one-line ``help``."""
    if factory is not None:
        return field(default_factory=factory, metadata={HELP: help})
    return field(default=default, metadata={HELP: help})


def same_as(cls: type, name: str) -> Any:
    """A field with the default and help of setting ``name`` of ``cls`` (one setting passed on to another)."""
    found = _field(cls, name)
    if found.default_factory is not MISSING:
        return setting(help=found.metadata.get(HELP, ""), factory=found.default_factory)
    return setting(found.default, found.metadata.get(HELP, ""))


def _field(cls: type, name: str) -> Field:
    return next(f for f in fields(cls) if f.name == name)


def default_of(cls: type, name: str) -> Any:
    """The default of setting ``name`` of the dataclass ``cls``."""
    found = _field(cls, name)
    return found.default_factory() if found.default_factory is not MISSING else found.default


def help_of(cls: type, name: str) -> str:
    """The help of setting ``name``, with its default when it has a plain one, e.g. ``... (default 200)``."""
    found = _field(cls, name)
    text = found.metadata.get(HELP, "")
    if found.default is MISSING or found.default is None or isinstance(found.default, bool):
        return text
    return f"{text} (default {found.default})"
