"""Where an export goes: the atomic temporary, and write failures as one-line errors.

A full disk or an unwritable folder surfaces as an ``OSError`` somewhere deep in
an encoder; the user needs "PATH: the disk is full", and the half-written
temporary must be gone (``core.atomic`` removes it when the block fails).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from core.atomic import atomic_path
from core.errors import InputError

_PROBLEMS = {
    errno.ENOSPC: "cannot write: the disk is full",
    errno.EDQUOT: "cannot write: the disk quota is exceeded",
    errno.EACCES: "cannot write: permission denied",
    errno.EPERM: "cannot write: permission denied",
    errno.EROFS: "cannot write: the file system is read-only",
    errno.ENOTDIR: "cannot write: a part of the folder path is a file, not a folder",
    errno.EEXIST: "cannot write: a part of the folder path is a file, not a folder",
}


NAME_MAX_BYTES = 255


# Write failures that say nothing about the program, wherever they happen (a cache, a checkpoint, an output).
_STORAGE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # how Rust libraries (safetensors) quote the OS's error
_AT_PATH = re.compile(r'at path "([^"]+)"')


def storage_failure(error: BaseException) -> str | None:
    """``"FOLDER-OR-FILE: cannot write: the disk is full"`` for a write that failed for want of room (or on a
    read-only file system), anywhere in a command; ``None`` for any other failure.  A hidden temporary's name
    is no name for the user: its folder is named instead."""
    if isinstance(error, OSError):
        code, name = error.errno, error.filename
    else:
        found = _OS_ERROR.search(str(error))
        if found is None:
            return None
        code, at = int(found[1]), _AT_PATH.search(str(error))
        name = at[1] if at else None
    if code not in _STORAGE:
        return None
    if not name:
        return _PROBLEMS[code]
    path = Path(os.fsdecode(name))
    return str(ExportError(_PROBLEMS[code], path.parent if path.name.startswith(".") else path))


class ExportError(InputError):
    """An export could not be written; ``str(err)`` is ``"<path>: <problem>"``."""


@contextlib.contextmanager
def storage_failures_named(path: str | os.PathLike[str]) -> Iterator[None]:
    """A write in the block that failed for want of room (or on a read-only file system) is an :class:`ExportError`
    naming ``path``: a writer deep down (a plain atomic write, an encoder) raises a bare "[Errno 28] No space left on
    device" that names no file.  Other errors pass unchanged (a read's error is not the target's)."""
    try:
        yield
    except OSError as err:
        if err.errno not in _STORAGE:
            raise
        raise ExportError(_PROBLEMS[err.errno], Path(path)) from err


def describe_os_error(error: OSError) -> str:
    known = _PROBLEMS.get(error.errno or -1)
    if known:
        return known
    return f"cannot write: {error.strerror or error}"


def check_writable(path: str | os.PathLike[str], *, folder: bool, suffixes: tuple[str, ...] = (),
                   inputs: Sequence[str | os.PathLike[str]] = (), staged: bool = False) -> Path:
    """Raise :class:`ExportError` unless ``path`` can be written: a folder to create or fill
    (``folder``), or a file of one of ``suffixes`` that is none of ``inputs`` (the files the
    export reads: writing over the video being exported loses it) nor an image in one of them that is a
    folder of frames.  Checked before any work, so a
    command does not compute for minutes and then fail to save; nothing is created (the nearest
    existing folder is probed with a temporary file that is removed at once).  ``staged``: the
    folder is written aside and swapped in (:func:`core.atomic.atomic_folder`), so the folder that
    holds it must take new entries too."""
    target = Path(path)
    if os.path.islink(target) and not target.exists():
        raise ExportError(f"is a link to {os.readlink(target)}, which does not exist", target)
    _check_name_length(target)
    if folder and target.exists() and not target.is_dir():
        raise ExportError("exists and is not a folder", target)
    if not folder and target.is_dir():
        raise ExportError("is a folder, not a file name", target)
    _check_suffix(target, suffixes)
    if target.exists() and any(_same_file(target, Path(source)) for source in inputs):
        raise ExportError("is a file this export reads (the video, or the dataset's annotations): choose another name", target)
    if any(_in_frames_folder(target, Path(source)) for source in inputs):
        raise ExportError("is in the folder of frames this export reads (an image there replaces a frame or becomes one): "
                          "choose another folder", target)
    resolved = Path(os.path.realpath(target)) if os.path.islink(target) else target.absolute()  # a link is written through
    _probe(resolved if folder else resolved.parent, target)
    if folder and staged:
        _probe(resolved.parent, target, " in the folder that holds it (the result is written beside it, then swapped in)")
    return target


def _probe(folder: Path, target: Path, where: str = "") -> None:
    """Raise unless a file can be made in ``folder``, or in its nearest existing parent when it is not there yet."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(_PROBLEMS[errno.ENOTDIR], target)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise ExportError(describe_os_error(err) + where, target) from None


def _check_name_length(target: Path) -> None:
    """Each part of the path within the file system's limit on a name (255 bytes on Linux, macOS and Windows)."""
    for part in target.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX_BYTES:
            raise ExportError(f"cannot write: the name {part[:40]}... is {size} bytes long (at most {NAME_MAX_BYTES})", target)


def _check_suffix(target: Path, suffixes: tuple[str, ...]) -> None:
    if suffixes and target.suffix.lower() not in suffixes:
        raise ExportError(f"unsupported file type {target.suffix or '(none)'!r}: use {' or '.join(suffixes)}", target)


def _in_frames_folder(target: Path, source: Path) -> bool:
    """Whether ``target`` is an image in ``source`` when that is a folder of frames: written there, it replaces one
    of the video's frames, or is read as a new one next time."""
    from core.video.image_sequence import IMAGE_EXTENSIONS

    if target.suffix.lower() not in IMAGE_EXTENSIONS or target.name.startswith(".") or not source.is_dir():
        return False
    return _same_file(target.absolute().parent, source)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


@contextlib.contextmanager
def export_target(path: str | os.PathLike[str], *, suffixes: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path that becomes ``path`` when the block succeeds.

    ``suffixes`` (lower case, with the dot) are the formats the caller writes;
    another suffix is refused before anything is touched.  Any ``OSError`` in
    the block is re-raised as :class:`ExportError` naming ``path``.
    """
    target = Path(path)
    if target.is_dir():
        raise ExportError("is a folder, not a file name", target)
    _check_suffix(target, suffixes)
    try:
        with atomic_path(target) as tmp:
            yield tmp
    except ExportError:
        raise
    except OSError as err:
        raise ExportError(describe_os_error(err), target) from err
