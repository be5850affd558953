"""Write docs/ERRORS.md: every error message Prompt Recycler can show, with its fix, read from the code itself.

    python packaging/list_errors.py          # rewrite docs/ERRORS.md
    python packaging/list_errors.py --check  # exit 1 when docs/ERRORS.md is out of date (the tests run this)

Each `raise SomeError(problem, fix)` of a RecyclerError subclass becomes one row; parts that depend on the input are
shown as ‹name›. The CLI prints these as `error: Problem. Fix.`; the window shows them in a dialog.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "ERRORS.md"


def render(node: ast.AST) -> str:
    """The text of a string expression, with its variable parts as ‹…›."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(render(part) for part in node.values)
    if isinstance(node, ast.FormattedValue) and _words(node.value):
        return f"‹{' / '.join(_words(node.value))}›"  # {'a' if x else 'b' if y else 'c'}: ‹a / b / c›
    if isinstance(node, ast.FormattedValue):
        inner = re.sub(r"\[[^]]*\]", "", ast.unparse(node.value))  # weights.shape[0]: ‹shape›
        short = inner.split(".")[-1].split("(")[0].strip("()[]'\" ") or "value"
        return f"‹{short}›"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return render(node.left) + render(node.right)
    if isinstance(node, ast.IfExp):
        return f"{render(node.body)} / {render(node.orelse)}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "removeprefix", "rstrip", "strip"):
        return render(node.func.value)
    return f"‹{ast.unparse(node)[:30]}›"


def _words(node: ast.AST) -> list[str]:
    """The texts of a chain of conditional expressions whose every branch is a non-empty text, else []."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, rest = _words(node.body), _words(node.orelse)
        return body + rest if body and rest else []
    return []


def error_classes() -> set[str]:
    names = {"RecyclerError"}
    for path in (ROOT / "recycler_gui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("Error") for b in node.bases):
                names.add(node.name)
    return names


def collect() -> dict[str, list[tuple[str, str, str]]]:
    classes = error_classes() - {"OutOfMemoryError"}
    found: dict[str, list[tuple[str, str, str]]] = {}
    for path in sorted((ROOT / "recycler_gui").rglob("*.py")):
        module = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id not in classes:
                continue
            if not node.args:
                continue
            problem = render(node.args[0])
            fix = render(node.args[1]) if len(node.args) > 1 else ""
            if not re.sub("‹[^›]*›", "", problem).strip():
                continue  # no words of its own: re-raising another error's text
            found.setdefault(module, []).append((node.func.id, problem, fix))
    return found


def markdown() -> str:
    lines = [
        "# Error messages",
        "",
        "Every message Prompt Recycler can show for a bad input, with the fix it suggests, generated from the code by "
        "`python packaging/list_errors.py` (the tests check that this page is current). ‹name› stands for a part "
        "that names your file, model or value. The command line prints `error: Problem. Fix.` and exits with code 2 "
        "(`--debug` adds the traceback); the window shows the same text in a dialog. Anything else is a bug: the "
        "window saves its details to the log folder and says where (`prompt-recycler doctor` shows the folders).",
        "",
        "Out of memory, anywhere: *Out of memory. Use a smaller --eval-size or --batch-size, --dtype bfloat16, or a "
        "smaller model* (in the window: lower the batch size or the evaluation size, or choose bfloat16 weights).",
        "",
    ]
    for module, rows in collect().items():
        lines += [f"## `{module}`", "", "| error | problem | fix |", "| --- | --- | --- |"]
        for kind, problem, fix in rows:
            cells = [kind, problem, fix or "-"]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = markdown()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python packaging/list_errors.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {sum(len(r) for r in collect().values())} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
