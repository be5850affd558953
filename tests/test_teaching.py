"""Teaching: the teacher's label distribution, the KL objective, the training loop, and texts to teach on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from recycler_gui.core.data import unlabelled
from recycler_gui.core.data.tasks import Example, Task
from recycler_gui.core.data.unlabelled import (
    TeachingTextsError,
    WritingSettings,
    finished_text,
    read_texts_file,
    writer_for,
    written_texts,
)
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.events import CancelToken, Point, Progress
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt
from recycler_gui.core.training.loop import StepSettings, TrainingSettingsError, autocast, train_rows
from recycler_gui.core.training.teaching import (
    TeachingSettings,
    agreement,
    balanced,
    distillation_loss,
    label_distribution,
    label_weights,
    teach,
    teacher_distribution,
)

TEMPLATE = "Review: {text}\nSentiment:"
LABELS = (" negative", " positive")
TEXTS = [
    "the movie was great", "a terrible boring film", "I loved this film so much", "I hated every minute of it",
    "great music, great images", "nothing works here", "a gentle comedy about growing old", "weak jokes",
    "an ambitious science fiction epic", "the dialogue feels forced", "she gives a quiet performance",
    "this sequel repeats the same tired formula", "beautifully shot and warmly acted", "too many characters",
    "children will enjoy the colourful animals", "the soundtrack is loud", "a clever thriller about money",
    "my friends laughed and cried", "the director shows real talent", "painfully slow", "a charming picture",
    "flat characters, no energy", "a great night at the cinema", "bad actors",
]


def _task() -> Task:
    examples = tuple(Example(text, i % 2) for i, text in enumerate(TEXTS))
    return Task(name="toy", template=TEMPLATE, label_words=LABELS, train=examples, dev=examples, test=examples)


@pytest.fixture(scope="module")
def llama(tiny_llama: Path):
    checkpoint = open_checkpoint(tiny_llama)
    model = checkpoint.load_model("cpu")
    return checkpoint, model, Scorer(model, checkpoint.tokenizer(), checkpoint.family, LABELS, batch_size=8)


def _prompt(scorer: Scorer, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(4, scorer.embed.weight.shape[1], generator=torch.Generator().manual_seed(seed)) * scale


def _pushing(scorer: Scorer, label: int) -> torch.Tensor:
    """A prompt of copies of one label word's embedding: it pushes the tiny model's answers toward that label."""
    return scorer.embed.weight[scorer.label_ids[label][0]].detach().expand(6, -1) * 8


class _BagScorer:
    """A fast differentiable stand-in for ``Scorer``: the positive label's logit is the text's mean character vector
    plus the mean prompt row, times a fixed direction, less the median over ``TEXTS`` (so answers split about evenly).

    Its answers vary from text to text and a prompt shifts them, which a tiny random transformer barely does.
    """

    device = torch.device("cpu")

    def __init__(self) -> None:
        self.chars = torch.randn(128, 8, generator=torch.Generator().manual_seed(0))
        self.direction = torch.linspace(-1, 1, 8)
        self.centre = 0.0
        self.centre = float(self._logits([self.input_ids(text) for text in TEXTS], None).median())

    def input_ids(self, text: str) -> list[int]:
        return [ord(c) % 128 for c in text.removeprefix("Review: ")]

    def _logits(self, batch: list[list[int]], rows: torch.Tensor | None) -> torch.Tensor:
        features = torch.stack([self.chars[torch.tensor(ids)].mean(dim=0) for ids in batch]) * 4
        if rows is not None:
            features = features + rows.mean(dim=0)
        return features @ self.direction - self.centre

    def label_scores(self, batch: list[list[int]], rows: torch.Tensor | None) -> torch.Tensor:
        logits = self._logits(batch, rows)
        return torch.stack([-logits / 2, logits / 2], dim=1).log_softmax(dim=1)

    def score(self, texts, rows, events=None, cancel=None) -> torch.Tensor:
        if cancel is not None:
            cancel.check()
        with torch.no_grad():
            return self.label_scores([self.input_ids(t) for t in texts], rows)


def _shift(size: float) -> torch.Tensor:
    return torch.full((3, 8), size) * torch.linspace(-1, 1, 8)


# ------------------------------------------------------------------------------------------ teacher and objective


def test_the_teacher_distribution_is_the_softmax_of_the_label_scores(llama) -> None:
    _, _, scorer = llama
    task, rows = _task(), _prompt(scorer, 0)
    teacher = teacher_distribution(scorer, task, TEXTS, rows)
    scores = scorer.reference_scores([task.render(t) for t in TEXTS], rows)
    torch.testing.assert_close(teacher, scores.softmax(dim=1), atol=1e-4, rtol=0)
    torch.testing.assert_close(teacher.sum(dim=1), torch.ones(len(TEXTS)))
    hard = teacher_distribution(scorer, task, TEXTS, rows, temperature=0)
    assert torch.equal(hard.argmax(dim=1), teacher.argmax(dim=1)) and set(hard.flatten().tolist()) == {0.0, 1.0}
    sharper = label_distribution(scores, 0.5)
    assert (sharper.max(dim=1).values >= teacher.max(dim=1).values - 1e-6).all()


def test_a_student_that_answers_like_the_teacher_has_zero_loss(llama) -> None:
    _, _, scorer = llama
    task, rows = _task(), _prompt(scorer, 0)
    teacher = teacher_distribution(scorer, task, TEXTS, rows)
    ids = [scorer.input_ids(task.render(t)) for t in TEXTS]
    with torch.no_grad():
        same = distillation_loss(scorer.label_scores(ids, rows), teacher)
        other = distillation_loss(scorer.label_scores(ids, _pushing(scorer, 1)), teacher)
    assert float(same) == pytest.approx(0.0, abs=1e-5)
    assert float(other) > 1e-4
    assert agreement(scorer.label_scores(ids, rows), teacher) == 1.0


def test_teaching_moves_the_student_toward_the_teacher_and_keeps_the_best() -> None:
    scorer, task = _BagScorer(), _task()
    teacher = teacher_distribution(scorer, task, TEXTS, _shift(0.1))
    points: list[object] = []
    settings = TeachingSettings(steps=30, learning_rate=0.1, batch_size=8, eval_every=10, held_out=8, bf16=False)
    result = teach(scorer, task, TEXTS, teacher, SoftPrompt(_shift(-0.1)), settings, events=points.append,
                   watch=lambda rows: float(rows.mean()))
    assert result.training.curve[0][1] < 1.0 and result.training.best_value == 1.0
    assert sum(result.training.losses[-5:]) < 0.2 * sum(result.training.losses[:5])
    assert [step for step, _ in result.training.curve] == [0, 10, 20, 30]
    assert dict(result.training.curve)[result.training.best_step] == 1.0
    assert [step for step, _ in result.watched] == [0, 10, 20, 30]
    assert [p.x for p in points if isinstance(p, Point) and "watched" not in p.series] == [0, 10, 20, 30]
    assert not result.training.cancelled


def test_a_cancel_ends_teaching_within_one_step_with_the_best_prompt_so_far() -> None:
    scorer, task = _BagScorer(), _task()
    teacher = teacher_distribution(scorer, task, TEXTS, _shift(0.1))
    cancel = CancelToken()
    steps: list[int] = []

    def cancel_at_step_12(event: object) -> None:
        if isinstance(event, Progress):
            steps.append(event.done)
            if event.done == 12:
                cancel.cancel()

    settings = TeachingSettings(steps=40, learning_rate=0.1, batch_size=8, eval_every=5, held_out=8, bf16=False)
    result = teach(scorer, task, TEXTS, teacher, SoftPrompt(_shift(-0.1)), settings, events=cancel_at_step_12,
                   cancel=cancel)
    assert result.training.cancelled and steps[-1] == 12
    assert [step for step, _ in result.training.curve] == [0, 5, 10]
    assert result.training.best_step in (5, 10) and result.training.best_value > result.training.curve[0][1]


def test_too_few_texts_to_hold_out_are_refused(llama) -> None:
    _, _, scorer = llama
    with pytest.raises(TrainingSettingsError, match="3 texts are too few"):
        teach(scorer, _task(), TEXTS[:3], torch.full((3, 2), 0.5), SoftPrompt(_prompt(scorer, 0)), TeachingSettings())


def test_a_relative_learning_rate_warm_up_and_an_anchor_keep_a_warm_start() -> None:
    start, far = torch.full((3, 4), 0.01), torch.full((3, 4), 100.0)

    def trained(steps: int, learning_rate: float, **rule: object) -> torch.Tensor:
        settings = StepSettings(steps=steps, learning_rate=learning_rate, batch_size=4, eval_every=steps, bf16=False,
                                **rule)
        return train_rows(start, lambda rows, _: (rows - far).pow(2).mean(), lambda rows, step: (0.0, (float(step),)),
                          8, settings, device=torch.device("cpu")).rows

    def moved(**rule: object) -> float:
        return float((trained(5, 0.3, **rule) - start).abs().max())

    assert moved() == pytest.approx(5 * 0.3, rel=0.05)  # Adam: about lr per coordinate and step, whatever the start
    assert moved(relative_lr=True) == pytest.approx(5 * 0.3 * 0.01, rel=0.05)  # lr x the start's scale
    assert moved(warmup=5) == pytest.approx(0.3 * (1 + 2 + 3 + 4 + 5) / 5, rel=0.05)
    assert float(trained(300, 1.0).mean()) > 50
    assert float(trained(300, 1.0, anchor=1e-3).mean()) < 15  # the pull toward the start holds it near 9


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the CPU's flags from Linux's /proc/cpuinfo")
def test_training_autocasts_exactly_on_a_cpu_with_bfloat16_instructions() -> None:
    """A torch release once dropped the probe the loop asked, and steps silently ran in float32 (1.4-1.7x slower)."""
    flags = set(Path("/proc/cpuinfo").read_text().split())
    has_bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    with autocast(torch.device("cpu"), enabled=True):
        assert torch.is_autocast_enabled("cpu") == has_bf16
    with autocast(torch.device("cpu"), enabled=False):
        assert not torch.is_autocast_enabled("cpu")


# --------------------------------------------------------------------------------------------------- texts to teach


def test_a_text_ends_at_the_template_s_next_part_or_its_last_sentence() -> None:
    stops = ["\n", "Sentiment:"]
    assert finished_text("This film is fine.\nSentiment: positive", stops, 2) == "This film is fine."
    assert finished_text("Slow but lovely Sentiment: pos", stops, 2) == "Slow but lovely"
    assert finished_text("Great cast. Weak plot. And the end is so", stops, 2) == "Great cast. Weak plot."
    assert finished_text("no end in sight and", stops, 2) == "no end in sight and"
    assert finished_text("Too short\n", stops, 3) == ""


def test_written_texts_are_seeded_limited_distinct_and_cached(llama, monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint, model, _ = llama
    task = replace(_task(), openers=("The film", "I"))
    settings = WritingSettings(count=12, max_new_tokens=6, min_words=1, batch_size=6, seed=3)
    progress: list[object] = []
    texts = written_texts(checkpoint, model, task, settings, events=progress.append)
    assert 0 < len(texts) <= 12 and len({" ".join(t.lower().split()) for t in texts}) == len(texts)
    assert isinstance(progress[-1], Progress) and progress[-1].done == len(texts)
    for text in texts:
        assert "\n" not in text and "Sentiment:" not in text
        assert not any(token in text for token in ("<s>", "</s>", "<unk>"))  # a control token ends a text
        assert text.startswith(("The film", "I"))
        opener = "The film" if text.startswith("The film") else "I"
        assert len(text.split()) <= len(opener.split()) + 6  # each of the 6 new tokens starts at most one word
    assert written_texts(checkpoint, model, task, settings, use_cache=False) == texts  # same seed, same texts
    assert written_texts(checkpoint, model, task, replace(settings, seed=4)) != texts
    neutral = written_texts(checkpoint, model, _task(), replace(settings, count=4))
    assert all(text.startswith(unlabelled.OPENERS) for text in neutral)  # a task without openers: neutral ones

    def no_writing(*args, **kwargs):
        raise AssertionError("the cached texts should have been read")

    monkeypatch.setattr(unlabelled, "_write_texts", no_writing)
    assert written_texts(checkpoint, model, task, settings) == texts
    for changed in (task.with_template("Film: {text}\nSentiment:"), replace(task, openers=("A",))):
        with pytest.raises(AssertionError, match="cached"):  # another template or other openers: written anew
            written_texts(checkpoint, model, changed, settings)
    with pytest.raises(AssertionError, match="cached"):
        written_texts(checkpoint, model, task, replace(settings, max_new_tokens=7))
    with pytest.raises(TeachingTextsError, match="no texts written by"):
        written_texts(checkpoint, None, task, replace(settings, seed=5))


def test_a_label_hint_names_each_label_word_in_turn_before_the_template(
    llama, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint, model, _ = llama
    task = replace(_task(), openers=("The film",))
    seen: list[list[str]] = []
    sample = unlabelled._sample

    def recorded(model, tokenizer, prefixes, *args):
        seen.append(list(prefixes))
        return sample(model, tokenizer, prefixes, *args)

    monkeypatch.setattr(unlabelled, "_sample", recorded)
    settings = WritingSettings(count=8, max_new_tokens=4, min_words=1, batch_size=4, seed=1, label_hint=True)
    texts = written_texts(checkpoint, model, task, settings, use_cache=False)
    words = task.label_words
    assert seen[0] == [f"Sentiment: {words[i % 2].strip()}\nReview: The film" for i in range(4)]
    assert all(text.startswith("The film") and "Sentiment" not in text for text in texts)  # the hint is not kept
    plain = written_texts(checkpoint, model, task, replace(settings, label_hint=False), use_cache=False)
    assert seen[-1][0] == "Review: The film" and plain != texts


def test_an_encoder_decoder_source_lets_the_target_write(tiny_t5: Path, tiny_llama: Path) -> None:
    t5, llama = open_checkpoint(tiny_t5), open_checkpoint(tiny_llama)
    assert writer_for(t5, llama) is llama
    assert writer_for(llama, t5) is llama
    assert writer_for(llama, llama, prefer="target") is llama
    with pytest.raises(TeachingTextsError, match="--teach-texts"):
        writer_for(t5, t5)


def test_texts_from_a_file_one_per_line_or_a_column(tmp_path: Path) -> None:
    lines = tmp_path / "texts.txt"
    lines.write_text("a fine film\n\n  a  fine film \nawful\n", encoding="utf-8")
    assert read_texts_file(lines) == ["a fine film", "awful"]
    table = tmp_path / "texts.csv"
    table.write_text("review,stars\ngood fun,pos\nbad,neg\n", encoding="utf-8")
    assert read_texts_file(table, "review") == ["good fun", "bad"]
    with pytest.raises(TeachingTextsError, match="no column 'text'; its columns are 'review', 'stars'"):
        read_texts_file(table)
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": t, "label": 1}) for t in ["one", "two"]), encoding="utf-8")
    assert read_texts_file(jsonl) == ["one", "two"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(TeachingTextsError, match="holds no texts"):
        read_texts_file(empty)
    with pytest.raises(TeachingTextsError, match="no such file"):
        read_texts_file(tmp_path / "missing.txt")


def test_a_balanced_teacher_averages_to_an_even_split_and_keeps_its_order() -> None:
    """A teacher that calls most texts positive passes that lean on; balancing divides it out (no labels read)."""
    teacher = torch.tensor([[0.1, 0.9], [0.3, 0.7], [0.45, 0.55], [0.6, 0.4]])
    even = balanced(teacher)
    assert torch.allclose(even.sum(dim=1), torch.ones(4))
    assert (teacher.argmax(1) == 1).sum() == 3 and (even.argmax(1) == 1).sum() == 2  # the borderline text flips
    assert torch.equal(even[:, 1].argsort(), teacher[:, 1].argsort())  # the order of the texts is kept
    assert torch.allclose(balanced(torch.full((3, 2), 0.5)), torch.full((3, 2), 0.5))  # an even teacher is unchanged


def test_reweighting_gives_each_label_the_same_weight_so_a_one_label_student_no_longer_looks_right() -> None:
    teacher = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # three texts positive, one negative
    weights = label_weights(teacher)
    assert torch.allclose(weights, torch.tensor([2 / 3, 2 / 3, 2 / 3, 2.0]))  # each label weighs 2 of 4
    always_positive = torch.tensor([[0.0, 5.0]] * 4)
    assert agreement(always_positive, teacher) == 0.75
    assert agreement(always_positive, teacher, weights) == pytest.approx(0.5)
    copy = teacher.clamp(1e-6).log()
    assert float(distillation_loss(copy, teacher, weights)) == pytest.approx(0.0, abs=1e-4)
    assert torch.allclose(label_weights(torch.full((3, 2), 0.5)), torch.ones(3))  # an even teacher: equal weights
