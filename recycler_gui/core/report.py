"""The report of a comparison run: typed rows, the comparison derived from them, and their JSON and CSV forms.

Every row kind and every report column is named here and nowhere else. The pipeline builds a ``Report`` row by row;
the run folder stores it (``to_json``, ``to_csv``); the CLI table, the window's table and plots, the history and the
export read it. ``Report.from_json`` also reads the reports earlier versions wrote (plain dicts without
``report_format``), so old run folders still open.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any

from .errors import CorruptFileError
from .evaluation.significance import paired_test

REPORT_FORMAT = 2
"""Written into every report; reports without it come from earlier versions (see ``Row.from_dict``)."""

RUNNING, FINISHED, CANCELLED, INTERRUPTED = "running", "finished", "cancelled", "interrupted"
"""Statuses of a run; a failed one has ``failed: <error>``. A run stored as running whose writer is gone (killed, or
its machine down) is shown as interrupted (``Report.stale`` and ``runs.store``)."""
HEARTBEAT_SECONDS = 30.0
"""A running run's writer records the time this often (``Report.heartbeat``)."""
STALE_BEATS = 4
"""A running run whose last heartbeat is older than this many intervals is interrupted, seen from any host."""

SCRATCH = "scratch"
"""The start of a prompt re-tuned from the class-label init (``Row.start`` and ``Job.retune_from``)."""


class RowKind(StrEnum):
    """What a row measures. Its value is what reports store; ``label`` is what people read."""

    BASELINE = "baseline"
    RECYCLED = "recycled"
    FEW_SHOT = "few-shot"
    TAUGHT = "taught"
    RETUNED = "retuned"
    TARGET_PROMPT = "tuned on target"
    SOURCE = "source"

    @property
    def label(self) -> str:
        """The short display name (the table's kind column, the plots' legend)."""
        return _LABELS[self]

    @property
    def description(self) -> str:
        """One phrase on what a row of this kind is."""
        return _DESCRIPTIONS[self]

    @property
    def transferred(self) -> bool:
        """A prompt carried over from the source: compared with the best baseline (success, gap closed)."""
        return self in (RowKind.RECYCLED, RowKind.FEW_SHOT, RowKind.TAUGHT)

    @property
    def order(self) -> int:
        """Position in the natural reading order: baselines, transferred prompts, upper bounds, source."""
        return list(RowKind).index(self)


_LABELS = {
    RowKind.BASELINE: "baseline", RowKind.RECYCLED: "recycled", RowKind.FEW_SHOT: "few-shot",
    RowKind.TAUGHT: "taught", RowKind.RETUNED: "re-tuned", RowKind.TARGET_PROMPT: "tuned on target",
    RowKind.SOURCE: "source",
}
_DESCRIPTIONS = {
    RowKind.BASELINE: "a baseline on the target (no prompt, random or class-label rows)",
    RowKind.RECYCLED: "a recycled prompt (data-free)",
    RowKind.FEW_SHOT: "a recycled prompt picked with a few labelled target examples",
    RowKind.TAUGHT: "a prompt taught on the target by the source model (reported apart from data-free rows)",
    RowKind.RETUNED: "a prompt re-tuned on the target by this run",
    RowKind.TARGET_PROMPT: "a given prompt already tuned on the target (the upper bound)",
    RowKind.SOURCE: "the source prompt on the source model",
}

RETUNE_STARTS = (SCRATCH, RowKind.RECYCLED.value, RowKind.TAUGHT.value)
"""Where a run may re-tune from: scratch (class-label init), the best recycled prompt (picked on dev) and the taught
prompt (when the run teaches)."""


