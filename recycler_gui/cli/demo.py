"""``demo``: the README's main job in the terminal: fetch the demo pair and print the comparison table."""

from __future__ import annotations

import argparse
from typing import Any

from .common import TerminalEvents, add_command


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    demo = add_command(
        commands, "demo", common, _cmd_demo, "recycle a shipped SmolLM2 prompt to Gemma and print the comparison",
        "Fetches smollm2-135m and gemma3-270m (once), then recycles the shipped SmolLM2 movie-review prompt to Gemma "
        "with every method and scores it beside the baselines and a prompt tuned on Gemma itself, then re-tunes on "
        "Gemma from scratch and from the best recycled prompt. The window shows the same run: prompt-recycler-gui "
        "--demo.",
    )
    demo.add_argument("--eval-size", type=int, help="test examples per row (default: the demo's, 200)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..core.events import Log
    from ..core.runs.demo import DEMO_EVAL_SIZE, DEMO_MINUTES, demo_job, prepare_demo
    from ..core.runs.pipeline import run
    from .compare import print_report

    events = TerminalEvents()
    job = demo_job(DEMO_EVAL_SIZE if args.eval_size is None else args.eval_size)
    job.check()  # a bad --eval-size is one line before hundreds of MB are fetched
    prepare_demo(events)
    if job.eval_size == DEMO_EVAL_SIZE:
        events(Log(f"the demo takes about {DEMO_MINUTES} minutes on 2 idle CPU cores (less with a GPU)"))
    return print_report(run(job, events=events), args.json)
