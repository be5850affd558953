"""Soft-prompt files: every format round-trips, is recognised by content, and every bad file gets a clear error."""

from __future__ import annotations

import errno
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from recycler_gui.core.errors import (
    AmbiguousKeyError,
    CorruptFileError,
    InputNotFoundError,
    NotPromptTuningError,
    OverwriteError,
    PromptShapeError,
    PromptValueError,
    UnknownFormatError,
    WriteError,
)
from recycler_gui.core.prompts.formats import (
    FORMATS,
    PeftTarget,
    PromptMeta,
    SoftPrompt,
    detect_format,
    read_prompt,
    write_prompt,
)

META = PromptMeta(source_model="org/source", task="movie-reviews", init="class-label")


def _prompt(decoder: bool = False) -> SoftPrompt:
    generator = torch.Generator().manual_seed(0)
    encoder = torch.randn(5, 12, generator=generator)
    return SoftPrompt(encoder, torch.randn(5, 12, generator=generator) if decoder else None, META)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_rows_and_metadata(tmp_path: Path, fmt: str) -> None:
    prompt = _prompt()
    path = write_prompt(prompt, tmp_path / f"out.{fmt}", fmt)
    back = read_prompt(path)
    assert torch.equal(back.encoder, prompt.encoder)
    assert back.decoder is None
    assert back.meta.origin_format == fmt
    if fmt != "npy":  # T5X .npy files carry no metadata
        assert back.meta.source_model == "org/source"
        assert (back.meta.task, back.meta.init) == ("movie-reviews", "class-label")


@pytest.mark.parametrize("fmt", ["peft", "safetensors", "pt"])
def test_seq2seq_prompts_keep_both_halves(tmp_path: Path, fmt: str) -> None:
    prompt = _prompt(decoder=True)
    back = read_prompt(write_prompt(prompt, tmp_path / f"out.{fmt}", fmt))
    assert torch.equal(back.encoder, prompt.encoder)
    assert back.decoder is not None and torch.equal(back.decoder, prompt.decoder)


def test_seq2seq_peft_adapter_stores_two_halves_as_peft_does(tmp_path: Path) -> None:
    write_prompt(_prompt(decoder=True), tmp_path / "adapter", "peft", peft_target=PeftTarget(base_model="org/target"))
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "PROMPT_TUNING"
    assert (config["task_type"], config["num_transformer_submodules"], config["num_virtual_tokens"]) == (
        "SEQ_2_SEQ_LM", 2, 5,
    )
    assert config["base_model_name_or_path"] == "org/target"
    assert config["token_dim"] == 12


def test_npy_refuses_a_prompt_with_decoder_rows(tmp_path: Path) -> None:
    with pytest.raises(PromptShapeError, match="Export it as peft or safetensors"):
        write_prompt(_prompt(decoder=True), tmp_path / "p.npy", "npy")


def test_t5x_prompt_without_extension_is_read_by_content(tmp_path: Path) -> None:
    table = np.random.default_rng(0).standard_normal((100, 16)).astype(np.float32)
    path = tmp_path / "encoder.prompt.prompt.prompt"
    with path.open("wb") as handle:
        np.save(handle, table)
    prompt = read_prompt(path)
    assert detect_format(path) == "npy"
    assert (prompt.num_tokens, prompt.dim) == (100, 16)
    assert np.array_equal(prompt.encoder.numpy(), table)


def test_format_comes_from_content_not_extension(tmp_path: Path) -> None:
    misnamed = tmp_path / "prompt.npy"
    save_file({"weights": torch.ones(3, 4)}, str(misnamed))
    assert detect_format(misnamed) == "safetensors"
    assert read_prompt(misnamed).meta.key == "weights"


def test_bf16_and_half_prompts_read_as_float32(tmp_path: Path) -> None:
    torch.save(torch.ones(2, 4, dtype=torch.bfloat16), tmp_path / "p.pt")
    assert read_prompt(tmp_path / "p.pt").encoder.dtype == torch.float32


def test_a_leading_batch_axis_is_dropped(tmp_path: Path) -> None:
    torch.save(torch.ones(1, 3, 4), tmp_path / "p.pt")
    assert read_prompt(tmp_path / "p.pt").encoder.shape == (3, 4)


