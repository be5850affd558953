"""One comparison run, shared by the CLI and the GUI: ``run(job, events, cancel) -> report``.

Recycle the prompt with each method; score each recycled prompt and each baseline on the target's test split; score
the source prompt on the source; optionally re-tune on the target from scratch and from the best recycled prompt
(picked on dev accuracy), with live curves. Every finished row is written to the run folder at once, so a cancel or a
crash keeps what finished.
"""

from __future__ import annotations

import gc
import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from ..data.catalog import fetch_if_builtin_task
from ..data.tasks import Task
from ..data.unlabelled import WritingSettings
from ..errors import CorruptFileError, InputNotFoundError
from ..evaluation.baselines import RANDOM_SEEDS, class_label_prompt, random_prompt, resolve_baselines
from ..evaluation.calibration import calibrated_accuracy, content_free_bias
from ..evaluation.few_shot import MAX_SHOTS, few_shot_examples, label_bias, pick_by_few_shot
from ..evaluation.scoring import Scorer, classification_metrics, label_token_ids
from ..events import (
    START_SERIES,
    Cancelled,
    CancelToken,
    EventSink,
    Log,
    Point,
    Result,
    Stage,
    ignore_events,
    retune_series,
    teach_series,
)
from ..fields import at_least, default_of, flag_of, same_as, setting
from ..models.checkpoints import Checkpoint, open_checkpoint
from ..models.zoo import fetch_if_zoo_model
from ..prompts.formats import SoftPrompt, read_prompt
from ..report import CANCELLED, FINISHED, RETUNE_STARTS, SCRATCH, HeadStart, Report, Row, RowKind
from ..storage import read_error
from ..training.teaching import MIN_TEXTS, TeachingSettings, teach
from ..training.tuning import TuningSettings, dev_accuracy, tune
from ..transfer.recyclers import RECOMMENDED, recycler_class
from ..transfer.recycling import Recycled, check_prompt_fits_source, recycle, resolve_methods
from ..transfer.vocab import VocabSettings
from .plan import (
    DEV_PICK_STAGE,
    FEW_SHOT_STAGE,
    FEW_SHOT_WHAT,
    SOURCE_WHAT,
    TARGET_PROMPT_WHAT,
    TAUGHT_WHAT,
    fitted_methods,
    loading_stage,
    plan_run,
    random_seed_name,
    retuned_what,
    scoring_stage,
)
from .settings import JobError, RunSettings
from .store import RunFolder, writer_identity
from .teach_job import (
    TeacherAnswers,
    TeachSource,
    checked_texts_file,
    teacher_answers,
    texts_to_teach_on,
    write_first_if_needed,
)


