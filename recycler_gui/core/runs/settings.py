"""What every run needs besides its models: the task, how models run on it, and the seed.

``Job`` (a comparison) and ``TuneJob`` (prompt tuning) extend ``RunSettings``, so both commands' shared options and
the window's run settings read their defaults and help from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.catalog import load_task
from ..data.movie_reviews import MOVIE_REVIEWS
from ..data.tasks import Task
from ..errors import RecyclerError
from ..fields import at_least, check_types, setting
from ..models.devices import resolve_device, resolve_dtype
from ..models.hub import DOWNLOAD_SETTING


class JobError(RecyclerError):
    """A job file or job setting that cannot be used."""


@dataclass(kw_only=True)
class RunSettings:
    """The task (built-in or a file, with its columns, label words and template), device, dtype, batch size, seed.

    ``label_words`` is a spec string as on the command line (``negative,positive`` or ``neg=bad,pos=good``; each word
    gets one leading space) or a list of words used exactly as given.
    """

    task: str = setting(MOVIE_REVIEWS, "built-in task or a .csv/.tsv/.jsonl file")
    text_column: str | None = setting(None, "column holding the text (task files)")
    label_column: str | None = setting(None, "column holding the label (task files)")
    label_words: str | list[str] | None = setting(
        None, "one word per label, in label order: 'bad,good' or 'neg=bad,pos=good'"
    )
    template: str | None = setting(None, "input template with a {text} slot; \\n for a line break")
    download: bool | None = setting(
        None, "download models missing from the Hugging Face cache (config, tokenizer, weights); without "
        f"it {DOWNLOAD_SETTING}=1 allows downloads, else models must be there already"
    )
    device: str = setting("auto", "auto, cpu, cuda, cuda:N or mps")
    dtype: str = setting("float32", "the model weights' dtype")
    batch_size: int = setting(16, "examples per forward pass")
    seed: int = setting(0, "seed for sampling, splits and tuning")

    def check(self) -> None:
        """Types, ranges and the device, before any work; subclasses add their own settings."""
        check_types(self)
        at_least(self, "batch_size", 1)
        resolve_dtype(self.dtype, resolve_device(self.device))

    def load_task(self) -> Task:
        """The task these settings name, with their columns, label words, template and split seed."""
        return load_task(
            self.task, text_column=self.text_column, label_column=self.label_column, label_words=self.label_words,
            template=self.template, seed=self.seed,
        )
