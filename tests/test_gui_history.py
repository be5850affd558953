"""The run history dialog lists stored runs newest first, opens, deletes and shows them, and survives bad reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt
from recycler_gui.core.report import Report, Row, RowKind
from recycler_gui.core.runs.store import RunFolder, runs_root
from recycler_gui.gui.history import EMPTY_TEXT, HistoryDialog
from recycler_gui.gui.main_window import MainWindow
from recycler_gui.gui.resources import app_icon

OLD, MIDDLE, NEW = "20250101-090000-aaaaaa", "20250102-100000-bbbbbb", "20250103-110000-cccccc"


def make_run(run_id: str, report: Report | dict[str, Any] | None, **job: Any) -> RunFolder:
    """A stored run with a fixed id (so the order is known), its job and, unless ``None``, its report: a ``Report``
    as this version stores it, or a dict written as JSON as it stands (as earlier versions wrote reports)."""
    created = RunFolder.create({"source": "/models/gpt2-small", "target": "org/tiny-llama", "prompt": "p.npy",
                                "task": "movie-reviews", **job})
    folder = RunFolder(created.path.rename(created.path.with_name(run_id)))
    if isinstance(report, Report):
        folder.save_report(report)
    elif report is not None:
        (folder.path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return folder


def report(status: str = "finished", recycled: float = 0.8, baseline: float = 0.6) -> Report:
    made = Report(status=status)
    for row in (
        Row("no-prompt", RowKind.BASELINE, accuracy=baseline),
        Row("random", RowKind.BASELINE, accuracy=baseline - 0.1),
        Row("v2v-lin", RowKind.RECYCLED, accuracy=recycled - 0.05),
        Row("procrustes", RowKind.RECYCLED, accuracy=recycled),
    ):
        made.add(row)
    return made


OLD_REPORT = {
    "job": {"source": "smollm2-135m", "target": "gemma3-270m", "prompt": "p", "target_prompt": "t"},
    "status": "finished", "writer": {"host": "elsewhere", "pid": 1}, "run_id": OLD, "path": "/moved/away",
    "task": {"name": "movie-reviews", "label_words": [" negative", " positive"]},
    "vocabulary": {"shared_words": 100},
    "rows": [
        {"name": "no-prompt", "kind": "baseline", "accuracy": 0.5, "macro_f1": 0.4, "auc": 0.6,
         "confusion": [[1, 1], [0, 2]], "model": "gemma3-270m", "examples": 4},
        {"name": "procrustes", "kind": "recycled", "accuracy": 0.75, "macro_f1": 0.7, "auc": 0.8,
         "confusion": [[2, 0], [1, 1]], "model": "gemma3-270m", "examples": 4, "fit_seconds": 0.5, "fit_loss": 0.1,
         "vs_best_baseline": 0.25, "success": True, "gap_closed": 0.5},
        {"name": "tuned on target", "kind": "retuned", "start": "given", "accuracy": 1.0, "model": "gemma3-270m",
         "examples": 4, "macro_f1": 1.0, "auc": 1.0, "confusion": [[2, 0], [0, 2]]},
        {"name": "source prompt", "kind": "source", "accuracy": 0.9, "model": "smollm2-135m", "examples": 4},
    ],
    "curves": {"fit loss: procrustes": [[1, 0.1]]},
    "seconds": 12.5, "best_baseline_accuracy": 0.5, "retuned_accuracy": 1.0, "success_rate": 1.0,
}
"""A report as the version before the typed report wrote it: the given tuned prompt is kind "retuned", start
"given", and rows do not say where their prompt is."""


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no runs (the session's shared data folder holds the pipeline tests' runs)."""
    monkeypatch.setenv("PROMPT_RECYCLER_DATA", str(tmp_path / "data"))


@pytest.fixture
def three_runs() -> dict[str, RunFolder]:
    return {
        OLD: make_run(OLD, report("cancelled", 0.55, 0.5), source="/m/llama-3-1b", target="/m/qwen-0.5b/"),
        MIDDLE: make_run(MIDDLE, report("failed: out of memory", 0.7, 0.65), task="/data/reviews.csv"),
        NEW: make_run(NEW, report("finished", 0.8, 0.6)),
    }


def open_dialog(qtbot) -> HistoryDialog:
    dialog = HistoryDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def cells(dialog: HistoryDialog, row: int) -> list[str]:
    model = dialog.model
    return [model.data(model.index(row, column)) for column in range(model.columnCount())]


def test_runs_are_listed_newest_first_with_their_summary(qtbot, three_runs: dict[str, RunFolder]) -> None:
    dialog = open_dialog(qtbot)
    assert dialog.windowTitle() == "Run history"
    assert dialog.stack.currentWidget() is dialog.table
    assert [dialog.model.run(row)["id"] for row in range(dialog.model.rowCount())] == [NEW, MIDDLE, OLD]
    assert cells(dialog, 0) == [
        "2025-01-03 11:00:00", "finished", "gpt2-small", "p.npy", "tiny-llama", "movie-reviews", "4", "80.0%", "60.0%"
    ]
    assert cells(dialog, 1)[1:6] == ["failed: out of memory", "gpt2-small", "p.npy", "tiny-llama", "reviews.csv"]
    assert cells(dialog, 2)[1:5] == ["cancelled", "llama-3-1b", "p.npy", "qwen-0.5b"]
    assert dialog.selected_run_id() == NEW
    assert dialog.open_button.isEnabled()


