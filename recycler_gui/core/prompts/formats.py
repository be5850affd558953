"""Soft prompts and the files they live in: PEFT prompt-tuning adapters, T5X ``.npy``, safetensors and torch ``.pt``.

A ``SoftPrompt`` holds the rows prepended to a model's input embeddings ([tokens, width], float32, CPU) and, for
encoder-decoder PEFT adapters, the rows prepended to the decoder input. Formats are recognised by content, so a T5X
file without an extension (``encoder.prompt.prompt.prompt``) reads as well as ``prompt.npy``.
"""

from __future__ import annotations

import io
import json
import math
import struct
import tokenize
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from ..errors import (
    AmbiguousKeyError,
    CorruptFileError,
    InputNotFoundError,
    NotPromptTuningError,
    OverwriteError,
    PromptShapeError,
    PromptValueError,
    RecyclerError,
    UnknownFormatError,
)
from ..storage import (
    ensure_not_input,
    guard_outputs,
    no_permission,
    read_error,
    staged_folder,
    write_bytes_atomic,
    write_text_atomic,
)

FORMATS = ("peft", "npy", "safetensors", "pt")
"""Every format we read and write, by the name the CLI and GUI use."""

PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
PEFT_KEY = "prompt_embeddings"
DECODER_KEY = "decoder_prompt_embeddings"
SEQ2SEQ_TASK = "SEQ_2_SEQ_LM"
CAUSAL_TASK = "CAUSAL_LM"

_META_FIELDS = ("source_model", "task", "init")
OUR_MARK = ("written_by", "prompt-recycler")
"""The metadata entry every prompt file and adapter we write carries: how an earlier output of ours is recognised."""
MAX_PROMPT_TENSORS = 8
"""A file of more tensors than this, none of them plainly the prompt, is taken for a model's weights."""
MAX_CONFIG_BYTES = 1_000_000
"""An ``adapter_config.json`` larger than this is not one (PEFT writes about 1 kB)."""


@dataclass(frozen=True)
class PromptMeta:
    """Where a prompt came from. Every field is optional: files from elsewhere rarely say."""

    source_model: str | None = None
    task: str | None = None
    init: str | None = None
    origin_format: str | None = None
    origin_path: str | None = None
    key: str | None = None
    task_type: str | None = None


@dataclass(frozen=True, eq=False)
class SoftPrompt:
    """Soft prompt rows: ``encoder`` [tokens, width] and, for seq2seq adapters, ``decoder`` [tokens, width]."""

    encoder: torch.Tensor
    decoder: torch.Tensor | None = None
    meta: PromptMeta = field(default_factory=PromptMeta)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", _checked_table(self.encoder, "the prompt"))
        if self.decoder is not None:
            decoder = _checked_table(self.decoder, "the decoder prompt")
            if decoder.shape != self.encoder.shape:
                raise PromptShapeError(
                    f"the decoder prompt has shape {list(decoder.shape)} but the encoder prompt "
                    f"{list(self.encoder.shape)}",
                    "both halves of a seq2seq prompt must have the same number of rows and width",
                )
            object.__setattr__(self, "decoder", decoder)

    @property
    def num_tokens(self) -> int:
        """Virtual tokens per half."""
        return int(self.encoder.shape[0])

    @property
    def dim(self) -> int:
        """Width of each row: the hidden size of the model the prompt belongs to."""
        return int(self.encoder.shape[1])

    @property
    def halves(self) -> int:
        """1 for an encoder (or decoder-only) prompt, 2 when it carries decoder rows too."""
        return 1 if self.decoder is None else 2

    def tables(self) -> list[torch.Tensor]:
        """The row tables, encoder first."""
        return [self.encoder] if self.decoder is None else [self.encoder, self.decoder]

    def with_tables(self, tables: list[torch.Tensor], **meta: Any) -> SoftPrompt:
        """A prompt with new row tables (same layout) and updated metadata."""
        decoder = tables[1] if len(tables) > 1 else None
        return SoftPrompt(tables[0], decoder, replace(self.meta, **meta))