@dataclass
class Row:
    """One measured prompt (or no prompt) on one model.

    ``predictions`` are the predicted label ids per test example (for paired tests; JSON only, not CSV). For the
    random baseline the metrics are the mean over seeds and ``predictions`` and ``confusion`` are the first seed's.
    ``prompt`` is the row's stored prompt, relative to the run folder, or None. ``vs_best_baseline``, ``success``
    and ``gap_closed`` are derived by ``Report.derive`` for transferred kinds; ``significant`` and
    ``calibrated_accuracy`` are filled where a run measures them.
    """

    name: str
    kind: RowKind
    model: str = ""
    examples: int = 0
    accuracy: float | None = None
    macro_f1: float | None = None
    auc: float | None = None
    confusion: list[list[int]] | None = None
    calibrated_accuracy: float | None = None
    predictions: list[int] | None = None
    accuracy_spread: float | None = None
    fit_seconds: float | None = None
    fit_loss: float | None = None
    start: str | None = None
    best_step: int | None = None
    dev_accuracy: float | None = None
    picked: str | None = None
    shots: int | None = None
    shot_accuracy: float | None = None
    prompt: str | None = None
    vs_best_baseline: float | None = None
    success: bool | None = None
    significant: bool | None = None
    gap_closed: float | None = None

    def __post_init__(self) -> None:
        self.kind = RowKind(self.kind)

    @property
    def key(self) -> tuple[RowKind, str]:
        """What identifies a row within a report: its kind and name."""
        return self.kind, self.name

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values (the kind as its value)."""
        return {**asdict(self), "kind": self.kind.value}

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, legacy: bool = False) -> Row:
        """A row from ``as_dict`` output; unknown keys are ignored.

        ``legacy`` reads a row of an earlier version: the given tuned-on-target prompt was kind "retuned" with start
        "given", and rows did not record their prompt, which lay in ``prompts/`` under a name made from the row.
        """
        known = {f.name for f in fields(cls)}
        kept = {name: value for name, value in values.items() if name in known}
        stored_kind = kept.get("kind")
        try:
            kind = RowKind(stored_kind)
        except ValueError:
            raise CorruptFileError(
                f"the report has a row of unknown kind {stored_kind!r}",
                "it was written by a newer Prompt Recycler; open it there",
            ) from None
        if legacy and kind is RowKind.RETUNED and kept.get("start") == "given":
            kind, kept["start"] = RowKind.TARGET_PROMPT, None
        kept["kind"] = kind
        row = cls(**{"name": str(kept.pop("name", "")), **kept})
        if legacy and row.prompt is None:
            row.prompt = _legacy_prompt(row)
        return row


def _legacy_prompt(row: Row) -> str | None:
    """Where an earlier version stored a row's prompt in its run folder."""
    folder = {
        RowKind.RECYCLED: row.name, RowKind.FEW_SHOT: "few-shot pick", RowKind.TARGET_PROMPT: "tuned-on-target",
        RowKind.RETUNED: f"retuned-from-{row.start}",
    }.get(row.kind)
    return None if folder is None else f"prompts/{folder}"


@dataclass
class HeadStart:
    """How many re-tuning steps a warm start (``start``: a recycler's name or ``taught``) saves over scratch to reach
    scratch's best dev accuracy."""

    start: str
    scratch_best_step: int
    scratch_best_dev_accuracy: float
    steps_to_match: int | None

    @property
    def steps_saved(self) -> int | None:
        return None if self.steps_to_match is None else self.scratch_best_step - self.steps_to_match

    @property
    def outcome(self) -> str:
        """In a few words: "55 steps saved", "10 steps later" or "never reached scratch's best"."""
        saved = self.steps_saved
        if saved is None:
            return "never reached scratch's best"
        return f"{saved} steps saved" if saved >= 0 else f"{-saved} steps later"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "steps_saved": self.steps_saved}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HeadStart:
        """From ``as_dict`` output, or from the single recycled head start earlier versions wrote."""
        values = {"start": values.get("method"), "steps_to_match": values.get("recycled_steps_to_match"), **values}
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})


