"""Rank classification on a model, with a soft prompt or none.

The score of label k for an input is the log-likelihood of the label's tokens after ``template(text)``; the prediction
is the best-scoring label. Fast by design: one forward per batch of examples; when every label is one token, all
label scores come from one next-token distribution; logits are computed only at the positions needed
(``logits_to_keep``), never as a full [batch, sequence, vocabulary] tensor; batches are length-sorted.

Layout follows PEFT, so exported adapters behave as measured: the prompt rows come before every input embedding (BOS
included). Decoder-only inputs are left-padded as ``[pad…, prompt, tokens]`` with position ids counted from the first
real row, so a padded example scores exactly as it would alone. Encoder-decoder models get the prompt before the
encoder input; the decoder scores the label (PEFT prepends only the encoder half of seq2seq prompts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import RecyclerError
from ..events import CancelToken, EventSink, Progress, ignore_events
from ..models.checkpoints import ENCODER_DECODER


class LabelWordError(RecyclerError):
    """Label words the tokenizer cannot turn into tokens, or that collide."""


@dataclass(frozen=True)
class Metrics:
    """Classification quality; ``auc`` only for two classes."""

    accuracy: float
    macro_f1: float
    auc: float | None
    confusion: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "auc": self.auc, "confusion": self.confusion}


def classification_metrics(scores: torch.Tensor, gold: torch.Tensor) -> Metrics:
    """Accuracy, macro-F1, AUC-ROC (two classes, from a softmax over label scores) and the confusion matrix."""
    classes = scores.shape[1]
    predicted = scores.argmax(dim=1)
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    confusion.index_put_((gold, predicted), torch.ones_like(gold), accumulate=True)
    true_positive = confusion.diag().double()
    precision = true_positive / confusion.sum(dim=0).clamp_min(1)
    recall = true_positive / confusion.sum(dim=1).clamp_min(1)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), torch.zeros_like(recall))
    auc = None
    if classes == 2 and 0 < int(gold.sum()) < len(gold):
        positive = scores.double().softmax(dim=1)[:, 1]
        ranks = _average_ranks(positive)
        n_pos = int(gold.sum())
        n_neg = len(gold) - n_pos
        auc = float((ranks[gold == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return Metrics(
        accuracy=float((predicted == gold).double().mean()),
        macro_f1=float(f1.mean()),
        auc=auc,
        confusion=confusion.tolist(),
    )


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties sharing their average rank (for the Mann-Whitney AUC)."""
    order = values.argsort()
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(1, len(values) + 1, dtype=values.dtype)
    unique, inverse = values.unique(return_inverse=True)
    sums = torch.zeros(len(unique), dtype=values.dtype).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(unique), dtype=values.dtype).index_add_(0, inverse, torch.ones_like(values))
    return (sums / counts)[inverse]


