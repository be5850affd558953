"""Prompt-tuning step time on the CPU in float32 against bfloat16 autocast, on one loaded model, in one process.

    python bench/cpu_autocast.py [--models smollm2-135m gemma3-270m] [--steps 4] [--repeats 2] [--threads N]

The app autocasts to bfloat16 while training where the hardware has it (``core.training.loop.autocast``), with the
vocabulary projection left in the weights' dtype (``Scorer._logits_at``): autocast caches casts of trainable weights
only, so it would cast a frozen 262k-row table again on every call. This measures what autocast buys on this CPU:
``tune`` (batch 16, 20 rows, the shared prefix) with autocast forced off and on, alternating ``--repeats`` times;
seconds per step are (a run of steps + 1 minus a run of 1 step) / steps, as in bench/tuning_speed.py. Writes
bench/results/cpu_autocast.json and the "CPU autocast" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys

import torch
from common import machine_line, save_json, write_section
from tuning_speed import ours, tuning_setup

from recycler_gui.core.training import loop


def forced(bf16: bool):
    """``loop.autocast`` with bfloat16 autocast forced on (or off) whatever the device."""
    return lambda device, _enabled: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def measure(name: str, steps: int, repeats: int) -> dict:
    scorer, task, start = tuning_setup(name, 16, 20)
    seconds: dict[str, list[float]] = {"float32": [], "bf16 autocast": []}
    original = loop.autocast
    try:
        for _ in range(repeats):
            for label, bf16 in (("float32", False), ("bf16 autocast", True)):
                loop.autocast = forced(bf16)
                seconds[label].append(ours(scorer, task, start, steps, 16))
    finally:
        loop.autocast = original
    means = {label: sum(values) / len(values) for label, values in seconds.items()}
    result = {"model": name, "steps": steps, "repeats": repeats,
              **{f"{label} s/step": round(value, 2) for label, value in means.items()},
              "autocast / float32": round(means["bf16 autocast"] / means["float32"], 2),
              "each repeat": {label: [round(v, 2) for v in values] for label, values in seconds.items()}}
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu_flags = "bfloat16 instructions" if loop._cpu_has_bf16() else "no bfloat16 instructions"
    results = [measure(m, args.steps, args.repeats) for m in args.models]
    save_json("cpu_autocast.json", results)
    write_section("CPU autocast", [
        f"Command: `{' '.join(['python bench/cpu_autocast.py', *sys.argv[1:]])}`", "",
        f"{machine_line()} CPU: {cpu_flags}.", "",
        "Seconds per prompt-tuning step on the CPU (`tune`, batch 16, 20 rows, shared prefix), float32 against "
        f"bfloat16 autocast, alternating {args.repeats} times on one loaded model. The app autocasts where the "
        "hardware has bfloat16, with the vocabulary projection in float32: autocasting it too (casting Gemma's "
        "262k-row table on every call) made Gemma's step 1.19x slower than float32 instead.", "",
        "| model | float32 | bf16 autocast | autocast / float32 |", "| --- | --- | --- | --- |",
        *[f"| {r['model']} | {r['float32 s/step']:.2f} s | {r['bf16 autocast s/step']:.2f} s | "
          f"{r['autocast / float32']:.2f}x |" for r in results],
    ])


if __name__ == "__main__":
    main()
