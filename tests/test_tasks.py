"""Tasks: task files in every format, label words, splits, the movie-review data and its fetch, and ``data show``.

Nothing here runs pip: fetching is tested with a small fake sdist built in the same layout as vaderSentiment's.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import random
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from tiny_models import TOY_POSITIVE, write_toy_task

from recycler_gui.cli import main
from recycler_gui.core import pip_download
from recycler_gui.core.data import movie_reviews as reviews
from recycler_gui.core.data.catalog import BUILTIN_TASKS, load_task
from recycler_gui.core.data.movie_reviews import (
    MOVIE_REVIEWS_LABEL_WORDS,
    MOVIE_REVIEWS_TEMPLATE,
    fetch_movie_reviews,
    movie_reviews,
    movie_reviews_path,
    read_ground_truth,
)
from recycler_gui.core.data.tasks import (
    DEFAULT_TEMPLATE,
    Example,
    Task,
    TaskError,
    escape_template,
    load_task_file,
    unescape_template,
)
from recycler_gui.core.events import Log, Stage
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.core.report import FINISHED
from recycler_gui.core.runs.pipeline import Job, run


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own cache, so a fetched movie-review file never leaks into another test."""
    monkeypatch.setenv("PROMPT_RECYCLER_CACHE", str(tmp_path / "cache"))


def _task(**changes) -> Task:
    fields = {
        "name": "t", "template": "Q: {text}\nA:", "label_words": (" no", " yes"),
        "train": (Example("a", 0), Example("b", 1)), "dev": (Example("c", 1),), "test": (Example("d", 0),),
    }
    return Task(**{**fields, **changes})


