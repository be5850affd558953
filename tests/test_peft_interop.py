"""PEFT interop both ways: we read adapters PEFT trained and saved; PEFT loads ours and computes what we compute."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import PeftModel, PromptTuningConfig, get_peft_model

from recycler_gui.core.models.checkpoints import open_checkpoint
from recycler_gui.core.prompts.formats import PeftTarget, SoftPrompt, read_prompt, write_prompt

TEXT = ["the movie was great and the acting was wonderful", "a terrible boring film"]


def _batch(folder: Path) -> dict[str, torch.Tensor]:
    tokenizer = open_checkpoint(folder).tokenizer()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return dict(tokenizer(TEXT, return_tensors="pt", padding=True))


@pytest.mark.parametrize(("fixture", "task_type"), [("tiny_llama", "CAUSAL_LM"), ("tiny_t5", "SEQ_2_SEQ_LM")])
def test_reads_an_adapter_that_peft_trained_and_saved(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str, task_type: str
) -> None:
    folder = request.getfixturevalue(fixture)
    torch.manual_seed(0)
    model = get_peft_model(open_checkpoint(folder).load_model(device="cpu"), PromptTuningConfig(
        task_type=task_type, num_virtual_tokens=4
    ))
    batch = _batch(folder)
    labels = batch["input_ids"].clone()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
    model.save_pretrained(str(tmp_path / "adapter"))

    prompt = read_prompt(tmp_path / "adapter")
    saved = model.get_prompt_embedding_to_save("default")
    assert prompt.meta.task_type == task_type
    if task_type == "SEQ_2_SEQ_LM":
        assert prompt.halves == 2
        assert torch.equal(torch.cat([prompt.encoder, prompt.decoder]), saved)
    else:
        assert prompt.halves == 1
        assert torch.equal(prompt.encoder, saved)
    assert prompt.num_tokens == 4
    assert prompt.dim == open_checkpoint(folder).hidden_size


def _prompt_for(folder: Path, halves: int) -> SoftPrompt:
    hidden = open_checkpoint(folder).hidden_size
    generator = torch.Generator().manual_seed(3)
    tables = [torch.randn(6, hidden, generator=generator) * 0.5 for _ in range(halves)]
    return SoftPrompt(tables[0], tables[1] if halves == 2 else None)


@pytest.mark.parametrize("fixture", ["tiny_llama", "tiny_gemma"])
def test_peft_loads_our_causal_adapter_with_equal_logits(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str
) -> None:
    folder = request.getfixturevalue(fixture)
    prompt = _prompt_for(folder, halves=1)
    write_prompt(prompt, tmp_path / "adapter", "peft", peft_target=PeftTarget(base_model=str(folder)))
    base = open_checkpoint(folder).load_model(device="cpu")
    batch = _batch(folder)

    embeds = base.get_input_embeddings()(batch["input_ids"])
    rows = prompt.encoder.expand(len(TEXT), -1, -1)
    mask = torch.cat([torch.ones(len(TEXT), prompt.num_tokens, dtype=torch.long), batch["attention_mask"]], dim=1)
    ours = base(inputs_embeds=torch.cat([rows, embeds], dim=1), attention_mask=mask).logits

    peft_model = PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    theirs = peft_model(**batch).logits
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("halves", [1, 2])
def test_peft_loads_our_seq2seq_adapter_with_equal_logits(tiny_t5: Path, tmp_path: Path, halves: int) -> None:
    prompt = _prompt_for(tiny_t5, halves=halves)
    write_prompt(prompt, tmp_path / "adapter", "peft", peft_target=PeftTarget(
        base_model=str(tiny_t5), task_type="SEQ_2_SEQ_LM"
    ))
    base = open_checkpoint(tiny_t5).load_model(device="cpu")
    batch = _batch(tiny_t5)
    decoder_ids = torch.zeros(len(TEXT), 2, dtype=torch.long)
    embed = base.get_input_embeddings()

    def with_rows(table: torch.Tensor, embeds: torch.Tensor) -> torch.Tensor:
        return torch.cat([table.expand(len(TEXT), -1, -1), embeds], dim=1)

    # PEFT stores the decoder half of a SEQ_2_SEQ_LM prompt-tuning adapter, but its forward prepends only the
    # encoder half (peft 0.21); we score the same way, so adapters behave as measured.
    mask = torch.cat([torch.ones(len(TEXT), prompt.num_tokens, dtype=torch.long), batch["attention_mask"]], dim=1)
    ours = base(
        inputs_embeds=with_rows(prompt.encoder, embed(batch["input_ids"])), attention_mask=mask,
        decoder_input_ids=decoder_ids,
    ).logits

    peft_model = PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    theirs = peft_model(**batch, decoder_input_ids=decoder_ids).logits
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)