def _checked_table(table: Any, what: str) -> torch.Tensor:
    tensor = torch.as_tensor(table)
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 2:
        raise PromptShapeError(
            f"{what} has shape {list(tensor.shape)} (rank {tensor.dim()}), not [tokens, width]",
            "a soft prompt is a 2-D table with one row per virtual token; check that this is a prompt file",
        )
    if not tensor.is_floating_point():
        raise PromptValueError(
            f"{what} has dtype {str(tensor.dtype).removeprefix('torch.')}, not a floating-point type",
            "save the prompt as float32, float16 or bfloat16",
        )
    if tensor.numel() == 0:
        raise PromptShapeError(f"{what} is empty (shape {list(tensor.shape)})", "use a prompt with at least one row")
    tensor = tensor.detach().to("cpu", torch.float32).contiguous()
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).any(dim=1).sum())
        raise PromptValueError(
            f"{what} has NaN or infinite values in {bad} of its {tensor.shape[0]} rows",
            "the prompt diverged during training; use an earlier checkpoint of it",
        )
    return tensor


# --------------------------------------------------------------------------------------------------------- detection


def detect_format(path: Path) -> str:
    """Name the prompt format of ``path`` by looking at its content; raise a clear error when it is none of ours."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"no such file or folder: {path}", "check the path of the prompt")
    if path.is_dir():
        try:
            names = {entry.name for entry in path.iterdir()}
        except OSError as error:
            raise read_error(path, error) from error
        if PEFT_CONFIG in names:
            return "peft"
        if "config.json" in names:
            raise UnknownFormatError(
                f"{path} is a model checkpoint, not a prompt", "pass it as the source or target model instead"
            )
        raise UnknownFormatError(
            f"the folder {path} has no {PEFT_CONFIG}, so it is not a PEFT adapter",
            "pick the adapter folder (the one holding adapter_config.json) or a prompt file",
        )
    if path.name == PEFT_CONFIG or (path.name in PEFT_WEIGHTS and (path.parent / PEFT_CONFIG).is_file()):
        return "peft"
    return _file_format(path)


def _file_format(path: Path) -> str:
    """The format of a single prompt file, by its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
        size = path.stat().st_size
    except OSError as error:
        raise read_error(path, error) from error
    if not head:
        raise CorruptFileError(f"{path} is empty", "the file was not written completely; export the prompt again")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "pt"
    if head.startswith(b"GGUF"):
        raise UnknownFormatError(f"{path} is a GGUF model file, not a prompt", "pass it as the source or target model")
    if len(head) >= 9 and head[8:9] == b"{":  # before the pickle test: a 128-byte header starts with byte 0x80 too
        header_len = struct.unpack("<Q", head[:8])[0]
        if 2 <= header_len <= size - 8:
            return "safetensors"
        if head[:1] != b"\x80":
            raise CorruptFileError(
                f"{path} looks like a safetensors file but is shorter than its header says (truncated)",
                "copy or export the file again",
            )
    if head[:1] == b"\x80":
        return "pt"
    raise UnknownFormatError(
        f"cannot tell what {path} holds: it is not a PEFT adapter, .npy, safetensors or torch file",
        "give a PEFT prompt-tuning adapter folder, a T5X .npy prompt, or a safetensors / .pt file with one tensor",
    )


def guard_prompt_outputs(outputs: Iterable[Path | str], inputs: Iterable[Path | str]) -> None:
    """``storage.guard_outputs`` for prompt files and adapter folders: only outputs we wrote are replaced, and an
    existing ``.npy``, which carries no mark of who wrote it, never is (said so, not "not ours")."""
    outputs, inputs = [Path(path) for path in outputs], [Path(path) for path in inputs]
    for output in outputs:
        ensure_not_input(output, inputs)
        if output.suffix.lower() == ".npy" and output.is_file():
            raise OverwriteError(
                f"refusing to replace {output}: a .npy file carries no mark of who wrote it, so an existing one is "
                "never replaced",
                "choose a new name, or delete it first if you mean to replace it",
            )
    guard_outputs(outputs, inputs, written_by_us)


def written_by_us(path: Path | str) -> bool:
    """Whether ``path`` is a prompt file or PEFT adapter folder Prompt Recycler wrote (its metadata has ``OUR_MARK``).

    Only such outputs are ever replaced. T5X ``.npy`` files carry no metadata, so an existing ``.npy`` is never ours.
    """
    path = Path(path)
    try:
        if path.is_dir():
            if not (path / PEFT_CONFIG).is_file():
                return False
            path, fmt = path / PEFT_WEIGHTS[0], "safetensors"
        else:
            fmt = _file_format(path)
        if fmt not in ("safetensors", "pt"):
            return False
        return _read_tensor_file(path, fmt)[1].get(OUR_MARK[0]) == OUR_MARK[1]
    except (RecyclerError, OSError):
        return False


