"""The whole run's progress: the pipeline's plan lines up with its stages, and the overall fraction only grows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_models import write_toy_task

from recycler_gui.core.events import CancelToken, Plan, PlannedStage, Progress, Result, Stage
from recycler_gui.core.progress import RunProgress
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.report import CANCELLED, FINISHED, RowKind
from recycler_gui.core.runs.pipeline import Job, run
from recycler_gui.core.runs.teach_job import TEACHER_STAGE
from recycler_gui.core.transfer.recyclers import RECOMMENDED
from recycler_gui.core.transfer.recycling import recycling_stage


@pytest.fixture
def demo_like_job(tiny_llama: Path, tiny_gemma: Path, tmp_path: Path) -> Job:
    """Every part the demo has, and more: all baselines, three methods, a prompt tuned on the target, the few-shot
    pick, teaching, re-tuning from scratch and from the best recycled prompt, the source prompt on the source."""
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "source.safetensors", "safetensors")
    tuned = write_prompt(SoftPrompt(torch.randn(4, 32)), tmp_path / "tuned.safetensors", "safetensors")
    return Job(
        source=str(tiny_llama), target=str(tiny_gemma), prompt=str(prompt), target_prompt=str(tuned),
        task=str(write_toy_task(tmp_path)), text_column="review", label_column="stars",
        label_words="neg=negative,pos=positive", template="Review: {text}\nSentiment:",
        methods=["v2v-lin", "v2v-nn", "procrustes"], method_params={"v2v-nn": {"epochs": 2}}, offset=0,
        num_words=None, eval_size=8, batch_size=4, few_shot=4, teach_steps=2, teach_write=12, retune_steps=4,
        retune_eval_every=2, retune_eval_size=6, device="cpu",
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def test_every_planned_stage_arrives_in_order_and_the_fraction_only_grows(demo_like_job: Job) -> None:
    progress = RunProgress(FakeClock())
    fractions: list[float] = []
    plans: list[Plan] = []

    def watch(event: object) -> None:
        progress.update(event)
        fractions.append(progress.fraction)
        if isinstance(event, Plan):
            plans.append(event)

    report = run(demo_like_job, events=watch)
    assert report.status == FINISHED
    assert len(plans) == 1
    assert len(progress.matched) == len(plans[0].stages)  # the plan and the pipeline agree, stage by stage
    assert fractions == sorted(fractions)
    assert fractions[-1] == pytest.approx(1.0)
    assert len(set(fractions)) > len(plans[0].stages) / 2  # it moves during the run, not at the end


def test_a_cancelled_run_keeps_the_fraction_it_reached(demo_like_job: Job) -> None:
    progress = RunProgress(FakeClock())
    token = CancelToken()
    rows = 0

    def watch(event: object) -> None:
        nonlocal rows
        progress.update(event)
        rows += isinstance(event, Result)
        if rows == 3:
            token.cancel()

    report = run(demo_like_job, events=watch, cancel=token)
    assert report.status == CANCELLED
    assert 0.05 < progress.fraction < 0.9


def test_steps_outside_the_plan_belong_to_the_current_stage() -> None:
    clock = FakeClock()
    progress = RunProgress(clock)
    progress.update(Stage("downloading a model", 100))  # before the plan: no fraction, no time left
    progress.update(Progress(50))
    assert progress.fraction == 0 and progress.seconds_left() is None
    progress.update(Plan((PlannedStage("recycling with", 10), PlannedStage("scoring a", 30),
                          PlannedStage("scoring b", 60))))
    progress.update(Stage("recycling with ridge"))
    progress.update(Stage("fitting a map", 10))  # not planned: its counts are not the planned stage's
    progress.update(Progress(10))
    assert progress.fraction == 0
    progress.update(Stage("scoring b on t", 4))  # a later stage: the ones before are done
    assert progress.fraction == pytest.approx(0.4)
    progress.update(Progress(2))
    assert progress.fraction == pytest.approx(0.7)
    progress.update(Stage("scoring a on t", 4))  # an earlier name does not go back
    assert progress.fraction == pytest.approx(0.7)
    clock.now += 10
    assert progress.seconds_left() == pytest.approx((clock.now + 0.5 - 1.5) / 0.7 * 0.3, rel=0.2)
    progress.finish()
    assert progress.fraction == 1 and progress.seconds_left() == 0


def test_teaching_from_an_unchosen_recommended_recycler_is_planned_and_adds_no_recycled_row(
    demo_like_job: Job, tmp_path: Path
) -> None:
    """Teaching starts from the recommended recycler even when it is not ticked: it was fitted late, in stages the
    plan did not list, and the teacher's stage was sized by --teach-write although a file of texts was given."""
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"a film I watched on day {day}" for day in range(20)) + "\n")
    job = replace(demo_like_job, methods=["v2v-lin"], teach_texts=str(texts), few_shot=0, retune_steps=0)
    progress = RunProgress(FakeClock())
    plans: list[Plan] = []

    def watch(event: object) -> None:
        progress.update(event)
        if isinstance(event, Plan):
            plans.append(event)

    report = run(job, events=watch)
    assert report.status == FINISHED
    assert len(progress.matched) == len(plans[0].stages)
    costs = {stage.name: stage.cost for stage in plans[0].stages}
    assert costs[TEACHER_STAGE] == 20.0
    assert recycling_stage(RECOMMENDED) in costs
    kinds = {row.name: row.kind for row in report.rows}
    assert [name for name, kind in kinds.items() if kind == RowKind.RECYCLED] == ["v2v-lin"]
    assert any(kind == RowKind.TAUGHT for kind in kinds.values())