def stale(status: str, heartbeat: float | None, now: float) -> bool:
    """Stored as running, but its writer has not beaten for ``STALE_BEATS`` intervals: it is gone, whatever host it
    ran on. A run without heartbeats (earlier versions) is never stale."""
    return status == RUNNING and heartbeat is not None and now - heartbeat > STALE_BEATS * HEARTBEAT_SECONDS


@dataclass
class Report:
    """A comparison run: its job, status, rows, curves and the comparison derived from the rows.

    ``curves`` maps an event series (``events.Point``) to its (x, y) points; ``writer`` is who writes the run (see
    ``runs.store``) and ``heartbeat`` the last time (seconds since the epoch) it said it was alive; ``gold`` the test
    examples' labels in the order of every row's ``predictions`` (for the paired test). Call ``add`` for every new
    row: it derives the summary once per change.
    """

    job: dict[str, Any] = field(default_factory=dict)
    status: str = RUNNING
    writer: dict[str, Any] | None = None
    heartbeat: float | None = None
    run_id: str | None = None
    path: str | None = None
    task: dict[str, Any] | None = None
    vocabulary: dict[str, Any] | None = None
    rows: list[Row] = field(default_factory=list)
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    head_starts: list[HeadStart] = field(default_factory=list)
    seconds: float | None = None
    gold: list[int] | None = None
    best_baseline_accuracy: float | None = None
    retuned_accuracy: float | None = None
    success_rate: float | None = None

    def add(self, row: Row) -> None:
        """Append ``row``, or replace the row with the same key; then derive the comparison again."""
        for index, existing in enumerate(self.rows):
            if existing.key == row.key:
                self.rows[index] = row
                break
        else:
            self.rows.append(row)
        self.derive()

    def of_kind(self, kind: RowKind) -> list[Row]:
        return [row for row in self.rows if row.kind is kind]

    def best_accuracy(self, kind: RowKind) -> float | None:
        """The best accuracy among rows of ``kind``, or None."""
        return max((row.accuracy for row in self.of_kind(kind) if row.accuracy is not None), default=None)

    def derive(self) -> None:
        """Fill each transferred row's comparison with the best baseline and its share of the baseline-to-upper-bound
        gap (the bound: re-tuned from scratch, else the given prompt tuned on the target), and the success rate.

        ``significant``: the row beats the best baseline by an exact McNemar test at 95% on the same examples (needs
        both rows' predictions and ``gold``; for the random baseline, its first seed's predictions)."""
        baseline = self.best_accuracy(RowKind.BASELINE)
        best = next((row for row in self.of_kind(RowKind.BASELINE) if row.accuracy == baseline), None)
        scratch = [row for row in self.of_kind(RowKind.RETUNED) if row.start == SCRATCH]
        bound = next((row.accuracy for row in [*scratch, *self.of_kind(RowKind.TARGET_PROMPT)]), None)
        self.best_baseline_accuracy, self.retuned_accuracy = baseline, bound
        gap = None if bound is None or baseline is None else bound - baseline
        for row in self.rows:
            if not row.kind.transferred or baseline is None or row.accuracy is None:
                continue
            row.vs_best_baseline = row.accuracy - baseline
            row.success = row.accuracy > baseline
            row.gap_closed = row.vs_best_baseline / gap if gap and gap > 0 else None
            row.significant = self._beats_significantly(row, best)
        recycled = self.of_kind(RowKind.RECYCLED)
        self.success_rate = (
            sum(bool(row.success) for row in recycled) / len(recycled) if recycled and baseline is not None else None
        )

    def stale(self, now: float) -> bool:
        """Stored as running, but its writer has not beaten for ``STALE_BEATS`` intervals (see ``stale``)."""
        return stale(self.status, self.heartbeat, now)

    def _beats_significantly(self, row: Row, baseline: Row | None) -> bool | None:
        paired = [row.predictions, None if baseline is None else baseline.predictions, self.gold]
        if any(values is None or len(values) != len(self.gold or []) for values in paired):
            return None
        return paired_test(*paired).significant()

    # ---------------------------------------------------------------------------------------------------- storage

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(
            rows=[row.as_dict() for row in self.rows],
            curves={series: [list(point) for point in points] for series, points in self.curves.items()},
            head_starts=[head.as_dict() for head in self.head_starts],
        )
        return {"report_format": REPORT_FORMAT, **values}

    @classmethod
    def from_dict(cls, values: Any) -> Report:
        """A report from ``as_dict`` output or from a report an earlier version wrote."""
        if not isinstance(values, dict):
            raise CorruptFileError("the report is not a JSON object", "it may have been cut off; delete the run")
        legacy = "report_format" not in values
        heads = values.get("head_starts") or ([values["head_start"]] if values.get("head_start") else [])
        rows: dict[tuple[RowKind, str], Row] = {}  # a repeated key keeps its first place and its last values
        for values_of_row in values.get("rows") or []:
            if isinstance(values_of_row, dict):
                row = Row.from_dict(values_of_row, legacy=legacy)
                rows[row.key] = row
        report = cls(
            job=values.get("job") or {}, status=str(values.get("status") or RUNNING), writer=values.get("writer"),
            heartbeat=_seconds(values.get("heartbeat")),
            run_id=values.get("run_id"), path=values.get("path"), task=values.get("task"),
            vocabulary=values.get("vocabulary"),
            rows=list(rows.values()),
            curves={str(series): [(float(x), float(y)) for x, y in points]
                    for series, points in (values.get("curves") or {}).items()},
            head_starts=[HeadStart.from_dict(head) for head in heads if isinstance(head, dict)],
            seconds=values.get("seconds"), gold=values.get("gold"),
        )
        report.derive()
        return report

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Report:
        try:
            values = json.loads(text)
        except ValueError as error:
            raise CorruptFileError(f"the report is not valid JSON ({error})",
                                  "it may have been cut off; delete the run") from error
        return cls.from_dict(values)

    def to_csv(self) -> str:
        """The rows as CSV: one column per ``CSV_FIELDS`` at full precision (fractions, booleans as True/False, empty
        where None), then the ``SHOWN_FIELDS``: percentages rounded as the table shows them."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*CSV_FIELDS, *SHOWN_FIELDS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row.as_dict(), **shown_values(row)} for row in self.rows)
        return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------- columns


class Style(Enum):
    """How a column's values read."""

    TEXT = "text"
    KIND = "kind"
    PERCENT = "percent"
    POINTS = "points"
    DECIMAL = "decimal"
    MARK = "mark"


