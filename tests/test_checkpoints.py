"""Opening checkpoints: folders, the HF cache, sharded and legacy weights, scaled embeddings, and every bad model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from recycler_gui.core.errors import (
    CheckpointError,
    CorruptFileError,
    InputNotFoundError,
    ModelNotCachedError,
    TokenizerMissingError,
    UnsupportedArchitectureError,
)
from recycler_gui.core.models import checkpoints, devices
from recycler_gui.core.models.checkpoints import DECODER_ONLY, ENCODER_DECODER, open_checkpoint


def _real_embedding_outputs(folder: Path) -> torch.Tensor:
    """What the loaded model's embedding layer outputs for every token id."""
    model = open_checkpoint(folder).load_model(device="cpu")
    layer = model.get_input_embeddings()
    return layer(torch.arange(layer.weight.shape[0]))


@pytest.mark.parametrize(
    ("fixture", "family", "hidden", "scale"),
    [
        ("tiny_t5", ENCODER_DECODER, 32, 1.0),
        ("tiny_llama", DECODER_ONLY, 48, 1.0),
        ("tiny_gemma", DECODER_ONLY, 32, math.sqrt(32)),
    ],
)
def test_describe_reports_family_sizes_and_scale(
    request: pytest.FixtureRequest, fixture: str, family: str, hidden: int, scale: float
) -> None:
    folder = request.getfixturevalue(fixture)
    info = open_checkpoint(folder).describe()
    model = open_checkpoint(folder).load_model(device="cpu")
    assert info["family"] == family
    assert info["hidden_size"] == hidden
    assert info["vocab_size"] == model.get_input_embeddings().weight.shape[0]
    assert info["embedding_scale"] == pytest.approx(scale)
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["read_from"] == "folder"


@pytest.mark.parametrize("fixture", ["tiny_t5", "tiny_llama", "tiny_gemma"])
def test_embeddings_are_read_without_loading_the_model(
    request: pytest.FixtureRequest, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = request.getfixturevalue(fixture)
    expected = _real_embedding_outputs(folder)

    def no_full_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the full model was loaded")

    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", no_full_load)
    monkeypatch.setattr(AutoModelForSeq2SeqLM, "from_pretrained", no_full_load)
    table = open_checkpoint(folder).input_embeddings()
    assert table.dtype == torch.float32
    torch.testing.assert_close(table, expected, rtol=1e-6, atol=1e-6)


def test_sharded_checkpoint(tiny_llama: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    model.save_pretrained(str(tmp_path), max_shard_size="20KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama / name, tmp_path / name)
    assert (tmp_path / "model.safetensors.index.json").is_file()
    table = open_checkpoint(tmp_path).input_embeddings()
    torch.testing.assert_close(table, model.get_input_embeddings().weight)


def test_legacy_pytorch_bin_checkpoint(tiny_llama: Path, copy_of) -> None:
    folder = copy_of(tiny_llama)
    weights = checkpoints._load_tensor  # read through our own reader for the reference values
    reference = weights(folder / "model.safetensors", "model.embed_tokens.weight")
    from safetensors.torch import load_file

    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    torch.testing.assert_close(open_checkpoint(folder).input_embeddings(), reference)


def test_model_id_from_the_local_hf_cache(tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--tiny-llama"
    shutil.copytree(tiny_llama, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    checkpoint = open_checkpoint("tiny-org/tiny-llama")
    assert checkpoint.read_from == "hf-cache"
    assert checkpoint.path == repo / "snapshots" / revision
    assert checkpoint.input_embeddings().shape[1] == 48


def test_model_id_not_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotCachedError, match="hf download google/t5-base-lm-adapt"):
        open_checkpoint("google/t5-base-lm-adapt")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file or folder"):
        open_checkpoint(str(tmp_path / "models" / "nowhere"))


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="has no config.json"):
        open_checkpoint(tmp_path)


def test_folder_without_weights(tiny_llama: Path, copy_of) -> None:
    folder = copy_of(tiny_llama)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no weights"):
        open_checkpoint(folder).input_embeddings()


def test_truncated_weights(tiny_llama: Path, copy_of) -> None:
    folder = copy_of(tiny_llama)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match="truncated or damaged"):
        open_checkpoint(folder).input_embeddings()


def test_missing_tokenizer(tiny_llama: Path, copy_of) -> None:
    folder = copy_of(tiny_llama)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(TokenizerMissingError, match="has no tokenizer files. Copy the tokenizer files"):
        open_checkpoint(folder).tokenizer()


@pytest.mark.parametrize("fixture", ["tiny_t5", "tiny_llama", "tiny_gemma", "tiny_gguf"])
def test_the_tokenizer_encodes_as_autotokenizer_does(request: pytest.FixtureRequest, fixture: str) -> None:
    from transformers import AutoTokenizer

    checkpoint = open_checkpoint(request.getfixturevalue(fixture))
    ours, auto = checkpoint.tokenizer(), AutoTokenizer.from_pretrained(str(checkpoint.path))
    texts = ["Review: the movie was great\nSentiment:", " negative", " positive", "", "  two  spaces, é and 日本"]
    for text in texts:
        assert ours(text).input_ids == auto(text).input_ids, text
        assert ours(text, add_special_tokens=False).input_ids == auto(text, add_special_tokens=False).input_ids
        assert ours.decode(auto(text).input_ids) == auto.decode(auto(text).input_ids)
    assert ours.get_vocab() == auto.get_vocab()
    for name in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"):
        assert getattr(ours, name) == getattr(auto, name), name


def test_the_tokenizer_file_is_parsed_by_rust_not_by_python(
    tiny_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's json parser holds the GIL for the whole file (seconds on Gemma's 33 MB): the window would freeze."""
    parsed: list[str] = []
    load = json.load
    monkeypatch.setattr(json, "load", lambda handle, **kw: parsed.append(Path(handle.name).name) or load(handle, **kw))
    open_checkpoint(tiny_gemma).tokenizer()
    assert "tokenizer.json" not in parsed and "tokenizer_config.json" in parsed


def test_encoder_only_model_is_refused_with_the_reason(tiny_bert: Path) -> None:
    with pytest.raises(UnsupportedArchitectureError, match="encoder-only model: it does not generate text"):
        open_checkpoint(tiny_bert)


def test_model_type_unknown_to_transformers(tiny_llama: Path, copy_of) -> None:
    folder = copy_of(tiny_llama)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "quantum-llm"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedArchitectureError, match="does not know the model type 'quantum-llm'"):
        open_checkpoint(folder)


def test_a_plain_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 32)
    with pytest.raises(CheckpointError, match="not a GGUF model"):
        open_checkpoint(tmp_path / "weights.bin")


def test_loaded_model_is_frozen_and_in_eval_mode(tiny_t5: Path) -> None:
    model = open_checkpoint(tiny_t5).load_model(device="cpu", dtype="bfloat16")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert next(model.parameters()).dtype == torch.bfloat16


def test_unavailable_device_and_unknown_dtype(tiny_llama: Path) -> None:
    checkpoint = open_checkpoint(tiny_llama)
    if not torch.cuda.is_available():
        with pytest.raises(CheckpointError, match="not available on this machine"):
            checkpoint.load_model(device="cuda")
    with pytest.raises(CheckpointError, match="unknown dtype 'float8'"):
        checkpoint.load_model(dtype="float8")


def test_auto_device_falls_back_to_cpu_without_accelerators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.resolve_device("auto").type == "cpu"
