"""Tuning and the comparison pipeline on tiny models: rows, curves, the run folder, cancel, job files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_models import TOY_NEGATIVE, TOY_POSITIVE, write_toy_task

from recycler_gui.core.data.tasks import Example, Task
from recycler_gui.core.errors import OverwriteError, PromptShapeError
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.events import CancelToken, Log, Point, Result, Stage
from recycler_gui.core.models.checkpoints import Checkpoint, open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt
from recycler_gui.core.report import CANCELLED, FINISHED, SCRATCH, Report, RowKind
from recycler_gui.core.runs.pipeline import Job, JobError, run
from recycler_gui.core.runs.store import list_runs, runs_root, writer_identity
from recycler_gui.core.runs.tune_job import TuneJob, run_tune
from recycler_gui.core.training.tuning import WARM_START_LR, TuningSettings, tune


def _toy_task() -> Task:
    examples = [Example(t, 1) for t in TOY_POSITIVE] + [Example(t, 0) for t in TOY_NEGATIVE]
    return Task(
        name="toy", template="Review: {text}\nSentiment:", label_words=(" negative", " positive"),
        train=tuple(examples * 4), dev=tuple(examples), test=tuple(examples),
    )


def test_tuning_lowers_the_loss_and_keeps_the_best_prompt(tiny_t5: Path) -> None:
    checkpoint = open_checkpoint(tiny_t5)
    scorer = Scorer(checkpoint.load_model("cpu"), checkpoint.tokenizer(), checkpoint.family, (" negative", " positive"))
    start = SoftPrompt(checkpoint.input_embeddings()[:6].clone())
    points: list[Point] = []
    settings = TuningSettings(steps=40, batch_size=8, eval_every=10, eval_size=12, learning_rate=0.3, bf16=False)
    result = tune(scorer, _toy_task(), start, settings, series="toy", events=points.append)
    assert sum(result.losses[-5:]) < 0.5 * sum(result.losses[:5])
    assert [step for step, _ in result.curve] == [0, 10, 20, 30, 40]
    assert [p.x for p in points if isinstance(p, Point) and p.series == "toy"] == [0, 10, 20, 30, 40]
    assert result.best_accuracy == max(acc for _, acc in result.curve)
    assert torch.equal(result.prompt.encoder, start.encoder) == (result.best_step == 0)


def test_a_start_whose_dev_accuracy_is_known_is_not_scored_again(
    tiny_llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-tuning pick has scored each recycled start on the same dev examples already: step 0 reuses that."""
    from recycler_gui.core.training import tuning

    checkpoint = open_checkpoint(tiny_llama)
    scorer = Scorer(checkpoint.load_model("cpu"), checkpoint.tokenizer(), checkpoint.family, (" negative", " positive"))
    scored: list[int] = []
    monkeypatch.setattr(tuning, "dev_accuracy", lambda *args: scored.append(1) or 0.5)
    start = SoftPrompt(checkpoint.input_embeddings()[:4].clone())
    settings = TuningSettings(steps=2, batch_size=4, eval_every=2, eval_size=4, bf16=False)
    assert tune(scorer, _toy_task(), start, settings, start_accuracy=0.25).curve == [(0, 0.25), (2, 0.5)]
    assert len(scored) == 1
    assert tune(scorer, _toy_task(), start, settings).curve == [(0, 0.5), (2, 0.5)]
    assert len(scored) == 3


@pytest.fixture
def job(tiny_llama: Path, tiny_gemma: Path, tmp_path: Path) -> Job:
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "source-prompt.safetensors", "safetensors")
    return Job(
        source=str(tiny_llama), target=str(tiny_gemma), prompt=str(prompt), task=str(write_toy_task(tmp_path)),
        text_column="review", label_column="stars", label_words="neg=negative,pos=positive",
        template="Review: {text}\nSentiment:", methods=["v2v-lin", "procrustes"], offset=0, num_words=None,
        eval_size=8, batch_size=4, retune_steps=4, retune_eval_every=2, retune_eval_size=6, device="cpu",
    )


