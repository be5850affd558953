"""``teach``: the source model, with the source prompt, teaches a prompt for the target on unlabelled texts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.data.unlabelled import WritingSettings
from ..core.fields import default_of
from ..core.prompts.formats import FORMATS
from ..core.runs.teach_job import TeachJob
from ..core.training.teaching import TeachingSettings
from .common import TerminalEvents, add_command, add_setting, interrupt_cancels, num_words, run_options, run_settings

_TEACHING_FLAGS = {"steps": int, "learning_rate": float, "eval_every": int, "held_out": int}
"""The ``TeachingSettings`` fields teach has flags for, with their types."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    teach = add_command(
        commands, "teach", [common, run_options()], _cmd_teach,
        "teach a prompt for the target with the source model and prompt, on unlabelled texts",
        "The source model writes texts from the task template (or reads --texts), labels them with the source "
        "prompt (its distribution over the label words, no labels read), and a prompt on the target, started from "
        "the recommended recycler's prompt, learns to answer alike; texts held out pick the best prompt. Writes it "
        "like `recycle` does, then scores it on --test-size test examples.",
    )
    for name in ("source", "target", "prompt", "out"):
        add_setting(teach, TeachJob, name, required=True)
    add_setting(teach, TeachJob, "prompt_key", "--key")
    add_setting(teach, TeachJob, "format", choices=FORMATS, default=default_of(TeachJob, "format"))
    add_setting(teach, TeachJob, "test_size", type=int, default=default_of(TeachJob, "test_size"))
    for name, kind in _TEACHING_FLAGS.items():
        add_setting(teach, TeachingSettings, name, type=kind, default=default_of(TeachingSettings, name))
    add_setting(teach, TeachJob, "texts", metavar="FILE")
    add_setting(teach, TeachJob, "texts_column", metavar="COLUMN")
    add_setting(teach, WritingSettings, "count", "--write", type=int, default=default_of(WritingSettings, "count"))
    add_setting(teach, TeachJob, "offset", type=int, default=default_of(TeachJob, "offset"))
    add_setting(teach, TeachJob, "num_words", type=num_words, default=default_of(TeachJob, "num_words"))
    teach.add_argument("--no-bf16", dest="bf16", action="store_false", help="no bfloat16 autocast while training")


def teach_job_from_args(args: argparse.Namespace) -> TeachJob:
    """The teaching job the flags describe."""
    teaching = TeachingSettings(bf16=args.bf16, **{name: getattr(args, name) for name in _TEACHING_FLAGS})
    return TeachJob(
        **run_settings(args), source=args.source, target=args.target, prompt=args.prompt, prompt_key=args.prompt_key,
        out=str(args.out), format=args.format, test_size=args.test_size, texts=args.texts,
        texts_column=args.texts_column, writing=WritingSettings(count=args.count), teaching=teaching,
        offset=args.offset, num_words=args.num_words,
    )


def _cmd_teach(args: argparse.Namespace) -> int:
    from ..core.runs.teach_job import run_teach

    with interrupt_cancels() as cancel:
        result = run_teach(teach_job_from_args(args), events=TerminalEvents(), cancel=cancel)
    training = result.teaching.training
    if args.json:
        print(json.dumps({"command": "prompt-recycler " + " ".join(sys.argv[1:]), **result.summary()}, indent=2))
    else:
        test = "" if result.test is None else (
            f"; test accuracy {100 * result.test.accuracy:.1f}% (calibrated {100 * result.calibrated_accuracy:.1f}%) "
            f"on {result.test_examples} examples")
        print(f"{result.origin}; best agreement with the teacher {100 * training.best_value:.1f}% at step "
              f"{training.best_step}{test} -> {result.output}")
    return 0