def _write_csv(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _labelled(n: int, labels: list[object]) -> list[list[object]]:
    return [[f"text number {i}", labels[i % len(labels)]] for i in range(n)]


# ------------------------------------------------------------------------------------------------------------ Task


def test_render_fills_only_the_text_slot_and_leaves_braces_alone() -> None:
    task = _task(template="{json: {x}} {text} {{text}}")
    assert task.render("a {text} {0} }{") == "{json: {x}} a {text} {0} }{ {a {text} {0} }{}"


def test_split_by_name_and_unknown_split() -> None:
    task = _task()
    assert task.split("dev") == (Example("c", 1),)
    with pytest.raises(TaskError, match=r"no split named 'validation'\. Use one of train, dev, test"):
        task.split("validation")


def test_texts_and_labels_render_a_split_as_scoring_takes_it() -> None:
    task = _task()
    texts, gold = task.texts_and_labels("train")
    assert texts == [task.render(e.text) for e in task.train] and gold.tolist() == [e.label for e in task.train]
    texts, gold = task.texts_and_labels("train", 1)
    assert len(texts) == 1 and gold.tolist() == [task.train[0].label]


def test_a_template_typed_on_one_line_and_back() -> None:
    assert unescape_template("Q: {text}\\nA:") == "Q: {text}\nA:" and unescape_template(None) is None
    assert escape_template("Q: {text}\nA:") == "Q: {text}\\nA:"


def test_describe_counts_examples_per_split_and_label() -> None:
    info = _task().describe()
    assert info == {
        "name": "t", "template": "Q: {text}\nA:", "label_words": [" no", " yes"],
        "examples": {"train": 2, "dev": 1, "test": 1},
        "label_counts": {"train": [1, 1], "dev": [0, 1], "test": [1, 0]},
    }


def test_task_checks_template_words_splits_and_labels() -> None:
    with pytest.raises(TaskError, match=r"has no \{text\} slot"):
        _task(template="Q: {input}")
    with pytest.raises(TaskError, match="the dev split of task 't' is empty"):
        _task(dev=())
    with pytest.raises(TaskError, match="has label 2, but the task has 2 label words"):
        _task(test=(Example("d", 2),))
    with pytest.raises(TaskError, match="example 1 of the train split of task 't' has an empty text"):
        _task(train=(Example("  ", 0),))
    with pytest.raises(TaskError, match="share the label word ' yes'"):
        _task(label_words=(" yes", " yes"))


def test_with_template_is_a_checked_copy() -> None:
    task = _task()
    other = task.with_template("Question: {text}\nAnswer:", ["no", "yes"])
    assert (other.template, other.label_words, other.train) == ("Question: {text}\nAnswer:", ("no", "yes"), task.train)
    assert task.template == "Q: {text}\nA:"
    assert task.with_template(label_words="yes=sure,no=nope").label_words == (" nope", " sure")
    with pytest.raises(TaskError, match=r"has no \{text\} slot"):
        task.with_template("no slot")
    with pytest.raises(TaskError, match="3 label words but only 2 labels"):
        task.with_template(label_words=["a", "b", "c"])


# ------------------------------------------------------------------------------------------------------- task files


def test_csv_with_integer_labels_in_numeric_order(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "topics.csv", ["text", "label"], _labelled(30, [10, 2, 1]))
    task = load_task_file(path, text_column="text", label_column="label", label_words="one,two,ten",
                          template="{text} =")
    assert task.name == "topics"
    assert task.label_words == (" one", " two", " ten")
    label_of = {example.text: example.label for split in ("train", "dev", "test") for example in task.split(split)}
    assert label_of["text number 0"] == 2 and label_of["text number 1"] == 1 and label_of["text number 2"] == 0


def test_tsv_with_text_labels_sorted_and_label_values_as_default_words(tmp_path: Path) -> None:
    rows = [[f'he said "hi"\tand {{left}} #{i}', label] for i, label in enumerate(["pos", "neg"] * 10)]
    path = _write_csv(tmp_path / "reviews.tsv", ["review", "sentiment"], rows, delimiter="\t")
    task = load_task(str(path), text_column="review", label_column="sentiment")
    assert task.label_words == (" neg", " pos")
    assert task.template == DEFAULT_TEMPLATE
    texts = {example.text for example in task.train + task.dev + task.test}
    assert 'he said "hi"\tand {left} #0' in texts


def test_jsonl_with_numbers_booleans_and_extra_keys(tmp_path: Path) -> None:
    rows = [{"sentence": f"s{i}", "gold": i % 2 == 0, "id": i} for i in range(20)]
    path = _write_jsonl(tmp_path / "data.json-lines", rows)
    task = load_task_file(path, text_column="sentence", label_column="gold", label_words="false= wrong,true= right",
                          template="{text}?")
    assert task.label_words == (" wrong", " right")
    assert all(int(example.text[1:]) % 2 == 0 for example in task.train if example.label == 1)


def test_json_floats_that_are_integers_match_integer_labels(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": [0, 1.0, 2][i % 3]} for i in range(30)])
    assert load_task(str(path), label_words="0=a,1=b,2=c").label_words == (" a", " b", " c")


def test_value_word_pairs_in_any_order_keep_label_order(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["pos", "neg"]))
    task = load_task(str(path), label_words="pos = good , neg= bad")
    assert task.label_words == (" bad", " good")


def test_words_get_no_leading_space_when_the_template_ends_in_whitespace(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["pos", "neg"]))
    assert load_task(str(path), label_words=" bad, good", template="Review: {text}\nSentiment: ").label_words == (
        "bad", "good",
    )
    assert load_task(str(path), label_words=["exact", " words "]).label_words == ("exact", " words ")


def test_split_column_chooses_splits_in_file_order(tmp_path: Path) -> None:
    rows = [["t0", "a", "train"], ["t1", "b", " Train "], ["t2", "a", "validation"], ["t3", "b", "test"],
            ["t4", "b", "dev"]]
    task = load_task_file(_write_csv(tmp_path / "s.csv", ["text", "label", "split"], rows),
                          text_column="text", label_column="label", label_words=None, template="{text}")
    assert [e.text for e in task.train] == ["t0", "t1"]
    assert [e.text for e in task.dev] == ["t2", "t4"]
    assert [e.text for e in task.test] == ["t3"]


