"""The shared prefix against the full path, in one process on the demo pair: scoring, tuning, and the demo.

    python bench/shared_prefix.py [--models smollm2-135m gemma3-270m] [--examples 200] [--repeats 3]
                                  [--tune-steps 4] [--demo new|both|none] [--threads N]

For each model and device (the CPU, and a CUDA GPU when there is one), on one loaded model (float32), with the
model's shipped 20-row prompt:
- scoring: ``Scorer.score`` on the first ``--examples`` movie-review test sentences, full path
  (``shared_prefix=False``) and shared prefix alternately, ``--repeats`` times each (the order flips every repeat, so
  the machine's noise hits both); examples per second and their ratio; the largest score difference between the
  paths, and of the shared prefix against the slow reference on ``--reference-examples`` sentences;
- tuning: ``tune`` (batch 16, the app's settings: bf16 autocast where the device has it) with each scorer, alternately,
  ``--tune-steps`` steps per repeat; seconds per step from the progress events (the first step of each run, which
  follows the step-0 evaluation, is left out).
Then the default demo (``core/runs/demo.demo_job()``, the pipeline as ``prompt-recycler demo`` runs it) once with the
shared prefix (``--demo both``: also once with the full path), each as a first run: recyclers are fitted afresh in a
temporary cache that borrows the fetched models and data. Writes ``bench/results/shared_prefix.json`` and the
"Shared prefix" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import RESULTS, machine_line, save_json, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.events import Progress, Stage
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.runs.plan import DEV_PICK_STAGE
from recycler_gui.core.storage import cache_dir
from recycler_gui.core.training.tuning import TuningSettings, tune

PATHS = {"full": False, "shared": True}


def shipped_prompt(model: str) -> SoftPrompt:
    return read_prompt(next(p.path for p in shipped_prompts(model) if not p.record.get("max_norm")))


def alternating(repeats: int) -> list[str]:
    """full, shared, shared, full, full, shared, …: each path goes first in half the repeats."""
    order = []
    for repeat in range(repeats):
        order += ["full", "shared"] if repeat % 2 == 0 else ["shared", "full"]
    return order


def scoring(scorers: dict[str, Scorer], texts: list[str], prompt: torch.Tensor, repeats: int,
            reference_examples: int) -> dict:
    seconds = dict.fromkeys(PATHS, 0.0)
    scores = {}
    for path in alternating(repeats):
        started = time.perf_counter()
        scores[path] = scorers[path].score(texts, prompt)
        seconds[path] += time.perf_counter() - started
    reference = scorers["shared"].reference_scores(texts[:reference_examples], prompt)
    rate = {path: round(repeats * len(texts) / seconds[path], 2) for path in PATHS}
    return {
        "examples": len(texts), "repeats": repeats, "examples_per_second": rate,
        "ratio": round(rate["shared"] / rate["full"], 2),
        "max_difference_between_paths": float((scores["shared"] - scores["full"]).abs().max()),
        "reference_examples": len(reference),
        "max_difference_to_reference": float((scores["shared"][: len(reference)] - reference).abs().max()),
    }


def tuning(scorers: dict[str, Scorer], start: SoftPrompt, steps: int, repeats: int) -> dict:
    task = movie_reviews()
    settings = TuningSettings(steps=steps, batch_size=16, eval_every=10**6, eval_size=1, seed=0)
    step_seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    for path in alternating(repeats):
        stamps: list[float] = []

        def note(event: object, stamps: list[float] = stamps) -> None:
            if isinstance(event, Progress):
                stamps.append(time.perf_counter())

        tune(scorers[path], task, start, settings, events=note)
        step_seconds[path] += [after - before for before, after in itertools.pairwise(stamps)]
    mean = {path: round(sum(values) / len(values), 3) for path, values in step_seconds.items()}
    return {"steps_timed": len(step_seconds["full"]), "seconds_per_step": mean,
            "ratio": round(mean["full"] / mean["shared"], 2)}


def measure_model(name: str, device: str, args: argparse.Namespace) -> dict:
    checkpoint = open_checkpoint(name)
    model = checkpoint.load_model(device, "float32")
    task = movie_reviews()
    scorers = {path: Scorer(model, checkpoint.tokenizer(), checkpoint.family, task.label_words, batch_size=16,
                            shared_prefix=shared) for path, shared in PATHS.items()}
    prompt = shipped_prompt(name)
    texts = [task.render(e.text) for e in task.test[: args.examples]]
    encoded = [scorers["shared"].input_ids(text) for text in texts]
    with torch.inference_mode():
        prefix = scorers["shared"].prefix(encoded, prompt.encoder.to(scorers["shared"].dtype))
    result = {
        "model": name, "device": device, "prompt_rows": prompt.num_tokens, "shared_tokens": prefix.tokens,
        "mean_input_tokens": round(sum(map(len, encoded)) / len(encoded), 1),
        "scoring": scoring(scorers, texts, prompt.encoder, args.repeats, args.reference_examples),
        "tuning": tuning(scorers, prompt, args.tune_steps, args.repeats),
    }
    print(json.dumps(result), flush=True)
    return result


def demo(path: str) -> dict:
    """One default demo run as a first run: a fresh cache (no fitted recyclers) that links the fetched models."""
    from recycler_gui.core.runs import pipeline
    from recycler_gui.core.runs.demo import demo_job

    stages: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for part in ("models", "gguf", "data"):
            if (cache_dir() / part).exists():
                (Path(folder) / part).symlink_to(cache_dir() / part)
        saved = os.environ.get("PROMPT_RECYCLER_CACHE"), pipeline.Scorer
        os.environ["PROMPT_RECYCLER_CACHE"] = folder
        pipeline.Scorer = functools.partial(Scorer, shared_prefix=PATHS[path])
        try:
            started = time.perf_counter()
            report = pipeline.run(demo_job(), events=lambda e: isinstance(e, Stage) and stages.append(
                (e.name, time.perf_counter())))
            seconds = time.perf_counter() - started
        finally:
            pipeline.Scorer = saved[1]
            if saved[0] is None:
                del os.environ["PROMPT_RECYCLER_CACHE"]
            else:
                os.environ["PROMPT_RECYCLER_CACHE"] = saved[0]
    ends = [at for _, at in stages[1:]] + [started + seconds]
    per_stage = [(name, round(end - at, 1)) for (name, at), end in zip(stages, ends, strict=True)]
    result = {"path": path, "status": report.status, "seconds": round(seconds, 1),
              "rows": len(report.rows), "examples_per_row": report.job["eval_size"],
              "slowest_stages": sorted(per_stage, key=lambda s: -s[1])[:6], "stages": per_stage}
    print(json.dumps(result), flush=True)
    return result


def retuning_seconds(stages: list[tuple[str, float]]) -> float:
    """The demo's re-tuning part: every stage from the dev pick of the start on (the re-tunings, scoring their
    prompts), the pipeline's last phase."""
    names = [name for name, _ in stages]
    return sum(seconds for _, seconds in stages[names.index(DEV_PICK_STAGE):]) if DEV_PICK_STAGE in names else 0.0


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def write(results: dict) -> None:
    rows = results["models"]
    body = [
        f"Command: `{results['command']}`", "", results["machine"], "",
        "The full path runs every example's prompt rows and tokens; the shared prefix runs the 20 prompt rows and the "
        "leading tokens every input shares (BOS, `Review:`) once per scoring call or tuning step and continues each "
        "batch from their key/value cache. Both on one loaded model in one process, repeats alternating; ratios are "
        "what to compare, since the absolute times depend on what else the machine runs.", "",
        "| model | device | shared / mean input tokens | scoring ex/s full → shared | ratio | max score difference "
        "(paths; to the reference) | tuning s/step full → shared | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        s, t = r["scoring"], r["tuning"]
        body.append(
            f"| {r['model']} | {r['device']} | {r['prompt_rows']} rows + {r['shared_tokens']} of "
            f"{r['mean_input_tokens']} tokens | {s['examples_per_second']['full']} → "
            f"{s['examples_per_second']['shared']} | {s['ratio']:.2f}x | {s['max_difference_between_paths']:.1e}; "
            f"{s['max_difference_to_reference']:.1e} ({s['reference_examples']} examples) | "
            f"{t['seconds_per_step']['full']:.2f} → {t['seconds_per_step']['shared']:.2f} | {t['ratio']:.2f}x |")
    for d in results["demo"]:
        stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in d["slowest_stages"][:4])
        retuning = retuning_seconds(d["stages"]) if "stages" in d else None
        split = "" if retuning is None else (
            f"; the comparison took {minutes(d['seconds'] - retuning)} and the re-tuning part (picking the start on "
            f"dev, the two re-tunings, scoring their prompts) {minutes(retuning)}")
        body += ["", f"Default demo ({d['rows']} rows of {d['examples_per_row']} test examples, {d['path']} path, "
                 f"first run: recyclers fitted afresh): **{minutes(d['seconds'])}** ({d['status']}){split}; slowest "
                 f"stages: {stages}. Command: `{d['command']}`. {d['machine']}"]
    write_section("Shared prefix", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["smollm2-135m", "gemma3-270m"],
                        help="models to measure scoring and tuning on (none: keep the stored measurements)")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--reference-examples", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tune-steps", type=int, default=4)
    parser.add_argument("--demo", choices=["new", "both", "none"], default="new")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    command = " ".join(["python bench/shared_prefix.py", *sys.argv[1:]])
    stored = RESULTS / "shared_prefix.json"
    results = json.loads(stored.read_text()) if stored.exists() else {"models": [], "demo": []}
    if args.models:  # measured again: the stored rows are replaced; none named keeps them
        results.update(machine=machine_line(), command=command, models=[])
        for device in devices:
            for name in args.models:
                results["models"].append(measure_model(name, device, args))
                save_json("shared_prefix.json", results)
    paths = {"new": ["shared"], "both": ["shared", "full"], "none": []}[args.demo]
    if paths:
        results["demo"] = []
    for path in paths:
        results["demo"].append({**demo(path), "machine": machine_line(), "command": command})
        save_json("shared_prefix.json", results)
    write(results)


if __name__ == "__main__":
    main()
