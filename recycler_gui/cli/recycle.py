"""``recycle``: map a soft prompt from a source model to a target model with any set of recyclers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.fields import default_of
from ..core.prompts.formats import FORMATS
from ..core.transfer.recyclers import NORM_MODES, RECOMMENDED, RECYCLERS
from ..core.transfer.vocab import VocabSettings
from .common import TerminalEvents, add_command, add_download_option, add_setting, num_words

RECYCLE_EPILOG = "methods:\n" + "".join(
    f"  {name:<11} {cls.summary}{' [default]' if name == RECOMMENDED else ''}\n" for name, cls in RECYCLERS.items()
) + """
JSON summary (--json): source, target, vocabulary {same_tokenizer, shared_tokens, shared_words, used_words, offset,
num_words}, methods [{method, fit_seconds, fit_loss, cached, output, row_norm_mean}]
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    recycle = add_command(
        commands, "recycle", common, _cmd_recycle,
        "recycle a soft prompt from a source model to a target model",
        "Fits each recycler on word vectors the two models share (no task data, no training of the target) and "
        "writes one recycled prompt per method into --out, named after the method.",
        epilog=RECYCLE_EPILOG,
    )
    recycle.add_argument("--source", required=True, help="model the prompt was trained on (folder, .gguf or HF id)")
    recycle.add_argument("--target", required=True, help="model to recycle the prompt to (folder, .gguf or HF id)")
    recycle.add_argument("--prompt", required=True, help="the prompt file or PEFT adapter folder")
    recycle.add_argument("--key", help="tensor to use when the prompt file holds several")
    recycle.add_argument(
        "--method", action="append", metavar="NAME",
        help=f"recycler to use, repeatable: {', '.join(RECYCLERS)}, or all (default: {RECOMMENDED}, the best on our "
             "benchmark)",
    )
    recycle.add_argument("--out", required=True, type=Path, help="folder for the recycled prompts")
    recycle.add_argument("--format", choices=FORMATS, default="peft", help="output format (default: peft)")
    add_setting(recycle, VocabSettings, "offset", type=int, default=default_of(VocabSettings, "offset"))
    add_setting(recycle, VocabSettings, "num_words", type=num_words, default=default_of(VocabSettings, "num_words"))
    recycle.add_argument("--norm", choices=NORM_MODES, help="override every method's row-length rule")
    recycle.add_argument("--seed", type=int, default=0, help="seed for fitting (default 0)")
    recycle.add_argument(
        "--no-cache", action="store_true", help="fit again even when a fitted recycler is cached, and replace it"
    )
    recycle.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    add_download_option(recycle)


def _cmd_recycle(args: argparse.Namespace) -> int:
    from ..core.models.checkpoints import open_checkpoint
    from ..core.prompts.formats import guard_prompt_outputs, read_prompt, write_prompt
    from ..core.storage import ensure_not_input, staged_folder
    from ..core.transfer.recycling import check_prompt_fits_source, recycle, resolve_methods

    vocabulary = VocabSettings(args.offset, args.num_words)
    vocabulary.check()
    methods = resolve_methods(args.method or [RECOMMENDED])
    names = {method: method if args.format == "peft" else f"{method}.{args.format}" for method in methods}
    outputs = [args.out / name for name in names.values()]
    inputs = [args.prompt, args.source, args.target]  # a model id or demo model name is no path: skipped
    guard_prompt_outputs(outputs, inputs)  # before any download or fit
    prompt = read_prompt(args.prompt, key=args.key)
    events = TerminalEvents()
    source, target = (open_checkpoint(reference, download=args.download, events=events)
                      for reference in (args.source, args.target))
    check_prompt_fits_source(prompt, source)
    inputs += [*source.input_paths, *target.input_paths]
    for output in outputs:
        ensure_not_input(output, inputs)
    params = {method: {"norm": args.norm} for method in methods} if args.norm else None
    result = recycle(
        source, target, prompt, methods,
        vocabulary=vocabulary, seed=args.seed, params=params,
        use_cache=not args.no_cache, events=events,
    )
    rows = []
    with staged_folder(args.out) as stage:  # every method's output, or none of them
        for item in result.recycled:
            write_prompt(item.prompt, stage / names[item.method], args.format, inputs=inputs,
                         peft_target=target.peft_target)
            rows.append({
                "method": item.method, "fit_seconds": round(item.fit_seconds, 4), "fit_loss": item.fit_loss,
                "cached": item.cached, "output": str(args.out / names[item.method]),
                "row_norm_mean": round(float(item.prompt.encoder.norm(dim=1).mean()), 6),
            })
    if args.json:
        summary = {
            "source": source.reference, "target": target.reference, "vocabulary": result.vocabulary.as_dict(),
            "methods": rows,
        }
        print(json.dumps(summary, indent=2))
    else:
        print(result.vocabulary.summary())
        width = max(len(row["method"]) for row in rows)
        for row in rows:
            loss = "-" if row["fit_loss"] is None else f"{row['fit_loss']:.4g}"
            how = "cached" if row["cached"] else f"{row['fit_seconds']:.2f} s"
            print(f"{row['method']:<{width}}  fit {how:>8}  loss {loss:>10}  -> {row['output']}")
    return 0
