"""Re-tuning head start: tune on the target from scratch, from the recycled and from the taught prompt.

    python bench/head_start.py [--directions smollm2-135m:gemma3-270m gemma3-270m:smollm2-135m]
        [--starts scratch recycled taught] [--recipes plain relative-0.1 relative-0.03 relative-0.1-warmup]
        [--steps N] [--threads N] [--again] [--table-only]

For each direction three starts are tuned on the target, batch 16, seed 0, dev accuracy on 200 dev examples every 10
steps: ``scratch`` (class-label init with the shipped prompts' recipe, Adam lr 0.3, for as many steps as those were
tuned), and two warm starts from the seed-0 prompt shipped for the source: the recommended data-free recycler's
prompt, and the prompt taught from it by bench/recycling_quality.py (its file under bench/results/quality/taught/;
run that first). Each warm start is tuned with each recipe (``RECIPES``: lr 0.3 as from scratch, or a learning rate
relative to the start's scale, with or without warm-up) for as many steps as the scratch run took to its best
(``--steps`` to change): a start that needs more saves nothing. Run the scratch start first: until it has run, the
target's shipped seed-0 record stands in for it (evaluated every 25 steps only). Reported per start at its best recipe
(the one that reaches the scratch run's best dev accuracy first, else the highest mean dev accuracy on the way,
up to the scratch run's best step): steps saved = the scratch run's best step minus the first evaluated step reaching
that accuracy. Runs are kept in bench/results/head_start.json
(a finished start and recipe is not run again unless ``--again``), and the "Head start" section of
docs/BENCHMARKS.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import Any

import torch
from common import RESULTS, machine_line, save_json, write_section
from recycling_quality import taught_file

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt
from recycler_gui.core.report import RowKind
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.training.tuning import TuningSettings, first_step_reaching, initial_prompt, tune
from recycler_gui.core.transfer.recyclers import RECOMMENDED
from recycler_gui.core.transfer.recycling import recycle

RECIPES: dict[str, dict[str, Any]] = {
    "plain": {"learning_rate": 0.3},
    "relative-0.1": {"learning_rate": 0.1, "relative_lr": True},
    "relative-0.03": {"learning_rate": 0.03, "relative_lr": True},
    "relative-0.1-warmup": {"learning_rate": 0.1, "relative_lr": True, "warmup": 10},
}
"""Step rules for a warm start (``StepSettings`` fields); ``plain`` is the shipped prompts' recipe."""
SCRATCH = "scratch"
STARTS = (SCRATCH, RowKind.RECYCLED.value, RowKind.TAUGHT.value)
OUT = RESULTS / "head_start.json"


def seed0(model: str) -> Any:
    return next(p for p in shipped_prompts(model) if p.name.endswith("-seed0") and not p.record.get("max_norm"))


def start_prompt(kind: str, source_name: str, target_name: str, source: Any, target: Any, task: Any) -> SoftPrompt:
    if kind == SCRATCH:
        return initial_prompt(target.input_embeddings(), target.tokenizer(), task, scratch_settings(0))
    shipped = seed0(source_name)
    if kind == RowKind.RECYCLED.value:
        return recycle(source, target, read_prompt(shipped.path), [RECOMMENDED], seed=0).recycled[0].prompt
    path = taught_file(source_name, target_name, shipped.name)
    if not path.exists():
        raise SystemExit(f"no taught prompt at {path}: run bench/recycling_quality.py for this direction first")
    return read_prompt(path)


def scratch_settings(steps: int) -> TuningSettings:
    """The shipped prompts' recipe (class-label init, lr 0.3), evaluated like the warm starts."""
    return TuningSettings(
        steps=steps, prompt_length=20, batch_size=16, eval_every=10, eval_size=200, seed=0, learning_rate=0.3
    )


def reference(results: list[dict], source_name: str, target_name: str) -> dict:
    """The from-scratch run warm starts are measured against: this bench's, else the target's shipped record."""
    ran = next(
        (r for r in results if (r["source"], r["target"], r["start"]) == (source_name, target_name, SCRATCH)), None
    )
    if ran is not None:
        return {"curve": ran["curve"], "best_dev": ran["best_dev"], "best_step": ran["best_step"], "bench": True}
    record = seed0(target_name).record
    return {
        "curve": record["curve"],
        "best_dev": record["dev_accuracy"],
        "best_step": record["best_step"],
        "bench": False,
    }


def run_one(
    source_name: str,
    target_name: str,
    starts: list[str],
    recipes: list[str],
    steps: int | None,
    results: list[dict],
    again: bool,
    command: str,
) -> list[dict]:
    done = {(r["source"], r["target"], r["start"], r["recipe"]) for r in results}
    todo = [(s, "plain" if s == SCRATCH else r) for s in starts for r in (["plain"] if s == SCRATCH else recipes)]
    todo = [(s, r) for s, r in todo if again or (source_name, target_name, s, r) not in done]
    if not todo:
        return results
    source, target = open_checkpoint(source_name), open_checkpoint(target_name)
    task = movie_reviews()
    model = target.load_model("cpu", "float32")
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=16)
    for start_kind, recipe in todo:
        start = start_prompt(start_kind, source_name, target_name, source, target, task)
        if start_kind == SCRATCH:
            settings = scratch_settings(steps or seed0(target_name).record["steps"])
        else:
            budget = steps or reference(results, source_name, target_name)["best_step"]
            settings = TuningSettings(
                steps=budget,
                prompt_length=start.num_tokens,
                batch_size=16,
                eval_every=10,
                eval_size=200,
                seed=0,
                **RECIPES[recipe],
            )
        started = time.perf_counter()
        result = tune(scorer, task, start, settings)
        run = {
            "source": source_name,
            "target": target_name,
            "start": start_kind,
            "recipe": recipe,
            "settings": RECIPES[recipe],
            "curve": result.curve,
            "best_dev": result.best_accuracy,
            "best_step": result.best_step,
            "seconds": round(time.perf_counter() - started, 1),
            "command": command,
        }
        key = (source_name, target_name, start_kind, recipe)
        results = [r for r in saved_runs() if (r["source"], r["target"], r["start"], r["recipe"]) != key] + [run]
        save_json(OUT.name, results)
        write_head_start_section(results)
        print(
            f"{source_name} -> {target_name} {start_kind} {recipe}: best dev {result.best_accuracy:.3f} at step "
            f"{result.best_step} ({run['seconds']:.0f} s)",
            flush=True,
        )
    return results


