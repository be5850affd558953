"""Tiny random models and tokenizers built at test time, saved as real Hugging Face folders."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import sentencepiece as spm
import torch

SENTENCES = [
    "the movie was great and the acting was wonderful",
    "a terrible boring film with bad actors and a dull story",
    "I loved this film so much, the cast is brilliant",
    "I hated every minute of it and the plot was awful",
    "Review: a charming and funny picture Sentiment: positive",
    "Review: slow, long and painfully predictable Sentiment: negative",
    "sentence: an honest, moving and beautiful drama",
    "sentence: the worst script I have seen this year",
    "great music, great images, a great night at the cinema",
    "nothing works here: weak jokes, flat characters, no energy",
    "positive negative good bad love hate fun dull",
    "the director shows real talent with every scene and each line of dialogue",
    "my friends laughed, cried and cheered during the final battle",
    "a clever thriller about money, power, family and secrets in a small town",
    "the soundtrack is loud but the story never finds its heart",
    "children will enjoy the colourful animals and the silly songs",
    "an ambitious science fiction epic with stunning visual effects",
    "the dialogue feels forced and the pacing drags after an hour",
    "she gives a quiet performance that stays with you long after",
    "this sequel repeats the same tired formula without any surprise",
    "beautifully shot, warmly acted and surprisingly wise about love",
    "there are too many characters and not enough reasons to care",
    "a gentle comedy about growing old, making peace and finding home",
]


TOY_POSITIVE = ["great fun", "wonderful acting", "I loved this film", "brilliant cast", "a great night", "good story"]
TOY_NEGATIVE = ["terrible film", "boring and dull", "I hated it", "awful plot", "bad actors", "painfully slow"]


def write_toy_task(folder: Path) -> Path:
    """A tiny labelled CSV task (columns review, stars = pos/neg, split) with every split filled."""
    path = folder / "reviews.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "stars", "split"])
        for split in ("train", "dev", "test"):
            writer.writerows([[t, "pos", split] for t in TOY_POSITIVE] + [[t, "neg", split] for t in TOY_NEGATIVE])
    return path


def train_sentencepiece(model_type: str, vocab_size: int) -> bytes:
    """A sentencepiece model trained on the sentences above (unigram for T5, BPE for Llama)."""
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 30),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        hard_vocab_limit=False,
        minloglevel=2,
        **({"pad_id": 0, "eos_id": 1, "unk_id": 2, "bos_id": -1} if model_type == "unigram" else {}),
    )
    return buffer.getvalue()


def _save_tokenizer(folder: Path, spm_bytes: bytes, file_name: str, tokenizer_class: str) -> None:
    from transformers import AutoTokenizer

    raw = folder / "raw_tokenizer"
    raw.mkdir(parents=True)
    (raw / file_name).write_bytes(spm_bytes)
    (raw / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": tokenizer_class}))
    AutoTokenizer.from_pretrained(str(raw)).save_pretrained(str(folder))
    shutil.rmtree(raw)


def build_t5(folder: Path, d_model: int = 32) -> Path:
    """A 2-layer T5 with a unigram sentencepiece tokenizer."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    _save_tokenizer(folder, train_sentencepiece("unigram", 400), "spiece.model", "T5Tokenizer")
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(str(folder)))
    config = T5Config(
        vocab_size=vocab, d_model=d_model, d_ff=64, d_kv=8, num_layers=2, num_heads=4,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, tie_word_embeddings=False,
    )
    T5ForConditionalGeneration(config).save_pretrained(str(folder))
    return folder


def build_llama(folder: Path, hidden: int = 48, tie: bool = True) -> Path:
    """A 2-layer Llama-type model with a BPE sentencepiece tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    _save_tokenizer(folder, train_sentencepiece("bpe", 400), "tokenizer.model", "LlamaTokenizer")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=tie,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def build_gemma3(folder: Path, hidden: int = 32) -> Path:
    """A 2-layer Gemma-3 text model, whose embedding layer multiplies by sqrt(hidden); its first layer attends over a
    sliding window of 8 positions (shorter than the test inputs), its second over everything, as Gemma 3 mixes them."""
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(2)
    _save_tokenizer(folder, train_sentencepiece("bpe", 400), "tokenizer.model", "LlamaTokenizer")
    config = Gemma3TextConfig(
        vocab_size=len(AutoTokenizer.from_pretrained(str(folder))), hidden_size=hidden, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=256,
        sliding_window=8, layer_types=["sliding_attention", "full_attention"],
    )
    Gemma3ForCausalLM(config).save_pretrained(str(folder))
    return folder


def build_bert(folder: Path) -> Path:
    """A tiny encoder-only BERT: a model Prompt Recycler must refuse."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertForMaskedLM(config).save_pretrained(str(folder))
    return folder
