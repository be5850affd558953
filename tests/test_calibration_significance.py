"""Data-free calibration (content-free inputs) and the paired significance test, on hand-checked cases."""

from __future__ import annotations

import pytest
import torch

from recycler_gui.core.data.tasks import Example, Task
from recycler_gui.core.evaluation.calibration import (
    CONTENT_FREE,
    calibrate,
    calibrated_accuracy,
    content_free_bias,
)
from recycler_gui.core.evaluation.significance import mcnemar_exact, paired_test


class _Scorer:
    """Answers by a table: content-free inputs get fixed label probabilities; others the probabilities in the text."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, texts, rows, cancel=None) -> torch.Tensor:
        self.seen += texts
        table = {"Review: N/A\nSentiment:": [0.2, 0.8], "Review: \nSentiment:": [0.4, 0.6],
                 "Review: [MASK]\nSentiment:": [0.3, 0.7]}
        return torch.tensor([table[text] for text in texts]).log()


def test_the_label_bias_on_content_free_inputs_is_divided_out_by_hand() -> None:
    task = Task(name="t", template="Review: {text}\nSentiment:", label_words=(" negative", " positive"),
                train=(Example("x", 0),), dev=(Example("x", 0),), test=(Example("x", 0),))
    scorer = _Scorer()
    bias = content_free_bias(scorer, task, None)
    assert scorer.seen == [task.render(text) for text in CONTENT_FREE]
    torch.testing.assert_close(bias.exp(), torch.tensor([0.3, 0.7]))  # mean of (0.2, 0.4, 0.3) and (0.8, 0.6, 0.7)
    # p = (0.4, 0.6): 0.4 / 0.3 = 1.33 beats 0.6 / 0.7 = 0.86, so the calibrated answer is negative
    # p = (0.2, 0.8): 0.2 / 0.3 = 0.67 loses to 0.8 / 0.7 = 1.14, so it stays positive
    scores = torch.tensor([[0.4, 0.6], [0.2, 0.8]]).log()
    assert scores.argmax(dim=1).tolist() == [1, 1]
    assert calibrate(scores, bias).argmax(dim=1).tolist() == [0, 1]
    torch.testing.assert_close(calibrate(scores, bias).exp()[0], torch.tensor([0.4 / 0.3, 0.6 / 0.7]))
    assert calibrated_accuracy(scores, torch.tensor([0, 1]), bias) == 1.0
    assert calibrated_accuracy(scores, torch.tensor([1, 1]), bias) == 0.5


def test_the_exact_mcnemar_test_on_known_cases() -> None:
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)  # 0.0386: significant at 95%
    assert mcnemar_exact(9, 3) == pytest.approx(2 * (1 + 12 + 66 + 220) / 4096)  # 0.146: not significant
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(300, 240) == pytest.approx(0.01105, abs=1e-5)  # large counts stay exact


def test_a_paired_test_counts_only_the_examples_the_rows_disagree_on() -> None:
    gold = [1] * 20
    baseline = [1] * 8 + [0] * 12  # right on 8
    row = [1] * 6 + [0] * 2 + [1] * 10 + [0] * 2  # right on 16: 10 the baseline missed, 2 the baseline got
    test = paired_test(row, baseline, gold)
    assert (test.row_only, test.baseline_only) == (10, 2)
    assert test.significant() and test.row_better
    assert not paired_test(baseline, row, gold).significant()  # worse is never a significant win
    assert not paired_test(row[:10], baseline[:10], gold[:10]).significant()  # 2 vs 2: no difference
    with pytest.raises(ValueError, match="differ in length"):
        paired_test(row, baseline[:5], gold)
