"""The window, driven as a person would: fill the inputs, click Run, watch rows and plots, cancel, export, reopen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QObject, QSettings, Qt, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox
from tiny_models import write_toy_task

from recycler_gui.core.events import Result
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt
from recycler_gui.core.report import FINISHED, Report
from recycler_gui.core.runs.store import list_runs, open_run
from recycler_gui.gui.main_window import INPUTS_WIDTH, MainWindow
from recycler_gui.gui.plots import (
    NO_RUN_TEXT,
    RETUNE_IDLE_TEXT,
    RETUNING_TITLE,
    TRAINING_LATER_TEXT,
    TRAINING_STOPPED_TEXT,
)


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Texts of warning and error dialogs, instead of showing them."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
    return shown


def _fill(window: MainWindow, source: Path, target: Path, prompt: Path, task: Path, retune_steps: int = 4) -> None:
    inputs = window.inputs
    inputs.source.picker.set_path(str(source))
    inputs.target.picker.set_path(str(target))
    inputs.prompt.picker.set_path(str(prompt))
    inputs.task.kind.setCurrentIndex(1)
    inputs.task.file.set_path(str(task))
    inputs.task.text_column.setText("review")
    inputs.task.label_column.setText("stars")
    inputs.task.label_words.setText("neg=negative,pos=positive")
    inputs.task.template.setText("Review: {text}\\nSentiment:")
    for name, check in inputs.method_checks.items():
        check.setChecked(name in ("v2v-lin", "v2v-nn", "ridge"))
    inputs.method_params["v2v-nn"].setValue(3)
    inputs.retune_steps.setValue(retune_steps)
    inputs.eval_size.setValue(8)
    inputs.batch_size.setValue(4)
    inputs.offset.setValue(0)
    inputs.num_words.setValue(0)
    inputs.device.setCurrentText("cpu")


def _prompt(folder: Path, width: int = 48) -> Path:
    return write_prompt(SoftPrompt(torch.randn(4, width)), folder / "source-prompt.safetensors", "safetensors")


class _OnUiThread(QObject):
    """Passes each event to ``slot`` on the UI thread: a plain function connected to the worker's signal runs on the
    worker's thread, where widgets must not be touched (and show a state the UI has not reached yet)."""

    def __init__(self, parent: QObject, slot: Callable[[object], None]) -> None:
        super().__init__(parent)
        self.slot = slot

    @Slot(object)
    def take(self, event: object) -> None:
        self.slot(event)


def watch_events(window: MainWindow, slot: Callable[[object], None]) -> None:
    """Call ``slot`` with every event of the current run, on the UI thread, after the window has handled it."""
    window.current.worker.event.connect(_OnUiThread(window, slot).take)


def _run_and_wait(window: MainWindow, qtbot) -> None:
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert window.running
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)


def test_a_full_run_by_clicks_fills_the_table_and_every_plot(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path))
    _run_and_wait(window, qtbot)
    assert dialogs == []
    names = [row.name for row in window.table.rows()]
    assert {"no-prompt", "random", "class-label", "v2v-lin", "v2v-nn", "ridge", "re-tuned from scratch",
            "source prompt"} <= set(names)
    counts = window.plots.point_counts()
    assert counts["accuracy"] == len(names)
    assert counts["retuning"] > 0 and counts["fit_loss"] > 0
    assert window.report.status == "finished"
    assert "UI event-loop delay during the run" in window.log.toPlainText()
    assert "99th percentile" in window.log.toPlainText()
    lag = window.last_lag
    assert lag is not None and lag["samples"] > 0 and lag["median_ms"] <= lag["p99_ms"] <= lag["worst_ms"]
    assert window.run_button.isEnabled() and not window.cancel_button.isEnabled()


def test_a_demo_like_run_draws_live_training_curves(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path))
    tuned = write_prompt(SoftPrompt(torch.randn(4, 32)), tmp_path / "tuned-on-target.safetensors", "safetensors")
    window.inputs.target_prompt.set_path(str(tuned))
    window.inputs.retune_eval_every.setValue(2)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert window.plots.retuning_idle.toPlainText() == TRAINING_LATER_TEXT  # not "no re-tuning in this run"
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert dialogs == []
    plots, best = window.plots, window.report.head_starts[0].start
    assert not plots.retuning_idle.isVisible()
    saved = window.report.head_starts[0].steps_saved
    assert plots.retuning_plot.titleLabel.text == f"steps saved: {best} {'never' if saved is None else saved}"
    curves = {series: len(points) for series, points in window.report.curves.items() if series.startswith("re-tune")}
    assert curves == {"re-tune: from scratch": 3, f"re-tune: from {best}": 3}  # steps 0, 2 and 4
    legend = [label.text for _, label in plots.retuning_legend.items]
    assert legend == ["recycled, at step 0:", "v2v-lin", "v2v-nn", "ridge", "from scratch", f"from {best}"]
    assert plots.point_counts()["retuning"] == 3 + 6
    low, high = plots.retuning_plot.viewRange()[1]
    assert -5 <= low <= 0 and 100 <= high <= 105
    bars = [label.text for _, label in plots.accuracy_legend.items]
    assert {"tuned on target (given)", "re-tuned on target", "best baseline"} <= set(bars)


