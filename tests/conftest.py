"""Session fixtures: tiny random models saved as real Hugging Face folders, built once per test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import tiny_models


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the tests' files out of the user's folders: run history and settings per test, the cache (converted
    models, fitted recyclers) shared by the session."""
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("PROMPT_RECYCLER_DATA", str(tmp_path / "user-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_t5(tmp_path_factory.mktemp("t5"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_gemma3(tmp_path_factory.mktemp("gemma"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture
def copy_of(tmp_path: Path):
    """Copy a session model folder so a test may damage it."""

    def copy(folder: Path) -> Path:
        return Path(shutil.copytree(folder, tmp_path / folder.name))

    return copy


@pytest.fixture(scope="session")
def tiny_gguf(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gguf_fixture import write_tiny_gguf

    return write_tiny_gguf(tiny_llama, tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf")
