"""Rank classification on a model, with a soft prompt or none.

The score of label k for an input is the log-likelihood of the label's tokens after ``template(text)``; the prediction
is the best-scoring label. Fast by design: one forward per batch of examples; when every label is one token, all
label scores come from one next-token distribution; logits are computed only at the positions needed
(``logits_to_keep``), never as a full [batch, sequence, vocabulary] tensor; batches are length-sorted.

Layout follows PEFT, so exported adapters behave as measured: the prompt rows come before every input embedding (BOS
included). Encoder-decoder models get the prompt before the encoder input; the decoder scores the label (PEFT prepends
only the encoder half of seq2seq prompts).

Shared prefix (decoder-only, the default): the prompt rows and the input tokens every example of a call starts with
(BOS and the template's text before ``{text}``, found as the longest common prefix of the token ids, so it is
token-exact) run once; their key/value cache is expanded to each batch, which runs only the rest. The rest is
right-padded, so every real token's cache index equals its position (Gemma 3's sliding-window layers measure distance
in cache indices; one that keeps only its window of the prefix shifts every index by the same amount), and each
example's logits are read at its own last positions. Encoder-decoder models keep the full path: their
encoder is bidirectional, so the prompt's encoder states depend on the text and cannot be cached.

The full path (``shared_prefix=False``, and where nothing is shared) left-pads ``[pad…, prompt, tokens]`` with
position ids counted from the first real row, so a padded example scores exactly as it would alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import RecyclerError
from ..events import CancelToken, EventSink, Progress, ignore_events
from ..models.checkpoints import ENCODER_DECODER


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading token ids all ``sequences`` share."""
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for sequence in sequences[1:]:
        length = next((i for i in range(length) if sequence[i] != first[i]), length)
    return length


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


@dataclass(frozen=True)
class SharedPrefix:
    """The prompt rows and the first ``tokens`` input tokens of every example, run once: their keys and values."""

    tokens: int
    length: int
    """Positions cached: prompt rows + ``tokens``."""
    states: list[tuple[torch.Tensor, torch.Tensor]]
    """Keys and values of each layer, batch 1."""


def label_token_ids(tokenizer: Any, label_words: Sequence[str]) -> list[list[int]]:
    """Each label word's token ids; a ``LabelWordError`` when a word gives none or two give the same (runs check this
    before any work, with the tokenizers alone)."""
    ids = [list(tokenizer(word, add_special_tokens=False).input_ids) for word in label_words]
    for word, tokens in zip(label_words, ids, strict=True):
        if not tokens:
            raise LabelWordError(f"the label word {word!r} gives no tokens", "choose a label word with some text")
    if len({tuple(tokens) for tokens in ids}) < len(ids):
        raise LabelWordError(
            f"two label words give the same tokens: {', '.join(repr(w) for w in label_words)}",
            "choose label words that differ",
        )
    return ids


