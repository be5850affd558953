"""Prompt-tuning step time: our `tune` against PEFT's own prompt tuning, same model, batch and prompt length.

    python bench/tuning_speed.py [--models smollm2-135m gemma3-270m] [--steps 5] [--batch-size 16]

Ours: `recycler_gui.core.training.tuning.tune` (label log-likelihoods from the last position only, `logits_to_keep=1`).
PEFT: `get_peft_model(model, PromptTuningConfig(CAUSAL_LM, 20 virtual tokens))`, the usual causal-LM training step
on the same 16 movie-review examples with the label word appended and only that token labelled (the model computes
logits over the whole vocabulary at every position, as PEFT training does), Adam on the prompt. Both in float32 on
the same model object, one warm-up step, then the mean of ``--steps`` timed steps. Writes
bench/results/tuning_speed.json and the "Tuning speed" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from common import machine_line, save_json, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.data.tasks import Task
from recycler_gui.core.evaluation.baselines import class_label_prompt
from recycler_gui.core.evaluation.scoring import Scorer
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt
from recycler_gui.core.training.tuning import TuningSettings, tune


def ours(scorer: Scorer, task: Task, start, steps: int, batch_size: int) -> float:
    """Seconds per step of `tune`: (a run of steps + 1 minus a run of 1 step) / steps, so that set-up and the two
    one-example dev evaluations cancel out."""
    settings = TuningSettings(steps=1, batch_size=batch_size, eval_every=10_000, eval_size=1, seed=0, bf16=False)
    tune(scorer, task, start, settings)  # warm-up
    started = time.perf_counter()
    tune(scorer, task, start, settings)
    one = time.perf_counter() - started
    started = time.perf_counter()
    tune(scorer, task, start, TuningSettings(**{**settings.__dict__, "steps": steps + 1}))
    return (time.perf_counter() - started - one) / steps


def peft_step_time(model, tokenizer, task: Task, steps: int, batch_size: int, length: int) -> float:
    from peft import PromptTuningConfig, get_peft_model

    peft_model = get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=length))
    examples = task.train[:batch_size]
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = [task.render(e.text) for e in examples]
    full = [p + task.label_words[e.label] for p, e in zip(prompts, examples, strict=True)]
    batch = tokenizer(full, return_tensors="pt", padding=True)
    labels = torch.full_like(batch.input_ids, -100)
    for row, (prompt, text) in enumerate(zip(prompts, full, strict=True)):
        start = len(tokenizer(prompt).input_ids)
        end = len(tokenizer(text).input_ids)
        labels[row, start:end] = batch.input_ids[row, start:end]
    optimizer = torch.optim.Adam([p for p in peft_model.parameters() if p.requires_grad], lr=0.3)

    def step() -> None:
        optimizer.zero_grad()
        loss = peft_model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()

    step()  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def tuning_setup(name: str, batch_size: int, length: int) -> tuple[Scorer, Task, SoftPrompt]:
    """The model loaded in float32 on the CPU, the movie reviews and the class-label start prompt of ``length``."""
    checkpoint = open_checkpoint(name)
    task = movie_reviews()
    tokenizer = checkpoint.tokenizer()
    scorer = Scorer(checkpoint.load_model("cpu", "float32"), tokenizer, checkpoint.family, task.label_words,
                    batch_size=batch_size)
    start = class_label_prompt(checkpoint.input_embeddings(), tokenizer, task.label_words, length, 0)
    return scorer, task, start


def measure(name: str, steps: int, batch_size: int, length: int) -> dict:
    scorer, task, start = tuning_setup(name, batch_size, length)
    ours_seconds = ours(scorer, task, start, steps, batch_size)
    peft_seconds = peft_step_time(scorer.model, scorer.tokenizer, task, steps, batch_size, length)
    result = {"model": name, "batch_size": batch_size, "prompt_length": length, "steps": steps,
              "ours_seconds_per_step": round(ours_seconds, 3), "peft_seconds_per_step": round(peft_seconds, 3),
              "speedup": round(peft_seconds / ours_seconds, 2)}
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prompt-length", type=int, default=20)
    args = parser.parse_args()
    results = [measure(m, args.steps, args.batch_size, args.prompt_length) for m in args.models]
    save_json("tuning_speed.json", results)
    write_section("Tuning speed", [
        f"Command: `python bench/tuning_speed.py {' '.join(sys.argv[1:])}`", "", machine_line(), "",
        f"Seconds per prompt-tuning step, float32, batch {args.batch_size}, {args.prompt_length} virtual tokens, mean "
        f"of {args.steps} steps after a warm-up, same model object and examples. Compare the ratio: the absolute "
        "times depend on what else the machine runs.", "",
        "| model | ours (`tune`) | PEFT prompt tuning | PEFT / ours |", "| --- | --- | --- | --- |",
        *[f"| {r['model']} | {r['ours_seconds_per_step']:.2f} s | {r['peft_seconds_per_step']:.2f} s | "
          f"{r['speedup']:.2f}x |" for r in results],
    ])


if __name__ == "__main__":
    main()
