"""Unlabelled texts to teach on: written by a model from the task's template, or read from the user's file.

Teaching (``core/training/teaching.py``) needs inputs of the task's kind but never their labels. A decoder-only model
writes them itself: it continues the part of the template before ``{text}`` (``Review:``) followed by a seeded opening
word or two, the task's own (``Review: The film``) or task-neutral ones (the bare prefix made SmolLM2 write code,
neutral openers made it write about anything), and each text ends where the template's part after ``{text}`` would
begin, at a line break, or at the token limit (then cut back to its last finished sentence). With ``label_hint`` each
text is written after a line naming a label word in turn, in the template's own words (``Sentiment: negative`` then
``Review: The film``): left alone, the writers' texts lean to one label or to none (mostly neutral or off-topic), and
a student taught on those learns the teacher's label bias more than its skill. The hint only steers the writer; the
teacher still labels every text. It is on by default: in bench/teaching_sweep.py (demo pair, both directions, two
source prompts each) it balanced the teacher's answers and raised the taught prompt's mean test accuracy in both
directions (docs/BENCHMARKS.md). Texts are seeded, length-limited, de-duplicated and cached under the user cache per
model, template and settings, so a second run reads them. A user file gives texts one per line (``.txt``) or as a
column of a CSV, TSV or JSON Lines file; only that column is read.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import RecyclerError
from ..events import CancelToken, EventSink, Progress, Stage, ignore_events
from ..fields import at_least, check_types, setting
from ..models.checkpoints import ENCODER_DECODER, Checkpoint
from ..storage import cache_dir, write_text_atomic
from .tasks import TEXT_COLUMN, TEXT_SLOT, Task, TaskError, read_table_rows, read_utf8, table_kind

OPENERS = (
    "The", "This", "I", "It", "A", "What", "My", "There", "If", "After", "One", "Even", "As", "Not", "An", "In",
    "For", "While", "When", "Its", "You", "So", "Although", "Despite",
)
"""Task-neutral opening words, for tasks that name none (``Task.openers``)."""
CACHE_VERSION = 2
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


class TeachingTextsError(RecyclerError):
    """Texts to teach on that cannot be had: no model can write them, or the user's file holds none."""


@dataclass(frozen=True)
class WritingSettings:
    """How many texts to write and how. ``max_new_tokens`` limits each text; shorter than ``min_words`` is dropped.
    Sampling keeps the ``top_k`` likeliest tokens (cheaper than top-p on a 262k vocabulary)."""

    count: int = setting(256, "texts a model writes to teach on (when no file of texts is given)")
    max_new_tokens: int = setting(32, "tokens per written text at most")
    min_words: int = setting(4, "shorter written texts are dropped")
    temperature: float = setting(1.0, "sampling temperature while writing")
    top_k: int = setting(40, "sample among this many likeliest tokens")
    batch_size: int = setting(32, "texts written at once")
    seed: int = setting(0, "seed for the openers and the sampling")
    label_hint: bool = setting(
        True, "write each text after a line that names one label word in turn ('Sentiment: negative'), so texts of "
               "every label are written; the word only steers the writer, it is never the text's label"
    )

    def check(self) -> None:
        """Types and ranges, before any work."""
        check_types(self)
        for name in ("count", "max_new_tokens", "min_words", "top_k", "batch_size"):
            at_least(self, name, 1)
        if self.temperature <= 0:
            raise TeachingTextsError(f"the writing temperature {self.temperature} is not positive", "use e.g. 1.0")


def writing_stage(count: int) -> str:
    """The name of the stage in which a model writes ``count`` texts."""
    return f"writing {count} texts to teach on"


def template_parts(template: str) -> tuple[str, str]:
    """The template's parts before and after ``{text}``."""
    before, _, after = template.partition(TEXT_SLOT)
    return before, after