def test_seeded_split_is_80_10_10_and_deterministic(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(105, ["x", "y"]))
    first, again, other = load_task(str(path)), load_task(str(path), seed=0), load_task(str(path), seed=1)
    assert first.describe()["examples"] == {"train": 85, "dev": 10, "test": 10}
    assert first == again
    assert first.test != other.test
    everything = first.train + first.dev + first.test
    assert sorted(e.text for e in everything) == sorted(f"text number {i}" for i in range(105))
    shuffled = [Example(f"text number {i}", i % 2) for i in range(105)]
    random.Random(0).shuffle(shuffled)
    assert first.test == tuple(shuffled[:10]) and first.dev == tuple(shuffled[10:20])


def test_crlf_bom_and_blank_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    body = "text,label\r\n" + "".join(f"  t{i} ,{i % 2}\r\n\r\n" for i in range(20))
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    task = load_task(str(path))
    assert sum(task.describe()["examples"].values()) == 20
    assert all(e.text == e.text.strip() for e in task.train)


# --------------------------------------------------------------------------------------------------- bad task files


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="no such task file"):
        load_task(str(tmp_path / "gone.csv"))
    with pytest.raises(TaskError, match="no built-in task or file named 'sst2'.*movie-reviews"):
        load_task("sst2")


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"text": "a", "label": 1}\n')
    with pytest.raises(TaskError, match=r"extension \.json is not \.csv, \.tsv, \.jsonl.*renaming to \.jsonl"):
        load_task(str(tmp_path / "d.json"))


def test_missing_columns_lists_the_columns_found(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["sentence", "gold"], _labelled(20, [0, 1]))
    with pytest.raises(TaskError, match="no column 'text' or 'label'; its columns are 'sentence', 'gold'"):
        load_task(str(path))


def test_labels_without_words_are_named(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(30, ["a", "b", "c"]))
    with pytest.raises(TaskError, match="the label 'c' has no label word: 2 words for 3 labels"):
        load_task(str(path), label_words="x,y")
    with pytest.raises(TaskError, match="the labels 'a', 'c' have no label word"):
        load_task(str(path), label_words="b=y")


def test_more_label_words_than_labels(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["a", "b"]))
    with pytest.raises(TaskError, match=r"3 label words but only 2 labels \('a', 'b'\)"):
        load_task(str(path), label_words="x,y,z")
    with pytest.raises(TaskError, match="more label words than labels: no example has the label 'c'"):
        load_task(str(path), label_words="a=x,b=y,c=z")


def test_bad_label_word_specs(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["a", "b"]))
    with pytest.raises(TaskError, match="mix plain words and value=word pairs"):
        load_task(str(path), label_words="a=x,y")
    with pytest.raises(TaskError, match="a label word is empty"):
        load_task(str(path), label_words="a=x,b=")
    with pytest.raises(TaskError, match="share the label word ' x'"):
        load_task(str(path), label_words="x,x")


def test_single_label_is_refused(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["a"]))
    with pytest.raises(TaskError, match="every example in d.csv has the label 'a'"):
        load_task(str(path))


def test_empty_text_and_empty_label_name_the_line(tmp_path: Path) -> None:
    rows = _labelled(20, ["a", "b"])
    rows[3][0] = "   "
    with pytest.raises(TaskError, match="line 5 of d.csv has an empty text in column 'text'"):
        load_task(str(_write_csv(tmp_path / "d.csv", ["text", "label"], rows)))
    rows = _labelled(20, ["a", "b"])
    rows[6][1] = ""
    with pytest.raises(TaskError, match="line 8 of e.csv has no label in column 'label'"):
        load_task(str(_write_csv(tmp_path / "e.csv", ["text", "label"], rows)))


