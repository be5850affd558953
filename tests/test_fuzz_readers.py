"""Property-based tests: the prompt and task readers on random and damaged bytes.

Whatever the bytes (random, a valid file truncated, with bits flipped, with a header claiming huge sizes), a reader
returns a valid prompt or task or raises a ``RecyclerError``: never another exception, and never more than a bounded
amount of memory. Python and numpy allocations are measured with ``tracemalloc``; torch's own allocator is not traced,
so the process's peak resident memory is checked across each test as well. Examples are derandomised (the same in
every CI run) and capped so the file runs in well under a minute.
"""

from __future__ import annotations

import io
import json
import resource
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as safetensors_bytes

from recycler_gui.core.data.tasks import Task, load_task_file
from recycler_gui.core.errors import RecyclerError
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt

PEAK_BYTES = 64 * 1024 * 1024
"""No reader may allocate more than this (traced) on the small inputs below, whatever their headers claim."""
RSS_GROWTH_BYTES = 512 * 1024 * 1024
"""Nor grow the process's peak resident memory by more than this over a whole test."""

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------------------------------- the seeds


def _prompt() -> SoftPrompt:
    return SoftPrompt(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))


def _file_seed(fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "npy":
        np.save(buffer, _prompt().encoder.numpy())
        return buffer.getvalue()
    if fmt == "safetensors":
        return safetensors_bytes({"prompt_embeddings": _prompt().encoder}, metadata={"task": "toy"})
    torch.save({"prompt_embeddings": _prompt().encoder, "metadata": {"task": "toy"}}, buffer)
    return buffer.getvalue()


SEEDS = {fmt: _file_seed(fmt) for fmt in ("npy", "safetensors", "pt")}
PEFT_CONFIG = {"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 3, "token_dim": 4,
               "num_transformer_submodules": 1, "base_model_name_or_path": "m"}

TASK_ROWS = [("great fun", "pos"), ("dull, slow", "neg"), ('a "quoted" gem', "pos"), ("awful\nplot", "neg")] * 3
TASK_SEEDS = {
    ".csv": ("text,label\n" + "".join(f'"{t.replace(chr(34), 2 * chr(34))}",{label}\n' for t, label in TASK_ROWS)),
    ".tsv": "text\tlabel\n" + "".join(f"{t.replace(chr(10), ' ')}\t{label}\n" for t, label in TASK_ROWS),
    ".jsonl": "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in TASK_ROWS),
}


# -------------------------------------------------------------------------------------------------- mutations


def _flip(data: bytes, bits: list[int]) -> bytes:
    changed = bytearray(data)
    for bit in bits:
        changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, or ``seed`` truncated, with bits flipped, or with bytes overwritten or inserted."""
    size = len(seed)
    return st.one_of(
        st.binary(max_size=256),
        st.binary(max_size=64).map(lambda tail: seed[:16] + tail),  # the right magic, then anything
        st.integers(0, size - 1).map(lambda cut: seed[:cut]),
        st.lists(st.integers(0, 8 * size - 1), min_size=1, max_size=6).map(lambda bits: _flip(seed, bits)),
        st.tuples(st.integers(0, size), st.binary(min_size=1, max_size=16), st.booleans()).map(
            lambda t: seed[:t[0]] + t[1] + seed[t[0] + (len(t[1]) if t[2] else 0):]
        ),
    )


huge = st.integers(0, 2**63 - 1) | st.integers(-(2**31), 2**31) | st.sampled_from([0, 1, 2**31, 2**40, 2**62])


def npy_with_huge_header(shape: list[int], descr: str) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 48


def safetensors_with_huge_header(shape: list[int], offsets: list[int], dtype: str, length: int | None) -> bytes:
    header = json.dumps({"prompt_embeddings": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}).encode()
    return struct.pack("<Q", len(header) if length is None else length) + header + b"\0" * 48


PAST_THE_LIMITS = [b"[" * 5000, b'{"a": 1' + b"9" * 5000 + b"}"]
"""JSON nested deeper than Python's recursion limit, and a number of more digits than ``int()`` converts."""

json_values = st.recursive(
    st.none() | st.booleans() | huge | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


# ------------------------------------------------------------------------------------------------ the property


def _bounded(read: Callable[[], Any]) -> Any:
    """``read()``'s result, or None when it raised a RecyclerError; any other exception fails the test."""
    tracemalloc.start()
    try:
        return read()
    except RecyclerError:
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < PEAK_BYTES, f"the reader allocated {peak:,} bytes"


@pytest.fixture
def rss_bound():
    """Fail when the test grew the process's peak resident memory by more than RSS_GROWTH_BYTES."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < RSS_GROWTH_BYTES, f"peak memory grew by {grown:,} bytes"


def _read_prompt_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    prompt = _bounded(lambda: read_prompt(path))
    if prompt is not None:
        assert isinstance(prompt, SoftPrompt) and prompt.encoder.dim() == 2 and prompt.encoder.numel() > 0
        assert prompt.encoder.dtype == torch.float32 and bool(torch.isfinite(prompt.encoder).all())


# ------------------------------------------------------------------------------------------------------ prompts


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_prompt_files_with_damaged_bytes(tmp_path: Path, rss_bound: None, fmt: str) -> None:
    @FUZZ
    @given(data=mutated(SEEDS[fmt]))
    def check(data: bytes) -> None:
        _read_prompt_bytes(tmp_path / f"prompt.{fmt}", data)

    check()


@FUZZ
@given(shape=st.lists(huge, max_size=4), descr=st.sampled_from(["<f4", ">f4", "<f2", "<f8", "<f16", "<i4", "|O"]))
@example(shape=[99999999999, 3], descr="<f4")
@example(shape=[0, 2771648, 831_939_340_499], descr="<f2")  # no data, yet too big for numpy
def test_npy_headers_claiming_any_shape(tmp_path: Path, rss_bound: None, shape: list[int], descr: str) -> None:
    _read_prompt_bytes(tmp_path / "prompt.npy", npy_with_huge_header(shape, descr))


@FUZZ
@given(shape=st.lists(huge, max_size=3), offsets=st.lists(huge, max_size=3),
       dtype=st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "BOOL", "F8_E4M3", "XX"]),
       length=st.none() | st.integers(0, 2**64 - 1))
def test_safetensors_headers_claiming_any_size(
    tmp_path: Path, rss_bound: None, shape: list[int], offsets: list[int], dtype: str, length: int | None
) -> None:
    _read_prompt_bytes(tmp_path / "prompt.safetensors", safetensors_with_huge_header(shape, offsets, dtype, length))


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(sorted(PEFT_CONFIG)), json_values, max_size=3),
       weights=mutated(SEEDS["safetensors"]) | st.just(SEEDS["safetensors"]))
@example(changes={"num_transformer_submodules": "abc"}, weights=SEEDS["safetensors"])
@example(changes={"num_virtual_tokens": [3]}, weights=SEEDS["safetensors"])
def test_peft_adapters_with_damaged_configs_and_weights(
    tmp_path: Path, rss_bound: None, changes: dict[str, Any], weights: bytes
) -> None:
    folder = tmp_path / "adapter"
    folder.mkdir(exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({**PEFT_CONFIG, **changes}))
    (folder / "adapter_model.safetensors").write_bytes(weights)
    prompt = _bounded(lambda: read_prompt(folder))
    assert prompt is None or isinstance(prompt, SoftPrompt)


@FUZZ
@given(config=mutated(json.dumps(PEFT_CONFIG).encode()) | st.sampled_from(PAST_THE_LIMITS))
def test_peft_configs_with_damaged_bytes(tmp_path: Path, rss_bound: None, config: bytes) -> None:
    folder = tmp_path / "adapter"
    folder.mkdir(exist_ok=True)
    (folder / "adapter_config.json").write_bytes(config)
    (folder / "adapter_model.safetensors").write_bytes(SEEDS["safetensors"])
    prompt = _bounded(lambda: read_prompt(folder))
    assert prompt is None or isinstance(prompt, SoftPrompt)


def test_a_written_prompt_of_every_format_survives_the_readers(tmp_path: Path) -> None:
    """The seeds themselves read back: the properties above are not satisfied by a reader that always refuses."""
    for fmt, data in SEEDS.items():
        (tmp_path / f"p.{fmt}").write_bytes(data)
        assert torch.equal(read_prompt(tmp_path / f"p.{fmt}").encoder, _prompt().encoder)
    folder = write_prompt(_prompt(), tmp_path / "adapter", "peft")
    assert torch.equal(read_prompt(folder).encoder, _prompt().encoder)
    for suffix, text in TASK_SEEDS.items():
        (tmp_path / f"task{suffix}").write_text(text)
        assert len(load_task_file(tmp_path / f"task{suffix}").test) == 1


# -------------------------------------------------------------------------------------------------------- tasks


def _read_task_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    task = _bounded(lambda: load_task_file(path))
    assert task is None or isinstance(task, Task)


@pytest.mark.parametrize("suffix", sorted(TASK_SEEDS))
def test_task_files_with_damaged_bytes(tmp_path: Path, rss_bound: None, suffix: str) -> None:
    @FUZZ
    @given(data=mutated(TASK_SEEDS[suffix].encode()))
    def check(data: bytes) -> None:
        _read_task_bytes(tmp_path / f"task{suffix}", data)

    check()


@FUZZ
@given(line=json_values.map(json.dumps) | st.integers(1, 5000).map(lambda n: "[" * n)
       | st.integers(4000, 5000).map(lambda n: '{"text": "a", "label": ' + "7" * n + "}"))
@example(line="[" * 5000)  # deeper than Python's recursion limit
@example(line='{"text": "a", "label": ' + "7" * 4500 + "}")  # more digits than int() converts
def test_json_lines_of_any_shape(tmp_path: Path, rss_bound: None, line: str) -> None:
    _read_task_bytes(tmp_path / "task.jsonl", (TASK_SEEDS[".jsonl"] + line + "\n").encode())


@FUZZ
@given(width=st.integers(1, 400_000))
def test_a_csv_field_of_any_length(tmp_path: Path, rss_bound: None, width: int) -> None:
    _read_task_bytes(tmp_path / "task.csv", (TASK_SEEDS[".csv"] + '"' + "x" * width + '",pos\n').encode())
