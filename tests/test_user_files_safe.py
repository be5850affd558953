"""Nothing the user gave is lost or misreported: run ids, outputs over inputs, failed writes, damaged prompt files.

Each test here is a case found by trying the commands as a user would (issue 13); each failed before its fix. Cases
that need a file system the test cannot make as an ordinary user (immutable, read-only, full) run only as root;
permission cases run the CLI without root's power to bypass permissions (``setpriv``) when the tests run as root.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_bytes
from tiny_models import write_toy_task

from recycler_gui.cli import main
from recycler_gui.core.errors import OverwriteError, WriteError
from recycler_gui.core.prompts.formats import SoftPrompt, read_prompt, write_prompt, written_by_us
from recycler_gui.core.runs.store import runs_root
from recycler_gui.core.storage import guard_outputs, staged_folder

IS_ROOT = os.geteuid() == 0


def _one_error_line(err: str, *parts: str) -> None:
    """stderr is exactly one user-error line holding ``parts``."""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    _ends_in_error_line(err, *parts)


def _ends_in_error_line(err: str, *parts: str) -> None:
    """stderr (progress lines, then) one user-error line holding ``parts``: no internal error, no traceback."""
    assert "internal error" not in err and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: "), err
    for part in parts:
        assert part in last, (part, last)


def _llama_prompt_file(tiny_llama: Path, folder: Path, fmt: str = "npy") -> Path:
    rows = SoftPrompt(torch.randn(4, 48, generator=torch.Generator().manual_seed(0)))
    return write_prompt(rows, folder / f"prompt.{fmt}", fmt)


def _recycle(tiny_llama: Path, tiny_gemma: Path, prompt: Path, out: Path, *extra: str) -> list[str]:
    return ["recycle", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt),
            "--out", str(out), "--offset", "0", *extra]


def _unprivileged() -> list[str]:
    """The command prefix that runs a process without root's power over permissions (empty when not root)."""
    if not IS_ROOT:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop the power to bypass permissions")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def _cli_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_unprivileged(), sys.executable, "-m", "recycler_gui.cli", *args],
                          capture_output=True, text=True, check=False)


# ------------------------------------------------------------------------------------------------------- run ids


@pytest.mark.parametrize("flag", ["--delete", "--show"])
@pytest.mark.parametrize("form", ["absolute", "parent", "nested", "dotdot"])
def test_a_run_id_is_a_plain_name_never_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, form: str
) -> None:
    """`runs --delete /some/folder` deleted a user folder holding a job.json and printed "deleted run"."""
    runs_root().mkdir(parents=True)
    victim = runs_root().parent / "my-experiment"
    victim.mkdir()
    (victim / "job.json").write_text("{}")
    (victim / "report.json").write_text('{"status": "finished", "rows": []}')
    (runs_root() / "sub").mkdir()
    run_id = {"absolute": str(victim), "parent": "../my-experiment", "nested": "sub/../../my-experiment",
              "dotdot": ".."}[form]
    assert main(["runs", flag, run_id]) == 2
    _one_error_line(capsys.readouterr().err, "is not a run id", "prompt-recycler runs")
    assert (victim / "job.json").is_file()


def test_a_run_id_may_not_lead_out_of_the_runs_folder_through_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "job.json").write_text("{}")
    runs_root().mkdir(parents=True)
    (runs_root() / "20250101-000000-abcdef").symlink_to(victim)
    assert main(["runs", "--delete", "20250101-000000-abcdef"]) == 2
    _one_error_line(capsys.readouterr().err, "no stored run")
    assert (victim / "job.json").is_file()


