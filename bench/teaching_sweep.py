"""Teaching settings, measured: one direction of the demo pair, several teaching settings, the same texts and starts.

    python bench/teaching_sweep.py --direction smollm2-135m:gemma3-270m [--seeds 0 1] [--eval-size 300]
        [--threads 1] --config "lr=0.03" "lr=0.1,steps=80" "writer=target" ...

Each ``--config`` is comma-separated ``key=value`` pairs over ``DEFAULTS`` (writer source|target, texts, steps, lr,
batch, eval_every, held_out, temperature, relative, warmup, anchor, calibrate 0|1 (the teacher's label bias on
content-free inputs divided out), start recycled|class-label, hint 0|1 (texts written after a line naming a label word
in turn: ``WritingSettings.label_hint``), balance 0|1 (the teacher's answers divided by their mean over the texts:
``TeachingSettings.balance``), reweight 0|1 (texts weighed so that each label the teacher gives counts the
same: ``TeachingSettings.reweight``), mix (weight of the student's own start distribution in a geometric mean with
the teacher's: an ensemble of the two as the target). The source model is loaded once (the teacher's label scores on
every text set, for every source prompt), then the target model once (baselines, the recommended recycler's start, then
each setting on each source prompt). Every result is appended to bench/results/teaching_sweep.jsonl at once: test
accuracy, AUC and calibrated accuracy of the taught prompt on the first ``--eval-size`` test examples, of its start and
of the no-prompt baseline, the agreement curve, the watched dev-accuracy curve (100 dev examples; shown, never used to
pick) and the seconds it took. No labelled example is used to teach or to pick. The "Teaching settings" section of
docs/BENCHMARKS.md is rewritten from that file after each run (``--table-only``: only that). """

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import Any

import torch
from common import RESULTS, write_section

from recycler_gui.core.data.movie_reviews import movie_reviews
from recycler_gui.core.data.unlabelled import TeachingTextsError, WritingSettings, written_texts
from recycler_gui.core.evaluation.baselines import class_label_prompt
from recycler_gui.core.evaluation.calibration import calibrated_accuracy, content_free_bias
from recycler_gui.core.evaluation.scoring import Scorer, classification_metrics
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.training.teaching import TeachingSettings, label_distribution, teach
from recycler_gui.core.training.tuning import dev_accuracy
from recycler_gui.core.transfer.recyclers import RECOMMENDED
from recycler_gui.core.transfer.recycling import recycle

DEFAULTS: dict[str, Any] = {
    "writer": "source", "texts": 256, "steps": 60, "lr": 0.03, "batch": 16, "eval_every": 10, "held_out": 64,
    "temperature": 1.0, "relative": 0, "warmup": 0, "anchor": 0.0, "calibrate": 0, "start": "recycled", "mix": 0.0,
    "hint": 1, "balance": 0, "reweight": 0,
}
"""The shipped defaults of ``teach`` (texts written with the label hint since this sweep measured it)."""
OUT = RESULTS / "teaching_sweep.jsonl"


def parse_config(text: str) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        if key not in DEFAULTS:
            raise SystemExit(f"unknown setting {key!r}; known: {', '.join(DEFAULTS)}")
        config[key] = type(DEFAULTS[key])(value)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--direction")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--eval-size", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--config", nargs="+", default=[""])
    parser.add_argument("--table-only", action="store_true", help="rewrite the docs section from the results file")
    args = parser.parse_args()
    if not args.table_only:
        if not args.direction:
            parser.error("give --direction SOURCE:TARGET (or --table-only)")
        sweep(args)
    write_table()