def reached(run: dict, ref: dict) -> int | None:
    return first_step_reaching(run["curve"], ref["best_dev"])


def mean_dev(run: dict, ref: dict) -> float:
    """Mean dev accuracy over the evaluations up to the scratch run's best step: how much of the way a rule keeps and
    builds on its start at any moment, where steps saved cannot tell rules apart."""
    values = [value for step, value in run["curve"] if step <= ref["best_step"]]
    return sum(values) / len(values)


def _rank(run: dict, ref: dict) -> tuple:
    """Best recipe first: reaches the scratch best soonest, else the highest mean dev accuracy on the way."""
    step = reached(run, ref)
    return (step is None, step or 0, -mean_dev(run, ref))


def _reach(run: dict, ref: dict) -> str:
    step = reached(run, ref)
    if step is None:
        return "not within the steps"
    saved = ref["best_step"] - step
    return f"step {step} ({saved} steps saved)" if saved >= 0 else f"step {step} ({-saved} steps later)"


def saved_runs() -> list[dict]:
    """The runs on disk, read afresh so that two benches running at once keep each other's runs."""
    return [r for r in (json.loads(OUT.read_text()) if OUT.exists() else []) if "recipe" in r]


def write_head_start_section(results: list[dict]) -> None:
    current = [r for r in results if "recipe" in r]  # runs of this version of the bench
    if not current:
        return
    commands = ", ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in current))
    lines = [
        f"Commands: {commands}",
        "",
        machine_line(),
        "",
        "Dev accuracy (%, 200 dev examples, evaluated every 10 steps) while tuning on the target from class-label "
        f"init (scratch, Adam lr 0.3 like the shipped prompts), from the seed-0 source prompt's {RECOMMENDED} prompt "
        "(recycled) and from the prompt taught from it (taught), each warm start at its best step rule. Steps "
        "saved: the scratch run's best step minus the first evaluated step at which the start reaches the scratch "
        "run's best dev accuracy. Mean dev: the mean of the evaluations up to that best step (step 0 included), how "
        "well a rule keeps and builds on its start at any moment; it ranks the rules of a start that never reaches "
        "the scratch best. Where the scratch start has not run, the target's shipped seed-0 record stands "
        "in (evaluated every 25 steps). One seed per run, and 200 dev examples give each point a standard error of "
        "about 2.5 points: a curve crosses the scratch best on noise as much as on skill, so read steps saved to the "
        "nearest few tens, not exactly. Recipes: "
        + "; ".join(f"{name} {settings}" for name, settings in RECIPES.items())
        + ".",
        "",
        "| direction | start | recipe | step 0 | mean dev % | best dev % (step) | reaches scratch best at |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    directions = list(dict.fromkeys((r["source"], r["target"]) for r in current))
    every = []
    for source, target in directions:
        ref = reference(current, source, target)
        runs = [r for r in current if (r["source"], r["target"]) == (source, target)]
        if not ref["bench"]:
            lines.append(
                f"| {source} → {target} | scratch (shipped record) | plain | {100 * ref['curve'][0][1]:.1f} "
                f"| {100 * ref['best_dev']:.1f} ({ref['best_step']}) | step {ref['best_step']} |"
            )
        for start in STARTS:
            tried = sorted((r for r in runs if r["start"] == start), key=lambda r: _rank(r, ref))
            if tried:
                best = tried[0]
                lines.append(
                    f"| {source} → {target} | {start} | {best['recipe']} | {100 * best['curve'][0][1]:.1f} | "
                    f"{100 * mean_dev(best, ref):.1f} | {100 * best['best_dev']:.1f} ({best['best_step']}) | "
                    f"{_reach(best, ref)} |"
                )
        every += [
            f"| {source} → {target} | {r['start']} | {r['recipe']} | {100 * mean_dev(r, ref):.1f} | "
            f"{100 * r['best_dev']:.1f} ({r['best_step']}) | {_reach(r, ref)} | {r['seconds']:.0f} |"
            for r in runs
        ]
    lines += [
        "",
        "Every run:",
        "",
        "| direction | start | recipe | mean dev % | best dev % (step) | reaches scratch best at | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *every,
    ]
    write_section("Head start", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directions", nargs="+", default=["smollm2-135m:gemma3-270m", "gemma3-270m:smollm2-135m"])
    parser.add_argument("--starts", nargs="+", choices=STARTS, default=list(STARTS))
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument(
        "--steps",
        type=int,
        help="tuning steps (default: the scratch run's best step; scratch: the shipped prompts' steps)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--again", action="store_true", help="run finished starts and recipes again")
    parser.add_argument("--table-only", action="store_true", help="rewrite the docs section from the saved JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = saved_runs()
    if not args.table_only:
        command = shlex.join(["python", "bench/head_start.py", *sys.argv[1:]])
        for direction in args.directions:
            results = run_one(
                *direction.split(":"), args.starts, args.recipes, args.steps, results, args.again, command
            )
    write_head_start_section(results)


if __name__ == "__main__":
    main()