def test_export_writes_files_the_engine_reads_back(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path), retune_steps=0)
    _run_and_wait(window, qtbot)
    assert window.plots.retuning_idle.toPlainText() == RETUNE_IDLE_TEXT  # how to get training curves
    assert window.plots.retuning_plot.titleLabel.text == RETUNING_TITLE  # no head start: the plot keeps its title
    model = window.table.model()
    row = next(i for i in range(model.rowCount()) if model.index(i, 0).data() == "ridge")
    window.table.selectRow(row)
    assert window.table.selected_row().name == "ridge"
    for fmt, name in (("NumPy array (*.npy)", "ridge.npy"), ("PEFT adapter folder (*)", "ridge-adapter")):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, f=fmt, n=name: (str(tmp_path / n), f))
        window.export_prompt()
        exported = read_prompt(tmp_path / name)
        assert exported.dim == 32
    window.export_report_to(tmp_path / "report.csv")
    assert "ridge" in (tmp_path / "report.csv").read_text()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "plots"))
    (tmp_path / "plots").mkdir()
    window.export_plots()
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["accuracy.png", "fit-loss.png", "retuning.png"]


def test_exports_never_go_over_the_runs_inputs_and_failures_are_dialogs(
    window: MainWindow, tmp_path: Path, dialogs: list[str]
) -> None:
    task = write_toy_task(tmp_path)
    source_prompt = _prompt(tmp_path)  # written by Prompt Recycler, so only its being an input protects it
    before = task.read_bytes(), source_prompt.read_bytes()
    window.report = Report(job={"task": str(task), "prompt": str(source_prompt)}, status=FINISHED)
    exported = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "run-prompt.safetensors", "safetensors")
    window.export_report_to(task)
    window.export_prompt_to(exported, source_prompt, "safetensors")
    (tmp_path / "notes.npy").write_text("mine")
    window.export_prompt_to(exported, tmp_path / "notes.npy", "npy")
    assert (task.read_bytes(), source_prompt.read_bytes()) == before
    window.export_report_to(tmp_path / "notes.npy" / "report.csv")  # under a file: cannot be written
    assert dialogs[0].startswith(f"Refusing to write {task}: it would overwrite the input")
    assert dialogs[1].startswith(f"Refusing to write {source_prompt}: it would overwrite the input")
    assert dialogs[2].startswith(f"Refusing to replace {tmp_path / 'notes.npy'}: a .npy file carries no mark")
    assert dialogs[3].startswith(f"Cannot write {tmp_path / 'notes.npy' / 'report.csv'}: {tmp_path / 'notes.npy'} is")
    assert len(dialogs) == 4
    assert (tmp_path / "notes.npy").read_text() == "mine"


def test_cancel_mid_run_keeps_the_finished_rows(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path))

    def cancel_on_first_row(event: object) -> None:
        if isinstance(event, Result) and window.running:
            window.cancel_button.click()

    window.run_button.click()
    watch_events(window, cancel_on_first_row)
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert window.report.status == "cancelled"
    assert 1 <= len(window.table.rows()) < 5
    assert window.status.stage.text().startswith("Cancelled")
    share = window.status.bar.value() / window.status.bar.maximum()
    assert 0 < share < 1 and window.status.bar.format() == f"Cancelled at {share:.0%}"  # not 100 %
    stored = open_run(window.report.run_id).load_report()
    assert stored.status == "cancelled" and len(stored.rows) == len(window.table.rows())
    # it was to re-tune: the plot no longer promises curves (nor says the run had no re-tuning), here or reopened
    assert window.plots.retuning_idle.toPlainText() == TRAINING_STOPPED_TEXT
    window.show_report(stored)
    assert window.plots.retuning_idle.toPlainText() == TRAINING_STOPPED_TEXT
    window.load_demo()  # new inputs: the bar no longer says "Cancelled at …" beside "Demo loaded"
    assert window.status.bar.format() == "" and window.status.stage.text().startswith("Demo loaded")


