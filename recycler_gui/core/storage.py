"""Where Prompt Recycler keeps its files, how it writes them, and the guard that keeps outputs off the user's files.

Every write is atomic (a temporary file beside the target, renamed over it), and every failed write is one
``WriteError`` naming the path and the fix. ``guard_outputs`` runs before any work: an output may not be, hold or lie
inside one of the command's inputs, and an existing output is replaced only when it is an earlier output of ours.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import platformdirs

from .errors import OverwriteError, RecyclerError, UnreadableInputError, WriteError

APP_NAME = "prompt-recycler"


def cache_dir() -> Path:
    """User cache folder (converted GGUF checkpoints, fitted recyclers); ``PROMPT_RECYCLER_CACHE`` overrides it."""
    return _user_folder("PROMPT_RECYCLER_CACHE", platformdirs.user_cache_dir(APP_NAME), "cache")


def data_dir() -> Path:
    """User data folder (run history); ``PROMPT_RECYCLER_DATA`` overrides it."""
    return _user_folder("PROMPT_RECYCLER_DATA", platformdirs.user_data_dir(APP_NAME), "data")


def _user_folder(variable: str, default: str, what: str) -> Path:
    """The folder ``variable`` names, else ``default``; a file there is one clear error, not a crash later on."""
    folder = Path(os.environ.get(variable) or default)
    if folder.exists() and not folder.is_dir():
        raise WriteError(f"the user {what} folder {folder} is a file, not a folder",
                         f"point {variable} at a folder, or move that file away")
    return folder


# ------------------------------------------------------------------------------------------------------ the guard


def guard_outputs(
    outputs: Iterable[Path | str], inputs: Iterable[Path | str], is_ours: Callable[[Path], bool] = lambda path: False,
) -> None:
    """Refuse, before any work, every output that would harm the user's files or cannot be written.

    An output is refused when it is, holds or lies inside one of ``inputs``, when it exists and ``is_ours`` does not
    recognise it as an earlier output of ours, and when the folder it goes into cannot be written.
    """
    given = [Path(path) for path in inputs]
    for output in map(Path, outputs):
        ensure_not_input(output, given)
        if (output.exists() or output.is_symlink()) and not is_ours(output):
            raise OverwriteError(
                f"refusing to replace {output}: it exists and is not an output Prompt Recycler wrote",
                "choose a new output path, or delete it first if you mean to replace it",
            )
        check_writable(output)


def ensure_not_input(target: Path, inputs: Iterable[Path | str]) -> None:
    """Refuse a write to ``target`` when it is, holds or lies inside one of the user's input paths.

    Inputs that do not exist are skipped: they cannot be harmed (and names such as a built-in task are no paths).
    """
    forms = _forms(target)
    for given in inputs:
        if not Path(given).exists():
            continue
        for out, source in ((out, source) for out in forms for source in _forms(Path(given))):
            same, inside = out == source, out.is_relative_to(source)
            if inside or source.is_relative_to(out):
                raise OverwriteError(f"refusing to write {target}: it "
                                     f"{'would overwrite' if same else 'lies inside' if inside else 'holds'} the input "
                                     f"{given}", "choose another output path")


def _forms(path: Path) -> set[Path]:
    """The path as written (made absolute, ``..`` folded) and with every link followed."""
    return {Path(os.path.normpath(path.absolute())), path.resolve()}


def check_writable(output: Path) -> None:
    """Raise ``WriteError`` unless ``output`` (a file or a folder, existing or not) can be created or replaced."""
    folder = output if output.is_dir() else output.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise WriteError(
            f"cannot write {output}: {folder} is a file, not a folder", "choose an output path under a folder"
        )
    try:
        with tempfile.TemporaryFile(dir=folder):  # leaves nothing behind, even if we are killed right here
            pass
    except OSError as error:
        raise write_error(output, error, folder) from error


# ----------------------------------------------------------------------------------------------------- the errors


def write_error(path: Path, error: OSError, folder: Path | None = None) -> WriteError:
    """The one line for a write to ``path`` (made in ``folder``) that failed with ``error``: it names the folder
    rather than a temporary file's name."""
    where = folder or (Path(error.filename) if error.filename else path)
    code = error.errno
    if code in (errno.EACCES, errno.EPERM):
        return WriteError(f"no permission to write {where}",
                          "choose a folder you can write to, or change the folder's permissions")
    if code == errno.EROFS:
        return WriteError(f"cannot write {path}: {where} is on a read-only file system",
                          "choose a folder on a writable disk")
    if code in (errno.ENOSPC, errno.EDQUOT):
        return WriteError(f"the disk is full: no room to write {path}",
                          "free some space, or choose a folder on another disk")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if code in (errno.ENOTDIR, errno.EEXIST) and blocker is not None:
        return WriteError(f"cannot write {path}: {blocker} is a file, not a folder",
                          "choose an output path under a folder")
    if code == errno.EISDIR:
        return WriteError(f"cannot write the file {path}: it is a folder",
                          "choose another name, or move the folder away")
    if code == errno.ENOENT and folder is not None and folder.is_dir():
        return WriteError(f"cannot create files in {folder}: it is a system folder, not one for files",
                          "choose an output folder of your own")
    return WriteError(f"cannot write {path} ({error.strerror or error})", "choose another output folder")