def test_empty_splits_are_named(tmp_path: Path) -> None:
    rows = [["t0", "a", "train"], ["t1", "b", "test"], ["t2", "a", "test"]]
    with pytest.raises(TaskError, match=r"the dev split of s.csv is empty.*'dev' \(or validation\)"):
        load_task(str(_write_csv(tmp_path / "s.csv", ["text", "label", "split"], rows)))
    with pytest.raises(TaskError, match="only 9 examples, so the dev and test splits .* would be empty"):
        load_task(str(_write_csv(tmp_path / "small.csv", ["text", "label"], _labelled(9, ["a", "b"]))))


def test_unknown_split_value_names_the_line(tmp_path: Path) -> None:
    rows = [["t0", "a", "train"], ["t1", "b", "holdout"]]
    with pytest.raises(TaskError, match="line 3 of s.csv has the split 'holdout'"):
        load_task(str(_write_csv(tmp_path / "s.csv", ["text", "label", "split"], rows)))


def test_template_without_text_slot(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["a", "b"]))
    with pytest.raises(TaskError, match=r"the template 'Review: \{review\}' has no \{text\} slot"):
        load_task(str(path), template="Review: {review}")


def test_corrupt_rows_name_the_line(tmp_path: Path) -> None:
    bad_csv = tmp_path / "d.csv"
    bad_csv.write_text("text,label\nfine,a\nalso fine,b\ntoo,many,fields\n")
    with pytest.raises(TaskError, match="line 4 of d.csv has 3 fields but the header has 2"):
        load_task(str(bad_csv))
    bad_quotes = tmp_path / "q.csv"
    bad_quotes.write_text('text,label\nfine,a\n"broken" quote,b\n')
    with pytest.raises(TaskError, match="line 3 of q.csv cannot be read as CSV"):
        load_task(str(bad_quotes))
    bad_json = tmp_path / "d.jsonl"
    bad_json.write_text('{"text": "a", "label": 0}\n\n{"text": "b", "label": }\n')
    with pytest.raises(TaskError, match="line 3 of d.jsonl is not valid JSON"):
        load_task(str(bad_json))
    not_object = tmp_path / "l.jsonl"
    not_object.write_text('{"text": "a", "label": 0}\n["b", 1]\n')
    with pytest.raises(TaskError, match="line 2 of l.jsonl holds a JSON list, not an object"):
        load_task(str(not_object))
    missing_key = tmp_path / "m.jsonl"
    missing_key.write_text('{"text": "a", "label": 0}\n{"text": "b"}\n')
    with pytest.raises(TaskError, match="line 2 of m.jsonl has no label"):
        load_task(str(missing_key))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\nok,a\ncaf\xe9,b\n".encode("latin-1"))
    with pytest.raises(TaskError, match="line 3 of latin.csv is not UTF-8 text"):
        load_task(str(latin))


# ---------------------------------------------------------------------------------------------------- movie reviews


def _ground_truth(positive: int = 900, negative: int = 800, zero: int = 5) -> bytes:
    """A file in the VADER ground-truth layout: CRLF, tabs, some stray whitespace, a blank line, no final newline."""
    ratings = [1.5] * positive + [-2.25] * negative + [0.0] * zero
    random.Random(7).shuffle(ratings)
    lines = []
    for number, rating in enumerate(ratings, 1):
        text = f"sentence {number}  with {{braces}}   and  gaps " if number % 50 == 0 else f"sentence {number}"
        lines.append(f" {number}\t{rating} \t {text}" if number % 7 == 0 else f"{number}\t{rating}\t{text}")
    lines.insert(10, "")
    return "\r\n".join(lines).encode()


def _movie_file(data: bytes | None = None) -> Path:
    path = movie_reviews_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_ground_truth() if data is None else data)
    return path


def test_movie_reviews_path_is_in_the_user_cache(tmp_path: Path) -> None:
    assert movie_reviews_path() == tmp_path / "cache" / "data" / "movieReviewSnippets_GroundTruth.txt"
    assert list(BUILTIN_TASKS) == ["movie-reviews"]


