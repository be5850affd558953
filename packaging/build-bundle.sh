#!/usr/bin/env bash
# Build the one-folder GUI bundle with PyInstaller (CPU torch): dist/prompt-recycler/prompt-recycler-gui.
# Takes several minutes of CPU and about 1 GB of disk; not part of CI for that reason (docs/USER_GUIDE.md, Installing).
#   bash packaging/build-bundle.sh            # build
#   bash packaging/build-bundle.sh --check    # build, then start it under Xvfb and wait for the window
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash packaging/bootstrap.sh >/dev/null
.venv/bin/python -m pip --disable-pip-version-check -q install -e ".[bundle]"
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/prompt-recycler.spec
bundle=dist/prompt-recycler
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1))"
if [[ "${1:-}" == "--check" ]]; then
  command -v xvfb-run >/dev/null || { echo "xvfb-run is needed for --check (apt-get install xvfb)"; exit 1; }
  "$bundle/prompt-recycler-gui" --version
  xvfb-run -a .venv/bin/python packaging/startup_time.py "$bundle/prompt-recycler-gui"
fi