def no_permission(path: Path) -> RecyclerError | None:
    """The no-permission error when ``path`` exists but may not be read: libraries report that as a missing or
    damaged file (safetensors: FileNotFoundError), which would send the user after the wrong fix."""
    if path.exists() and not os.access(path, os.R_OK):
        return read_error(path, PermissionError(errno.EACCES, "Permission denied"))
    return None


def read_error(path: Path, error: OSError) -> RecyclerError:
    """The one line for a file or folder the user gave that exists but cannot be read."""
    if isinstance(error, PermissionError):
        return UnreadableInputError(f"no permission to read {path}",
                                    "give yourself read access to it (chmod u+r), or copy it somewhere you can read")
    return UnreadableInputError(f"cannot read {path} ({error.strerror or error})", "check that the disk is readable")


# ----------------------------------------------------------------------------------------------- atomic writes


def _make_folder(folder: Path, target: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(target, error, folder) from error


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename.

    Any ``OSError`` on the way (the folder, the temporary file, the caller's writes, the rename) becomes a
    ``WriteError`` naming ``target``.
    """
    _make_folder(target.parent, target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise write_error(target, error, target.parent) from error
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(_mode_for(target, 0o666))  # mkstemp makes 0600: give the file what any new file of the user gets
        tmp.replace(target)
    except OSError as error:
        raise write_error(target, error, target.parent) from error
    finally:
        tmp.unlink(missing_ok=True)


def _mode_for(target: Path, full: int) -> int:
    """The permission bits for a new ``target``: those of the file or folder it replaces, else ``full`` less the
    process's umask (as ``open`` and ``mkdir`` give)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(target.stat().st_mode)
    return full & ~_umask()


@functools.cache
def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (setting it to read it is not thread-safe)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write a file atomically."""
    write_atomic(target, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(target: Path, text: str) -> None:
    """Write a text file atomically."""
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """Yield an empty folder beside ``folder`` to write several outputs into; move them into ``folder`` only on success.

    Each entry replaces the entry of the same name in ``folder`` (callers check with ``guard_outputs`` first that it
    is an earlier output of ours), a folder entry by entry; other entries of ``folder``, and of its folders, stay.
    When the caller fails, ``folder`` is left as it was, and folders made on the way to it are removed again.
    """
    made = [p for p in (folder.parent, *folder.parent.parents) if not p.exists()]
    _make_folder(folder.parent, folder)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
        stage.chmod(_mode_for(folder, 0o777))  # mkdtemp makes 0700
    except OSError as error:
        _remove_empty(made)
        raise write_error(folder, error, folder.parent) from error
    try:
        yield stage
        _move_entries(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(made)
        raise
    shutil.rmtree(stage, ignore_errors=True)


def _move_entries(stage: Path, folder: Path) -> None:
    try:
        if not folder.exists():
            stage.rename(folder)
            return
        _merge(stage, folder)
    except OSError as error:
        raise write_error(folder, error, folder.parent) from error


def _merge(source: Path, folder: Path) -> None:
    """Move each entry of ``source`` into ``folder``: a folder into an existing folder merges, entry by entry, so
    files the user added beside our outputs (notes in an adapter folder) stay; anything else replaces its namesake."""
    for entry in sorted(source.iterdir()):
        destination = folder / entry.name
        if entry.is_dir() and destination.is_dir() and not destination.is_symlink():
            _merge(entry, destination)
            continue
        both_files = entry.is_file() and destination.is_file() and not destination.is_symlink()
        if not both_files and (destination.exists() or destination.is_symlink()):
            destination.rename(source / f".replaced.{entry.name}")  # only a file renames over a file in one step
        entry.replace(destination)


def _remove_empty(folders: list[Path]) -> None:
    for path in folders:  # deepest first
        with contextlib.suppress(OSError):
            path.rmdir()
