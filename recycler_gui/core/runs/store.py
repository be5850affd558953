"""Run history on disk: each run is a folder under the user data folder, written as the run goes.

``<data>/runs/<id>/`` holds ``job.json``, ``report.json`` and ``report.csv`` (the ``Report``, written when the run
starts and rewritten atomically after every finished row, so a crash or a cancel keeps what finished),
``prompts/<name>/`` (PEFT adapters for the target; each row records its own) and, while the run goes, ``heartbeat``:
the time, rewritten every ``HEARTBEAT_SECONDS``. A run stored as running is shown as interrupted when its writer is
gone: a process of this host that no longer exists, or a heartbeat too old, seen from any host.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..batch_report import BatchReport
from ..errors import InputNotFoundError, RecyclerError
from ..prompts.formats import PeftTarget, SoftPrompt, write_prompt
from ..report import HEARTBEAT_SECONDS, INTERRUPTED, RUNNING, Report, RowKind, stale
from ..storage import data_dir, write_text_atomic

PROMPTS = "prompts"
HEARTBEAT = "heartbeat"
BATCH_FILE = "batch.json"
"""What a batch of prompts keeps in its run folder instead of a report (``runs.batch``)."""


class RunInUseError(RecyclerError):
    """A run that is still being written cannot be deleted."""


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

    def save_prompt(self, prompt: SoftPrompt, name: str, peft_target: PeftTarget | None = None) -> str:
        """Write a row's prompt as a PEFT adapter ``prompts/<name>``; returns that path relative to the run folder."""
        relative = f"{PROMPTS}/{name}"
        write_prompt(prompt, self.path / relative, "peft", peft_target=peft_target)
        return relative

    def save_report(self, report: Report) -> None:
        """Write the report as JSON and its rows as CSV."""
        write_text_atomic(self.path / "report.json", report.to_json())
        write_text_atomic(self.path / "report.csv", report.to_csv())

    @contextlib.contextmanager
    def heartbeat(self, report: Report | BatchReport) -> Iterator[None]:
        """While the body runs, write the time into the run folder every ``HEARTBEAT_SECONDS``, so that any host can
        tell this run from one whose writer died (``Report.stale``). A failed beat is skipped, never the run's
        failure."""
        stop, every = threading.Event(), HEARTBEAT_SECONDS

        def beat() -> None:
            while True:
                report.heartbeat = time.time()
                with contextlib.suppress(RecyclerError):
                    write_text_atomic(self.path / HEARTBEAT, f"{report.heartbeat:.3f}\n")
                if stop.wait(every):
                    return

        beat_thread = threading.Thread(target=beat, name=f"heartbeat of run {self.run_id}", daemon=True)
        beat_thread.start()
        try:
            yield
        finally:
            stop.set()
            beat_thread.join()

    def load_report(self) -> Report:
        """The stored report (also one an earlier version wrote), with this folder's run id and path, and its status
        as it is now (a run whose writer is gone is interrupted)."""
        try:
            report = Report.from_json((self.path / "report.json").read_text(encoding="utf-8"))
        except (OSError, RecyclerError) as error:
            raise InputNotFoundError(
                f"the run {self.run_id} has no readable report ({error})", "it may have been cut off; delete it"
            ) from error
        report.run_id, report.path = self.run_id, str(self.path)  # where it is now, also when the folder moved
        report.heartbeat = self.last_heartbeat(report.heartbeat)
        report.status = self.status_now(report.status, report.writer, report.heartbeat)
        return report

    def last_heartbeat(self, stored: float | None) -> float | None:
        """The later of a stored heartbeat and the heartbeat file's (none: a finished run, or an earlier version)."""
        with contextlib.suppress(OSError, ValueError):
            return max(stored or 0.0, float((self.path / HEARTBEAT).read_text()))
        return stored

    def is_live(self) -> bool:
        """Still being written: stored as running (a report or a batch) by a writer that is heard from."""
        stored = self.path / BATCH_FILE if (self.path / BATCH_FILE).is_file() else self.path / "report.json"
        try:
            values = json.loads(stored.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(values, dict):
            return False
        stored_beat = values.get("heartbeat")
        heartbeat = self.last_heartbeat(stored_beat if isinstance(stored_beat, int | float) else None)
        return self.status_now(str(values.get("status")), values.get("writer"), heartbeat) == RUNNING

    @staticmethod
    def status_now(status: str, writer: Any, heartbeat: float | None) -> str:
        """A stored status as it is now: a running run whose writer is gone is interrupted."""
        if status == RUNNING and (stale(status, heartbeat, time.time()) or not _writer_alive(writer)):
            return INTERRUPTED
        return status


def list_runs() -> list[dict[str, Any]]:
    """Every stored run, newest first: id, path, status, job, number of rows, best recycled and best baseline
    accuracy (None where the run has none). Each report is read once, here."""
    root = runs_root()
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.iterdir(), reverse=True):
        if not (path / "job.json").is_file():
            continue
        try:
            job = json.loads((path / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a run we can describe; it stays on disk untouched
        if (path / BATCH_FILE).is_file():
            runs.append(_batch_entry(path, job))
            continue
        try:
            report = RunFolder(path).load_report()
        except RecyclerError:
            report = Report(status="no report")
        runs.append({"id": path.name, "path": str(path), "status": report.status, "job": job,
                     "rows": len(report.rows),
                     "best_recycled": report.best_accuracy(RowKind.RECYCLED),
                     "best_baseline": report.best_accuracy(RowKind.BASELINE)})
    return runs


def _batch_entry(path: Path, job: dict[str, Any]) -> dict[str, Any]:
    """``list_runs``' line for a batch of prompts: ``prompts`` (how many) and the rows of all of them."""
    try:
        batch = BatchReport.from_json((path / BATCH_FILE).read_text(encoding="utf-8"))
    except (OSError, RecyclerError):
        batch = BatchReport(status="no report")
    folder = RunFolder(path)
    status = folder.status_now(batch.status, batch.writer, folder.last_heartbeat(batch.heartbeat))
    return {"id": path.name, "path": str(path), "status": status, "job": job, "batch": True,
            "prompts": len(job.get("prompts") or []), "rows": sum(len(p.rows) for p in batch.prompts),
            "best_recycled": batch.best_accuracy(RowKind.RECYCLED),
            "best_baseline": batch.best_accuracy(RowKind.BASELINE)}


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
    """A stored run by id: a plain folder name, looked up inside the runs folder and nowhere else."""
    root = runs_root()
    plain = run_id not in ("", ".", "..") and Path(run_id).name == run_id and "\\" not in run_id
    if not plain:
        raise InputNotFoundError(
            f"{run_id!r} is not a run id: ids are plain names such as 20250101-120000-1a2b3c, not paths",
            "list the runs and their ids with `prompt-recycler runs`",
        )
    folder = RunFolder(root / run_id)
    inside = folder.path.resolve().parent == root.resolve() and not folder.path.is_symlink()
    if not inside or not (folder.path / "job.json").is_file():
        raise InputNotFoundError(f"no stored run {run_id!r}", "list the runs with `prompt-recycler runs`")
    return folder


def delete_run(run_id: str) -> None:
    """Remove a stored run and everything in it; never a live one, whose writer would go on writing into it."""
    folder = open_run(run_id)
    if folder.is_live():
        raise RunInUseError(f"the run {run_id} is still being written", "cancel it first (or wait until it ends)")
    shutil.rmtree(folder.path)
