"""Many prompts at once: one comparison per prompt with the same models, task and settings, and the paper's table.

``run_batch`` wraps the single-prompt ``pipeline.run``: each prompt's comparison is a stored run of its own; the
models are loaded once for all of them (``keep_models_loaded``) and the fitted recyclers come from the recycler cache
after the first prompt. The batch folder (a run folder with ``batch.json`` instead of a report) keeps the table, so
History lists and reopens a batch like any run. Its events are the member runs' events, with one ``Plan`` for the
whole batch and a ``NextPrompt`` before each prompt.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from ..batch_report import BatchPrompt, BatchReport
from ..errors import InputNotFoundError, RecyclerError
from ..events import Cancelled, CancelToken, Event, EventSink, Log, NextPrompt, Plan, ignore_events
from ..models.checkpoints import keep_models_loaded
from ..prompts.formats import detect_format, read_prompt
from ..report import CANCELLED, FINISHED, Report
from ..storage import write_text_atomic
from .pipeline import Job, JobError, run
from .store import BATCH_FILE, RunFolder, open_run, writer_identity


def expand_prompts(references: list[str]) -> list[str]:
    """Prompt files and adapter folders as given, each once; a folder that is not a prompt itself stands for the
    prompts in it (files and adapter folders whose content is a prompt, by name)."""
    prompts: list[str] = []
    for reference in references:
        path = Path(reference).expanduser()
        if path.is_dir() and not _is_prompt(path):
            found = sorted(str(child) for child in path.iterdir() if _is_prompt(child))
            if not found:
                raise InputNotFoundError(f"the folder {path} holds no prompt files or adapter folders",
                                         "pick prompt files, or a folder that holds some")
            prompts += found
        else:
            prompts.append(reference)
    seen: set[Path] = set()
    unique = []
    for prompt in prompts:  # the first spelling of each path stays
        where = Path(prompt).expanduser().resolve()
        if where not in seen:
            seen.add(where)
            unique.append(prompt)
    return unique


def _is_prompt(path: Path) -> bool:
    try:
        detect_format(path)
    except Exception:
        return False
    return True


def prompt_labels(prompts: list[str]) -> list[str]:
    """Short, distinct names for the prompts: their folder or file names (without extension), less the part all of
    them share in front (``smollm2-135m-movie-reviews-seed0`` and ``...-seed1`` read ``seed0`` and ``seed1``)."""
    names = [(Path(p).stem if Path(p).is_file() else Path(p).name) or p for p in prompts]
    if len(names) < 2:
        return names
    shared = names[0]
    for name in names[1:]:
        while not name.startswith(shared):
            shared = shared[:-1]
    cut = max(shared.rfind("-"), shared.rfind("_"), shared.rfind("."), shared.rfind(" ")) + 1
    labels = [name[cut:] or name for name in names]
    if len(set(labels)) == len(labels):
        return labels
    if len(set(names)) == len(names):
        return names
    return [str(Path(*Path(p).parts[-2:])) for p in prompts]  # two folders named "adapter": their parents tell them


def run_batch(
    job: Job, prompts: list[str], events: EventSink = ignore_events, cancel: CancelToken | None = None
) -> BatchReport:
    """Compare each of ``prompts`` as ``job`` says (its own prompt aside); returns the batch report, also stored.

    Every prompt is read and checked before any work: all must have the same width (they share one source model).
    A cancel stops the batch with the prompts that finished (and the cancelled one's finished rows).
    """
    cancel = cancel or CancelToken()
    job.check()
    if not prompts:
        raise JobError("no prompts to compare", "pick one or more prompt files or a folder of them")
    widths = {prompt: read_prompt(prompt).dim for prompt in prompts}
    if len(set(widths.values())) > 1:
        listed = ", ".join(f"{Path(p).name}: {w}" for p, w in widths.items())
        raise JobError(f"the prompts are not all as wide ({listed})",
                       "compare prompts trained on the same source model together")
    labels = prompt_labels(prompts)
    folder = RunFolder.create({**job.as_dict(), "prompt": None, "prompts": prompts})
    report = BatchReport(job=job.as_dict(), writer=writer_identity(), run_id=folder.run_id, path=str(folder.path))
    _save(folder, report)
    started = time.perf_counter()
    forward = _BatchEvents(events, len(prompts))
    try:
        with folder.heartbeat(report), keep_models_loaded():
            for index, (prompt, label) in enumerate(zip(prompts, labels, strict=True), start=1):
                cancel.check()
                events(NextPrompt(index, len(prompts), label))
                events(Log(f"prompt {index} of {len(prompts)}: {prompt}"))
                member = run(replace(job, prompt=prompt), events=forward, cancel=cancel)
                report.prompts.append(BatchPrompt.of(prompt, label, member))
                _save(folder, report)
                if member.status == CANCELLED:
                    raise Cancelled("cancelled", "the finished prompts were kept")
        report.status = FINISHED
    except Cancelled:
        report.status = CANCELLED
    except Exception as error:
        report.status = f"failed: {error}"
        raise
    finally:
        report.seconds = round(time.perf_counter() - started, 2)
        _save(folder, report)
    return report


def _save(folder: RunFolder, report: BatchReport) -> None:
    write_text_atomic(folder.path / BATCH_FILE, report.to_json())


class _BatchEvents:
    """The member runs' events, their plans made into one for the whole batch (sent once, with the first)."""

    def __init__(self, events: EventSink, count: int) -> None:
        self.events, self.count, self.planned = events, count, False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Plan):
            if not self.planned:  # every prompt goes through the same stages: the plan repeats
                self.planned = True
                self.events(Plan(event.stages * self.count))
            return
        self.events(event)


def open_batch(folder: Path) -> BatchReport:
    """A stored batch, with its folder's run id and path."""
    try:
        report = BatchReport.from_json((folder / BATCH_FILE).read_text(encoding="utf-8"))
    except (OSError, RecyclerError) as error:
        raise InputNotFoundError(f"the batch {folder.name} has no readable table ({error})",
                                 "it may have been cut off; delete it") from error
    report.run_id, report.path = folder.name, str(folder)
    stored = RunFolder(folder)
    report.status = stored.status_now(report.status, report.writer, stored.last_heartbeat(report.heartbeat))
    return report


def member_report(batch: BatchReport, index: int) -> Report | None:
    """The stored run of the batch's ``index``-th prompt, or None when it is gone."""
    run_id = batch.prompts[index].run_id
    try:
        return open_run(run_id).load_report() if run_id else None
    except RecyclerError:
        return None