def sweep(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "bench/teaching_sweep.py", *sys.argv[1:]])
    source_name, target_name = args.direction.split(":")
    configs = [parse_config(text) for text in args.config]
    task = movie_reviews()
    source, target = open_checkpoint(source_name), open_checkpoint(target_name)
    shipped = {p.name: p for p in shipped_prompts(source_name)}
    prompts = {seed: shipped[f"{source_name}-movie-reviews-seed{seed}"] for seed in args.seeds}

    # source phase: every text set the settings need, and the teacher's label scores on them for each source prompt
    text_sets = {(c["writer"], c["texts"], c["hint"]) for c in configs}
    texts: dict[tuple[str, int, int], list[str]] = {}
    for writer, count, hint in text_sets:
        checkpoint = source if writer == "source" else target
        writing = WritingSettings(count=count, label_hint=bool(hint))  # the texts teach writes (cached there too)
        try:
            written = written_texts(checkpoint, None, task, writing)
        except TeachingTextsError:  # not cached yet: write them
            started = time.perf_counter()
            written = written_texts(checkpoint, checkpoint.load_model("cpu"), task, writing)
            print(f"{checkpoint.name} wrote {len(written)} texts (hint {hint}): {time.perf_counter() - started:.0f} s",
                  flush=True)
        texts[(writer, count, hint)] = written
    model = source.load_model("cpu")
    scorer = Scorer(model, source.tokenizer(), source.family, task.label_words, batch_size=32)
    teacher_scores: dict[tuple[int, str, int], torch.Tensor] = {}
    teacher_bias: dict[int, torch.Tensor] = {}
    for seed, prompt in prompts.items():
        rows = read_prompt(prompt.path).encoder
        teacher_bias[seed] = content_free_bias(scorer, task, rows)
        for key, items in texts.items():
            started = time.perf_counter()
            teacher_scores[(seed, *key)] = scorer.score([task.render(t) for t in items], rows)
            print(f"teacher seed {seed} on {key}: {time.perf_counter() - started:.0f} s, positive share "
                  f"{float((teacher_scores[(seed, *key)].argmax(1) == 1).float().mean()):.2f}", flush=True)
    del model, scorer

    # target phase
    model = target.load_model("cpu")
    scorer = Scorer(model, target.tokenizer(), target.family, task.label_words, batch_size=32)
    test = task.test[: args.eval_size]
    test_texts, gold = [task.render(e.text) for e in test], torch.tensor([e.label for e in test])

    def measure(rows: torch.Tensor | None) -> dict[str, Any]:
        scores = scorer.score(test_texts, rows)
        metrics = classification_metrics(scores, gold)
        bias = content_free_bias(scorer, task, rows)
        return {"accuracy": metrics.accuracy, "auc": metrics.auc,
                "calibrated_accuracy": calibrated_accuracy(scores, gold, bias),
                "positive_share": float((scores.argmax(1) == 1).float().mean())}

    baseline = measure(None)
    print(f"no prompt: {baseline}", flush=True)
    starts: dict[int, SoftPrompt] = {}
    for seed, prompt in prompts.items():
        starts[seed] = recycle(source, target, read_prompt(prompt.path), [RECOMMENDED]).recycled[0].prompt
    start_metrics = {seed: measure(start.encoder) for seed, start in starts.items()}
    for seed, metrics in start_metrics.items():
        print(f"start seed {seed} ({RECOMMENDED}): {metrics}", flush=True)

    for config in configs:
        for seed in args.seeds:
            key = (config["writer"], config["texts"], config["hint"])
            raw = teacher_scores[(seed, *key)]
            if config["calibrate"]:
                raw = raw.log_softmax(1) - teacher_bias[seed]
            teacher = label_distribution(raw)
            settings = TeachingSettings(
                steps=config["steps"], learning_rate=config["lr"], batch_size=config["batch"],
                eval_every=config["eval_every"], held_out=config["held_out"], temperature=config["temperature"],
                relative_lr=bool(config["relative"]), warmup=config["warmup"], anchor=config["anchor"], seed=0,
                balance=bool(config["balance"]), reweight=bool(config["reweight"]),
            )
            start = starts[seed] if config["start"] == "recycled" else class_label_prompt(
                scorer.embed.weight.detach().float() * target.layout.scale, scorer.tokenizer, task.label_words,
                starts[seed].num_tokens, 0)
            if config["mix"]:
                own = scorer.score([task.render(t) for t in texts[key]], start.encoder)
                teacher = label_distribution((1 - config["mix"]) * teacher.log() + config["mix"] * own.log_softmax(1))
            started = time.perf_counter()
            result = teach(scorer, task, texts[key], teacher, start, settings,
                           watch=lambda rows: dev_accuracy(scorer, task, rows, 100, None))
            seconds = time.perf_counter() - started
            record = {
                "command": command, "source": source_name, "target": target_name, "seed": seed, "config": config,
                "eval_size": len(test), "baseline": baseline, "start": start_metrics[seed],
                "taught": measure(result.prompt.encoder), "best_step": result.training.best_step,
                "best_agreement": result.training.best_value, "curve": result.training.curve,
                "watched_dev": result.watched,
                "teacher_positive_share": float((teacher.argmax(1) == 1).float().mean()),
                "teach_seconds": round(seconds, 1),
                "loss_first_last": [result.training.losses[0], result.training.losses[-1]],
            }
            OUT.parent.mkdir(parents=True, exist_ok=True)
            with OUT.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            taught = record["taught"]
            print(f"{config} seed {seed}: taught {taught['accuracy']:.3f} (auc {taught['auc']:.3f}, calibrated "
                  f"{taught['calibrated_accuracy']:.3f}) best step {result.training.best_step}, agreement "
                  f"{result.training.best_value:.3f}, {seconds:.0f} s", flush=True)


def _changed(config: dict[str, Any]) -> str:
    """A setting as the flags that differ from ``DEFAULTS`` (``defaults`` when none)."""
    return ",".join(f"{key}={value}" for key, value in config.items() if DEFAULTS.get(key) != value) or "defaults"


def write_table() -> None:
    """The "Teaching settings" section: per direction and setting, each source prompt's start and taught prompt."""
    records: dict[tuple[str, str, str, int], dict] = {}
    for line in OUT.read_text().splitlines():
        record = json.loads(line)
        record["config"] = {**DEFAULTS, **record["config"]}
        records[(record["source"], record["target"], _changed(record["config"]), record["seed"])] = record  # latest
    body = [
        "Commands: " + ", ".join(sorted({f"`{r['command']}`" for r in records.values()})) + ".",
        "",
        f"Each taught prompt on the first test examples of the target (the count is in the table), started from the "
        f"{RECOMMENDED} prompt of a shipped source prompt (seed); settings are the flags that differ from "
        f"`{_changed({})}` ({', '.join(f'{k}={v}' for k, v in DEFAULTS.items())}). Teacher +: the share of texts the "
        "teacher calls positive. No labelled example is used to teach or to pick.",
        "",
        "| direction | setting | seed | examples | no prompt % (calibrated) | start % | taught % | AUC | calibrated % "
        "| teacher + | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (source, target, setting, seed), r in sorted(records.items()):
        base, start, taught = r["baseline"], r["start"], r["taught"]
        body.append(
            f"| {source} → {target} | {setting} | {seed} | {r['eval_size']} | {100 * base['accuracy']:.1f} "
            f"({100 * base['calibrated_accuracy']:.1f}) | {100 * start['accuracy']:.1f} | "
            f"{100 * taught['accuracy']:.1f} | {taught['auc']:.3f} | {100 * taught['calibrated_accuracy']:.1f} | "
            f"{r['teacher_positive_share']:.2f} | {r['teach_seconds']:.0f} |")
    write_section("Teaching settings", body)


if __name__ == "__main__":
    main()
