"""Scoring throughput: the fast rank-classification scorer against the slow reference, on real models, one process.

    python bench/scoring_throughput.py --model smollm2-135m=PATH --model gemma3-270m=PATH [--examples 1000]

PATH is a model folder or .gguf file. For each model: zero-shot accuracy on the first ``--examples`` movie-review test
examples with the fast scorer (batch 32, length-sorted, one forward per batch, ``logits_to_keep=1``); then the fast
scorer and the slow reference (one forward per example and label, full logits) timed on the same
``--reference-examples`` examples, and their largest score difference. Writes ``bench/results/scoring.json`` and the
"Scoring throughput" section of ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import common
import torch
import transformers

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.evaluation.scoring import Scorer, classification_metrics
from recycler_gui.core.models.checkpoints import open_checkpoint


def measure(name: str, path: str, examples: int, reference_examples: int, batch_size: int) -> dict:
    checkpoint = open_checkpoint(path)
    started = time.perf_counter()
    model = checkpoint.load_model("cpu", "float32")
    load_seconds = time.perf_counter() - started
    task = movie_reviews()
    scorer = Scorer(model, checkpoint.tokenizer(), checkpoint.family, task.label_words, batch_size=batch_size)
    test = task.test[:examples]
    texts = [task.render(e.text) for e in test]
    gold = torch.tensor([e.label for e in test])

    started = time.perf_counter()
    scores = scorer.score(texts)
    fast_seconds = time.perf_counter() - started
    metrics = classification_metrics(scores, gold)

    subset = texts[:reference_examples]
    started = time.perf_counter()
    fast_subset = scorer.score(subset)
    fast_subset_seconds = time.perf_counter() - started
    started = time.perf_counter()
    slow_subset = scorer.reference_scores(subset)
    slow_seconds = time.perf_counter() - started
    return {
        "model": name,
        "path": path,
        "load_seconds": round(load_seconds, 2),
        "examples": len(texts),
        "zero_shot_accuracy": round(metrics.accuracy, 4),
        "zero_shot_macro_f1": round(metrics.macro_f1, 4),
        "predicted_positive_share": round(float(scores.argmax(1).float().mean()), 4),
        "fast_examples_per_second": round(len(texts) / fast_seconds, 2),
        "reference_examples": len(subset),
        "fast_subset_examples_per_second": round(len(subset) / fast_subset_seconds, 2),
        "reference_examples_per_second": round(len(subset) / slow_seconds, 2),
        "speedup_same_subset": round(slow_seconds / fast_subset_seconds, 2),
        "throughput_ratio": round(len(texts) / fast_seconds / (len(subset) / slow_seconds), 2),
        "max_abs_score_difference": float((fast_subset - slow_subset).abs().max()),
    }


def write_table(results: list[dict], command: str) -> None:
    lines = [
        "## Scoring throughput",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; torch "
        f"{torch.__version__}, transformers {transformers.__version__}, float32 on CPU.",
        "",
        "| model | zero-shot accuracy (test) | predicts positive | fast ex/s | reference ex/s | throughput ratio "
        "| speed-up on the same subset | max score difference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {100 * r['zero_shot_accuracy']:.1f}% ({r['examples']} examples) | "
            f"{100 * r['predicted_positive_share']:.0f}% | {r['fast_examples_per_second']} | "
            f"{r['reference_examples_per_second']} ({r['reference_examples']} examples) | {r['throughput_ratio']}x | "
            f"{r['speedup_same_subset']}x | "
            f"{r['max_abs_score_difference']:.1e} |"
        )
    common.write_section("Scoring throughput", lines[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--reference-examples", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    results = []
    for spec in args.model:
        name, _, path = spec.partition("=")
        results.append(measure(name, path, args.examples, args.reference_examples, args.batch_size))
        print(json.dumps(results[-1]), flush=True)
    common.save_json("scoring.json", results)
    write_table(results, "python " + " ".join(sys.argv))


if __name__ == "__main__":
    main()
