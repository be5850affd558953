"""Live plots of a comparison run: accuracy per row, re-tuning curves on the target and the recyclers' fit losses.

Rows (``Result`` events) and curve points (``Point`` events) arrive while a run goes; ``show_report`` rebuilds the same
plots from a stored report. The plots take their colours from the application palette, so they suit light and dark
themes, and follow it when it changes.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from ..core.errors import RecyclerError
from ..core.events import FIT_LOSS_SERIES, RETUNE_SERIES, retune_start
from ..core.report import SCRATCH, Report, Row, RowKind
from ..core.transfer.recyclers import RECYCLERS

EXPORT_NAMES = {"accuracy": "accuracy.png", "retuning": "retuning.png", "fit_loss": "fit-loss.png"}

BASELINE_GREYS = ("#8c8c8c", "#b0b0b0", "#6a6a6a")
RECYCLED = "#3d7edb"
RETUNED = "#2f9e44"
SOURCE = "#e8590c"
EXTRA_COLOURS = ("#e377c2", "#8c564b", "#7f7f7f", "#2ca02c")
BAR_WIDTH = 0.7
EXPORT_SCALE = 2
EXPORT_MIN_WIDTH = 600
EXPORT_SIZE = (700, 650)


class ExportError(RecyclerError):
    """A plot image that could not be written."""


def method_colour(method: str) -> str:
    """A recycler's own colour, the same in every plot; others get a stable extra colour made from the name."""
    recycler = RECYCLERS.get(method)
    return (recycler and recycler.colour) or EXTRA_COLOURS[sum(map(ord, method)) % len(EXTRA_COLOURS)]


SOURCE_LABEL = "source prompt (on source)"


def tick_label(row: Row) -> str:
    """The x-axis label of a report row."""
    return SOURCE_LABEL if row.kind is RowKind.SOURCE else row.name


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

    def set_labels(self, labels: list[str]) -> None:
        """Show ``labels[i]`` under x = i; the axis grows to fit the longest."""
        self._labels = list(labels)
        metrics = QFontMetricsF(self.style["tickFont"])
        angle = math.radians(self.ANGLE)
        longest = max((metrics.horizontalAdvance(text) for text in self._labels), default=0.0)
        self._overhang = longest * math.cos(angle)
        self.prepareGeometryChange()
        self.setHeight(int(longest * math.sin(angle) + metrics.height() * math.cos(angle) + 10))
        self.picture = None
        self.update()
        if self.scene() is not None:  # turned labels reach past the old height: repaint all, or stale ones linger
            self.scene().update()

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
        p.setClipping(False)
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
    """A legend key that is only a key: a filled box for bars, a line otherwise, and clicks do not hide anything."""

    def paint(self, p: QPainter, *args: Any) -> None:
        opts = self.item.opts
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(pg.mkPen(opts.get("pen")))
        if isinstance(self.item, pg.BarGraphItem):
            p.setBrush(pg.mkBrush(opts.get("brush")))
            p.drawRect(QRectF(3, 4, 14, 13))
        else:
            p.drawLine(0, 11, 20, 11)

    def mouseClickEvent(self, event: Any) -> None:
        event.ignore()


