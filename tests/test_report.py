"""The report model: derived comparison, JSON and CSV round trips, reports of earlier versions, one home for kinds."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from recycler_gui.core.errors import CorruptFileError
from recycler_gui.core.report import (
    COLUMNS,
    CSV_FIELDS,
    JSON_ONLY,
    SCRATCH,
    SHOWN_FIELDS,
    HeadStart,
    Report,
    Row,
    RowKind,
    shown_columns,
)

PACKAGE = Path(__file__).resolve().parent.parent / "recycler_gui"


def _report() -> Report:
    report = Report(job={"source": "s", "target": "t"}, status="finished", run_id="r", path="/runs/r")
    for row in (
        Row("no-prompt", RowKind.BASELINE, "t", 4, accuracy=0.5, predictions=[0, 0, 1, 1]),
        Row("random", RowKind.BASELINE, "t", 4, accuracy=0.6, accuracy_spread=0.05),
        Row("ridge", RowKind.RECYCLED, "t", 4, accuracy=0.8, fit_seconds=0.25, fit_loss=0.01, prompt="prompts/ridge"),
        Row("v2v-lin", RowKind.RECYCLED, "t", 4, accuracy=0.4, prompt="prompts/v2v-lin"),
        Row("few-shot pick: ridge", RowKind.FEW_SHOT, "t", 4, accuracy=0.7, calibrated_accuracy=0.75, shots=4),
        Row("re-tuned from scratch", RowKind.RETUNED, "t", 4, accuracy=1.0, start=SCRATCH, best_step=25),
        Row("source prompt", RowKind.SOURCE, "s", 4, accuracy=0.9, confusion=[[2, 0], [0, 2]]),
    ):
        report.add(row)
    report.curves["re-tune: from scratch"] = [(0, 0.5), (25, 0.75)]
    report.head_starts = [HeadStart("ridge", 50, 0.9, 25)]
    return report


def test_the_comparison_is_derived_for_transferred_rows_only() -> None:
    report = _report()
    rows = {row.name: row for row in report.rows}
    assert (report.best_baseline_accuracy, report.retuned_accuracy, report.success_rate) == (0.6, 1.0, 0.5)
    assert rows["ridge"].vs_best_baseline == pytest.approx(0.2) and rows["ridge"].success
    assert rows["ridge"].gap_closed == pytest.approx(0.5)
    assert rows["v2v-lin"].success is False and rows["v2v-lin"].gap_closed == pytest.approx(-0.5)
    assert rows["few-shot pick: ridge"].success and report.success_rate == 0.5  # few-shot is not data-free
    for name in ("no-prompt", "re-tuned from scratch", "source prompt"):
        assert (rows[name].vs_best_baseline, rows[name].success, rows[name].gap_closed) == (None, None, None)
    assert report.head_starts[0].steps_saved == 25


def test_a_given_prompt_tuned_on_the_target_is_the_bound_when_nothing_was_re_tuned() -> None:
    report = Report()
    report.add(Row("no-prompt", RowKind.BASELINE, accuracy=0.5))
    report.add(Row("ridge", RowKind.RECYCLED, accuracy=0.6))
    report.add(Row(RowKind.TARGET_PROMPT.label, RowKind.TARGET_PROMPT, accuracy=0.7))
    assert report.retuned_accuracy == 0.7 and report.rows[1].gap_closed == pytest.approx(0.5)
    report.add(Row("ridge", RowKind.RECYCLED, accuracy=0.65))  # the same key replaces the row
    assert len(report.rows) == 3 and report.rows[1].gap_closed == pytest.approx(0.75)


def test_a_transferred_row_beats_the_best_baseline_significantly_only_by_a_paired_test() -> None:
    gold = [1] * 40
    report = Report(gold=gold)
    report.add(Row("no-prompt", RowKind.BASELINE, accuracy=0.6, predictions=[1] * 24 + [0] * 16))
    report.add(Row("class-label", RowKind.BASELINE, accuracy=0.3, predictions=[0] * 28 + [1] * 12))
    # right where the best baseline is right, and on 10 more of its 16 misses: 10 vs 0 discordant, p = 0.002
    report.add(Row("taught", RowKind.TAUGHT, accuracy=0.85, predictions=[1] * 34 + [0] * 6))
    # 3 more right than the best baseline: 3 vs 0, p = 0.25, a strict win but not a significant one
    report.add(Row("ridge", RowKind.RECYCLED, accuracy=0.675, predictions=[1] * 27 + [0] * 13))
    report.add(Row("worse", RowKind.RECYCLED, accuracy=0.5, predictions=[1] * 20 + [0] * 20))
    report.add(Row("source prompt", RowKind.SOURCE, accuracy=0.9, predictions=[1] * 36 + [0] * 4))
    rows = {row.name: row for row in report.rows}
    assert (rows["taught"].success, rows["taught"].significant) == (True, True)
    assert (rows["ridge"].success, rows["ridge"].significant) == (True, False)
    assert (rows["worse"].success, rows["worse"].significant) == (False, False)
    assert rows["source prompt"].significant is None and rows["no-prompt"].significant is None
    assert Report.from_json(report.to_json()).rows[2].significant is True  # gold travels with the report
    report.gold = None
    report.derive()
    assert rows["taught"].significant is None  # no labels, no test


def test_json_round_trip_keeps_everything() -> None:
    report = _report()
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.rows[0].predictions == [0, 0, 1, 1] and again.rows[-1].confusion == [[2, 0], [0, 2]]


def test_csv_holds_every_scalar_field_and_reads_back() -> None:
    report = _report()
    table = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert list(table[0]) == [*CSV_FIELDS, *SHOWN_FIELDS] and not set(JSON_ONLY) & set(CSV_FIELDS)
    assert CSV_FIELDS[:4] == ("name", "kind", "model", "accuracy")
    for line, row in zip(table, report.rows, strict=True):
        for name in CSV_FIELDS:
            value = getattr(row, name)
            assert line[name] == ("" if value is None else str(value)), name
    assert table[5]["kind"] == "retuned" and table[2]["prompt"] == "prompts/ridge"


def test_csv_percentages_read_as_the_table_shows_them_beside_the_full_precision() -> None:
    report = Report()
    report.add(Row("random", RowKind.BASELINE, accuracy=0.7266666666666667, accuracy_spread=0.0116666666))
    report.add(Row("ridge", RowKind.RECYCLED, accuracy=0.81, macro_f1=0.7999999999999999))
    table = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert table[0]["accuracy"] == "0.7266666666666667" and table[0]["accuracy_pct"] == "72.7"
    assert table[0]["accuracy_spread_pct"] == "1.2" and table[0]["vs_best_baseline_points"] == ""
    assert table[1]["macro_f1_pct"] == "80.0" and table[1]["vs_best_baseline_points"] == "+8.3"
    assert table[1]["success"] == "True" and table[1]["gap_closed_pct"] == ""
    table_text = [COLUMNS[3].text(row) for row in report.rows]
    assert table_text == ["72.7 ± 1.2", "81.0"]  # the same digits as the window and the terminal


def test_a_report_of_the_previous_version_reads_as_the_typed_report() -> None:
    old = {
        "status": "finished", "rows": [
            {"name": "no-prompt", "kind": "baseline", "accuracy": 0.5},
            {"name": "kernel", "kind": "recycled", "accuracy": 0.7, "success": False, "colour": "red"},
            {"name": "few-shot pick: kernel", "kind": "few-shot", "accuracy": 0.7},
            {"name": "tuned on target", "kind": "retuned", "start": "given", "accuracy": 0.9},
            {"name": "re-tuned from kernel", "kind": "retuned", "start": "kernel", "accuracy": 0.8},
            "not a row",
        ],
        "head_start": {"method": "kernel", "scratch_best_step": 10, "scratch_best_dev_accuracy": 0.8,
                       "recycled_steps_to_match": None, "steps_saved": None},
    }
    report = Report.from_dict(old)
    kinds = [row.kind for row in report.rows]
    assert kinds == [RowKind.BASELINE, RowKind.RECYCLED, RowKind.FEW_SHOT, RowKind.TARGET_PROMPT, RowKind.RETUNED]
    assert [row.prompt for row in report.rows] == [
        None, "prompts/kernel", "prompts/few-shot pick", "prompts/tuned-on-target", "prompts/retuned-from-kernel",
    ]
    assert report.rows[1].success is True  # derived again from the rows, not trusted from the file
    assert [(h.start, h.steps_saved) for h in report.head_starts] == [("kernel", None)]  # the old single head start
    assert report.retuned_accuracy == 0.9
    new = Report.from_json(report.to_json())
    assert new.rows[0].prompt is None and new == report  # a row without a prompt stays without one


def test_an_unknown_row_kind_or_a_non_object_is_a_corrupt_report() -> None:
    with pytest.raises(CorruptFileError, match="unknown kind 'dreamt'"):
        Report.from_dict({"report_format": 2, "rows": [{"name": "x", "kind": "dreamt"}]})
    with pytest.raises(CorruptFileError, match="not a JSON object"):
        Report.from_json("[1, 2]")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        Report.from_json('{"rows": [')


def test_columns_read_as_people_expect() -> None:
    report = _report()
    texts = {c.title: c.text(report.rows[1]) for c in COLUMNS}
    assert texts["accuracy %"] == "60.0 ± 5.0" and texts["kind"] == "baseline" and texts["success"] == ""
    ridge = {c.title: c.text(report.rows[2]) for c in COLUMNS}
    assert (ridge["vs best baseline"], ridge["success"], ridge["gap closed %"], ridge["fit s"]) == (
        "+20.0", "✓", "50.0", "0.25")
    assert [c.title for c in shown_columns(report.rows[:4])] == [c.title for c in COLUMNS if not c.optional]
    assert "calibrated %" in [c.title for c in shown_columns(report.rows)]
    kind = next(c for c in COLUMNS if c.title == "kind")
    assert sorted(report.rows, key=kind.sort_key)[-1].kind is RowKind.SOURCE
    assert RowKind.TARGET_PROMPT.label in kind.tooltip and RowKind.TAUGHT.transferred


def test_row_kinds_are_spelled_only_in_the_report_module() -> None:
    literal = re.compile(r"""["'](baseline|recycled|retuned)["']""")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py") if path.name != "report.py" or path.parent.name != "core"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if literal.search(line)
    ]
    assert found == []
