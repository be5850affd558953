"""``prompt-recycler``: the command-line shell over the engine.

Every user error prints one line and exits with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..core.errors import RecyclerError, is_out_of_memory
from ..core.events import Cancelled
from . import compare, data, demo, describe, doctor, models, recycle, runs, teach, tune
from .common import EXIT_BROKEN_PIPE, EXIT_CANCELLED, EXIT_INTERNAL_ERROR, EXIT_USER_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except Cancelled as cancelled:
        print(f"cancelled: {cancelled.fix[:1].lower()}{cancelled.fix[1:]}" if cancelled.fix else "cancelled",
              file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # the reader went away (`| head`, `| grep -q`): stop quietly, as other tools do
        with contextlib.suppress(OSError, ValueError):  # no more writes to the closed pipe at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        if isinstance(error, RecyclerError):
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USER_ERROR
        if is_out_of_memory(error):
            print("error: out of memory. Use a smaller --eval-size or --batch-size, --dtype bfloat16, or a smaller "
                  "model.", file=sys.stderr)
            return EXIT_USER_ERROR
        if not args.debug:
            print(
                f"internal error: {type(error).__name__}: {error} (this is a bug in Prompt Recycler; rerun with "
                "--debug for the traceback and report it)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL_ERROR


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one line naming it and where the help is, like every other error (argparse adds its usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {message}. See {self.prog} --help.\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    debug_help = "show the full traceback on errors"
    common = argparse.ArgumentParser(add_help=False)  # a command's --debug leaves one given before the command alone
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    parser = OneLineParser(
        prog="prompt-recycler",
        description="Carry a trained soft prompt from one language model to another without re-training it.",
    )
    parser.add_argument("--debug", action="store_true", help=debug_help)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (demo, recycle, compare, tune, teach, runs, describe, doctor, data, models):
        module.register(commands, common)
    return parser
