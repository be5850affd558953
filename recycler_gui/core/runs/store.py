"""Run history on disk: each run is a folder under the user data folder, written as the run goes.

``<data>/runs/<id>/`` holds ``job.json``, ``report.json`` and ``report.csv`` (rewritten atomically after every
finished row, so a crash or a cancel keeps what finished) and ``prompts/<name>/`` (PEFT adapters for the target).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InputNotFoundError
from ..storage import data_dir, write_text_atomic

CSV_COLUMNS = (
    "name", "kind", "model", "accuracy", "macro_f1", "auc", "vs_best_baseline", "success", "gap_closed",
    "accuracy_spread", "fit_seconds", "fit_loss", "examples",
)


def runs_root() -> Path:
    """The folder that holds every run."""
    return data_dir() / "runs"


class RunFolder:
    """One run's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, job: dict[str, Any]) -> RunFolder:
        """A new run folder named by time and a short random suffix, with its job written."""
        run_id = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        folder = cls(runs_root() / run_id)
        folder.path.mkdir(parents=True)
        write_text_atomic(folder.path / "job.json", json.dumps(job, indent=2))
        return folder

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def prompts(self) -> Path:
        return self.path / "prompts"

    def save_report(self, report: dict[str, Any]) -> None:
        """Write the report as JSON and its rows as CSV."""
        write_text_atomic(self.path / "report.json", json.dumps(report, indent=2))
        write_text_atomic(self.path / "report.csv", rows_to_csv(report.get("rows", [])))

    def load_report(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputNotFoundError(
                f"the run {self.run_id} has no readable report ({error})", "it may have been cut off; delete it"
            ) from error


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """The report rows as CSV text with a fixed column order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def list_runs() -> list[dict[str, Any]]:
    """Every stored run, newest first: id, status, job and best rows' summary."""
    root = runs_root()
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.iterdir(), reverse=True):
        if not (path / "job.json").is_file():
            continue
        try:
            report = json.loads((path / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {"status": "no report", "rows": []}
        try:
            job = json.loads((path / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a run we can describe; it stays on disk untouched
        status = report.get("status")
        if status == "running" and not _writer_alive(report.get("writer")):
            status = "interrupted"
        runs.append({"id": path.name, "path": str(path), "status": status, "job": job,
                     "rows": len(report.get("rows", []))})
    return runs


def writer_identity() -> dict[str, Any]:
    """Who writes a run (host and process id), so a run left "running" by a killed process can be told apart."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _writer_alive(writer: Any) -> bool:
    """False only when the run's writer was a process on this host that no longer exists."""
    if not isinstance(writer, dict) or writer.get("host") != socket.gethostname() or not isinstance(
        writer.get("pid"), int
    ):
        return True  # another machine, or an older run: cannot tell, so trust the report
    try:
        os.kill(writer["pid"], 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        pass
    return True


def open_run(run_id: str) -> RunFolder:
    """A stored run by id."""
    folder = RunFolder(runs_root() / run_id)
    if not (folder.path / "job.json").is_file():
        raise InputNotFoundError(f"no stored run {run_id!r}", "list the runs with `prompt-recycler runs`")
    return folder


def delete_run(run_id: str) -> None:
    """Remove a stored run and everything in it."""
    shutil.rmtree(open_run(run_id).path)
