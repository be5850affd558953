"""Teaching in the window (issue 15), driven as a person would: tick Teaching, run, watch the taught row and its
curve, export the taught prompt, cancel while it is taught, follow the bar."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import test_gui
import torch
from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_gui import _fill, _run_and_wait, watch_events
from tiny_models import SENTENCES, write_toy_task

from recycler_gui.core.events import Point, Stage, teach_series
from recycler_gui.core.fields import help_of
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt
from recycler_gui.core.report import COLUMNS, RowKind
from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.runs.store import list_runs
from recycler_gui.core.transfer.recyclers import RECOMMENDED
from recycler_gui.gui.main_window import MainWindow

TAUGHT = f"taught from {RECOMMENDED}"
SERIES = teach_series(RECOMMENDED)
window, dialogs = test_gui.window, test_gui.dialogs  # the window, and the dialogs it shows, as in test_gui.py


def _seeded(shape: tuple[int, int], seed: int, path: Path, scale: float = 1.0) -> Path:
    rows = scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    return write_prompt(SoftPrompt(rows), path, "safetensors")


def _fill_teaching(window: MainWindow, tiny_llama: Path, tiny_gemma: Path, folder: Path, steps: int,
                   write: int) -> None:
    """The toy comparison with teaching ticked; a prompt 'tuned on the target' that beats every baseline on the 12
    test examples (found once for these seeded tiny models), so that the gap to close exists."""
    _fill(window, tiny_llama, tiny_gemma, _seeded((4, 48), 0, folder / "source.safetensors"),
          write_toy_task(folder), retune_steps=0)
    inputs = window.inputs
    inputs.method_checks[RECOMMENDED].setChecked(True)
    inputs.target_prompt.set_path(str(_seeded((4, 32), 10, folder / "tuned-on-target.safetensors", scale=3.0)))
    inputs.eval_size.setValue(12)
    inputs.teach.setChecked(True)
    inputs.teach_steps.setValue(steps)
    inputs.teach_write.setValue(write)


def _cell(window: MainWindow, name: str, title: str) -> str:
    """The text the table shows for row ``name`` in the column titled ``title``."""
    model = window.table.model()
    column = next(i for i, c in enumerate(COLUMNS) if c.title == title)
    lines = [i for i in range(model.rowCount()) if model.index(i, 0).data() == name]
    assert lines, f"no row {name!r} in the table"
    return model.index(lines[0], column).data()


def test_a_taught_prompt_gets_its_row_its_curve_and_exports_like_a_recycled_one(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fill_teaching(window, tiny_llama, tiny_gemma, tmp_path, steps=3, write=16)
    _run_and_wait(window, qtbot)
    assert dialogs == [] and window.report.status == "finished"

    (taught,) = window.report.of_kind(RowKind.TAUGHT)
    assert window.report.retuned_accuracy > window.report.best_baseline_accuracy  # the gap the rows close exists
    assert _cell(window, TAUGHT, "kind") == "taught"
    for title in ("accuracy %", "vs best baseline", "success", "gap closed %"):
        assert _cell(window, TAUGHT, title) != "" and _cell(window, RECOMMENDED, title) != "", title
    assert _cell(window, TAUGHT, "success") == ("✓" if taught.success else "✗")
    assert _cell(window, TAUGHT, "gap closed %") == f"{100 * taught.gap_closed:.1f}"

    plots = window.plots
    legend = [label.text for _, label in plots.retuning_legend.items]
    assert legend == [f"{TAUGHT} (agreement)"]
    assert plots.point_counts()["retuning"] == len(window.report.curves[SERIES]) == 2  # steps 0 and 3
    assert not plots.retuning_idle.isVisible()
    assert plots.retuning_plot.getAxis("left").labelText == "dev accuracy · agreement (%)"
    plots.clear()
    plots.show_report(window.report)  # a run reopened from the history draws it too
    assert [label.text for _, label in plots.retuning_legend.items] == legend
    assert plots.point_counts()["retuning"] == 2

    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text, *a: dialogs.append(text))
    model = window.table.model()
    window.table.selectRow(next(i for i in range(model.rowCount()) if model.index(i, 0).data() == TAUGHT))
    for fmt, name in (("NumPy array (*.npy)", "taught.npy"), ("PEFT adapter folder (*)", "taught-adapter")):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, f=fmt, n=name: (str(tmp_path / n), f))
        window.export_prompt()
        assert dialogs == []
        exported = read_prompt(tmp_path / name)
        assert (exported.num_tokens, exported.dim) == (4, 32)
        assert torch.equal(exported.encoder, read_prompt(Path(window.report.path) / taught.prompt).encoder)


def test_cancel_while_teaching_keeps_the_best_prompt_so_far_and_says_cancelled(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
) -> None:
    _fill_teaching(window, tiny_llama, tiny_gemma, tmp_path, steps=2_000, write=16)

    def cancel_at_the_first_agreement(event: object) -> None:
        if isinstance(event, Point) and event.series == SERIES and window.cancel_button.isEnabled():
            window.cancel_button.click()

    window.run_button.click()
    watch_events(window, cancel_at_the_first_agreement)
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert dialogs == [] and window.report.status == "cancelled"
    assert window.status.stage.text().startswith("Cancelled")
    assert window.status.bar.format().startswith("Cancelled at")
    assert window.status.bar.value() < window.status.bar.maximum()
    kinds = {row.kind for row in window.table.rows()}
    assert RowKind.TAUGHT not in kinds and {RowKind.BASELINE, RowKind.RECYCLED} <= kinds  # finished rows kept

    curve = window.report.curves[SERIES]
    assert len(curve) < 10  # stopped long before 2000 steps
    logged = re.search(r"the best prompt so far \(step (\d+), agreement ([\d.]+)\) is stored in (.+)$",
                       window.log.toPlainText(), re.MULTILINE)
    assert logged is not None
    best_step, best_agreement = max(curve, key=lambda point: point[1])  # the first best: ties keep the earlier
    assert int(logged[1]) == best_step and float(logged[2]) == pytest.approx(best_agreement, abs=5e-4)
    kept = read_prompt(Path(logged[3]))
    assert (kept.num_tokens, kept.dim) == (4, 32) and Path(logged[3]).is_relative_to(window.report.path)
    if best_step == 0:  # still the start: the recommended recycler's prompt
        start = next(row for row in window.table.rows() if row.name == RECOMMENDED)
        assert torch.equal(kept.encoder, read_prompt(Path(window.report.path) / start.prompt).encoder)


def test_the_bar_only_grows_through_writing_answering_teaching_and_scoring_the_taught_prompt(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path / "cache"))  # nothing written yet: the writing shows
    _fill_teaching(window, tiny_llama, tiny_gemma, tmp_path, steps=3, write=20)
    seen: list[tuple[str, float]] = []

    def watch(event: object) -> None:
        if window.status.bar.maximum():  # 0: the busy bar before the plan
            seen.append((window.status.stage.text(), window.status.bar.value() / window.status.bar.maximum()))

    window.run_button.click()
    watch_events(window, watch)
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert dialogs == [] and window.report.status == "finished"
    shares = [share for _, share in seen]
    assert shares == sorted(shares)

    def first(prefix: str) -> int:
        return next(i for i, (text, _) in enumerate(seen) if text.startswith(prefix))

    stages = ["Writing 20 texts to teach on", "The teacher answers on", f"Teach: from {RECOMMENDED}: 3 steps",
              "Scoring the taught prompt"]
    starts = [first(prefix) for prefix in stages]
    assert starts == sorted(starts)
    assert [shares[i] for i in starts] == sorted({shares[i] for i in starts})  # each stage moves the bar on
    teaching = [text for text, _ in seen if text.startswith("Teach")]
    assert any(text.startswith(f"Teach: from {RECOMMENDED}: 3 steps · 1 of 3") for text in teaching), teaching
    assert window.status.bar.value() == window.status.bar.maximum() and window.status.stage.text() == "Finished."


def test_the_teaching_settings_follow_the_checkbox_and_survive_the_job_round_trip(
    window: MainWindow, tmp_path: Path
) -> None:
    inputs = window.inputs
    teaching = (inputs.teach_steps, inputs.teach_texts, inputs.teach_texts_column, inputs.teach_write)
    assert not inputs.teach.isChecked() and not any(widget.isEnabled() for widget in teaching)
    assert inputs.teach_texts.toolTip() == help_of(Job, "teach_texts")
    assert inputs.teach_texts_column.toolTip() == help_of(Job, "teach_texts_column")
    inputs.teach.setChecked(True)
    inputs.teach_steps.setValue(7)
    inputs.teach_write.setValue(48)
    assert inputs.teach_write.isEnabled() and inputs.teach_texts.isEnabled()
    assert not inputs.teach_texts_column.isEnabled()  # no table named: no column to name
    assert "teaching 7 steps" in inputs.sections["run"].header.toolTip()
    for picker, path in ((inputs.source.picker, "s"), (inputs.target.picker, "t"), (inputs.prompt.picker, "p")):
        picker.edit.setText(path)
    job = inputs.job()
    assert (job.teach_steps, job.teach_write, job.teach_texts, job.teach_texts_column) == (7, 48, None, None)

    texts = tmp_path / "reviews.jsonl"
    inputs.teach_texts.set_path(str(texts))
    inputs.teach_texts_column.setText("sentence")
    assert inputs.teach_texts_column.isEnabled() and not inputs.teach_write.isEnabled()  # none written: the file's
    assert "teaching 7 steps on reviews.jsonl" in inputs.sections["run"].header.toolTip()
    job = inputs.job()
    assert (job.teach_texts, job.teach_texts_column) == (str(texts), "sentence")
    inputs.teach.setChecked(False)
    assert inputs.job().teach_texts is None  # no teaching, no texts to teach on in the job
    inputs.teach_texts.set_path("")
    inputs.teach_texts_column.setText("")
    inputs.teach_write.setValue(256)
    inputs.set_job(job)
    assert inputs.teach.isChecked() and inputs.teach_steps.value() == 7 and inputs.teach_write.value() == 48
    assert inputs.teach_texts.path() == str(texts) and inputs.teach_texts_column.text() == "sentence"
    assert inputs.job() == job


def test_teaching_on_a_column_of_the_users_file_writes_nothing_and_names_the_file(
    window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
) -> None:
    texts = tmp_path / "my-texts.csv"
    with texts.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "sentence"), *enumerate(SENTENCES)])
    _fill_teaching(window, tiny_llama, tiny_gemma, tmp_path, steps=2, write=16)
    window.inputs.teach_texts.set_path(str(texts))
    window.inputs.teach_texts_column.setText("sentence")
    stages: list[str] = []
    window.run_button.click()
    watch_events(window, lambda event: stages.append(event.name) if isinstance(event, Stage) else None)
    qtbot.waitUntil(lambda: not window.running, timeout=180_000)
    assert dialogs == [] and window.report.status == "finished"
    assert f"teacher: {len(SENTENCES)} texts from {texts};" in window.log.toPlainText()
    assert not any(name.startswith("writing") for name in stages)
    assert [row.name for row in window.report.of_kind(RowKind.TAUGHT)] == [TAUGHT]
    assert (window.report.job["teach_texts"], window.report.job["teach_texts_column"]) == (str(texts), "sentence")
    before = texts.read_bytes()
    window.export_report_to(texts)  # the texts are one of the run's inputs: never written over
    assert texts.read_bytes() == before and dialogs[0].startswith(f"Refusing to write {texts}")


@pytest.mark.parametrize("case", ["missing", "empty", "wrong column"])
def test_a_bad_texts_file_is_one_dialog_before_any_model_work(
    case: str, window: MainWindow, qtbot, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, dialogs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recycler_gui.core.runs import pipeline

    fetched: list[str] = []
    monkeypatch.setattr(pipeline, "fetch_if_zoo_model", lambda reference, *_: fetched.append(reference))
    files = {"missing": tmp_path / "missing.txt", "empty": tmp_path / "empty.txt", "wrong column": tmp_path / "t.csv"}
    files["empty"].write_text("\n  \n", encoding="utf-8")
    files["wrong column"].write_text("review,stars\ngood fun,pos\n", encoding="utf-8")
    expected = {
        "missing": f"No such file of texts: {files['missing']}. Check the path.",
        "empty": "empty.txt holds no texts. Give one text per line, or a column of texts.",
        "wrong column": "t.csv has no column 'sentence'; its columns are 'review', 'stars'.",
    }
    _fill_teaching(window, tiny_llama, tiny_gemma, tmp_path, steps=2, write=16)
    window.inputs.teach_texts.set_path(str(files[case]))
    window.inputs.teach_texts_column.setText("sentence")
    _run_and_wait(window, qtbot)
    assert len(dialogs) == 1 and dialogs[0].startswith(expected[case])
    assert fetched == [] and list_runs() == []  # no model fetched or read, no run stored
    assert window.status.stage.text() == "Failed." and window.report is None
