"""Peak memory: `prompt-recycler recycle` (reads only the two embedding tables) vs loading both full models.

    python bench/memory.py [--source smollm2-135m] [--target gemma3-270m]

Each measurement runs in its own process; its peak resident set size comes from the kernel (``os.wait4``). Writes
bench/results/memory.json and the "Memory" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, machine_line, save_json, write_section

from recycler_gui.core.resources import shipped_prompts

LOAD_BOTH = """
import sys
from recycler_gui.core.models.checkpoints import open_checkpoint
models = [open_checkpoint(name).load_model("cpu", "float32") for name in sys.argv[1:]]
# weights may be memory-mapped and paged in lazily; touch every one, as any use of the models would
print(sum(float(p.sum()) for m in models for p in m.parameters()))
"""


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="smollm2-135m")
    parser.add_argument("--target", default="gemma3-270m")
    args = parser.parse_args()
    prompt = next(p for p in shipped_prompts(args.source) if not p.record.get("max_norm"))
    cli = [sys.executable, "-m", "recycler_gui.cli"]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for method in ("v2v-lin", "v2v-nn"):
            results[f"recycle ({method}, fitted recycler cached)"] = peak_rss_mb(
                [*cli, "recycle", "--source", args.source, "--target", args.target, "--prompt", str(prompt.path),
                 "--method", method, "--out", f"{scratch}/{method}"])
        results["recycle (v2v-nn, fitting, --no-cache)"] = peak_rss_mb(
            [*cli, "recycle", "--source", args.source, "--target", args.target, "--prompt", str(prompt.path),
             "--method", "v2v-nn", "--no-cache", "--out", f"{scratch}/fit"])
    full = "load both full models (float32, every weight touched)"
    results[full] = peak_rss_mb([sys.executable, "-c", LOAD_BOTH, args.source, args.target])
    both = results[full][0]
    rows = [{"what": k, "peak_rss_mb": round(v[0]), "seconds": round(v[1], 1), "ratio_to_full_models":
             round(v[0] / both, 2)} for k, v in results.items()]
    save_json("memory.json", rows)
    write_section("Memory", [
        f"Command: `{' '.join(['python bench/memory.py', *sys.argv[1:]])}`", "", machine_line(), "",
        f"Peak resident memory of one process each, recycling the shipped {prompt.name} from {args.source} to "
        f"{args.target} (both models already fetched and converted). `recycle` reads the two embedding tables and "
        "tokenizers, never a whole model; the peak is the same for every method because it is reached while "
        "reading Gemma's 262,144 x 640 table and tokenizer, before any fitting.", "",
        "| process | peak RSS | ratio to loading both models | wall time |", "| --- | --- | --- | --- |",
        *[f"| {r['what']} | {r['peak_rss_mb']:,} MB | {r['ratio_to_full_models']:.2f}x | {r['seconds']} s |"
          for r in rows],
    ])


if __name__ == "__main__":
    main()
