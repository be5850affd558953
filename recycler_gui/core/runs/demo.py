"""The demo: a prompt tuned on SmolLM2-135M recycled to Gemma-3-270M with every method, beside the baselines and a
prompt tuned on Gemma itself, and a short re-tuning on Gemma from scratch and from the best recycled prompt. Everything
it needs is fetched by short name or shipped in ``resources/prompts``."""

from __future__ import annotations

from ..errors import RecyclerError
from ..events import CancelToken, EventSink, ignore_events
from ..models.checkpoints import open_checkpoint
from ..models.zoo import ZOO, fetch
from ..report import SCRATCH, RowKind
from ..resources import shipped_prompts
from .pipeline import Job

DEMO_SOURCE = "smollm2-135m"
DEMO_TARGET = "gemma3-270m"
DEMO_EVAL_SIZE = 200
"""Test examples per row: a +-3.5 point standard error per row."""
DEMO_MINUTES = 7
"""The whole demo on an idle 2-core CPU, first run: 7 min 24 s (15 scored rows of 200 and the fits, 3 min 29 s; the dev
pick and the two re-tunings, 3 min 55 s; bench/shared_prefix.py --demo new, docs/BENCHMARKS.md "Shared prefix"). What
the window and the CLI announce."""
DEMO_RETUNE_STEPS, DEMO_RETUNE_EVAL_EVERY, DEMO_RETUNE_EVAL_SIZE = 30, 10, 100
"""A short re-tuning on Gemma from scratch and from the best recycled prompt, so the demo shows training live: dev
accuracy on 100 examples at steps 0, 10, 20 and 30 for each start."""


class DemoUnavailableError(RecyclerError):
    """This installation lacks the shipped prompts the demo uses."""


def demo_job(eval_size: int = DEMO_EVAL_SIZE) -> Job:
    """The demo comparison (the models must be fetched before it runs: ``prepare_demo``)."""
    sources, targets = (
        [p for p in shipped_prompts(model) if not p.record.get("max_norm")] for model in (DEMO_SOURCE, DEMO_TARGET)
    )
    if not sources or not targets:
        raise DemoUnavailableError(
            f"this installation has no shipped prompts for {DEMO_SOURCE} and {DEMO_TARGET}",
            "reinstall Prompt Recycler (the wheel carries resources/prompts) or run bench/tune_source_prompts.py",
        )
    return Job(
        source=DEMO_SOURCE, target=DEMO_TARGET, prompt=str(sources[0].path), target_prompt=str(targets[0].path),
        eval_size=eval_size, retune_steps=DEMO_RETUNE_STEPS, retune_from=[SCRATCH, RowKind.RECYCLED.value],
        retune_eval_every=DEMO_RETUNE_EVAL_EVERY, retune_eval_size=DEMO_RETUNE_EVAL_SIZE,
    )


def demo_ready() -> bool:
    """True when both demo models and the movie reviews are fetched."""
    from ..data.movie_reviews import movie_reviews_path

    return ZOO[DEMO_SOURCE].is_fetched() and ZOO[DEMO_TARGET].is_fetched() and movie_reviews_path().is_file()


def prepare_demo(events: EventSink = ignore_events, cancel: CancelToken | None = None) -> None:
    """Fetch and convert both demo models and the movie reviews; quick when they are there already."""
    from ..data.movie_reviews import fetch_movie_reviews

    for name in (DEMO_SOURCE, DEMO_TARGET):
        fetch(name, events, cancel)
        open_checkpoint(name, events=events)  # converted now, not in the middle of the run
    fetch_movie_reviews(events)
