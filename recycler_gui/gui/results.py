"""The results table: one line per report row, sortable by the numbers, not by their text.

Rows arrive as ``Result`` events while a run goes, then the finished (or reopened) report replaces them all with
``set_rows``: only then are derived fields of earlier rows final (the gap closed needs the re-tuned bound, which comes
last). The columns are ``core.report.COLUMNS``; an optional column shows only while some row has a value in it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..core.report import COLUMNS, Row, Style, shown_columns

SORT_ROLE = Qt.ItemDataRole.UserRole
SUCCESS_COLOUR = QColor("#2f9e44")
FAILURE_COLOUR = QColor("#e03131")
Index = QModelIndex | QPersistentModelIndex


class ResultsModel(QAbstractTableModel):
    """Report rows as a table, one line per row key (kind and name)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []

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
            return column.sort_key(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column.style is Style.MARK:
                return int(Qt.AlignmentFlag.AlignCenter)
            horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column.style is Style.MARK and column.value(row) is not None:
            return SUCCESS_COLOUR if column.value(row) else FAILURE_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole and column.note is not None:
            return column.note(row)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tooltip
        return None

    def add_row(self, row: Row) -> int:
        """Append ``row``, or replace the row with the same key; returns its index."""
        for index, existing in enumerate(self._rows):
            if existing.key == row.key:
                self._rows[index] = row
                self.dataChanged.emit(self.index(index, 0), self.index(index, len(COLUMNS) - 1))
                return index
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()
        return len(self._rows) - 1

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, index: int) -> Row:
        return self._rows[index]

    def rows(self) -> list[Row]:
        return list(self._rows)


class _NumericSortProxy(QSortFilterProxyModel):
    """Sorts by each column's sort value; empty cells go last in ascending order."""

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            return a is not None and b is None
        return a < b


class ResultsTable(QTableView):
    """The results of a run, one line per report row; click a header to sort, select a line for its prompt."""

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
        for signal in (self.results.rowsInserted, self.results.modelReset, self.results.dataChanged):
            signal.connect(self._fit_columns)
        self._fit_columns()

    def add_row(self, row: Row) -> None:
        """Add a report row, or replace the row with the same key in place."""
        self.results.add_row(row)

    def set_rows(self, rows: list[Row]) -> None:
        """Show exactly ``rows`` (a report's); a selected row that is still there stays selected."""
        selected = self.selected_row()
        self.results.set_rows(rows)
        if selected is None:
            return
        for index, row in enumerate(self.results.rows()):
            if row.key == selected.key:
                self.selectRow(self.proxy.mapFromSource(self.results.index(index, 0)).row())
                return

    def clear(self) -> None:
        """Remove every row."""
        self.set_rows([])

    def rows(self) -> list[Row]:
        """The rows in arrival order (not display order)."""
        return self.results.rows()

    def selected_row(self) -> Row | None:
        """The row of the selected line, or None."""
        selected = self.selectionModel().selectedRows()
        return self.results.row_at(self.proxy.mapToSource(selected[0]).row()) if selected else None

    def _fit_columns(self) -> None:
        shown = shown_columns(self.results.rows())
        for number, column in enumerate(COLUMNS):
            self.setColumnHidden(number, column not in shown)
        self.resizeColumnsToContents()
