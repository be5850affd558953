"""Open a model the way practitioners have it: a Hugging Face folder, a Hub model id, a GGUF file or a demo model.

This module is the one place that resolves a model reference. A Hub id opens from the local Hugging Face cache, and is
downloaded first (``hub.py``) only when the user allows it; describing one needs only its config.

Recycling needs only the source model's input embedding table and tokenizer, so ``Checkpoint.input_embeddings`` reads
that one tensor from the weight files (safetensors, sharded or not) without building the model. The full model is
loaded only for scoring and tuning (``Checkpoint.load_model``).

Prompts live in the space of what the input embedding *layer outputs*: models such as Gemma multiply the table by
sqrt(hidden) inside that layer, and ``input_embeddings`` applies that scale, so prompts and word vectors compare.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import hashlib
import json
import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from ..errors import (
    CheckpointError,
    CorruptFileError,
    InputNotFoundError,
    ModelNotCachedError,
    OutOfMemoryError,
    RecyclerError,
    TokenizerMissingError,
    UnsupportedArchitectureError,
)
from ..events import CancelToken, EventSink, Stage, ignore_events
from ..prompts.formats import CAUSAL_TASK, SEQ2SEQ_TASK, PeftTarget
from ..storage import cache_dir, no_permission, read_error, write_text_atomic
from . import hub
from .devices import device_map_for, resolve_device, resolve_dtype
from .hub import BIN, BIN_INDEX, CONFIG, DOWNLOAD_SETTING, SAFETENSORS, SAFETENSORS_INDEX, TOKENIZER_FILES
from .zoo import resolve as resolve_zoo_model
from .zoo import zoo_model

ENCODER_DECODER = "encoder-decoder"
DECODER_ONLY = "decoder-only"
HF_CACHE = "hf-cache"
"""``read_from`` of a Hub model opened from the local Hugging Face cache."""
HUB_CONFIG = "hub-config"
"""``read_from`` of a Hub model described from its config alone, its weights not downloaded yet."""
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class EmbeddingLayout:
    """Where the input embedding table is and how the embedding layer transforms it."""

    names: tuple[str, ...]
    scale: float
    num_parameters: int
    tied: bool


class Checkpoint:
    """A model reference resolved to a local folder, with lazy access to its parts."""

    def __init__(self, reference: str, path: Path, read_from: str, config: Any) -> None:
        self.reference = reference
        self.path = path
        self.read_from = read_from
        self.config = config
        self.family = model_family(config)
        self._tokenizer: Any = None

    def __repr__(self) -> str:
        return f"Checkpoint({self.reference!r}, {self.family}, from {self.read_from})"

    @property
    def input_paths(self) -> list[Path]:
        """Every path this model is read from: its folder, and the ``.gguf`` file it was converted from."""
        given = Path(self.reference).expanduser()
        return [self.path, *([given] if self.read_from == "gguf" and given.is_file() else [])]

    @property
    def name(self) -> str:
        """A short display name."""
        return self.reference if self.read_from in (HF_CACHE, HUB_CONFIG) else Path(self.reference).name

    @property
    def peft_target(self) -> PeftTarget:
        """What a PEFT adapter for this model records: the model and the task type of its family."""
        return PeftTarget(self.reference, SEQ2SEQ_TASK if self.family == ENCODER_DECODER else CAUSAL_TASK)

    @property
    def architecture(self) -> str:
        return (getattr(self.config, "architectures", None) or [type(self.config).__name__])[0]

    @property
    def text_config(self) -> Any:
        return self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config

    @property
    def hidden_size(self) -> int:
        cfg = self.text_config
        return int(getattr(cfg, "hidden_size", None) or cfg.d_model)

    @property
    def vocab_size(self) -> int:
        return int(self.text_config.vocab_size)

    @cached_property
    def layout(self) -> EmbeddingLayout:
        """Embedding names, scale and parameter count, from a weightless (meta) instance of the model."""
        with warnings.catch_warnings(), _hf().init_empty_weights(include_buffers=False):
            warnings.simplefilter("ignore")
            model = _model_class(self.family).from_config(self.config)
        model.tie_weights()
        embedding = model.get_input_embeddings()
        names = [name for name, p in model.named_parameters(remove_duplicate=False) if p is embedding.weight]
        scale = getattr(embedding, "scalar_embed_scale", None)
        if scale is None:
            scale = getattr(embedding, "embed_scale", 1.0)
        scale = float(scale.item() if isinstance(scale, torch.Tensor) else scale)
        output = model.get_output_embeddings()
        tied = output is not None and output.weight is embedding.weight
        num_parameters = sum(p.numel() for p in model.parameters())
        return EmbeddingLayout(tuple(names), scale, num_parameters, tied)

    def input_embeddings(self) -> torch.Tensor:
        """The input embedding table as the embedding layer outputs it: [vocab, hidden], float32, scale applied."""
        table = self._read_weight(self.layout.names)
        if table.dim() != 2 or table.shape[1] != self.hidden_size:
            raise CheckpointError(
                f"the embedding table in {self.path} has shape {list(table.shape)}, expected [vocab, "
                f"{self.hidden_size}] from config.json",
                "the weights and config.json do not belong together; download the model again",
            )
        table = table.to(torch.float32)  # a fresh tensor (read from disk, or converted): safe to scale in place
        if self.layout.scale != 1.0:
            table.mul_(self.layout.scale)  # in place: Gemma's table is 671 MB in float32, a copy would double that
        return table

    def _read_weight(self, names: tuple[str, ...]) -> torch.Tensor:
        prefix = getattr(_model_class(self.family), "base_model_prefix", "")
        wanted = list(names) + [n.removeprefix(f"{prefix}.") for n in names] + [f"{prefix}.{n}" for n in names]
        for file, keys in self.weight_files.items():
            for name in wanted:
                if name in keys:
                    return _load_tensor(file, name)
        raise CheckpointError(
            f"no input embedding table ({', '.join(names)}) in the weights of {self.path}",
            "the weight files are incomplete; download the model again",
        )

    @cached_property
    def weight_files(self) -> dict[Path, set[str]]:
        """Each weight file with the tensor names it holds (read once)."""
        return _weight_files(self.path)

    @cached_property
    def fingerprint(self) -> str:
        """Identifies these exact weights: the folder, and each weight file's name, size and modification time."""
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        for file in sorted(self.weight_files):
            stat = file.stat()
            digest.update(f"|{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()

    def tokenizer(self) -> Any:
        """The model's tokenizer, loaded from the checkpoint folder once and shared by every caller."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def _load_tokenizer(self) -> Any:
        fix = (
            "copy the tokenizer files (tokenizer.json and tokenizer_config.json, or tokenizer.model / spiece.model) "
            "from the original model into that folder"
        )
        files = [self.path / name for name in TOKENIZER_FILES if (self.path / name).is_file()]
        if not files:
            raise TokenizerMissingError(f"{self.path} has no tokenizer files", fix)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self._read_tokenizer()
        except Exception as error:  # the Rust tokenizers binding raises a bare Exception for a damaged file
            unreadable = next(filter(None, map(no_permission, files)), None)
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            raise unreadable or TokenizerMissingError(
                f"the tokenizer in {self.path} cannot be loaded ({reason})", fix) from error

    def _read_tokenizer(self) -> Any:
        """The tokenizer, read with as little time under the GIL as the libraries allow (the window shares it).

        From a ``tokenizer.json``, the generic fast tokenizer: Rust parses the file in one call, which holds the GIL
        (1.1-1.5 s for Gemma's on an idle 2-core machine: the worst window stall left in a demo run).
        transformers 5's model-specific classes (``GemmaTokenizer``) parse the file again in Python and rebuild it from
        vocabulary and merges, holding the GIL for seconds on Gemma's 33 MB file; a config without
        ``added_tokens_decoder`` makes ``from_pretrained`` read the whole file once more for them, though the file
        holds them already. Without a ``tokenizer.json`` (SentencePiece files only): ``AutoTokenizer``."""
        hf = _hf()
        if not (self.path / "tokenizer.json").is_file():
            return hf.AutoTokenizer.from_pretrained(str(self.path))
        config_file = self.path / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        added = {} if "added_tokens_decoder" in config else {"added_tokens_decoder": {}}
        return hf.PreTrainedTokenizerFast.from_pretrained(str(self.path), **added)

    def load_model(self, device: str = "auto", dtype: str = "float32") -> Any:
        """Load the full model for scoring or tuning, frozen and in eval mode (inside ``keep_models_loaded``: once)."""
        kept = _kept_models.get()
        if kept is None:
            return self._load_model(device, dtype)
        key = (str(self.path), device, dtype)
        if key not in kept:
            kept[key] = self._load_model(device, dtype)
        return kept[key]

    def _load_model(self, device: str, dtype: str) -> Any:
        target = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, target)
        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        device_map = device_map_for(target, self.layout.num_parameters * torch.finfo(torch_dtype).bits // 8)
        sharded = device_map is not None
        if sharded:
            kwargs["device_map"] = device_map
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _model_class(self.family).from_pretrained(str(self.path), **kwargs)
            if not sharded:
                model.to(target)
        except torch.OutOfMemoryError as error:
            raise OutOfMemoryError(
                f"out of memory loading {self.name} ({self.layout.num_parameters / 1e6:.0f}M parameters, {dtype}) "
                f"on {target}",
                "choose --dtype bfloat16, a smaller model, or --device cpu",
            ) from error
        except (OSError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"cannot load the weights of {self.path} ({type(error).__name__}: {str(error).splitlines()[0][:200]})",
                "the weight files are incomplete or damaged; download the model again",
            ) from error
        model.eval()
        model.requires_grad_(False)
        return model

    def describe(self) -> dict[str, Any]:
        """Stable JSON-ready description (used by ``inspect`` and the GUI's summary)."""
        return {
            "kind": "checkpoint",
            "reference": self.reference,
            "path": str(self.path),
            "read_from": self.read_from,
            "family": self.family,
            "architecture": self.architecture,
            "model_type": getattr(self.config, "model_type", None),
            "hidden_size": self.hidden_size,
            "vocab_size": self.vocab_size,
            "embedding_scale": self.layout.scale,
            "tied_embeddings": self.layout.tied,
            "parameters": self.layout.num_parameters,
        }


# ------------------------------------------------------------------------------------------------------------ opening


_import_lock = threading.Lock()
_kept_models: contextvars.ContextVar[dict[tuple[str, str, str], Any] | None] = contextvars.ContextVar(
    "kept_models", default=None
)


@contextlib.contextmanager
def keep_models_loaded() -> Iterator[None]:
    """Within the block (in this thread), each model is loaded once and kept: many runs with the same models (a batch
    of prompts) share them. They are freed when the block ends."""
    token = _kept_models.set({})
    try:
        yield
    finally:
        _kept_models.reset(token)
        gc.collect()


@functools.cache
def _hf() -> SimpleNamespace:
    """The transformers and accelerate names we use, imported once under a lock.

    transformers resolves its names lazily on first use, and two threads doing that at once (the GUI describes the
    source and the target model in parallel) can fail with "cannot import name 'AutoConfig'".
    """
    with _import_lock:
        from accelerate import init_empty_weights
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
            PreTrainedTokenizerFast,
        )
        from transformers.models.auto import modeling_auto
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own events report progress; tqdm bars would garble the terminal

    return SimpleNamespace(
        init_empty_weights=init_empty_weights, AutoConfig=AutoConfig, AutoTokenizer=AutoTokenizer,
        PreTrainedTokenizerFast=PreTrainedTokenizerFast, AutoModelForCausalLM=AutoModelForCausalLM,
        AutoModelForSeq2SeqLM=AutoModelForSeq2SeqLM,
        modeling_auto=modeling_auto,
    )


def open_checkpoint(
    reference: str | Path,
    *,
    download: bool | None = None,
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> Checkpoint:
    """Resolve a folder, a ``.gguf`` file, a demo model's short name or a Hugging Face Hub id to a ``Checkpoint``.

    A Hub id opens from the local Hugging Face cache. When it is not there (or only partly), it is downloaded when
    ``download`` is true, or when it is None and ``PROMPT_RECYCLER_DOWNLOAD`` is set; otherwise the error says how.
    """
    text = str(reference)
    path = Path(text).expanduser()
    if not path.exists() and (zoo := zoo_model(text)) is not None:
        folder = _converted(resolve_zoo_model(zoo.name), events)
        return Checkpoint(zoo.name, folder, "gguf", _read_config(folder))
    if path.exists():
        if path.is_file() and path.name == CONFIG:
            path = path.parent
        if path.is_dir():
            return Checkpoint(text, path, "folder", _read_config(path))
        if is_gguf(path):
            folder = _converted(path, events)
            return Checkpoint(text, folder, "gguf", _read_config(folder))
        raise CheckpointError(
            f"{path} is a file but not a GGUF model",
            "give a model folder (with config.json and weights), a .gguf file, or a Hugging Face model id",
        )
    if not is_hub_id(text):
        raise InputNotFoundError(f"no such file or folder: {text}", "check the path")
    folder = hub.cached_model(text)
    if folder is None:
        if not hub.downloads_allowed(download):
            raise _not_cached(text)
        folder = hub.download_model(text, events, cancel)
    return Checkpoint(text, folder, HF_CACHE, _read_config(folder))


def describe_reference(reference: str | Path, *, download: bool | None = None) -> dict[str, Any]:
    """``Checkpoint.describe`` of a model reference, for pickers and ``inspect``.

    A Hub id whose weights are not in the cache is described from its config alone (fetched when downloads are
    allowed, or read from the cache), with ``download_bytes``: what a run would still download.
    """
    text = str(reference)
    if not is_hub_id(text) or hub.cached_model(text) is not None:
        return open_checkpoint(text, download=False).describe()
    remaining: int | None = None
    if hub.downloads_allowed(download):
        remote = hub.download_config(text)
        folder, remaining = remote.folder, remote.download_bytes
    elif (cached := hub.cached_config(text)) is not None:
        folder = cached
    else:
        raise _not_cached(text)
    info = Checkpoint(text, folder, HUB_CONFIG, _read_config(folder)).describe()
    info["download_bytes"] = remaining
    return info


def is_hub_id(reference: str) -> bool:
    """True when ``reference`` can only mean a Hugging Face Hub id: not a path here, not a demo model's name."""
    return (
        _HUB_ID.match(reference) is not None and not reference.startswith(".")
        and not Path(reference).expanduser().exists() and zoo_model(reference) is None
    )


def _not_cached(model_id: str) -> ModelNotCachedError:
    return ModelNotCachedError(
        f"'{model_id}' is neither a local path nor a whole model in the local Hugging Face cache, and downloads are "
        "off",
        f"let Prompt Recycler download it: add --download (or set {DOWNLOAD_SETTING}=1, or tick 'Download models from "
        f"the Hugging Face Hub' in the window); or on a machine with internet run `hf download {model_id}` and copy "
        "~/.cache/huggingface/hub (or HF_HUB_CACHE) here. The demo models come by short name: "
        "`prompt-recycler models list`",
    )


def _read_config(folder: Path) -> Any:
    if not (folder / CONFIG).is_file():
        raise CheckpointError(
            f"the folder {folder} has no config.json, so it is not a Hugging Face model folder",
            "pick the folder that holds config.json and the weights, or a .gguf file",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = _hf().AutoConfig.from_pretrained(str(folder))
    except (ValueError, KeyError) as error:
        model_type = _raw_model_type(folder)
        raise UnsupportedArchitectureError(
            f"transformers does not know the model type {model_type!r} of {folder}",
            "upgrade transformers (pip install -U transformers) or pick a model it supports",
        ) from error
    except OSError as error:
        raise no_permission(folder / "config.json") or CorruptFileError(
            f"{folder / 'config.json'} cannot be read ({error})", "restore the model's config.json"
        ) from error
    model_family(config)
    return config


def _raw_model_type(folder: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("model_type")
    return None


def model_family(config: Any) -> str:
    """``encoder-decoder`` or ``decoder-only``; other models cannot take a soft prompt we can score."""
    auto = _hf().modeling_auto

    model_type = getattr(config, "model_type", None)
    arch = (getattr(config, "architectures", None) or [model_type])[0]
    if getattr(config, "is_encoder_decoder", False) and model_type in auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return ENCODER_DECODER
    encoder_only = model_type in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(config, "is_decoder", False)
    if model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not encoder_only:
        return DECODER_ONLY
    why = "an encoder-only model: it does not generate text" if encoder_only else "not a text-generating model"
    raise UnsupportedArchitectureError(
        f"{arch} ({model_type}) is {why}, so it cannot be prompt-tuned or scored here",
        "use a decoder-only model (GPT-2, Llama, Gemma, Qwen, SmolLM, ...) or an encoder-decoder model (T5)",
    )


def _model_class(family: str) -> Any:
    hf = _hf()
    return hf.AutoModelForSeq2SeqLM if family == ENCODER_DECODER else hf.AutoModelForCausalLM


# ------------------------------------------------------------------------------------------------------- weight files


def _weight_files(folder: Path) -> dict[Path, set[str]]:
    """Each weight file of a checkpoint with the tensor names it holds."""
    for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError) as error:
                raise CorruptFileError(f"{index} is not a valid weight index ({error})", "restore the file") from error
            files: dict[Path, set[str]] = {}
            for name, file in weight_map.items():
                files.setdefault(folder / file, set()).add(name)
            return files
    if (folder / SAFETENSORS).is_file():
        return {folder / SAFETENSORS: _safetensors_keys(folder / SAFETENSORS)}
    if (folder / BIN).is_file():
        return {folder / BIN: set(_load_bin(folder / BIN))}
    raise CheckpointError(
        f"{folder} has config.json but no weights (model.safetensors, pytorch_model.bin or a sharded index)",
        "copy the weight files into that folder or download the model again",
    )


def _safetensors_keys(file: Path) -> set[str]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            return set(handle.keys())
    except Exception as error:
        raise _truncated(file, error) from error


def _load_tensor(file: Path, name: str) -> torch.Tensor:
    if file.suffix != ".safetensors":
        return _load_bin(file)[name]
    from safetensors import safe_open

    if not file.is_file():
        raise CheckpointError(f"the weight shard {file} is missing", "download the model again")
    try:
        with safe_open(str(file), framework="pt") as handle:
            return handle.get_tensor(name)
    except Exception as error:
        raise _truncated(file, error) from error


def _load_bin(file: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise _truncated(file, error) from error


def _truncated(file: Path, error: BaseException) -> RecyclerError:
    return no_permission(file) or CorruptFileError(
        f"the weights file {file} cannot be read; it is truncated or damaged ({type(error).__name__}: {error})",
        "download the model again",
    )


# --------------------------------------------------------------------------------------------------------------- GGUF


def is_gguf(path: Path) -> bool:
    """True when ``path`` is a GGUF file (by its magic bytes)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError as error:
        raise read_error(path, error) from error


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered by (path, size, mtime) so a large GGUF is hashed once."""
    stat = path.stat()
    memo_file = cache_dir() / "gguf" / "hashes.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        memo[key] = digest.hexdigest()
        write_text_atomic(memo_file, json.dumps(memo, indent=1))
    return memo[key]


def converted_folder(path: Path) -> Path:
    """Where ``convert_gguf`` keeps (or will keep) the float folder of a GGUF file: named by its SHA-256."""
    return cache_dir() / "gguf" / f"{path.stem}-{file_sha256(path)[:16]}"


def _converted(path: Path, events: EventSink) -> Path:
    """The converted folder of a GGUF file, converting it first (with a stage) the first time it is opened."""
    if not (converted_folder(path) / CONFIG).is_file():
        events(Stage(f"converting {path.name} to a float safetensors folder (once; a minute or two)"))
    return convert_gguf(path)


def convert_gguf(path: Path) -> Path:
    """De-quantise a GGUF model once into a float safetensors folder under the user cache; return that folder."""
    folder = converted_folder(path)
    if (folder / CONFIG).is_file():
        return folder
    digest = file_sha256(path)
    gguf_args = {"gguf_file": path.name}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = _hf().AutoConfig.from_pretrained(str(path.parent), **gguf_args)
            model_class = _model_class(model_family(config))
            model = model_class.from_pretrained(str(path.parent), dtype=torch.float32, **gguf_args)
            tokenizer = _hf().AutoTokenizer.from_pretrained(str(path.parent), **gguf_args)
    except UnsupportedArchitectureError:
        raise
    except ValueError as error:
        if "not supported" in str(error).lower() or "architecture" in str(error).lower():
            raise UnsupportedArchitectureError(
                f"transformers cannot load the architecture in {path} ({str(error).splitlines()[0][:200]})",
                "use a Hugging Face folder of that model, or a GGUF of a supported architecture (Llama, Gemma, "
                "Qwen, Mistral, GPT-2, T5, ...)",
            ) from error
        raise _truncated(path, error) from error
    except Exception as error:
        raise _truncated(path, error) from error
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    (partial / "prompt_recycler_source.json").write_text(
        json.dumps({"gguf": str(path.resolve()), "sha256": digest, "bytes": path.stat().st_size}, indent=2)
    )
    try:
        partial.rename(folder)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not (folder / CONFIG).is_file():
            raise
    return folder