@dataclass(kw_only=True)
class Job(RunSettings):
    """Everything one comparison run needs: the run settings, and paths and names as the user gave them.

    ``target_prompt`` is a prompt already tuned on the target (for this task): scored as the upper bound instead of,
    or beside, re-tuning. ``few_shot`` > 0 adds the few-shot pick: the recycled prompt (each method's, as recycled or
    at the target vocabulary's norm) most accurate on that many labelled train examples of the target; it is a row of
    its own kind, never mixed with data-free ones. Each field's default and help are what the CLI's help and the
    window's widgets show (``core.fields``).
    """

    source: str = setting(help="model the prompt was trained on")
    target: str = setting(help="model to recycle the prompt to")
    prompt: str = setting(help="the prompt file or PEFT adapter folder")
    prompt_key: str | None = setting(None, "tensor to use when the prompt file holds several")
    methods: list[str] = setting(factory=lambda: ["all"], help="recycling methods, or all")
    method_params: dict[str, dict[str, Any]] = setting(factory=dict, help="parameters by method")
    baselines: list[str] = setting(factory=lambda: ["all"], help="baselines on the target, or all")
    offset: int = same_as(VocabSettings, "offset")
    num_words: int | None = same_as(VocabSettings, "num_words")
    eval_size: int = setting(200, "test examples scored per prompt and baseline")
    score_source: bool = setting(True, "score the source prompt on the source model")
    target_prompt: str | None = setting(
        None, "a prompt already tuned on the target for this task: scored as the upper bound (cheaper than re-tuning)"
    )
    few_shot: int = setting(
        0, f"few-shot mode, reported apart: also pick the recycled prompt most accurate on this many (at most "
           f"{MAX_SHOTS}) labelled train examples of the target; 0: data-free only"
    )
    retune_steps: int = setting(0, "re-tune on the target for this many steps; 0: no re-tuning")
    retune_from: list[str] = setting(
        factory=lambda: list(RETUNE_STARTS),
        help="re-tune from scratch, from the best recycled prompt and/or from the taught prompt (when teaching)"
    )
    retune_learning_rate: float = setting(
        default_of(TuningSettings, "learning_rate"), "Adam learning rate when re-tuning from scratch"
    )
    retune_warm_start: bool = same_as(TuningSettings, "warm_start")
    retune_eval_every: int = same_as(TuningSettings, "eval_every")
    retune_eval_size: int = same_as(TuningSettings, "eval_size")
    teach_steps: int = setting(
        0, "teach a prompt for the target with the source model and prompt (no labels; reported apart) for this many "
           "steps; 0: no teaching"
    )
    teach_texts: str | None = same_as(TeachSource, "texts")
    teach_texts_column: str | None = same_as(TeachSource, "texts_column")
    teach_write: int = same_as(WritingSettings, "count")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Job:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise JobError(f"unknown job settings: {', '.join(sorted(unknown))}", f"known settings: {', '.join(known)}")
        missing = {"source", "target", "prompt"} - set(values)
        if missing:
            raise JobError(f"the job lacks {', '.join(sorted(missing))}", "name the source, target and prompt")
        return cls(**values)

    @classmethod
    def from_file(cls, path: Path) -> Job:
        """Read a job from a JSON or TOML file."""
        if path.is_dir():
            raise JobError(f"the job file {path} is a folder", "give a .json or .toml file")
        if not path.is_file():
            raise InputNotFoundError(f"no such job file: {path}", "check the path")
        if path.suffix.lower() in (".yaml", ".yml"):
            raise JobError(f"the job file {path} is YAML, which is not read", "write the job as JSON or TOML")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise read_error(path, error) from error
        except UnicodeDecodeError as error:
            raise CorruptFileError(f"the job file {path} is not UTF-8 text", "save it as UTF-8") from error
        try:
            values = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (ValueError, RecursionError) as error:
            raise CorruptFileError(f"the job file {path} cannot be parsed ({error})", "fix its syntax") from error
        if not isinstance(values, dict):
            raise JobError(f"the job file {path} does not hold a table of settings", "write key = value settings")
        for key in INPUT_SETTINGS:  # a relative path means the job file's folder, as a user who moves both expects
            given = values.get(key)
            if isinstance(given, list):
                values[key] = [_beside(path.parent, item) for item in given]
            elif given is not None:
                values[key] = _beside(path.parent, given)
        return cls.from_dict(values)

    def check(self) -> None:
        """Every setting (types, ranges, names, the device), before any work: the CLI, job files and the window
        all come through here."""
        super().check()
        self.vocabulary().check()
        for name, low in (("eval_size", 1), ("retune_steps", 0), ("retune_eval_every", 1), ("retune_eval_size", 1)):
            at_least(self, name, low)
        if self.retune_learning_rate <= 0:
            raise JobError(f"the re-tuning learning rate {self.retune_learning_rate} is not positive",
                           "use e.g. 0.3 for Adam")
        if not 0 <= self.few_shot <= MAX_SHOTS:
            raise JobError(f"few-shot examples must be 0 (off) to {MAX_SHOTS}, not {self.few_shot}",
                           "the few-shot mode uses a handful of labelled examples; set 0 for data-free only")
        bad = set(self.retune_from) - set(RETUNE_STARTS)
        if bad:
            raise JobError(f"unknown re-tune start {', '.join(bad)}", f"use {' and/or '.join(RETUNE_STARTS)}")
        starts = [start for start in self.retune_from if start != RowKind.TAUGHT.value or self.teach_steps]
        if self.retune_steps and not starts:
            raise JobError(
                f"re-tuning for {self.retune_steps} steps has no start"
                + (" (the taught prompt needs teaching)" if self.retune_from else ""),
                f"choose a start ({', '.join(RETUNE_STARTS)}: taught with teaching on), or set the re-tune steps to 0",
            )
        if not resolve_methods(self.methods):  # a comparison of recycled prompts with none ran and stored nothing
            raise JobError("no recycling method is chosen", "choose at least one (or all): tick one, or --method NAME")
        resolve_baselines(self.baselines)
        for method, params in self.method_params.items():
            recycler_class(method)(seed=self.seed, **params)  # checks each parameter's name and type
        at_least(self, "teach_steps", 0)
        if self.teach_texts and not self.teach_steps:  # they were ignored without a word
            raise JobError(f"texts to teach on are given ({self.teach_texts}) but teaching is off",
                           f"teach for some steps ({flag_of('teach_steps')} STEPS), or leave the texts out")
        at_least(self, "teach_write", MIN_TEXTS, "texts: a quarter is held out to pick the best prompt")

    def vocabulary(self) -> VocabSettings:
        """Which shared words the recyclers fit on."""
        return VocabSettings(self.offset, self.num_words)

    def teach_source(self) -> TeachSource:
        """Where the texts to teach on come from."""
        return TeachSource(texts=self.teach_texts, texts_column=self.teach_texts_column,
                           writing=WritingSettings(count=self.teach_write, seed=self.seed))

    def teaching(self) -> TeachingSettings:
        """The teaching settings of this job."""
        return TeachingSettings(steps=self.teach_steps, seed=self.seed)