def test_ground_truth_parsing_drops_zeros_and_cleans_whitespace() -> None:
    examples = read_ground_truth(_movie_file())
    assert len(examples) == 1700
    assert sum(example.label for example in examples) == 900
    assert all(example.text == " ".join(example.text.split()) for example in examples)
    assert "sentence 50 with {braces} and gaps" in {example.text for example in examples}


def test_ground_truth_bad_line_is_named() -> None:
    path = _movie_file(b"1\t2.0\tgood\r\n2\tnot-a-number\tbad\r\n")
    with pytest.raises(TaskError, match="line 2 of .* is not 'id, rating, text'"):
        read_ground_truth(path)


def test_movie_reviews_documented_split() -> None:
    _movie_file()
    task = movie_reviews()
    assert (task.name, task.template, task.label_words) == (
        "movie-reviews", MOVIE_REVIEWS_TEMPLATE, MOVIE_REVIEWS_LABEL_WORDS,
    )
    assert task.describe()["examples"] == {"train": 200, "dev": 500, "test": 1000}
    shuffled = list(read_ground_truth(movie_reviews_path()))
    random.Random(0).shuffle(shuffled)
    assert task.test == tuple(shuffled[:1000])
    assert task.dev == tuple(shuffled[1000:1500])
    assert task.train == tuple(shuffled[1500:])
    assert movie_reviews(0) == task
    assert movie_reviews(1).test != task.test
    assert task.render("it {rocks}") == "Review: it {rocks}\nSentiment:"


def test_movie_reviews_missing_says_how_to_fetch() -> None:
    with pytest.raises(TaskError, match="not in the cache yet.*Run `prompt-recycler data fetch`"):
        movie_reviews()


def test_movie_reviews_too_short_says_to_fetch_again() -> None:
    _movie_file(_ground_truth(positive=700, negative=700))
    with pytest.raises(TaskError, match="only 1400 labelled sentences"):
        movie_reviews()


def test_load_task_builtin_with_overrides() -> None:
    _movie_file()
    task = load_task("movie-reviews", template="Text: {text}\nMood:", label_words="positive=good,negative=bad")
    assert (task.template, task.label_words) == ("Text: {text}\nMood:", (" bad", " good"))
    assert task.test == movie_reviews().test
    with pytest.raises(TaskError, match="built-in task movie-reviews has fixed columns"):
        load_task("movie-reviews", text_column="review")


