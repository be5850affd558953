"""Models by Hugging Face Hub id: what the local Hugging Face cache holds, and downloads when the user allows them.

Offline is the default: an id that is not in the cache is downloaded only when the user allows network access
(``--download``, the window's setting, or ``PROMPT_RECYCLER_DOWNLOAD=1``). A download fetches only what a model
needs, in this order: config, tokenizer files, then the weights (safetensors with their index; ``pytorch_model.bin``
only when a repository has no safetensors; never GGUF, ONNX or other formats), with ``huggingface_hub`` into the
normal cache (``HF_HOME`` / ``HF_HUB_CACHE``), so other tools find the files and a finished model opens offline.

Progress: one ``Stage`` in ``BYTES`` and a ``Progress`` event for every chunk huggingface_hub writes; the
``CancelToken`` is checked at every chunk, so a cancel stops the transfer within one chunk.

Resuming: a connection that drops mid-file is resumed from the byte where it stopped (an HTTP Range request made by
huggingface_hub). Files that finished stay in the cache, so a cancelled or failed download goes on from the first
missing file; a file cut off by a cancel starts again from its beginning (huggingface_hub keeps no partial files).
Files come over plain HTTPS, not Xet: Xet reports progress from native code, where a cancel cannot stop it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    CheckpointError,
    CorruptFileError,
    HubAccessError,
    HubModelNotFoundError,
    HubUnreachableError,
    WriteError,
)
from ..events import BYTES, CancelToken, EventSink, Log, Progress, Stage, ignore_events

DOWNLOAD_SETTING = "PROMPT_RECYCLER_DOWNLOAD"
"""Environment variable: 1 (or true, yes, on) lets every command download models it does not have."""

CONFIG = "config.json"
GENERATION_CONFIG = "generation_config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "vocab.json", "vocab.txt",
)
"""Files that hold a tokenizer's vocabulary: a usable model folder has at least one."""
TOKENIZER_SETTINGS = (
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "merges.txt", "chat_template.jinja",
)


def downloads_allowed(download: bool | None = None) -> bool:
    """The user's choice: ``download`` when given (a flag, the window's setting), else ``PROMPT_RECYCLER_DOWNLOAD``."""
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_SETTING, "").strip().lower() in {"1", "true", "yes", "on"}


def cached_model(model_id: str) -> Path | None:
    """The cached snapshot of ``model_id`` when it holds a whole model (config and every weight file), else None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError):
        return None
    return folder if has_weights(folder) else None


def cached_config(model_id: str) -> Path | None:
    """The cached snapshot folder holding ``model_id``'s config.json (weights or not), else None."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(model_id, CONFIG)
    except HFValidationError:
        return None
    return Path(found).parent if isinstance(found, str) else None


def has_weights(folder: Path) -> bool:
    """True when ``folder`` has config.json and all its weights (every shard its index names)."""
    if not (folder / CONFIG).is_file():
        return False
    for index in (SAFETENSORS_INDEX, BIN_INDEX):
        if (folder / index).is_file():
            try:
                shards = set(json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, AttributeError):
                return True  # a damaged index: opening the model says so, with the fix
            return all((folder / shard).is_file() for shard in shards)
    return (folder / SAFETENSORS).is_file() or (folder / BIN).is_file()


