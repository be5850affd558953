"""Prompts a recycled prompt must beat on the target, built from the target's own vocabulary.

- ``no-prompt``: the target as it is (zero-shot).
- ``random``: rows sampled from the target's most frequent vocabulary embeddings (several seeds: mean and spread).
- ``class-label``: the label words' embeddings first, the rest sampled as for ``random`` (the paper's best init).

Rows live in the space the embedding layer outputs (``Checkpoint.input_embeddings``), like every prompt here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import RecyclerError
from ..prompts.formats import PromptMeta, SoftPrompt

BASELINES = ("no-prompt", "random", "class-label")
BASELINE_HELP = {
    "no-prompt": "the target with no prompt at all",
    "random": "a prompt of rows sampled from the target's first 5000 vocabulary rows (the mean of 3 seeds)",
    "class-label": "each label word's embedding as the first rows, the rest sampled from the vocabulary",
}
"""What each baseline is (the window's tooltips)."""
FREQUENT_ROWS = 5000
"""Rows are sampled from the first 5000 ids: BPE and SentencePiece vocabularies put frequent tokens first."""
RANDOM_SEEDS = 3


class BaselineError(RecyclerError):
    """An unknown baseline name."""


def resolve_baselines(names: Sequence[str]) -> list[str]:
    """Expand ``all``, check each name, keep the order without repeats."""
    expanded = [b for name in names for b in (BASELINES if name == "all" else [name])]
    for name in expanded:
        if name not in BASELINES:
            raise BaselineError(f"unknown baseline {name!r}", f"choose from {', '.join(BASELINES)} (or all)")
    return list(dict.fromkeys(expanded))


def sampled_vocab_rows(table: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """``count`` rows drawn without replacement from the most frequent ``FREQUENT_ROWS`` rows of ``table``."""
    pool = min(FREQUENT_ROWS, len(table))
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randperm(pool, generator=generator)[:count]
    if count > pool:
        picks = torch.randint(pool, (count,), generator=generator)
    return table[picks].clone()


def random_prompt(table: torch.Tensor, length: int, seed: int) -> SoftPrompt:
    """Rows sampled from the vocabulary."""
    return SoftPrompt(sampled_vocab_rows(table, length, seed), meta=PromptMeta(init=f"random vocabulary (seed {seed})"))


def class_label_prompt(
    table: torch.Tensor, tokenizer: Any, label_words: Sequence[str], length: int, seed: int
) -> SoftPrompt:
    """Each label word's mean token embedding first, the remaining rows sampled from the vocabulary."""
    label_rows = []
    for word in label_words[:length]:
        ids = tokenizer(word, add_special_tokens=False).input_ids
        label_rows.append(table[torch.tensor(ids)].mean(dim=0))
    rest = sampled_vocab_rows(table, length - len(label_rows), seed)
    rows = torch.cat([torch.stack(label_rows), rest]) if label_rows else rest
    return SoftPrompt(rows, meta=PromptMeta(init="class-label"))


def text_prompt(table: torch.Tensor, tokenizer: Any, text: str, length: int, seed: int) -> SoftPrompt:
    """The embeddings of ``text``'s tokens, cut or padded with sampled rows to ``length`` rows."""
    ids = tokenizer(text, add_special_tokens=False).input_ids[:length]
    rows = table[torch.tensor(ids, dtype=torch.long)]
    rest = sampled_vocab_rows(table, length - len(rows), seed)
    return SoftPrompt(torch.cat([rows, rest]), meta=PromptMeta(init=f"text: {text}"))