def test_one_bar_shows_the_whole_run_and_only_grows(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path))
    seen: list[tuple[int, int]] = []
    window.run_button.click()
    watch_events(window, lambda _event: seen.append((window.status.bar.value(), window.status.bar.maximum())))
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    shares = [value / maximum for value, maximum in seen if maximum]
    assert shares == sorted(shares) and len(set(shares)) > 10
    assert window.status.bar.value() == window.status.bar.maximum()
    assert window.status.stage.text() == "Finished." and window.status.eta.text().startswith("took")


def test_a_failure_mid_run_keeps_the_share_it_reached(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recycler_gui.core.runs import pipeline

    def broken(*_args: object) -> None:
        raise pipeline.JobError("the source model broke", "try again")

    monkeypatch.setattr(pipeline._Run, "_on_source", broken)
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path), retune_steps=0)
    _run_and_wait(window, qtbot)
    assert dialogs == ["The source model broke. Try again."]
    share = window.status.bar.value() / window.status.bar.maximum()
    # the source phase follows recycling: the share recycling reached is kept, not 0 %
    assert 0.1 < share < 1 and window.status.bar.format() == f"Failed at {share:.0%}"


def test_a_wrong_prompt_file_shows_a_dialog(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    broken = tmp_path / "prompt.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    _fill(window, tiny_llama, tiny_gemma, broken, write_toy_task(tmp_path))
    _run_and_wait(window, qtbot)
    assert len(dialogs) == 1 and "cannot be read" in dialogs[0]
    assert window.status.stage.text() == "Failed."


def test_a_mismatched_source_is_flagged_and_refused(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    _fill(window, tiny_gemma, tiny_llama, _prompt(tmp_path, width=48), write_toy_task(tmp_path))
    qtbot.waitUntil(lambda: window.inputs.prompt.warning.isVisibleTo(window), timeout=20_000)
    assert "48 wide" in window.inputs.prompt.warning.text()
    _run_and_wait(window, qtbot)
    assert len(dialogs) == 1 and "The prompt's rows are 48 wide but the source model" in dialogs[0]


def test_missing_inputs_are_named_before_anything_runs(window: MainWindow, dialogs: list[str]) -> None:
    window.inputs.source.picker.set_path("")
    window.start_run()
    assert not window.running
    assert dialogs and dialogs[0].startswith("No source model chosen")
    assert window.status.stage.text() == "Not started: no source model chosen."  # not a failed earlier run's word


def test_history_reopens_a_run_and_the_inputs_are_remembered(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path), retune_steps=0)
    _run_and_wait(window, qtbot)
    run_id = window.report.run_id
    window.table.clear()
    window.plots.clear()
    window.show_report(open_run(run_id).load_report())
    assert {row.name for row in window.table.rows()} >= {"v2v-lin", "ridge"}
    assert window.plots.point_counts()["accuracy"] == len(window.table.rows())
    assert any(run["id"] == run_id for run in list_runs())

    again = MainWindow(window.settings)
    qtbot.addWidget(again)
    assert again.inputs.source.reference() == str(tiny_llama)
    assert again.inputs.eval_size.value() == 8
    assert [n for n, c in again.inputs.method_checks.items() if c.isChecked()] == ["v2v-lin", "v2v-nn", "ridge"]


def test_closing_during_a_run_asks_cancels_and_waits(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(window, tiny_llama, tiny_gemma, _prompt(tmp_path), write_toy_task(tmp_path))
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    window.run_button.click()
    run = window.current
    assert not window.close()  # "No": the run goes on
    assert window.running and window.isVisible()
    window.close()  # "Yes": cancel now, close when the worker has stopped
    assert answers == []
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=120_000)
    assert not run.thread.isRunning()
    assert window.report.status == "cancelled"


def test_the_window_opens_within_the_screen(qtbot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "big.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.resize(5000, 4000)  # remembered from a larger screen
    first.close()
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    area = window.screen().availableGeometry()
    assert window.width() <= area.width() and window.height() <= area.height()
    assert area.contains(window.frameGeometry())


def test_on_a_small_screen_the_inputs_leave_the_plots_most_of_the_width(qtbot, tmp_path: Path) -> None:
    """At 1000 pixels and less the inputs kept 430, leaving the plots too narrow for their legends and values."""
    window = MainWindow(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    inputs, plots = window.splitter.sizes()
    assert window.width() < 1000 and inputs < INPUTS_WIDTH and plots > inputs
    assert inputs >= window.inputs.minimumSizeHint().width()  # its fields are not cut off
    window.load_demo()  # it re-tunes: "No re-tuning in this run" would be untrue before any run
    assert window.plots.retuning_idle.toPlainText() == NO_RUN_TEXT


def test_the_accuracy_chart_has_room_at_the_default_size(window: MainWindow, qtbot) -> None:
    from recycler_gui.core.report import Report, Row, RowKind

    window.resize(1400, 900)
    names = ["no-prompt", "random", "class-label", "v2v-lin", "v2v-nn", "lin-comb", "ridge", "procrustes"]
    window.show_report(Report(rows=[
        *(Row(name, RowKind.BASELINE if i < 3 else RowKind.RECYCLED, accuracy=0.5) for i, name in enumerate(names)),
        Row("tuned on target", RowKind.TARGET_PROMPT, accuracy=0.9), Row("source prompt", RowKind.SOURCE, accuracy=0.9),
    ]))
    qtbot.wait(50)
    assert window.plots.accuracy_plot.getViewBox().height() >= 150


def test_advanced_settings_fold_away_and_remember_it(qtbot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "sections.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    sections = window.inputs.sections
    assert not any(section.expanded for section in sections.values())  # folded the first time
    assert sections["run"].header.toolTip() == "Run settings: auto · float32 · 200 test examples"
    window.inputs.eval_size.setValue(500)
    assert "500 test examples" in sections["run"].header.toolTip()  # the folded line follows the setting
    window.inputs.retune_steps.setValue(40)
    assert sections["bound"].header.toolTip().endswith("re-tune 40 steps from scratch and the best recycled prompt")
    assert not window.inputs.retune_checks["taught"].isEnabled()  # no taught prompt to start from without teaching
    window.inputs.teach.setChecked(True)
    assert sections["bound"].header.toolTip().endswith(
        "re-tune 40 steps from scratch, the best recycled prompt and the taught prompt"
    )
    qtbot.mouseClick(sections["run"].header, Qt.MouseButton.LeftButton)
    assert sections["run"].expanded and window.inputs.eval_size.isVisibleTo(window)
    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.inputs.sections["run"].expanded and not again.inputs.sections["baselines"].expanded


def test_the_common_inputs_are_in_view_without_scrolling(window: MainWindow, qtbot) -> None:
    window.resize(1400, 900)
    window.inputs.task.preview.setText("\n".join(["a line of the task preview"] * 5))
    qtbot.wait(50)
    viewport = window.inputs.parentWidget()
    assert window.inputs.sizeHint().height() <= viewport.height()
    for widget in (window.inputs.source, window.inputs.prompt, window.inputs.target, window.inputs.task,
                   window.inputs.method_checks["kernel"]):
        assert widget.isVisibleTo(window)


def test_many_prompts_at_once_show_the_papers_table_and_export_it(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str]
) -> None:
    from recycler_gui.core.runs.batch import open_batch

    folder = tmp_path / "prompts"
    folder.mkdir()
    for seed in range(2):
        write_prompt(SoftPrompt(torch.randn(4, 48)), folder / f"movies-seed{seed}.safetensors", "safetensors")
    _fill(window, tiny_llama, tiny_gemma, folder, write_toy_task(tmp_path), retune_steps=0)
    qtbot.waitUntil(lambda: window.inputs.prompt.summary.text().startswith("2 prompts"), timeout=20_000)
    assert "(seed0, seed1)" in window.inputs.prompt.summary.text()
    stages: list[str] = []
    window.run_button.click()
    watch_events(window, lambda _event: stages.append(window.status.stage.text()))
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert dialogs == []
    assert any(text.startswith("Prompt 2 of 2 (seed1) · Scoring") for text in stages)
    panel = window.batch_panel
    assert window.tabs.currentWidget() is panel and panel.batch.status == "finished"
    header = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    assert header[:3] == ["method", "seed0", "seed1"] and header[-4] == "successes"
    methods = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert methods == ["best baseline", "v2v-lin", "v2v-nn", "ridge"]
    assert panel.summary.text().startswith("2 prompts: recycled successfully")
    assert window.report is not None and window.report.job["prompt"].endswith("movies-seed1.safetensors")
    panel.export_table(tmp_path / "table.csv")
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith("method,seed0,seed1,successes")
    panel.export_plot(tmp_path / "plot.png")
    assert QImage(str(tmp_path / "plot.png")).width() >= 1200

    stored = [run for run in list_runs() if run.get("batch")]
    assert len(stored) == 1 and stored[0]["prompts"] == 2
    window.plots.clear()
    window.batch_panel.show_batch(None)
    window.show_report(open_batch(Path(stored[0]["path"])))
    assert window.batch_panel.table.rowCount() == 4 and window.plots.point_counts()["accuracy"] > 0