class PlotsPanel(QWidget):
    """Three plots: accuracy per report row (bars), dev accuracy while re-tuning, and recycler fit loss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._curves: dict[str, list[tuple[float, float]]] = {}
        self._curve_items: dict[str, pg.PlotDataItem] = {}
        self._value_labels: list[pg.TextItem] = []
        self._method_lines: list[pg.InfiniteLine] = []

        self.accuracy_view = pg.GraphicsLayoutWidget()
        self.accuracy_axis = CategoryAxis()
        self.accuracy_plot = self.accuracy_view.addPlot(row=0, col=0, axisItems={"bottom": self.accuracy_axis})
        self.accuracy_legend = pg.LegendItem(colCount=3, labelTextSize="8pt", verSpacing=-6)
        self.accuracy_view.addItem(self.accuracy_legend, row=1, col=0)
        self.accuracy_legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH)
        self.spread = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.2)
        self.best_line = pg.InfiniteLine(angle=0, movable=False)
        self.best_line.setVisible(False)
        self.best_line.setZValue(-1)  # behind the bars and their values
        for item in (self.bars, self.spread, self.best_line):
            self.accuracy_plot.addItem(item)
        self.accuracy_plot.setMouseEnabled(x=False, y=False)
        self.accuracy_plot.hideButtons()
        self.accuracy_plot.setMenuEnabled(False)
        self.accuracy_plot.setLabel("left", "accuracy (%)")
        self._legend_samples = self._build_accuracy_legend()

        self.retuning_view = pg.PlotWidget()
        self.retuning_plot = self.retuning_view.getPlotItem()
        self.retuning_plot.setLabel("bottom", "step")
        self.retuning_plot.setLabel("left", "dev accuracy (%)")
        self.retuning_plot.getViewBox().setDefaultPadding(0.1)  # room for the label above the highest line
        self.retuning_plot.setRange(xRange=(0, 100), yRange=(0, 100), padding=0)  # empty: percent, not pyqtgraph's 0-1
        self.retuning_plot.enableAutoRange()  # curves and lines still set the range once there are any
        self.retuning_legend = self.retuning_plot.addLegend(offset=(-6, -6), labelTextSize="8pt", verSpacing=-6)

        self.fit_view = pg.PlotWidget()
        self.fit_plot = self.fit_view.getPlotItem()
        self.fit_plot.setLogMode(x=False, y=True)
        self.fit_plot.setLabel("bottom", "epoch")
        self.fit_plot.setLabel("left", "fit loss (log)")
        self.fit_plot.getAxis("left").enableAutoSIPrefix(False)
        self.fit_legend = self.fit_plot.addLegend(offset=(-6, 6), labelTextSize="8pt", verSpacing=-6)
        for legend in (self.accuracy_legend, self.retuning_legend, self.fit_legend):
            # pyqtgraph keeps legends at screen size, which leaves them tiny in a scaled-up PNG export
            legend.setFlag(legend.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self.retuning_legend.setVisible(False)
        self.fit_legend.setVisible(False)

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.accuracy_view, 0, 0, 1, 2)
        layout.addWidget(self.retuning_view, 1, 0)
        layout.addWidget(self.fit_view, 1, 1)
        layout.setRowStretch(0, 6)
        layout.setRowStretch(1, 5)
        self.setMinimumSize(520, 480)
        self._apply_palette()

    # --- the API the main window uses

    def add_row(self, row: Row) -> None:
        """Add a report row, or replace the one with the same key."""
        for index, existing in enumerate(self._rows):
            if existing.key == row.key:
                self._rows[index] = row
                break
        else:
            self._rows.append(row)
        self._draw_bars()
        if row.kind is RowKind.RECYCLED:
            self._draw_method_lines()

    def add_point(self, series: str, x: float, y: float) -> None:
        """Add one point to a curve; series other than re-tuning and fit loss are ignored."""
        if not series.startswith((RETUNE_SERIES, FIT_LOSS_SERIES)):
            return
        self._curves.setdefault(series, []).append((float(x), float(y)))
        self._draw_curve(series)

    def clear(self) -> None:
        """Remove every row and curve."""
        self._rows.clear()
        self._curves.clear()
        for series, item in self._curve_items.items():
            plot = self.retuning_plot if series.startswith(RETUNE_SERIES) else self.fit_plot
            plot.removeItem(item)
        self._curve_items.clear()
        for legend in (self.retuning_legend, self.fit_legend):
            legend.clear()
            legend.setVisible(False)  # an empty legend is a stray box
        self._draw_bars()
        self._draw_method_lines()

    def show_report(self, report: Report) -> None:
        """Rebuild every plot from a report (its rows and curves)."""
        self.clear()
        for row in report.rows:
            self.add_row(row)
        for series, points in report.curves.items():
            if series.startswith((RETUNE_SERIES, FIT_LOSS_SERIES)) and points:
                self._curves[series] = [(float(x), float(y)) for x, y in points]
                self._draw_curve(series)

    def point_counts(self) -> dict[str, int]:
        """How many bars and curve points each plot shows (the re-tuning plot's reference lines are not counted)."""

        def points(prefix: str) -> int:
            shown = (len(self._curve_points(s)[0]) for s in self._curves if s.startswith(prefix))
            return sum(shown)

        return {"accuracy": len(self._rows), "retuning": points(RETUNE_SERIES), "fit_loss": points(FIT_LOSS_SERIES)}

    def export_png(self, folder: Path) -> list[Path]:
        """Write accuracy.png, retuning.png and fit-loss.png into ``folder`` at twice the size on screen.

        A panel that is hidden or squeezed (a collapsed splitter) exports through an off-screen twin laid out at
        ``EXPORT_SIZE``. All or nothing: when one image cannot be written, none of the three is left behind.
        """
        views = (self.accuracy_view, self.retuning_view, self.fit_view)
        if self.isVisible() and all(view.width() >= 200 and view.height() >= 150 for view in views):
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
        items = {"accuracy": self.accuracy_view.ci, "retuning": self.retuning_plot, "fit_loss": self.fit_plot}
        written: list[Path] = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for key, item in items.items():
                path = folder / EXPORT_NAMES[key]
                exporter = ImageExporter(item)
                width = int(exporter.parameters()["width"])
                exporter.parameters()["width"] = EXPORT_SCALE * max(width, EXPORT_MIN_WIDTH // EXPORT_SCALE)
                image = exporter.export(toBytes=True)
                temporary = path.with_name(f".{path.name}.part")
                if image is None or image.isNull() or not image.save(str(temporary), "PNG"):
                    raise OSError(f"could not write {temporary.name}")
                temporary.replace(path)
                written.append(path)
        except Exception as error:
            for path in [*written, *(folder / f".{name}.part" for name in EXPORT_NAMES.values())]:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            raise ExportError(
                f"the plots could not be saved to {folder} ({error})", "choose a folder you can write to"
            ) from error
        return written

    # --- drawing

    def _colours(self) -> tuple[QColor, QColor]:
        palette = self.palette()
        return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.WindowText)

    def _build_accuracy_legend(self) -> list[Any]:
        recycled_weak = QColor(RECYCLED)
        recycled_weak.setAlpha(90)
        samples: list[Any] = []
        for name, brush, pen in (
            (RowKind.BASELINE.label, BASELINE_GREYS[0], None),
            (RowKind.RECYCLED.label, recycled_weak, RECYCLED),
            (f"{RowKind.RECYCLED.label}, beats best baseline ✓", RECYCLED, None),
            (f"{RowKind.RETUNED.label} on target", RETUNED, None),
            (SOURCE_LABEL, SOURCE, None),
        ):
            sample = pg.BarGraphItem(x=[0], height=[1], width=1, brush=brush, pen=pen)
            self.accuracy_legend.addItem(LegendSwatch(sample), name)
            samples.append(sample)
        line = pg.PlotDataItem()
        self.accuracy_legend.addItem(LegendSwatch(line), "best baseline")
        samples.append(line)
        return samples

    def _bar_style(self, row: Row, baseline_index: int) -> tuple[Any, Any]:
        if row.kind is RowKind.BASELINE:
            return pg.mkBrush(BASELINE_GREYS[baseline_index % len(BASELINE_GREYS)]), pg.mkPen(None)
        if row.kind.transferred:  # a few-shot pick is a recycled prompt; its name says how it was chosen
            if row.success:
                return pg.mkBrush(RECYCLED), pg.mkPen(None)
            weak = QColor(RECYCLED)
            weak.setAlpha(90)
            return pg.mkBrush(weak), pg.mkPen(RECYCLED, width=1.5)
        if row.kind in (RowKind.RETUNED, RowKind.TARGET_PROMPT):
            return pg.mkBrush(RETUNED), pg.mkPen(None)
        return pg.mkBrush(SOURCE), pg.mkPen(None)

    def _draw_bars(self) -> None:
        background, text = self._colours()
        label_fill = QColor(background)
        label_fill.setAlpha(160)
        plot = self.accuracy_plot
        for label in self._value_labels:
            plot.removeItem(label)
        self._value_labels.clear()
        xs, heights, brushes, pens = [], [], [], []
        spread_x, spread_y, spread_h = [], [], []
        top = 100.0
        baselines = 0
        for index, row in enumerate(self._rows):
            accuracy = row.accuracy
            height = 0.0 if accuracy is None else 100 * float(accuracy)
            brush, pen = self._bar_style(row, baselines)
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
            if row.kind is RowKind.RECYCLED and row.success:
                text_value += " ✓"
            label = pg.TextItem(text_value, color=text, anchor=(0.5, 1.0), fill=label_fill)
            label.setZValue(2)  # over the best-baseline line
            font = label.textItem.font()
            font.setPointSizeF(8)
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
        plot.setXRange(-0.6, max(len(self._rows), 4) - 0.4, padding=0)
        plot.setYRange(-0.5, top * 1.1, padding=0)  # a hair below zero, so that the 0 tick is drawn

    def _draw_method_lines(self) -> None:
        for line in self._method_lines:
            self.retuning_plot.removeItem(line)
        self._method_lines.clear()
        recycled = [r for r in self._rows if r.kind is RowKind.RECYCLED and r.accuracy is not None]
        label_fill = QColor(self._colours()[0])
        label_fill.setAlpha(200)
        for index, row in enumerate(recycled):
            colour = method_colour(row.name)
            label = row.name.replace("{", "{{").replace("}", "}}")
            line = pg.InfiniteLine(
                pos=100 * float(row.accuracy), angle=0, movable=False,
                pen=pg.mkPen(colour, width=1.2, style=Qt.PenStyle.DashLine), label=label,
                labelOpts={
                    # staggered over the left half, so that close values stay readable and clear of the legend
                    "position": 0.02 + 0.08 * (index % 6), "anchors": [(0, 1), (0, 1)], "color": colour,
                    "fill": label_fill,
                },
            )
            line.setZValue(-5)
            self.retuning_plot.addItem(line)
            self._method_lines.append(line)

    def _draw_curve(self, series: str) -> None:
        retune = series.startswith(RETUNE_SERIES)
        name = series.removeprefix(RETUNE_SERIES if retune else FIT_LOSS_SERIES)
        if retune:
            start = retune_start(series)
            colour = RETUNED if start == SCRATCH else method_colour(start)
            plot, legend = self.retuning_plot, self.retuning_legend
        else:
            colour = method_colour(name)
            plot, legend = self.fit_plot, self.fit_legend
        xs, ys = self._curve_points(series)
        item = self._curve_items.get(series)
        if item is None:
            item = pg.PlotDataItem(antialias=True)
            plot.addItem(item)
            legend.addItem(item, name)
            legend.setVisible(True)
            self._curve_items[series] = item
        if len(xs) == 1:  # closed-form fits: one marker, drawn smaller over an earlier one at the same place
            size = 10 - 4 * min(self._markers_below(series, xs[0], ys[0]), 1)
            item.setData(xs, ys, pen=None, symbol="o", symbolSize=size, symbolBrush=colour, symbolPen=None)
        else:
            marker = "o" if retune else None
            item.setData(xs, ys, pen=pg.mkPen(colour, width=2), symbol=marker, symbolSize=5, symbolBrush=colour,
                         symbolPen=None)

    def _curve_points(self, series: str) -> tuple[list[float], list[float]]:
        """The points of ``series`` as plotted: accuracies in percent, only positive losses (the axis is log)."""
        if series.startswith(RETUNE_SERIES):
            points = self._curves[series]
            return [x for x, _ in points], [100 * y for _, y in points]
        kept = [(x, y) for x, y in self._curves[series] if y > 0]
        return [x for x, _ in kept], [y for _, y in kept]

    def _markers_below(self, series: str, x: float, y: float) -> int:
        """How many single-point fit-loss series created before ``series`` sit at (about) the same point."""
        count = 0
        for other in self._curve_items:
            if other == series:
                break
            points = self._curves.get(other, [])
            if other.startswith(FIT_LOSS_SERIES) and len(points) == 1:
                ox, oy = points[0]
                count += ox == x and abs(oy - y) <= 0.03 * max(abs(y), 1e-12)
        return count

    # --- palette

    def _apply_palette(self) -> None:
        background, text = self._colours()
        grid = QColor(text)
        grid.setAlpha(70)
        legend_brush = QColor(background)
        legend_brush.setAlpha(210)
        for view in (self.accuracy_view, self.retuning_view, self.fit_view):
            view.setBackground(background)
        titles = (
            (self.accuracy_plot, "Accuracy on the target"),
            (self.retuning_plot, "Re-tuning on the target"),
            (self.fit_plot, "Recycler fit loss"),
        )
        for plot, title in titles:
            plot.setTitle(title, color=text.name(), size="10pt")
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
            plot.getAxis("left").setStyle(hideOverlappingLabels=False)
            plot.showGrid(x=plot is not self.accuracy_plot, y=True, alpha=0.25)
        for legend in (self.accuracy_legend, self.retuning_legend, self.fit_legend):
            legend.setLabelTextColor(text)
            for _, label in legend.items:  # pyqtgraph 0.14 keeps the old colour until the text is set again
                label.setText(label.text, color=text.name())
            legend.setBrush(legend_brush)
            legend.setPen(pg.mkPen(grid))
        self.accuracy_legend.setBrush(pg.mkBrush(None))
        self.accuracy_legend.setPen(pg.mkPen(None))
        dashed = pg.mkPen(text, width=1.5, style=Qt.PenStyle.DashLine)
        self.best_line.setPen(dashed)
        self._legend_samples[-1].setPen(dashed)
        self._draw_bars()
        self._draw_method_lines()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