@dataclass(frozen=True)
class Column:
    """One column of the results table (window and terminal): a ``Row`` field, its title, tooltip and style.

    ``spread`` names a field shown as ``± value`` beside this one; ``note`` is a per-cell tooltip; an ``optional``
    column shows only when some row has a value in it.
    """

    field: str
    title: str
    tooltip: str
    style: Style = Style.PERCENT
    digits: int = 1
    spread: str | None = None
    note: Callable[[Row], str | None] | None = None
    optional: bool = False

    def value(self, row: Row) -> Any:
        return getattr(row, self.field)

    @property
    def numeric(self) -> bool:
        return self.style not in (Style.TEXT, Style.KIND)

    def text(self, row: Row) -> str:
        """The cell as people read it; empty where the row has no value."""
        value = self.value(row)
        if self.style is Style.KIND:
            return row.kind.label
        if value is None:
            return ""
        if self.style is Style.TEXT:
            return str(value)
        if self.style is Style.MARK:
            return "✓" if value else "✗"
        if self.style is Style.DECIMAL:
            return f"{float(value):.{self.digits}f}"
        text = f"{100 * float(value):{'+' if self.style is Style.POINTS else ''}.{self.digits}f}"
        spread = None if self.spread is None else getattr(row, self.spread)
        return text if spread is None else f"{text} ± {100 * float(spread):.{self.digits}f}"

    def sort_key(self, row: Row) -> Any:
        """What the column sorts by: text case-blind, kinds in reading order, numbers as numbers; None last."""
        if self.style is Style.KIND:
            return row.kind.order
        value = self.value(row)
        if value is None:
            return None
        return str(value).casefold() if self.style is Style.TEXT else float(value)