# ------------------------------------------------------------------------------------------------------------ fetch


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def fake_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A vaderSentiment-like sdist with our ground truth inside; pip is replaced by a copy of it."""
    data = _ground_truth()
    inner = _tar_bytes({
        "hutto_ICWSM_2014/_README_.txt": b"readme",
        reviews.MOVIE_REVIEWS_MEMBER: data,
        "../../evil.txt": b"escape attempt",
        "/tmp/absolute-evil.txt": b"escape attempt",
    })
    sdist = tmp_path / "built" / reviews.VADER_SDIST
    sdist.parent.mkdir()
    sdist.write_bytes(_tar_bytes({
        "vaderSentiment-3.3.2/setup.py": b"",
        reviews.VADER_INNER_ARCHIVE: inner,
        "../outer-evil.txt": b"escape attempt",
    }))
    calls = []

    def download(folder: Path, events=None) -> Path:
        calls.append(folder)
        copy = folder / sdist.name
        copy.write_bytes(sdist.read_bytes())
        return copy

    monkeypatch.setattr(reviews, "_download_sdist", download)
    monkeypatch.setattr(reviews, "VADER_SDIST_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    monkeypatch.setattr(reviews, "MOVIE_REVIEWS_SHA256", hashlib.sha256(data).hexdigest())
    return {"data": data, "calls": calls, "sdist": sdist}


def test_fetch_extracts_one_file_atomically_and_reports_progress(fake_sdist: dict, tmp_path: Path) -> None:
    events = []
    path = fetch_movie_reviews(events.append)
    assert path == movie_reviews_path()
    assert path.read_bytes() == fake_sdist["data"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert any(isinstance(event, Stage) and "downloading" in event.name for event in events)
    assert any(isinstance(event, Log) and "wrote" in event.text for event in events)
    assert not list(tmp_path.rglob("*evil.txt")) and not Path("/tmp/absolute-evil.txt").exists()
    assert not fake_sdist["calls"][0].exists()
    assert movie_reviews().describe()["examples"] == {"train": 200, "dev": 500, "test": 1000}


def test_fetch_is_a_no_op_when_the_file_is_there(fake_sdist: dict) -> None:
    fetch_movie_reviews()
    events = []
    assert fetch_movie_reviews(events.append) == movie_reviews_path()
    assert len(fake_sdist["calls"]) == 1
    assert isinstance(events[0], Log) and "already in place" in events[0].text


def test_fetch_replaces_a_file_that_differs(fake_sdist: dict) -> None:
    _movie_file(b"1\t1.0\tstale\r\n")
    fetch_movie_reviews()
    assert movie_reviews_path().read_bytes() == fake_sdist["data"]
    assert len(fake_sdist["calls"]) == 1


def test_fetch_refuses_an_sdist_with_another_checksum(fake_sdist: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reviews, "VADER_SDIST_SHA256", "0" * 64)
    with pytest.raises(TaskError, match=r"has SHA-256 [0-9a-f]{64}, not the pinned 0{64}.*place the file by hand"):
        fetch_movie_reviews()
    assert not movie_reviews_path().exists()


def test_fetch_refuses_a_sdist_without_the_data(fake_sdist: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_sdist["sdist"].write_bytes(_tar_bytes({"vaderSentiment-3.3.2/setup.py": b""}))
    monkeypatch.setattr(reviews, "VADER_SDIST_SHA256", hashlib.sha256(fake_sdist["sdist"].read_bytes()).hexdigest())
    with pytest.raises(TaskError, match="holds no vaderSentiment-3.3.2/additional_resources"):
        fetch_movie_reviews()


def test_fetch_reports_a_full_disk(fake_sdist: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(target: Path, write) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reviews, "write_atomic", full)
    with pytest.raises(TaskError, match="the disk is full.*Free a few MB"):
        fetch_movie_reviews()


def _fake_pip(monkeypatch: pytest.MonkeyPatch, returncode: int, output: str, write: bytes | None = None) -> list:
    """Replace pip with a process that prints ``output`` and exits with ``returncode``."""
    commands = []

    class FakePip:
        def __init__(self, command, **kwargs) -> None:
            commands.append(command)
            if write is not None:
                Path(command[command.index("--dest") + 1], reviews.VADER_SDIST).write_bytes(write)
            self.stdout = io.StringIO(output)
            self.returncode = returncode

        def wait(self) -> int:
            return self.returncode

    monkeypatch.setattr(pip_download.subprocess, "Popen", FakePip)
    return commands


def test_download_runs_pip_for_the_pinned_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _fake_pip(monkeypatch, 0, "", write=b"sdist")
    assert reviews._download_sdist(tmp_path) == tmp_path / reviews.VADER_SDIST
    command = commands[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--no-binary", ":all:", "vaderSentiment==3.3.2"} <= set(command)


def test_unreachable_index_says_so_and_how_to_place_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pip(monkeypatch, 1, (
        "WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')\n"
        "ERROR: Could not find a version that satisfies the requirement vaderSentiment==3.3.2 (from versions: none)\n"
        "ERROR: No matching distribution found for vaderSentiment==3.3.2\n"
    ))
    with pytest.raises(TaskError) as error:
        fetch_movie_reviews()
    message = str(error.value)
    assert "unreachable" in message and "No matching distribution found" in message
    assert "place the file by hand" in message and str(movie_reviews_path()) in message
    assert "\n" not in message


def test_pip_disk_full_and_other_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pip(monkeypatch, 1, "ERROR: Could not install: [Errno 28] No space left on device\n")
    with pytest.raises(TaskError, match="the disk is full"):
        fetch_movie_reviews()
    _fake_pip(monkeypatch, 2, "ERROR: something odd\n")
    with pytest.raises(TaskError, match=r"pip could not download vaderSentiment==3.3.2 \(pip: ERROR: something odd\)"):
        fetch_movie_reviews()


# -------------------------------------------------------------------------------------------------------------- CLI


def test_data_show_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[f"text {{{i}}}", ["neg", "pos"][i % 2]] for i in range(20)]
    path = _write_csv(tmp_path / "d.csv", ["review", "y"], rows)
    args = ["data", "show", str(path), "--text-column", "review", "--label-column", "y",
            "--label-words", "neg=bad,pos=good", "--template", "R: {text}\\nS:"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "label words: ' bad', ' good'" in out and "train: 16 examples" in out
    assert out.count("example ") == 3 and "  S:[ " in out
    assert main([*args, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["template"] == "R: {text}\nS:"
    assert info["examples"] == {"train": 16, "dev": 2, "test": 2}
    assert len(info["samples"]) == 3
    sample = info["samples"][0]
    assert sample["rendered"] == f"R: {sample['text']}\nS:" and sample["label_word"] in (" bad", " good")


def test_data_show_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "show", "movie-reviews"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "prompt-recycler data fetch" in err and err.count("\n") == 1
    path = _write_csv(tmp_path / "d.csv", ["text", "label"], _labelled(20, ["a", "b"]))
    assert main(["data", "show", str(path), "--label-column", "gold"]) == 2
    assert "its columns are 'text', 'label'" in capsys.readouterr().err


def test_data_fetch_prints_where_and_counts(fake_sdist: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch"]) == 0
    captured = capsys.readouterr()
    assert str(movie_reviews_path()) in captured.out
    assert "1,700 labelled sentences: 200 train, 500 dev, 1,000 test" in captured.out
    assert "downloading" in captured.err


def test_data_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data"]) == 2
    assert "fetch" in capsys.readouterr().out


def test_a_run_fetches_the_built_in_tasks_data_first_as_it_does_a_demo_model(
    fake_sdist: dict, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    """The window's Run (the demo's too) failed at once with "run `prompt-recycler data fetch` once", a command a
    window user may not have, while the same run fetched the models it lacked."""
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "prompt.safetensors", "safetensors")
    job = Job(source=str(tiny_llama), target=str(tiny_gemma), prompt=str(prompt), methods=["v2v-lin"],
              baselines=["no-prompt"], score_source=False, offset=0, num_words=None, eval_size=4, batch_size=4,
              device="cpu")
    assert not movie_reviews_path().exists()
    stages: list[str] = []
    report = run(job, events=lambda event: isinstance(event, Stage) and stages.append(event.name))
    assert report.status == FINISHED and movie_reviews_path().read_bytes() == fake_sdist["data"]
    assert stages[0].startswith("downloading")  # before anything else


def test_scoring_the_first_examples_of_a_file_sorted_by_label_is_pointed_out(tmp_path: Path) -> None:
    """`--eval-size 6` on a file sorted by label scored only 'pos': accuracy 100, AUC empty, and no word of why."""
    task = load_task(str(write_toy_task(tmp_path)), text_column="review", label_column="stars",
                     label_words="neg=negative,pos=positive")  # the file: every positive test row, then the negatives
    assert task.scoring_note("test", len(TOY_POSITIVE)) == (
        f"the {len(TOY_POSITIVE)} test examples scored hold no ' negative': accuracy says little and AUC cannot be "
        "measured; score more examples or mix the file's rows")
    size = len(task.test)
    assert task.scoring_note("test", size) is None
    assert task.scoring_note("test", size + 5) == (
        f"the test split has {size} examples, fewer than the {size + 5} asked: all are scored")