def test_a_full_run_reports_every_row_and_writes_the_run_folder(job: Job) -> None:
    events: list[object] = []
    report = run(job, events=events.append)
    names = [row.name for row in report.rows]
    assert names == [
        "no-prompt", "random", "class-label", "v2v-lin", "procrustes", "re-tuned from scratch",
        f"re-tuned from {report.head_starts[0].start}", "source prompt",
    ]
    assert report.status == FINISHED
    assert report.task["label_words"] == [" negative", " positive"]
    for row in report.rows:
        assert 0 <= row.accuracy <= 1 and row.examples == 8 and len(row.predictions) == 8
    recycled = report.of_kind(RowKind.RECYCLED)
    for row in recycled:
        assert row.vs_best_baseline == pytest.approx(row.accuracy - report.best_baseline_accuracy)
        assert row.success == (row.accuracy > report.best_baseline_accuracy)
    assert "re-tune: from scratch" in report.curves
    assert any(name.startswith("fit loss") for name in report.curves)
    start = report.curves[f"dev at start: {report.head_starts[0].start}"]  # what the re-tuning pick compared
    assert start == [report.curves[f"re-tune: from {report.head_starts[0].start}"][0]]  # where its curve begins
    results = [e.row for e in events if isinstance(e, Result)]
    assert [row.key for row in results] == [row.key for row in report.rows]

    folder = Path(report.path)
    assert Report.from_json((folder / "report.json").read_text()) == report
    assert (folder / "report.csv").read_text().splitlines()[0].startswith("name,kind,model,accuracy")
    for row in [*recycled, *report.of_kind(RowKind.RETUNED)]:
        assert read_prompt(folder / row.prompt).dim == 32
    assert json.loads((folder / "job.json").read_text())["methods"] == ["v2v-lin", "procrustes"]


def test_a_cancelled_run_keeps_its_finished_rows(job: Job) -> None:
    token = CancelToken()

    def cancel_after_first_row(event: object) -> None:
        if isinstance(event, Result):
            token.cancel()

    job.retune_steps = 0
    returned = run(job, events=cancel_after_first_row, cancel=token)
    stored = Report.from_json((Path(returned.path) / "report.json").read_text())
    for report in (returned, stored):
        assert report.status == CANCELLED  # the source prompt was scored first, while its model was loaded
        assert [row.name for row in report.rows] == ["no-prompt", "source prompt"]