# ----------------------------------------------------------------------------------------------------------- reading


def read_prompt(path: Path | str, key: str | None = None) -> SoftPrompt:
    """Read a soft prompt from any supported file, detecting the format by content.

    ``key`` picks the tensor in safetensors / ``.pt`` files that hold several.
    """
    path = Path(path)
    fmt = detect_format(path)
    if key is not None and fmt in ("peft", "npy"):  # it was ignored: the user thought another tensor was read
        what = "a PEFT adapter" if fmt == "peft" else "a .npy file"
        raise AmbiguousKeyError(f"the key {key!r} does not apply to {path}: {what} holds one prompt table",
                                "leave the key out")
    if fmt == "peft":
        return _read_peft(path if path.is_dir() else path.parent)
    if fmt == "npy":
        return _read_npy(path)
    tensors, file_meta = _read_tensor_file(path, fmt)
    return _prompt_from_tensors(tensors, file_meta, key, path, fmt)


def _read_npy(path: Path) -> SoftPrompt:
    _check_npy_header(path)
    try:  # float32 in native byte order, whatever float type and byte order the file used
        array = np.array(np.load(path, allow_pickle=False), dtype=np.float32)
    except (OSError, EOFError, ValueError) as error:  # also an empty shape whose other sizes overflow
        raise _corrupt(path, error) from error
    return SoftPrompt(torch.from_numpy(array), meta=PromptMeta(origin_format="npy", origin_path=str(path)))


def _check_npy_header(path: Path) -> None:
    """Check the header of a ``.npy`` file before its data is read: a float array whose size fits the file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unknown .npy format version {version[0]}.{version[1]}")
            length_field = handle.read(2 if version == (1, 0) else 4)
            if int.from_bytes(length_field, "little") > size:  # numpy would allocate what the field claims
                raise ValueError(f"the header claims {int.from_bytes(length_field, 'little'):,} bytes")
            handle.seek(-len(length_field), io.SEEK_CUR)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            data_bytes = size - handle.tell()
    except (OSError, EOFError, ValueError, TypeError, SyntaxError, tokenize.TokenError) as error:  # numpy's parser
        raise _corrupt(path, error) from error
    if dtype.hasobject:
        raise PromptValueError(
            f"{path} holds Python objects, not a numeric array", "save the prompt with numpy.save(float_array)"
        )
    if dtype.kind != "f":
        raise PromptValueError(f"{path} holds {dtype} values, not floating point", "save the prompt as a float32 array")
    claimed = math.prod(shape) * dtype.itemsize
    if any(size < 0 for size in shape) or claimed > data_bytes:
        raise CorruptFileError(
            f"{path} is truncated or damaged: its .npy header claims shape {list(shape)} ({claimed:,} bytes of "
            f"data), but only {max(data_bytes, 0):,} bytes follow the header",
            "copy or export the file again",
        )


def _read_tensor_file(path: Path, fmt: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if fmt == "safetensors":
        try:
            with safe_open(str(path), framework="pt") as handle:
                return {name: handle.get_tensor(name) for name in handle.keys()}, dict(handle.metadata() or {})  # noqa: SIM118
        except (SafetensorError, OSError, ValueError, TypeError) as error:
            raise _corrupt(path, error) from error
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before failing on damaged files
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        text = str(error)
        if "Unsupported global" in text:
            raise UnknownFormatError(
                f"{path} holds Python objects besides tensors, which we do not unpickle for safety",
                "save just the prompt tensor (torch.save(prompt_tensor, path)) or a dict of tensors",
            ) from error
        if _TORCH_REASON in text:  # keep torch's reason, not its advice to load with weights_only=False
            reason = " ".join(text.split(_TORCH_REASON, 1)[1].split("Check the documentation", 1)[0].split())
            raise CorruptFileError(f"{path} cannot be read; it may be truncated or damaged ({reason})",
                                   "copy or export the file again") from error
        raise _corrupt(path, error) from error
    metadata = loaded.get("metadata") if isinstance(loaded, dict) else None
    meta = {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
    return _flatten_tensors(loaded), meta


_TORCH_REASON = "WeightsUnpickler error:"
"""Where torch's message on a file its safe loader refuses gives the reason, after its general advice."""


