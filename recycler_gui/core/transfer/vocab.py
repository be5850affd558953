"""The word pairs a recycler is fitted on: words both models know, with their token ids on each side.

With the same tokenizer the ids are identical. With different tokenizers, token strings are matched after removing
the word-start markers of byte-level BPE (``Ġ``), SentencePiece (``▁``) and WordPiece (no ``##``). As in the paper,
only word-start, English alphabetic tokens are kept, ordered by the source's id (a frequency proxy for BPE and
SentencePiece vocabularies); the most frequent ``offset`` are skipped and ``num_words`` are taken.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..errors import RecyclerError
from ..fields import at_least, check_types, setting

MIN_WORDS = 32
_ALPHABETIC = re.compile(r"[A-Za-z]+")
_MARKERS = ("Ġ", "▁")


class VocabularyError(RecyclerError):
    """The two models share too few words to fit a recycler."""


@dataclass(frozen=True)
class VocabSettings:
    """Which shared words to fit on: skip the ``offset`` most frequent, then take ``num_words`` (None: all)."""

    offset: int = setting(1000, "skip this many most frequent shared words")
    num_words: int | None = setting(4000, "fit on this many shared words, or all")

    def check(self) -> None:
        """Types and ranges, before any work: a negative offset would fit on the rarest words instead."""
        check_types(self)
        at_least(self, "offset", 0, "the most frequent shared words to skip")
        if self.num_words is not None:
            at_least(self, "num_words", 1, "the shared words to fit on; or all")

    def key(self) -> str:
        return f"offset={self.offset},num_words={self.num_words or 'all'}"


@dataclass(frozen=True)
class VocabReport:
    """How many words the two vocabularies share, and how many the recycler was fitted on."""

    same_tokenizer: bool
    shared_tokens: int
    shared_words: int
    used_words: int
    offset: int
    num_words: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        how = "same tokenizer" if self.same_tokenizer else "different tokenizers"
        return (
            f"{how}: {self.shared_tokens:,} shared tokens, {self.shared_words:,} shared word-start alphabetic words; "
            f"fitting on {self.used_words:,} (skipped the first {self.offset:,})"
        )


@dataclass(frozen=True)
class WordPairs:
    """Aligned token ids of the fitting words on each side, and the words themselves."""

    source_ids: torch.Tensor
    target_ids: torch.Tensor
    words: tuple[str, ...]
    report: VocabReport


def word_start_vocabulary(vocab: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Split a tokenizer's vocabulary into (all tokens by normalised string, word-start alphabetic words)."""
    wordpiece = sum(token.startswith("##") for token in vocab) > len(vocab) // 20
    marker = None if wordpiece else max(_MARKERS, key=lambda m: sum(token.startswith(m) for token in vocab))
    normalised: dict[str, int] = {}
    words: dict[str, int] = {}
    for token, token_id in vocab.items():
        if wordpiece:
            starts_word, text = not token.startswith("##"), token.removeprefix("##")
        else:
            starts_word, text = token.startswith(marker), token.removeprefix(marker)
        key = f"{' ' if starts_word else ''}{text}"
        if key not in normalised or token_id < normalised[key]:
            normalised[key] = token_id
        if starts_word and _ALPHABETIC.fullmatch(text) and (text not in words or token_id < words[text]):
            words[text] = token_id
    return normalised, words


def shared_words(
    source_tokenizer: Any, target_tokenizer: Any, settings: VocabSettings, source_rows: int, target_rows: int
) -> WordPairs:
    """The word pairs to fit on, or a ``VocabularyError`` when too few are shared.

    ``source_rows`` / ``target_rows`` are the embedding tables' sizes: tokens beyond them have no vector.
    """
    source_vocab = {t: i for t, i in source_tokenizer.get_vocab().items() if i < source_rows}
    target_vocab = {t: i for t, i in target_tokenizer.get_vocab().items() if i < target_rows}
    same = source_vocab == target_vocab
    source_all, source_words = word_start_vocabulary(source_vocab)
    target_all, target_words = word_start_vocabulary(target_vocab)
    common = sorted((word for word in source_words if word in target_words), key=source_words.__getitem__)
    end = None if settings.num_words is None else settings.offset + settings.num_words
    chosen = common[settings.offset : end]
    report = VocabReport(
        same_tokenizer=same,
        shared_tokens=len(source_vocab) if same else len(source_all.keys() & target_all.keys()),
        shared_words=len(common),
        used_words=len(chosen),
        offset=settings.offset,
        num_words=settings.num_words,
    )
    if len(chosen) < MIN_WORDS:
        raise VocabularyError(
            f"only {len(chosen)} shared words are left to fit on ({len(common)} shared, {settings.offset} skipped); "
            f"at least {MIN_WORDS} are needed",
            ("raise --num-words or leave it out (all words)" if settings.num_words is not None
             and settings.num_words < MIN_WORDS else "lower --offset")
            + ", or pick models whose vocabularies overlap (both English-capable)",
        )
    return WordPairs(
        source_ids=torch.tensor([source_words[w] for w in chosen]),
        target_ids=torch.tensor([target_words[w] for w in chosen]),
        words=tuple(chosen),
        report=report,
    )
