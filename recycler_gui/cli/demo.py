"""``demo``: the README's main job in the terminal: fetch the demo pair and print the comparison table."""

from __future__ import annotations

import argparse
from typing import Any

from .common import TerminalEvents, add_command


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    demo = add_command(
        commands, "demo", common, _cmd_demo, "recycle a shipped SmolLM2 prompt to Gemma and print the comparison",
        "Fetches smollm2-135m and gemma3-270m (once), then recycles the shipped SmolLM2 movie-review prompt to Gemma "
        "with every method and scores it beside the baselines and a prompt tuned on Gemma itself. About 7 minutes "
        "on 2 CPU cores once the models are converted. The window shows the same run: prompt-recycler-gui --demo.",
    )
    demo.add_argument("--eval-size", type=int, help="test examples per row (default 200)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..core.runs.demo import DEMO_EVAL_SIZE, demo_job, prepare_demo
    from ..core.runs.pipeline import run
    from .compare import print_report

    events = TerminalEvents()
    job = demo_job(args.eval_size or DEMO_EVAL_SIZE)
    prepare_demo(events)
    return print_report(run(job, events=events), args.json)