def _flatten_tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return {prefix or "tensor": obj}
    found: dict[str, torch.Tensor] = {}
    if isinstance(obj, Mapping):
        for name, value in obj.items():
            found.update(_flatten_tensors(value, f"{prefix}.{name}" if prefix else str(name)))
    return found


def _corrupt(path: Path, error: BaseException) -> RecyclerError:
    if isinstance(error, PermissionError):
        return read_error(path, error)
    detail = " ".join(str(error).split())[:300]  # one line, however many the library used
    return no_permission(path) or CorruptFileError(
        f"{path} cannot be read; it may be truncated or damaged ({type(error).__name__}: {detail})",
        "copy or export the file again",
    )


def _prompt_from_tensors(
    tensors: dict[str, torch.Tensor], file_meta: dict[str, str], key: str | None, path: Path, fmt: str
) -> SoftPrompt:
    decoder = None
    if key is None and PEFT_KEY in tensors and DECODER_KEY in tensors:
        key, decoder = PEFT_KEY, tensors[DECODER_KEY]
    key = key if key is not None else _pick_key(tensors, path)
    if key not in tensors:
        raise AmbiguousKeyError(
            f"{path} has no tensor named {key!r}; it holds {_describe_keys(tensors)}", "pass one of those with --key"
        )
    meta = PromptMeta(
        **{name: file_meta.get(name) or None for name in _META_FIELDS},
        origin_format=fmt,
        origin_path=str(path),
        key=key,
        task_type=file_meta.get("task_type") or None,
    )
    return SoftPrompt(tensors[key], decoder, meta)


def _pick_key(tensors: dict[str, torch.Tensor], path: Path) -> str:
    if not tensors:
        raise PromptShapeError(f"{path} holds no tensors", "save the prompt tensor into the file")
    if len(tensors) == 1:
        return next(iter(tensors))
    tables = [name for name, tensor in tensors.items() if tensor.squeeze(0).dim() == 2]
    if len(tables) == 1:
        return tables[0]
    named = [name for name in tables if "prompt" in name.lower()]
    if len(named) == 1:
        return named[0]
    if len(tensors) > MAX_PROMPT_TENSORS or (path.parent / "config.json").is_file():
        raise UnknownFormatError(
            f"{path} holds a model's weights ({len(tensors)} tensors), not a prompt",
            "pick a prompt file or PEFT adapter folder; the model's folder goes in as the source or target model",
        )
    raise AmbiguousKeyError(
        f"{path} holds several tensors that could be the prompt: {_describe_keys(tensors)}",
        "say which with --key NAME (the window reads a file with one prompt tensor: save that one on its own)",
    )


def _describe_keys(tensors: Mapping[str, torch.Tensor], shown: int = 6) -> str:
    """The first ``shown`` tensors' names and shapes, and how many more there are."""
    names = [f"{name} {list(tensor.shape)}" for name, tensor in list(tensors.items())[:shown]]
    more = f" and {len(tensors) - shown} more" if len(tensors) > shown else ""
    return ", ".join(names) + more if names else "nothing"