@pytest.mark.parametrize("stored", ["report.json", "batch.json"])
def test_a_run_still_being_written_is_not_deleted_but_an_interrupted_one_is(
    capsys: pytest.CaptureFixture[str], stored: str
) -> None:
    """`runs --delete` removed a run whose writer was still writing into it (the window refused; the CLI did not)."""
    folder = runs_root() / "20250101-000000-abcdef"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text("{}")
    alive = {"host": socket.gethostname(), "pid": os.getpid()}
    (folder / stored).write_text(json.dumps({"status": "running", "writer": alive, "heartbeat": time.time()}))
    assert main(["runs", "--delete", folder.name]) == 2
    _one_error_line(capsys.readouterr().err, "is still being written", "Cancel it first")
    assert (folder / "job.json").is_file()
    (folder / "heartbeat").write_text(f"{time.time() - 3600:.3f}\n")  # its writer went silent an hour ago
    (folder / stored).write_text(json.dumps({"status": "running", "writer": alive, "heartbeat": time.time() - 3600}))
    assert main(["runs", "--delete", folder.name]) == 0
    assert not folder.exists()


# ------------------------------------------------------------------------------------------ outputs over inputs


def test_tune_does_not_write_over_its_task_file(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tune --task X.csv --out X.csv --format npy` overwrote the task file with the prompt."""
    task = write_toy_task(tmp_path)
    before = task.read_bytes()
    code = main([
        "tune", "--model", str(tiny_llama), "--task", str(task), "--text-column", "review", "--label-column", "stars",
        "--out", str(task), "--format", "npy", "--steps", "1", "--prompt-length", "2", "--eval-every", "1",
        "--eval-size", "2", "--test-size", "2", "--device", "cpu", "--no-bf16",
    ])
    assert code == 2  # refused before training
    _one_error_line(capsys.readouterr().err, f"refusing to write {task}: it would overwrite the input {task}")
    assert task.read_bytes() == before


def test_tune_does_not_write_over_the_model_weights(
    tiny_llama: Path, copy_of, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tune --model M --out M/model.safetensors --format safetensors` replaced the model's weights with a prompt."""
    model = copy_of(tiny_llama)
    weights = model / "model.safetensors"
    before = weights.read_bytes()
    code = main([
        "tune", "--model", str(model), "--out", str(weights), "--format", "safetensors", "--steps", "1",
        "--prompt-length", "2", "--eval-every", "1", "--eval-size", "2", "--test-size", "2", "--device", "cpu",
        "--no-bf16", "--task", str(write_toy_task(model.parent)), "--text-column", "review", "--label-column", "stars",
    ])
    assert code == 2  # refused before training
    _one_error_line(capsys.readouterr().err, f"refusing to write {weights}: it lies inside the input {model}")
    assert weights.read_bytes() == before


def test_the_guard_refuses_an_output_that_holds_an_input_or_exists_and_is_not_ours(tmp_path: Path) -> None:
    model = tmp_path / "models" / "m"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    with pytest.raises(OverwriteError, match="it holds the input"):
        guard_outputs([tmp_path / "models"], [model], written_by_us)
    with pytest.raises(OverwriteError, match="it lies inside the input"):
        guard_outputs([model / "adapter"], [model], written_by_us)
    theirs = write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "theirs", "peft")
    # the same adapter as PEFT itself writes it: no mark of ours
    (theirs / "adapter_model.safetensors").write_bytes(safetensors_bytes({"prompt_embeddings": torch.ones(2, 4)},
                                                                         metadata={"format": "pt"}))
    with pytest.raises(OverwriteError, match="it exists and is not an output Prompt Recycler wrote"):
        guard_outputs([theirs], [], written_by_us)
    np.save(tmp_path / "p.npy", np.ones((2, 4), np.float32))
    for fmt in ("npy", "safetensors", "pt"):  # ours: replaced; a .npy carries no mark, so never ours
        ours = write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / f"ours.{fmt}", fmt)
        assert written_by_us(ours) == (fmt != "npy")
    assert written_by_us(write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "ours", "peft"))
    assert not written_by_us(tmp_path / "p.npy") and not written_by_us(tmp_path / "models")
    with pytest.raises(OverwriteError, match="a .npy file carries no mark of who wrote it"):  # not "not ours"
        write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "ours.npy", "npy")


# ------------------------------------------------------------------------------------------ several outputs


