#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) with everything Prompt Recycler needs. Safe to run again.
#   bash packaging/bootstrap.sh          # the application
#   bash packaging/bootstrap.sh --test   # plus pytest, pytest-qt and ruff
# Environment: PYTHON (interpreter, default python3), PROMPT_RECYCLER_VENV (default .venv),
#   PROMPT_RECYCLER_TORCH (pip requirement for torch; default torch==2.13.0, the CPU wheel). GPU users install their
#   CUDA build of torch into the venv first (or set PROMPT_RECYCLER_TORCH="torch"), and it is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${PROMPT_RECYCLER_VENV:-.venv}
torch_spec=${PROMPT_RECYCLER_TORCH:-torch==2.13.0}
extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

# Shared libraries Qt loads, as "soname:debian-package". Installed with apt only when one is missing.
qt_libs=(
  libGL.so.1:libgl1 libEGL.so.1:libegl1 libOpenGL.so.0:libopengl0 libxkbcommon.so.0:libxkbcommon0
  libfontconfig.so.1:libfontconfig1 libfreetype.so.6:libfreetype6 libdbus-1.so.3:libdbus-1-3
  libglib-2.0.so.0:libglib2.0-0 libX11-xcb.so.1:libx11-xcb1 libxkbcommon-x11.so.0:libxkbcommon-x11-0
  libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1
  libxcb-shape.so.0:libxcb-shape0 libxcb-xinerama.so.0:libxcb-xinerama0 libxcb-render-util.so.0:libxcb-render-util0
  libxcb-image.so.0:libxcb-image0 libxcb-randr.so.0:libxcb-randr0 libxcb-xkb.so.1:libxcb-xkb1
)
if [[ "$(uname -s)" == Linux ]] && command -v apt-get >/dev/null 2>&1; then
  known=$(ldconfig -p 2>/dev/null || true)
  missing=()
  for pair in "${qt_libs[@]}"; do
    grep -q "${pair%%:*}" <<<"$known" || missing+=("${pair##*:}")
  done
  if [[ -n "$extras" ]]; then  # the validators the packaging tests run
    command -v desktop-file-validate >/dev/null || missing+=(desktop-file-utils)
    command -v appstreamcli >/dev/null || missing+=(appstream)
  fi
  if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "Creating the virtualenv $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# pip 24.1 and later report the progress of model downloads; a pip that has it already needs no index here.
"${pip[@]}" install "pip>=24.1" || echo "warning: pip was not upgraded; model downloads will show no progress" >&2
if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "Installing $torch_spec"
  "${pip[@]}" install "$torch_spec"
fi
"${pip[@]}" install -e ".$extras"
