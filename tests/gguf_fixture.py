"""Turn a tiny Llama Hugging Face folder into a float32 GGUF file that transformers can load back."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file


def _llama_cpp_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary q/k row order, undone by transformers' `LlamaTensorProcessor` on load."""
    split = weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
    return split.swapaxes(1, 2).reshape(weight.shape)


def write_tiny_gguf(hf_folder: Path, out_file: Path) -> Path:
    """Write the model in `hf_folder` (config.json, model.safetensors, tokenizer.json) to `out_file`.

    Metadata follows llama.cpp's converter: llama.* hyper-parameters, a sentencepiece-style ("llama")
    tokenizer with the BPE merges of tokenizer.json, and float32 tensors under GGUF names with q/k
    permuted. A tied output projection is left out, as llama.cpp does. Returns `out_file`.
    """
    config = json.loads((hf_folder / "config.json").read_text())
    model = json.loads((hf_folder / "tokenizer.json").read_text())["model"]
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    n_layers = config["num_hidden_layers"]
    head_dim = config.get("head_dim") or config["hidden_size"] // n_head
    rope = config.get("rope_parameters") or {}

    writer = gguf.GGUFWriter(str(out_file), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens = sorted(model["vocab"], key=model["vocab"].__getitem__)
    special = {config["bos_token_id"], config["eos_token_id"]}
    unk_id = model["vocab"].get(model.get("unk_token") or "<unk>")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(len(tokens))])
    kinds = dict.fromkeys(special, gguf.TokenType.CONTROL) | {unk_id: gguf.TokenType.UNKNOWN}
    writer.add_token_types([kinds.get(i, gguf.TokenType.NORMAL) for i in range(len(tokens))])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in model["merges"]])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    if unk_id is not None:
        writer.add_unk_token_id(unk_id)
    writer.add_add_bos_token(False)  # the source tokenizer.json adds no BOS either

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    for hf_name, tensor in sorted(load_file(str(hf_folder / "model.safetensors")).items()):
        if hf_name == "lm_head.weight" and config.get("tie_word_embeddings", True):
            continue
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None:
            raise ValueError(f"no GGUF name for {hf_name}")
        if gguf_name.endswith("attn_q.weight"):
            tensor = _llama_cpp_permute(tensor, n_head)
        elif gguf_name.endswith("attn_k.weight"):
            tensor = _llama_cpp_permute(tensor, n_kv)
        writer.add_tensor(gguf_name, np.ascontiguousarray(tensor, dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file
