"""``compare``: recycle a prompt and score it on the target beside baselines and re-tuned prompts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.batch_report import BatchReport
from ..core.evaluation.baselines import BASELINES
from ..core.fields import help_of
from ..core.report import CANCELLED, FINISHED, RETUNE_STARTS, Report, shown_columns
from ..core.runs.pipeline import Job
from ..core.runs.settings import JobError
from ..core.transfer.recyclers import RECYCLERS
from .common import (
    EXIT_CANCELLED,
    TerminalEvents,
    add_command,
    add_setting,
    format_table,
    interrupt_cancels,
    num_words,
    run_options,
    run_settings,
)

COMPARE_EPILOG = """\
A job file (--job, JSON or TOML) holds the same settings by their long names with underscores (source, target,
prompt, task, methods, baselines, retune_steps, eval_size, ...); flags given on the command line override it.

Rows: each baseline (no-prompt; random: mean of 3 seeds; class-label), each recycled prompt, the taught prompt (with
--teach: the source model teaches a target prompt on unlabelled texts, reported apart), the prompts re-tuned on the
target (with --retune-steps), and the source prompt on the source model. For a recycled or taught prompt:
  vs best baseline  accuracy minus the best baseline's accuracy
  success           beats every baseline
  significant       beats the best baseline by an exact McNemar test at 95% on the same examples
  gap closed        share of the way from the best baseline to the prompt re-tuned from scratch
Every row also gets AUC and a calibrated accuracy (the label bias measured on content-free inputs divided out).

Each run is stored under the user data folder (see `prompt-recycler runs`) as it goes; --json prints the report.

Many prompts: repeat --prompt or give a folder of prompts. Each prompt gets its comparison (stored as a run of its
own; the models are loaded once), then a table with a line per method: each prompt's accuracy (✓ when it beats
every baseline), successes, success rate and mean gap closed, as the paper reports them.
"""

_FLAGS = ("source", "target", "prompt", "prompt_key", "methods", "baselines", "retune_steps", "retune_from",
          "target_prompt", "few_shot", "eval_size", "offset", "num_words", "score_source", "teach_steps", "teach_texts",
          "teach_texts_column", "teach_write")
"""The Job fields compare has flags for, besides the run settings."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    compare = add_command(
        commands, "compare", [common, run_options()], _cmd_compare,
        "recycle a prompt and compare it on the target with baselines and re-tuning",
        "Recycles with each method, scores every recycled prompt and baseline on the target's test split, scores "
        "the source prompt on the source, and optionally re-tunes on the target.",
        COMPARE_EPILOG,
    )
    compare.add_argument("--job", type=Path, help="a JSON or TOML job file")
    for name in ("source", "target", "target_prompt"):
        add_setting(compare, Job, name)
    add_setting(compare, Job, "prompt", action="append", metavar="PROMPT",
                help=f"{help_of(Job, 'prompt')}; repeat it, or give a folder of prompts, to compare many prompts "
                     "at once (a comparison each, then success rate and mean gap closed per method)")
    add_setting(compare, Job, "prompt_key", "--key")
    add_setting(compare, Job, "methods", "--method", action="append", metavar="NAME",
                help=f"recycler, repeatable: {', '.join(RECYCLERS)} or all (default all)")
    add_setting(compare, Job, "baselines", "--baseline", action="append", metavar="NAME",
                help=f"baseline, repeatable: {', '.join(BASELINES)} or all (default all)")
    for name in ("retune_steps", "eval_size", "offset"):
        add_setting(compare, Job, name, type=int)
    add_setting(compare, Job, "few_shot", type=int, metavar="K")
    add_setting(compare, Job, "retune_from", action="append", choices=RETUNE_STARTS,
                help=f"{help_of(Job, 'retune_from')} (default all)")
    add_setting(compare, Job, "num_words", type=num_words)
    add_setting(compare, Job, "teach_steps", "--teach", type=int, metavar="STEPS")
    add_setting(compare, Job, "teach_texts", metavar="FILE")
    add_setting(compare, Job, "teach_texts_column", metavar="COLUMN")
    add_setting(compare, Job, "teach_write", type=int, metavar="N")
    compare.add_argument("--no-source", dest="score_source", action="store_false", default=None,
                         help="do not score the source prompt on the source model")


def job_from_args(args: argparse.Namespace) -> tuple[Job, list[str]]:
    """The job file's settings (if any) overridden by the flags given, and every prompt to compare (a folder of
    prompts stands for the prompts in it); the job holds the first."""
    from ..core.runs.batch import expand_prompts

    values: dict[str, Any] = Job.from_file(args.job).as_dict() if args.job else {}
    values.update(run_settings(args))
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    missing = [flag for flag in ("source", "target", "prompt") if not values.get(flag)]
    if missing:
        raise JobError(f"no {', '.join('--' + m for m in missing)} given", "name them as flags or in a --job file")
    given = values["prompt"]
    prompts = expand_prompts(given if isinstance(given, list) else [given])
    return Job.from_dict({**values, "prompt": prompts[0]}), prompts


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..core.runs.batch import run_batch
    from ..core.runs.pipeline import run

    job, prompts = job_from_args(args)
    with interrupt_cancels() as cancel:
        if len(prompts) > 1:
            return print_batch(run_batch(job, prompts, events=TerminalEvents(), cancel=cancel), args.json)
        return print_report(run(job, events=TerminalEvents(), cancel=cancel), args.json)


def print_batch(batch: BatchReport, as_json: bool) -> int:
    """Print a batch of prompts as the paper's table (or JSON); return the exit code."""
    if as_json:
        print(batch.to_json())
    else:
        headers, lines = batch.table()
        print(format_table(headers, lines))
        if batch.success_rate is not None:
            print(f"recycled successfully (beats every baseline): {100 * batch.success_rate:.0f}% of prompt × "
                  "recycler pairs")
        print(f"batch stored in {batch.path} (each prompt's run on its own: prompt-recycler runs)")
    if batch.status == CANCELLED:
        print("cancelled: the prompts above finished and are stored", file=sys.stderr)
        return EXIT_CANCELLED
    return 0


def print_report(report: Report, as_json: bool) -> int:
    """Print a finished or cancelled comparison as a table (or JSON); return the exit code."""
    print(report.to_json() if as_json else report_table(report))
    if report.status == CANCELLED:
        print("cancelled: the rows above finished and are stored", file=sys.stderr)
        return EXIT_CANCELLED
    return 0


def report_table(report: Report) -> str:
    """The comparison table (the window's columns) and its summary lines."""
    columns = shown_columns(report.rows)
    lines = [format_table([c.title for c in columns], [[c.text(row) for c in columns] for row in report.rows])]
    if report.success_rate is not None:
        lines.append(f"recycled successfully (beats every baseline): {100 * report.success_rate:.0f}% of methods")
    for head in report.head_starts:
        reached = "" if head.steps_to_match is None else f" (step {head.steps_to_match})"
        lines.append(
            f"head start from {head.start} against the from-scratch best dev accuracy "
            f"({100 * head.scratch_best_dev_accuracy:.1f}%, step {head.scratch_best_step}): {head.outcome}{reached}"
        )
    if report.status not in (FINISHED, CANCELLED):  # a failed or interrupted run, shown from the history: why
        lines.append(f"status: {report.status}")
    if report.path:
        lines.append(f"run stored in {report.path}")
    return "\n".join(lines)
