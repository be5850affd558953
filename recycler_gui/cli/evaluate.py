"""``compare`` (recycle, score against baselines, re-tune), ``tune`` (prompt tuning) and ``runs`` (history)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.evaluation.baselines import BASELINES
from ..core.events import Stage
from ..core.models.checkpoints import ENCODER_DECODER
from ..core.models.devices import DTYPES
from ..core.prompts.formats import FORMATS
from ..core.report import CANCELLED, RETUNE_STARTS, Report, shown_columns
from ..core.runs.pipeline import Job
from ..core.transfer.recyclers import RECYCLERS
from .common import EXIT_CANCELLED, TerminalEvents, add_command, format_table, num_words

COMPARE_EPILOG = """\
A job file (--job, JSON or TOML) holds the same settings by their long names with underscores (source, target,
prompt, task, methods, baselines, retune_steps, eval_size, ...); flags given on the command line override it.

Rows: each baseline (no-prompt; random: mean of 3 seeds; class-label), each recycled prompt, the prompts re-tuned on
the target (with --retune-steps), and the source prompt on the source model. For a recycled prompt:
  vs best baseline  accuracy minus the best baseline's accuracy
  success           beats every baseline
  gap closed        share of the way from the best baseline to the prompt re-tuned from scratch

Each run is stored under the user data folder (see `prompt-recycler runs`) as it goes; --json prints the report.
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    task_options = argparse.ArgumentParser(add_help=False)
    task_options.add_argument("--task", help="built-in task (movie-reviews, the default) or a .csv/.tsv/.jsonl file")
    task_options.add_argument("--text-column", help="column holding the text (task files)")
    task_options.add_argument("--label-column", help="column holding the label (task files)")
    task_options.add_argument(
        "--label-words", metavar="WORDS", help="one word per label, in label order: 'bad,good' or 'neg=bad,pos=good'"
    )
    task_options.add_argument("--template", help="input template with a {text} slot; \\n for a line break")
    task_options.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    task_options.add_argument("--dtype", choices=["auto", *DTYPES], help="model weights' dtype (default float32)")
    task_options.add_argument("--seed", type=int, help="seed for sampling, splits and tuning (default 0)")
    task_options.add_argument("--batch-size", type=int, help="examples per forward pass (default 16)")
    task_options.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    shared = [common, task_options]

    compare = add_command(
        commands, "compare", shared, _cmd_compare,
        "recycle a prompt and compare it on the target with baselines and re-tuning",
        "Recycles with each method, scores every recycled prompt and baseline on the target's test split, scores "
        "the source prompt on the source, and optionally re-tunes on the target.",
        COMPARE_EPILOG,
    )
    compare.add_argument("--job", type=Path, help="a JSON or TOML job file")
    compare.add_argument("--source", help="model the prompt was trained on")
    compare.add_argument("--target", help="model to recycle the prompt to")
    compare.add_argument("--prompt", help="the prompt file or PEFT adapter folder")
    compare.add_argument("--key", dest="prompt_key", help="tensor to use when the prompt file holds several")
    compare.add_argument(
        "--method", dest="methods", action="append", metavar="NAME",
        help=f"recycler, repeatable: {', '.join(RECYCLERS)} or all (default all)",
    )
    compare.add_argument(
        "--baseline", dest="baselines", action="append", metavar="NAME",
        help=f"baseline, repeatable: {', '.join(BASELINES)} or all (default all)",
    )
    compare.add_argument("--retune-steps", type=int, help="re-tune on the target for this many steps (default 0: no)")
    compare.add_argument("--few-shot", type=int, metavar="K",
                         help="few-shot mode, reported apart: also pick the recycled prompt most accurate on K <= 32 "
                              "labelled train examples of the target (default 0: data-free only)")
    compare.add_argument("--target-prompt", help="a prompt already tuned on the target for this task: scored as the "
                                                 "upper bound (cheaper than --retune-steps)")
    compare.add_argument(
        "--retune-from", action="append", choices=RETUNE_STARTS,
        help="re-tune from scratch and/or from the best recycled prompt (default both)",
    )
    compare.add_argument("--eval-size", type=int, help="test examples scored per prompt (default 200)")
    compare.add_argument("--offset", type=int, help="skip this many most frequent shared words (default 1000)")
    compare.add_argument("--num-words", type=num_words, help="fit on this many shared words, or all (default 4000)")
    compare.add_argument("--no-source", dest="score_source", action="store_false", default=None,
                         help="do not score the source prompt on the source model")

    tune = add_command(
        commands, "tune", shared, _cmd_tune,
        "tune a soft prompt on a frozen model",
        "Trains only the prompt rows (Adam), evaluates on the dev split every --eval-every steps, keeps the best "
        "prompt, scores it on the test split and writes it like `recycle` does.",
    )
    tune.add_argument("--model", required=True, help="the frozen model (folder, .gguf or HF id)")
    tune.add_argument("--out", required=True, type=Path, help="where to write the tuned prompt")
    tune.add_argument("--format", choices=FORMATS, default="peft", help="output format (default peft)")
    tune.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    tune.add_argument("--prompt-length", type=int, default=20, help="virtual tokens (default 20)")
    tune.add_argument("--learning-rate", type=float, default=0.3, help="Adam learning rate (default 0.3)")
    tune.add_argument("--eval-every", type=int, default=25, help="dev evaluation interval in steps (default 25)")
    tune.add_argument("--eval-size", type=int, default=200, help="dev examples per evaluation (default 200)")
    tune.add_argument("--test-size", type=int, default=1000, help="test examples scored at the end (default 1000)")
    tune.add_argument("--patience", type=int, help="stop after this many evaluations without dev gain")
    tune.add_argument(
        "--init", default="class-label", help="class-label (default), random, or text:WORDS (ignored with --start)"
    )
    tune.add_argument("--start", help="start from this prompt file instead (e.g. a recycled prompt)")
    tune.add_argument("--key", help="tensor to use when the --start file holds several")
    tune.add_argument("--no-bf16", dest="bf16", action="store_false", help="no bfloat16 autocast while training")
    tune.add_argument("--max-norm", type=float, metavar="RATIO",
                      help="recyclable prompt: keep every row within RATIO x the model's mean vocabulary row norm "
                           "(e.g. 1.5); costs some source accuracy, keeps the prompt where recyclers work")

    runs = commands.add_parser("runs", parents=[common], help="list, show or delete stored comparison runs",
                               description="Stored comparison runs, newest first.")
    runs.add_argument("--show", metavar="ID", help="print one run's table")
    runs.add_argument("--delete", metavar="ID", help="delete one run and its files")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_cmd_runs)


