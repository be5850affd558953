"""Models by Hub id, against a local Hub (tests/hub_server.py): download, resume, cancel, and every refusal."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import torch
from hub_server import LocalHub

from recycler_gui.core.errors import (
    CheckpointError,
    HubAccessError,
    HubModelNotFoundError,
    HubUnreachableError,
    ModelNotCachedError,
    WriteError,
)
from recycler_gui.core.events import BYTES, Cancelled, CancelToken, Progress, Stage
from recycler_gui.core.models import hub
from recycler_gui.core.models.checkpoints import HUB_CONFIG, describe_reference, open_checkpoint

MODEL = "tiny-org/tiny-llama"
DECOYS = {  # formats a run does not need: never downloaded when safetensors are there
    "pytorch_model.bin": b"\0" * 1000, "tiny-llama.Q4_0.gguf": b"GGUF" + b"\0" * 1000,
    "onnx/model.onnx": b"\0" * 1000, "README.md": b"# tiny llama\n",
}


def _weights(folder: Path) -> torch.Tensor:
    return open_checkpoint(folder).input_embeddings()


def _hf_cache() -> Path:
    import huggingface_hub.constants

    return Path(huggingface_hub.constants.HF_HUB_CACHE)


def test_a_hub_id_downloads_what_a_model_needs_then_opens_offline(local_hub: LocalHub, tiny_llama: Path) -> None:
    local_hub.add(MODEL, tiny_llama, extra=DECOYS)
    events: list[object] = []
    checkpoint = open_checkpoint(MODEL, download=True, events=events.append)

    assert checkpoint.read_from == "hf-cache"
    assert checkpoint.path.is_relative_to(_hf_cache().resolve())
    torch.testing.assert_close(checkpoint.input_embeddings(), _weights(tiny_llama))
    assert checkpoint.tokenizer()("great film").input_ids
    assert local_hub.downloaded(MODEL) == [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors",
    ]
    stage = next(event for event in events if isinstance(event, Stage))
    sizes = sum((tiny_llama / name).stat().st_size for name in local_hub.downloaded(MODEL)[1:])  # after config.json
    assert (stage.unit, stage.total) == (BYTES, sizes)
    progress = [event.done for event in events if isinstance(event, Progress)]
    assert progress == sorted(progress) and progress[-1] == sizes

    asked = len(local_hub.requests)
    again = open_checkpoint(MODEL)  # downloads off (the default): the cache serves it, the Hub is not asked
    assert again.path == checkpoint.path and len(local_hub.requests) == asked


def test_a_sharded_model_brings_only_the_shards_its_index_names(
    local_hub: LocalHub, tiny_llama: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    sharded = tmp_path / "sharded"
    AutoModelForCausalLM.from_pretrained(str(tiny_llama)).save_pretrained(str(sharded), max_shard_size="100KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama / name, sharded / name)
    shards = sorted(p.name for p in sharded.glob("model-*.safetensors"))
    assert len(shards) > 1
    local_hub.add(MODEL, sharded, extra={"consolidated.safetensors": b"\0" * 1000, **DECOYS})

    checkpoint = open_checkpoint(MODEL, download=True)
    torch.testing.assert_close(checkpoint.input_embeddings(), _weights(tiny_llama))
    assert local_hub.downloaded(MODEL) == [
        "config.json", "model.safetensors.index.json", "generation_config.json", "tokenizer.json",
        "tokenizer_config.json", *shards,
    ]


def test_the_environment_setting_allows_downloads(
    local_hub: LocalHub, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_hub.add(MODEL, tiny_llama)
    with pytest.raises(ModelNotCachedError, match="add --download"):
        open_checkpoint(MODEL)
    assert local_hub.requests == []  # offline by default: the Hub was not even asked
    monkeypatch.setenv(hub.DOWNLOAD_SETTING, "1")
    assert open_checkpoint(MODEL).read_from == "hf-cache"


def test_a_connection_dropped_mid_file_resumes_where_it_stopped(local_hub: LocalHub, tiny_llama: Path) -> None:
    local_hub.add(MODEL, tiny_llama)
    local_hub.cut["model.safetensors"] = 100_000
    checkpoint = open_checkpoint(MODEL, download=True)
    torch.testing.assert_close(checkpoint.input_embeddings(), _weights(tiny_llama))
    ranges = [r.range for r in local_hub.requests if r.method == "GET" and r.path.endswith("model.safetensors")]
    assert ranges[0] is None
    assert len(ranges) == 2 and int(ranges[1].removeprefix("bytes=").rstrip("-")) > 0  # went on, did not restart


def test_cancel_mid_download_keeps_the_cache_usable_and_the_next_try_finishes(
    local_hub: LocalHub, tiny_llama: Path
) -> None:
    local_hub.add(MODEL, tiny_llama)
    local_hub.chunk_delay = 0.01
    cancel = CancelToken()
    weights = (tiny_llama / "model.safetensors").stat().st_size
    seen: list[int] = []

    def cancel_halfway_through_the_weights(event: object) -> None:
        if isinstance(event, Stage):
            seen.append(event.total or 0)
        if isinstance(event, Progress) and event.done > seen[0] - weights // 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        open_checkpoint(MODEL, download=True, events=cancel_halfway_through_the_weights, cancel=cancel)
    assert hub.cached_model(MODEL) is None
    assert not list(_hf_cache().rglob("*.incomplete")), "a cancelled download leaves no partial file behind"
    with pytest.raises(ModelNotCachedError):
        open_checkpoint(MODEL)

    local_hub.chunk_delay = 0.0
    checkpoint = open_checkpoint(MODEL, download=True)
    torch.testing.assert_close(checkpoint.input_embeddings(), _weights(tiny_llama))
    fetches = [r.path.rsplit("/", 1)[1] for r in local_hub.requests if r.method == "GET" and "/resolve/" in r.path]
    assert fetches.count("config.json") == 1 and fetches.count("tokenizer.json") == 1  # kept from the first try
    assert fetches.count("model.safetensors") == 2


@pytest.mark.parametrize("strangers_get_401", [False, True], ids=["404", "401 as the Hub answers strangers"])
def test_a_missing_model_says_to_check_the_id(local_hub: LocalHub, strangers_get_401: bool) -> None:
    local_hub.strangers_get_401 = strangers_get_401
    with pytest.raises(HubModelNotFoundError, match=r"no model tiny-org/nothing-here .*Check the id"):
        open_checkpoint("tiny-org/nothing-here", download=True)


@pytest.mark.parametrize("status", [401, 403])
def test_a_gated_model_says_to_accept_its_terms_and_log_in(local_hub: LocalHub, tiny_llama: Path, status: int) -> None:
    local_hub.add(MODEL, tiny_llama, gated=status)
    with pytest.raises(HubAccessError, match=rf"gated model.*HTTP {status}.*Accept them on .*hf auth login"):
        open_checkpoint(MODEL, download=True)


def test_no_network_says_so_and_what_to_check(local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import huggingface_hub.constants as constants

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    with pytest.raises(HubUnreachableError, match=r"cannot reach the Hugging Face Hub at .*proxy settings"):
        open_checkpoint(MODEL, download=True)


def test_offline_mode_of_huggingface_hub_is_named(local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError, match="switched off by HF_HUB_OFFLINE"):
        open_checkpoint(MODEL, download=True)


def test_too_little_disk_space_is_found_before_downloading(
    local_hub: LocalHub, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_hub.add(MODEL, tiny_llama)
    monkeypatch.setattr(hub.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 1000, 1000))
    with pytest.raises(WriteError, match="not enough free disk space.*set HF_HOME"):
        open_checkpoint(MODEL, download=True)
    assert local_hub.downloaded(MODEL) == ["config.json"]  # read first, to learn what the model needs


def test_a_disk_that_fills_up_mid_download_is_named(
    local_hub: LocalHub, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.file_download as file_download

    local_hub.add(MODEL, tiny_llama)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_download, "http_get", full)
    with pytest.raises(WriteError, match="the disk filled up while downloading.*set HF_HOME"):
        open_checkpoint(MODEL, download=True)


def test_a_repository_without_a_transformers_model_is_refused(local_hub: LocalHub, tmp_path: Path) -> None:
    only_gguf = tmp_path / "only-gguf"
    only_gguf.mkdir()
    (only_gguf / "model.Q4_0.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    local_hub.add(MODEL, only_gguf)
    with pytest.raises(CheckpointError, match="no config.json.*download the .gguf file"):
        open_checkpoint(MODEL, download=True)


def test_describing_a_hub_model_reads_its_config_not_its_weights(local_hub: LocalHub, tiny_llama: Path) -> None:
    local_hub.add(MODEL, tiny_llama)
    info = describe_reference(MODEL, download=True)
    assert (info["read_from"], info["family"], info["hidden_size"]) == (HUB_CONFIG, "decoder-only", 48)
    rest = ("generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")
    assert info["download_bytes"] == sum((tiny_llama / name).stat().st_size for name in rest)
    assert local_hub.downloaded(MODEL) == ["config.json"]

    offline = describe_reference(MODEL)  # downloads off: the cached config still describes it
    assert offline["hidden_size"] == 48 and offline["download_bytes"] is None
    with pytest.raises(ModelNotCachedError):  # but a run needs the weights
        open_checkpoint(MODEL)
    assert describe_reference(MODEL, download=True)["download_bytes"] == info["download_bytes"]
    open_checkpoint(MODEL, download=True)
    assert describe_reference(MODEL)["read_from"] == "hf-cache"


def test_compare_downloads_a_source_given_by_hub_id_with_the_flag(
    local_hub: LocalHub, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tiny_models import write_toy_task

    from recycler_gui.cli import main
    from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt

    local_hub.add(MODEL, tiny_llama)
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "prompt.safetensors", "safetensors")
    args = [
        "compare", "--source", MODEL, "--target", str(tiny_gemma), "--prompt", str(prompt),
        "--task", str(write_toy_task(tmp_path)), "--text-column", "review", "--label-column", "stars",
        "--label-words", "neg=negative,pos=positive", "--method", "ridge", "--baseline", "no-prompt",
        "--eval-size", "6", "--offset", "0", "--device", "cpu", "--no-source",
    ]
    assert main(args) == 2
    assert "add --download" in capsys.readouterr().err
    assert main([*args, "--download", "--json"]) == 0
    captured = capsys.readouterr()
    assert f"» downloading {MODEL} (4 files, " in captured.err
    assert [row["name"] for row in json.loads(captured.out)["rows"]] == ["no-prompt", "ridge"]
    assert "model.safetensors" in local_hub.downloaded(MODEL)


def test_inspect_describes_a_hub_model_from_its_config(
    local_hub: LocalHub, tiny_llama: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.cli import main

    local_hub.add(MODEL, tiny_llama)
    assert main(["inspect", MODEL, "--download", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["read_from"], info["hidden_size"], info["download_bytes"] > 0) == (HUB_CONFIG, 48, True)
    assert local_hub.downloaded(MODEL) == ["config.json"]
