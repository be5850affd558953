"""The results table: one line per report row, sortable by the numbers, not by their text.

Rows arrive as ``Result`` events and may be sent again once derived fields (comparison to the best baseline, share of
the gap closed) are known; a row is matched by its name and kind and updated in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

SORT_ROLE = Qt.ItemDataRole.UserRole
KIND_ORDER = {"baseline": 0, "recycled": 1, "few-shot": 2, "retuned": 3, "source": 4}
SUCCESS_COLOUR = QColor("#2f9e44")
FAILURE_COLOUR = QColor("#e03131")
Index = QModelIndex | QPersistentModelIndex


def _percent(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):.1f}"


def _accuracy(row: dict[str, Any]) -> str:
    text = _percent(row.get("accuracy"))
    spread = row.get("accuracy_spread")
    return f"{text} ± {100 * float(spread):.1f}" if text and spread is not None else text


def _points(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):+.1f}"


def _success(row: dict[str, Any]) -> str:
    if row.get("kind") not in ("recycled", "few-shot") or row.get("success") is None:
        return ""
    return "✓" if row["success"] else "✗"


def _number(value: Any, digits: int) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def _sort_number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Column:
    """One column: its header, its tooltip, its text and the value it sorts by."""

    title: str
    tooltip: str
    text: Callable[[dict[str, Any]], str]
    key: Callable[[dict[str, Any]], Any]
    numeric: bool = True


COLUMNS = (
    Column("row", "A baseline, a recycling method, a re-tuned prompt or the source prompt.",
           lambda r: str(r.get("name", "")), lambda r: str(r.get("name", "")).casefold(), numeric=False),
    Column("kind", "baseline, recycled (data-free), few-shot (a recycled prompt picked with labelled target examples), "
           "retuned (trained on the target) or source (on the source model).",
           lambda r: str(r.get("kind", "")), lambda r: KIND_ORDER.get(r.get("kind"), len(KIND_ORDER)), numeric=False),
    Column("model", "The model the prompt was scored on.",
           lambda r: str(r.get("model", "")), lambda r: str(r.get("model", "")).casefold(), numeric=False),
    Column("accuracy %", "Accuracy on the test examples; for random, the mean over seeds ± half the range.",
           _accuracy, lambda r: _sort_number(r.get("accuracy"))),
    Column("macro-F1 %", "F1 averaged over the classes, each class counting the same.",
           lambda r: _percent(r.get("macro_f1")), lambda r: _sort_number(r.get("macro_f1"))),
    Column("AUC", "Area under the ROC curve (two-class tasks only).",
           lambda r: _number(r.get("auc"), 3), lambda r: _sort_number(r.get("auc"))),
    Column("vs best baseline", "Accuracy minus the best baseline's accuracy on the target, in percentage points.",
           lambda r: _points(r.get("vs_best_baseline")), lambda r: _sort_number(r.get("vs_best_baseline"))),
    Column("success", "✓ when the recycled prompt beats every baseline on the target; ✗ when it does not.",
           _success, lambda r: None if not _success(r) else float(bool(r.get("success")))),
    Column("gap closed %", "How much of the way from the best baseline to the prompt re-tuned from scratch on the "
           "target the recycled prompt gets, in percent.",
           lambda r: _percent(r.get("gap_closed")), lambda r: _sort_number(r.get("gap_closed"))),
    Column("fit s", "Seconds spent fitting the recycler (0 when it came from the cache).",
           lambda r: _number(r.get("fit_seconds"), 2), lambda r: _sort_number(r.get("fit_seconds"))),
)


class ResultsModel(QAbstractTableModel):
    """Report rows as a table; the row dicts are kept as given (copied) and updated in place."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def rowCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == SORT_ROLE:
            return column.key(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column.title == "success":
                return int(Qt.AlignmentFlag.AlignCenter)
            horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column.title == "success" and _success(row):
            return SUCCESS_COLOUR if row.get("success") else FAILURE_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole and column.title == "fit s" and row.get("fit_loss") is not None:
            return f"final fit loss {float(row['fit_loss']):.4g}"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tooltip
        return None

    def add_row(self, row: dict[str, Any]) -> int:
        """Append ``row``, or update the row with the same name and kind; returns its index."""
        key = (row.get("name"), row.get("kind"))
        for index, existing in enumerate(self._rows):
            if (existing.get("name"), existing.get("kind")) == key:
                existing.update(row)
                self.dataChanged.emit(self.index(index, 0), self.index(index, len(COLUMNS) - 1))
                return index
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(dict(row))
        self.endInsertRows()
        return len(self._rows) - 1

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = []
        for row in rows:  # through the same matching, so that a report with repeated rows keeps the last values
            key = (row.get("name"), row.get("kind"))
            match = next((r for r in self._rows if (r.get("name"), r.get("kind")) == key), None)
            if match is None:
                self._rows.append(dict(row))
            else:
                match.update(row)
        self.endResetModel()

    def row_at(self, index: int) -> dict[str, Any]:
        return self._rows[index]

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)


class _NumericSortProxy(QSortFilterProxyModel):
    """Sorts by each column's sort value; empty cells go last in ascending order."""

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            return a is not None and b is None
        return a < b


class ResultsTable(QTableView):
    """The results of a run, one line per report row; click a header to sort, select a line to see its row."""

    selection_changed = Signal(object)
    """The selected row dict, or None when nothing is selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results = ResultsModel(self)
        self.proxy = _NumericSortProxy(self)
        self.proxy.setSourceModel(self.results)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # arrival order until a header is clicked
        self.setSortingEnabled(True)
        self.selectionModel().selectionChanged.connect(self._emit_selection)
        for signal in (self.results.rowsInserted, self.results.modelReset, self.results.dataChanged):
            signal.connect(self.resizeColumnsToContents)
        self.resizeColumnsToContents()

    def add_row(self, row: dict[str, Any]) -> None:
        """Add a report row, or update the row with the same name and kind in place."""
        index = self.results.add_row(row)
        if self._selected_source_row() == index:
            self.selection_changed.emit(self.results.row_at(index))

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Show exactly ``rows`` (a stored report's); a selected row that is still there stays selected."""
        selected = self.selected_row()
        self.results.set_rows(rows)
        if selected is None:
            return
        key = (selected.get("name"), selected.get("kind"))
        for index, row in enumerate(self.results.rows()):
            if (row.get("name"), row.get("kind")) == key:
                self.selectRow(self.proxy.mapFromSource(self.results.index(index, 0)).row())
                return
        self.selection_changed.emit(None)

    def clear(self) -> None:
        """Remove every row."""
        self.set_rows([])

    def rows(self) -> list[dict[str, Any]]:
        """The row dicts in arrival order (not display order)."""
        return self.results.rows()

    def selected_row(self) -> dict[str, Any] | None:
        """The row dict of the selected line, or None."""
        index = self._selected_source_row()
        return None if index is None else self.results.row_at(index)

    def _selected_source_row(self) -> int | None:
        selected = self.selectionModel().selectedRows()
        if not selected:
            return None
        return self.proxy.mapToSource(selected[0]).row()

    def _emit_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        self.selection_changed.emit(self.selected_row())
