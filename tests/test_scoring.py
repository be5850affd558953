"""Rank classification: the fast scorer equals the slow reference, prompts matter, metrics are right."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recycler_gui.core.evaluation.scoring import LabelWordError, Scorer, classification_metrics
from recycler_gui.core.models.checkpoints import open_checkpoint

TEXTS = [
    "Review: the movie was great\nSentiment:",
    "Review: a terrible boring film with bad actors and a dull story that never seems to end\nSentiment:",
    "Review: I loved it\nSentiment:",
    "Review: slow\nSentiment:",
    "Review: beautifully shot, warmly acted and surprisingly wise about love\nSentiment:",
]
ONE_TOKEN = (" negative", " positive")
SEVERAL_TOKENS = (" terrible film", " great night at the cinema", " so")


def _scorer(folder: Path, labels: tuple[str, ...], batch_size: int = 2, shared_prefix: bool = True) -> Scorer:
    checkpoint = open_checkpoint(folder)
    model = checkpoint.load_model("cpu")
    return Scorer(model, checkpoint.tokenizer(), checkpoint.family, labels, batch_size=batch_size,
                  shared_prefix=shared_prefix)


@pytest.mark.parametrize("fixture", ["tiny_llama", "tiny_gemma", "tiny_t5"])
@pytest.mark.parametrize("labels", [ONE_TOKEN, SEVERAL_TOKENS], ids=["one-token", "multi-token"])
@pytest.mark.parametrize("prompt_rows", [0, 4, 12], ids=["no-prompt", "prompt", "prompt-over-the-window"])
@pytest.mark.parametrize("shared_prefix", [True, False], ids=["shared-prefix", "full"])
def test_fast_scores_equal_the_slow_reference(
    request: pytest.FixtureRequest, fixture: str, labels: tuple[str, ...], prompt_rows: int, shared_prefix: bool
) -> None:
    """Both layouts, on a model of each kind; the 12-row prompt is longer than tiny Gemma's sliding window."""
    scorer = _scorer(request.getfixturevalue(fixture), labels, shared_prefix=shared_prefix)
    assert scorer.single_token == (labels == ONE_TOKEN)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randn(prompt_rows, scorer.embed.weight.shape[1], generator=generator) if prompt_rows else None
    torch.testing.assert_close(scorer.score(TEXTS, prompt), scorer.reference_scores(TEXTS, prompt), rtol=0, atol=1e-4)


@pytest.mark.parametrize("fixture", ["tiny_llama", "tiny_gemma"])
@pytest.mark.parametrize("labels", [ONE_TOKEN, SEVERAL_TOKENS], ids=["one-token", "multi-token"])
def test_training_scores_and_gradients_are_those_of_the_full_path(
    request: pytest.FixtureRequest, fixture: str, labels: tuple[str, ...]
) -> None:
    """``label_scores`` is what tuning (and teaching) differentiate: the shared prefix changes neither its value nor
    the prompt's gradient."""
    shared = _scorer(request.getfixturevalue(fixture), labels)
    full = _scorer(request.getfixturevalue(fixture), labels, shared_prefix=False)
    batch = [shared.input_ids(text) for text in TEXTS]
    start = torch.randn(6, shared.embed.weight.shape[1], generator=torch.Generator().manual_seed(1))
    results = []
    for scorer in (shared, full):
        rows = start.clone().requires_grad_(True)
        scores = scorer.label_scores(batch, rows)
        (scores * torch.linspace(-1, 1, scores.numel()).view_as(scores)).sum().backward()
        results.append((scores.detach(), rows.grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-4)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-4, atol=1e-5)


