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
from .core.checkpoints import ENCODER_DECODER
from .core.errors import RecyclerError
from .core.events import Event, Log, Stage
from .core.prompts import FORMATS
from .core.recyclers import NORM_MODES, RECYCLERS

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

RECYCLE_EPILOG = """\
methods:
  v2v-lin     least-squares linear map fitted on word vectors (paper)
  v2v-nn      two-layer MLP fitted on word vectors (paper)
  lin-comb    the prompt as a mix of source words, the same mix of target words (paper)
  ridge       centred ridge map, ridge picked on held-out words, rows at the target's norm (ours)
  procrustes  orthogonal map between centred, scaled spaces (ours)
  relative    match cosine similarities to shared anchor words, PTfer-style (ours)

JSON summary (--json): source, target, vocabulary {same_tokenizer, shared_tokens, shared_words, used_words, offset,
num_words}, methods [{method, fit_seconds, fit_loss, cached, output, row_norm_mean}]
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

    recycle = _add_command(
        commands, "recycle", common, _cmd_recycle,
        "recycle a soft prompt from a source model to a target model",
        "Fits each recycler on word vectors the two models share (no task data, no training of the target) and "
        "writes one recycled prompt per method into --out, named after the method.",
        epilog=RECYCLE_EPILOG,
    )
    recycle.add_argument("--source", required=True, help="model the prompt was trained on (folder, .gguf or HF id)")
    recycle.add_argument("--target", required=True, help="model to recycle the prompt to (folder, .gguf or HF id)")
    recycle.add_argument("--prompt", required=True, help="the prompt file or PEFT adapter folder")
    recycle.add_argument("--key", help="tensor to use when the prompt file holds several")
    recycle.add_argument(
        "--method", action="append", metavar="NAME",
        help=f"recycler to use, repeatable: {', '.join(RECYCLERS)}, or all (default: all)",
    )
    recycle.add_argument("--out", required=True, type=Path, help="folder for the recycled prompts")
    recycle.add_argument("--format", choices=FORMATS, default="peft", help="output format (default: peft)")
    recycle.add_argument("--offset", type=int, default=1000, help="skip this many most frequent shared words")
    recycle.add_argument(
        "--num-words", type=_num_words, default=4000, help="fit on this many shared words, or all (default 4000)"
    )
    recycle.add_argument("--norm", choices=NORM_MODES, help="override every method's row-length rule")
    recycle.add_argument("--seed", type=int, default=0, help="seed for fitting (default 0)")
    recycle.add_argument("--no-cache", action="store_true", help="fit again even when a fitted recycler is cached")
    recycle.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    _add_data_commands(commands, common)

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


DATA_SHOW_EPILOG = """\
label words (--label-words):
  plain words in label order      bad,good          label order: the sorted label values, numerically when all
                                                    are integers (2 before 10)
  value=word pairs, any order     neg=bad,pos=good  for the built-in task the values are negative and positive
  Words are trimmed and get one leading space (' bad'), the form a word takes after 'Sentiment:'; when the template
  ends in whitespace they get none. Without --label-words a file's label values are its words.