def writer_for(source: Checkpoint, target: Checkpoint, prefer: str = "source") -> Checkpoint:
    """The model that writes the texts: ``prefer`` (source or target) if it can generate, else the other one."""
    first, second = (source, target) if prefer == "source" else (target, source)
    for checkpoint in (first, second):
        if checkpoint.family != ENCODER_DECODER:
            return checkpoint
    raise TeachingTextsError(
        f"neither {source.name} nor {target.name} can write texts from the template (both are encoder-decoder models)",
        "give a file of unlabelled texts to teach on (--teach-texts FILE)",
    )


def written_texts(
    checkpoint: Checkpoint,
    model: Any,
    task: Task,
    settings: WritingSettings,
    *,
    use_cache: bool = True,
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> list[str]:
    """``settings.count`` distinct texts ``model`` (loaded from ``checkpoint``) writes for ``task`` (see the module
    docstring); read from the cache when they were written before, unless ``use_cache`` is False. ``model`` may be
    None when the texts are cached. Stops after 4x ``count`` attempts, with what it has."""
    settings.check()
    file = _cache_file(checkpoint, task, settings)
    if use_cache and file.is_file():
        try:
            texts = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(texts, list) and all(isinstance(t, str) for t in texts):
                return texts
        except (OSError, ValueError):
            pass  # a damaged cache entry is written again
    if model is None:
        raise TeachingTextsError(f"no texts written by {checkpoint.name} are cached", "load the model to write them")
    texts = _write_texts(model, checkpoint.tokenizer(), task, settings, events, cancel or CancelToken())
    write_text_atomic(file, json.dumps(texts, ensure_ascii=False, indent=0))
    return texts


def _write_texts(
    model: Any, tokenizer: Any, task: Task, settings: WritingSettings, events: EventSink, cancel: CancelToken
) -> list[str]:
    before, after = template_parts(task.template)
    openers = task.openers or OPENERS
    stops = ["\n"] + ([after.strip()] if after.strip() else [])
    hints = [f"{after.strip()} {word.strip()}\n" for word in task.label_words] if settings.label_hint else [""]
    shuffler = random.Random(settings.seed)
    texts: list[str] = []
    seen: set[str] = set()
    events(Stage(writing_stage(settings.count), settings.count))
    attempts, batch_number = 0, 0
    while len(texts) < settings.count and attempts < 4 * settings.count:
        cancel.check()
        chosen = [shuffler.choice(openers) for _ in range(settings.batch_size)]
        leads = [hints[(batch_number * settings.batch_size + i) % len(hints)] for i in range(len(chosen))]
        continuations = _sample(model, tokenizer, [lead + before + o for lead, o in zip(leads, chosen, strict=True)],
                                stops, settings, settings.seed * 1_000_003 + batch_number)
        attempts += len(chosen)
        batch_number += 1
        for opener, continuation in zip(chosen, continuations, strict=True):
            text = finished_text(opener + continuation, stops, settings.min_words)
            key = " ".join(text.lower().split())
            if text and key not in seen and len(texts) < settings.count:
                seen.add(key)
                texts.append(text)
        events(Progress(len(texts)))
    if not texts:
        raise TeachingTextsError(
            "the model wrote no usable text from the template", "give a file of unlabelled texts (--teach-texts FILE)"
        )
    return texts


def finished_text(raw: str, stops: Sequence[str], min_words: int) -> str:
    """``raw`` cut at the first stop string; when no stop came, cut back to the last finished sentence; "" if short.

    A text that ran into the token limit ends mid-sentence; its last full sentence is kept when there is one.
    """
    cut = min((raw.find(stop) for stop in stops if stop in raw), default=-1)
    if cut >= 0:
        text = raw[:cut]
    else:
        ends = [m.end() for m in _SENTENCE_END.finditer(raw)]
        text = raw[: ends[-1]] if ends and len(raw[: ends[-1]].split()) >= min_words else raw
    text = " ".join(text.split())
    return text if len(text.split()) >= min_words else ""


def _sample(
    model: Any, tokenizer: Any, prefixes: list[str], stops: list[str], settings: WritingSettings, seed: int
) -> list[str]:
    """One batch of sampled continuations of ``prefixes`` (left-padded), each decoded up to ``max_new_tokens``."""
    encoded = []
    for prefix in prefixes:
        ids = list(tokenizer(prefix).input_ids)
        if len(ids) > 1 and ids[-1] == tokenizer.eos_token_id:
            ids = ids[:-1]
        encoded.append(ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    width = max(len(ids) for ids in encoded)
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    mask = torch.zeros(len(encoded), width, dtype=torch.long)
    for row, sequence in enumerate(encoded):
        ids[row, width - len(sequence):] = torch.tensor(sequence)
        mask[row, width - len(sequence):] = 1
    device = model.get_input_embeddings().weight.device
    stopping = _StopAtStrings(tokenizer, width, stops)
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        output = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=True,
            temperature=settings.temperature, top_k=settings.top_k, top_p=1.0, max_new_tokens=settings.max_new_tokens,
            pad_token_id=pad, stopping_criteria=[stopping],
        )
    return [tokenizer.decode(stopping.before_control(row)) for row in output[:, width:].cpu().tolist()]


class _StopAtStrings:
    """A per-row stopping criterion: a row is done once its new text holds a stop string or a control token (any
    token the tokenizer adds to its vocabulary: EOS, Gemma's ``<start_of_image>`` ...)."""

    def __init__(self, tokenizer: Any, start: int, stops: list[str]) -> None:
        self.tokenizer, self.start, self.stops = tokenizer, start, stops
        self.control = set(tokenizer.added_tokens_decoder)

    def before_control(self, ids: list[int]) -> list[int]:
        """``ids`` up to their first control token."""
        return next((ids[:i] for i, token in enumerate(ids) if token in self.control), ids)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        rows = input_ids[:, self.start:].cpu().tolist()
        done = [len(self.before_control(row)) < len(row) or any(stop in text for stop in self.stops)
                for row, text in zip(rows, self.tokenizer.batch_decode(rows), strict=True)]
        return torch.tensor(done, device=input_ids.device)


def _cache_file(checkpoint: Checkpoint, task: Task, settings: WritingSettings) -> Path:
    key = json.dumps(
        [CACHE_VERSION, checkpoint.fingerprint, template_parts(task.template), task.openers, asdict(settings)],
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return cache_dir() / "texts" / f"{checkpoint.name}-{digest}.json"


def read_texts_file(path: Path | str, column: str | None = None) -> list[str]:
    """Unlabelled texts from a file: one per line (``.txt`` or any other extension), or ``column`` of a CSV, TSV or
    JSON Lines file (default ``text``). Empty lines and repeats are dropped; only that column is read."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise TeachingTextsError(f"the texts to teach on, {path}, are a folder, not a file",
                                 "give a file: one text per line, or a CSV, TSV or JSON Lines table")
    if not path.is_file():
        raise TeachingTextsError(f"no such file of texts: {path}", "check the path")
    kind = table_kind(path)
    if kind is None:
        lines = read_utf8(path, "save the file as UTF-8").splitlines()
    else:
        column = column or TEXT_COLUMN
        try:
            columns, rows = read_table_rows(path, kind)
        except TaskError as error:
            raise TeachingTextsError(error.problem, error.fix) from error
        if column not in columns:
            raise TeachingTextsError(
                f"{path.name} has no column {column!r}; its columns are {', '.join(map(repr, columns)) or '(none)'}",
                "name the column that holds the texts (compare --teach-texts-column, teach --texts-column, or the "
                "window's Texts column)",
            )
        lines = [row[column] for _, row in rows if isinstance(row.get(column), str)]
    texts = list(dict.fromkeys(" ".join(line.split()) for line in lines if line.strip()))
    if not texts:
        raise TeachingTextsError(f"{path.name} holds no texts", "give one text per line, or a column of texts")
    return texts