def test_a_training_batch_runs_the_prompt_and_the_shared_tokens_once(tiny_llama: Path) -> None:
    """The prompt rows and ``Review:`` go through the model once per batch, not once per example."""
    scorer = _scorer(tiny_llama, ONE_TOKEN)
    batch = [scorer.input_ids(text) for text in TEXTS]
    rows = torch.randn(6, scorer.embed.weight.shape[1], requires_grad=True)
    prefix = scorer.prefix(batch, rows)
    assert prefix is not None and prefix.tokens >= 1
    positions: list[int] = []
    layer = scorer.model.model.layers[0]
    handle = layer.register_forward_hook(lambda _m, args, _out: positions.append(args[0].shape[0] * args[0].shape[1]))
    try:
        scorer.label_scores(batch, rows)
        shared_positions = sum(positions)
        positions.clear()
        scorer.shared_prefix = False
        scorer.label_scores(batch, rows)
    finally:
        handle.remove()
    longest = max(len(ids) for ids in batch)
    assert shared_positions == prefix.length + len(batch) * (longest - prefix.tokens)
    assert sum(positions) == len(batch) * (rows.shape[0] + longest)


def test_under_autocast_the_vocabulary_projection_runs_in_float32_and_the_layer_is_left_as_it_was(
    tiny_gemma: Path,
) -> None:
    """Training autocasts to bfloat16; the output layer stays in its weights' float32 at the positions read (autocast
    would cast the whole vocabulary table on every call), and a forward of its own (accelerate's) is put back."""
    scorer = _scorer(tiny_gemma, ONE_TOKEN)
    head = scorer.model.get_output_embeddings()
    seen: list[tuple[torch.dtype, int]] = []
    handle = head.register_forward_hook(lambda _m, _args, out: seen.append((out.dtype, out.shape[1])))
    batch = [scorer.input_ids(text) for text in TEXTS]
    rows = torch.randn(4, scorer.embed.weight.shape[1])
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scorer.label_scores(batch, rows)
        assert seen == [(torch.float32, 0), (torch.float32, 1)]  # the prefix reads no position, the batch one each
        assert "forward" not in vars(head)
        own = head.forward
        head.forward = own
        scorer.label_scores(batch, rows)
        assert vars(head)["forward"] is own
    finally:
        handle.remove()
        vars(head).pop("forward", None)


def test_batch_size_does_not_change_scores(tiny_gemma: Path) -> None:
    one = _scorer(tiny_gemma, ONE_TOKEN, batch_size=1).score(TEXTS)
    many = _scorer(tiny_gemma, ONE_TOKEN, batch_size=5).score(TEXTS)
    torch.testing.assert_close(one, many, rtol=0, atol=1e-5)


def test_a_prompt_changes_predictions(tiny_llama: Path) -> None:
    scorer = _scorer(tiny_llama, ONE_TOKEN)
    plain = scorer.score(TEXTS)
    # a prompt made of many copies of the " positive" token's embedding pushes every answer towards positive
    positive = scorer.embed.weight[scorer.label_ids[1][0]].detach()
    prompted = scorer.score(TEXTS, positive.expand(12, -1) * 8)
    assert not torch.allclose(plain, prompted)
    assert (prompted[:, 1] - prompted[:, 0]).mean() != pytest.approx(float((plain[:, 1] - plain[:, 0]).mean()))


def test_label_words_that_collide_or_vanish(tiny_llama: Path) -> None:
    with pytest.raises(LabelWordError, match="give the same tokens"):
        _scorer(tiny_llama, (" good", " good"))
    with pytest.raises(LabelWordError, match="gives no tokens"):
        _scorer(tiny_llama, ("", " good"))


def test_metrics_on_a_known_case() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]]).log()
    gold = torch.tensor([0, 1, 1, 1, 0])
    metrics = classification_metrics(scores, gold)
    assert metrics.accuracy == pytest.approx(3 / 5)
    assert metrics.confusion == [[1, 1], [1, 2]]
    assert metrics.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    # positives' P(positive) = 0.8, 0.4, 0.7; negatives' = 0.1, 0.55: 5 of 6 pairs ranked right
    assert metrics.auc == pytest.approx(5 / 6)


def test_auc_is_absent_for_three_classes_or_one_class() -> None:
    assert classification_metrics(torch.randn(4, 3), torch.tensor([0, 1, 2, 0])).auc is None
    assert classification_metrics(torch.randn(3, 2), torch.tensor([1, 1, 1])).auc is None
