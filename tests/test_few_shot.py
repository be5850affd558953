"""Few-shot mode: balanced shots from train only, picking the best candidate, label-bias calibration."""

from __future__ import annotations

import pytest
import torch

from recycler_gui.core.data.tasks import Example, Task
from recycler_gui.core.evaluation.few_shot import FewShotError, few_shot_examples, label_bias, pick_by_few_shot


def _task() -> Task:
    train = tuple(Example(f"train {i}", int(i % 4 == 0)) for i in range(40))  # 10 positive, 30 negative
    return Task(name="t", template="{text}", label_words=(" no", " yes"), train=train,
                dev=(Example("dev", 0),), test=(Example("test", 1),))


def test_shots_are_balanced_come_from_train_and_depend_on_the_seed() -> None:
    shots = few_shot_examples(_task(), 8, seed=0)
    assert len(shots) == 8 and sum(e.label for e in shots) == 4
    assert all(e.text.startswith("train") for e in shots)
    assert few_shot_examples(_task(), 8, seed=0) == shots != few_shot_examples(_task(), 8, seed=1)
    assert sum(e.label for e in few_shot_examples(_task(), 30, seed=0)) == 10  # only 10 positives exist
    with pytest.raises(FewShotError, match="outside 1..32"):
        few_shot_examples(_task(), 33)


class _Scorer:
    """Scores by a fixed rule per candidate: 'right' gets every label right, 'wrong' none, None says ' yes'."""

    def score(self, texts, rows, cancel=None):
        labels = torch.tensor([int(t.split()[1]) % 4 == 0 for t in texts]).long()
        if rows is None:
            return torch.tensor([[0.0, 1.0]]).repeat(len(texts), 1)
        chosen = labels if rows.item() > 0 else 1 - labels
        return torch.nn.functional.one_hot(chosen, 2).float()


def test_the_candidate_best_on_the_shots_wins() -> None:
    task = _task()
    shots = few_shot_examples(task, 8)
    pick = pick_by_few_shot(_Scorer(), task, {"wrong": torch.tensor(-1.0), "none": None,
                                              "right": torch.tensor(1.0)}, shots)
    assert pick.name == "right" and pick.accuracy == 1.0
    assert pick.accuracies == {"wrong": 0.0, "none": 0.5, "right": 1.0}


def test_label_bias_takes_out_a_constant_preference() -> None:
    gold = torch.tensor([0, 1] * 8)
    evidence = torch.nn.functional.one_hot(gold, 2).float() * 0.5
    scores = evidence + torch.tensor([0.0, 2.0])  # prefers label 1 whatever the input
    assert (scores.argmax(1) == gold).float().mean() == 0.5
    assert ((scores - label_bias(scores)).argmax(1) == gold).all()
