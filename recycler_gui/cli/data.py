"""``data fetch`` and ``data show``: the built-in movie-review task and the user's own task files."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..core.fields import default_of
from ..core.runs.settings import RunSettings
from .common import EXIT_USER_ERROR, TerminalEvents, add_command, add_setting

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


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    data = commands.add_parser(
        "data", parents=[common], help="fetch and look at task data",
        description="Fetch the built-in movie-review task and look at tasks (built-in or your own files).",
    )
    actions = data.add_subparsers(title="data commands", metavar="ACTION")
    data.set_defaults(handler=lambda _args: _print_help(data))

    add_command(
        actions, "fetch", common, _cmd_data_fetch,
        "download the movie-review sentences into the user cache",
        "Runs pip to download the vaderSentiment 3.3.2 source archive (about 2.5 MB, MIT licence) from your package "
        "index, checks its pinned SHA-256 and keeps only the Rotten Tomatoes sentence file. Does nothing when the "
        "file is already in place.",
    )

    show = add_command(
        actions, "show", common, _cmd_data_show,
        "describe a task and render three examples",
        "TASK is a built-in task (movie-reviews) or a .csv, .tsv or .jsonl file.",
        epilog=DATA_SHOW_EPILOG,
    )
    show.add_argument("task", metavar="TASK")
    for name in ("text_column", "label_column", "template"):
        add_setting(show, RunSettings, name)
    add_setting(show, RunSettings, "label_words", metavar="WORDS")
    add_setting(show, RunSettings, "seed", type=int, default=default_of(RunSettings, "seed"))
    show.add_argument("--json", action="store_true", help="print one JSON object (keys below)")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USER_ERROR


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from ..core.data.movie_reviews import fetch_movie_reviews, movie_reviews

    path = fetch_movie_reviews(events=TerminalEvents())
    info = movie_reviews().describe()
    counts = info["examples"]
    print(f"movie reviews: {path}")
    print(
        f"{sum(counts.values()):,} labelled sentences: {counts['train']:,} train, {counts['dev']:,} dev, "
        f"{counts['test']:,} test"
    )
    return 0


def _cmd_data_show(args: argparse.Namespace) -> int:
    from ..core.data.catalog import load_task
    from ..core.data.tasks import unescape_template

    task = load_task(
        args.task, text_column=args.text_column, label_column=args.label_column, label_words=args.label_words,
        template=unescape_template(args.template), seed=args.seed,
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
