"""A run's stored status tells a live run from a dead one (issue 13): written at the start, on every exit path, and
kept fresh by a heartbeat that any host can read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from tiny_models import write_toy_task

from recycler_gui.cli import main
from recycler_gui.core import report as report_module
from recycler_gui.core.events import Result
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.report import HEARTBEAT_SECONDS, STALE_BEATS
from recycler_gui.core.runs import store
from recycler_gui.core.runs.pipeline import Job, run
from recycler_gui.core.runs.store import list_runs, open_run, runs_root


@pytest.fixture
def job(tiny_llama: Path, tiny_gemma: Path, tmp_path: Path) -> Job:
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "source-prompt.safetensors", "safetensors")
    return Job(
        source=str(tiny_llama), target=str(tiny_gemma), prompt=str(prompt), task=str(write_toy_task(tmp_path)),
        text_column="review", label_column="stars", label_words="neg=negative,pos=positive", methods=["v2v-lin"],
        baselines=["no-prompt"], offset=0, num_words=None, eval_size=4, batch_size=4, device="cpu",
        score_source=False,
    )


def test_a_run_killed_before_its_first_row_is_interrupted_not_without_a_report(job: Job) -> None:
    """Killed after recycling but before its first row, a run was listed as "no report"."""
    script = textwrap.dedent(f"""
        import json, os, signal
        from recycler_gui.core.runs import pipeline
        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        pipeline.recycle = killed
        pipeline.run(pipeline.Job.from_dict(json.loads({json.dumps(job.as_dict())!r})))
    """)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert process.returncode == -9, process.stderr
    [stored] = list_runs()
    assert (stored["status"], stored["rows"]) == ("interrupted", 0)
    assert open_run(stored["id"]).load_report().status == "interrupted"


def test_ctrl_c_is_stored_as_cancelled(job: Job) -> None:
    """Ctrl-C left "running" on disk."""

    def interrupt(event: object) -> None:
        if isinstance(event, Result):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(job, events=interrupt)
    [stored] = list_runs()
    assert (stored["status"], stored["rows"]) == ("cancelled", 1)


def test_ctrl_c_in_compare_exits_130_and_stores_cancelled(
    job: Job, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from recycler_gui.core.runs import pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "recycle", interrupted)
    (tmp_path / "job.json").write_text(json.dumps(job.as_dict()))
    assert main(["compare", "--job", str(tmp_path / "job.json")]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "cancelled"
    assert [run["status"] for run in list_runs()] == ["cancelled"]


def _stored_run(run_id: str, writer: dict, heartbeat: float | None) -> None:
    folder = runs_root() / run_id
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"source": "a", "target": "b"}))
    (folder / "report.json").write_text(json.dumps({"status": "running", "rows": [], "writer": writer}))
    if heartbeat is not None:
        (folder / store.HEARTBEAT).write_text(f"{heartbeat}\n")


def test_a_run_of_another_host_is_interrupted_once_its_heartbeat_stops() -> None:
    """Seen from another host, a dead run stayed "running" forever."""
    elsewhere = {"host": "another-machine", "pid": 1}
    now, stale = time.time(), STALE_BEATS * HEARTBEAT_SECONDS
    _stored_run("20260101-000000-beats0", elsewhere, now - 1)
    _stored_run("20260101-000000-quiet0", elsewhere, now - stale - 60)
    _stored_run("20260101-000000-older0", elsewhere, None)  # an earlier version: no heartbeat, so trusted
    statuses = {run["id"]: run["status"] for run in list_runs()}
    assert statuses == {"20260101-000000-beats0": "running", "20260101-000000-quiet0": "interrupted",
                        "20260101-000000-older0": "running"}


def test_a_live_run_keeps_its_heartbeat_fresh(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(store, "HEARTBEAT_SECONDS", 0.05)
    seen: list[tuple[str, float]] = []

    def watch(event: object) -> None:
        if isinstance(event, Result):
            time.sleep(0.3)  # several beats while the run is alive
            [stored] = list_runs()
            seen.append((stored["status"], open_run(stored["id"]).load_report().heartbeat))

    started = time.time()
    report = run(job, events=watch)
    [(status, heartbeat), *_] = seen
    assert status == "running" and heartbeat > started + 0.2
    assert report.status == "finished" and list_runs()[0]["status"] == "finished"