def test_recycle_refuses_before_any_work_when_one_output_name_is_taken(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two methods, the second output name an existing folder: the first file stayed, then an internal error."""
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    out = tmp_path / "out"
    (out / "ridge.npy").mkdir(parents=True)
    code = main(_recycle(tiny_llama, tiny_gemma, prompt, out, "--method", "procrustes", "--method", "ridge",
                         "--format", "npy"))
    assert code == 2
    err = capsys.readouterr().err
    _one_error_line(err, f"refusing to replace {out / 'ridge.npy'}")
    assert "shared words" not in err  # refused before recycling
    assert sorted(p.name for p in out.iterdir()) == ["ridge.npy"]


def test_recycle_moves_its_outputs_into_place_only_when_all_were_written(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    out = tmp_path / "out"
    args = _recycle(tiny_llama, tiny_gemma, prompt, out, "--method", "procrustes", "--method", "ridge",
                    "--format", "safetensors")
    assert main(args) == 0
    earlier = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    write_bytes = Path.write_bytes

    def disk_full_on_ridge(self: Path, data: bytes) -> int:
        if ".ridge." in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_on_ridge)
    assert main([*args, "--seed", "1"]) == 2
    _ends_in_error_line(capsys.readouterr().err, "the disk is full", "ridge.safetensors")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier  # procrustes keeps its earlier output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_recycling_again_keeps_the_files_a_user_added_to_an_earlier_output(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    """A second `recycle --out OUT` swapped each adapter folder whole: notes and results the user had put in
    OUT/procrustes/ were deleted, while tune and teach kept them."""
    prompt, out = _llama_prompt_file(tiny_llama, tmp_path), tmp_path / "out"
    assert main(_recycle(tiny_llama, tiny_gemma, prompt, out)) == 0
    (out / "procrustes" / "NOTES.md").write_text("what I found")
    (out / "procrustes" / "eval").mkdir()
    (out / "procrustes" / "eval" / "results.csv").write_text("r")
    first = (out / "procrustes" / "adapter_model.safetensors").read_bytes()
    other = write_prompt(SoftPrompt(torch.randn(4, 48, generator=torch.Generator().manual_seed(1))),
                         tmp_path / "other.npy", "npy")  # another prompt: the output must change
    assert main(_recycle(tiny_llama, tiny_gemma, other, out)) == 0
    assert (out / "procrustes" / "NOTES.md").read_text() == "what I found"
    assert (out / "procrustes" / "eval" / "results.csv").read_text() == "r"
    assert (out / "procrustes" / "adapter_model.safetensors").read_bytes() != first  # the output itself is new
    assert sorted(p.name for p in out.iterdir()) == ["procrustes"]  # no staging left behind


def test_a_failed_staged_write_removes_the_folders_it_made(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged_folder(tmp_path / "a" / "b" / "out") as stage:
        (stage / "x").write_text("half")
        raise RuntimeError("the second output failed")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------- failed writes


@pytest.mark.parametrize("fmt", ["peft", "npy"])
def test_recycle_into_an_existing_file(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    out = tmp_path / "notes.txt"
    out.write_text("my notes")
    assert main(_recycle(tiny_llama, tiny_gemma, prompt, out, "--format", fmt)) == 2
    _one_error_line(capsys.readouterr().err, f"{out} is a file, not a folder", "Choose an output path under a folder")
    assert out.read_text() == "my notes"


def test_an_output_over_an_existing_file_we_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "prompt.npy"
    out.write_text("my notes")
    with pytest.raises(OverwriteError, match="refusing to replace .*prompt.npy: a .npy file carries no mark"):
        write_prompt(SoftPrompt(torch.ones(2, 4)), out, "npy")
    assert out.read_text() == "my notes"


def test_recycle_under_a_file(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    (tmp_path / "notes.txt").write_text("my notes")
    assert main(_recycle(tiny_llama, tiny_gemma, prompt, tmp_path / "notes.txt" / "out")) == 2
    _one_error_line(capsys.readouterr().err, f"{tmp_path / 'notes.txt'} is a file, not a folder")


def test_recycle_under_proc(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    assert main(_recycle(tiny_llama, tiny_gemma, prompt, Path("/proc/prompt-recycler-out"))) == 2
    _one_error_line(capsys.readouterr().err, "/proc")


def test_recycle_into_a_read_only_folder(tiny_llama: Path, tiny_gemma: Path, tmp_path: Path) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = _cli_unprivileged(*_recycle(tiny_llama, tiny_gemma, prompt, locked / "out"))
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, f"no permission to write {locked}. Choose a folder you can write to")
    assert list(locked.iterdir()) == []


@contextlib.contextmanager
def _mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    if not IS_ROOT or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                                     capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_recycle_onto_a_read_only_file_system(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    with _mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        assert main(_recycle(tiny_llama, tiny_gemma, prompt, folder / "out")) == 2
    _one_error_line(capsys.readouterr().err, "read-only file system", "Choose a folder on a writable disk")


def test_a_full_disk_leaves_nothing_behind(tmp_path: Path) -> None:
    with _mounted_tmpfs(tmp_path / "small", "size=64k") as folder:
        (folder / "filler").write_bytes(b"x" * (64 * 1024))
        with pytest.raises(WriteError, match="the disk is full"):
            write_prompt(SoftPrompt(torch.ones(64, 64)), folder / "adapter", "peft")
        assert [p.name for p in folder.iterdir()] == ["filler"]


def test_recycle_into_an_immutable_folder(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = _llama_prompt_file(tiny_llama, tmp_path)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if not IS_ROOT or subprocess.run(["chattr", "+i", str(frozen)], capture_output=True, check=False).returncode:
        pytest.skip("marking a folder immutable needs root and a file system that supports it")
    try:
        code = main(_recycle(tiny_llama, tiny_gemma, prompt, frozen / "out"))
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=False)
    assert code == 2
    _one_error_line(capsys.readouterr().err, f"no permission to write {frozen}")


# ---------------------------------------------------------------------------------------------- bad prompt files


def test_a_prompt_file_without_read_permission(tmp_path: Path) -> None:
    """Run without the power to bypass permissions (as an ordinary user, or as root through setpriv)."""
    prompt = write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "prompt.npy", "npy")
    prompt.chmod(0o000)
    result = _cli_unprivileged("inspect", str(prompt))
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, f"no permission to read {prompt}", "chmod u+r")


@pytest.mark.parametrize("locked", ["adapter weights", "model weights", "model config"])
def test_a_file_we_may_not_read_is_named_so_not_damaged(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, copy_of, locked: str
) -> None:
    """safetensors reports a file without read permission as FileNotFoundError: the message said "truncated or
    damaged" and "download the model again"."""
    adapter = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "adapter", "peft")
    target = copy_of(tiny_gemma)
    file = {"adapter weights": adapter / "adapter_model.safetensors", "model weights": target / "model.safetensors",
            "model config": target / "config.json"}[locked]
    file.chmod(0o000)
    result = _cli_unprivileged(*_recycle(tiny_llama, target, adapter, tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    _ends_in_error_line(result.stderr, f"no permission to read {file}", "chmod u+r")


def test_a_job_file_without_read_permission(tmp_path: Path) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"source": "a", "target": "b", "prompt": "c"}))
    job.chmod(0o000)
    result = _cli_unprivileged("compare", "--job", str(job))
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, f"no permission to read {job}")


