"""``doctor``: what this installation has, and whether the engine works end to end."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import EXIT_USER_ERROR, add_command


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    doctor = add_command(
        commands, "doctor", common, _cmd_doctor,
        "check the installation: versions, devices, Qt, folders",
        "Prints what Prompt Recycler finds on this machine and exits non-zero when something it needs is missing.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")



def _cmd_doctor(args: argparse.Namespace) -> int:
    from ..doctor import run_checks

    report = run_checks()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            mark = "ok " if check["ok"] else "ERR"
            print(f"[{mark}] {check['name']}: {check['detail']}")
        print("all good" if report["ok"] else "some checks failed: see the lines marked ERR")
    return 0 if report["ok"] else EXIT_USER_ERROR
