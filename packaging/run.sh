#!/usr/bin/env bash
# Install (if needed) and open Prompt Recycler. Without a display it checks the installation instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash packaging/bootstrap.sh
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" || "$(uname -s)" == Darwin ]]; then
  exec .venv/bin/prompt-recycler-gui "$@"
fi
echo "No display found, so the window cannot open here; checking the installation instead."
exec .venv/bin/prompt-recycler doctor
