"""Check that the built wheel and sdist carry the code, the resources and the entry points.

    python packaging/check_wheel.py dist/prompt_recycler-*.whl dist/prompt_recycler-*.tar.gz
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    wheel, sdist = Path(sys.argv[1]), Path(sys.argv[2])
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"recycler_gui/resources/{p.relative_to(ROOT / 'resources')}"
                for p in (ROOT / "resources").rglob("*") if p.is_file()}
    expected |= {f"recycler_gui/{p.relative_to(ROOT / 'recycler_gui')}" for p in (ROOT / "recycler_gui").rglob("*.py")}
    missing = sorted(expected - names)
    problems = [f"the wheel lacks {name}" for name in missing]
    entry_points = next((zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith("entry_points.txt")), "")
    for script in ("prompt-recycler = recycler_gui.cli:main", "prompt-recycler-gui = recycler_gui.gui.app:main"):
        if script not in entry_points:
            problems.append(f"the wheel does not declare the entry point {script!r}")
    with tarfile.open(sdist) as archive:
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "resources/icons/prompt-recycler.svg", "tests/conftest.py"):
        if needed not in sdist_names:
            problems.append(f"the sdist lacks {needed}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    prompts = sum(1 for name in names if name.endswith("/record.json"))
    print(f"{wheel.name}: {len(names)} files, {len(expected)} expected ones present, {prompts} shipped prompts; "
          f"{sdist.name}: {len(sdist_names)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
