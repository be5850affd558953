"""What a comparison run will do, stage by stage, with the cost of each: an overall progress bar and ETA are made of it.

The stage names here are the ones the pipeline emits (it takes them from here), so a ``Plan`` and the run's ``Stage``
events line up; a test runs the pipeline and checks that every planned stage arrives in order. Costs are in units of
one test example scored on the target. The other costs were measured against that on the demo pair (2-core CPU,
SmolLM2-135M -> Gemma-3-270M): loading a converted model takes about as long as scoring 40 examples, a prompt-tuning
step about 2.3 examples' worth per example in its batch (forward and backward, bf16), reading both embedding tables
and vocabularies about 20, and fitting a recycler a few seconds (a fit from the cache costs nothing; a long fit only
slows the bar for a while: the ETA follows the measured rate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.unlabelled import writing_stage
from ..evaluation.baselines import RANDOM_SEEDS
from ..events import Plan, PlannedStage, retune_series, teach_series
from ..report import SCRATCH, RowKind
from ..transfer.recyclers import RECOMMENDED
from ..transfer.recycling import READING_STAGE, recycling_stage
from .teach_job import TEACHER_STAGE

if TYPE_CHECKING:
    from .pipeline import Job

LOAD_COST = 40.0
READ_COST = 20.0
FIT_COST = 20.0
TRAIN_STEP_COST = 2.3
"""Per example of a training batch."""
WRITE_COST = 4.0
"""Per text a model writes to teach on (about 30 new tokens each, in batches); nothing when the texts are cached."""

DEV_PICK_STAGE = "picking the best recycled prompt on dev"
FEW_SHOT_STAGE = "few-shot mode: picking on"


def loading_stage(model: str) -> str:
    return f"loading {model}"


def scoring_stage(what: str, model: str) -> str:
    return f"scoring {what} on {model}"


def random_seed_name(seed: int) -> str:
    return f"random (seed {seed})"


def retuned_what(start: str) -> str:
    """What a re-tuned row's scoring stage scores (``start``: scratch or a method)."""
    return f"the prompt re-tuned from {start}"


TARGET_PROMPT_WHAT = "the prompt tuned on the target"
TAUGHT_WHAT = "the taught prompt"
FEW_SHOT_WHAT = "the few-shot pick"
SOURCE_WHAT = "the source prompt"


def fitted_methods(job: Job, methods: list[str]) -> list[str]:
    """The recyclers a run fits: the chosen ones, and the recommended one when teaching starts from it unchosen."""
    return [*methods, RECOMMENDED] if job.teach_steps and RECOMMENDED not in methods else methods


def plan_run(
    job: Job, methods: list[str], baselines: list[str], source_name: str, target_name: str,
    given_texts: int | None = None,
) -> Plan:
    """The stages ``pipeline.run`` goes through for ``job``, in order, with their costs; ``given_texts``: how many
    texts the user's file of texts to teach on holds (else the model writes ``job.teach_write``)."""
    scored = float(job.eval_size)
    stages = [PlannedStage(READING_STAGE, READ_COST)]
    stages += [PlannedStage(recycling_stage(method), FIT_COST) for method in fitted_methods(job, methods)]
    if job.teach_steps or job.score_source:  # the source phase
        stages.append(PlannedStage(loading_stage(source_name), LOAD_COST))
        if job.teach_steps:
            if not job.teach_texts:
                stages.append(PlannedStage(writing_stage(job.teach_write), WRITE_COST * job.teach_write))
            stages.append(PlannedStage(TEACHER_STAGE, float(given_texts or job.teach_write)))
        if job.score_source:
            stages.append(PlannedStage(scoring_stage(SOURCE_WHAT, source_name), scored))
    stages.append(PlannedStage(loading_stage(target_name), LOAD_COST))
    for name in baselines:
        names = [random_seed_name(seed) for seed in range(RANDOM_SEEDS)] if name == "random" else [name]
        stages += [PlannedStage(scoring_stage(what, target_name), scored) for what in names]
    stages += [PlannedStage(scoring_stage(method, target_name), scored) for method in methods]
    if job.few_shot and methods:
        stages.append(PlannedStage(FEW_SHOT_STAGE, 2.0 * len(methods) * job.few_shot))
        stages.append(PlannedStage(scoring_stage(FEW_SHOT_WHAT, target_name), scored))
    if job.teach_steps:
        teaching = job.teaching()
        evaluations = 1 + job.teach_steps // teaching.eval_every + bool(job.teach_steps % teaching.eval_every)
        cost = job.teach_steps * teaching.batch_size * TRAIN_STEP_COST + evaluations * teaching.held_out
        stages.append(PlannedStage(teach_series(RECOMMENDED), cost))
        stages.append(PlannedStage(scoring_stage(TAUGHT_WHAT, target_name), scored))
    if job.target_prompt:
        stages.append(PlannedStage(scoring_stage(TARGET_PROMPT_WHAT, target_name), scored))
    if job.retune_steps:
        evaluations = 1 + job.retune_steps // job.retune_eval_every + bool(job.retune_steps % job.retune_eval_every)
        tuning = job.retune_steps * job.batch_size * TRAIN_STEP_COST + evaluations * job.retune_eval_size
        recycled_start = RowKind.RECYCLED.value in job.retune_from and methods
        if recycled_start:
            stages.append(PlannedStage(DEV_PICK_STAGE, float(len(methods) * job.retune_eval_size)))
        if SCRATCH in job.retune_from:
            stages.append(PlannedStage(retune_series(SCRATCH), tuning))
            stages.append(PlannedStage(scoring_stage(retuned_what(SCRATCH), target_name), scored))
        if recycled_start:  # the method is picked during the run: the names' start matches any
            stages.append(PlannedStage(retune_series(""), tuning))
            stages.append(PlannedStage(scoring_stage(retuned_what(""), "").removesuffix(" on "), scored))
        if RowKind.TAUGHT.value in job.retune_from and job.teach_steps:
            stages.append(PlannedStage(retune_series(RowKind.TAUGHT.value), tuning))
            stages.append(PlannedStage(scoring_stage(retuned_what(RowKind.TAUGHT.value), target_name), scored))
    return Plan(tuple(stages))
