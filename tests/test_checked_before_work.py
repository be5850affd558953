"""Every setting is checked before any work, in one place shared by the flags, job files and the window (issue 13).

Each case was found by trying the CLI as a user would: a wrong value was accepted, refused only after minutes of
work, or refused with advice that did not fit. The checks live in the settings dataclasses (``RunSettings.check``,
``Job.check``, ``TuneJob.check``, ``TuningSettings.check``, ``VocabSettings.check``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_models import write_toy_task

from recycler_gui.cli import main
from recycler_gui.core.data.unlabelled import WritingSettings
from recycler_gui.core.errors import RecyclerError
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.runs.store import list_runs
from recycler_gui.core.runs.teach_job import TeachJob
from recycler_gui.core.runs.tune_job import TuneJob
from recycler_gui.core.training.tuning import TuningSettings
from recycler_gui.core.transfer.vocab import VocabSettings

NO_CUDA = not torch.cuda.is_available()


def _only_error_line(err: str, *parts: str) -> None:
    """stderr is one user-error line holding ``parts``: nothing ran before it."""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, (part, err)


def _prompt(folder: Path, width: int = 48) -> Path:
    return write_prompt(SoftPrompt(torch.randn(4, width, generator=torch.Generator().manual_seed(0))),
                        folder / "source-prompt.safetensors", "safetensors")


def _compare(tiny_llama: Path, tiny_gemma: Path, folder: Path, *extra: str) -> list[str]:
    return ["compare", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(_prompt(folder)),
            "--task", str(write_toy_task(folder)), "--text-column", "review", "--label-column", "stars",
            "--label-words", "neg=negative,pos=positive", "--method", "v2v-lin", "--eval-size", "4", *extra]


def _tune(model: Path, folder: Path, *extra: str) -> list[str]:
    return ["tune", "--model", str(model), "--task", str(write_toy_task(folder)), "--text-column", "review",
            "--label-column", "stars", "--steps", "1", "--prompt-length", "2", "--eval-every", "1", "--eval-size",
            "2", "--test-size", "2", "--no-bf16", *extra]


def test_debug_before_the_command_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prompt-recycler --debug inspect BAD`, the form the top-level usage shows, ignored --debug."""
    assert main(["--debug", "inspect", str(tmp_path / "missing.npy")]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.npy")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("extra", [[], ["--num-words", "40"]])
def test_recycle_refuses_a_negative_offset_before_any_work(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    """`--offset -5` was told to lower the offset; with --num-words it fitted on the rarest words."""
    code = main(["recycle", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt",
                 str(_prompt(tmp_path)), "--out", str(tmp_path / "out"), "--offset", "-5", *extra])
    assert code == 2
    _only_error_line(capsys.readouterr().err, "offset (--offset, the most frequent shared words to skip) must be 0 or "
                                             "more, not -5", "Give --offset a value of 0 or more")
    assert not (tmp_path / "out").exists()


def test_compare_refuses_a_negative_offset_before_any_work(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_compare(tiny_llama, tiny_gemma, tmp_path, "--offset", "-5", "--num-words", "40")) == 2
    _only_error_line(capsys.readouterr().err, "must be 0 or more, not -5")
    assert list_runs() == []


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_a_device_this_machine_lacks_is_refused_before_any_work(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--device cuda` without CUDA was refused only after recycling, leaving a failed run in the history."""
    assert main(_compare(tiny_llama, tiny_gemma, tmp_path, "--device", "cuda")) == 2
    _only_error_line(capsys.readouterr().err, "the device 'cuda' is not available on this machine")
    assert list_runs() == []
    assert main(_tune(tiny_llama, tmp_path, "--out", str(tmp_path / "tuned"), "--device", "cuda:1")) == 2
    _only_error_line(capsys.readouterr().err, "the device 'cuda:1' is not available")
    assert not (tmp_path / "tuned").exists()


def test_tune_refuses_its_start_prompt_as_output_before_training(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tune --out` equal to its `--start` folder was refused only after all the training."""
    start = write_prompt(SoftPrompt(torch.randn(2, 48)), tmp_path / "start", "peft")
    before = (start / "adapter_model.safetensors").read_bytes()
    assert main(_tune(tiny_llama, tmp_path, "--start", str(start), "--out", str(start))) == 2
    _only_error_line(capsys.readouterr().err, f"refusing to write {start}: it would overwrite the input {start}")
    assert (start / "adapter_model.safetensors").read_bytes() == before


def test_tune_refuses_an_output_inside_the_model_folder_before_training(
    tiny_llama: Path, copy_of, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new name inside the model folder (the data-loss cases onto the weights and the task file are in
    test_user_files_safe.py)."""
    model = copy_of(tiny_llama)
    assert main(_tune(model, model.parent, "--out", str(model / "adapter"))) == 2
    _only_error_line(capsys.readouterr().err, f"refusing to write {model / 'adapter'}: it lies inside the input")
    assert not (model / "adapter").exists()


def test_a_job_file_value_of_the_wrong_type_is_one_clear_line(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval_size: "abc"` was an internal error."""
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"source": str(tiny_llama), "target": str(tiny_gemma), "prompt": str(_prompt(tmp_path)),
                               "eval_size": "abc"}))
    assert main(["compare", "--job", str(job)]) == 2
    _only_error_line(capsys.readouterr().err, "the setting eval_size is 'abc', a text, not a whole number",
                     "Give eval_size as a whole number, e.g. 200")
    assert list_runs() == []


def test_a_toml_job_naming_one_method_as_text_is_told_to_make_it_a_list(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`methods = "procrustes"` reported the unknown method 'p'."""
    job = tmp_path / "job.toml"
    job.write_text(f'source = "{tiny_llama}"\ntarget = "{tiny_gemma}"\nprompt = "{_prompt(tmp_path)}"\n'
                   'methods = "procrustes"\n')
    assert main(["compare", "--job", str(job)]) == 2
    _only_error_line(capsys.readouterr().err, "the setting methods is 'procrustes', a text, not a list of texts",
                     'a list even for one: ["procrustes"]')


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda: Job(source="s", target="t", prompt="p", batch_size=0), "batch_size (--batch-size) must be 1 or more"),
        (lambda: Job(source="s", target="t", prompt="p", num_words=0), "num_words (--num-words"),
        (lambda: Job(source="s", target="t", prompt="p", retune_eval_every=0), "retune_eval_every"),
        (lambda: Job(source="s", target="t", prompt="p", label_words=3), "label_words is 3, a whole number, not a"),
        (lambda: Job(source="s", target="t", prompt="p", method_params={"v2v-nn": {"epochs": "many"}}),
         "v2v-nn's parameter epochs is 'many', not a number"),
        (lambda: Job(source="s", target="t", prompt="p", dtype="float8"), "unknown dtype 'float8'"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(eval_size=0)), "eval_size (--eval-size) must be"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(steps=True)), "steps is True"),
        (lambda: TuneJob(model="m", out="o", format="onnx"), "unknown output format 'onnx'"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(init="text: ")), "the text init names no words"),
        (lambda: VocabSettings(offset=2.5), "offset is 2.5, a number, not a whole number"),
        (lambda: Job(source="s", target="t", prompt="p", teach_steps=5, teach_write=3),
         "teach_write (--teach-write, texts: a quarter is held out to pick the best prompt) must be 4 or more"),
        (lambda: TeachJob(source="s", target="t", prompt="p", out="o", writing=WritingSettings(count=3)),
         "3 texts to write are too few to teach on"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(learning_rate=float("nan"))),  # crashed late
         "learning_rate (--learning-rate) is nan, not a finite number"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(learning_rate=float("inf"))),  # trained to 0 %
         "learning_rate (--learning-rate) is inf, not a finite number"),
        (lambda: TuneJob(model="m", out="o", tuning=TuningSettings(max_norm=float("nan"))),  # failed after training
         "max_norm (--max-norm) is nan"),
        (lambda: Job(source="s", target="t", prompt="p", retune_learning_rate=float("-inf")), "is -inf"),
        (lambda: Job(source="s", target="t", prompt="p", teach_texts="texts.txt"), "but teaching is off"),  # ignored
        (lambda: Job(source="s", target="t", prompt="p", methods=[]),  # a job file ran baselines only, or nothing
         "no recycling method is chosen"),
        (lambda: Job(source="s", target="t", prompt="p", retune_steps=10, retune_from=[]),  # it ran, re-tuning nothing
         "re-tuning for 10 steps has no start"),
        (lambda: Job(source="s", target="t", prompt="p", retune_steps=10, retune_from=["taught"]),
         "has no start (the taught prompt needs teaching)"),
    ],
)
def test_every_settings_class_checks_types_and_ranges(settings, message: str) -> None:
    with pytest.raises(RecyclerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings().check()


def test_the_defaults_pass_the_checks() -> None:
    Job(source="s", target="t", prompt="p", device="cpu").check()
    TuneJob(model="m", out="o", device="cpu").check()
    TeachJob(source="s", target="t", prompt="p", out="o", device="cpu").check()
    VocabSettings().check()


def test_a_texts_file_too_short_to_teach_on_is_refused_before_any_work(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of three texts passed the file check and failed only after both models had run."""
    texts = tmp_path / "texts.txt"
    texts.write_text("one film\nanother film\na third film\n")
    assert main(_compare(tiny_llama, tiny_gemma, tmp_path, "--teach", "2", "--teach-texts", str(texts))) == 2
    _only_error_line(capsys.readouterr().err, "holds 3 texts, too few to teach on")
    assert list_runs() == []


@pytest.mark.parametrize(("command", "message"), [
    (["teach", "--write", "0"], "the setting count (--write) must be"),  # it said --count, which teach lacks
    (["compare", "--teach", "-1"], "the setting teach_steps (--teach) must be"),  # it said --teach-steps
])
def test_a_range_message_names_the_flag_the_user_typed(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str],
    message: str,
) -> None:
    models = ["--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(_prompt(tmp_path))]
    out = ["--out", str(tmp_path / "out")] if command[0] == "teach" else []
    assert main([*command, *models, *out]) == 2
    _only_error_line(capsys.readouterr().err, message)


@pytest.mark.parametrize("command", ["compare", "tune"])
def test_label_words_that_tokenize_alike_fail_before_any_recycling_or_model_loading(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """It recycled with every method and loaded the source model first, then stored a failed run."""
    task = ["--task", str(write_toy_task(tmp_path)), "--text-column", "review", "--label-column", "stars",
            "--label-words", "neg=ж,pos=щ", "--offset", "0"]  # both unknown to the tiny tokenizers: the same tokens
    models = (["--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(_prompt(tmp_path))]
              if command == "compare" else ["--model", str(tiny_gemma), "--out", str(tmp_path / "out")])
    offset = task if command == "compare" else task[:-2]
    assert main([command, *models, *offset]) == 2
    _only_error_line(capsys.readouterr().err, "two label words give the same tokens")
    assert list_runs() == []


def test_relative_paths_in_a_job_file_mean_its_folder(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`prompt = "../prompts/p.safetensors"` was read from the current folder: a job file and its inputs moved
    together stopped working, depending on where the command ran."""
    (tmp_path / "jobs").mkdir()
    prompt = _prompt(tmp_path)
    job = tmp_path / "jobs" / "job.toml"
    job.write_text(f'source = "{tiny_llama}"\ntarget = "{tiny_gemma}"\nprompt = "../{prompt.name}"\n'
                   'task = "movie-reviews"\n')
    monkeypatch.chdir("/")  # anywhere but the job file's folder
    loaded = Job.from_file(job)
    assert loaded.prompt == str(prompt.resolve()) and loaded.task == "movie-reviews"  # a built-in name stays


def test_messages_name_what_the_user_can_change(
    tiny_llama: Path, tiny_gemma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--num-words 5` was told to lower --offset; `tune --start` of the wrong width to pick another source model."""
    prompt = _prompt(tmp_path)
    assert main(["recycle", "--source", str(tiny_llama), "--target", str(tiny_gemma), "--prompt", str(prompt),
                 "--out", str(tmp_path / "out"), "--offset", "0", "--num-words", "5"]) == 2
    assert "Raise --num-words or leave it out" in capsys.readouterr().err
    task = ["--task", str(write_toy_task(tmp_path)), "--text-column", "review", "--label-column", "stars",
            "--label-words", "neg=negative,pos=positive"]
    assert main(["tune", "--model", str(tiny_gemma), "--start", str(prompt), "--out", str(tmp_path / "t"), *task]) == 2
    err = capsys.readouterr().err
    assert "the model to tune, has hidden size 32" in err and "source" not in err
