#!/usr/bin/env bash
# Build the sdist and the wheel, check what the wheel carries, install it into a fresh virtualenv (with its
# dependencies, torch first as in bootstrap.sh) and smoke-run both entry points from outside the checkout.
#   bash packaging/check-wheel.sh            # CI runs this after the test suite
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bash packaging/bootstrap.sh --test >/dev/null
.venv/bin/python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
.venv/bin/python packaging/check_wheel.py "$wheel" "$work"/dist/*.tar.gz

"${PYTHON:-python3}" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "${PROMPT_RECYCLER_TORCH:-torch==2.13.0}"
"${pip[@]}" install "$wheel"
cd "$work"  # away from the checkout, so only the installed wheel can answer
export QT_QPA_PLATFORM=offscreen PROMPT_RECYCLER_CACHE="$work/cache" PROMPT_RECYCLER_DATA="$work/data"
"$work/venv/bin/prompt-recycler" --help >/dev/null
"$work/venv/bin/prompt-recycler" --version
"$work/venv/bin/prompt-recycler-gui" --version
listing=$("$work/venv/bin/prompt-recycler" models list)
grep -q "source prompts shipped for smollm2-135m" <<<"$listing" \
  || { echo "the installed wheel does not list its shipped prompts:"; echo "$listing"; exit 1; }
XDG_DATA_HOME="$work/xdg" "$work/venv/bin/prompt-recycler-gui" --install-desktop-entry >/dev/null
test -f "$work/xdg/applications/io.github.promptrecycler.PromptRecycler.desktop"
echo "wheel OK: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB), installed and started from $work/venv"
cd "$root"
