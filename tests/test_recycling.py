"""Recycling between real (tiny) checkpoints: shared vocabulary, every method, the cache, seq2seq halves, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from recycler_gui.cli import main
from recycler_gui.core.errors import PromptShapeError
from recycler_gui.core.events import Log, Point
from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt
from recycler_gui.core.storage import cache_dir
from recycler_gui.core.transfer.recyclers import RECYCLERS, Recycler
from recycler_gui.core.transfer.recycling import recycle
from recycler_gui.core.transfer.vocab import VocabSettings, VocabularyError, shared_words

ALL_WORDS = VocabSettings(offset=0, num_words=None)


def _tokenizer(tokens: list[str]) -> PreTrainedTokenizerFast:
    vocab = {token: index for index, token in enumerate(["<unk>", *tokens])}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="<unk>")))


WORDS = [f"w{chr(97 + i)}{chr(97 + j)}".replace("w", "") for i in range(8) for j in range(8)]  # 64 alphabetic words


def test_cross_tokenizer_pairs_match_words_across_markers() -> None:
    # byte-level BPE style: 'Ġ' marks a word start; sentencepiece style: '▁'; WordPiece: '##' marks a continuation.
    bpe = _tokenizer([f"Ġ{w}" for w in WORDS[:48]] + ["Ġ123", "Ġcafé", "ab", "Ġ"])
    sentencepiece = _tokenizer([f"▁{w}" for w in reversed(WORDS[16:])] + ["▁123", "ab"])
    wordpiece = _tokenizer(WORDS[:40] + [f"##{w}" for w in WORDS] + ["123"])
    pairs = shared_words(bpe, sentencepiece, ALL_WORDS, 1000, 1000)
    assert pairs.words == tuple(WORDS[16:48])  # shared word-start alphabetic words, in the source's id order
    assert not pairs.report.same_tokenizer
    assert pairs.report.shared_tokens == 32 + 3  # the words, '123' and the continuation 'ab'
    assert bpe.convert_ids_to_tokens(pairs.source_ids.tolist())[0] == f"Ġ{WORDS[16]}"
    assert sentencepiece.convert_ids_to_tokens(pairs.target_ids.tolist())[0] == f"▁{WORDS[16]}"
    assert shared_words(wordpiece, bpe, ALL_WORDS, 1000, 1000).words == tuple(WORDS[:40])


def test_offset_and_num_words_choose_the_window() -> None:
    tokenizer = _tokenizer([f"▁{w}" for w in WORDS])
    pairs = shared_words(tokenizer, tokenizer, VocabSettings(offset=10, num_words=40), 1000, 1000)
    assert pairs.words == tuple(WORDS[10:50])
    assert torch.equal(pairs.source_ids, pairs.target_ids)
    assert pairs.report.same_tokenizer and pairs.report.used_words == 40


def test_tokens_beyond_the_embedding_table_are_skipped() -> None:
    tokenizer = _tokenizer([f"▁{w}" for w in WORDS])
    assert shared_words(tokenizer, tokenizer, ALL_WORDS, 41, 1000).report.used_words == 40


def test_too_few_shared_words_says_how_many_and_the_minimum() -> None:
    tokenizer = _tokenizer([f"▁{w}" for w in WORDS])
    with pytest.raises(VocabularyError, match=r"only 4 shared words.*\(64 shared, 60 skipped\); at least 32"):
        shared_words(tokenizer, tokenizer, VocabSettings(offset=60), 1000, 1000)


def _llama_prompt(tiny_llama: Path, rows: int = 5, decoder: bool = False) -> SoftPrompt:
    hidden = open_checkpoint(tiny_llama).hidden_size
    generator = torch.Generator().manual_seed(0)
    tables = [torch.randn(rows, hidden, generator=generator) for _ in range(2 if decoder else 1)]
    return SoftPrompt(tables[0], tables[1] if decoder else None)


def test_every_method_recycles_to_the_target_width(tiny_llama: Path, tiny_gemma: Path) -> None:
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    result = recycle(source, target, _llama_prompt(tiny_llama), ["all"], vocabulary=ALL_WORDS)
    assert [item.method for item in result.recycled] == list(RECYCLERS)
    for item in result.recycled:
        assert item.prompt.encoder.shape == (5, target.hidden_size)
        assert torch.isfinite(item.prompt.encoder).all()
        assert item.prompt.meta.source_model == target.reference
    assert result.vocabulary.used_words == result.vocabulary.shared_words > 30


def test_second_run_loads_fitted_recyclers_from_the_cache(
    tiny_llama: Path, tiny_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    prompt = _llama_prompt(tiny_llama)
    first = recycle(source, target, prompt, ["v2v-nn", "ridge"], vocabulary=ALL_WORDS, seed=3)
    assert not any(item.cached for item in first.recycled)

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitted again")

    monkeypatch.setattr(Recycler, "fit", no_fit)
    points: list[Point] = []
    second = recycle(
        source, target, prompt, ["v2v-nn", "ridge"], vocabulary=ALL_WORDS, seed=3,
        events=lambda e: points.append(e) if isinstance(e, Point) else None,
    )
    assert all(item.cached for item in second.recycled)
    # "fit s" is the fit alone: 0 when loaded (it counted applying the fit to the prompt, 41 s for relative)
    assert all(item.fit_seconds > 0 for item in first.recycled)
    assert all(item.fit_seconds == 0 for item in second.recycled)
    # the stored fit-loss curves are replayed, so plots of a cached run are as full as of a fresh one
    assert [p.x for p in points if p.series == "fit loss: v2v-nn"] == list(range(26))
    assert [p.x for p in points if p.series == "fit loss: ridge"] == [1]
    for a, b in zip(first.recycled, second.recycled, strict=True):
        torch.testing.assert_close(a.prompt.encoder, b.prompt.encoder)
        assert a.fit_loss == b.fit_loss


def test_both_halves_of_a_seq2seq_prompt_are_recycled(tiny_t5: Path) -> None:
    t5 = open_checkpoint(tiny_t5)
    prompt = SoftPrompt(torch.randn(4, 32), torch.randn(4, 32))
    recycled = recycle(t5, t5, prompt, ["v2v-lin"], vocabulary=ALL_WORDS).recycled[0].prompt
    assert recycled.decoder is not None and recycled.decoder.shape == (4, 32)
    # the same map is applied to both halves: recycling each half alone gives the same rows
    alone = recycle(t5, t5, SoftPrompt(prompt.decoder), ["v2v-lin"], vocabulary=ALL_WORDS).recycled[0].prompt
    torch.testing.assert_close(recycled.decoder, alone.encoder)


def test_decoder_half_is_dropped_for_a_decoder_only_target(tiny_llama: Path, tiny_gemma: Path) -> None:
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    logs: list[str] = []
    result = recycle(
        source, target, _llama_prompt(tiny_llama, decoder=True), ["procrustes"], vocabulary=ALL_WORDS,
        events=lambda e: logs.append(e.text) if isinstance(e, Log) else None,
    )
    assert result.recycled[0].prompt.decoder is None
    assert any("decoder half is dropped" in line for line in logs)


def test_prompt_width_is_checked_against_the_source_before_any_work(tiny_llama: Path, tiny_gemma: Path) -> None:
    source, target = open_checkpoint(tiny_gemma), open_checkpoint(tiny_llama)
    with pytest.raises(PromptShapeError, match="rows are 48 wide but the source model .* has hidden size 32"):
        recycle(source, target, _llama_prompt(tiny_llama), ["v2v-lin"])


def test_cli_recycle_writes_one_prompt_per_method(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt_file = write_prompt(_llama_prompt(tiny_llama), tmp_path / "prompt.npy", "npy")
    args = [
        "recycle", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt_file),
        "--method", "v2v-lin", "--method", "relative", "--out", str(tmp_path / "out"), "--offset", "0", "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [row["method"] for row in summary["methods"]] == ["v2v-lin", "relative"]
    assert summary["vocabulary"]["same_tokenizer"] is True
    for row in summary["methods"]:
        assert Path(row["output"]).name == row["method"]
        recycled = read_prompt(row["output"])
        assert recycled.dim == 32 and recycled.meta.source_model == str(tiny_gemma)
    assert main(args) == 0
    assert all(row["cached"] for row in json.loads(capsys.readouterr().out)["methods"])


def test_cli_recycle_reports_a_width_mismatch_in_one_line(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt_file = write_prompt(_llama_prompt(tiny_llama), tmp_path / "prompt.pt", "pt")
    code = main([
        "recycle", "--source", str(tiny_gemma), "--target", str(tiny_llama), "--prompt", str(prompt_file),
        "--out", str(tmp_path / "out"),
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: the prompt's rows are 48 wide" in err
    assert "reading embeddings" not in err  # checked before any work
    assert not (tmp_path / "out").exists()


def test_cli_recycle_too_few_shared_words(
    tiny_llama: Path, tiny_t5: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt_file = write_prompt(_llama_prompt(tiny_llama), tmp_path / "prompt.pt", "pt")
    code = main([
        "recycle", "--source", str(tiny_llama), "--target", str(tiny_t5), "--prompt", str(prompt_file),
        "--out", str(tmp_path / "out"), "--method", "v2v-lin",
    ])
    assert code == 2
    assert "shared words are left to fit on" in capsys.readouterr().err


def test_a_new_row_length_rule_reuses_the_fit_but_a_new_fit_setting_refits(
    tiny_llama: Path, tiny_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    prompt = _llama_prompt(tiny_llama)
    settings = VocabSettings(offset=3, num_words=None)  # a key no other test uses
    fits: list[dict] = []
    original_fit = Recycler.fit

    def counting_fit(self: Recycler, *args: object, **kwargs: object) -> Recycler:
        fits.append(dict(self.params))
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(Recycler, "fit", counting_fit)
    kept = recycle(source, target, prompt, ["v2v-nn"], vocabulary=settings, params={"v2v-nn": {"epochs": 2}})
    rescaled = recycle(source, target, prompt, ["v2v-nn"], vocabulary=settings,
                       params={"v2v-nn": {"epochs": 2, "norm": "target"}}).recycled[0]
    assert rescaled.cached and len(fits) == 1
    target_norm = float(rescaled.recycler.state["target_mean_norm"])
    torch.testing.assert_close(rescaled.prompt.encoder.norm(dim=1), torch.full((prompt.num_tokens,), target_norm))
    assert not torch.allclose(kept.recycled[0].prompt.encoder, rescaled.prompt.encoder)
    again = recycle(source, target, prompt, ["v2v-nn"], vocabulary=settings, params={"v2v-nn": {"epochs": 3}})
    assert not again.recycled[0].cached and len(fits) == 2


def test_no_cache_refits_and_replaces_the_cached_fit(
    tiny_llama: Path, tiny_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    prompt = _llama_prompt(tiny_llama)
    fits: list[str] = []
    original_fit = Recycler.fit

    def counting_fit(self: Recycler, *args: object, **kwargs: object) -> Recycler:
        fits.append(self.name)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(Recycler, "fit", counting_fit)
    settings = VocabSettings(offset=2, num_words=None)  # a key no other test uses
    assert not recycle(source, target, prompt, ["procrustes"], vocabulary=settings, use_cache=False).recycled[0].cached
    assert recycle(source, target, prompt, ["procrustes"], vocabulary=settings).recycled[0].cached
    assert fits == ["procrustes"]


def test_cli_recycle_uses_the_recommended_method_unless_told(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.core.transfer.recyclers import RECOMMENDED

    prompt_file = write_prompt(_llama_prompt(tiny_llama), tmp_path / "prompt.npy", "npy")
    base = ["recycle", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt_file),
            "--offset", "0", "--json"]
    assert main([*base, "--out", str(tmp_path / "one")]) == 0
    assert [row["method"] for row in json.loads(capsys.readouterr().out)["methods"]] == [RECOMMENDED]
    assert main([*base, "--out", str(tmp_path / "all"), "--method", "all"]) == 0
    assert len(json.loads(capsys.readouterr().out)["methods"]) == len(RECYCLERS)


@pytest.mark.parametrize("damage", [b"", b"{garbage", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"])
def test_a_damaged_cached_fit_is_fitted_again_not_an_internal_error(
    tiny_llama: Path, tiny_gemma: Path, damage: bytes
) -> None:
    """A cut-off cache entry (SafetensorError) made every later recycle with those models an internal error."""
    source, target = open_checkpoint(tiny_llama), open_checkpoint(tiny_gemma)
    prompt = _llama_prompt(tiny_llama)
    first = recycle(source, target, prompt, ["procrustes"], vocabulary=ALL_WORDS)
    for entry in (cache_dir() / "recyclers").glob("procrustes-*"):
        entry.write_bytes(damage)
    logs: list[str] = []
    again = recycle(source, target, prompt, ["procrustes"], vocabulary=ALL_WORDS,
                    events=lambda e: isinstance(e, Log) and logs.append(e.text))
    assert not again.recycled[0].cached and any("cannot be read" in t and "fitting it again" in t for t in logs)
    torch.testing.assert_close(again.recycled[0].prompt.encoder, first.recycled[0].prompt.encoder)
    assert recycle(source, target, prompt, ["procrustes"], vocabulary=ALL_WORDS).recycled[0].cached  # mended