@pytest.mark.parametrize("damage", ["garbage", "empty", "no permission"])
def test_a_damaged_or_unreadable_tokenizer_is_one_line_not_an_internal_error(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, copy_of, damage: str
) -> None:
    """The tokenizers library raises a bare Exception ("key must be a string at line 1 column 2", "Permission denied
    (os error 13)"), which came out as an internal error, exit 1."""
    target = copy_of(tiny_gemma)
    tokenizer = target / "tokenizer.json"
    if damage == "no permission":
        tokenizer.chmod(0o000)
    else:
        tokenizer.write_text("{garbage" if damage == "garbage" else "")
    result = _cli_unprivileged(*_recycle(tiny_llama, target, _llama_prompt_file(tiny_llama, tmp_path),
                                         tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    if damage == "no permission":
        _ends_in_error_line(result.stderr, f"no permission to read {tokenizer}", "chmod u+r")
    else:
        _ends_in_error_line(result.stderr, f"the tokenizer in {target} cannot be loaded", "Copy the tokenizer files")


def test_an_npy_header_claiming_a_huge_shape_is_named_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It got "out of memory" advice naming options `recycle` does not have."""
    path = tmp_path / "prompt.npy"
    np.save(path, np.ones((2, 3), np.float32))
    path.write_bytes(path.read_bytes().replace(b"(2, 3)", b"(99999999999, 3)".ljust(6)))
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err, "its .npy header claims shape [99999999999, 3]", "Copy or export the file again")
    assert "memory" not in err


def test_random_bytes_after_the_pickle_byte_print_only_the_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch printed a two-line warning about the pickle protocol before our error line."""
    path = tmp_path / "prompt.pt"
    path.write_bytes(b"\x80" + bytes(range(92, 256)) * 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["inspect", str(path)]) == 2
    assert [str(w.message) for w in caught] == []
    err = capsys.readouterr().err
    _one_error_line(err, f"{path} cannot be read; it may be truncated or damaged (Unsupported operand 94). Copy")
    assert "weights_only" not in err  # torch's advice to unpickle anyway is no fix for a damaged file


def test_recycle_replaces_its_own_earlier_outputs(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    for seed in (0, 1):
        rows = SoftPrompt(torch.randn(4, 48, generator=torch.Generator().manual_seed(seed)))
        prompt = write_prompt(rows, tmp_path / f"prompt-{seed}.npy", "npy")
        assert main(_recycle(tiny_llama, tiny_gemma, prompt, out, "--method", "procrustes")) == 0
        assert written_by_us(out / "procrustes")
        recycled = read_prompt(out / "procrustes")
        assert recycled.meta.source_model == str(tiny_gemma)
        assert torch.equal(recycled.encoder, read_prompt(out / "procrustes").encoder)
    assert sorted(p.name for p in out.iterdir()) == ["procrustes"]


def test_a_safetensors_header_of_128_bytes_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """Its first byte is 0x80, the pickle byte: such files were read as torch files and called damaged."""
    for length in range(40):
        data = safetensors_bytes({"prompt_embeddings": torch.ones(2, 4)}, metadata={"note": "x" * length})
        if data[0] == 0x80:
            break
    path = tmp_path / "prompt.safetensors"
    path.write_bytes(data)
    assert read_prompt(path).meta.origin_format == "safetensors"


@pytest.mark.parametrize("variable", ["PROMPT_RECYCLER_DATA", "PROMPT_RECYCLER_CACHE"])
def test_a_file_where_a_user_folder_should_be_is_one_line_and_doctor_says_so(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, variable: str,
) -> None:
    """PROMPT_RECYCLER_DATA=<a file> made `compare` an internal error (NotADirectoryError), and doctor said all good."""
    (tmp_path / "a-file").write_text("mine")
    monkeypatch.setenv(variable, str(tmp_path / "a-file"))
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "p.safetensors", "safetensors")
    assert main(["compare", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt),
                 "--offset", "0", "--eval-size", "2", "--method", "v2v-lin"]) == 2
    _ends_in_error_line(capsys.readouterr().err, f"{tmp_path / 'a-file'} is a file, not a folder",
                        f"Point {variable} at a folder")
    assert main(["doctor"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().out
    assert (tmp_path / "a-file").read_text() == "mine"


def test_outputs_get_the_permissions_the_users_umask_gives_not_private_ones(tmp_path: Path) -> None:
    """mkstemp and mkdtemp made every output 0600 and every adapter folder 0700: exported adapters could not be read
    by the group or others, whatever the umask said."""
    umask = os.umask(0o022)
    os.umask(umask)
    adapter = write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "out" / "adapter", "peft")
    single = write_prompt(SoftPrompt(torch.ones(2, 4)), tmp_path / "prompt.safetensors", "safetensors")
    mode = lambda path: path.stat().st_mode & 0o777  # noqa: E731
    assert mode(adapter) == mode(tmp_path / "out") == 0o777 & ~umask
    assert mode(adapter / "adapter_config.json") == mode(single) == 0o666 & ~umask
    single.chmod(0o640)  # the user's choice for a file we replace is kept
    write_prompt(SoftPrompt(torch.zeros(2, 4)), single, "safetensors")
    assert mode(single) == 0o640