def test_open_emits_the_report_and_closes(qtbot, three_runs: dict[str, RunFolder]) -> None:
    dialog = open_dialog(qtbot)
    with qtbot.waitSignal(dialog.run_opened) as opened:
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened.args[0].status == "finished"
    assert opened.args[0].run_id == NEW
    assert [row.name for row in opened.args[0].rows] == ["no-prompt", "random", "v2v-lin", "procrustes"]
    assert not dialog.isVisible()
    assert dialog.result() == HistoryDialog.DialogCode.Accepted


def test_a_stored_runs_settings_fill_the_inputs_to_run_it_again(qtbot, tmp_path: Path) -> None:
    """Open showed a run's table but left the inputs as they were: Run then ran another job."""
    make_run(NEW, report(), methods=["procrustes", "ridge"], eval_size=50, retune_steps=30, retired_setting=1)
    make_run(OLD, None, prompt=None, prompts=["a.npy", "b.npy"])  # a batch of prompts
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    dialog = open_dialog(qtbot)
    dialog.settings_chosen.connect(window.use_settings)
    qtbot.mouseClick(dialog.settings_button, Qt.MouseButton.LeftButton)
    job = window.inputs.job()
    assert (job.source, job.target, job.prompt) == ("/models/gpt2-small", "org/tiny-llama", "p.npy")
    assert (sorted(job.methods), job.eval_size, job.retune_steps) == (["procrustes", "ridge"], 50, 30)
    assert window.status.stage.text().startswith("A stored run's settings are in the inputs")
    dialog = open_dialog(qtbot)
    dialog.settings_chosen.connect(window.use_settings)
    assert cells(dialog, 1)[3] == "2 prompts"  # a batch's prompts, named in the column's tooltip
    dialog.table.selectRow(1)
    dialog.use_selected_settings()
    assert window.inputs.prompt.path() == "a.npy; b.npy"


def test_enter_and_double_click_open_the_run(qtbot, three_runs: dict[str, RunFolder]) -> None:
    dialog = open_dialog(qtbot)
    dialog.table.setFocus()
    with qtbot.waitSignal(dialog.run_opened) as opened:
        qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert opened.args[0].run_id == NEW

    dialog = open_dialog(qtbot)
    rect = dialog.table.visualRect(dialog.model.index(2, 0))
    with qtbot.waitSignal(dialog.run_opened) as opened:
        qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args[0].run_id == OLD
    assert opened.args[0].status == "cancelled"


