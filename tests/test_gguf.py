"""GGUF files: converted once to a float folder in the user cache, keyed by the file's hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from recycler_gui.core.errors import CorruptFileError
from recycler_gui.core.models import checkpoints
from recycler_gui.core.models.checkpoints import open_checkpoint


def test_gguf_opens_as_a_converted_folder_with_the_same_embeddings(tiny_gguf: Path, tiny_llama: Path) -> None:
    checkpoint = open_checkpoint(tiny_gguf)
    assert checkpoint.read_from == "gguf"
    assert checkpoint.family == "decoder-only"
    assert checkpoint.path.is_relative_to(Path(checkpoints.cache_dir()))
    torch.testing.assert_close(checkpoint.input_embeddings(), open_checkpoint(tiny_llama).input_embeddings())
    ids = checkpoint.tokenizer()("the movie was great").input_ids
    assert ids == open_checkpoint(tiny_llama).tokenizer()("the movie was great").input_ids


def test_second_open_reuses_the_conversion(tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = open_checkpoint(tiny_gguf).path

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted twice")

    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", no_conversion)
    assert open_checkpoint(tiny_gguf).path == first


def test_a_changed_file_gets_a_new_conversion(tiny_gguf: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copy(tiny_gguf, tmp_path / tiny_gguf.name))
    with copy.open("ab") as handle:
        handle.write(b"\0" * 32)  # same model, different bytes, different hash
    assert open_checkpoint(copy).path != open_checkpoint(tiny_gguf).path


def test_truncated_gguf(tiny_gguf: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_gguf.read_bytes()[:5000])
    with pytest.raises(CorruptFileError, match="truncated or damaged"):
        open_checkpoint(broken)