task files: .csv and .tsv with a header row (quoted as spreadsheets and Python's csv module write them), or .jsonl
with one object per line. A column named split (train, dev or validation, test) chooses the splits; without it the
examples are shuffled with --seed and split 80/10/10.

JSON keys (--json): name, template, label_words, examples {train, dev, test}, label_counts {train, dev, test: one
count per label}, samples [{split, label, label_word, text, rendered}]
"""


def _add_data_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    data = commands.add_parser(
        "data", parents=[common], help="fetch and look at task data",
        description="Fetch the built-in movie-review task and look at tasks (built-in or your own files).",
    )
    actions = data.add_subparsers(title="data commands", metavar="ACTION")
    data.set_defaults(handler=lambda _args: _print_help(data))

    _add_command(
        actions, "fetch", common, _cmd_data_fetch,
        "download the movie-review sentences into the user cache",
        "Runs pip to download the vaderSentiment 3.3.2 source archive (about 2.5 MB, MIT licence) from your package "
        "index, checks its pinned SHA-256 and keeps only the Rotten Tomatoes sentence file. Does nothing when the "
        "file is already in place.",
    )

    show = _add_command(
        actions, "show", common, _cmd_data_show,
        "describe a task and render three examples",
        "TASK is a built-in task (movie-reviews) or a .csv, .tsv or .jsonl file.",
        epilog=DATA_SHOW_EPILOG,
    )
    show.add_argument("task", metavar="TASK")
    show.add_argument("--text-column", help="column holding the text (files only; default: text)")
    show.add_argument("--label-column", help="column holding the label (files only; default: label)")
    show.add_argument("--label-words", metavar="WORDS", help="one word per label: 'bad,good' or 'neg=bad,pos=good'")
    show.add_argument("--template", help="input template with a {text} slot; \\n for a line break")
    show.add_argument("--seed", type=int, default=0, help="seed of the 80/10/10 split (default 0)")
    show.add_argument("--json", action="store_true", help="print one JSON object (keys below)")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USER_ERROR


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from .core.tasks import fetch_movie_reviews, movie_reviews

    path = fetch_movie_reviews(events=_print_event)
    info = movie_reviews().describe()
    counts = info["examples"]
    print(f"movie reviews: {path}")
    print(
        f"{sum(counts.values()):,} labelled sentences: {counts['train']:,} train, {counts['dev']:,} dev, "
        f"{counts['test']:,} test"
    )
    return 0


def _cmd_data_show(args: argparse.Namespace) -> int:
    from .core.tasks import load_task

    template = None if args.template is None else args.template.replace("\\n", "\n")
    task = load_task(
        args.task, text_column=args.text_column, label_column=args.label_column, label_words=args.label_words,
        template=template, seed=args.seed,
    )
    info = task.describe()
    samples = [
        {
            "split": "train", "label": example.label, "label_word": task.label_words[example.label],
            "text": example.text, "rendered": task.render(example.text),
        }
        for example in task.train[:3]
    ]
    if args.json:
        print(json.dumps({**info, "samples": samples}, indent=2))
        return 0
    print(f"task: {info['name']}")
    print(f"template: {info['template']!r}")
    print(f"label words: {', '.join(repr(word) for word in info['label_words'])}")
    for split, count in info["examples"].items():
        per_label = ", ".join(
            f"{word!r} {number:,}" for word, number in zip(task.label_words, info["label_counts"][split], strict=True)
        )
        print(f"{split}: {count:,} examples ({per_label})")
    for number, sample in enumerate(samples, 1):
        print(f"\nexample {number} ({sample['split']}, label {sample['label_word']!r}):")
        print("\n".join(f"  {line}" for line in sample["rendered"].split("\n")) + f"[{sample['label_word']}]")
    return 0


def _num_words(text: str) -> int | None:
    if text == "all":
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive number or 'all'")
    return value


def _print_event(event: Event) -> None:
    if isinstance(event, Stage):
        print(f"» {event.name}", file=sys.stderr)
    elif isinstance(event, Log):
        print(f"  {event.text}", file=sys.stderr)


def _cmd_recycle(args: argparse.Namespace) -> int:
    from .core.checkpoints import open_checkpoint
    from .core.prompts import PeftTarget, read_prompt, write_prompt
    from .core.recycling import check_prompt_fits_source, recycle, resolve_methods
    from .core.vocab import VocabSettings

    methods = resolve_methods(args.method or ["all"])
    prompt = read_prompt(args.prompt, key=args.key)
    source, target = open_checkpoint(args.source), open_checkpoint(args.target)
    check_prompt_fits_source(prompt, source)
    params = {method: {"norm": args.norm} for method in methods} if args.norm else None
    result = recycle(
        source, target, prompt, methods,
        vocabulary=VocabSettings(args.offset, args.num_words), seed=args.seed, params=params,
        use_cache=not args.no_cache, events=_print_event,
    )
    peft_target = PeftTarget(
        base_model=target.reference,
        task_type="SEQ_2_SEQ_LM" if target.family == ENCODER_DECODER else "CAUSAL_LM",
    )
    rows = []
    for item in result.recycled:
        name = item.method if args.format == "peft" else f"{item.method}.{args.format}"
        path = write_prompt(
            item.prompt, args.out / name, args.format,
            inputs=[args.prompt, source.path, target.path], peft_target=peft_target,
        )
        rows.append({
            "method": item.method, "fit_seconds": round(item.fit_seconds, 4), "fit_loss": item.fit_loss,
            "cached": item.cached, "output": str(path),
            "row_norm_mean": round(float(item.prompt.encoder.norm(dim=1).mean()), 6),
        })
    if args.json:
        summary = {
            "source": source.reference, "target": target.reference, "vocabulary": result.vocabulary.as_dict(),
            "methods": rows,
        }
        print(json.dumps(summary, indent=2))
    else:
        print(result.vocabulary.summary())
        width = max(len(row["method"]) for row in rows)
        for row in rows:
            loss = "-" if row["fit_loss"] is None else f"{row['fit_loss']:.4g}"
            how = "cached" if row["cached"] else f"{row['fit_seconds']:.2f} s"
            print(f"{row['method']:<{width}}  fit {how:>8}  loss {loss:>10}  -> {row['output']}")
    return 0


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
