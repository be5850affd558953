"""``runs``: the stored comparison runs, to list, show or delete."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import format_table
from .compare import report_table


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    runs = commands.add_parser("runs", parents=[common], help="list, show or delete stored comparison runs",
                               description="Stored comparison runs, newest first.")
    one = runs.add_mutually_exclusive_group()
    one.add_argument("--show", metavar="ID", help="print one run's table")
    one.add_argument("--delete", metavar="ID", help="delete one run and its files")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_cmd_runs)


def _cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runs.batch import open_batch
    from ..core.runs.store import BATCH_FILE, delete_run, list_runs, open_run

    if args.delete is not None:
        delete_run(args.delete)
        print(f"deleted run {args.delete}")
        return 0
    if args.show is not None:
        folder = open_run(args.show)
        if (folder.path / BATCH_FILE).is_file():
            batch = open_batch(folder.path)
            print(batch.to_json() if args.json else format_table(*batch.table()))
            return 0
        report = folder.load_report()
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
            [[r["id"], _short(r["status"] or "-"), Path(r["job"]["source"]).name, Path(r["job"]["target"]).name,
              f"{r['rows']} ({r['prompts']} prompts)" if r.get("batch") else str(r["rows"])] for r in runs],
        ))
    return 0


def _short(status: str, width: int = 40) -> str:
    """A status fit for a table column (a failed run's status holds its whole error; `--show ID` prints it)."""
    return status if len(status) <= width else f"{status[: width - 1]}…"
