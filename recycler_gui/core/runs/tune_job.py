"""Prompt tuning as a job of its own (``prompt-recycler tune``): train a prompt on a frozen model, keep the best on dev,
score it on test and write it the way ``recycle`` writes prompts.

``run_tune(job, events, cancel)`` is the tuning counterpart of ``pipeline.run``: typed settings in, events out, a
cancel token checked between steps and batches, a typed result back. The model's embedding table is read once (for
the start prompt and the norm cap); the inputs are checked before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..data.catalog import fetch_if_builtin_task
from ..evaluation.scoring import Metrics, Scorer, classification_metrics, label_token_ids
from ..events import Cancelled, CancelToken, EventSink, Log, Stage, ignore_events
from ..fields import at_least, setting
from ..models.checkpoints import open_checkpoint
from ..prompts.formats import FORMATS, guard_prompt_outputs, read_prompt, write_prompt
from ..storage import ensure_not_input
from ..training.tuning import TuningResult, TuningSettings, initial_prompt, tune
from ..transfer.recycling import check_prompt_fits_source
from .settings import JobError, RunSettings

TUNING_SERIES = "tuning"
"""The dev-accuracy curve's series in ``Point`` events."""


@dataclass(kw_only=True)
class TuneJob(RunSettings):
    """What to tune, on what, and how. ``tuning``'s batch size and seed are the run settings' (``batch_size``,
    ``seed``), so that one flag sets each."""

    model: str = setting(help="the frozen model (folder, .gguf, Hugging Face id or demo model name)")
    out: str = setting(help="where to write the tuned prompt")
    format: str = setting("peft", "output format")
    start: str | None = setting(
        None, "start from this prompt file instead of the init (e.g. a recycled or taught prompt), tuned with the "
              "warm-start rule"
    )
    start_key: str | None = setting(None, "tensor to use when the start file holds several")
    test_size: int = setting(1000, "test examples scored at the end")
    tuning: TuningSettings = setting(factory=TuningSettings, help="steps, learning rate, evaluation, init, norm cap")

    def check(self) -> None:
        """Every setting (types, ranges, the format, the device), before any work."""
        super().check()
        self.settings().check()
        at_least(self, "test_size", 1)
        if self.format not in FORMATS:
            raise JobError(f"unknown output format {self.format!r}", f"choose one of {', '.join(FORMATS)}")

    def settings(self) -> TuningSettings:
        """The tuning settings with this job's batch size and seed."""
        return replace(self.tuning, batch_size=self.batch_size, seed=self.seed)


@dataclass(frozen=True)
class TuneResult:
    """The tuned prompt where it was written, its dev curve and test metrics, and the norms that say how recyclable
    it is (its mean row norm beside the model's mean vocabulary row norm)."""

    job: TuneJob
    model: str
    task: str
    output: Path
    init: str
    settings: TuningSettings
    tuning: TuningResult
    dev_examples: int
    test: Metrics
    test_examples: int
    mean_row_norm: float
    vocabulary_mean_norm: float

    def summary(self) -> dict[str, Any]:
        """The record ``tune --json`` prints (and ``bench/tune_source_prompts.py`` keeps beside each prompt)."""
        return {
            "model": self.model, "task": self.task, "output": str(self.output), "seed": self.settings.seed,
            "steps": self.settings.steps, "prompt_length": self.settings.prompt_length,
            "learning_rate": self.settings.learning_rate, "relative_lr": self.settings.relative_lr, "init": self.init,
            "best_step": self.tuning.best_step,
            "dev_accuracy": self.tuning.best_accuracy, "dev_examples": self.dev_examples,
            "test_accuracy": self.test.accuracy, "test_macro_f1": self.test.macro_f1,
            "test_examples": self.test_examples, "curve": self.tuning.curve, "stopped_early": self.tuning.stopped_early,
            "max_norm": self.settings.max_norm, "mean_row_norm": self.mean_row_norm,
            "vocabulary_mean_norm": self.vocabulary_mean_norm,
        }


def run_tune(job: TuneJob, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> TuneResult:
    """Tune a prompt as ``job`` says; raises ``Cancelled`` when cancelled (nothing is written then)."""
    cancel = cancel or CancelToken()
    job.check()
    settings = job.settings()
    out = Path(job.out)
    inputs = [path for path in (job.start, job.task, job.model) if path]  # a built-in task or model id is no path
    guard_prompt_outputs([out], inputs)
    fetch_if_builtin_task(job.task, events)
    task = job.load_task()
    checkpoint = open_checkpoint(job.model, download=job.download, events=events, cancel=cancel)
    inputs += checkpoint.input_paths  # where a model id or demo model name lives
    ensure_not_input(out, inputs)
    start = None
    if job.start:
        start = read_prompt(job.start, key=job.start_key)
        check_prompt_fits_source(start, checkpoint, role="tuned")
        settings = settings.for_start()
    label_token_ids(checkpoint.tokenizer(), task.label_words)  # before the model is loaded
    note = task.scoring_note("test", job.test_size)
    if note:
        events(Log(f"note: {note}"))
    table = checkpoint.input_embeddings()
    vocabulary_norm = float(table.norm(dim=1).mean())
    if start is None:
        start = initial_prompt(table, checkpoint.tokenizer(), task, settings)
    del table  # the loaded model holds its own copy
    events(Stage(f"loading {checkpoint.name}"))
    model = checkpoint.load_model(job.device, job.dtype)
    scorer = Scorer(model, checkpoint.tokenizer(), checkpoint.family, task.label_words, batch_size=settings.batch_size)
    try:
        result = tune(scorer, task, start, settings, vocabulary_norm=vocabulary_norm, series=TUNING_SERIES,
                      events=events, cancel=cancel)
        texts, gold = task.texts_and_labels("test", job.test_size)
        cancel.check()
        events(Stage(f"scoring the tuned prompt on {len(texts)} test examples", len(texts)))
        scores = scorer.score(texts, result.prompt.encoder, events=events, cancel=cancel)
    except Cancelled as cancelled:
        raise Cancelled("cancelled", f"nothing was written to {out}: tuning writes its prompt when it ends") from (
            cancelled)
    metrics = classification_metrics(scores, gold)
    init = f"tuned from {job.start}" if job.start else settings.init
    prompt = result.prompt.with_tables([result.prompt.encoder], source_model=checkpoint.reference, task=task.name,
                                       init=init)
    output = write_prompt(prompt, job.out, job.format, inputs=inputs, peft_target=checkpoint.peft_target)
    return TuneResult(
        job=job, model=checkpoint.reference, task=task.name, output=output, init=init, settings=settings,
        tuning=result, dev_examples=min(settings.eval_size, len(task.dev)), test=metrics, test_examples=len(texts),
        mean_row_norm=float(result.prompt.encoder.norm(dim=1).mean()), vocabulary_mean_norm=vocabulary_norm,
    )
