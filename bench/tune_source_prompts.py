"""Tune the source prompts shipped in resources/prompts/ with our own `prompt-recycler tune`, one folder per seed.

    python bench/tune_source_prompts.py [--models smollm2-135m gemma3-270m] [--seeds 0 1 2] [--steps 100]

Each prompt is a PEFT prompt-tuning adapter folder ``resources/prompts/MODEL-movie-reviews-seedN/`` with a
``record.json`` beside the weights: the exact command, seed, steps, dev curve, dev and test accuracy, wall time and
versions. Class-label init, 20 virtual tokens, Adam lr 0.3, batch 16, dev of 200 examples every 25 steps (best kept),
test on the full 1000-example test split. Writes the "Shipped source prompts" section of docs/BENCHMARKS.md.
Needs the models: `prompt-recycler models fetch smollm2-135m gemma3-270m`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine_line, write_section

PROMPTS = ROOT / "resources" / "prompts"


def tune_one(model: str, seed: int, steps: int, prompt_length: int, max_norm: float | None, test_size: int) -> dict:
    name = f"{model}-movie-reviews-{'recyclable-' if max_norm else ''}seed{seed}"
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / name
        command = ["prompt-recycler", "tune", "--model", model, "--seed", str(seed), "--steps", str(steps),
                   "--prompt-length", str(prompt_length), "--init", "class-label",
                   "--test-size", str(test_size), *(["--max-norm", str(max_norm)] if max_norm else []),
                   "--out", str(out), "--json"]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "recycler_gui.cli", *command[1:]], check=True,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
        record = json.loads(done.stdout)
        record.update(command=" ".join([*command[:-3], "--out", f"resources/prompts/{name}"]),
                      wall_seconds=round(time.perf_counter() - started, 1), machine=machine_line(),
                      output=f"resources/prompts/{name}")
        (out / "record.json").write_text(json.dumps(record, indent=2) + "\n")
        final = PROMPTS / name
        if final.exists():
            shutil.rmtree(final)
        PROMPTS.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out, final)
    print(f"{name}: dev {record['dev_accuracy']:.3f} test {record['test_accuracy']:.3f} "
          f"({record['wall_seconds']} s)", flush=True)
    return record


def write_table() -> None:
    rows = []
    for record_file in sorted(PROMPTS.glob("*/record.json")):
        r = json.loads(record_file.read_text())
        cap = f"{r['max_norm']}x" if r.get("max_norm") else "-"
        norm = f"{r['mean_row_norm'] / r['vocabulary_mean_norm']:.1f}x" if r.get("mean_row_norm") else "-"
        rows.append(f"| `{record_file.parent.name}` | {r['model']} | {r['seed']} | {r['steps']} | {cap} | {norm} | "
                    f"{r['best_step']} | {100 * r['dev_accuracy']:.1f}% | {100 * r['test_accuracy']:.1f}% | "
                    f"{r['wall_seconds']:.0f} s |")
    write_section("Shipped source prompts", [
        "Command: `python bench/tune_source_prompts.py` (each folder's `record.json` holds its exact command).",
        "",
        machine_line(),
        "",
        "Class-label init, 20 virtual tokens, Adam lr 0.3, batch 16, float32 (this CPU has no bfloat16); dev "
        "accuracy on 200 dev examples every 25 steps (best kept); test accuracy on the 1000-example test split "
        "(the recyclable prompt: 60 steps and the first 500 test examples, for time).",
        "",
        "`norm cap` is `tune --max-norm` (recyclable prompts, issue 8); `row norm` is the prompt's mean row norm "
        "over the model's mean vocabulary row norm. Wall times are as each record holds them, on a shared machine "
        "(seeds 3 and 4 were tuned single-threaded beside other jobs): they vary with its load; compare accuracies.",
        "",
        "| prompt | model | seed | steps | norm cap | row norm | best step | dev acc. | test acc. | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--prompt-length", type=int, default=20)
    parser.add_argument("--test-size", type=int, default=1000, help="test examples scored at the end")
    parser.add_argument("--max-norm", type=float, help="tune recyclable prompts (tune --max-norm RATIO)")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the docs table from the records")
    args = parser.parse_args()
    if not args.table_only:
        for seed in args.seeds:
            for model in args.models:
                tune_one(model, seed, args.steps, args.prompt_length, args.max_norm, args.test_size)
    write_table()


if __name__ == "__main__":
    main()
