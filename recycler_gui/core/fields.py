"""Settings dataclasses whose fields carry their own help, so the CLI and the window read defaults from one place.

A field declared ``eval_size: int = setting(200, "test examples scored per prompt")`` holds its default and its help;
``default_of(Job, "eval_size")`` gives the default (the window's spin boxes start there) and
``help_of(Job, "eval_size")`` the help with the default appended (the CLI's ``--eval-size`` help).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import MISSING, Field, field, fields, is_dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from .errors import SettingsError

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


def check_types(settings: Any) -> None:
    """Raise ``SettingsError`` naming the first field of the dataclass ``settings`` whose value is not of its type.

    Flags and widgets give the right types; job files are free text (``eval_size: "abc"``, ``methods =
    "procrustes"``), so every settings class checks its types here before its ranges. Nested settings are checked
    by their own ``check``.
    """
    hints = get_type_hints(type(settings))
    for found in fields(settings):
        value, wanted = getattr(settings, found.name), hints[found.name]
        if isinstance(value, float) and not math.isfinite(value):  # --learning-rate nan trained on, or crashed late
            raise SettingsError(f"the setting {found.name} ({flag_of(found.name)}) is {value}, not a finite number",
                                f"give {flag_of(found.name)} a number such as {default_of(type(settings), found.name)}")
        if is_dataclass(wanted) or _matches(value, wanted):
            continue
        if isinstance(value, str) and get_origin(wanted) is list:
            example = f", a list even for one: {json.dumps([value])}"
        else:
            default = default_of(type(settings), found.name)
            example = "" if default in (MISSING, None) else f", e.g. {json.dumps(default)}"
        raise SettingsError(f"the setting {found.name} is {_shown(value)}, {_kind(value)}, not {_describe(wanted)}",
                            f"give {found.name} as {_describe(wanted)}{example}")


FLAGS: dict[str, str] = {}
"""The settings whose command-line flag is not ``--name-with-dashes`` (``count`` is ``teach --write``): the CLI notes
each as it registers it, so messages name the flag the user typed."""


def flag_of(name: str) -> str:
    """The command-line flag of setting ``name``."""
    return FLAGS.get(name, f"--{name.replace('_', '-')}")


def at_least(settings: Any, name: str, low: int, what: str = "") -> None:
    """Raise ``SettingsError`` when setting ``name`` is below ``low`` (``what`` says what it counts)."""
    value = getattr(settings, name)
    if value < low:
        flag = flag_of(name)
        counts = f", {what}" if what else ""
        raise SettingsError(f"the setting {name} ({flag}{counts}) must be {low} or more, not {value}",
                            f"give {flag} a value of {low} or more")


def _matches(value: Any, wanted: Any) -> bool:
    origin, args = get_origin(wanted), get_args(wanted)
    if wanted is Any:
        return True
    if origin in (Union, UnionType):
        return any(_matches(value, arg) for arg in args)
    if wanted in (int, float) and isinstance(value, bool):
        return False
    if wanted is float:
        return isinstance(value, int | float)
    if origin is list:
        return isinstance(value, list) and all(_matches(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    return isinstance(value, origin or wanted)


_NAMES = {int: "a whole number", float: "a number", str: "a text", bool: "true or false", type(None): "nothing"}
_PLURALS = {int: "whole numbers", float: "numbers", str: "texts"}


def _describe(wanted: Any) -> str:
    origin, args = get_origin(wanted), get_args(wanted)
    if origin in (Union, UnionType):
        given = [arg for arg in args if arg is not type(None)]
        return " or ".join(_describe(arg) for arg in given) + (" (or left out)" if len(given) < len(args) else "")
    if origin is list:
        return f"a list of {_PLURALS.get(args[0], 'values')}"
    if origin is dict:
        return "a table of settings"
    return _NAMES.get(wanted, getattr(wanted, "__name__", str(wanted)))


def _kind(value: Any) -> str:
    for kind in (bool, int, float, str, type(None)):
        if isinstance(value, kind):
            return _NAMES[kind] if kind is not bool else "a true/false value"
    return {list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