_TASK_FIELDS = ("task", "text_column", "label_column", "label_words", "template", "device", "dtype", "seed",
                "batch_size")
_COMPARE_FIELDS = (*_TASK_FIELDS, "source", "target", "prompt", "prompt_key", "methods", "baselines",
                   "retune_steps", "retune_from", "target_prompt", "few_shot", "eval_size", "offset", "num_words",
                   "score_source")


def job_from_args(args: argparse.Namespace) -> Job:
    """The job file's settings (if any) overridden by the flags given."""
    values: dict[str, Any] = Job.from_file(args.job).as_dict() if args.job else {}
    for name in _COMPARE_FIELDS:
        value = getattr(args, name)
        if value is not None:
            values[name] = value.replace("\\n", "\n") if name == "template" else value
    missing = [flag for flag in ("source", "target", "prompt") if not values.get(flag)]
    if missing:
        from ..core.runs.pipeline import JobError

        raise JobError(f"no {', '.join('--' + m for m in missing)} given", "name them as flags or in a --job file")
    return Job.from_dict(values)


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..core.runs.pipeline import run

    return print_report(run(job_from_args(args), events=TerminalEvents()), args.json)


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
    head = report.head_start
    if head:
        saved = head.steps_saved
        lines.append(
            f"head start from {head.method}: reached the from-scratch best dev accuracy "
            f"({100 * head.scratch_best_dev_accuracy:.1f}%, step {head.scratch_best_step}) "
            + (f"at step {head.recycled_steps_to_match}: {saved} steps saved" if saved is not None else "never")
        )
    if report.path:
        lines.append(f"run stored in {report.path}")
    return "\n".join(lines)


