"""Recycling quality on the real pair, both directions: every recycler on every shipped source prompt.

    python bench/recycling_quality.py [--eval-size 300] [--shots 32] [--directions smollm2-135m:gemma3-270m ...]

For each direction the target model is loaded once and, on the first ``--eval-size`` test examples:
- the baselines (no prompt, random vocabulary prompt over 3 seeds, class-label prompt), 20 rows like the prompts;
- the bound: every prompt shipped for the *target* model (tuned there from scratch with the same recipe), mean;
- every recycler on every prompt shipped for the source model (data-free mode);
- every recycler again with the other row-length rule (still data-free): ``--norm target`` (rows rescaled to the
  target vocabulary's mean norm) as "METHOD · target norm" for those that keep or carry the mapped length, and
  ``--norm keep`` as "METHOD · kept norm" for those that rescale by default (ridge, procrustes);
- few-shot mode, reported apart: with ``--shots`` labelled train examples of the target, pick among those recycled
  prompts, and separately calibrate the label bias of the pick and of every baseline on the same examples.
A recycled prompt succeeds when it beats the best baseline; "gap closed" is (recycled - best baseline) / (bound -
best baseline). Writes bench/results/recycling_quality.json and the "Recycling quality" section of
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import Any

import torch
from common import NORM_VARIANTS, RESULTS, base_label, machine_line, other_norm, save_json, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.evaluation.baselines import RANDOM_SEEDS, class_label_prompt, random_prompt
from recycler_gui.core.evaluation.few_shot import few_shot_examples, label_bias, pick_by_few_shot
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import read_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.transfer.recyclers import RECYCLERS
from recycler_gui.core.transfer.recycling import recycle

PROMPT_LENGTH = 20


def accuracy(scores: torch.Tensor, gold: torch.Tensor, bias: torch.Tensor | None = None) -> float:
    adjusted = scores if bias is None else scores - bias
    return float((adjusted.argmax(1) == gold).float().mean())


def run_direction(
    source_name: str, target_name: str, eval_size: int, shots: int, methods: list[str], norm_variants: bool
) -> dict:
    started = time.perf_counter()
    source, target = open_checkpoint(source_name), open_checkpoint(target_name)
    task = movie_reviews()
    prompts = shipped_prompts(source_name)
    bounds = [p for p in shipped_prompts(target_name) if not p.record.get("max_norm")]  # plain prompts only
    recycled: dict[str, dict[str, Any]] = {}
    fit_seconds: dict[str, float] = {}
    for shipped in prompts:
        prompt = read_prompt(shipped.path)
        result = recycle(source, target, prompt, methods, seed=0)
        recycled[shipped.name] = {item.method: item.prompt.encoder for item in result.recycled}
        for item in result.recycled:
            if not item.cached:
                fit_seconds[item.method] = round(item.fit_seconds, 2)
            if norm_variants:  # the same fitted map with the other row-length rule
                norm = other_norm(item.recycler.params["norm"])
                variant = type(item.recycler)(seed=0, **{**item.recycler.params, "norm": norm})
                variant.take_fit(item.recycler)
                recycled[shipped.name][item.method + NORM_VARIANTS[norm]] = variant(prompt.encoder)
        print(f"recycled {shipped.name} with {len(recycled[shipped.name])} methods", flush=True)

    model = target.load_model("cpu", "float32")
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=32)
    table = scorer.embed.weight.detach().float() * target.layout.scale
    test = task.test[:eval_size]
    texts, gold = [task.render(e.text) for e in test], torch.tensor([e.label for e in test])
    k_examples = few_shot_examples(task, shots, seed=0)
    k_texts = [task.render(e.text) for e in k_examples]

    def both(rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        return scorer.score(texts, rows), scorer.score(k_texts, rows)

    baselines: dict[str, dict[str, Any]] = {}
    baseline_rows: dict[str, list[torch.Tensor | None]] = {
        "no-prompt": [None],
        "random": [random_prompt(table, PROMPT_LENGTH, seed).encoder for seed in range(RANDOM_SEEDS)],
        "class-label": [class_label_prompt(table, scorer.tokenizer, task.label_words, PROMPT_LENGTH, 0).encoder],
    }
    for name, variants in baseline_rows.items():
        plain, calibrated = [], []
        for rows in variants:
            test_scores, k_scores = both(rows)
            plain.append(accuracy(test_scores, gold))
            calibrated.append(accuracy(test_scores, gold, label_bias(k_scores)))
        baselines[name] = {"accuracy": sum(plain) / len(plain), "runs": plain,
                           "calibrated_accuracy": sum(calibrated) / len(calibrated)}
        print(f"baseline {name}: {baselines[name]['accuracy']:.3f}", flush=True)
    bound_rows = {b.name: scorer.score(texts, read_prompt(b.path).encoder) for b in bounds}
    bound = {name: accuracy(scores, gold) for name, scores in bound_rows.items()}
    print(f"bound: {bound}", flush=True)
    bound_mean = sum(bound.values()) / len(bound) if bound else None
    best_baseline = max(b["accuracy"] for b in baselines.values())
    best_calibrated = max(b["calibrated_accuracy"] for b in baselines.values())

    per_prompt: dict[str, dict[str, Any]] = {}
    for prompt_name, by_method in recycled.items():
        rows_out: dict[str, Any] = {}
        test_scores: dict[str, torch.Tensor] = {}
        for method, rows in by_method.items():
            test_scores[method] = scorer.score(texts, rows)
            rows_out[method] = {"accuracy": accuracy(test_scores[method], gold),
                                "mean_row_norm": float(rows.norm(dim=1).mean())}
            print(f"{prompt_name} {method}: {rows_out[method]['accuracy']:.3f}", flush=True)
        pick = pick_by_few_shot(scorer, task, dict(by_method), k_examples)
        pick_test = test_scores.get(pick.name)
        if pick_test is None:
            pick_test = scorer.score(texts, pick.rows)
        rows_out["few-shot pick"] = {
            "picked": pick.name, "k_accuracy": pick.accuracy, "accuracy": accuracy(pick_test, gold),
            "calibrated_accuracy": accuracy(pick_test, gold, label_bias(pick.scores)),
        }
        per_prompt[prompt_name] = rows_out
        print(f"{prompt_name} few-shot pick {pick.name}: {rows_out['few-shot pick']['accuracy']:.3f}", flush=True)

    for rows_out in per_prompt.values():
        for name, row in rows_out.items():
            reference = best_calibrated if name == "few-shot pick" else best_baseline
            value = row.get("calibrated_accuracy", row["accuracy"]) if name == "few-shot pick" else row["accuracy"]
            row["success"] = value > reference
            gap = None if bound_mean is None else bound_mean - reference
            row["gap_closed"] = (value - reference) / gap if gap and gap > 0 else None
    return {
        "source": source_name, "target": target_name, "eval_size": len(test), "shots": shots,
        "baselines": baselines, "best_baseline": best_baseline, "best_calibrated_baseline": best_calibrated,
        "bound": bound, "bound_mean": bound_mean, "prompts": per_prompt, "fit_seconds": fit_seconds,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def direction_table(result: dict) -> list[str]:
    prompts = list(result["prompts"])
    short = [name.replace(f"{result['source']}-movie-reviews-", "") for name in prompts]
    lines = [
        f"### {result['source']} → {result['target']}",
        "",
        f"Test accuracy (%) on {result['target']}, first {result['eval_size']} test examples. Best baseline "
        f"{_pct(result['best_baseline'])}; bound (prompts tuned on {result['target']}, mean of "
        f"{len(result['bound'])}) {_pct(result['bound_mean'])}. ✓ beats the best baseline; (x%) share of the "
        "baseline-to-bound gap closed.",
        "",
        "| method | " + " | ".join(short) + " | successes | mean gap closed |",
        "| --- |" + " --- |" * (len(prompts) + 2),
    ]
    for name, base in result["baselines"].items():
        lines.append(f"| baseline: {name} | " + " | ".join(_pct(base["accuracy"]) for _ in prompts) + " | | |")
    labels = list(next(iter(result["prompts"].values())))
    base = [label for label in labels if base_label(label) == label]  # each variant right below its recycler
    methods = sorted(labels, key=lambda label: (base.index(base_label(label)), label not in base))
    for method in methods:
        cells, wins, gaps = [], 0, []
        for prompt in prompts:
            row = result["prompts"][prompt][method]
            value = row.get("calibrated_accuracy", row["accuracy"]) if method == "few-shot pick" else row["accuracy"]
            mark = " ✓" if row["success"] else ""
            gap = f" ({100 * row['gap_closed']:.0f}%)" if row.get("gap_closed") is not None else ""
            cells.append(f"{_pct(value)}{mark}{gap}")
            if "recyclable" in prompt:  # a --max-norm prompt: shown, but not counted with the plain ones
                continue
            wins += bool(row["success"])
            if row.get("gap_closed") is not None:
                gaps.append(row["gap_closed"])
        label = (f"few-shot ({result['shots']} shots): pick + calibration" if method == "few-shot pick" else method)
        mean_gap = f"{100 * sum(gaps) / len(gaps):.0f}%" if gaps else "-"
        plain = sum("recyclable" not in p for p in prompts)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {wins}/{plain} | {mean_gap} |")
    picks = ", ".join(f"{short[i]}: {result['prompts'][p]['few-shot pick']['picked']} "
                      f"(uncalibrated {_pct(result['prompts'][p]['few-shot pick']['accuracy'])})"
                      for i, p in enumerate(prompts))
    calibrated = ", ".join(f"{n} {_pct(b['calibrated_accuracy'])}" for n, b in result["baselines"].items())
    lines += ["", f"Few-shot mode (uses {result['shots']} labelled target examples; compared with the baselines "
              f"calibrated on the same examples: {calibrated}). Picks: {picks}.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-size", type=int, default=300)
    parser.add_argument("--shots", type=int, default=32)
    parser.add_argument("--directions", nargs="+", default=["smollm2-135m:gemma3-270m", "gemma3-270m:smollm2-135m"])
    parser.add_argument("--methods", nargs="+", default=list(RECYCLERS))
    parser.add_argument("--no-norm-variants", dest="norm_variants", action="store_false",
                        help="skip the rows of each recycler run with its other row-length rule")
    parser.add_argument("--table-only", action="store_true", help="rewrite the docs section from the saved JSON")
    args = parser.parse_args()
    out = RESULTS / "recycling_quality.json"
    results = json.loads(out.read_text()) if out.exists() else []
    if not args.table_only:
        for direction in args.directions:  # each direction replaces its earlier result and is saved at once
            result = run_direction(*direction.split(":"), args.eval_size, args.shots, args.methods,
                                   args.norm_variants)
            result["command"] = shlex.join(["python", "bench/recycling_quality.py", *sys.argv[1:]])
            results = [r for r in results if (r["source"], r["target"]) != (result["source"], result["target"])]
            results.append(result)
            save_json(out.name, results)
            write_quality_section(results)
    write_quality_section(results)


def write_quality_section(results: list[dict]) -> None:
    body = [machine_line(), "",
            "Successes and mean gap closed count the plain shipped prompts; a `recyclable` column is a prompt tuned "
            "with `--max-norm` (issue 8), shown for comparison.", ""]
    for result in results:
        body += [f"Command: `{result.get('command', 'python bench/recycling_quality.py')}`", ""]
        if result.get("relabelled"):
            body += [f"Note: {result['relabelled']}.", ""]
        body += direction_table(result)
    write_section("Recycling quality", body)


if __name__ == "__main__":
    main()