def download_model(model_id: str, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> Path:
    """Download what ``model_id`` needs into the Hugging Face cache (files already there are kept); its folder."""
    cancel = cancel or CancelToken()
    with hub_errors(model_id):
        remote = _RemoteModel(model_id)
        files = remote.model_files()
        remote.fetch(files, events, cancel)
        return remote.folder


@dataclass(frozen=True)
class RemoteConfig:
    """A Hub model known by its config alone: the cached folder holding config.json, and what a run still fetches."""

    folder: Path
    download_bytes: int


def download_config(model_id: str) -> RemoteConfig:
    """Fetch only ``model_id``'s config.json (and its weight index, to size the rest) into the cache, to describe it."""
    with hub_errors(model_id):
        remote = _RemoteModel(model_id)
        files = remote.model_files()
        return RemoteConfig(remote.folder, sum(remote.sizes[name] for name in remote.missing(files)))


class _RemoteModel:
    """One model repository on the Hub at one commit: its files and their sizes, and fetching them."""

    def __init__(self, model_id: str) -> None:
        from huggingface_hub import HfApi, constants

        constants.HF_HUB_DISABLE_XET = True  # plain HTTPS: resumable, and cancellable at every chunk
        api = HfApi()
        self.model_id = model_id
        self.revision = api.resolve_revision(model_id)  # pins one commit and records it as the cache's main ref
        info = api.model_info(model_id, revision=self.revision.resolved, files_metadata=True)
        self.sizes = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or ()}
        if CONFIG not in self.sizes:
            raise CheckpointError(
                f"{model_id} on the Hub has no config.json, so it is not a transformers model",
                "for a repository of GGUF files, download the .gguf file and give its path",
            )

    @property
    def folder(self) -> Path:
        """The cache's snapshot folder for this commit."""
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        repo = repo_folder_name(repo_id=self.model_id, repo_type="model")
        return Path(constants.HF_HUB_CACHE).expanduser().resolve() / repo / "snapshots" / self.revision.resolved

    def model_files(self) -> list[str]:
        """The files a model needs, in download order; fetches config.json, then the weight index if there is one."""
        self.fetch_file(CONFIG)
        small = (CONFIG, GENERATION_CONFIG, *TOKENIZER_FILES, *TOKENIZER_SETTINGS)
        return [name for name in small if name in self.sizes] + self._weight_files()

    def _weight_files(self) -> list[str]:
        for index, single in ((SAFETENSORS_INDEX, SAFETENSORS), (BIN_INDEX, BIN)):
            if index in self.sizes:
                shards = sorted(set(_weight_map(self.fetch_file(index)).values()))
                absent = [shard for shard in shards if shard not in self.sizes]
                if absent:
                    raise CheckpointError(
                        f"{self.model_id} on the Hub lacks weight files its {index} names ({', '.join(absent[:3])})",
                        "the repository is incomplete: pick another revision or model",
                    )
                return [index, *shards]
            if single in self.sizes:
                return [single]
        raise CheckpointError(
            f"{self.model_id} on the Hub has no weights transformers reads ({SAFETENSORS} or {BIN})",
            "pick a repository with safetensors weights, or download a .gguf file of the model and give its path",
        )

    def missing(self, files: list[str]) -> list[str]:
        return [name for name in files if not (self.folder / name).is_file()]

    def fetch_file(self, name: str, progress: Any = None) -> Path:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(self.model_id, name, revision=self.revision, tqdm_class=progress))

    def fetch(self, files: list[str], events: EventSink, cancel: CancelToken) -> None:
        todo = self.missing(files)
        if not todo:
            return
        total = sum(self.sizes[name] for name in todo)
        _check_free_space(total, self.model_id)
        events(Stage(f"downloading {self.model_id} ({len(todo)} files, {total / 1e6:.1f} MB)", total, BYTES))
        meter = _Meter(events, cancel, total)
        for name in todo:
            cancel.check()
            self.fetch_file(name, functools.partial(_FileBar, meter))
        events(Log(f"{self.model_id} is in the Hugging Face cache: {self.folder}"))


