"""Live plots of a comparison run: accuracy per row, re-tuning and teaching curves on the target and the recyclers'
fit losses.

Rows (``Result`` events) and curve points (``Point`` events) arrive while a run goes; ``show_report`` rebuilds the same
plots from a stored report. Each plot keeps its legend in a column of its own beside the data, so a legend never
covers a curve. The plots take their colours from the application palette, so they suit light and dark themes, and
follow it when it changes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QImageReader, QPainter, QPalette
from PySide6.QtWidgets import QGraphicsView, QGridLayout, QSizePolicy, QWidget

from ..core.errors import RecyclerError
from ..core.events import FIT_LOSS_SERIES, RETUNE_SERIES, START_SERIES, TEACH_SERIES, retune_start
from ..core.prompts.formats import OUR_MARK
from ..core.report import SCRATCH, HeadStart, Report, Row, RowKind
from ..core.storage import guard_outputs
from ..core.transfer.recyclers import RECYCLERS

EXPORT_NAMES = {"accuracy": "accuracy.png", "retuning": "retuning.png", "fit_loss": "fit-loss.png"}
TRAINING_SERIES = (RETUNE_SERIES, TEACH_SERIES, START_SERIES)
"""The series drawn in the re-tuning plot: dev accuracy while re-tuning, agreement with the teacher while teaching,
and the recycled prompts' dev accuracy at step 0."""
PLOTTED_SERIES = (*TRAINING_SERIES, FIT_LOSS_SERIES)

BASELINE_GREYS = ("#8c8c8c", "#b0b0b0", "#6a6a6a")
KIND_COLOURS = {
    RowKind.RECYCLED: "#3d7edb",
    RowKind.FEW_SHOT: "#3d7edb",  # a few-shot pick is a recycled prompt; its name says how it was chosen
    RowKind.TAUGHT: "#ae3ec9",
    RowKind.RETUNED: "#2f9e44",
    RowKind.TARGET_PROMPT: "#0b7285",
    RowKind.SOURCE: "#e8590c",
}
EXTRA_COLOURS = ("#e377c2", "#8c564b", "#7f7f7f", "#2ca02c")
SYMBOLS = ("o", "s", "t", "d", "star", "h", "p", "t1", "+", "x")
WEAK_ALPHA = 90
BAR_WIDTH = 0.7
LABEL_POINT_SIZE = 8.0
EXPORT_SCALE = 2
EXPORT_MIN_WIDTH = 600
EXPORT_SIZE = (900, 700)
START_HEADING = "recycled, at step 0:"
"""The re-tuning legend's line above the recycled prompts' step-0 markers (each listed by its method's name)."""
RETUNE_IDLE_TEXT = "No re-tuning in this run:\nset Re-tune steps under\nUpper bound and re-tuning."
NO_RUN_TEXT = "Training curves appear here\nwhen a run re-tunes or teaches."
"""Before any run is shown: true whatever the inputs say."""
TRAINING_LATER_TEXT = "Training curves appear here\nafter the comparison rows."
"""The re-tuning plot's text while a run that re-tunes or teaches is still scoring the comparison."""
TRAINING_STOPPED_TEXT = "The run stopped before\nits training curves."
"""The same once such a run ended (cancelled, failed) without drawing a curve."""
RETUNING_TITLE = "Re-tuning on the target"
"""The re-tuning plot's title while no warm start's saved steps are known (they replace it)."""
RETUNING_AXIS, TEACHING_AXIS = "dev accuracy (%)", "dev accuracy · agreement (%)"
"""The re-tuning plot's y-axis title, without and with a teaching curve (agreement with the teacher, held-out texts)."""


class ExportError(RecyclerError):
    """A plot image that could not be written."""


def stage_png(image: QImage | None, path: Path) -> Path:
    """Write ``image`` as a PNG marked as ours (``OUR_MARK`` as a text chunk) beside ``path``; returns the temporary
    file to move onto ``path`` (``OSError`` when it cannot be written, leaving nothing)."""
    temporary = path.with_name(f".{path.name}.part")
    if image is not None and not image.isNull():
        image.setText(*OUR_MARK)
        if image.save(str(temporary), "PNG"):
            return temporary
    temporary.unlink(missing_ok=True)
    raise OSError(f"could not write {temporary.name}")