def _read_peft(folder: Path) -> SoftPrompt:
    config = read_peft_config(folder)
    weights = next((folder / name for name in PEFT_WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        raise CorruptFileError(
            f"the adapter folder {folder} has {PEFT_CONFIG} but no {' or '.join(PEFT_WEIGHTS)}",
            "copy the adapter's weights file next to its config",
        )
    fmt = "safetensors" if weights.suffix == ".safetensors" else "pt"
    tensors, file_meta = _read_tensor_file(weights, fmt)
    if PEFT_KEY not in tensors:
        raise CorruptFileError(
            f"{weights} has no '{PEFT_KEY}' tensor (it holds {_describe_keys(tensors)})",
            "save the adapter with PEFT's save_pretrained, or export it again",
        )
    table = tensors[PEFT_KEY]
    task_type = config.get("task_type")
    default_halves = 2 if task_type == SEQ2SEQ_TASK else 1
    halves = config.get("num_transformer_submodules") or default_halves
    tokens = config.get("num_virtual_tokens")
    if table.dim() != 2:
        raise PromptShapeError(
            f"{weights} stores '{PEFT_KEY}' with shape {list(table.shape)}, not [rows, width]",
            "export the adapter again with PEFT",
        )
    if halves not in (1, 2):
        raise CorruptFileError(
            f"{folder / PEFT_CONFIG} says num_transformer_submodules={halves!r}; a prompt has 1 or 2 halves",
            "restore the file PEFT wrote, or export the adapter again",
        )
    if tokens is not None and table.shape[0] != tokens * halves:
        raise PromptShapeError(
            f"{weights} has {table.shape[0]} prompt rows but its config says num_virtual_tokens={tokens} x "
            f"num_transformer_submodules={halves} = {tokens * halves}",
            "the weights and adapter_config.json come from different adapters; keep the pair PEFT saved together",
        )
    token_dim = config.get("token_dim")
    if token_dim is not None and table.shape[1] != token_dim:
        raise PromptShapeError(
            f"{weights} has rows of width {table.shape[1]} but its config says token_dim={token_dim}",
            "the weights and adapter_config.json come from different adapters; keep the pair PEFT saved together",
        )
    encoder, decoder = (table, None) if halves == 1 else table.chunk(2, dim=0)
    init = config.get("prompt_tuning_init")
    if init == "TEXT" and config.get("prompt_tuning_init_text"):
        init = f"TEXT: {config['prompt_tuning_init_text']}"
    meta = PromptMeta(
        source_model=file_meta.get("source_model") or config.get("base_model_name_or_path"),
        task=file_meta.get("task") or None,
        init=file_meta.get("init") or init,
        origin_format="peft",
        origin_path=str(folder),
        key=PEFT_KEY,
        task_type=task_type,
    )
    return SoftPrompt(encoder, decoder, meta)


def read_peft_config(folder: Path) -> dict[str, Any]:
    """Read and check a PEFT ``adapter_config.json``; only prompt-tuning adapters pass."""
    config_path = Path(folder) / PEFT_CONFIG
    try:
        with config_path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise read_error(config_path, error) from error
    if len(raw) > MAX_CONFIG_BYTES:
        raise CorruptFileError(f"{config_path} is over {MAX_CONFIG_BYTES:,} bytes, far too large for an adapter config",
                               "restore the file PEFT wrote, or export the adapter again")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CorruptFileError(
            f"{config_path} is not valid JSON ({error})", "restore the file PEFT wrote, or export the adapter again"
        ) from error
    if not isinstance(config, dict):
        raise CorruptFileError(f"{config_path} does not hold a JSON object", "restore the file PEFT wrote")
    for name in ("num_virtual_tokens", "num_transformer_submodules", "token_dim"):
        value = config.get(name)
        if value is not None and (type(value) is not int or value < 1):
            raise CorruptFileError(f"{config_path} has {name}={value!r}, not a positive whole number",
                                   "restore the file PEFT wrote, or export the adapter again")
    peft_type = config.get("peft_type")
    if peft_type != "PROMPT_TUNING":
        kind = {"LORA": "a LoRA", "PREFIX_TUNING": "a prefix-tuning", "P_TUNING": "a P-tuning"}.get(
            str(peft_type), f"a {peft_type}"
        )
        raise NotPromptTuningError(
            f"{folder} is {kind} adapter, not a prompt-tuning adapter",
            "Prompt Recycler moves soft prompts (PEFT PROMPT_TUNING adapters); LoRA and other adapter types "
            "change model weights and cannot be recycled this way",
        )
    return config


# ----------------------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class PeftTarget:
    """What a PEFT adapter records about the model it is for."""

    base_model: str | None = None
    task_type: str | None = None
    num_attention_heads: int | None = None
    num_layers: int | None = None


def write_prompt(
    prompt: SoftPrompt,
    path: Path | str,
    fmt: str,
    *,
    inputs: Iterable[Path | str] = (),
    peft_target: PeftTarget | None = None,
) -> Path:
    """Write ``prompt`` to ``path`` in ``fmt`` atomically and return the path written.

    Guarded like every output (``storage.guard_outputs``): never onto, into or around the prompt's own origin or any
    of ``inputs``, and never over an existing file or folder we did not write.
    """
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown output format {fmt!r}", f"choose one of {', '.join(FORMATS)}")
    path = Path(path)
    protected = [Path(p) for p in inputs]
    if prompt.meta.origin_path:
        protected.append(Path(prompt.meta.origin_path))
    guard_prompt_outputs([path], protected)
    if fmt == "peft":
        _write_peft(prompt, path, peft_target or PeftTarget())
    elif fmt == "npy":
        if prompt.decoder is not None:
            raise PromptShapeError(
                "this prompt has encoder and decoder rows, but a .npy file holds one table",
                "export it as peft or safetensors",
            )
        buffer = io.BytesIO()
        np.save(buffer, prompt.encoder.numpy())
        write_bytes_atomic(path, buffer.getvalue())
    elif fmt == "safetensors":
        write_bytes_atomic(path, safetensors_bytes(_named_tables(prompt), metadata=_file_metadata(prompt)))
    else:
        buffer = io.BytesIO()
        torch.save({**_named_tables(prompt), "metadata": _file_metadata(prompt)}, buffer)
        write_bytes_atomic(path, buffer.getvalue())
    return path


def _named_tables(prompt: SoftPrompt) -> dict[str, torch.Tensor]:
    tables = {PEFT_KEY: prompt.encoder.contiguous()}
    if prompt.decoder is not None:
        tables[DECODER_KEY] = prompt.decoder.contiguous()
    return tables


def _file_metadata(prompt: SoftPrompt) -> dict[str, str]:
    values = {name: getattr(prompt.meta, name) for name in (*_META_FIELDS, "task_type")}
    return {**{name: str(value) for name, value in values.items() if value}, OUR_MARK[0]: OUR_MARK[1]}


def _write_peft(prompt: SoftPrompt, folder: Path, target: PeftTarget) -> None:
    if folder.exists() and not folder.is_dir():
        raise UnknownFormatError(
            f"{folder} is a file, but a PEFT adapter is a folder", "choose a folder path for the adapter"
        )
    default_task = SEQ2SEQ_TASK if prompt.decoder is not None else CAUSAL_TASK
    task_type = target.task_type or prompt.meta.task_type or default_task
    config = {
        "auto_mapping": None,
        "base_model_name_or_path": target.base_model or prompt.meta.source_model,
        "inference_mode": True,
        "num_attention_heads": target.num_attention_heads,
        "num_layers": target.num_layers,
        "num_transformer_submodules": prompt.halves,
        "num_virtual_tokens": prompt.num_tokens,
        "peft_type": "PROMPT_TUNING",
        "peft_version": _peft_version(),
        "prompt_tuning_init": "RANDOM",
        "prompt_tuning_init_text": None,
        "revision": None,
        "task_type": task_type,
        "token_dim": prompt.dim,
        "tokenizer_kwargs": None,
        "tokenizer_name_or_path": None,
    }
    table = torch.cat(prompt.tables(), dim=0).contiguous()
    weights = safetensors_bytes({PEFT_KEY: table}, metadata={"format": "pt", **_file_metadata(prompt)})
    with staged_folder(folder) as stage:  # weights and config arrive together or not at all
        write_bytes_atomic(stage / PEFT_WEIGHTS[0], weights)
        write_text_atomic(stage / PEFT_CONFIG, json.dumps(config, indent=2) + "\n")


def _peft_version() -> str | None:
    try:
        return importlib_metadata.version("peft")
    except importlib_metadata.PackageNotFoundError:
        return None


def describe_prompt(prompt: SoftPrompt) -> dict[str, Any]:
    """Stable JSON-ready description of a prompt (used by ``inspect`` and the GUI's summary)."""
    norms = torch.cat(prompt.tables()).norm(dim=1)
    return {
        "kind": "prompt",
        "path": prompt.meta.origin_path,
        "format": prompt.meta.origin_format,
        "key": prompt.meta.key,
        "num_tokens": prompt.num_tokens,
        "dim": prompt.dim,
        "halves": prompt.halves,
        "rows": prompt.num_tokens * prompt.halves,
        "task_type": prompt.meta.task_type,
        "source_model": prompt.meta.source_model,
        "task": prompt.meta.task,
        "init": prompt.meta.init,
        "row_norm_mean": round(float(norms.mean()), 6),
        "row_norm_max": round(float(norms.max()), 6),
    }
