"""The report of many prompts compared at once: the paper's table (success rate and mean gap closed per method).

A batch runs one comparison per prompt (each a stored run of its own, see ``runs.batch``); this report keeps each
prompt's rows (without per-example lists) so that it reads on its own, and derives per method how many prompts it
recycled successfully (beat every baseline on the target) and the mean share of the baseline-to-bound gap it closed.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from .errors import CorruptFileError
from .report import JSON_ONLY, RUNNING, Report, Row, RowKind

BATCH_FORMAT = 1


@dataclass
class BatchPrompt:
    """One prompt of a batch: the path as given, its short label, its stored run and its rows."""

    prompt: str
    label: str
    run_id: str | None = None
    status: str = RUNNING
    rows: list[Row] = field(default_factory=list)

    @classmethod
    def of(cls, prompt: str, label: str, report: Report) -> BatchPrompt:
        rows = [Row.from_dict({k: v for k, v in row.as_dict().items() if k not in JSON_ONLY}) for row in report.rows]
        return cls(prompt, label, report.run_id, report.status, rows)

    def best_baseline(self) -> float | None:
        return max((r.accuracy for r in self.rows if r.kind is RowKind.BASELINE and r.accuracy is not None),
                   default=None)

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "label": self.label, "run_id": self.run_id, "status": self.status,
                "rows": [row.as_dict() for row in self.rows]}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BatchPrompt:
        rows = [Row.from_dict(row) for row in values.get("rows") or [] if isinstance(row, dict)]
        return cls(str(values.get("prompt", "")), str(values.get("label", "")), values.get("run_id"),
                   str(values.get("status") or RUNNING), rows)


def method_key(row: Row) -> str:
    """Which line of the batch table a transferred row belongs to: a recycler by its name; a few-shot pick or a taught
    prompt by its kind (their names say what was picked, which differs from prompt to prompt)."""
    return row.name if row.kind is RowKind.RECYCLED else row.kind.label


@dataclass
class MethodSummary:
    """One line of the paper's table: a method over every prompt of the batch."""

    method: str
    kind: RowKind
    accuracies: list[float | None]
    successes: list[bool | None]
    gaps: list[float | None]

    @property
    def measured(self) -> int:
        """The prompts this method has a success value for."""
        return sum(success is not None for success in self.successes)

    @property
    def succeeded(self) -> int:
        return sum(bool(success) for success in self.successes)

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.measured if self.measured else None

    @property
    def mean_gap_closed(self) -> float | None:
        gaps = [gap for gap in self.gaps if gap is not None]
        return statistics.fmean(gaps) if gaps else None

    @property
    def mean_accuracy(self) -> float | None:
        values = [value for value in self.accuracies if value is not None]
        return statistics.fmean(values) if values else None


@dataclass
class BatchReport:
    """Many prompts, one comparison each, with the same models, task and settings (``job``, its prompt aside)."""

    job: dict[str, Any] = field(default_factory=dict)
    status: str = RUNNING
    writer: dict[str, Any] | None = None
    heartbeat: float | None = None
    run_id: str | None = None
    path: str | None = None
    prompts: list[BatchPrompt] = field(default_factory=list)
    seconds: float | None = None

    def summaries(self) -> list[MethodSummary]:
        """One line per transferred method, in the order they first appear."""
        lines: dict[str, MethodSummary] = {}
        for prompt in self.prompts:
            for row in prompt.rows:
                if row.kind.transferred:
                    key = method_key(row)
                    lines.setdefault(key, MethodSummary(key, row.kind, [], [], []))
        for line in lines.values():
            for prompt in self.prompts:
                row = next((r for r in prompt.rows if r.kind.transferred and method_key(r) == line.method), None)
                line.accuracies.append(None if row is None else row.accuracy)
                line.successes.append(None if row is None else row.success)
                line.gaps.append(None if row is None else row.gap_closed)
        return list(lines.values())

    @property
    def success_rate(self) -> float | None:
        """The share of (prompt, recycler) pairs recycled successfully: data-free recyclers only."""
        lines = [line for line in self.summaries() if line.kind is RowKind.RECYCLED]
        measured = sum(line.measured for line in lines)
        return sum(line.succeeded for line in lines) / measured if measured else None

    def best_accuracy(self, kind: RowKind) -> float | None:
        values = [r.accuracy for p in self.prompts for r in p.rows if r.kind is kind and r.accuracy is not None]
        return max(values, default=None)

    # ---------------------------------------------------------------------------------------------------- storage

    def to_json(self) -> str:
        return json.dumps({
            "batch_format": BATCH_FORMAT, "job": self.job, "status": self.status, "writer": self.writer,
            "heartbeat": self.heartbeat, "run_id": self.run_id,
            "path": self.path, "seconds": self.seconds, "prompts": [prompt.as_dict() for prompt in self.prompts],
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> BatchReport:
        try:
            values = json.loads(text)
        except ValueError as error:
            raise CorruptFileError(
                f"the batch report is not valid JSON ({error})", "it may have been cut off"
            ) from None
        if not isinstance(values, dict) or "batch_format" not in values:
            raise CorruptFileError("the file is not a batch report", "open it as a comparison run")
        return cls(
            job=values.get("job") or {}, status=str(values.get("status") or RUNNING), writer=values.get("writer"),
            heartbeat=values.get("heartbeat"), run_id=values.get("run_id"),
            path=values.get("path"), seconds=values.get("seconds"),
            prompts=[BatchPrompt.from_dict(p) for p in values.get("prompts") or [] if isinstance(p, dict)],
        )

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The paper's table as text: a line per method (the best baseline first), a column per prompt (accuracy %,
        ✓ when it beats every baseline), then successes, success rate and mean gap closed."""
        headers = ["method", *(p.label for p in self.prompts), "successes", "success rate %", "mean gap closed %",
                   "mean accuracy %"]
        baselines = [p.best_baseline() for p in self.prompts]
        known = [value for value in baselines if value is not None]
        lines = [[f"best {RowKind.BASELINE.label}", *(_percent(v) for v in baselines), "", "", "",
                  _percent(statistics.fmean(known) if known else None)]]
        for line in self.summaries():
            cells = [_percent(a) + (" ✓" if s else "") for a, s in zip(line.accuracies, line.successes, strict=True)]
            lines.append([
                line.method, *cells, f"{line.succeeded}/{line.measured}", _percent(line.success_rate, 0),
                _percent(line.mean_gap_closed, 0), _percent(line.mean_accuracy),
            ])
        return headers, lines

    def to_csv(self) -> str:
        """The paper's table as CSV, percentages as shown (see ``table``)."""
        headers, lines = self.table()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows(lines)
        return buffer.getvalue()


def _percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{100 * value:.{digits}f}"