def plot_written_by_us(path: Path) -> bool:
    """Whether ``path`` is a PNG that Prompt Recycler exported (only such images are ever replaced)."""
    reader = QImageReader(str(path))
    return path.is_file() and reader.format() == b"png" and reader.text(OUR_MARK[0]) == OUR_MARK[1]


def method_colour(method: str) -> str:
    """A recycler's own colour, the same in every plot; others get a stable extra colour made from the name."""
    recycler = RECYCLERS.get(method)
    return (recycler and recycler.colour) or EXTRA_COLOURS[sum(map(ord, method)) % len(EXTRA_COLOURS)]


def method_symbol(method: str) -> str:
    """A marker shape per recycler (in registry order), so points of equal colour or place stay apart."""
    names = list(RECYCLERS)
    index = names.index(method) if method in names else sum(map(ord, method))
    return SYMBOLS[index % len(SYMBOLS)]


SOURCE_LABEL = "source prompt (on source)"


def tick_label(row: Row) -> str:
    """The x-axis label of a report row."""
    return SOURCE_LABEL if row.kind is RowKind.SOURCE else row.name


def bar_legend_key(row: Row) -> str:
    """The accuracy chart's legend entry a row's bar belongs to."""
    if row.kind.transferred:
        strong = f"{row.kind.label}, beats best baseline ✓"
        return strong if row.success else row.kind.label
    if row.kind is RowKind.RETUNED:
        return "re-tuned on target"
    if row.kind is RowKind.TARGET_PROMPT:
        return "tuned on target (given)"
    if row.kind is RowKind.SOURCE:
        return SOURCE_LABEL
    return row.kind.label


