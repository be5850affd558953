"""Re-tuning head start: tune on the target from a recycled prompt vs from class-label init, same recipe.

    python bench/head_start.py [--directions smollm2-135m:gemma3-270m gemma3-270m:smollm2-135m] [--method NAME]
                               [--steps N] [--table-only]

For each direction the seed-0 prompt shipped for the source is recycled with ``--method`` (default: the data-free
recycler with the best mean accuracy in that direction in bench/results/recycling_quality.json) and tuned on the
target with the recipe of the shipped prompts (100 steps, Adam lr 0.3, batch 16, seed 0, dev of 200 examples every
25 steps). The from-scratch curve is the target's shipped seed-0 prompt's own record (class-label init, same recipe
and seed). Reported: dev accuracy at 0/25/50/75/100 steps for both starts, and the first evaluated step at which the
recycled start reaches the from-scratch run's best dev accuracy. Each run is merged into bench/results/head_start.json
(replacing an earlier run of the same direction and method) and the "Head start" section of docs/BENCHMARKS.md is
rewritten from it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from common import RESULTS, machine_line, method_and_params, save_json, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import read_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.training.tuning import TuningSettings, tune
from recycler_gui.core.transfer.recycling import recycle


def best_method(source: str, target: str) -> str:
    """The data-free recycler with the best mean accuracy over the plain shipped prompts of this direction."""
    results = json.loads((RESULTS / "recycling_quality.json").read_text())
    result = next(r for r in results if (r["source"], r["target"]) == (source, target))
    plain = [rows for name, rows in result["prompts"].items() if "recyclable" not in name]
    methods = [m for m in plain[0] if m != "few-shot pick"]
    return max(methods, key=lambda m: sum(rows[m]["accuracy"] for rows in plain) / len(plain))


def run_direction(source_name: str, target_name: str, method: str | None, steps: int | None) -> dict:
    started = time.perf_counter()
    method = method or best_method(source_name, target_name)
    source_prompt = next(p for p in shipped_prompts(source_name) if p.name.endswith("-seed0") and
                         not p.record.get("max_norm"))
    scratch = next(p for p in shipped_prompts(target_name) if p.name.endswith("-seed0") and
                   not p.record.get("max_norm")).record
    source, target = open_checkpoint(source_name), open_checkpoint(target_name)
    name, params = method_and_params(method)
    start = recycle(source, target, read_prompt(source_prompt.path), [name], params=params).recycled[0].prompt
    task = movie_reviews()
    settings = TuningSettings(steps=steps or scratch["steps"], prompt_length=start.num_tokens, learning_rate=0.3,
                              batch_size=16, eval_every=25, eval_size=200, seed=0)
    model = target.load_model("cpu", "float32")
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=settings.batch_size)
    result = tune(scorer, task, start, settings)
    scratch_best = scratch["dev_accuracy"]
    reached = result.steps_to_reach(scratch_best)
    return {
        "source": source_name, "target": target_name, "method": method, "source_prompt": source_prompt.name,
        "recycled_curve": result.curve, "scratch_curve": scratch["curve"], "scratch_best_dev": scratch_best,
        "scratch_best_step": scratch["best_step"], "recycled_best_dev": result.best_accuracy,
        "recycled_steps_to_scratch_best": reached,
        "steps_saved": None if reached is None else scratch["best_step"] - reached,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _saved(steps: int) -> str:
    return f"{steps} steps saved" if steps >= 0 else f"{-steps} steps later than from scratch"


def table(results: list[dict]) -> list[str]:
    """One block per direction: the from-scratch curve once, then each recycled start."""
    steps = sorted({int(s) for r in results for curve in (r["scratch_curve"], r["recycled_curve"]) for s, _ in curve})
    lines = ["| direction | start | " + " | ".join(f"step {s}" for s in steps) + " | best | reaches scratch best at |",
             "| --- | --- |" + " --- |" * (len(steps) + 2)]
    directions = list(dict.fromkeys((r["source"], r["target"]) for r in results))
    for source, target in directions:
        runs = [r for r in results if (r["source"], r["target"]) == (source, target)]
        rows = [("class-label init (scratch)", runs[0]["scratch_curve"], runs[0]["scratch_best_dev"],
                 f"step {runs[0]['scratch_best_step']}")]
        rows += [(f"recycled ({r['method']})", r["recycled_curve"], r["recycled_best_dev"],
                  "not within the run" if r["recycled_steps_to_scratch_best"] is None else
                  f"step {r['recycled_steps_to_scratch_best']} ({_saved(r['steps_saved'])})") for r in runs]
        for label, curve, best, reach in rows:
            by_step = {int(s): a for s, a in curve}
            cells = [f"{100 * by_step[s]:.1f}" if s in by_step else "-" for s in steps]
            lines.append(f"| {source} → {target} | {label} | " + " | ".join(cells) + f" | {100 * best:.1f} | {reach} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directions", nargs="+", default=["smollm2-135m:gemma3-270m", "gemma3-270m:smollm2-135m"])
    parser.add_argument("--method", help="recycler to start from (default: the best data-free one per direction)")
    parser.add_argument("--steps", type=int, help="tuning steps from the recycled start (default: the recipe's 100)")
    parser.add_argument("--table-only", action="store_true", help="rewrite the docs section from the saved JSON")
    args = parser.parse_args()
    out = RESULTS / "head_start.json"
    results = json.loads(out.read_text()) if out.exists() else []
    if args.table_only:
        write_head_start_section(results)
        return
    for direction in args.directions:  # saved after each direction, so a stopped run keeps what finished
        result = run_direction(*direction.split(":"), args.method, args.steps)
        result["command"] = shlex.join(["python", "bench/head_start.py", *sys.argv[1:]])
        key = (result["source"], result["target"], result["method"])  # a new run replaces the same start's old one
        results = [r for r in results if (r["source"], r["target"], r["method"]) != key] + [result]
        save_json(out.name, results)
        write_head_start_section(results)


def write_head_start_section(results: list[dict]) -> None:
    commands = ", ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", "python bench/head_start.py")
                                                          for r in results))
    write_section("Head start", [
        f"Commands: {commands}", "", machine_line(), "",
        "Dev accuracy (%, 200 dev examples) while tuning on the target with the shipped prompts' recipe "
        "(Adam lr 0.3, batch 16, seed 0), from the seed-0 source prompt recycled with each method. The scratch "
        "curve is the target's shipped seed-0 record (class-label init, same recipe). Steps saved: the scratch run's "
        "best step minus the first evaluated step at which the recycled start reaches that accuracy.", "",
        *table(results),
    ])


if __name__ == "__main__":
    main()
