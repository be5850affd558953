"""Session fixtures: tiny random models saved as real Hugging Face folders, built once per test run."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import tiny_models
from hub_server import LocalHub


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the tests' files out of the user's folders: run history and settings per test, the cache (converted
    models, fitted recyclers) shared by the session."""
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("PROMPT_RECYCLER_DATA", str(tmp_path / "user-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.delenv("PROMPT_RECYCLER_DOWNLOAD", raising=False)


@pytest.fixture(autouse=True)
def _widgets_collected_on_the_ui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test with widgets runs as the app does (``gui.app``): no automatic garbage collection, which runs in whichever
    thread allocates and may delete a widget held in a reference cycle on a background task's thread, where Qt
    crashes (an intermittent segfault in later tests); its garbage is collected here, on the UI thread, after it."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


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


@pytest.fixture
def local_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHub]:
    """A local Hugging Face Hub (tests/hub_server.py) that huggingface_hub talks to instead of huggingface.co.

    HF_ENDPOINT points at it and HF_HOME at an empty folder of this test, in the environment (for subprocesses) and
    in huggingface_hub's constants (read once at import, so set here too). Offline mode is off for the test; chunks
    are small so progress and cancel happen within a tiny file; a stuck request times out in seconds.
    """
    import huggingface_hub.constants as constants

    home = tmp_path / "hf-home"
    with LocalHub() as hub:
        for name, value in (("HF_ENDPOINT", hub.url), ("HF_HOME", str(home)), ("HF_HUB_OFFLINE", "0")):
            monkeypatch.setenv(name, value)
        for name in ("HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        patched = {
            "ENDPOINT": hub.url, "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_TOKEN_PATH": str(home / "token"),
            "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"), "HF_HUB_OFFLINE": False,
            "DOWNLOAD_CHUNK_SIZE": 16 * 1024, "HF_HUB_ETAG_TIMEOUT": 5, "HF_HUB_DOWNLOAD_TIMEOUT": 5,
            "HF_HUB_DISABLE_XET": constants.HF_HUB_DISABLE_XET,  # restored after the test: the app switches Xet off
        }
        for name, value in patched.items():
            monkeypatch.setattr(constants, name, value)
        yield hub