def _weight_map(index: Path) -> dict[str, str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorruptFileError(
            f"the weight index {index} cannot be read ({error})", "download the model again",
        ) from error
    if not isinstance(weight_map, dict):
        raise CorruptFileError(f"the weight index {index} has no weight map", "download the model again")
    return weight_map


class _Meter:
    """The bytes of one download so far, as ``Progress`` events; stops the download when the user cancels."""

    def __init__(self, events: EventSink, cancel: CancelToken, total: int) -> None:
        self.events, self.cancel, self.total, self.done = events, cancel, total, 0

    def add(self, count: int) -> None:
        self.cancel.check()
        self.done += count
        self.events(Progress(self.done, self.total))


class _FileBar:
    """Stands in for the tqdm bar huggingface_hub opens for each file: what it counts goes to the meter."""

    def __init__(self, meter: _Meter, *args: Any, initial: int = 0, **kwargs: Any) -> None:
        self.meter, self.n = meter, 0
        self.update(initial)

    def update(self, count: int | float | None = 1) -> None:
        count = int(count or 0)
        self.n += count
        if count:
            self.meter.add(count)

    def __enter__(self) -> _FileBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def _check_free_space(needed: int, model_id: str) -> None:
    cache = _cache_folder()
    existing = next(folder for folder in (cache, *cache.parents) if folder.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise WriteError(
            f"not enough free disk space for {model_id}: {needed / 1e6:.0f} MB to download, {free / 1e6:.0f} MB free "
            f"in {cache}",
            "free some space, or set HF_HOME to a folder on a larger disk, then try again",
        )


def _cache_folder() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


@contextlib.contextmanager
def hub_errors(model_id: str) -> Iterator[None]:
    """Turn what huggingface_hub raises into one-line errors that say what to do."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionResolutionError,
    )

    endpoint = constants.ENDPOINT
    offline = HubUnreachableError(
        "downloads from the Hugging Face Hub are switched off by HF_HUB_OFFLINE",
        "unset HF_HUB_OFFLINE (or set it to 0) to let Prompt Recycler download models",
    )
    try:
        yield
    except GatedRepoError as error:
        raise HubAccessError(
            f"{model_id} is a gated model: the Hub shares its files only with accounts that accepted its terms "
            f"(HTTP {_status(error)})",
            f"accept them on {endpoint}/{model_id}, then run `hf auth login` with a token of that account (or set "
            "HF_TOKEN) and try again",
        ) from error
    except RepositoryNotFoundError as error:
        raise HubModelNotFoundError(
            f"there is no model {model_id} on the Hugging Face Hub ({endpoint}), or it is private",
            "check the id: it reads owner/name, as in the address of the model's page; for a private model run "
            "`hf auth login`",
        ) from error
    except OfflineModeIsEnabled as error:
        raise offline from error
    except HfHubHTTPError as error:
        status = _status(error)
        if status in (401, 403):
            raise HubAccessError(
                f"the Hugging Face Hub refused access to {model_id} (HTTP {status})",
                "run `hf auth login` with a token that may read this model (or set HF_TOKEN), then try again",
            ) from error
        raise HubUnreachableError(
            f"the Hugging Face Hub ({endpoint}) could not serve {model_id} (HTTP {status})",
            "try again later; files already downloaded are kept",
        ) from error
    except (httpx2.RequestError, LocalEntryNotFoundError, RevisionResolutionError) as error:
        if isinstance(error.__cause__, OfflineModeIsEnabled):
            raise offline from error
        raise HubUnreachableError(
            f"cannot reach the Hugging Face Hub at {endpoint} ({_reason(error.__cause__ or error)})",
            "check the network connection and proxy settings (HTTPS_PROXY), or set HF_ENDPOINT to a Hub mirror you "
            "can reach; files already downloaded are kept, so the next try goes on from there",
        ) from error
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise WriteError(
                f"the disk filled up while downloading {model_id} into {_cache_folder()}",
                "free some space, or set HF_HOME to a folder on a larger disk, then try again: finished files are kept",
            ) from error
        if error.errno is None:  # huggingface_hub's check that a file arrived whole
            raise HubUnreachableError(
                f"the download of {model_id} was cut short ({_reason(error)})",
                "try again: the files that arrived whole are kept, and the next try goes on from there",
            ) from error
        raise WriteError(
            f"cannot write the download of {model_id} into {_cache_folder()} ({_reason(error)})",
            "check that folder's permissions, or set HF_HOME to a folder you can write",
        ) from error


def _status(error: Any) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]