def test_obvious_prompt_tensor_is_found_in_a_dict(tmp_path: Path) -> None:
    torch.save({"step": torch.tensor(10), "prompt": torch.ones(3, 4), "bias": torch.zeros(4)}, tmp_path / "p.pt")
    assert read_prompt(tmp_path / "p.pt").meta.key == "prompt"


def test_nested_state_dict_keys_are_dotted(tmp_path: Path) -> None:
    torch.save({"state_dict": {"soft_prompt": torch.ones(3, 4)}}, tmp_path / "p.pt")
    assert read_prompt(tmp_path / "p.pt").meta.key == "state_dict.soft_prompt"


def test_ambiguous_file_asks_for_key_and_key_chooses(tmp_path: Path) -> None:
    path = tmp_path / "two.safetensors"
    save_file({"a": torch.ones(3, 4), "b": torch.zeros(2, 4)}, str(path))
    with pytest.raises(AmbiguousKeyError, match=r"a \[3, 4\], b \[2, 4\].*--key"):
        read_prompt(path)
    assert read_prompt(path, key="b").num_tokens == 2
    with pytest.raises(AmbiguousKeyError, match="no tensor named 'c'"):
        read_prompt(path, key="c")


def test_a_models_weights_file_given_as_the_prompt_is_named_so_in_one_short_line(tiny_llama: Path) -> None:
    """A model's model.safetensors in the prompt field listed its every tensor (30 lines in the window) and asked for
    --key, which the window does not have."""
    with pytest.raises(UnknownFormatError, match=r"holds a model's weights \(\d+ tensors\), not a prompt") as caught:
        read_prompt(tiny_llama / "model.safetensors")
    assert len(str(caught.value)) < 250 and "source or target model" in caught.value.fix


def test_a_long_list_of_candidate_tensors_is_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "many.safetensors"
    save_file({f"prompt_{i}": torch.ones(3, 4) for i in range(8)}, str(path))
    with pytest.raises(AmbiguousKeyError, match=r"prompt_5 \[3, 4\] and 2 more\."):
        read_prompt(path)


def test_reading_a_peft_adapter_through_its_weights_file(tmp_path: Path) -> None:
    write_prompt(_prompt(), tmp_path / "adapter", "peft")
    assert read_prompt(tmp_path / "adapter" / "adapter_model.safetensors").meta.origin_format == "peft"
    assert read_prompt(tmp_path / "adapter" / "adapter_config.json").num_tokens == 5


def test_legacy_bin_adapter_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    write_prompt(_prompt(), folder, "peft")
    (folder / "adapter_model.safetensors").unlink()
    torch.save({"prompt_embeddings": torch.ones(5, 12)}, folder / "adapter_model.bin")
    assert torch.equal(read_prompt(folder).encoder, torch.ones(5, 12))


# ------------------------------------------------------------------------------------------------------------ errors


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file or folder"):
        read_prompt(tmp_path / "nope.npy")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CorruptFileError, match="is empty"):
        read_prompt(tmp_path / "empty.pt")


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, I am not a prompt")
    with pytest.raises(UnknownFormatError, match="cannot tell what"):
        read_prompt(tmp_path / "notes.txt")