def test_delete_asks_and_removes_the_run_only_on_yes(
    qtbot, three_runs: dict[str, RunFolder], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(parent: Any, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    dialog = open_dialog(qtbot)
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert "2025-01-03 11:00:00, gpt2-small → tiny-llama" in asked[0]
    assert three_runs[NEW].path.is_dir()
    assert dialog.model.rowCount() == 3

    answer = QMessageBox.StandardButton.Yes
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert not three_runs[NEW].path.exists()
    assert [dialog.model.run(row)["id"] for row in range(dialog.model.rowCount())] == [MIDDLE, OLD]
    assert dialog.selected_run_id() == MIDDLE
    assert dialog.isVisible()


def test_the_delete_key_deletes_after_asking(
    qtbot, three_runs: dict[str, RunFolder], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *args: asked.append(text) or QMessageBox.StandardButton.Yes
    )
    dialog = open_dialog(qtbot)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.table.setFocus()
    dialog.table.selectRow(2)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Delete)
    assert len(asked) == 1 and "llama-3-1b → qwen-0.5b" in asked[0]
    assert not three_runs[OLD].path.exists()
    assert dialog.model.rowCount() == 2
    assert dialog.selected_run_id() == MIDDLE


def test_a_corrupt_report_is_listed_and_opening_it_warns(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    make_run(NEW, report())
    broken = make_run(OLD, None)
    (broken.path / "report.json").write_text('{"status": "fini', encoding="utf-8")
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    dialog = open_dialog(qtbot)
    assert cells(dialog, 1)[1] == "no report"
    assert cells(dialog, 1)[6:] == ["0", "–", "–"]
    dialog.table.selectRow(1)
    with qtbot.assertNotEmitted(dialog.run_opened):
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert len(warnings) == 1 and "no readable report" in warnings[0]
    assert dialog.isVisible()
    assert dialog.selected_run_id() == OLD


def test_a_run_deleted_elsewhere_warns_and_leaves_the_list(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = make_run(NEW, report())
    make_run(OLD, report())
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    dialog = open_dialog(qtbot)
    shutil.rmtree(gone.path)
    with qtbot.assertNotEmitted(dialog.run_opened):
        dialog.open_selected()
    assert "no stored run" in warnings[0]
    assert [dialog.model.run(row)["id"] for row in range(dialog.model.rowCount())] == [OLD]


def test_show_folder_opens_the_run_folder(
    qtbot, three_runs: dict[str, RunFolder], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    dialog = open_dialog(qtbot)
    qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(three_runs[NEW].path))]


def test_empty_state_and_refresh(qtbot) -> None:
    dialog = open_dialog(qtbot)
    assert dialog.stack.currentWidget() is dialog.empty_label
    assert dialog.empty_label.text() == EMPTY_TEXT
    assert dialog.selected_run_id() is None
    assert not dialog.open_button.isEnabled() and not dialog.delete_button.isEnabled()
    dialog.open_selected()
    dialog.delete_selected()
    make_run(NEW, {"status": "running", "rows": []})
    dialog.refresh()
    assert dialog.stack.currentWidget() is dialog.table
    assert cells(dialog, 0)[1] == "running"
    assert dialog.selected_run_id() == NEW


def test_two_hundred_runs_list_with_their_summaries(qtbot) -> None:
    curves = {"re-tune: from scratch": [(step, 0.5) for step in range(0, 1000, 5)]}
    for number in range(200):
        made = report()
        made.curves = curves
        make_run(f"2025{number // 28 + 1:02d}{number % 28 + 1:02d}-120000-{number:06x}", made)
    dialog = open_dialog(qtbot)
    assert dialog.model.rowCount() == 200
    assert cells(dialog, 0)[6:] == ["4", "80.0%", "60.0%"]
    assert runs_root().is_dir()


def test_a_run_stored_by_the_previous_version_opens_shows_and_exports(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_run(OLD, OLD_REPORT)
    write_prompt(SoftPrompt(torch.randn(4, 8)), folder.path / "prompts" / "tuned-on-target", "peft")
    dialog = open_dialog(qtbot)
    assert cells(dialog, 0)[1:] == [
        "finished", "gpt2-small", "p.npy", "tiny-llama", "movie-reviews", "4", "75.0%", "50.0%"]
    with qtbot.waitSignal(dialog.run_opened) as opened:
        dialog.open_selected()
    stored: Report = opened.args[0]
    assert [row.kind for row in stored.rows] == [
        RowKind.BASELINE, RowKind.RECYCLED, RowKind.TARGET_PROMPT, RowKind.SOURCE,
    ]
    bound = stored.rows[2]
    assert bound.start is None and bound.prompt == "prompts/tuned-on-target"
    assert stored.rows[1].prompt == "prompts/procrustes" and stored.rows[0].prompt is None
    assert (stored.best_baseline_accuracy, stored.retuned_accuracy, stored.rows[1].gap_closed) == (0.5, 1.0, 0.5)
    assert stored.path == str(folder.path)  # where the run is now, not where the report was written

    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show_report(stored)
    assert [row.name for row in window.table.rows()] == [row.name for row in stored.rows]
    assert window.plots.point_counts() == {"accuracy": 4, "retuning": 0, "fit_loss": 1}
    shown = window.table.model()
    window.table.selectRow(next(i for i in range(shown.rowCount()) if shown.index(i, 0).data() == "tuned on target"))
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *a: (str(tmp_path / "bound.npy"), "NumPy array (*.npy)"))
    window.export_prompt()
    assert read_prompt(tmp_path / "bound.npy").dim == 8


def test_app_icon_is_not_null(qapp) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(64, 64).isNull()


def test_a_live_run_is_told_from_a_dead_one_and_never_offered_for_deletion(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import subprocess
    import sys
    import time

    from recycler_gui.core.runs.store import writer_identity

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = report(status="running")
    live.writer, live.heartbeat = writer_identity(), time.time()
    dead = report(status="running")
    dead.writer = {"host": socket.gethostname(), "pid": int(finished.stdout)}  # that process has ended
    make_run(NEW, live)
    make_run(MIDDLE, dead)
    asked: list[str] = []
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    dialog = open_dialog(qtbot)
    assert [cells(dialog, row)[1] for row in range(2)] == ["running", "interrupted"]
    status = dialog.model.index(0, 1)
    assert "still being written" in dialog.model.data(status, Qt.ItemDataRole.ToolTipRole)
    dialog._select_row(0)
    assert not dialog.delete_button.isEnabled() and "cannot be deleted" in dialog.delete_button.toolTip()
    dialog.delete_selected()  # the Delete key: no question, no deletion, a note why
    assert asked == [] and "cancel it in its window first" in told[0]
    assert (runs_root() / NEW).is_dir()
    dialog._select_row(1)
    assert dialog.delete_button.isEnabled()
    assert "can be deleted" in dialog.model.data(dialog.model.index(1, 1), Qt.ItemDataRole.ToolTipRole)
    dialog.delete_selected()
    assert len(asked) == 1 and "stop that first" not in asked[0] and not (runs_root() / MIDDLE).exists()