def test_job_files_in_json_and_toml(job: Job, tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text(json.dumps(job.as_dict()))
    assert Job.from_file(tmp_path / "job.json") == job
    (tmp_path / "job.toml").write_text(f'source = "{job.source}"\ntarget = "{job.target}"\nprompt = "{job.prompt}"\n'
                                       "eval_size = 50\nmethods = [\"ridge\"]\n")
    loaded = Job.from_file(tmp_path / "job.toml")
    assert (loaded.eval_size, loaded.methods, loaded.task) == (50, ["ridge"], "movie-reviews")
    (tmp_path / "bad.toml").write_text("source = \n")
    with pytest.raises(Exception, match="cannot be parsed"):
        Job.from_file(tmp_path / "bad.toml")
    with pytest.raises(JobError, match="unknown job settings: colour"):
        Job.from_dict({**job.as_dict(), "colour": "red"})


def test_cli_compare_then_runs_show_and_delete(job: Job, capsys: pytest.CaptureFixture[str]) -> None:
    from recycler_gui.cli import main

    args = [
        "compare", "--source", job.source, "--target", job.target, "--prompt", job.prompt, "--task", job.task,
        "--text-column", "review", "--label-column", "stars", "--label-words", "neg=negative,pos=positive",
        "--method", "ridge", "--baseline", "no-prompt", "--eval-size", "6", "--offset", "0", "--device", "cpu",
        "--no-source",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ridge" in out and "no-prompt" in out and "recycled successfully" in out
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    run_id = runs[0]["id"]
    assert runs[0]["status"] == "finished" and runs[0]["rows"] == 2
    assert main(["runs", "--show", run_id]) == 0
    assert "ridge" in capsys.readouterr().out
    assert main(["runs", "--delete", run_id]) == 0
    capsys.readouterr()
    assert main(["runs", "--show", run_id]) == 2
    assert "no stored run" in capsys.readouterr().err


def test_cli_compare_needs_the_three_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    from recycler_gui.cli import main

    assert main(["compare", "--source", "x"]) == 2
    assert "no --target, --prompt given" in capsys.readouterr().err


def test_cli_tune_writes_the_prompt_and_a_record(
    tiny_t5: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.cli import main

    task = write_toy_task(tmp_path)
    code = main([
        "tune", "--model", str(tiny_t5), "--task", str(task), "--text-column", "review", "--label-column", "stars",
        "--label-words", "neg=negative,pos=positive", "--steps", "4", "--eval-every", "2", "--eval-size", "6",
        "--test-size", "6", "--prompt-length", "3", "--out", str(tmp_path / "tuned"), "--device", "cpu", "--json",
    ])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert [step for step, _ in record["curve"]] == [0, 2, 4]
    assert record["test_examples"] == 6 and 0 <= record["test_accuracy"] <= 1
    tuned = read_prompt(tmp_path / "tuned")
    assert tuned.num_tokens == 3 and tuned.meta.source_model == str(tiny_t5)


def test_a_norm_cap_keeps_every_row_within_the_vocabulary_region(tiny_t5: Path) -> None:
    checkpoint = open_checkpoint(tiny_t5)
    scorer = Scorer(checkpoint.load_model("cpu"), checkpoint.tokenizer(), checkpoint.family, (" negative", " positive"))
    table = checkpoint.input_embeddings()
    vocabulary_norm = float(table.norm(dim=1).mean())
    start = SoftPrompt(table[:6].clone())
    settings = TuningSettings(steps=10, batch_size=8, eval_every=5, eval_size=12, learning_rate=0.3, bf16=False)
    free = tune(scorer, _toy_task(), start, settings)
    capped = tune(scorer, _toy_task(), start, TuningSettings(**{**settings.__dict__, "max_norm": 1.0}),
                  vocabulary_norm=vocabulary_norm)
    assert capped.prompt.encoder.norm(dim=1).max() <= vocabulary_norm * 1.0001
    if free.best_step:
        assert free.prompt.encoder.norm(dim=1).max() > vocabulary_norm
    with pytest.raises(Exception, match="mean vocabulary norm"):
        tune(scorer, _toy_task(), start, TuningSettings(**{**settings.__dict__, "max_norm": 1.0}))


def test_a_prompt_tuned_on_the_target_is_the_upper_bound_without_re_tuning(job: Job, tmp_path: Path) -> None:
    job.retune_steps = 0
    job.target_prompt = str(write_prompt(SoftPrompt(torch.randn(4, 32)), tmp_path / "target.safetensors",
                                         "safetensors"))
    report = run(job)
    bound = next(row for row in report.rows if row.name == "tuned on target")
    assert bound.kind is RowKind.TARGET_PROMPT and bound.examples == job.eval_size
    assert read_prompt(Path(report.path) / bound.prompt).dim == 32
    assert report.retuned_accuracy == bound.accuracy
    gap = bound.accuracy - report.best_baseline_accuracy
    for row in report.of_kind(RowKind.RECYCLED):
        expected = (row.accuracy - report.best_baseline_accuracy) / gap if gap > 0 else None
        assert row.gap_closed == expected


def test_a_target_prompt_of_the_wrong_width_is_refused_before_any_work(job: Job, tmp_path: Path) -> None:
    job.target_prompt = str(write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "t.safetensors", "safetensors"))
    with pytest.raises(PromptShapeError, match="prompt tuned on the target.*48 wide.*target model"):
        run(job)


def test_the_few_shot_pick_is_a_row_of_its_own_kind_and_leaves_the_data_free_rate_alone(job: Job) -> None:
    job.retune_steps = 0
    data_free = run(job)
    job.few_shot = 6
    report = run(job)
    (pick,) = report.of_kind(RowKind.FEW_SHOT)
    assert pick.name == f"few-shot pick: {pick.picked}" and pick.shots == 6
    assert pick.picked.split(" @ ")[0] in job.methods
    assert 0 <= pick.calibrated_accuracy <= 1 and pick.success is not None
    assert report.success_rate == data_free.success_rate
    assert read_prompt(Path(report.path) / pick.prompt).num_tokens == 4
    job.few_shot = 33
    with pytest.raises(JobError, match="0 \\(off\\) to 32"):
        run(job)


def test_a_run_whose_process_died_is_listed_as_interrupted() -> None:
    """A comparison killed mid-run (SIGKILL, a crash) leaves "running" on disk; the list says otherwise."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    for run_id, writer in (("20260101-000000-dead00", {**writer_identity(), "pid": dead_pid}),
                           ("20260101-000000-alive0", writer_identity()),
                           ("20260101-000000-other0", {"host": "another-machine", "pid": dead_pid})):
        folder = runs_root() / run_id
        folder.mkdir(parents=True)
        (folder / "job.json").write_text(json.dumps({"source": "a", "target": "b"}))
        (folder / "report.json").write_text(json.dumps({"status": "running", "rows": [], "writer": writer}))
    statuses = {run["id"]: run["status"] for run in list_runs()}
    assert statuses == {"20260101-000000-dead00": "interrupted", "20260101-000000-alive0": "running",
                        "20260101-000000-other0": "running"}


def test_tuning_checks_its_output_first_and_reads_the_embedding_table_once(
    tiny_t5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = Checkpoint.input_embeddings
    monkeypatch.setattr(Checkpoint, "input_embeddings", lambda self: reads.append(self.reference) or original(self))
    task = str(write_toy_task(tmp_path))
    start = write_prompt(SoftPrompt(torch.randn(3, 32)), tmp_path / "start.safetensors", "safetensors")
    job = TuneJob(
        model=str(tiny_t5), out=str(start), start=str(start), task=task, text_column="review", label_column="stars",
        label_words="neg=negative,pos=positive", device="cpu", test_size=6,
        tuning=TuningSettings(steps=2, eval_every=2, eval_size=6, max_norm=1.5, bf16=False),
    )
    with pytest.raises(OverwriteError, match="would overwrite the input"):
        run_tune(job)
    assert reads == []
    events: list[object] = []
    result = run_tune(replace(job, out=str(tmp_path / "tuned"), start=None), events=events.append)
    assert reads == [str(tiny_t5)]
    assert read_prompt(result.output).num_tokens == 20 and result.test_examples == 6
    assert [p.x for p in events if isinstance(p, Point)] == [0, 2]
    assert result.mean_row_norm <= 1.5 * result.vocabulary_mean_norm * 1.0001


def test_tuning_from_a_start_prompt_steps_by_its_scale_unless_the_warm_start_rule_is_off(
    tiny_t5: Path, tmp_path: Path
) -> None:
    start = write_prompt(SoftPrompt(torch.randn(3, 32) * 0.01), tmp_path / "start.safetensors", "safetensors")
    job = TuneJob(
        model=str(tiny_t5), out=str(tmp_path / "warm"), start=str(start), task=str(write_toy_task(tmp_path)),
        text_column="review", label_column="stars", label_words="neg=negative,pos=positive", device="cpu",
        test_size=2, tuning=TuningSettings(steps=1, eval_every=1, eval_size=2, learning_rate=0.3, bf16=False),
    )
    warm = run_tune(job).summary()
    assert (warm["learning_rate"], warm["relative_lr"]) == (WARM_START_LR, True)
    plain = run_tune(replace(job, out=str(tmp_path / "plain"), tuning=replace(job.tuning, warm_start=False)))
    assert (plain.summary()["learning_rate"], plain.summary()["relative_lr"]) == (0.3, False)
    scratch = run_tune(replace(job, out=str(tmp_path / "scratch"), start=None)).summary()
    assert (scratch["learning_rate"], scratch["relative_lr"]) == (0.3, False)  # the rule is for given starts only


def test_a_run_that_teaches_re_tunes_from_the_taught_prompt_and_reports_its_head_start(job: Job) -> None:
    job.teach_steps, job.teach_write, job.score_source, job.retune_from = 2, 16, False, [SCRATCH, "taught"]
    report = run(job)
    assert [row.name for row in report.rows][-3:] == [
        "taught from procrustes", "re-tuned from scratch", "re-tuned from taught",
    ]
    rows = {row.name: row for row in report.rows}
    (head,) = report.head_starts
    assert head.start == "taught" and head.scratch_best_step == rows["re-tuned from scratch"].best_step
    assert rows["re-tuned from taught"].start == "taught"
    assert [x for x, _ in report.curves["re-tune: from taught"]] == [0, 2, 4]
    assert read_prompt(Path(report.path) / rows["re-tuned from taught"].prompt).dim == 32


def test_teaching_adds_a_taught_row_and_every_row_gets_a_calibrated_accuracy(job: Job) -> None:
    job.retune_steps, job.teach_steps, job.teach_write = 0, 3, 16
    events: list[object] = []
    report = run(job, events=events.append)
    assert report.status == FINISHED
    assert [row.name for row in report.rows] == [
        "no-prompt", "random", "class-label", "v2v-lin", "procrustes", "taught from procrustes", "source prompt",
    ]
    (taught,) = report.of_kind(RowKind.TAUGHT)
    assert taught.start == "procrustes" and taught.success is not None and taught.significant is not None
    assert read_prompt(Path(report.path) / taught.prompt).dim == 32
    assert all(row.calibrated_accuracy is not None and 0 <= row.calibrated_accuracy <= 1 for row in report.rows)
    assert report.gold == job.load_task().texts_and_labels("test", 8)[1].tolist()
    assert [x for x, _ in report.curves["teach: from procrustes"]] == [0, 3]
    logs = [e.text for e in events if isinstance(e, Log)]
    assert any(text.startswith("teacher: ") and "texts written by" in text for text in logs)


def test_a_cancel_while_teaching_keeps_the_best_prompt_so_far(job: Job) -> None:
    job.retune_steps, job.teach_steps, job.teach_write, job.score_source = 0, 30, 16, False
    token = CancelToken()

    def cancel_in_teaching(event: object) -> None:
        if isinstance(event, Stage) and event.name.startswith("teach: "):
            token.cancel()

    report = run(job, events=cancel_in_teaching, cancel=token)
    assert report.status == CANCELLED and not report.of_kind(RowKind.TAUGHT)
    assert read_prompt(Path(report.path) / "prompts" / "taught").dim == 32


def test_cli_teach_writes_the_taught_prompt(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.cli import main

    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "source.safetensors", "safetensors")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TOY_POSITIVE + TOY_NEGATIVE), encoding="utf-8")
    options = ["--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt),
               "--task", str(write_toy_task(tmp_path)), "--text-column", "review", "--label-column", "stars",
               "--label-words", "neg=negative,pos=positive", "--steps", "2", "--eval-every", "1", "--texts",
               str(texts), "--test-size", "6", "--device", "cpu", "--offset", "0", "--num-words", "all"]
    assert main(["teach", *options, "--out", str(tmp_path / "taught"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["texts"] == f"12 texts from {texts}" and [step for step, _ in record["curve"]] == [0, 1, 2]
    assert record["test_examples"] == 6 and 0 <= record["test_calibrated_accuracy"] <= 1
    taught = read_prompt(tmp_path / "taught")
    assert taught.dim == 32 and taught.meta.source_model == str(tiny_gemma)
    assert main(["teach", *options, "--out", str(prompt)]) == 2  # never over an input
    assert "refusing" in capsys.readouterr().err



def test_ctrl_c_during_cli_teaching_writes_the_best_prompt_so_far_and_says_where(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    """Ctrl-C raised KeyboardInterrupt through the teaching loop: no prompt was written, and the CLI said only
    "cancelled". The first Ctrl-C now cancels at the next step."""
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "source.safetensors", "safetensors")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TOY_POSITIVE + TOY_NEGATIVE), encoding="utf-8")
    out = tmp_path / "taught"
    command = [sys.executable, "-m", "recycler_gui.cli", "teach", "--source", str(tiny_llama), "--target",
               str(tiny_gemma), "--prompt", str(prompt), "--task", str(write_toy_task(tmp_path)), "--text-column",
               "review", "--label-column", "stars", "--label-words", "neg=negative,pos=positive", "--steps", "100000",
               "--eval-every", "5", "--texts", str(texts), "--test-size", "6", "--device", "cpu", "--offset", "0",
               "--num-words", "all", "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:  # wait until the student trains
        lines.append(line)
        if "(the student)" in line:
            break
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, "".join(lines) + rest
    assert rest.strip().splitlines()[-1].startswith(f"cancelled: the best prompt so far was written to {out}")
    assert read_prompt(out).dim == 32
