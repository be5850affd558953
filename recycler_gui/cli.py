"""``prompt-recycler``: the command-line shell over the engine.

Every user error prints one line and exits with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .core.errors import RecyclerError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_CANCELLED = 130

INSPECT_KEYS = """\
JSON keys for a prompt:
  kind ("prompt"), path, format (peft|npy|safetensors|pt), key (tensor used), num_tokens (rows per half),
  dim (row width), halves (1, or 2 for seq2seq adapters with decoder rows), rows (num_tokens * halves),
  task_type (PEFT task type or null), source_model, task, init (null when the file does not say),
  row_norm_mean, row_norm_max
JSON keys for a checkpoint:
  kind ("checkpoint"), reference (as given), path (local folder read), read_from (folder|hf-cache|gguf),
  family (decoder-only|encoder-decoder), architecture, model_type, hidden_size, vocab_size,
  embedding_scale (factor the embedding layer applies, e.g. sqrt(hidden) for Gemma), tied_embeddings, parameters

"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except RecyclerError as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"internal error: {type(error).__name__}: {error} (this is a bug in Prompt Recycler; rerun with "
                "--debug for the traceback and report it)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser = argparse.ArgumentParser(
        prog="prompt-recycler",
        description="Carry a trained soft prompt from one language model to another without re-training it.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    inspect = _add_command(
        commands, "inspect", common, _cmd_inspect,
        "describe a prompt file or a model checkpoint",
        "PATH may be a prompt (PEFT adapter folder, .npy, safetensors, .pt) or a checkpoint (model folder, .gguf "
        "file, or a model id in the local Hugging Face cache).",
        epilog=INSPECT_KEYS,
    )
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--key", help="tensor to use when a safetensors / .pt file holds several")
    inspect.add_argument("--json", action="store_true", help="print one JSON object (keys below)")

    doctor = _add_command(
        commands, "doctor", common, _cmd_doctor,
        "check the installation: versions, devices, Qt, folders",
        "Prints what Prompt Recycler finds on this machine and exits non-zero when something it needs is missing.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _add_command(
    commands: Any, name: str, common: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int],
    summary: str, description: str, epilog: str | None = None,
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name, parents=[common], help=summary, description=f"{summary[0].upper()}{summary[1:]}. {description}",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(handler=handler)
    return command


def describe_path(path: str, key: str | None = None) -> dict[str, Any]:
    """Describe ``path`` as a prompt or as a checkpoint, whichever it is."""
    from .core.checkpoints import is_gguf, open_checkpoint
    from .core.prompts import PEFT_CONFIG, describe_prompt, read_prompt

    candidate = Path(path).expanduser()
    is_prompt = (candidate.is_dir() and (candidate / PEFT_CONFIG).is_file()) or (
        candidate.is_file() and candidate.name != "config.json" and not is_gguf(candidate)
    )
    if is_prompt:
        return describe_prompt(read_prompt(candidate, key=key))
    return open_checkpoint(path).describe()


def _cmd_inspect(args: argparse.Namespace) -> int:
    info = describe_path(args.path, args.key)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_fields(info))
    return 0


def format_fields(info: dict[str, Any]) -> str:
    """Aligned ``key: value`` lines for people."""
    width = max(len(key) for key in info)
    lines = []
    for key, value in info.items():
        if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
            value = f"{value:,}"
        lines.append(f"{key.replace('_', ' '):>{width}}: {'-' if value is None else value}")
    return "\n".join(lines)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_checks

    report = run_checks()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            mark = "ok " if check["ok"] else "ERR"
            print(f"[{mark}] {check['name']}: {check['detail']}")
        print("all good" if report["ok"] else "some checks failed: see the lines marked ERR")
    return 0 if report["ok"] else EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
