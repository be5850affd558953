"""The CLI: help, inspect as text and JSON, and one readable line with exit code 2 for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recycler_gui.cli import main
from recycler_gui.core.fields import help_of
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.report import Report
from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.runs.store import RunFolder
from recycler_gui.core.training.tuning import TuningSettings

PROMPT_KEYS = {
    "kind", "path", "format", "key", "num_tokens", "dim", "halves", "rows", "task_type", "source_model", "task",
    "init", "row_norm_mean", "row_norm_max",
}
CHECKPOINT_KEYS = {
    "kind", "reference", "path", "read_from", "family", "architecture", "model_type", "hidden_size", "vocab_size",
    "embedding_scale", "tied_embeddings", "parameters",
}


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "inspect" in capsys.readouterr().out


def test_inspect_help_documents_every_json_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    text = capsys.readouterr().out
    for key in PROMPT_KEYS | CHECKPOINT_KEYS:
        assert key in text, key


def test_inspect_prompt_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_prompt(SoftPrompt(torch.ones(3, 8), torch.ones(3, 8)), tmp_path / "adapter", "peft")
    assert main(["inspect", str(tmp_path / "adapter"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) == PROMPT_KEYS
    assert (info["format"], info["num_tokens"], info["halves"], info["rows"], info["dim"]) == ("peft", 3, 2, 6, 8)


def test_inspect_checkpoint_text_and_json(tiny_gemma: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tiny_gemma)]) == 0
    text = capsys.readouterr().out
    assert "family: decoder-only" in text
    assert main(["inspect", str(tiny_gemma), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) == CHECKPOINT_KEYS
    assert info["architecture"] == "Gemma3ForCausalLM"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.npy", "no such file or folder"),
        (lambda d: (d / "junk.bin").write_bytes(b"\x00junk" * 3) and d / "junk.bin", "cannot tell what"),
        (lambda d: d, "no config.json"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    assert main(["inspect", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "missing.npy"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recycler_gui.cli", "inspect", str(tmp_path / "nope")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: no such file or folder")
    assert "Traceback" not in result.stderr


def test_doctor_passes_on_this_installation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"]
    assert {check["name"] for check in report["checks"]} >= {"torch", "Qt (PySide6)", "prompt files"}


def test_out_of_memory_is_one_line_with_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import recycler_gui.core.describe as describe

    def exhausted(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(describe, "describe_path", exhausted)
    assert main(["inspect", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: out of memory.") and err.count("\n") == 1


def test_a_reader_that_goes_away_is_not_an_internal_error(monkeypatch, capsys) -> None:
    from recycler_gui.cli import models

    def closed_pipe(args) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(models, "_cmd_list", closed_pipe)
    assert main(["models", "list"]) == 141  # `prompt-recycler models list | head -1` ends like other tools
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("command", "settings", "names"), [
    ("compare", Job, ("eval_size", "offset", "num_words", "batch_size", "task")),
    ("tune", TuningSettings, ("steps", "prompt_length", "learning_rate", "eval_every")),
])
def test_help_states_the_defaults_the_settings_have(
    command: str, settings: type, names: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in names:
        assert help_of(settings, name) in text, name


def test_a_bad_flag_value_is_one_line_naming_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse printed its usage block, then the error: two lines and more, against every other error's one."""
    with pytest.raises(SystemExit) as exited:
        main(["recycle", "--format", "xyz"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: argument --format: invalid choice: 'xyz'") and "prompt-recycler recycle --help" in err


def test_runs_takes_one_of_show_or_delete_and_a_job_file_must_be_json_or_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runs --show A --delete B` deleted B and ignored --show; a .yaml job got a JSON parse error; a folder as the
    job file was 'no such job file'."""
    with pytest.raises(SystemExit):
        main(["runs", "--show", "a", "--delete", "b"])
    assert "not allowed with argument --show" in capsys.readouterr().err
    (tmp_path / "job.yaml").write_text("source: a\n")
    assert main(["compare", "--job", str(tmp_path / "job.yaml")]) == 2
    assert "is YAML, which is not read. Write the job as JSON or TOML" in capsys.readouterr().err
    assert main(["compare", "--job", str(tmp_path)]) == 2
    assert f"the job file {tmp_path} is a folder" in capsys.readouterr().err


def test_a_failed_runs_long_error_does_not_widen_the_runs_table(capsys: pytest.CaptureFixture[str]) -> None:
    folder = RunFolder.create({"source": "/m/a", "target": "/m/b", "prompt": "p.npy", "task": "movie-reviews"})
    folder.save_report(Report(status="failed: " + "a very long error message " * 10))
    assert main(["runs"]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert "failed: a very long error" in row and row.rstrip().endswith("0") and len(row) < 120
    assert main(["runs", "--show", folder.run_id]) == 0
    assert f"status: failed: {'a very long error message ' * 10}".rstrip() in capsys.readouterr().out
