"""The run history dialog: stored comparison runs, newest first, to open, delete or show in the file manager.

The listing comes from ``core.runs.store.list_runs()``, which reads each run's report once (its status and best
accuracies); opening a run reads its report again, as a typed ``Report``, which also reads reports of earlier versions.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import RecyclerError
from ..core.report import INTERRUPTED, RUNNING
from ..core.runs.batch import open_batch
from ..core.runs.store import delete_run, list_runs, open_run

TITLE = "Run history"
EMPTY_TEXT = "No stored runs yet. Runs appear here as soon as a comparison starts."
COLUMNS = ("Date", "Status", "Source", "Prompt", "Target", "Task", "Rows", "Best recycled", "Best baseline")
DATE, STATUS, SOURCE, PROMPT, TARGET, TASK, ROWS, BEST_RECYCLED, BEST_BASELINE = range(len(COLUMNS))
NO_VALUE = "–"
_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def run_time(run_id: str) -> str:
    """``YYYY-mm-dd HH:MM:SS`` from a run id ``YYYYmmdd-HHMMSS-xxxxxx``; the id itself when it is not one."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return run_id


def short_name(reference: Any) -> str:
    """The last path component of a model, prompt or task reference (``org/name`` gives ``name``)."""
    text = str(reference or "").rstrip("/\\")
    return Path(text).name or text


def _percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{100 * value:.1f}%"


class RunsModel(QAbstractTableModel):
    """The rows of ``list_runs()`` as a read-only table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[dict[str, Any]] = []

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._runs = runs
        self.endResetModel()

    def run(self, row: int) -> dict[str, Any]:
        return self._runs[row]

    def row_of(self, run_id: str) -> int | None:
        return next((row for row, run in enumerate(self._runs) if run["id"] == run_id), None)

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run, column = self._runs[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            job = _job(run)
            full = {STATUS: status_note(run), SOURCE: job.get("source"), TARGET: job.get("target"),
                    TASK: job.get("task"), PROMPT: "\n".join(job.get("prompts") or []) or job.get("prompt")}
            return str(full.get(column) or f"{run['id']}\n{run['path']}")
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= ROWS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, run: dict[str, Any], column: int) -> str:
        job = _job(run)
        if column == DATE:
            return run_time(run["id"])
        if column == STATUS:
            return run_status(run)
        if column == PROMPT and job.get("prompts"):
            return f"{len(job['prompts'])} prompts"
        if column in (SOURCE, PROMPT, TARGET, TASK):
            return short_name(job.get(("source", "prompt", "target", "task")[column - SOURCE])) or NO_VALUE
        if column == ROWS:
            rows = str(run.get("rows", 0))
            return f"{rows} ({run['prompts']} prompts)" if run.get("batch") else rows
        return _percent(run.get("best_recycled") if column == BEST_RECYCLED else run.get("best_baseline"))


def run_status(run: dict[str, Any]) -> str:
    """A run's status (finished, cancelled, failed: ..., running, interrupted, no report), ``unknown`` when missing."""
    return str(run.get("status") or "unknown")


def status_note(run: dict[str, Any]) -> str:
    """The status, and what it means for the run (the status column's tooltip)."""
    status = run_status(run)
    what = "batch of prompts" if run.get("batch") else "run"
    if status == RUNNING:
        return (f"{status}: this {what} is still being written (its writer was heard from lately). It cannot be "
                "deleted until it stops: cancel it in its window first. Open shows what it has finished.")
    if status == INTERRUPTED:
        return (f"{status}: the {what}'s writer stopped without finishing it (killed, crashed or switched off). What "
                "finished is kept; nothing writes it any more, so it can be deleted.")
    return status


def is_live(run: dict[str, Any]) -> bool:
    """Still being written by a live process (the store says so from its writer and heartbeat)."""
    return run.get("status") == RUNNING


def _job(run: dict[str, Any]) -> dict[str, Any]:
    job = run.get("job")
    return job if isinstance(job, dict) else {}


