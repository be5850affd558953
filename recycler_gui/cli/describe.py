"""``inspect``: what a path is, a prompt file or a model checkpoint, with its shape and sizes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import add_command, add_download_option

INSPECT_KEYS = """\
JSON keys for a prompt:
  kind ("prompt"), path, format (peft|npy|safetensors|pt), key (tensor used), num_tokens (rows per half),
  dim (row width), halves (1, or 2 for seq2seq adapters with decoder rows), rows (num_tokens * halves),
  task_type (PEFT task type or null), source_model, task, init (null when the file does not say),
  row_norm_mean, row_norm_max
JSON keys for a checkpoint:
  kind ("checkpoint"), reference (as given), path (local folder read), read_from (folder|hf-cache|gguf|hub-config:
  a Hub model described from its config alone), family (decoder-only|encoder-decoder), architecture, model_type,
  hidden_size, vocab_size, embedding_scale (factor the embedding layer applies, e.g. sqrt(hidden) for Gemma),
  tied_embeddings, parameters; for hub-config also download_bytes (what a run still downloads; null when offline)

"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    inspect = add_command(
        commands, "inspect", common, _cmd_inspect,
        "describe a prompt file or a model checkpoint",
        "PATH may be a prompt (PEFT adapter folder, .npy, safetensors, .pt) or a checkpoint (model folder, .gguf "
        "file, or a Hugging Face Hub id: with --download, a model not in the cache is described from its config, "
        "fetched alone).",
        epilog=INSPECT_KEYS,
    )
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--key", help="tensor to use when a safetensors / .pt file holds several")
    inspect.add_argument("--json", action="store_true", help="print one JSON object (keys below)")
    add_download_option(inspect)



def _cmd_inspect(args: argparse.Namespace) -> int:
    from ..core.describe import describe_path, format_description

    info = describe_path(args.path, args.key, args.download)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_description(info))
    return 0