class Scorer:
    """Scores label words after rendered inputs on one model; reused for every prompt and baseline."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        family: str,
        label_words: Sequence[str],
        *,
        batch_size: int = 16,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.encoder_decoder = family == ENCODER_DECODER
        self.batch_size = batch_size
        self.embed = model.get_input_embeddings()
        self.device = self.embed.weight.device
        self.dtype = self.embed.weight.dtype
        self.label_ids = [self._label_tokens(word) for word in label_words]
        if len({tuple(ids) for ids in self.label_ids}) < len(self.label_ids):
            raise LabelWordError(
                f"two label words give the same tokens: {', '.join(repr(w) for w in label_words)}",
                "choose label words that differ",
            )
        self.single_token = all(len(ids) == 1 for ids in self.label_ids)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        config = model.config
        start = getattr(config, "decoder_start_token_id", None)
        self.decoder_start = start if start is not None else self.pad_id

    def _label_tokens(self, word: str) -> list[int]:
        ids = list(self.tokenizer(word, add_special_tokens=False).input_ids)
        if not ids:
            raise LabelWordError(f"the label word {word!r} gives no tokens", "choose a label word with some text")
        return ids

    def input_ids(self, text: str) -> list[int]:
        """Token ids of a rendered input, with the tokenizer's special tokens (a decoder-only EOS is dropped)."""
        ids = list(self.tokenizer(text).input_ids)
        if not self.encoder_decoder and len(ids) > 1 and ids[-1] == self.tokenizer.eos_token_id:
            ids = ids[:-1]
        return ids

    # ------------------------------------------------------------------------------------------------- batch scoring

    def score(
        self,
        texts: Sequence[str],
        prompt: torch.Tensor | None = None,
        *,
        events: EventSink = ignore_events,
        cancel: CancelToken | None = None,
    ) -> torch.Tensor:
        """Label log-likelihoods [len(texts), labels] (float32, CPU), in length-sorted batches."""
        cancel = cancel or CancelToken()
        encoded = [self.input_ids(text) for text in texts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = torch.empty(len(texts), len(self.label_ids))
        done = 0
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                cancel.check()
                batch = order[start : start + self.batch_size]
                scores[batch] = self.label_scores([encoded[i] for i in batch], prompt).float().cpu()
                done += len(batch)
                events(Progress(done))
        return scores

    def label_scores(self, batch: Sequence[Sequence[int]], prompt: torch.Tensor | None) -> torch.Tensor:
        """Label log-likelihoods [batch, labels] for token-id inputs; differentiable in ``prompt``."""
        rows = None if prompt is None else prompt.to(self.device, self.dtype)
        if self.encoder_decoder:
            return self._encoder_decoder_scores(batch, rows)
        if self.single_token:
            return self._decoder_only_next_token(batch, rows)
        return self._decoder_only_continuations(batch, rows)

    def _left_padded_embeddings(
        self, sequences: Sequence[Sequence[int]], rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[pad…, prompt, tokens]`` embeddings, attention mask and position ids."""
        prompt_len = 0 if rows is None else rows.shape[0]
        width = prompt_len + max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(sequences), width, dtype=torch.long)
        prompt_slots = torch.zeros(len(sequences), width, dtype=torch.bool)
        for i, sequence in enumerate(sequences):
            first = width - len(sequence)
            ids[i, first:] = torch.tensor(sequence)
            mask[i, first - prompt_len :] = 1
            prompt_slots[i, first - prompt_len : first] = True
        ids, mask, prompt_slots = ids.to(self.device), mask.to(self.device), prompt_slots.to(self.device)
        embeddings = self.embed(ids)
        if rows is not None:
            embeddings = embeddings.masked_scatter(
                prompt_slots.unsqueeze(-1), rows.unsqueeze(0).expand(len(sequences), -1, -1)
            )
        positions = (mask.cumsum(dim=1) - 1).clamp_min(0)
        return embeddings, mask, positions

    def _decoder_only_next_token(self, batch: Sequence[Sequence[int]], rows: torch.Tensor | None) -> torch.Tensor:
        embeddings, mask, positions = self._left_padded_embeddings(batch, rows)
        logits = self.model(
            inputs_embeds=embeddings, attention_mask=mask, position_ids=positions, logits_to_keep=1
        ).logits[:, -1]
        first_tokens = torch.tensor([ids[0] for ids in self.label_ids], device=logits.device)
        return logits.float().log_softmax(dim=-1)[:, first_tokens]

    def _decoder_only_continuations(self, batch: Sequence[Sequence[int]], rows: torch.Tensor | None) -> torch.Tensor:
        labels = len(self.label_ids)
        longest = max(len(ids) for ids in self.label_ids)
        sequences = [list(inputs) + ids for inputs in batch for ids in self.label_ids]
        embeddings, mask, positions = self._left_padded_embeddings(sequences, rows)
        logits = self.model(
            inputs_embeds=embeddings, attention_mask=mask, position_ids=positions, logits_to_keep=longest + 1
        ).logits.float().log_softmax(dim=-1)
        scores = torch.empty(len(sequences), device=logits.device)
        for row in range(len(sequences)):
            ids = self.label_ids[row % labels]
            steps = torch.arange(longest - len(ids), longest, device=logits.device)
            token_scores = logits[row, steps, torch.tensor(ids, device=logits.device)]
            scores[row] = token_scores.sum()
        return scores.view(len(batch), labels)

    def _encoder_decoder_scores(self, batch: Sequence[Sequence[int]], rows: torch.Tensor | None) -> torch.Tensor:
        prompt_len = 0 if rows is None else rows.shape[0]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(batch), prompt_len + width, dtype=torch.long)
        for i, sequence in enumerate(batch):
            ids[i, : len(sequence)] = torch.tensor(sequence)
            mask[i, : prompt_len + len(sequence)] = 1
        embeddings = self.embed(ids.to(self.device))
        if rows is not None:
            embeddings = torch.cat([rows.unsqueeze(0).expand(len(batch), -1, -1), embeddings], dim=1)
        mask = mask.to(self.device)
        encoded = self.model.get_encoder()(inputs_embeds=embeddings, attention_mask=mask)
        labels = len(self.label_ids)
        longest = max(len(ids) for ids in self.label_ids)
        decoder_ids = torch.full((labels, longest), self.pad_id, dtype=torch.long)
        for k, label in enumerate(self.label_ids):
            decoder_ids[k, 0] = self.decoder_start
            decoder_ids[k, 1 : len(label)] = torch.tensor(label[:-1])
        repeat = 1 if self.single_token else labels
        hidden = encoded.last_hidden_state.repeat_interleave(repeat, dim=0)
        decoder_ids = decoder_ids[:1] if self.single_token else decoder_ids
        decoder_ids = decoder_ids.repeat(len(batch), 1).to(self.device)
        logits = self.model(
            encoder_outputs=(hidden,), attention_mask=mask.repeat_interleave(repeat, dim=0),
            decoder_input_ids=decoder_ids,
        ).logits.float().log_softmax(dim=-1)
        if self.single_token:
            first_tokens = torch.tensor([ids[0] for ids in self.label_ids], device=logits.device)
            return logits[:, 0, first_tokens]
        scores = torch.empty(len(batch) * labels, device=logits.device)
        for row in range(len(batch) * labels):
            label = self.label_ids[row % labels]
            token_scores = logits[row, torch.arange(len(label)), torch.tensor(label, device=logits.device)]
            scores[row] = token_scores.sum()
        return scores.view(len(batch), labels)

    # ------------------------------------------------------------------------------------------------ the reference

    def reference_scores(self, texts: Sequence[str], prompt: torch.Tensor | None = None) -> torch.Tensor:
        """The slow, obviously right way: one unpadded forward per example and label, full logits."""
        rows = None if prompt is None else prompt.to(self.device, self.dtype)
        scores = torch.empty(len(texts), len(self.label_ids))
        with torch.inference_mode():
            for i, text in enumerate(texts):
                inputs = self.input_ids(text)
                for k, label in enumerate(self.label_ids):
                    scores[i, k] = self._reference_one(inputs, label, rows)
        return scores

    def _reference_one(self, inputs: list[int], label: list[int], rows: torch.Tensor | None) -> float:
        def with_prompt(ids: list[int]) -> torch.Tensor:
            embeddings = self.embed(torch.tensor([ids], device=self.device))
            return embeddings if rows is None else torch.cat([rows.unsqueeze(0), embeddings], dim=1)

        if self.encoder_decoder:
            decoder = torch.tensor([[self.decoder_start, *label[:-1]]], device=self.device)
            logits = self.model(inputs_embeds=with_prompt(inputs), decoder_input_ids=decoder).logits[0]
            predicting = logits
        else:
            logits = self.model(inputs_embeds=with_prompt(inputs + label)).logits[0]
            predicting = logits[-len(label) - 1 : -1]
        token_scores = predicting.float().log_softmax(dim=-1)[torch.arange(len(label)), torch.tensor(label)]
        return float(token_scores.sum())