class HistoryDialog(QDialog):
    """Stored comparison runs; Open emits ``run_opened`` with the run's ``Report`` (a ``BatchReport`` for a batch of
    prompts) and closes the dialog."""

    run_opened = Signal(object)
    settings_chosen = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.model = RunsModel(self)
        self.table = QTableView()
        self.table.setObjectName("runs")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self._size_columns()
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("empty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        buttons = QDialogButtonBox()
        self.open_button = self._button(buttons, "Open", QDialogButtonBox.ButtonRole.AcceptRole, self.open_selected)
        self.delete_button = self._button(
            buttons, "Delete…", QDialogButtonBox.ButtonRole.DestructiveRole, self.delete_selected
        )
        self.folder_button = self._button(
            buttons, "Show folder", QDialogButtonBox.ButtonRole.ActionRole, self.show_selected_folder
        )
        self.settings_button = self._button(
            buttons, "Use its settings", QDialogButtonBox.ButtonRole.ActionRole, self.use_selected_settings
        )
        self.settings_button.setToolTip("Fill the window's inputs with the selected run's models, prompt, task and "
                                        "settings, to run it again or change one thing")
        self.close_button = self._button(buttons, "Close", QDialogButtonBox.ButtonRole.RejectRole, self.reject)
        self.open_button.setDefault(True)
        delete_key = QShortcut(QKeySequence.StandardKey.Delete, self)
        delete_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_key.activated.connect(self.delete_selected)

        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        layout.addWidget(buttons)
        self.resize(960, 440)
        self.refresh()

    @staticmethod
    def _button(box: QDialogButtonBox, text: str, role: QDialogButtonBox.ButtonRole, slot: Any) -> QPushButton:
        button = box.addButton(text, role)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _size_columns(self) -> None:
        """Fixed starting widths, so a long history does not wait for sizing to contents."""
        header = self.table.horizontalHeader()
        char = self.table.fontMetrics().horizontalAdvance("0")
        for column, chars in enumerate((20, 14, 16, 22, 16, 14, 6, 13, 13)):
            self.table.setColumnWidth(column, chars * char)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)

    def refresh(self) -> None:
        """Read the run list again, keeping the selected run selected when it is still there."""
        keep = self.selected_run_id()
        try:
            runs = list_runs()
        except (OSError, ValueError) as error:
            runs = []
            self.empty_label.setText(f"The run history cannot be read: {error}")
        else:
            self.empty_label.setText(EMPTY_TEXT)
        self.model.set_runs(runs)
        self.stack.setCurrentWidget(self.table if runs else self.empty_label)
        if runs:
            row = self.model.row_of(keep) if keep else None
            self._select_row(0 if row is None else row)
        self._update_buttons()

    def selected_run_id(self) -> str | None:
        """The id of the selected run, or ``None``."""
        row = self._selected_row()
        return None if row is None else self.model.run(row)["id"]

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _select_row(self, row: int) -> None:
        if self.model.rowCount() == 0:
            return
        index = self.model.index(min(max(row, 0), self.model.rowCount() - 1), 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)

    def _update_buttons(self) -> None:
        row = self._selected_row()
        selected = row is not None
        for button in (self.open_button, self.folder_button, self.settings_button):
            button.setEnabled(selected)
        live = selected and is_live(self.model.run(row))
        self.delete_button.setEnabled(selected and not live)
        self.delete_button.setToolTip("A run that is still being written cannot be deleted: cancel it first."
                                      if live else "")

    def open_selected(self) -> None:
        """Load the selected run's report, emit it with ``run_opened`` and close; warn and stay open on error."""
        row = self._selected_row()
        if row is None:
            return
        run = self.model.run(row)
        try:
            report = open_batch(Path(run["path"])) if run.get("batch") else open_run(run["id"]).load_report()
        except RecyclerError as error:
            QMessageBox.warning(self, TITLE, str(error))
            if not (Path(run["path"]) / "job.json").is_file():
                self.refresh()
            return
        self.run_opened.emit(report)
        self.accept()

    def use_selected_settings(self) -> None:
        """Emit ``settings_chosen`` with the selected run's job and close."""
        row = self._selected_row()
        if row is None:
            return
        self.settings_chosen.emit(_job(self.model.run(row)))
        self.accept()

    def delete_selected(self) -> None:
        """Ask, then delete the selected run's folder and refresh the list; a live run is not deleted."""
        row = self._selected_row()
        if row is None:
            return
        run = self.model.run(row)
        if is_live(run):  # never offered: its writer would go on writing into a deleted folder
            QMessageBox.information(self, TITLE, status_note(run))
            return
        job = _job(run)
        question = (
            f"Delete the run of {run_time(run['id'])}, {short_name(job.get('source'))} → "
            f"{short_name(job.get('target'))}?\n\nIts report and recycled prompts are removed from disk."
        )
        answer = QMessageBox.question(
            self, "Delete run", question, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            delete_run(run["id"])
        except (RecyclerError, OSError) as error:
            QMessageBox.warning(self, TITLE, f"Could not delete the run {run['id']}: {error}")
        self.refresh()
        self._select_row(row)
        self._update_buttons()

    def show_selected_folder(self) -> None:
        """Open the selected run's folder in the file manager."""
        row = self._selected_row()
        if row is None:
            return
        path = self.model.run(row)["path"]
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            QMessageBox.warning(self, TITLE, f"Could not open the folder {path}.")