class CategoryAxis(pg.AxisItem):
    """A bottom axis with one label per bar at 0, 1, 2, ..., turned so that long row names do not collide."""

    ANGLE = 30.0

    def __init__(self) -> None:
        super().__init__("bottom")
        font = QFont()
        font.setPointSizeF(8.5)
        self.setStyle(showValues=False, tickLength=0, tickFont=font)
        self._labels: list[str] = []
        self._overhang = 0.0
        self.set_labels([])

    def labels(self) -> list[str]:
        return list(self._labels)

    def set_labels(self, labels: list[str]) -> None:
        """Show ``labels[i]`` under x = i; the axis grows to fit the longest."""
        if labels == self._labels and self._overhang:
            return
        self._labels = list(labels)
        metrics = QFontMetricsF(self.style["tickFont"])
        angle = math.radians(self.ANGLE)
        longest = max((metrics.horizontalAdvance(text) for text in self._labels), default=0.0)
        self._overhang = longest * math.cos(angle) + 1
        self.prepareGeometryChange()
        self.setHeight(int(longest * math.sin(angle) + metrics.height() * math.cos(angle) + 10))
        self.picture = None
        self.update()

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-self._overhang, 0, 0, 0)

    def drawPicture(self, p: QPainter, axisSpec: Any, tickSpecs: Any, textSpecs: Any) -> None:
        super().drawPicture(p, axisSpec, tickSpecs, [])
        view = self.linkedView()
        low, high = self.range
        if view is None or not self._labels or high <= low:
            return
        bounds = view.mapRectToItem(self, view.boundingRect())
        metrics = QFontMetricsF(self.style["tickFont"])
        p.setClipRect(self.boundingRect())  # never draw where the scene does not know to repaint
        p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        drop = metrics.height() / 2 * math.cos(math.radians(self.ANGLE)) + 3
        for index, text in enumerate(self._labels):
            if not low <= index <= high:
                continue
            p.save()
            p.translate(bounds.left() + (index - low) / (high - low) * bounds.width(), drop)
            p.rotate(-self.ANGLE)
            width = metrics.horizontalAdvance(text) + 2
            p.drawText(QRectF(-width, -metrics.height() / 2, width, metrics.height()),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
            p.restore()


class LegendSwatch(ItemSample):
    """A legend key that is only a key: a filled box for bars, the marker or a line otherwise; clicks hide nothing."""

    def paint(self, p: QPainter, *args: Any) -> None:
        opts = self.item.opts
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if isinstance(self.item, pg.BarGraphItem):
            p.setPen(pg.mkPen(opts.get("pen")))
            p.setBrush(pg.mkBrush(opts.get("brush")))
            p.drawRect(QRectF(3, 4, 14, 13))
            return
        pen = pg.mkPen(opts.get("pen"))
        if pen.style() != Qt.PenStyle.NoPen:
            p.setPen(pen)
            p.drawLine(0, 11, 20, 11)
        if opts.get("symbol") is not None:
            p.translate(10, 11)
            drawSymbol(p, opts["symbol"], 9, pg.mkPen(opts.get("symbolPen")), pg.mkBrush(opts.get("symbolBrush")))

    def mouseClickEvent(self, event: Any) -> None:
        event.ignore()


def legend_beside(view: pg.GraphicsLayoutWidget) -> pg.LegendItem:
    """A one-column legend in the view's second column, beside the plot (never over its data)."""
    legend = pg.LegendItem(colCount=1, labelTextSize="8pt", verSpacing=-6, horSpacing=4)
    legend.setFlag(legend.GraphicsItemFlag.ItemIgnoresTransformations, False)  # scales with a PNG export
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    view.addItem(legend, row=0, col=1)
    view.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    view.ci.layout.setColumnStretchFactor(0, 1)
    view.ci.layout.setColumnStretchFactor(1, 0)
    return legend


def plot_view() -> pg.GraphicsLayoutWidget:
    view = pg.GraphicsLayoutWidget()
    # items that change size (the turned labels) leave nothing stale behind: the small view repaints whole
    view.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
    view.ci.setContentsMargins(4, 4, 4, 4)
    return view


class PlotsPanel(QWidget):
    """Three plots: accuracy per report row (bars), dev accuracy while re-tuning (and agreement with the teacher while
    teaching), and recycler fit loss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._curves: dict[str, list[tuple[float, float]]] = {}
        self._steps_saved_title: str | None = None
        self._curve_items: dict[str, pg.PlotDataItem] = {}
        self._value_labels: list[pg.TextItem] = []
        self._bar_legend_keys: list[str] = []

        self.accuracy_view = plot_view()
        self.accuracy_axis = CategoryAxis()
        self.accuracy_plot = self.accuracy_view.addPlot(row=0, col=0, axisItems={"bottom": self.accuracy_axis})
        self.accuracy_legend = legend_beside(self.accuracy_view)
        self.bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH)
        self.spread = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.2)
        self.best_line = pg.InfiniteLine(angle=0, movable=False)
        self.best_line.setVisible(False)
        self.best_line.setZValue(-1)  # behind the bars; the value labels cover it where they are
        for item in (self.bars, self.spread, self.best_line):
            self.accuracy_plot.addItem(item)
        self.accuracy_plot.setMouseEnabled(x=False, y=False)
        self.accuracy_plot.hideButtons()
        self.accuracy_plot.setMenuEnabled(False)
        self.accuracy_plot.setLabel("left", "test accuracy (%)")
        self.accuracy_plot.getAxis("left").setTickSpacing(20, 10)

        self.retuning_view = plot_view()
        self.retuning_plot = self.retuning_view.addPlot(row=0, col=0)
        self.retuning_plot.setLabel("bottom", "step")
        self.retuning_plot.setLabel("left", RETUNING_AXIS)
        self.retuning_plot.getAxis("left").setTickSpacing(20, 10)
        self.retuning_plot.setMouseEnabled(x=False, y=False)
        self.retuning_plot.hideButtons()
        self.retuning_legend = legend_beside(self.retuning_view)
        self.training_expected = False  # the run shown re-tunes or teaches
        self.retuning_idle = pg.TextItem(NO_RUN_TEXT, anchor=(0.5, 0.5))
        self.retuning_idle.setPos(50, 50)
        self.retuning_plot.addItem(self.retuning_idle)

        self.fit_view = plot_view()
        self.fit_plot = self.fit_view.addPlot(row=0, col=0)
        self.fit_plot.setLogMode(x=False, y=True)
        self.fit_plot.setLabel("bottom", "epoch")
        self.fit_plot.setLabel("left", "fit loss (log)")
        self.fit_plot.getAxis("left").enableAutoSIPrefix(False)
        self.fit_legend = legend_beside(self.fit_view)
        for legend in (self.accuracy_legend, self.retuning_legend, self.fit_legend):
            legend.setVisible(False)  # an empty legend is a stray box

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.accuracy_view, 0, 0, 1, 2)
        layout.addWidget(self.retuning_view, 1, 0)
        layout.addWidget(self.fit_view, 1, 1)
        layout.setRowStretch(0, 11)
        layout.setRowStretch(1, 9)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 1)
        self.setMinimumSize(420, 400)
        self._apply_palette()
        self._fix_retuning_range()

    # --- the API the main window uses

    def add_row(self, row: Row) -> None:
        """Add a report row, or replace the one with the same key."""
        self._put_row(row)
        self._draw_bars()

    def add_point(self, series: str, x: float, y: float) -> None:
        """Add one point to a curve; series other than re-tuning, teaching, start accuracies and fit loss are
        ignored."""
        if not series.startswith(PLOTTED_SERIES):
            return
        self._curves.setdefault(series, []).append((float(x), float(y)))
        self._draw_curve(series)

    def clear(self, training_later: bool = False) -> None:
        """Remove every row and curve; ``training_later``: the run about to be shown re-tunes or teaches."""
        self.training_expected = training_later
        self.retuning_idle.setText(TRAINING_LATER_TEXT if training_later else RETUNE_IDLE_TEXT)
        self._rows.clear()
        self._curves.clear()
        for series, item in self._curve_items.items():
            self._plot_of(series).removeItem(item)
        self._curve_items.clear()
        for legend in (self.retuning_legend, self.fit_legend):
            legend.clear()
            legend.setVisible(False)
        self.show_head_starts([])
        self._draw_bars()
        self._fix_retuning_range()

    def run_ended(self) -> None:
        """The run shown has ended: if it was to train and drew no curve, the re-tuning plot says it stopped first."""
        if self.training_expected:
            self.retuning_idle.setText(TRAINING_STOPPED_TEXT)

    def show_report(self, report: Report) -> None:
        """Rebuild every plot from a report (its rows and curves), drawing each plot once."""
        self.clear(training_later=bool(report.job.get("retune_steps") or report.job.get("teach_steps")))
        self.run_ended()
        for row in report.rows:
            self._put_row(row)
        self._draw_bars()
        for series, points in report.curves.items():
            if series.startswith(PLOTTED_SERIES) and points:
                self._curves[series] = [(float(x), float(y)) for x, y in points]
                self._draw_curve(series)
        self.show_head_starts(report.head_starts)

    def show_head_starts(self, heads: list[HeadStart]) -> None:
        """Title the re-tuning plot with the steps each warm start saved over scratch to reach its best dev accuracy
        (negative: later; never: not within the steps); none: the plot's own title."""
        saved = [f"{head.start} {'never' if head.steps_saved is None else head.steps_saved}" for head in heads]
        self._steps_saved_title = f"steps saved: {' · '.join(saved)}" if saved else None
        self._title_retuning_plot()

    def _title_retuning_plot(self) -> None:
        """The steps saved, or the plot's own title when there are none."""
        text = self._colours()[1].name()
        if self._steps_saved_title is None:
            self.retuning_plot.setTitle(RETUNING_TITLE, color=text, size="10pt")
        else:
            self.retuning_plot.setTitle(self._steps_saved_title, color=text, size="9pt")

    def point_counts(self) -> dict[str, int]:
        """How many bars and points each plot shows (re-tuning: the re-tuning and teaching curves' points and the
        start markers)."""

        def points(*prefixes: str) -> int:
            return sum(len(self._curve_points(s)[0]) for s in self._curves if s.startswith(prefixes))

        return {"accuracy": len(self._rows), "retuning": points(*TRAINING_SERIES),
                "fit_loss": points(FIT_LOSS_SERIES)}

    def export_png(self, folder: Path) -> list[Path]:
        """Write accuracy.png, retuning.png and fit-loss.png into ``folder`` at twice the size on screen.

        A panel that is hidden or squeezed (a collapsed splitter) exports through an off-screen twin laid out at
        ``EXPORT_SIZE``. All or nothing: when one image cannot be written, none of the three is left behind.
        """
        views = (self.accuracy_view, self.retuning_view, self.fit_view)
        if self.isVisible() and all(view.width() >= 300 and view.height() >= 200 for view in views):
            return self._export(Path(folder))
        twin = PlotsPanel()
        twin.setPalette(self.palette())
        twin.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        twin.resize(*EXPORT_SIZE)
        twin.show_report(Report(rows=self._rows, curves=self._curves))
        twin.show()
        try:
            return twin._export(Path(folder))
        finally:
            twin.close()
            twin.deleteLater()

    def _export(self, folder: Path) -> list[Path]:
        """Refuse first any image name in ``folder`` that holds a file not exported by us; then render all three
        beside their places and move them in, so a failure replaces nothing."""
        items = {"accuracy": self.accuracy_view.ci, "retuning": self.retuning_view.ci, "fit_loss": self.fit_view.ci}
        paths = {key: folder / name for key, name in EXPORT_NAMES.items()}
        guard_outputs(paths.values(), (), plot_written_by_us)
        staged: list[tuple[Path, Path]] = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for key, item in items.items():
                exporter = ImageExporter(item)
                width = int(exporter.parameters()["width"])
                exporter.parameters()["width"] = EXPORT_SCALE * max(width, EXPORT_MIN_WIDTH // EXPORT_SCALE)
                staged.append((stage_png(exporter.export(toBytes=True), paths[key]), paths[key]))
        except OSError as error:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)
            raise ExportError(
                f"the plots could not be saved to {folder} ({error})", "choose a folder you can write to"
            ) from error
        for temporary, path in staged:
            temporary.replace(path)
        return list(paths.values())

    # --- the accuracy chart

    def _colours(self) -> tuple[QColor, QColor]:
        palette = self.palette()
        return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.WindowText)

    def _put_row(self, row: Row) -> None:
        for index, existing in enumerate(self._rows):
            if existing.key == row.key:
                self._rows[index] = row
                return
        self._rows.append(row)

    def _bar_style(self, row: Row, baseline_index: int) -> tuple[Any, Any]:
        if row.kind is RowKind.BASELINE:
            return pg.mkBrush(BASELINE_GREYS[baseline_index % len(BASELINE_GREYS)]), pg.mkPen(None)
        colour = KIND_COLOURS[row.kind]
        if row.kind.transferred and not row.success:  # at or below the best baseline: a pale bar, outlined
            weak = QColor(colour)
            weak.setAlpha(WEAK_ALPHA)
            return pg.mkBrush(weak), pg.mkPen(colour, width=1.5)
        return pg.mkBrush(colour), pg.mkPen(None)

    def _draw_bars(self) -> None:
        background, text = self._colours()
        plot = self.accuracy_plot
        for label in self._value_labels:
            plot.removeItem(label)
        self._value_labels.clear()
        xs, heights, brushes, pens = [], [], [], []
        spread_x, spread_y, spread_h = [], [], []
        styles: dict[str, tuple[Any, Any]] = {}
        top = 100.0
        baselines = 0
        for index, row in enumerate(self._rows):
            accuracy = row.accuracy
            height = 0.0 if accuracy is None else 100 * float(accuracy)
            brush, pen = self._bar_style(row, baselines)
            styles.setdefault(bar_legend_key(row), (brush, pen))
            baselines += row.kind is RowKind.BASELINE
            xs.append(index)
            heights.append(height)
            brushes.append(brush)
            pens.append(pen)
            label_y = height
            if row.accuracy_spread:
                spread = 100 * float(row.accuracy_spread)
                spread_x.append(index)
                spread_y.append(height)
                spread_h.append(2 * spread)
                label_y = height + spread
            text_value = "–" if accuracy is None else f"{height:.1f}"
            if row.kind.transferred and row.success:
                text_value += " ✓"
            label = pg.TextItem(text_value, color=text, anchor=(0.5, 1.0), fill=pg.mkBrush(background))
            label.setZValue(2)  # over the best-baseline line, which it hides where it is
            font = label.textItem.font()
            font.setPointSizeF(LABEL_POINT_SIZE)
            label.setFont(font)
            label.setPos(index, label_y)
            plot.addItem(label)
            self._value_labels.append(label)
            top = max(top, label_y)
        if xs:
            self.bars.setOpts(x=xs, height=heights, width=BAR_WIDTH, brushes=brushes, pens=pens)
        else:  # pyqtgraph 0.14 cannot take empty lists of pens
            self.bars.setOpts(x=xs, height=heights, width=BAR_WIDTH, brushes=None, pens=None, pen=None, brush=None)
        self.spread.setData(
            x=np.array(spread_x, float), y=np.array(spread_y, float), height=np.array(spread_h, float),
            pen=pg.mkPen(text, width=1.5),
        )
        self.accuracy_axis.set_labels([tick_label(row) for row in self._rows])
        baseline_values = [r.accuracy for r in self._rows if r.kind is RowKind.BASELINE and r.accuracy]
        self.best_line.setVisible(bool(baseline_values))
        if baseline_values:
            self.best_line.setValue(100 * max(baseline_values))
        self._draw_bar_legend(styles, bool(baseline_values))
        plot.setXRange(-0.6, max(len(self._rows), 4) - 0.4, padding=0)
        plot.setYRange(-0.5, top * 1.12, padding=0)  # a hair below zero, so that the 0 tick is drawn

    def _draw_bar_legend(self, styles: dict[str, tuple[Any, Any]], best_line: bool) -> None:
        """One entry per kind of bar shown (in the order bars first appear), and the best-baseline line."""
        keys = [*styles, *(["best baseline"] if best_line else [])]
        if keys == self._bar_legend_keys:
            return
        self._bar_legend_keys = keys
        self.accuracy_legend.clear()
        for key, (brush, pen) in styles.items():
            sample = pg.BarGraphItem(x=[0], height=[1], width=1, brush=brush, pen=pen)
            self.accuracy_legend.addItem(LegendSwatch(sample), key)
        if best_line:
            line = pg.PlotDataItem(pen=self.best_line.pen)
            self.accuracy_legend.addItem(LegendSwatch(line), "best baseline")
        self.accuracy_legend.setVisible(bool(keys))
        self._colour_legend_labels(self.accuracy_legend)

    # --- curves

    def _plot_of(self, series: str) -> pg.PlotItem:
        return self.fit_plot if series.startswith(FIT_LOSS_SERIES) else self.retuning_plot

    def _draw_curve(self, series: str) -> None:
        xs, ys = self._curve_points(series)
        item = self._curve_items.get(series)
        if item is None:
            item = pg.PlotDataItem(antialias=True)
            plot = self._plot_of(series)
            plot.addItem(item)
            legend = self.fit_legend if plot is self.fit_plot else self.retuning_legend
            if series.startswith(START_SERIES) and not self._start_heading_shown():
                legend.addItem(LegendSwatch(pg.PlotDataItem(pen=None)), START_HEADING)
            legend.addItem(LegendSwatch(item), self._legend_name(series))
            legend.setVisible(True)
            self._colour_legend_labels(legend)
            self._curve_items[series] = item
        if series.startswith(RETUNE_SERIES):
            start = retune_start(series)
            colour = {SCRATCH: KIND_COLOURS[RowKind.RETUNED], RowKind.TAUGHT.value: KIND_COLOURS[RowKind.TAUGHT]}.get(
                start, method_colour(start)
            )
            item.setData(xs, ys, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5, symbolBrush=colour,
                         symbolPen=None)
            self._fix_retuning_range()
        elif series.startswith(TEACH_SERIES):
            colour = KIND_COLOURS[RowKind.TAUGHT]
            item.setData(xs, ys, pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine), symbol="d",
                         symbolSize=7, symbolBrush=colour, symbolPen=None)
            self._fix_retuning_range()
        elif series.startswith(START_SERIES):
            method = series.removeprefix(START_SERIES)
            item.setData(xs, ys, pen=None, symbol=method_symbol(method), symbolSize=11,
                         symbolBrush=method_colour(method), symbolPen=pg.mkPen(self._colours()[1], width=0.8))
            self._fix_retuning_range()
        else:
            method = series.removeprefix(FIT_LOSS_SERIES)
            colour = method_colour(method)
            if len(xs) == 1:  # closed-form fits: one marker; each method its shape, outlined, later ones smaller
                size = 13 - 3 * min(self._markers_below(series, xs[0], ys[0]), 2)
                item.setData(xs, ys, pen=None, symbol=method_symbol(method), symbolSize=size, symbolBrush=colour,
                             symbolPen=pg.mkPen(self._colours()[1], width=0.8))
            else:
                item.setData(xs, ys, pen=pg.mkPen(colour, width=2), symbol=None)

    def _legend_name(self, series: str) -> str:
        if series.startswith(TEACH_SERIES):
            return f"taught {series.removeprefix(TEACH_SERIES)} (agreement)"  # e.g. taught from procrustes
        return series.removeprefix(START_SERIES).removeprefix(RETUNE_SERIES).removeprefix(FIT_LOSS_SERIES)

    def _start_heading_shown(self) -> bool:
        return any(label.text == START_HEADING for _, label in self.retuning_legend.items)

    def _fix_retuning_range(self) -> None:
        """Dev accuracy (and agreement) on a fixed 0-100 % scale (small gaps are not blown up); steps from 0 to the
        last one of any curve."""
        curves = (RETUNE_SERIES, TEACH_SERIES)
        last = max((x for s, points in self._curves.items() if s.startswith(curves) for x, _ in points), default=0.0)
        self.retuning_idle.setVisible(not any(s.startswith(TRAINING_SERIES) for s in self._curves))
        axis = TEACHING_AXIS if any(s.startswith(TEACH_SERIES) for s in self._curves) else RETUNING_AXIS
        if self.retuning_plot.getAxis("left").labelText != axis:
            self.retuning_plot.setLabel("left", axis)
        right = last if last > 0 else 100.0
        self.retuning_plot.setRange(xRange=(0, right), yRange=(0, 100), padding=0.04)

    def _curve_points(self, series: str) -> tuple[list[float], list[float]]:
        """The points of ``series`` as plotted: accuracies in percent, only positive losses (the axis is log)."""
        if not series.startswith(FIT_LOSS_SERIES):
            points = self._curves[series]
            return [x for x, _ in points], [100 * y for _, y in points]
        kept = [(x, y) for x, y in self._curves[series] if y > 0]
        return [x for x, _ in kept], [y for _, y in kept]

    def _markers_below(self, series: str, x: float, y: float) -> int:
        """How many single-point fit-loss series created before ``series`` sit near the same point."""
        count = 0
        for other in self._curve_items:
            if other == series:
                break
            points = self._curves.get(other, [])
            if other.startswith(FIT_LOSS_SERIES) and len(points) == 1:
                ox, oy = points[0]
                count += ox == x and abs(math.log10(max(oy, 1e-12)) - math.log10(max(y, 1e-12))) <= 0.1
        return count

    # --- palette

    def _colour_legend_labels(self, legend: pg.LegendItem) -> None:
        colour = self._colours()[1].name()
        for _, label in legend.items:  # pyqtgraph 0.14 keeps the old colour until the text is set again
            label.setText(label.text, color=colour)

    def _apply_palette(self) -> None:
        background, text = self._colours()
        grid = QColor(text)
        grid.setAlpha(70)
        for view in (self.accuracy_view, self.retuning_view, self.fit_view):
            view.setBackground(background)
        self.accuracy_plot.setTitle("Accuracy on the target (test)", color=text.name(), size="10pt")
        self.fit_plot.setTitle("Recycler fit loss", color=text.name(), size="10pt")
        self._title_retuning_plot()
        for plot in (self.accuracy_plot, self.retuning_plot, self.fit_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
            plot.getAxis("left").setStyle(hideOverlappingLabels=False)
            plot.showGrid(x=plot is not self.accuracy_plot, y=True, alpha=0.25)
        for legend in (self.accuracy_legend, self.retuning_legend, self.fit_legend):
            legend.setLabelTextColor(text)
            legend.setBrush(pg.mkBrush(None))
            legend.setPen(pg.mkPen(None))
            self._colour_legend_labels(legend)
        self.retuning_idle.setColor(grid)
        self.best_line.setPen(pg.mkPen(text, width=1.5, style=Qt.PenStyle.DashLine))
        self._bar_legend_keys = []  # the legend's line follows the new pen
        self._draw_bars()
        for series in self._curves:
            self._draw_curve(series)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
