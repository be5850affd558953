"""Recycle a soft prompt from a source model to a target model with any set of recyclers.

Only the two embedding tables and tokenizers are read; neither model is loaded. Fitted recyclers are cached under the
user cache, keyed by both checkpoints' fingerprints, the vocabulary settings, the method, the parameters its fit
depends on and the seed, so a second run (also one that only changes, say, the row-length rule) loads instead of
fitting. ``use_cache=False`` fits again and replaces the cached fit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError, PromptShapeError
from ..events import CancelToken, EventSink, Log, Progress, Stage, ignore_events
from ..models.checkpoints import DECODER_ONLY, Checkpoint
from ..prompts.formats import SoftPrompt
from ..storage import cache_dir
from .recyclers import RECYCLERS, Recycler, recycler_class
from .vocab import VocabReport, VocabSettings, shared_words

CACHE_VERSION = 2


@dataclass(frozen=True)
class Recycled:
    """One method's recycled prompt and how it was made."""

    method: str
    prompt: SoftPrompt
    fit_seconds: float
    """Seconds spent fitting (0 when the fit came from the cache; applying it to the prompt is not counted)."""
    fit_loss: float | None
    cached: bool
    recycler: Recycler = field(repr=False)


@dataclass(frozen=True)
class RecyclingResult:
    """Every method's outcome, and the vocabulary they were fitted on."""

    vocabulary: VocabReport
    recycled: list[Recycled]


def resolve_methods(names: Sequence[str]) -> list[str]:
    """Expand ``all`` and check each name; keeps the order given, without repeats."""
    expanded = [m for name in names for m in (RECYCLERS if name == "all" else [name])]
    for name in expanded:
        recycler_class(name)
    return list(dict.fromkeys(expanded))


PROMPT_ROLES = {
    "source": ("prompt", "the source model {name}", "pick the model the prompt was trained on as the source"),
    "target": ("prompt tuned on the target", "the target model {name}",
               "pick a prompt that was trained on the target model"),
    "tuned": ("start prompt", "{name}, the model to tune,",
              "start from a prompt of this model (recycle one to it first)"),
}
"""For each model a prompt is checked against: what the prompt is, how the model is named, and the fix."""


def check_prompt_fits_source(prompt: SoftPrompt, source: Checkpoint, role: str = "source") -> None:
    """The prompt must have been trained on a model of the ``role`` model's width (a ``PROMPT_ROLES`` key)."""
    if prompt.dim != source.hidden_size:
        what, model, fix = PROMPT_ROLES[role]
        raise PromptShapeError(
            f"the {what}'s rows are {prompt.dim} wide but {model.format(name=source.name)} has hidden size "
            f"{source.hidden_size}",
            fix,
        )


READING_STAGE = "reading embeddings and vocabularies"


def recycling_stage(method: str) -> str:
    return f"recycling with {method}"


def recycle(
    source: Checkpoint,
    target: Checkpoint,
    prompt: SoftPrompt,
    methods: Sequence[str],
    *,
    vocabulary: VocabSettings | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    use_cache: bool = True,
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> RecyclingResult:
    """Recycle ``prompt`` from ``source`` to ``target`` with each of ``methods``."""
    cancel = cancel or CancelToken()
    vocabulary = vocabulary or VocabSettings()
    vocabulary.check()
    methods = resolve_methods(methods)
    check_prompt_fits_source(prompt, source)
    if prompt.decoder is not None and target.family == DECODER_ONLY:
        events(Log("the prompt's decoder half is dropped: a decoder-only target takes one prompt"))
        prompt = SoftPrompt(prompt.encoder, None, prompt.meta)

    events(Stage(READING_STAGE, 2))
    source_table, target_table = source.input_embeddings(), target.input_embeddings()
    events(Progress(1))
    pairs = shared_words(
        source.tokenizer(), target.tokenizer(), vocabulary, len(source_table), len(target_table)
    )
    events(Progress(2))
    events(Log(pairs.report.summary()))
    source_words, target_words = source_table[pairs.source_ids], target_table[pairs.target_ids]
    del source_table, target_table

    results = []
    for method in methods:
        cancel.check()
        events(Stage(recycling_stage(method)))
        recycler = recycler_class(method)(seed=seed, **(params or {}).get(method, {}))
        file = _cache_file(source, target, vocabulary, method, recycler.fit_params, seed)
        started = time.perf_counter()
        cached = use_cache and file.is_file()
        if cached:
            try:
                recycler.take_fit(type(recycler).load(file))
                recycler.report_loss(events)
            except CorruptFileError as error:  # a cut-off or damaged cache entry: fit again, over it
                events(Log(f"{method}: {error.problem}; fitting it again"))
                cached = False
        if not cached:
            recycler.fit(source_words, target_words, events, cancel)
            recycler.save(file)
        fitted = time.perf_counter()
        tables = [recycler(table, cancel) for table in prompt.tables()]
        fit_seconds, apply_seconds = (0.0 if cached else fitted - started), time.perf_counter() - fitted
        recycled = prompt.with_tables(
            tables,
            source_model=target.reference,
            init=f"recycled from {source.reference} with {method}",
            origin_format=None,
            origin_path=None,
            key=None,
        )
        loss = "-" if recycler.fit_loss is None else f"{recycler.fit_loss:.4g}"
        how = "loaded from the cache" if cached else f"fitted in {fit_seconds:.2f} s"
        events(Log(f"{method}: {how}, applied in {apply_seconds:.2f} s, fit loss {loss}"))
        results.append(Recycled(method, recycled, fit_seconds, recycler.fit_loss, cached, recycler))
    return RecyclingResult(pairs.report, results)


def _cache_file(
    source: Checkpoint, target: Checkpoint, vocabulary: VocabSettings, method: str, params: dict[str, Any], seed: int
) -> Path:
    key = json.dumps(
        [CACHE_VERSION, source.fingerprint, target.fingerprint, vocabulary.key(), method, params, seed],
        sort_keys=True,
    )
    return cache_dir() / "recyclers" / f"{method}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.safetensors"
