"""``tune``: train a soft prompt on a frozen model (a source prompt to recycle, or a bound to recycle towards)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.fields import default_of
from ..core.prompts.formats import FORMATS
from ..core.runs.tune_job import TuneJob
from ..core.training.tuning import WARM_START_LR, TuningSettings
from .common import TerminalEvents, add_command, add_setting, interrupt_cancels, run_options, run_settings

_TUNING_FLAGS = {
    "steps": int, "prompt_length": int, "learning_rate": float, "eval_every": int, "eval_size": int, "patience": int,
    "init": str,
}
"""The ``TuningSettings`` fields tune has flags for, with their types (batch size and seed are run settings)."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    tune = add_command(
        commands, "tune", [common, run_options()], _cmd_tune,
        "tune a soft prompt on a frozen model",
        "Trains only the prompt rows (Adam), evaluates on the dev split every --eval-every steps, keeps the best "
        "prompt, scores it on the test split and writes it like `recycle` does.",
    )
    for name in ("model", "out"):
        add_setting(tune, TuneJob, name, required=True)
    add_setting(tune, TuneJob, "format", choices=FORMATS, default=default_of(TuneJob, "format"))
    add_setting(tune, TuneJob, "test_size", type=int, default=default_of(TuneJob, "test_size"))
    for name, kind in _TUNING_FLAGS.items():
        add_setting(tune, TuningSettings, name, type=kind, default=default_of(TuningSettings, name))
    add_setting(tune, TuningSettings, "max_norm", type=float, metavar="RATIO")
    add_setting(tune, TuneJob, "start")
    add_setting(tune, TuneJob, "start_key", "--key")
    tune.add_argument("--no-bf16", dest="bf16", action="store_false", help="no bfloat16 autocast while training")
    tune.add_argument("--no-warm-start", dest="warm_start", action="store_false",
                      help=f"tune a --start prompt with --learning-rate as given, not the warm-start rule "
                           f"({WARM_START_LR} of the start's typical size)")


def tune_job_from_args(args: argparse.Namespace) -> TuneJob:
    """The tuning job the flags describe."""
    tuning = TuningSettings(
        bf16=args.bf16, max_norm=args.max_norm, warm_start=args.warm_start,
        **{name: getattr(args, name) for name in _TUNING_FLAGS},
    )
    return TuneJob(
        **run_settings(args), model=args.model, out=str(args.out), format=args.format, start=args.start,
        start_key=args.start_key, test_size=args.test_size, tuning=tuning,
    )


def _cmd_tune(args: argparse.Namespace) -> int:
    from ..core.runs.tune_job import run_tune

    with interrupt_cancels() as cancel:
        result = run_tune(tune_job_from_args(args), events=TerminalEvents(), cancel=cancel)
    if args.json:
        print(json.dumps({"command": "prompt-recycler " + " ".join(sys.argv[1:]), **result.summary()}, indent=2))
    else:
        print(f"best dev accuracy {100 * result.tuning.best_accuracy:.1f}% at step {result.tuning.best_step}; "
              f"test accuracy {100 * result.test.accuracy:.1f}% on {result.test_examples} examples -> "
              f"{result.output}")
    return 0
