"""Many prompts at once, as the paper reports them: success rate and mean gap closed per method, and each prompt's
accuracy per method (bars grouped by prompt, the prompt's best baseline as a dashed line across its group).

Fed a ``BatchReport`` (a finished batch, or one reopened from History); exports the table as CSV and the plot as PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.batch_report import BatchReport
from ..core.errors import RecyclerError
from ..core.report import FINISHED, RowKind
from ..core.storage import write_text_atomic
from .errors import show_error
from .plots import (
    KIND_COLOURS,
    CategoryAxis,
    ExportError,
    LegendSwatch,
    legend_beside,
    method_colour,
    plot_view,
    stage_png,
)

GROUP_WIDTH = 0.8
EXPORT_WIDTH = 1400


class BatchPanel(QWidget):
    """The paper's table over many prompts, a per-prompt accuracy plot, and their exports."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.batch: BatchReport | None = None
        self.summary = QLabel("Pick several prompt files or a folder of prompts (Prompt › Browse…) and press Run: "
                              "each prompt is compared, and this page shows how often each method recycled "
                              "successfully.")
        self.summary.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setAlternatingRowColors(True)
        self.view = plot_view()
        self.axis = CategoryAxis()
        self.plot = self.view.addPlot(row=0, col=0, axisItems={"bottom": self.axis})
        self.plot.setLabel("left", "test accuracy (%)")
        self.plot.getAxis("left").setTickSpacing(20, 10)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.legend = legend_beside(self.view)
        self.export_table_button = QPushButton("Export table (CSV)…")
        self.export_plot_button = QPushButton("Export plot (PNG)…")
        self.export_table_button.clicked.connect(self.ask_export_table)
        self.export_plot_button.clicked.connect(self.ask_export_plot)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.export_table_button)
        buttons.addWidget(self.export_plot_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.view)
        splitter.setSizes([200, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        self._items: list[pg.GraphicsObject] = []
        self.show_batch(None)

    def show_batch(self, batch: BatchReport | None) -> None:
        """Show ``batch`` (None: empty)."""
        self.batch = batch
        for button in (self.export_table_button, self.export_plot_button):
            button.setEnabled(batch is not None and bool(batch.prompts))
        self._fill_table()
        self._draw()
        if batch is not None:
            self.summary.setText(self._headline(batch))

    @staticmethod
    def _headline(batch: BatchReport) -> str:
        rate = batch.success_rate
        pairs = sum(line.measured for line in batch.summaries() if line.kind is RowKind.RECYCLED)
        state = "" if batch.status == FINISHED else f" ({batch.status})"
        if rate is None:
            return f"{len(batch.prompts)} prompts{state}: no recycled rows yet."
        return (f"{len(batch.prompts)} prompts{state}: recycled successfully (beats every baseline) in "
                f"{100 * rate:.0f}% of {pairs} prompt × recycler pairs.")

    # --- table

    def _fill_table(self) -> None:
        headers, lines = self.batch.table() if self.batch is not None else ([], [])
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(lines))
        self.table.setHorizontalHeaderLabels(headers)
        for row, line in enumerate(lines):
            for column, text in enumerate(line):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    # --- plot

    def _draw(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items.clear()
        self.legend.clear()
        batch = self.batch
        prompts = batch.prompts if batch is not None else []
        lines = batch.summaries() if batch is not None else []
        text = self.palette().color(QPalette.ColorRole.WindowText)
        self.view.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.plot.setTitle("Accuracy per prompt and method (test)", color=text.name(), size="10pt")
        width = GROUP_WIDTH / max(len(lines), 1)
        for number, line in enumerate(lines):
            colour = method_colour(line.method) if line.kind is RowKind.RECYCLED else KIND_COLOURS[line.kind]
            xs = [group - GROUP_WIDTH / 2 + width * (number + 0.5) for group in range(len(prompts))]
            heights = [0.0 if a is None else 100 * a for a in line.accuracies]
            brushes = []
            for success in line.successes:
                fill = QColor(colour)
                fill.setAlpha(255 if success else 110)
                brushes.append(pg.mkBrush(fill))
            bars = pg.BarGraphItem(x=xs, height=heights, width=width * 0.9, brushes=brushes,
                                   pen=pg.mkPen(colour, width=1))
            self.plot.addItem(bars)
            self._items.append(bars)
            self.legend.addItem(LegendSwatch(pg.BarGraphItem(x=[0], height=[1], width=1, brush=colour)), line.method)
        dashed = pg.mkPen(text, width=1.5, style=Qt.PenStyle.DashLine)
        for group, prompt in enumerate(prompts):
            best = prompt.best_baseline()
            if best is not None:
                segment = pg.PlotDataItem([group - GROUP_WIDTH / 2, group + GROUP_WIDTH / 2], [100 * best] * 2,
                                          pen=dashed)
                self.plot.addItem(segment)
                self._items.append(segment)
        if prompts and any(p.best_baseline() is not None for p in prompts):
            self.legend.addItem(LegendSwatch(pg.PlotDataItem(pen=dashed)), "best baseline (per prompt)")
        for _, label in self.legend.items:
            label.setText(label.text, color=text.name())
        self.legend.setVisible(bool(lines))
        self.axis.set_labels([p.label for p in prompts])
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setPen(pg.mkPen(text))
            self.plot.getAxis(side).setTextPen(pg.mkPen(text))
        self.plot.showGrid(y=True, alpha=0.25)
        self.plot.setXRange(-0.6, max(len(prompts), 1) - 0.4, padding=0)
        self.plot.setYRange(-0.5, 105, padding=0)

    # --- exports

    def export_table(self, path: Path) -> None:
        """Write the table as CSV (percentages as shown)."""
        write_text_atomic(path, self.batch.to_csv())

    def export_plot(self, path: Path) -> None:
        """Write the plot as PNG (all or nothing)."""
        exporter = ImageExporter(self.view.ci)
        exporter.parameters()["width"] = max(int(exporter.parameters()["width"]), EXPORT_WIDTH)
        try:
            stage_png(exporter.export(toBytes=True), path).replace(path)
        except OSError as error:
            raise ExportError(f"the plot could not be saved to {path} ({error})",
                              "choose a folder you can write to") from error

    def ask_export_table(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the table", self._name("csv"), "CSV (*.csv)")
        if path:
            self._try(lambda: self.export_table(Path(path)))

    def ask_export_plot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the plot", self._name("png"), "PNG (*.png)")
        if path:
            self._try(lambda: self.export_plot(Path(path)))

    def _name(self, suffix: str) -> str:
        return str(Path.home() / f"prompts-{(self.batch and self.batch.run_id) or 'batch'}.{suffix}")

    def _try(self, work: Callable[[], None]) -> None:
        try:
            work()
        except RecyclerError as error:
            show_error(self, error)
