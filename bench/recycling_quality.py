"""Recycling quality on the real pair, both directions: every recycler, the few-shot mode and teaching, per prompt.

    python bench/recycling_quality.py [--eval-size 1000] [--shots 32] [--teach-steps 60 | --no-teach]
        [--directions smollm2-135m:gemma3-270m gemma3-270m:smollm2-135m] [--methods NAME ...] [--threads N]
        [--table-only]

Order (what a stopped run has first): the baselines; then, per source prompt, the recommended recycler's row and the
taught prompt; then every other recycler (``--methods`` limits this pass) and the few-shot pick (once every recycler
of a prompt is scored); then the bound's rows. Until the bound is scored, gap closed uses the test accuracy its
prompts' records hold (the same 1000 test examples).

For each direction, on the first ``--eval-size`` test examples of the target (1000: the whole test split):
- the baselines (no prompt, random vocabulary prompt: mean of 3 seeds, class-label prompt);
- the bound: every plain prompt shipped for the *target* (tuned there from scratch), mean;
- for every plain prompt shipped for the source: every data-free recycler with its default row-length rule; the
  few-shot pick (``--shots`` labelled train examples of the target pick among that prompt's recycled rows; reported
  apart); and the taught prompt (the source model with the prompt teaches a target prompt on texts it writes
  itself, started from the recommended recycler's prompt; no labels; the shipped defaults of ``teach``).
Every row records accuracy, AUC, calibrated accuracy (the label bias on content-free inputs divided out, no data) and
its per-example predictions. A transferred row succeeds strictly when it beats the best baseline (the paper's
criterion) and significantly when an exact McNemar test on the same examples says so at 95%; gap closed is
(row - best baseline) / (bound - best baseline). Resumable: each direction's state lives in
bench/results/quality/SOURCE__TARGET.json and is saved after every row (and after the teacher's answers), so a
stopped run goes on where it stopped; taught prompts are kept in bench/results/quality/taught/. Writes the
"Recycling quality" section of docs/BENCHMARKS.md.
Cut for time: each recycler runs with its default row-length rule only (earlier runs of this bench measured the
other rule, see docs/RECYCLERS.md).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import RESULTS, machine_line, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.data.unlabelled import WritingSettings, written_texts
from recycler_gui.core.evaluation.baselines import RANDOM_SEEDS, class_label_prompt, random_prompt
from recycler_gui.core.evaluation.calibration import calibrate, content_free_bias
from recycler_gui.core.evaluation.few_shot import few_shot_examples, label_bias, pick_by_few_shot
from recycler_gui.core.evaluation.scoring import Scorer, classification_metrics
from recycler_gui.core.evaluation.significance import paired_test
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import read_prompt, write_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.storage import write_text_atomic
from recycler_gui.core.training.teaching import TeachingSettings, teach, teacher_distribution
from recycler_gui.core.transfer.recyclers import RECOMMENDED, RECYCLERS
from recycler_gui.core.transfer.recycling import recycle

PROMPT_LENGTH = 20
STATE = RESULTS / "quality"
FEW_SHOT, TAUGHT = "few-shot pick", "taught"


def taught_file(source: str, target: str, prompt: str) -> Path:
    """Where the prompt taught from source prompt ``prompt`` is kept (for bench/head_start.py)."""
    return STATE / "taught" / f"{source}__{target}" / f"{prompt}.safetensors"


def plain(model: str) -> list:
    """The plain prompts shipped for ``model`` (not the ``--max-norm`` ones), by seed."""
    return [p for p in shipped_prompts(model) if not p.record.get("max_norm")]


def measured(scorer: Scorer, task: Any, texts: list[str], gold: torch.Tensor, rows: torch.Tensor | None) -> dict:
    scores = scorer.score(texts, rows)
    metrics = classification_metrics(scores, gold)
    calibrated = calibrate(scores, content_free_bias(scorer, task, rows)).argmax(1)
    return {"accuracy": metrics.accuracy, "auc": metrics.auc,
            "calibrated_accuracy": float((calibrated == gold).float().mean()),
            "predictions": scores.argmax(1).tolist(), "calibrated_predictions": calibrated.tolist(), "scores": scores}


def kept(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "scores"}


def run_direction(source_name: str, target_name: str, args: argparse.Namespace, command: str) -> dict:
    file = STATE / f"{source_name}__{target_name}.json"
    state = json.loads(file.read_text()) if file.exists() else {}
    if state.get("eval_size") != args.eval_size:
        state = {"eval_size": args.eval_size, "baselines": {}, "bound": {}, "prompts": {}, "teacher": {}}
    if "calibrated_predictions" not in state["baselines"].get("no-prompt", {"calibrated_predictions": 0}):
        del state["baselines"]["no-prompt"]  # measured before its calibrated predictions were kept
    state.update(source=source_name, target=target_name, shots=args.shots, command=command,
                 teach_steps=None if args.no_teach else args.teach_steps)

    def save() -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(file, json.dumps(state) + "\n")

    started = time.perf_counter()
    source, target = open_checkpoint(source_name), open_checkpoint(target_name)
    task = movie_reviews()
    prompts = {p.name: p for p in plain(source_name)}
    recycled = {}
    methods = list(dict.fromkeys([RECOMMENDED, *args.methods]))  # teaching starts from the recommended one
    for name, shipped in prompts.items():
        result = recycle(source, target, read_prompt(shipped.path), methods, seed=0)
        recycled[name] = {item.method: item.prompt for item in result.recycled}
    teaching = TeachingSettings(steps=args.teach_steps)

    # source phase: the teacher's answers for every prompt still to teach (kept in the state: resumable)
    to_teach = [] if args.no_teach else [n for n in prompts if TAUGHT not in state["prompts"].get(n, {})
                                          and n not in state["teacher"]]
    if to_teach:
        model = source.load_model("cpu")
        texts = written_texts(source, model, task, WritingSettings())
        scorer = Scorer(model, source.tokenizer(), source.family, task.label_words, batch_size=32)
        for name in to_teach:
            teacher = teacher_distribution(scorer, task, texts, read_prompt(prompts[name].path).encoder)
            state["teacher"][name] = {"texts": texts, "distribution": teacher.tolist()}
            save()
            print(f"teacher {name}: {float((teacher.argmax(1) == 1).float().mean()):.2f} positive", flush=True)
        del model, scorer

    # target phase
    model = target.load_model("cpu")
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=32)
    table = scorer.embed.weight.detach().float() * target.layout.scale
    texts, gold = task.texts_and_labels("test", args.eval_size)
    state["gold"] = gold.tolist()
    shots = few_shot_examples(task, args.shots, seed=0)

    def row(rows: torch.Tensor | None) -> dict:
        return measured(scorer, task, texts, gold, rows)

    baselines = {
        "no-prompt": [None],
        "random": [random_prompt(table, PROMPT_LENGTH, seed).encoder for seed in range(RANDOM_SEEDS)],
        "class-label": [class_label_prompt(table, scorer.tokenizer, task.label_words, PROMPT_LENGTH, 0).encoder],
    }
    for name, variants in baselines.items():
        if name in state["baselines"]:
            continue
        runs = [row(rows) for rows in variants]
        mean = {key: sum(r[key] for r in runs) / len(runs) for key in ("accuracy", "auc", "calibrated_accuracy")}
        state["baselines"][name] = {**mean, "predictions": runs[0]["predictions"],
                                    "calibrated_predictions": runs[0]["calibrated_predictions"],
                                    "runs": [r["accuracy"] for r in runs]}
        save()
        print(f"baseline {name}: {mean['accuracy']:.3f}", flush=True)
    state["bound_records"] = {bound.name: bound.record["test_accuracy"] for bound in plain(target_name)}
    scored: dict[tuple[str, str], torch.Tensor] = {}  # this process's scores, so the few-shot pick is not scored twice

    def recycled_row(name: str, method: str) -> None:
        done = state["prompts"].setdefault(name, {})
        if method not in done:
            prompt = recycled[name][method]
            measured_row = row(prompt.encoder)
            scored[(name, method)] = measured_row["scores"]
            done[method] = {**kept(measured_row), "mean_row_norm": float(prompt.encoder.norm(dim=1).mean())}
            save()
            print(f"{name} {method}: {done[method]['accuracy']:.3f}", flush=True)

    for name in recycled:  # first pass: the recommended recycler and the prompt taught from it
        recycled_row(name, RECOMMENDED)
        done = state["prompts"][name]
        if not args.no_teach and TAUGHT not in done:
            answers = state["teacher"][name]
            taught_started = time.perf_counter()
            result = teach(scorer, task, answers["texts"], torch.tensor(answers["distribution"]),
                           recycled[name][RECOMMENDED], teaching)
            seconds = time.perf_counter() - taught_started
            training = result.training
            write_prompt(result.prompt, taught_file(source_name, target_name, name), "safetensors")
            done[TAUGHT] = {**kept(row(result.prompt.encoder)), "best_step": training.best_step,
                            "agreement": training.best_value, "curve": training.curve,
                            "teach_seconds": round(seconds, 1)}
            save()
            print(f"{name} taught: {done[TAUGHT]['accuracy']:.3f} (agreement {training.best_value:.3f}, "
                  f"step {training.best_step}, {seconds:.0f} s)", flush=True)

    for name, by_method in recycled.items():  # second pass: every other recycler, then the few-shot pick
        for method in args.methods:
            recycled_row(name, method)
        done = state["prompts"][name]
        if FEW_SHOT not in done and all(method in done for method in RECYCLERS):
            candidates = {method: prompt.encoder for method, prompt in by_method.items() if method in RECYCLERS}
            pick = pick_by_few_shot(scorer, task, candidates, shots)
            pick_scores = scored.get((name, pick.name))
            if pick_scores is None:
                pick_scores = scorer.score(texts, by_method[pick.name].encoder)
            done[FEW_SHOT] = {**done[pick.name], "picked": pick.name, "shot_accuracy": pick.accuracy,
                              "shot_calibrated_accuracy": float(((pick_scores - label_bias(pick.scores)).argmax(1)
                                                                 == gold).float().mean())}
            save()
            print(f"{name} few-shot pick {pick.name}", flush=True)

    for bound in plain(target_name):
        if bound.name not in state["bound"]:
            state["bound"][bound.name] = kept(row(read_prompt(bound.path).encoder))
            save()
            print(f"bound {bound.name}: {state['bound'][bound.name]['accuracy']:.3f}", flush=True)
    state["seconds"] = round(state.get("seconds", 0) + time.perf_counter() - started, 1)
    save()
    return state


# ------------------------------------------------------------------------------------------------------------ tables


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def bound_accuracy(state: dict) -> tuple[float | None, str]:
    """The bound's mean accuracy and where it comes from: its scored rows, else its prompts' records."""
    scored = [b["accuracy"] for b in state["bound"].values()]
    if scored:
        return sum(scored) / len(scored), f"mean of {len(scored)} scored here"
    records = list(state.get("bound_records", {}).values())
    if records:
        return sum(records) / len(records), f"mean of {len(records)}, from their records"
    return None, "not measured"


def derived(state: dict) -> dict[str, dict[str, dict]]:
    """Per prompt and row: strict success, significant success and gap closed against the best baseline; whether it
    beats the calibrated no-prompt baseline significantly."""
    best_name = max(state["baselines"], key=lambda name: state["baselines"][name]["accuracy"])
    best = state["baselines"][best_name]
    calibrated_none = state["baselines"]["no-prompt"]["calibrated_predictions"]
    bound_mean, _ = bound_accuracy(state)
    out: dict[str, dict[str, dict]] = {}
    for prompt, rows in state["prompts"].items():
        for name, row in rows.items():
            gap = None if bound_mean is None else bound_mean - best["accuracy"]
            out.setdefault(prompt, {})[name] = {
                **row, "strict": row["accuracy"] > best["accuracy"],
                "significant": paired_test(row["predictions"], best["predictions"], state["gold"]).significant(),
                "beats_calibrated": paired_test(row["predictions"], calibrated_none, state["gold"]).significant()
                and row["accuracy"] > state["baselines"]["no-prompt"]["calibrated_accuracy"],
                "gap_closed": (row["accuracy"] - best["accuracy"]) / gap if gap and gap > 0 else None,
            }
    return out


def direction_table(state: dict) -> list[str]:
    rows = derived(state)
    prompts = list(rows)
    short = [p.removeprefix(f"{state['source']}-movie-reviews-") for p in prompts]
    best_name = max(state["baselines"], key=lambda name: state["baselines"][name]["accuracy"])
    bound = [b["accuracy"] for b in state["bound"].values()]
    bound_mean, bound_origin = bound_accuracy(state)
    no_prompt_calibrated = state["baselines"]["no-prompt"]["calibrated_accuracy"]
    lines = [
        f"### {state['source']} → {state['target']}",
        "",
        f"{len(state['gold'])} test examples of {state['target']}; {len(prompts)} source prompts. Best baseline: "
        f"{best_name} {_pct(state['baselines'][best_name]['accuracy'])}; calibrated no-prompt "
        f"{_pct(no_prompt_calibrated)}; bound (prompts tuned on {state['target']}, {bound_origin}) "
        f"{_pct(bound_mean)}. Means over the source prompts; strict: beats the best baseline; significant: and an "
        "exact McNemar test on the same examples says so at 95%; > calibrated: beats the calibrated no-prompt "
        "baseline's predictions, significantly.",
        "",
        "| row | accuracy % | AUC | calibrated % | strict | significant | > calibrated | gap closed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, base in state["baselines"].items():
        lines.append(f"| baseline: {name} | {_pct(base['accuracy'])} | {base['auc']:.3f} | "
                     f"{_pct(base['calibrated_accuracy'])} | | | | |")
    if bound:
        aucs = [b["auc"] for b in state["bound"].values()]
        calibrated = [b["calibrated_accuracy"] for b in state["bound"].values()]
        lines.append(f"| bound: tuned on the target | {_pct(bound_mean)} | {sum(aucs) / len(aucs):.3f} | "
                     f"{_pct(sum(calibrated) / len(calibrated))} | | | | |")
    names = list(dict.fromkeys(name for by_row in rows.values() for name in by_row))
    for name in names:
        cells = [rows[p][name] for p in prompts if name in rows[p]]
        gaps = [c["gap_closed"] for c in cells if c["gap_closed"] is not None]
        label = {FEW_SHOT: f"few-shot ({state['shots']} labelled shots) pick", TAUGHT: "taught (no labels)"}.get(
            name, name)
        lines.append(
            f"| {label} | {_pct(_mean(c['accuracy'] for c in cells))} | {_mean(c['auc'] for c in cells):.3f} | "
            f"{_pct(_mean(c['calibrated_accuracy'] for c in cells))} | {sum(c['strict'] for c in cells)}/{len(cells)}"
            f" | {sum(c['significant'] for c in cells)}/{len(cells)} | "
            f"{sum(c['beats_calibrated'] for c in cells)}/{len(cells)} | "
            f"{'-' if not gaps else f'{100 * _mean(gaps):.0f}%'} |")
    lines += ["", "Per prompt: accuracy % (✓ strict, ★ significant; gap closed).", "",
              "| row | " + " | ".join(short) + " |", "| --- |" + " --- |" * len(prompts)]
    for name in names:
        cells = []
        for prompt in prompts:
            cell = rows[prompt].get(name)
            if cell is None:
                cells.append("-")
                continue
            mark = " ★" if cell["significant"] else " ✓" if cell["strict"] else ""
            gap = "" if cell["gap_closed"] is None else f" ({100 * cell['gap_closed']:.0f}%)"
            cells.append(f"{_pct(cell['accuracy'])}{mark}{gap}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    taught = [(short[i], rows[p][TAUGHT]) for i, p in enumerate(prompts) if TAUGHT in rows[p]]
    if taught:
        lines += ["", f"Teaching (agreement with the teacher on held-out written texts; calibrated no-prompt "
                      f"{_pct(no_prompt_calibrated)}): " + "; ".join(
            f"{name} agreement {100 * t['agreement']:.1f}% at step {t['best_step']}, accuracy {_pct(t['accuracy'])} "
            f"({'above' if t['beats_calibrated'] else 'not significantly above'} calibrated no-prompt), "
            f"{t['teach_seconds']:.0f} s" for name, t in taught) + "."]
    picks = [f"{short[i]}: {rows[p][FEW_SHOT]['picked']}" for i, p in enumerate(prompts) if FEW_SHOT in rows[p]]
    if picks:
        lines += ["", f"Few-shot picks (uses {state['shots']} labelled target examples): {', '.join(picks)}."]
    return [*lines, ""]


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def write_quality_section() -> None:
    states = [json.loads(path.read_text()) for path in sorted(STATE.glob("*.json"))]
    body = [machine_line(), "",
            "Cut for time: each recycler with its default row-length rule only; random baseline: its first seed's "
            "predictions for the paired test (its accuracy is the mean of 3 seeds).", ""]
    for state in states:
        body += [f"Command: `{state['command']}`", "", *direction_table(state)]
    write_section("Recycling quality", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-size", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=32)
    parser.add_argument("--teach-steps", type=int, default=TeachingSettings().steps)
    parser.add_argument("--no-teach", action="store_true")
    parser.add_argument("--directions", nargs="+", default=["smollm2-135m:gemma3-270m", "gemma3-270m:smollm2-135m"])
    parser.add_argument("--methods", nargs="+", default=list(RECYCLERS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--table-only", action="store_true", help="rewrite the docs section from the saved state")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.table_only:
        command = shlex.join(["python", "bench/recycling_quality.py", *sys.argv[1:]])
        for direction in args.directions:
            run_direction(*direction.split(":"), args, command)
            write_quality_section()
    write_quality_section()


if __name__ == "__main__":
    main()
