"""Teaching as a job of its own (``prompt-recycler teach``), and the source phase the comparison shares with it.

Teaching needs both models, one at a time, so it falls into two phases that each load one model once:

- source phase (``teacher_answers``): the texts to teach on (a user's file, or written from the task template by
  the writer: the source model when it can generate, else the target) and the teacher's label distribution on them
  (the source model with the source prompt). That distribution is all the target phase needs from the source.
- target phase (``training.teaching.teach``): the student starts from the recommended data-free recycler's prompt
  and learns to answer like the teacher; held-out texts pick the best prompt.

``run_teach(job, events, cancel)`` runs both and writes the taught prompt the way ``recycle`` writes prompts; a cancel
during teaching still writes the best prompt so far, then raises ``Cancelled``. No labelled example is read, except
the test examples the taught prompt is scored on at the end (``test_size``; 0 skips it).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..data.catalog import fetch_if_builtin_task
from ..data.tasks import TEXT_COLUMN, Task
from ..data.unlabelled import TeachingTextsError, WritingSettings, read_texts_file, writer_for, written_texts
from ..evaluation.calibration import calibrated_accuracy, content_free_bias
from ..evaluation.scoring import Metrics, Scorer, classification_metrics
from ..events import Cancelled, CancelToken, EventSink, Log, Stage, ignore_events, teach_series
from ..fields import at_least, same_as, setting
from ..models.checkpoints import Checkpoint, open_checkpoint
from ..prompts.formats import FORMATS, SoftPrompt, guard_prompt_outputs, read_prompt, write_prompt
from ..training.teaching import MIN_TEXTS, TeachingResult, TeachingSettings, teach, teacher_distribution
from ..transfer.recyclers import RECOMMENDED
from ..transfer.recycling import check_prompt_fits_source, recycle
from ..transfer.vocab import VocabSettings
from .settings import JobError, RunSettings

TEACHER_STAGE = "the teacher answers on"
"""The start of the name of the stage in which the source model labels the texts."""


@dataclass(kw_only=True)
class TeachSource:
    """Where the texts to teach on come from: a file (``texts``, one per line or ``text_column`` of a CSV, TSV or JSON
    Lines file), else written by a model (``writing``)."""

    texts: str | None = setting(None, "file of unlabelled texts to teach on (one per line, or a column of a table)")
    texts_column: str | None = setting(
        None, f"the column of the texts file that holds the texts (tables; default {TEXT_COLUMN})"
    )
    writing: WritingSettings = setting(factory=WritingSettings, help="how many texts a model writes, and how")


@dataclass(frozen=True)
class TeacherAnswers:
    """The texts to teach on and the teacher's label distribution on each [texts, labels]; ``origin`` says where the
    texts came from."""

    texts: list[str]
    distribution: torch.Tensor
    origin: str


def checked_texts_file(path: str, column: str | None) -> int:
    """How many texts the user's file holds; a bad file, or one with too few texts to teach on, fails here, before
    any model work."""
    count = len(read_texts_file(path, column))
    if count < MIN_TEXTS:
        raise TeachingTextsError(f"{path} holds {count} texts, too few to teach on (a quarter is held out)",
                                 f"give {MIN_TEXTS} or more texts (a few hundred)")
    return count


def texts_to_teach_on(
    source: TeachSource, writer: Checkpoint, model: Any, task: Task, events: EventSink, cancel: CancelToken
) -> tuple[list[str], str]:
    """The texts and where they came from: the file when one is given, else what ``writer`` (loaded as ``model``, or
    None when its texts are cached) writes for the task."""
    if source.texts:
        texts = read_texts_file(source.texts, source.texts_column)
        return texts, f"{len(texts)} texts from {source.texts}"
    texts = written_texts(writer, model, task, source.writing, events=events, cancel=cancel)
    return texts, f"{len(texts)} texts written by {writer.name}"


def teacher_answers(
    scorer: Scorer, prompt: SoftPrompt, task: Task, texts: list[str], origin: str, events: EventSink,
    cancel: CancelToken,
) -> TeacherAnswers:
    """The teacher's (the source model's, with the source prompt) label distribution on ``texts``."""
    cancel.check()
    events(Stage(f"{TEACHER_STAGE} {len(texts)} texts", len(texts)))
    distribution = teacher_distribution(scorer, task, texts, prompt.encoder, events=events, cancel=cancel)
    shares = ", ".join(f"{word.strip()} {float(share):.0%}" for word, share in
                       zip(task.label_words, torch.bincount(distribution.argmax(1), minlength=len(task.label_words))
                           / len(texts), strict=True))
    events(Log(f"teacher: {origin}; its answers: {shares}"))
    return TeacherAnswers(texts, distribution, origin)


def write_first_if_needed(
    source: TeachSource, source_checkpoint: Checkpoint, target: Checkpoint, task: Task, device: str, dtype: str,
    events: EventSink, cancel: CancelToken,
) -> Checkpoint:
    """The model that writes the texts; when it is not the source and its texts are not cached, load it now, write
    them into the cache and free it (so the source phase reads them)."""
    writer = writer_for(source_checkpoint, target)
    if source.texts or writer is source_checkpoint:
        return writer
    try:
        written_texts(writer, None, task, source.writing)
    except TeachingTextsError:  # not cached yet
        events(Stage(f"loading {writer.name} to write texts ({source_checkpoint.name} cannot)"))
        model = writer.load_model(device, dtype)
        written_texts(writer, model, task, source.writing, events=events, cancel=cancel)
        del model
        gc.collect()
    return writer


@dataclass(kw_only=True)
class TeachJob(RunSettings, TeachSource):
    """What to teach: the source model and prompt (the teacher), the target (the student's model), where to write the
    taught prompt, and how (``teaching``)."""

    source: str = setting(help="model the prompt was trained on (the teacher)")
    target: str = setting(help="model to teach a prompt for")
    prompt: str = setting(help="the prompt file or PEFT adapter folder")
    prompt_key: str | None = setting(None, "tensor to use when the prompt file holds several")
    out: str = setting(help="where to write the taught prompt")
    format: str = setting("peft", "output format")
    test_size: int = setting(200, "test examples the taught prompt is scored on at the end (0: none)")
    offset: int = same_as(VocabSettings, "offset")
    num_words: int | None = same_as(VocabSettings, "num_words")
    teaching: TeachingSettings = setting(factory=TeachingSettings, help="steps, learning rate, held-out texts")

    def check(self) -> None:
        """Every setting (types, ranges, the format, the device), before any work."""
        super().check()
        self.settings().check()
        self.writing.check()
        self.vocabulary().check()
        at_least(self, "test_size", 0)
        if not self.texts and self.writing.count < MIN_TEXTS:
            raise JobError(f"{self.writing.count} texts to write are too few to teach on (a quarter is held out)",
                           f"write {MIN_TEXTS} or more (--write)")
        if self.format not in FORMATS:
            raise JobError(f"unknown output format {self.format!r}", f"choose one of {', '.join(FORMATS)}")

    def settings(self) -> TeachingSettings:
        """The teaching settings with this job's seed."""
        return replace(self.teaching, seed=self.seed)

    def vocabulary(self) -> VocabSettings:
        """Which shared words the recommended recycler fits on."""
        return VocabSettings(self.offset, self.num_words)


@dataclass(frozen=True)
class TeachResult:
    """The taught prompt where it was written, how teaching went, and its test metrics (None with ``test_size`` 0)."""

    job: TeachJob
    output: Path
    origin: str
    teaching: TeachingResult
    test: Metrics | None
    calibrated_accuracy: float | None
    test_examples: int

    def summary(self) -> dict[str, Any]:
        """The record ``teach --json`` prints."""
        training = self.teaching.training
        return {
            "source": self.job.source, "target": self.job.target, "prompt": self.job.prompt,
            "output": str(self.output), "texts": self.origin, "steps": self.job.teaching.steps,
            "best_step": training.best_step, "agreement": training.best_value, "curve": training.curve,
            "test_accuracy": None if self.test is None else self.test.accuracy,
            "test_auc": None if self.test is None else self.test.auc,
            "test_calibrated_accuracy": self.calibrated_accuracy, "test_examples": self.test_examples,
        }


def run_teach(job: TeachJob, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> TeachResult:
    """Teach a prompt for the target as ``job`` says and write it; see the module docstring."""
    cancel = cancel or CancelToken()
    job.check()
    prompt = read_prompt(job.prompt, key=job.prompt_key)
    source, target = (open_checkpoint(name, events=events, cancel=cancel) for name in (job.source, job.target))
    check_prompt_fits_source(prompt, source)
    inputs = [job.prompt, *source.input_paths, *target.input_paths, *([job.texts] if job.texts else [])]
    guard_prompt_outputs([Path(job.out)], inputs)
    fetch_if_builtin_task(job.task, events)
    task = job.load_task()
    note = task.scoring_note("test", job.test_size) if job.test_size else None
    if note:
        events(Log(f"note: {note}"))
    if job.texts:
        checked_texts_file(job.texts, job.texts_column)
    start = recycle(source, target, prompt, [RECOMMENDED], vocabulary=job.vocabulary(),
                    seed=job.seed, events=events, cancel=cancel).recycled[0]  # embeddings only: cheap, checks first
    writer = write_first_if_needed(job, source, target, task, job.device, job.dtype, events, cancel)

    events(Stage(f"loading {source.name} (the teacher)"))
    model = source.load_model(job.device, job.dtype)
    scorer = Scorer(model, source.tokenizer(), source.family, task.label_words, batch_size=job.batch_size)
    texts, origin = texts_to_teach_on(job, writer, model, task, events, cancel)
    answers = teacher_answers(scorer, prompt, task, texts, origin, events, cancel)
    del model, scorer
    gc.collect()

    events(Stage(f"loading {target.name} (the student)"))
    model = target.load_model(job.device, job.dtype)
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=job.batch_size)
    result = teach(scorer, task, answers.texts, answers.distribution, start.prompt, job.settings(),
                   series=teach_series(RECOMMENDED), events=events, cancel=cancel)
    taught = result.prompt.with_tables([result.prompt.encoder], source_model=target.reference, task=task.name,
                                       init=f"taught by {source.reference} with {job.prompt}")
    output = write_prompt(taught, job.out, job.format, inputs=inputs, peft_target=target.peft_target)
    if result.training.cancelled:
        events(Log(f"cancelled: the best prompt so far (step {result.training.best_step}) is in {output}"))
        raise Cancelled("cancelled", f"the best prompt so far was written to {output}")
    metrics, calibrated, examples = None, None, 0
    if job.test_size:
        test_texts, gold = task.texts_and_labels("test", job.test_size)
        events(Stage(f"scoring the taught prompt on {len(test_texts)} test examples", len(test_texts)))
        scores = scorer.score(test_texts, taught.encoder, events=events, cancel=cancel)
        metrics, examples = classification_metrics(scores, gold), len(test_texts)
        calibrated = calibrated_accuracy(scores, gold, content_free_bias(scorer, task, taught.encoder, cancel))
    return TeachResult(job, output, answers.origin, result, metrics, calibrated, examples)
