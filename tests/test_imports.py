"""The engine and the CLI never import Qt: every module of ``recycler_gui.core`` and ``recycler_gui.cli``, imported in
a fresh interpreter (``__main__`` aside: it runs the CLI), leaves PySide6 and pyqtgraph unloaded."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import importlib, json, pkgutil, sys
import recycler_gui.cli, recycler_gui.core
names = []
for package in (recycler_gui.core, recycler_gui.cli):
    names.append(package.__name__)
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.endswith(".__main__"):  # runs the CLI when imported
            continue
        importlib.import_module(module.name)
        names.append(module.name)
gui = sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"))
print(json.dumps({"modules": names, "gui": gui}))
"""


def test_core_and_cli_modules_import_without_qt() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"recycler_gui.core.report", "recycler_gui.core.runs.pipeline", "recycler_gui.cli.compare"} <= set(
        found["modules"]
    )
    assert found["gui"] == []