def test_a_gguf_model_given_as_prompt(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(UnknownFormatError, match="GGUF model file, not a prompt"):
        read_prompt(tmp_path / "model.gguf")


def test_a_model_folder_given_as_prompt(tiny_llama: Path) -> None:
    with pytest.raises(UnknownFormatError, match="model checkpoint, not a prompt"):
        read_prompt(tiny_llama)


def test_folder_without_adapter_config(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="no adapter_config.json"):
        read_prompt(tmp_path)


def test_truncated_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "p.safetensors"
    save_file({"prompt": torch.ones(50, 40)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match="truncated or damaged"):
        read_prompt(path)


def test_safetensors_shorter_than_its_header(tmp_path: Path) -> None:
    path = tmp_path / "p.safetensors"
    path.write_bytes(struct.pack("<Q", 4000) + b'{"prompt": ')
    with pytest.raises(CorruptFileError, match="truncated"):
        read_prompt(path)


def test_truncated_npy(tmp_path: Path) -> None:
    path = tmp_path / "p.npy"
    np.save(path, np.ones((20, 8), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-64])
    with pytest.raises(CorruptFileError, match="truncated or damaged"):
        read_prompt(path)


def test_lora_adapter_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    with pytest.raises(NotPromptTuningError, match="LoRA adapter, not a prompt-tuning adapter"):
        read_prompt(tmp_path)


def test_adapter_config_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{peft_type: PROMPT")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_prompt(tmp_path)


def test_adapter_without_weights(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    with pytest.raises(CorruptFileError, match="no adapter_model.safetensors or adapter_model.bin"):
        read_prompt(tmp_path)


def test_rank_one_tensor(tmp_path: Path) -> None:
    torch.save(torch.ones(12), tmp_path / "p.pt")
    with pytest.raises(PromptShapeError, match=r"shape \[12\] \(rank 1\), not \[tokens, width\]"):
        read_prompt(tmp_path / "p.pt")


def test_integer_prompt(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.ones((3, 4), dtype=np.int32))
    with pytest.raises(PromptValueError, match="not floating point"):
        read_prompt(tmp_path / "p.npy")
    torch.save(torch.ones(3, 4, dtype=torch.int64), tmp_path / "p.pt")
    with pytest.raises(PromptValueError, match="dtype int64, not a floating-point type"):
        read_prompt(tmp_path / "p.pt")


def test_nan_and_inf_rows_are_counted(tmp_path: Path) -> None:
    table = torch.ones(6, 4)
    table[1, 2] = float("nan")
    table[4, 0] = float("inf")
    torch.save(table, tmp_path / "p.pt")
    with pytest.raises(PromptValueError, match="NaN or infinite values in 2 of its 6 rows"):
        read_prompt(tmp_path / "p.pt")


def test_rows_not_matching_virtual_tokens_times_submodules(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    write_prompt(_prompt(decoder=True), folder, "peft")
    config = json.loads((folder / "adapter_config.json").read_text())
    config["num_virtual_tokens"] = 4
    (folder / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(PromptShapeError, match="10 prompt rows but its config says num_virtual_tokens=4 x "
                       "num_transformer_submodules=2 = 8"):
        read_prompt(folder)


def test_token_dim_not_matching(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    write_prompt(_prompt(), folder, "peft")
    config = json.loads((folder / "adapter_config.json").read_text())
    config["token_dim"] = 768
    (folder / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(PromptShapeError, match="width 12 but its config says token_dim=768"):
        read_prompt(folder)


def test_pickled_objects_are_not_unpickled(tmp_path: Path) -> None:
    torch.save({"prompt": torch.ones(2, 3), "optimizer": Path("/x")}, tmp_path / "p.pt")
    with pytest.raises(UnknownFormatError, match="Python objects besides tensors"):
        read_prompt(tmp_path / "p.pt")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PromptValueError, match="Python objects"):
        read_prompt(tmp_path / "o.npy")


def test_file_with_no_tensors(tmp_path: Path) -> None:
    torch.save({"step": 3}, tmp_path / "p.pt")
    with pytest.raises(PromptShapeError, match="holds no tensors"):
        read_prompt(tmp_path / "p.pt")


# ----------------------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fmt", FORMATS)
def test_writer_refuses_to_overwrite_the_input_prompt(tmp_path: Path, fmt: str) -> None:
    source = write_prompt(_prompt(), tmp_path / f"in.{fmt}", fmt)
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    prompt = read_prompt(source)
    with pytest.raises(OverwriteError, match="would overwrite the input"):
        write_prompt(prompt, source, fmt)
    after = sorted((p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    assert before == after


def test_writer_refuses_a_folder_holding_an_input(tmp_path: Path) -> None:
    source = write_prompt(_prompt(), tmp_path / "prompts" / "in.npy", "npy")
    with pytest.raises(OverwriteError):
        write_prompt(_prompt(), tmp_path / "prompts", "peft", inputs=[source])


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_prompt(_prompt(), tmp_path / "out.safetensors", "safetensors")
    old = target.read_bytes()
    write_bytes = Path.write_bytes

    def disk_fills_up(self: Path, data: bytes) -> int:
        write_bytes(self, data[:9])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_fills_up)
    with pytest.raises(WriteError, match=f"the disk is full: no room to write {target}. Free some space"):
        write_prompt(SoftPrompt(torch.zeros(2, 2)), target, "safetensors")
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["out.safetensors"]


def test_unknown_output_format(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="Choose one of peft, npy, safetensors, pt"):
        write_prompt(_prompt(), tmp_path / "x", "onnx")


def test_decoder_half_must_match_encoder_half() -> None:
    with pytest.raises(PromptShapeError, match="same number of rows and width"):
        SoftPrompt(torch.ones(3, 4), torch.ones(2, 4))