INPUT_SETTINGS = ("source", "target", "prompt", "task", "target_prompt", "teach_texts")
"""The job settings that name the user's files or folders: nothing a run or an export writes may touch them."""


def _beside(folder: Path, given: Any) -> Any:
    """A job file's relative path, as the path beside the job file when that exists (else as given: a path from the
    current folder, a Hub id or a demo model's name)."""
    if isinstance(given, str) and given and not Path(given).is_absolute() and (folder / given).exists():
        return str((folder / given).resolve())
    return given


def job_inputs(job: dict[str, Any]) -> list[Path]:
    """The paths among a job's settings (``Job.as_dict()``, or a stored report's ``job``) that name the user's inputs;
    names that are no paths (a Hub id, a built-in task) are kept too: ``storage.ensure_not_input`` skips what does not
    exist."""
    return [Path(job[key]) for key in INPUT_SETTINGS if job.get(key)]


def run(job: Job, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> Report:
    """Run the comparison; returns the report, also written to the run folder as it grows.

    A cancelled run returns its report too, with status ``CANCELLED`` and the rows that finished.
    """
    return _Run(job, events, cancel or CancelToken()).execute()


class _Run:
    def __init__(self, job: Job, events: EventSink, cancel: CancelToken) -> None:
        self.job, self.events, self.cancel = job, events, cancel
        self.report = Report(job=job.as_dict(), writer=writer_identity())
        self.folder: RunFolder | None = None

    def emit(self, event: Any) -> None:
        if isinstance(event, Point):
            self.report.curves.setdefault(event.series, []).append((event.x, event.y))
        self.events(event)

    def execute(self) -> Report:
        job = self.job
        job.check()
        methods = resolve_methods(job.methods)
        baselines = resolve_baselines(job.baselines)
        prompt = read_prompt(job.prompt, key=job.prompt_key)
        given_texts = None
        if job.teach_steps and job.teach_texts:  # a bad file fails before any model is fetched
            given_texts = checked_texts_file(job.teach_texts, job.teach_texts_column)
        fetch_if_builtin_task(job.task, self.emit)  # small, and a failure is better before the models than after
        for reference in (job.source, job.target):
            fetch_if_zoo_model(reference, self.emit, self.cancel)
        source, target = (open_checkpoint(reference, download=job.download, events=self.emit, cancel=self.cancel)
                          for reference in (job.source, job.target))
        check_prompt_fits_source(prompt, source)
        tuned_on_target = None
        if job.target_prompt:
            tuned_on_target = read_prompt(job.target_prompt)
            check_prompt_fits_source(tuned_on_target, target, role="target")
        task = job.load_task()
        for model in (target, *([source] if job.score_source or job.teach_steps else [])):
            label_token_ids(model.tokenizer(), task.label_words)  # words that tokenize alike fail here, not later
        self.folder = RunFolder.create(job.as_dict())
        self.report.run_id, self.report.path = self.folder.run_id, str(self.folder.path)
        self.report.task = task.describe()
        self.emit(Log(f"this run is stored in {self.folder.path}"))
        note = task.scoring_note("test", job.eval_size)
        if note:
            self.emit(Log(f"note: {note}"))
        self.emit(plan_run(job, methods, baselines, source.name, target.name, given_texts))
        started = time.perf_counter()
        with self.folder.heartbeat(self.report):
            self.folder.save_report(self.report)  # running, with its writer: a run killed from here on is interrupted
            try:
                self._compare(job, source, target, prompt, tuned_on_target, task, methods, baselines)
                self.report.status = FINISHED
            except Cancelled:
                self.report.status = CANCELLED
                self.emit(Log("cancelled: the finished rows are kept"))
            except KeyboardInterrupt:  # Ctrl-C in a terminal: a cancel too, stored before the interrupt goes on
                self.report.status = CANCELLED
                raise
            except Exception as error:
                self.report.status = f"failed: {error}"
                raise
            finally:
                self.report.seconds = round(time.perf_counter() - started, 2)
                self.folder.save_report(self.report)
        return self.report

    def _add_row(self, row: Row) -> None:
        """Add a finished row to the report, store the report, and send a copy of the row (derived fields of
        earlier rows keep changing in the report; the receiver's copy is its own)."""
        self.report.add(row)
        self.folder.save_report(self.report)
        self.emit(Result(replace(row)))

    def _compare(
        self, job: Job, source: Checkpoint, target: Checkpoint, prompt: SoftPrompt, tuned_on_target: SoftPrompt | None,
        task: Task, methods: list[str], baselines: list[str],
    ) -> None:
        """Recycle (embeddings only), then the source phase (teacher answers, the source prompt's row), then the
        target phase (baselines, recycled rows, teaching, re-tuning): each model loaded once."""
        recycled = recycle(
            source, target, prompt, fitted_methods(job, methods), vocabulary=job.vocabulary(), seed=job.seed,
            params=job.method_params, events=self.emit, cancel=self.cancel,
        )
        rows = [item for item in recycled.recycled if item.method in methods]
        teach_start = next((item for item in recycled.recycled if item.method == RECOMMENDED), None)
        self.report.vocabulary = recycled.vocabulary.as_dict()
        texts, gold = task.texts_and_labels("test", job.eval_size)
        self.report.gold = gold.tolist()
        answers, source_row = None, None
        if job.teach_steps or job.score_source:
            answers, source_row = self._on_source(job, source, target, prompt, task, texts, gold)
            gc.collect()  # the source model goes before the target model comes
        try:
            self._on_target(
                job, target, prompt, task, baselines, rows, teach_start, tuned_on_target, answers, texts, gold
            )
        finally:  # the source row reads last, as it always did, and is kept whatever happens on the target
            if source_row is not None:
                self._add_row(source_row)

    def _on_target(
        self, job: Job, target: Checkpoint, prompt: SoftPrompt, task: Task, baselines: list[str],
        recycled: list[Recycled], teach_start: Recycled | None, tuned_on_target: SoftPrompt | None,
        answers: TeacherAnswers | None, texts: list[str], gold: torch.Tensor,
    ) -> None:
        length = prompt.num_tokens
        self.emit(Stage(loading_stage(target.name)))
        model = target.load_model(job.device, job.dtype)
        scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=job.batch_size)
        # the loaded model already holds the table: no second read of the weights for the baselines
        table = scorer.embed.weight.detach().float().cpu() * target.layout.scale

        def score(name: str, kind: RowKind, rows: torch.Tensor | None, what: str | None = None, **details: Any) -> Row:
            self.cancel.check()
            self.emit(Stage(scoring_stage(what or name, target.name), len(texts)))
            scores = scorer.score(texts, rows, events=self.emit, cancel=self.cancel)
            bias = content_free_bias(scorer, task, rows, self.cancel)
            return _row(name, kind, target.name, scores, gold, bias, **details)

        def stored(prompt: SoftPrompt, folder: str) -> str:
            return self.folder.save_prompt(prompt, folder, target.peft_target)

        for name in baselines:
            if name == "no-prompt":
                self._add_row(score(name, RowKind.BASELINE, None))
            elif name == "random":
                seeds = [
                    score(random_seed_name(seed), RowKind.BASELINE, random_prompt(table, length, seed).encoder)
                    for seed in range(RANDOM_SEEDS)
                ]
                accuracies = [row.accuracy for row in seeds]
                self._add_row(replace(
                    seeds[0], name=name, accuracy=_mean(accuracies), macro_f1=_mean([r.macro_f1 for r in seeds]),
                    auc=_mean([r.auc for r in seeds]), accuracy_spread=(max(accuracies) - min(accuracies)) / 2,
                    calibrated_accuracy=_mean([r.calibrated_accuracy for r in seeds]),
                ))
            else:
                rows = class_label_prompt(table, scorer.tokenizer, task.label_words, length, job.seed).encoder
                self._add_row(score(name, RowKind.BASELINE, rows))

        for item in recycled:
            self._add_row(score(
                item.method, RowKind.RECYCLED, item.prompt.encoder, fit_seconds=round(item.fit_seconds, 3),
                fit_loss=item.fit_loss, prompt=stored(item.prompt, item.method),
            ))

        if job.few_shot and recycled:
            self._few_shot(job, scorer, target.name, task, table, recycled, texts, gold, stored)
        taught = None
        if answers is not None and teach_start is not None:
            taught = self._teach(job, scorer, task, teach_start, answers, score, stored)
        if tuned_on_target is not None:
            self._add_row(score(
                RowKind.TARGET_PROMPT.label, RowKind.TARGET_PROMPT, tuned_on_target.encoder,
                TARGET_PROMPT_WHAT, prompt=stored(tuned_on_target, "tuned-on-target"),
            ))
        if job.retune_steps:
            self._retune(job, scorer, task, table, length, recycled, taught, score, stored)

    def _teach(
        self, job: Job, scorer: Scorer, task: Task, start: Recycled, answers: TeacherAnswers,
        score: Callable[..., Row], stored: Callable[[SoftPrompt, str], str],
    ) -> SoftPrompt:
        """Teach from the recommended recycler's prompt; a cancel keeps the best prompt so far (stored, not scored)."""
        result = teach(scorer, task, answers.texts, answers.distribution, start.prompt, job.teaching(),
                       series=teach_series(RECOMMENDED), events=self.emit, cancel=self.cancel)
        training = result.training
        folder = stored(result.prompt, "taught")
        if training.cancelled:
            self.emit(Log(f"cancelled while teaching: the best prompt so far (step {training.best_step}, agreement "
                          f"{training.best_value:.3f}) is stored in {self.folder.path / folder}"))
            raise Cancelled("cancelled", "finished results were kept")
        self.emit(Log(f"taught on {answers.origin}: best agreement with the teacher {training.best_value:.3f} at "
                      f"step {training.best_step}"))
        self._add_row(score(
            f"taught from {RECOMMENDED}", RowKind.TAUGHT, result.prompt.encoder, TAUGHT_WHAT, start=RECOMMENDED,
            best_step=training.best_step, prompt=folder,
        ))
        return result.prompt

    def _few_shot(
        self, job: Job, scorer: Scorer, target_name: str, task: Task, table: torch.Tensor, recycled: list,
        texts: list[str], gold: torch.Tensor, stored: Callable[[SoftPrompt, str], str],
    ) -> None:
        self.cancel.check()
        self.emit(Stage(f"{FEW_SHOT_STAGE} {job.few_shot} labelled train examples"))
        target_norm = float(table.norm(dim=1).mean())
        candidates: dict[str, torch.Tensor | None] = {}
        for item in recycled:
            rows = item.prompt.encoder
            candidates[item.method] = rows
            candidates[f"{item.method} @ target norm"] = rows / rows.norm(dim=1, keepdim=True) * target_norm
        shots = few_shot_examples(task, job.few_shot, job.seed)
        pick = pick_by_few_shot(scorer, task, candidates, shots, self.cancel)
        self.emit(Log(f"few-shot pick: {pick.name} ({pick.accuracy:.3f} on the {len(shots)} examples)"))
        self.emit(Stage(scoring_stage(FEW_SHOT_WHAT, target_name), len(texts)))
        scores = scorer.score(texts, pick.rows, events=self.emit, cancel=self.cancel)
        calibrated = scores - label_bias(pick.scores)  # the few-shot mode calibrates on its labelled examples
        self._add_row(_row(
            f"few-shot pick: {pick.name}", RowKind.FEW_SHOT, target_name, scores, gold, None, picked=pick.name,
            shots=len(shots), shot_accuracy=pick.accuracy,
            calibrated_accuracy=float((calibrated.argmax(1) == gold).float().mean()),
            prompt=stored(SoftPrompt(pick.rows), "few-shot pick"),
        ))

    def _on_source(
        self, job: Job, source: Checkpoint, target: Checkpoint, prompt: SoftPrompt, task: Task, texts: list[str],
        gold: torch.Tensor,
    ) -> tuple[TeacherAnswers | None, Row | None]:
        """With the source model loaded once: the teacher's answers (when teaching) and the source prompt's row."""
        writer = None
        if job.teach_steps:
            writer = write_first_if_needed(job.teach_source(), source, target, task, job.device, job.dtype, self.emit,
                                           self.cancel)
        self.emit(Stage(loading_stage(source.name)))
        model = source.load_model(job.device, job.dtype)
        scorer = Scorer(model, source.tokenizer(), source.family, task.label_words, batch_size=job.batch_size)
        answers, row = None, None
        if job.teach_steps:
            taught_on, origin = texts_to_teach_on(job.teach_source(), writer, model, task, self.emit, self.cancel)
            answers = teacher_answers(scorer, prompt, task, taught_on, origin, self.emit, self.cancel)
        if job.score_source:
            self.cancel.check()
            self.emit(Stage(scoring_stage(SOURCE_WHAT, source.name), len(texts)))
            scores = scorer.score(texts, prompt.encoder, events=self.emit, cancel=self.cancel)
            bias = content_free_bias(scorer, task, prompt.encoder, self.cancel)
            row = _row("source prompt", RowKind.SOURCE, source.name, scores, gold, bias)
        return answers, row

    def _retune(
        self, job: Job, scorer: Scorer, task: Task, table: torch.Tensor, length: int, recycled: list,
        taught: SoftPrompt | None, score: Callable[..., Row], stored: Callable[[SoftPrompt, str], str],
    ) -> None:
        """Re-tune from each start the job names (a warm start with the warm-start rule); record the head starts."""
        settings = TuningSettings(
            steps=job.retune_steps, prompt_length=length,
            learning_rate=job.retune_learning_rate, batch_size=job.batch_size, eval_every=job.retune_eval_every,
            eval_size=job.retune_eval_size, seed=job.seed, warm_start=job.retune_warm_start,
        )
        starts: list[tuple[str, SoftPrompt, float | None]] = []  # name, prompt, its dev accuracy when known
        if SCRATCH in job.retune_from:
            starts.append((SCRATCH, class_label_prompt(
                table, scorer.tokenizer, task.label_words, settings.prompt_length, job.seed
            ), None))
        if RowKind.RECYCLED.value in job.retune_from and recycled:
            self.emit(Stage(DEV_PICK_STAGE))
            dev = {}
            for item in recycled:
                dev[item.method] = dev_accuracy(scorer, task, item.prompt.encoder, job.retune_eval_size, self.cancel)
                self.emit(Point(f"{START_SERIES}{item.method}", 0, dev[item.method]))
            best = max(recycled, key=lambda item: dev[item.method])
            self.emit(Log(f"re-tuning from {best.method} (dev accuracy {dev[best.method]:.3f})"))
            starts.append((best.method, best.prompt, dev[best.method]))
        if RowKind.TAUGHT.value in job.retune_from and taught is not None:
            starts.append((RowKind.TAUGHT.value, taught, None))
        results = {}
        for name, start, start_accuracy in starts:
            rule = settings if name == SCRATCH else settings.for_start()
            results[name] = result = tune(
                scorer, task, start, rule, start_accuracy=start_accuracy, series=retune_series(name),
                events=self.emit, cancel=self.cancel,
            )
            self._add_row(score(
                f"re-tuned from {name}", RowKind.RETUNED, result.prompt.encoder, retuned_what(name),
                start=name,
                best_step=result.best_step, dev_accuracy=result.best_accuracy,
                prompt=stored(result.prompt, f"retuned-from-{name}"),
            ))
        scratch = results.pop(SCRATCH, None)
        if scratch is not None and results:
            self.report.head_starts = [
                HeadStart(start=name, scratch_best_step=scratch.best_step,
                          scratch_best_dev_accuracy=scratch.best_accuracy,
                          steps_to_match=result.steps_to_reach(scratch.best_accuracy))
                for name, result in results.items()
            ]
            self.folder.save_report(self.report)


def _row(
    name: str, kind: RowKind, model: str, scores: torch.Tensor, gold: torch.Tensor, bias: torch.Tensor | None,
    **details: Any,
) -> Row:
    """A row of label scores on the test examples: its metrics, its accuracy calibrated on content-free inputs (with
    ``bias``, see ``evaluation.calibration``) and its per-example predictions."""
    metrics = classification_metrics(scores, gold)
    if bias is not None:
        details.setdefault("calibrated_accuracy", calibrated_accuracy(scores, gold, bias))
    return Row(name, kind, model=model, examples=len(gold), **metrics.as_dict(),
               predictions=scores.argmax(dim=1).tolist(), **details)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