COLUMNS = (
    Column("name", "row", "A baseline, a recycling method, a re-tuned prompt or the source prompt.", Style.TEXT),
    Column("kind", "kind", "; ".join(f"{kind.label}: {kind.description}" for kind in RowKind) + ".", Style.KIND),
    Column("model", "model", "The model the prompt was scored on.", Style.TEXT),
    Column("accuracy", "accuracy %", "Accuracy on the test examples; for random, the mean over seeds ± half the range.",
           spread="accuracy_spread"),
    Column("macro_f1", "macro-F1 %", "F1 averaged over the classes, each class counting the same."),
    Column("auc", "AUC", "Area under the ROC curve (two-class tasks only).", Style.DECIMAL, digits=3),
    Column("calibrated_accuracy", "calibrated %",
           "Accuracy once the model's preference for one label word is taken out (label-bias calibration).",
           optional=True),
    Column("vs_best_baseline", "vs best baseline",
           "Accuracy minus the best baseline's accuracy on the target, in percentage points.", Style.POINTS),
    Column("success", "success",
           "✓ when the transferred prompt beats every baseline on the target; ✗ when it does not.", Style.MARK),
    Column("significant", "significant",
           "✓ when the difference to the best baseline is statistically significant (paired test on the same "
           "examples).", Style.MARK, optional=True),
    Column("gap_closed", "gap closed %", "How much of the way from the best baseline to the prompt re-tuned from "
           "scratch on the target (or the given prompt tuned on it) the transferred prompt gets, in percent."),
    Column("fit_seconds", "fit s", "Seconds spent fitting the recycler (0 when it came from the cache).",
           Style.DECIMAL, digits=2,
           note=lambda row: None if row.fit_loss is None else f"final fit loss {float(row.fit_loss):.4g}"),
)
"""The results table's columns, in order (window and terminal)."""

JSON_ONLY = ("confusion", "predictions")
"""Row fields kept in report.json but not in report.csv (lists)."""

CSV_FIELDS = (
    *(column.field for column in COLUMNS),
    *(f.name for f in fields(Row) if f.name not in JSON_ONLY and f.name not in {c.field for c in COLUMNS}),
)
"""report.csv's columns: the table's, then every other row field but the lists."""


_SHOWN = {
    f"{name}_{'points' if column.style is Style.POINTS else 'pct'}": (name, column.digits, column.style is Style.POINTS)
    for column in COLUMNS if column.style in (Style.PERCENT, Style.POINTS)
    for name in (column.field, *([column.spread] if column.spread else []))
}
SHOWN_FIELDS = tuple(_SHOWN)
"""report.csv's last columns: each percentage (and difference in points) rounded as the table shows it, e.g.
``accuracy_pct`` 61.0 beside ``accuracy`` 0.61 at full precision."""


def shown_values(row: Row) -> dict[str, str]:
    """A row's ``SHOWN_FIELDS`` as text, rounded as on screen; empty where the row has no value."""
    values = {}
    for name, (row_field, digits, signed) in _SHOWN.items():
        value = getattr(row, row_field)
        values[name] = "" if value is None else f"{100 * float(value):{'+' if signed else ''}.{digits}f}"
    return values


def shown_columns(rows: Sequence[Row]) -> list[Column]:
    """The columns to show for ``rows``: all but the optional ones no row has a value in."""
    return [c for c in COLUMNS if not c.optional or any(c.value(row) is not None for row in rows)]


def _seconds(value: Any) -> float | None:
    """A time stored in a report, or None when it is missing or not a number."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
