"""What every command shares: how subcommands are declared, exit codes, and terminal output."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from typing import Any, TextIO

from ..core.data.tasks import unescape_template
from ..core.events import (
    FIT_LOSS_SERIES,
    TEACH_SERIES,
    CancelToken,
    Event,
    Log,
    Point,
    Progress,
    Result,
    Stage,
    describe_progress,
)
from ..core.fields import FLAGS, help_of
from ..core.models.devices import DTYPES
from ..core.runs.settings import RunSettings

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_CANCELLED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a tool killed by a closed pipe reports


def add_command(
    commands: Any, name: str, parents: argparse.ArgumentParser | Sequence[argparse.ArgumentParser],
    handler: Callable[[argparse.Namespace], int], summary: str, description: str, epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Declare subcommand ``name`` that runs ``handler(args)``, with the options of ``parents``."""
    parents = [parents] if isinstance(parents, argparse.ArgumentParser) else list(parents)
    command = commands.add_parser(
        name, parents=parents, help=summary, description=f"{summary[0].upper()}{summary[1:]}. {description}",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(handler=handler)
    return command


@contextlib.contextmanager
def interrupt_cancels() -> Iterator[CancelToken]:
    """A cancel token the first Ctrl-C sets: the command stops at its next step and keeps what it can (a stored run's
    finished rows, teaching's best prompt so far). A second Ctrl-C stops at once."""
    token = CancelToken()

    def interrupted(signum: int, frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        print("\ncancelling at the next step (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield token
        return
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)


def add_setting(parser: argparse.ArgumentParser, cls: type, name: str, *flags: str, **options: Any) -> None:
    """An option for field ``name`` of the settings dataclass ``cls``, with the field's help and default in its help
    (``--name-with-dashes`` unless ``flags`` are given)."""
    if flags:
        FLAGS[name] = flags[0]  # so that messages about the setting name this flag
    flags = flags or (f"--{name.replace('_', '-')}",)
    parser.add_argument(*flags, dest=name, help=options.pop("help", None) or help_of(cls, name), **options)


def run_options() -> argparse.ArgumentParser:
    """The options of every command that runs models on a task: one per ``RunSettings`` field, and --json."""
    options = argparse.ArgumentParser(add_help=False)
    for name in ("task", "text_column", "label_column", "template", "device"):
        add_setting(options, RunSettings, name)
    add_download_option(options)
    add_setting(options, RunSettings, "label_words", metavar="WORDS")
    add_setting(options, RunSettings, "dtype", choices=["auto", *DTYPES])
    for name in ("seed", "batch_size"):
        add_setting(options, RunSettings, name, type=int)
    options.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return options


def add_download_option(parser: argparse.ArgumentParser) -> None:
    """``--download``: fetch Hub models missing from the cache (not given: the environment decides; offline)."""
    add_setting(parser, RunSettings, "download", action="store_const", const=True)


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings given as flags; those not given are left out, so that defaults or a job file apply."""
    values = {f.name: getattr(args, f.name) for f in fields(RunSettings) if getattr(args, f.name) is not None}
    if "template" in values:
        values["template"] = unescape_template(values["template"])
    return values


def num_words(text: str) -> int | None:
    """``--num-words``: a positive number or ``all``."""
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a positive number or 'all'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive number or 'all'")
    return value


class TerminalEvents:
    """Engine events as terminal lines on stderr: stages, on a terminal a progress bar with the time left (and for
    downloads MB and the rate), logs, results."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.stage: Stage | None = None
        self.started = time.monotonic()
        self.bar_drawn = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Stage):
            self._end_bar()
            self.stage, self.started = event, time.monotonic()
            self._line(f"» {event.name}")
        elif isinstance(event, Progress):
            self._bar(event.done, event.total)
        elif isinstance(event, Log):
            self._end_bar()
            self._line(f"  {event.text}")
        elif isinstance(event, Result):
            self._end_bar()
            row = event.row
            self._line(f"  = {row.name}: accuracy {100 * (row.accuracy or 0):.1f}% on {row.model or '?'}")
        elif isinstance(event, Point) and not event.series.startswith(FIT_LOSS_SERIES):
            self._end_bar()
            what = "agreement with the teacher" if event.series.startswith(TEACH_SERIES) else "dev accuracy"
            self._line(f"  {event.series}: step {event.x:g}, {what} {100 * event.y:.1f}%")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _bar(self, done: int, total: int | None) -> None:
        total = total or (self.stage.total if self.stage else None)
        if not self.live or not total or self.stage is None:
            return
        filled = min(30, int(30 * done / total))
        text = describe_progress(self.stage, done, time.monotonic() - self.started, total)
        self.stream.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {text}\x1b[K")
        self.stream.flush()
        self.bar_drawn = True

    def _end_bar(self) -> None:
        if self.bar_drawn:
            self.stream.write("\n")
            self.bar_drawn = False


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with columns padded to their widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(f"{cell:<{width}}" for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(f"{cell!s:<{width}}" for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