class Scorer:
    """Scores label words after rendered inputs on one model; reused for every prompt and baseline.

    ``label_scores(batch_ids, prompt)`` is the one entry point for training: differentiable in the prompt, the shared
    prefix run once per call. ``shared_prefix=False`` keeps the full path (every example runs every token).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        family: str,
        label_words: Sequence[str],
        *,
        batch_size: int = 16,
        shared_prefix: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.encoder_decoder = family == ENCODER_DECODER
        self.batch_size = batch_size
        self.embed = model.get_input_embeddings()
        self.device = self.embed.weight.device
        self.dtype = self.embed.weight.dtype
        self.label_ids = label_token_ids(tokenizer, label_words)
        self.single_token = all(len(ids) == 1 for ids in self.label_ids)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        config = model.config
        start = getattr(config, "decoder_start_token_id", None)
        self.decoder_start = start if start is not None else self.pad_id
        self.shared_prefix = shared_prefix and not self.encoder_decoder
        self._cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

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
        rows = None if prompt is None else prompt.to(self.device, self.dtype)
        done = 0
        with torch.inference_mode():
            prefix = self.prefix(encoded, rows)
            for start in range(0, len(order), self.batch_size):
                cancel.check()
                batch = order[start : start + self.batch_size]
                scores[batch] = self._scores([encoded[i] for i in batch], rows, prefix).float().cpu()
                done += len(batch)
                events(Progress(done))
        return scores

    def label_scores(self, batch: Sequence[Sequence[int]], prompt: torch.Tensor | None) -> torch.Tensor:
        """Label log-likelihoods [batch, labels] for token-id inputs; differentiable in ``prompt``.

        The prefix the batch shares runs once, so its gradient flows once (not once per example)."""
        rows = None if prompt is None else prompt.to(self.device, self.dtype)
        return self._scores(batch, rows, self.prefix(batch, rows))

    def _scores(
        self, batch: Sequence[Sequence[int]], rows: torch.Tensor | None, prefix: SharedPrefix | None
    ) -> torch.Tensor:
        if self.encoder_decoder:
            return self._encoder_decoder_scores(batch, rows)
        if prefix is not None:
            return self._after_prefix(batch, prefix)
        if self.single_token:
            return self._decoder_only_next_token(batch, rows)
        return self._decoder_only_continuations(batch, rows)

    # ----------------------------------------------------------------------------------------------- shared prefix

    def prefix(self, inputs: Sequence[Sequence[int]], rows: torch.Tensor | None) -> SharedPrefix | None:
        """Run the prompt rows and the input tokens every one of ``inputs`` starts with, once; None when off or when
        nothing is shared. At least one token of every input stays out of the prefix: its logits predict the label."""
        if not self.shared_prefix or not inputs:
            return None
        prompt_len = 0 if rows is None else rows.shape[0]
        tokens = min(_common_prefix_length(inputs), min(len(ids) for ids in inputs) - 1)
        if prompt_len + tokens == 0:
            return None
        embeddings = self.embed(torch.tensor([list(inputs[0][:tokens])], dtype=torch.long, device=self.device))
        if rows is not None:
            embeddings = torch.cat([rows.unsqueeze(0), embeddings], dim=1)
        length = embeddings.shape[1]
        cache = self._cache([])
        positions = torch.arange(length, device=self.device).unsqueeze(0)
        with self._logits_at(torch.empty(1, 0, dtype=torch.long, device=self.device)):  # only the cache is wanted
            self.model(inputs_embeds=embeddings, position_ids=positions, use_cache=True,
                       **{self._cache_argument: cache})
        return SharedPrefix(tokens, length, [(layer.keys, layer.values) for layer in cache.layers])

    def _after_prefix(self, batch: Sequence[Sequence[int]], prefix: SharedPrefix) -> torch.Tensor:
        """Scores from the rest of each input (followed by each label's tokens but the last, for multi-token labels),
        right-padded after the prefix's cache and read at each row's own positions."""
        labels = self.label_ids
        per_input = 1 if self.single_token else len(labels)
        rests = [list(inputs[prefix.tokens :]) for inputs in batch]
        if not self.single_token:
            rests = [rest + ids[:-1] for rest in rests for ids in labels]
        ends = [len(inputs) - prefix.tokens - 1 for inputs in batch for _ in range(per_input)]  # last input token
        width = max(len(rest) for rest in rests)
        ids = torch.full((len(rests), width), self.pad_id, dtype=torch.long)
        for row, rest in enumerate(rests):
            ids[row, : len(rest)] = torch.tensor(rest)
        steps = max(len(ids) for ids in labels)
        read = (torch.tensor(ends).unsqueeze(1) + torch.arange(steps)).clamp_max(width - 1).to(self.device)
        cache = self._cache([(keys.expand(len(rests), -1, -1, -1), values.expand(len(rests), -1, -1, -1))
                             for keys, values in prefix.states])
        positions = torch.arange(prefix.length, prefix.length + width, device=self.device).expand(len(rests), -1)
        with self._logits_at(read):
            logits = self.model(inputs_embeds=self.embed(ids.to(self.device)), position_ids=positions, use_cache=True,
                                **{self._cache_argument: cache}).logits
        log_probs = logits.float().log_softmax(dim=-1)
        if self.single_token:
            first_tokens = torch.tensor([ids[0] for ids in labels], device=log_probs.device)
            return log_probs[:, 0, first_tokens]
        return self._continuation_scores(log_probs)

    def _cache(self, states: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
        """A fresh key/value cache holding ``states`` (its own object: a forward appends to the cache it is given)."""
        from transformers import DynamicCache  # loaded by now: the model is

        return DynamicCache(states or None, config=self.model.config)

    @contextmanager
    def _logits_at(self, positions: torch.Tensor) -> Iterator[None]:
        """Make the output layer see only the hidden states at ``positions`` [rows, k] (one set per row), so the
        vocabulary projection runs there alone and the model's own post-processing (Gemma's soft-capping) applies.

        The projection runs in the weights' own dtype even under autocast: autocast would cast the whole vocabulary
        table again on every call (it caches only trainable weights), which costs more than the product at a few
        positions (Gemma's table is 262k x 640)."""
        head = self.model.get_output_embeddings()
        forward = head.forward

        def at_positions(hidden: torch.Tensor) -> torch.Tensor:
            hidden = torch.take_along_dim(hidden, positions.unsqueeze(-1), dim=1)
            with torch.autocast(hidden.device.type, enabled=False):
                return forward(hidden.to(head.weight.dtype))

        had_own = "forward" in vars(head)  # e.g. accelerate's device-placement wrapper
        head.forward = at_positions
        try:
            yield
        finally:
            if had_own:
                head.forward = forward
            else:
                del head.forward

    # ------------------------------------------------------------------------------------------------- full path

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
        longest = max(len(ids) for ids in self.label_ids)
        sequences = [list(inputs) + ids for inputs in batch for ids in self.label_ids]
        embeddings, mask, positions = self._left_padded_embeddings(sequences, rows)
        logits = self.model(
            inputs_embeds=embeddings, attention_mask=mask, position_ids=positions, logits_to_keep=longest + 1
        ).logits.float().log_softmax(dim=-1)
        return self._continuation_scores(logits, end=longest)

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
        return self._continuation_scores(logits)

    def _continuation_scores(self, log_probs: torch.Tensor, end: int | None = None) -> torch.Tensor:
        """[inputs, labels] from log-probabilities [inputs x labels, steps, vocabulary] whose row r predicts label
        r % labels: its tokens' log-probabilities at steps 0, 1, … (or at the steps ending at ``end``), summed."""
        labels = len(self.label_ids)
        scores = torch.empty(log_probs.shape[0], device=log_probs.device)
        for row in range(log_probs.shape[0]):
            label = self.label_ids[row % labels]
            first = 0 if end is None else end - len(label)
            steps = torch.arange(first, first + len(label), device=log_probs.device)
            token_scores = log_probs[row, steps, torch.tensor(label, device=log_probs.device)]
            scores[row] = token_scores.sum()
        return scores.view(-1, labels)

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
