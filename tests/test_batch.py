"""Many prompts at once: prompts from files and folders, one comparison each with the models loaded once, and the
paper's table (success rate and mean gap closed per method), stored and listed like any run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch
from tiny_models import write_toy_task

from recycler_gui.core.batch_report import BatchPrompt, BatchReport
from recycler_gui.core.events import CancelToken, NextPrompt, Plan, Result
from recycler_gui.core.models.checkpoints import Checkpoint
from recycler_gui.core.progress import RunProgress
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.report import CANCELLED, FINISHED, Row, RowKind
from recycler_gui.core.runs.batch import expand_prompts, open_batch, prompt_labels, run_batch
from recycler_gui.core.runs.pipeline import Job, JobError
from recycler_gui.core.runs.store import list_runs, open_run


def _prompts(folder: Path, count: int, width: int = 48) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [write_prompt(SoftPrompt(torch.randn(4, width)), folder / f"movie-prompt-seed{i}.safetensors",
                         "safetensors") for i in range(count)]


@pytest.fixture
def job(tiny_llama: Path, tiny_gemma: Path, tmp_path: Path) -> Job:
    tuned = write_prompt(SoftPrompt(torch.randn(4, 32)), tmp_path / "tuned.safetensors", "safetensors")
    return Job(
        source=str(tiny_llama), target=str(tiny_gemma), prompt="", target_prompt=str(tuned),
        task=str(write_toy_task(tmp_path)), text_column="review", label_column="stars",
        label_words="neg=negative,pos=positive", template="Review: {text}\nSentiment:",
        methods=["v2v-lin", "procrustes"], baselines=["no-prompt", "class-label"], offset=0, num_words=None,
        eval_size=8, batch_size=4, device="cpu",
    )


def test_a_folder_stands_for_the_prompts_in_it(tmp_path: Path) -> None:
    files = _prompts(tmp_path / "prompts", 2)
    (tmp_path / "prompts" / "record.json").write_text("{}")
    adapter = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "prompts" / "adapter", "peft")
    assert expand_prompts([str(tmp_path / "prompts")]) == sorted(str(p) for p in [adapter, *files])
    assert expand_prompts([str(adapter), str(files[0])]) == [str(adapter), str(files[0])]  # an adapter is one
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="holds no prompt files"):
        expand_prompts([str(tmp_path / "empty")])
    assert prompt_labels([str(p) for p in files]) == ["seed0", "seed1"]
    assert prompt_labels(["a/x-seed0", "b/x-seed1", "c/x-seed2"]) == ["seed0", "seed1", "seed2"]


def test_each_prompt_is_compared_with_the_models_loaded_once(
    job: Job, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    original = Checkpoint._load_model
    monkeypatch.setattr(Checkpoint, "_load_model",
                        lambda self, *a: (loads.append(self.path.name), original(self, *a))[1])
    prompts = [str(p) for p in _prompts(tmp_path / "prompts", 3)]
    events: list[object] = []
    progress = RunProgress()
    fractions: list[float] = []

    def watch(event: object) -> None:
        events.append(event)
        progress.update(event)
        fractions.append(progress.fraction)

    batch = run_batch(job, prompts, events=watch)
    assert batch.status == FINISHED and [p.label for p in batch.prompts] == ["seed0", "seed1", "seed2"]
    assert sorted(loads) == sorted({*loads}) and len(loads) == 2  # the target and the source, once each
    assert [e.index for e in events if isinstance(e, NextPrompt)] == [1, 2, 3]
    plans = [e for e in events if isinstance(e, Plan)]
    assert len(plans) == 1 and len(progress.matched) == len(plans[0].stages)  # one plan for the whole batch
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    for prompt in batch.prompts:
        member = open_run(prompt.run_id).load_report()
        assert member.job["prompt"] == prompt.prompt and len(member.rows) == len(prompt.rows) == 6
    lines = {line.method: line for line in batch.summaries()}
    assert list(lines) == ["v2v-lin", "procrustes"] and all(line.measured == 3 for line in lines.values())

    stored = open_batch(Path(batch.path))
    assert stored.to_json() == batch.to_json()
    listed = next(run for run in list_runs() if run["id"] == batch.run_id)
    assert listed["batch"] and listed["prompts"] == 3 and listed["status"] == FINISHED
    assert listed["rows"] == 18


def test_prompts_of_different_widths_are_refused_before_any_work(job: Job, tmp_path: Path) -> None:
    prompts = [*_prompts(tmp_path / "a", 1), *_prompts(tmp_path / "b", 1, width=32)]
    with pytest.raises(JobError, match="not all as wide"):
        run_batch(job, [str(p) for p in prompts])
    assert list_runs() == []


def test_a_cancel_keeps_the_prompts_that_finished(job: Job, tmp_path: Path) -> None:
    token = CancelToken()
    rows = 0

    def cancel_in_the_second_prompt(event: object) -> None:
        nonlocal rows
        rows += isinstance(event, Result)
        if rows == 9:
            token.cancel()

    batch = run_batch(job, [str(p) for p in _prompts(tmp_path / "p", 3)], cancel_in_the_second_prompt, token)
    assert batch.status == CANCELLED and len(batch.prompts) == 2
    assert batch.prompts[0].status == FINISHED and batch.prompts[1].status == CANCELLED


def test_the_table_counts_successes_and_averages_the_gap_closed() -> None:
    def prompt(label: str, ridge: float, procrustes: float) -> BatchPrompt:
        made = BatchPrompt(label, label, status=FINISHED)
        rows = [Row("no-prompt", RowKind.BASELINE, accuracy=0.5), Row("ridge", RowKind.RECYCLED, accuracy=ridge),
                Row("procrustes", RowKind.RECYCLED, accuracy=procrustes),
                Row("tuned on target", RowKind.TARGET_PROMPT, accuracy=0.9)]
        from recycler_gui.core.report import Report

        report = Report(rows=[])
        for row in rows:
            report.add(row)
        made.rows = report.rows
        return made

    batch = BatchReport(prompts=[prompt("seed0", 0.6, 0.4), prompt("seed1", 0.7, 0.5), prompt("seed2", 0.4, 0.9)])
    lines = {line.method: line for line in batch.summaries()}
    assert (lines["ridge"].succeeded, lines["ridge"].measured) == (2, 3)
    assert lines["ridge"].mean_gap_closed == pytest.approx((0.25 + 0.5 - 0.25) / 3)
    assert lines["procrustes"].success_rate == pytest.approx(1 / 3)
    assert batch.success_rate == pytest.approx(3 / 6)
    table = list(csv.reader(io.StringIO(batch.to_csv())))
    assert table[0] == ["method", "seed0", "seed1", "seed2", "successes", "success rate %", "mean gap closed %",
                        "mean accuracy %"]
    assert table[1] == ["best baseline", "50.0", "50.0", "50.0", "", "", "", "50.0"]
    assert table[2] == ["ridge", "60.0 ✓", "70.0 ✓", "40.0", "2/3", "67", "17", "56.7"]
    assert table[3][-4:] == ["1/3", "33", "25", "60.0"]


def test_cli_compare_takes_several_prompts_or_a_folder(
    job: Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.cli import main

    first, second = _prompts(tmp_path / "prompts", 2)
    common = [
        "--source", job.source, "--target", job.target, "--task", job.task, "--text-column", "review",
        "--label-column", "stars", "--label-words", "neg=negative,pos=positive", "--method", "ridge",
        "--baseline", "no-prompt", "--eval-size", "6", "--offset", "0", "--device", "cpu", "--no-source",
    ]
    assert main(["compare", "--prompt", str(first), "--prompt", str(second), *common]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["method", "seed0", "seed1", "successes", "success", "rate", "%", "mean", "gap",
                              "closed", "%", "mean", "accuracy", "%"]
    assert out[2].startswith("best baseline") and out[3].startswith("ridge")
    assert "of prompt × recycler pairs" in out[4]
    assert main(["compare", "--prompt", str(tmp_path / "prompts"), *common, "--json"]) == 0
    batch = BatchReport.from_json(capsys.readouterr().out)
    assert [p.label for p in batch.prompts] == ["seed0", "seed1"]
    assert main(["runs"]) == 0
    assert "4 (2 prompts)" in capsys.readouterr().out
    assert main(["runs", "--show", batch.run_id]) == 0
    assert capsys.readouterr().out.startswith("method")


def test_a_prompt_given_twice_is_compared_once_and_same_named_adapters_are_told_apart(tmp_path: Path) -> None:
    """`--prompt P --prompt P` compared P twice; two folders both named `adapter` gave the columns `adapter adapter`."""
    first = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "run1" / "adapter", "peft")
    second = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "run2" / "adapter", "peft")
    given = [str(first), str(second), str(first), f"{tmp_path}/run1/../run1/adapter"]
    assert expand_prompts(given) == [str(first), str(second)]
    assert prompt_labels([str(first), str(second)]) == ["run1/adapter", "run2/adapter"]
