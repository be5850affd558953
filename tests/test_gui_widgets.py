"""The plots panel, the results table and the inputs on their own: rows and points in, counts, sorting, selection,
export, job defaults, and a recycler the window was not written for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from recycler_gui.core.errors import OverwriteError, WriteError
from recycler_gui.core.fields import default_of, help_of
from recycler_gui.core.report import COLUMNS, Report, Row, RowKind
from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.transfer.recyclers import RECYCLERS, Recycler
from recycler_gui.gui.errors import sentence
from recycler_gui.gui.inputs import NOT_FETCHED_TEXT, InputsPanel
from recycler_gui.gui.main_window import EXPORT_FORMATS, REPORT_FORMATS, with_format
from recycler_gui.gui.plots import SOURCE_LABEL, PlotsPanel, method_colour
from recycler_gui.gui.responsiveness import percentile
from recycler_gui.gui.results import ResultsTable

ACCURACY = next(i for i, c in enumerate(COLUMNS) if c.title == "accuracy %")
SUCCESS = next(i for i, c in enumerate(COLUMNS) if c.title == "success")
FIT = next(c for c in COLUMNS if c.title == "fit s")


def _rows() -> list[Row]:
    return [
        Row("no-prompt", RowKind.BASELINE, "t", accuracy=0.61, macro_f1=0.5, auc=0.6),
        Row("random", RowKind.BASELINE, "t", accuracy=0.727, accuracy_spread=0.012),
        Row("relative", RowKind.RECYCLED, "t", accuracy=0.095, fit_seconds=1.5),
        Row("ridge", RowKind.RECYCLED, "t", accuracy=0.81, fit_seconds=0.2, fit_loss=0.01),
        Row("re-tuned from scratch", RowKind.RETUNED, "t", start="scratch", accuracy=0.86),
        Row("source prompt", RowKind.SOURCE, "s", accuracy=0.89),
    ]


def _report() -> Report:
    curves = {
        "re-tune: from scratch": [[0, 0.7], [25, 0.8], [50, 0.85]],
        "re-tune: from ridge": [[0, 0.8], [25, 0.86]],
        "fit loss: v2v-nn": [[0, 0.08], [1, 0.05], [2, 0.03], [3, 0.02]],
        "fit loss: ridge": [[1, 0.015]],
        "scoring": [[1, 2]],
    }
    return Report(rows=_rows(), curves=curves)


@pytest.fixture
def panel(qtbot) -> PlotsPanel:
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 650)
    panel.show()
    return panel


@pytest.fixture
def table(qtbot) -> ResultsTable:
    table = ResultsTable()
    qtbot.addWidget(table)
    return table


def _background(panel: PlotsPanel) -> set[str]:
    views = (panel.accuracy_view, panel.retuning_view, panel.fit_view)
    return {view.backgroundBrush().color().name() for view in views}


def _dark() -> QPalette:
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.WindowText, "#e6e6e6"), (QPalette.ColorRole.Text, "#e6e6e6")):
        palette.setColor(role, QColor(colour))
    return palette


def test_rows_and_points_show_up_in_the_counts(panel: PlotsPanel) -> None:
    assert panel.point_counts() == {"accuracy": 0, "retuning": 0, "fit_loss": 0}
    for row in _rows():
        panel.add_row(row)
    panel.add_row(replace(_rows()[3], success=True, vs_best_baseline=0.08))  # the same row again
    for step, accuracy in ((0, 0.7), (25, 0.8)):
        panel.add_point("re-tune: from scratch", step, accuracy)
    panel.add_point("fit loss: ridge", 1, 0.015)
    panel.add_point("scoring the target", 1, 2)  # not a plotted series
    assert panel.point_counts() == {"accuracy": 6, "retuning": 2, "fit_loss": 1}
    panel.clear()
    assert panel.point_counts() == {"accuracy": 0, "retuning": 0, "fit_loss": 0}


def test_the_retuning_plot_reads_0_to_100_percent_before_and_after_points(panel: PlotsPanel) -> None:
    def y_range() -> list[float]:
        low, high = panel.retuning_plot.viewRange()[1]
        return [round(low), round(high)]

    assert -5 <= y_range()[0] <= 0 and 100 <= y_range()[1] <= 105  # not pyqtgraph's empty 0-1
    assert panel.retuning_idle.isVisible()  # says why it is empty
    for step, accuracy in ((0, 0.7), (25, 0.8)):
        panel.add_point("re-tune: from scratch", step, accuracy)
    assert -5 <= y_range()[0] <= 0 and 100 <= y_range()[1] <= 105  # fixed: small gaps are not blown up
    assert panel.retuning_plot.viewRange()[0][1] == pytest.approx(25, abs=2)
    assert not panel.retuning_idle.isVisible()


def test_recycled_prompts_show_on_the_retuning_plot_only_as_their_dev_accuracy_at_step_0(panel: PlotsPanel) -> None:
    for row in _rows():
        panel.add_row(row)
    assert panel.point_counts()["retuning"] == 0  # test accuracies stay on the accuracy chart
    assert not [item for item in panel.retuning_plot.items if isinstance(item, pg.InfiniteLine)]
    panel.add_point("dev at start: ridge", 0, 0.8)
    panel.add_point("re-tune: from ridge", 0, 0.8)
    panel.add_point("re-tune: from ridge", 25, 0.86)
    assert panel.point_counts()["retuning"] == 3
    names = [label.text for _, label in panel.retuning_legend.items]
    assert names == ["recycled, at step 0:", "ridge", "from ridge"]


def test_show_report_rebuilds_every_plot(panel: PlotsPanel) -> None:
    panel.add_row(Row("stale", RowKind.BASELINE, accuracy=0.5))
    panel.add_point("fit loss: stale", 0, 1.0)
    panel.show_report(_report())
    assert panel.point_counts() == {"accuracy": 6, "retuning": 5, "fit_loss": 5}
    panel.show_report(Report())
    assert panel.point_counts() == {"accuracy": 0, "retuning": 0, "fit_loss": 0}


def test_loading_a_run_twice_leaves_one_label_and_one_legend_entry_each(panel: PlotsPanel) -> None:
    for _ in range(2):
        panel.show_report(_report())
    labels = [item for item in panel.accuracy_plot.items if isinstance(item, pg.TextItem)]
    assert sorted(label.textItem.toPlainText() for label in labels) == sorted(
        ["61.0", "72.7", "9.5", "81.0", "86.0", "89.0"]
    )
    assert panel.accuracy_axis.labels() == [row.name if row.kind is not RowKind.SOURCE else SOURCE_LABEL
                                            for row in _rows()]
    legend = [label.text for _, label in panel.accuracy_legend.items]
    assert len(legend) == len(set(legend))
    assert [label.text for _, label in panel.fit_legend.items] == ["v2v-nn", "ridge"]


def test_legends_sit_beside_the_data_not_over_it(panel: PlotsPanel) -> None:
    panel.show_report(_report())
    QApplication.processEvents()
    for plot, legend in ((panel.accuracy_plot, panel.accuracy_legend), (panel.retuning_plot, panel.retuning_legend),
                         (panel.fit_plot, panel.fit_legend)):
        data = plot.getViewBox().sceneBoundingRect()
        assert legend.isVisible() and not legend.sceneBoundingRect().intersects(data)


def test_the_tuned_on_target_prompt_has_its_own_colour_and_legend_entry(panel: PlotsPanel) -> None:
    panel.show_report(Report(rows=[
        *_rows(), Row("tuned on target", RowKind.TARGET_PROMPT, "t", accuracy=0.88),
    ]))
    legend = [label.text for _, label in panel.accuracy_legend.items]
    assert "tuned on target (given)" in legend and "re-tuned on target" in legend
    brushes = panel.bars.opts["brushes"]
    assert brushes[-1].color() != brushes[4].color()  # not the re-tuned prompt's green


def test_single_point_fits_at_one_place_stay_distinguishable(panel: PlotsPanel) -> None:
    for method in ("v2v-lin", "ridge", "procrustes"):
        panel.add_point(f"fit loss: {method}", 1, 90.0)
    items = [panel._curve_items[f"fit loss: {m}"] for m in ("v2v-lin", "ridge", "procrustes")]
    assert len({item.opts["symbol"] for item in items}) == 3
    sizes = [item.opts["symbolSize"] for item in items]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]  # later ones inside earlier ones


def test_export_writes_three_images(panel: PlotsPanel, tmp_path: Path) -> None:
    panel.show_report(_report())
    written = panel.export_png(tmp_path / "plots")
    assert [p.name for p in written] == ["accuracy.png", "retuning.png", "fit-loss.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["accuracy.png", "fit-loss.png", "retuning.png"]
    for path in written:
        image = QImage(str(path))
        assert not image.isNull() and image.width() >= 300 and image.height() >= 150


def test_a_panel_never_shown_exports_at_a_readable_size(qtbot, tmp_path: Path) -> None:
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.show_report(_report())
    sizes = [QImage(str(p)).size() for p in panel.export_png(tmp_path)]
    assert sizes[0].width() >= 1200 and all(s.width() >= 500 and s.height() >= 400 for s in sizes[1:])


def test_export_to_an_unusable_folder_is_a_user_error(panel: PlotsPanel, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(WriteError, match="a-file is a file, not a folder"):
        panel.export_png(tmp_path / "a-file")
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_export_replaces_its_own_images_but_never_a_users_file(panel: PlotsPanel, tmp_path: Path) -> None:
    """Exporting into a folder holding the user's own accuracy.png replaced it silently (and a failure after it deleted
    it): the folder picker asks nothing, so only images we exported may be replaced."""
    panel.show_report(_report())
    first = [p.read_bytes() for p in panel.export_png(tmp_path)]
    panel.show_report(Report(rows=_report().rows[:1]))
    assert [p.read_bytes() for p in panel.export_png(tmp_path)] != first  # ours: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    image.save(str(mine / "accuracy.png"), "PNG")  # the user's own picture of that name
    before = (mine / "accuracy.png").read_bytes()
    with pytest.raises(OverwriteError, match="accuracy.png: it exists and is not an output Prompt Recycler wrote"):
        panel.export_png(mine)
    assert [p.name for p in mine.iterdir()] == ["accuracy.png"] and (mine / "accuracy.png").read_bytes() == before


def test_plots_follow_a_dark_palette(panel: PlotsPanel) -> None:
    light = _background(panel)
    panel.setPalette(_dark())
    assert _background(panel) == {"#1e1e1e"} != light
    app = QApplication.instance()
    original = app.palette()
    panel.setPalette(QPalette())  # back to following the application
    try:
        app.setPalette(_dark())
        QApplication.processEvents()
        assert _background(panel) == {"#1e1e1e"}
    finally:
        app.setPalette(original)
    QApplication.processEvents()
    assert _background(panel) == light


def test_sorting_by_accuracy_is_numeric(table: ResultsTable) -> None:
    table.set_rows(_rows())
    table.sortByColumn(ACCURACY, Qt.SortOrder.AscendingOrder)
    model = table.model()
    shown = [model.index(i, ACCURACY).data() for i in range(model.rowCount())]
    assert shown == ["9.5", "61.0", "72.7 ± 1.2", "81.0", "86.0", "89.0"]


def test_a_row_with_the_same_key_replaces_the_old_one(table: ResultsTable) -> None:
    for row in _rows():
        table.add_row(row)
    model = table.model()
    ridge = next(i for i in range(model.rowCount()) if model.index(i, 0).data() == "ridge")
    assert model.index(ridge, SUCCESS).data() == ""
    table.add_row(replace(_rows()[3], success=True, vs_best_baseline=0.083, gap_closed=0.6))
    assert model.rowCount() == len(_rows())
    texts = {COLUMNS[c].title: model.index(ridge, c).data() for c in range(model.columnCount())}
    assert texts["success"] == "✓" and texts["vs best baseline"] == "+8.3" and texts["gap closed %"] == "60.0"
    assert texts["fit s"] == "0.20" and texts["kind"] == "recycled"
    assert model.index(ridge, COLUMNS.index(FIT)).data(Qt.ItemDataRole.ToolTipRole) == "final fit loss 0.01"
    table.add_row(Row("ridge", RowKind.BASELINE, accuracy=0.5))  # same name, other kind: a new row
    assert len(table.rows()) == len(_rows()) + 1


def test_selected_row_follows_the_sorted_view(table: ResultsTable) -> None:
    table.set_rows(_rows())
    assert table.selected_row() is None
    table.sortByColumn(ACCURACY, Qt.SortOrder.DescendingOrder)
    table.selectRow(0)
    assert table.selected_row() is table.rows()[5]
    table.selectRow(table.model().rowCount() - 1)
    assert table.selected_row().name == "relative"
    table.set_rows(_rows())  # a report arrives: the selection stays on the same row
    assert table.selected_row().name == "relative"
    table.clear()
    assert table.selected_row() is None


def test_optional_columns_show_only_when_a_row_has_them(table: ResultsTable) -> None:
    calibrated = next(i for i, c in enumerate(COLUMNS) if c.title == "calibrated %")
    table.set_rows(_rows())
    assert table.isColumnHidden(calibrated)
    table.add_row(replace(_rows()[3], calibrated_accuracy=0.7))
    assert not table.isColumnHidden(calibrated)
    assert table.model().index(3, calibrated).data() == "70.0"


def test_headers_explain_the_derived_columns(table: ResultsTable) -> None:
    model = table.model()
    tips = {model.headerData(c, Qt.Orientation.Horizontal): model.headerData(c, Qt.Orientation.Horizontal,
                                                                              Qt.ItemDataRole.ToolTipRole)
            for c in range(model.columnCount())}
    for title in ("vs best baseline", "success", "gap closed %"):
        assert tips[title] and tips[title].endswith(".")


class _Shifted(Recycler):
    """A recycler the window has never heard of, with a float as its main parameter."""

    name = "shifted"
    summary = "adds a constant (a test recycler)"
    defaults: ClassVar[dict[str, Any]] = {"norm": "keep", "shift": 0.5}
    main_parameter = "shift"

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: Any, cancel: Any) -> None:
        self.loss_history = [0.0]

    def _apply(self, rows: torch.Tensor, cancel: Any) -> torch.Tensor:
        return rows + float(self.params["shift"])


def test_a_newly_registered_recycler_gets_its_widgets_job_settings_and_colour(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RECYCLERS, _Shifted.name, _Shifted)
    inputs = InputsPanel(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), QThreadPool())
    qtbot.addWidget(inputs)
    assert inputs.method_checks["shifted"].isChecked()
    inputs.method_params["shifted"].setValue(0.25)
    for picker, path in ((inputs.source, "s"), (inputs.target, "t"), (inputs.prompt, "p")):
        picker.picker.edit.setText(path)
    job = inputs.job()
    assert "shifted" in job.methods and job.method_params["shifted"] == {"shift": 0.25}
    inputs.method_params["shifted"].setValue(0.5)
    inputs.set_job(job)
    assert inputs.method_params["shifted"].value() == 0.25
    assert method_colour("shifted") == method_colour("shifted") != method_colour("kernel")
    assert method_colour("kernel") == RECYCLERS["kernel"].colour


def test_the_window_starts_at_the_job_defaults(qtbot, tmp_path: Path) -> None:
    inputs = InputsPanel(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), QThreadPool())
    qtbot.addWidget(inputs)
    for name in ("eval_size", "batch_size", "offset", "num_words", "seed", "few_shot", "retune_steps", "teach_write"):
        assert getattr(inputs, name).value() == default_of(Job, name), name
        assert getattr(inputs, name).toolTip() == help_of(Job, name)
    assert inputs.dtype.currentText() == default_of(Job, "dtype")


def test_the_built_in_task_not_fetched_yet_points_to_the_button_and_run_not_a_terminal_command(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path / "empty-cache"))  # the session's cache may hold them
    inputs = InputsPanel(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), QThreadPool())
    qtbot.addWidget(inputs)
    inputs.task.refresh_preview()
    assert inputs.task.preview.text() == NOT_FETCHED_TEXT and not inputs.task.fetch.isHidden()
    assert "prompt-recycler" not in NOT_FETCHED_TEXT and "Run" in NOT_FETCHED_TEXT


def test_the_99th_percentile_delay_shows_a_stall_that_recurs_but_not_a_single_one() -> None:
    delays = [1.0] * 197 + [700.0, 800.0, 900.0]  # three stalls in 200 ticks: more than 1% of them
    assert percentile(delays, 50) == 1.0
    assert percentile(delays, 99) == 700.0
    assert percentile([1.0] * 198 + [800.0, 900.0], 99) == 1.0  # two: no more than 1%
    assert percentile([3.0], 99) == 3.0


def test_a_background_task_whose_window_went_away_ends_quietly(qapp) -> None:
    """Closing the window while a model is still being described must not print a traceback from the pool thread."""
    import shiboken6

    from recycler_gui.gui.worker import BackgroundTask

    for work in (lambda: 1, lambda: 1 / 0):
        task = BackgroundTask(work)
        shiboken6.delete(task.signals)
        task.run()


def test_a_save_dialogs_filter_gives_the_format_and_suffix_a_bare_name_lacks() -> None:
    """The JSON filter with the name `report` wrote CSV to `report`; the .pt filter with `noext` wrote `noext`."""
    assert with_format(Path("report"), "JSON (*.json)", REPORT_FORMATS) == (Path("report.json"), "json")
    assert with_format(Path("report.csv"), "JSON (*.json)", REPORT_FORMATS) == (Path("report.csv"), "csv")
    assert with_format(Path("noext"), "PyTorch (*.pt)", EXPORT_FORMATS) == (Path("noext.pt"), "pt")
    assert with_format(Path("p.npy"), "PEFT adapter folder (*)", EXPORT_FORMATS) == (Path("p.npy"), "npy")
    assert with_format(Path("adapter"), "PEFT adapter folder (*)", EXPORT_FORMATS) == (Path("adapter"), "peft")
    assert with_format(Path("v1.2"), "safetensors (*.safetensors)", EXPORT_FORMATS) == (
        Path("v1.2.safetensors"), "safetensors")


def test_a_dialog_capitalises_a_word_but_never_a_file_name() -> None:
    assert sentence("the run is gone. Run it again.") == "The run is gone. Run it again."
    assert sentence("empty.csv is empty. Fill it.") == "empty.csv is empty. Fill it."  # was "Empty.csv"
    assert sentence("/data/x.pt holds nothing") == "/data/x.pt holds nothing"