def _cmd_tune(args: argparse.Namespace) -> int:
    import torch

    from ..core.data.tasks import load_task
    from ..core.evaluation.scoring import Scorer, classification_metrics
    from ..core.models.checkpoints import open_checkpoint
    from ..core.prompts.formats import PeftTarget, read_prompt, write_prompt
    from ..core.training.tuning import TuningSettings, initial_prompt, tune

    events = TerminalEvents()
    checkpoint = open_checkpoint(args.model)
    template = None if args.template is None else args.template.replace("\\n", "\n")
    seed = args.seed or 0
    task = load_task(
        args.task or "movie-reviews", text_column=args.text_column, label_column=args.label_column,
        label_words=args.label_words, template=template, seed=seed,
    )
    settings = TuningSettings(
        steps=args.steps, prompt_length=args.prompt_length, learning_rate=args.learning_rate,
        batch_size=args.batch_size or 16, eval_every=args.eval_every, eval_size=args.eval_size,
        patience=args.patience, init=args.init, seed=seed, bf16=args.bf16, max_norm=args.max_norm,
    )
    settings.check()
    if args.start:
        from ..core.transfer.recycling import check_prompt_fits_source

        start = read_prompt(args.start, key=args.key)
        check_prompt_fits_source(start, checkpoint)
    else:
        start = initial_prompt(checkpoint.input_embeddings(), checkpoint.tokenizer(), task, settings)
    model = checkpoint.load_model(args.device or "auto", args.dtype or "float32")
    scorer = Scorer(model, checkpoint.tokenizer(), checkpoint.family, task.label_words, batch_size=settings.batch_size)
    vocabulary_norm = float(checkpoint.input_embeddings().norm(dim=1).mean()) if args.max_norm else None
    result = tune(scorer, task, start, settings, vocabulary_norm=vocabulary_norm, series="tuning", events=events)
    test = task.test[: args.test_size]
    events(Stage(f"scoring the tuned prompt on {len(test)} test examples", len(test)))
    scores = scorer.score([task.render(e.text) for e in test], result.prompt.encoder, events=events)
    metrics = classification_metrics(scores, torch.tensor([e.label for e in test]))
    prompt = result.prompt.with_tables(
        [result.prompt.encoder], source_model=checkpoint.reference, task=task.name,
        init=f"tuned from {args.start}" if args.start else settings.init,
    )
    task_type = "SEQ_2_SEQ_LM" if checkpoint.family == ENCODER_DECODER else "CAUSAL_LM"
    out = write_prompt(prompt, args.out, args.format, inputs=[p for p in (args.start,) if p],
                       peft_target=PeftTarget(base_model=checkpoint.reference, task_type=task_type))
    summary = {
        "command": "prompt-recycler " + " ".join(sys.argv[1:]), "model": checkpoint.reference, "task": task.name,
        "output": str(out), "seed": seed, "steps": settings.steps, "prompt_length": settings.prompt_length,
        "learning_rate": settings.learning_rate, "init": prompt.meta.init, "best_step": result.best_step,
        "dev_accuracy": result.best_accuracy, "dev_examples": min(settings.eval_size, len(task.dev)),
        "test_accuracy": metrics.accuracy, "test_macro_f1": metrics.macro_f1, "test_examples": len(test),
        "curve": result.curve, "stopped_early": result.stopped_early, "max_norm": settings.max_norm,
        "mean_row_norm": float(result.prompt.encoder.norm(dim=1).mean()),
        "vocabulary_mean_norm": float(checkpoint.input_embeddings().norm(dim=1).mean()),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"best dev accuracy {100 * result.best_accuracy:.1f}% at step {result.best_step}; "
              f"test accuracy {100 * metrics.accuracy:.1f}% on {len(test)} examples -> {out}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runs.store import delete_run, list_runs, open_run

    if args.delete:
        delete_run(args.delete)
        print(f"deleted run {args.delete}")
        return 0
    if args.show:
        report = open_run(args.show).load_report()
        print(report.to_json() if args.json else report_table(report))
        return 0
    runs = list_runs()
    if args.json:
        print(json.dumps(runs, indent=2))
    elif not runs:
        print("no stored runs yet: `prompt-recycler compare ...` makes one")
    else:
        print(format_table(
            ["id", "status", "source", "target", "rows"],
            [[r["id"], r["status"] or "-", Path(r["job"]["source"]).name, Path(r["job"]["target"]).name,
              str(r["rows"])] for r in runs],
        ))
    return 0
