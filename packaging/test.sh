#!/usr/bin/env bash
# Install (if needed) and run the linter and the test suite, headless. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash packaging/bootstrap.sh --test
.venv/bin/ruff check .
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest "$@"
