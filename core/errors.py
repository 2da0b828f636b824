"""Typed errors: each one reads as a single line that names the file and the problem.

The command line turns :class:`InputError` into ``error: ...`` and exit code 2;
the viewer shows it in a dialog.  Anything else is a bug (exit code 1).
"""

from __future__ import annotations

import errno
import os
import sys


class CoreError(Exception):
    """Base class of every error raised on purpose by ``core``.

    ``transient``: the same work may succeed when asked again (a drive that came back, memory freed, a lock
    released); ``False``: asked again it fails again (bad input), see :func:`is_transient`.
    """

    transient = False


class InputError(CoreError):
    """Bad input from the user: a file, an argument, a checkpoint.

    ``str(err)`` is ``"<path>: <problem>"`` when a path is known.
    """

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None, *, transient: bool | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        if transient is not None:  # else the class's word (a lock held too long passes, a damaged file does not)
            self.transient = transient
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{shown_path(self.path)}: {self.problem}" if self.path else self.problem)


def shown_path(path: str) -> str:
    """``path`` as one line of text: control characters (a newline, a carriage return, an escape that would
    recolour the terminal) and bytes that are not UTF-8 written as escapes; everything else as it is."""
    if path.isprintable():
        return path
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in path)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return ch.encode("unicode_escape").decode("ascii")


def cannot_be_read(err: OSError) -> str:
    """The one-line problem of a file or folder that ``err`` kept from being read or listed (no permission, deleted
    since, a drive gone): ``"cannot be read (Permission denied)"``, the system's words, else the error's type.
    Each caller raises it as its own error type (:class:`VideoError`, :class:`DatasetError`), naming the path."""
    return f"cannot be read ({err.strerror or type(err).__name__})"


def escape_unwritable(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler for the command line's output: a character its stream cannot encode (a name's byte that
    is not UTF-8, kept by ``os.fsdecode``) written as :func:`shown_path` shows it, ``\\xff``.  The terminal's own
    handler wrote the raw byte, which it showed as a replacement character, so the user could not tell which file was meant."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(_escaped(ch) for ch in error.object[error.start:error.end]), error.end


class VideoError(InputError):
    """A video (or image-sequence folder) cannot be opened or decoded."""


class FlowError(InputError):
    """Bad flow input: a malformed ``.flo`` file, mismatched shapes, unknown method."""


class CheckpointError(InputError):
    """A checkpoint is missing, malformed, unsafe or does not fit the model."""


class DatasetError(InputError):
    """A dataset folder or split file is malformed."""


class WeightsUnavailable(CoreError):
    """Pretrained weights are neither given, cached nor downloadable.

    The message says what is missing and where to put it.
    """


class Cancelled(CoreError):
    """Raised inside long work when its :class:`~core.progress.CancelToken` fires."""

    transient = True  # the work was stopped, not refused


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` has a passing cause, so the same work asked again may succeed: our own errors say so
    (:attr:`CoreError.transient`); out of memory (host, or a GPU's under torch); an ``OSError`` other than "not
    found" (a network drive gone for a while, a file locked or busy, an interrupted call).  Anything else (a bug,
    frames of another size, a damaged file) fails the same way again."""
    if isinstance(error, CoreError):
        return bool(error.transient)
    if isinstance(error, MemoryError) or _out_of_memory(error):
        return True
    if isinstance(error, OSError):
        return not isinstance(error, FileNotFoundError) and error.errno != errno.ENOENT
    return False


# How a RuntimeError says memory ran out: a device's (MPS), and torch's CPU allocator's, which raises no
# OutOfMemoryError ("DefaultCPUAllocator: can't allocate memory: ..." on POSIX, "...: not enough memory: ..." on Windows)
_OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory", "not enough memory")


def _out_of_memory(error: BaseException) -> bool:
    """torch's out-of-memory error (CUDA, or any device on recent torch), or a RuntimeError that says so (MPS, the
    host's memory under torch): looked up only when torch is already loaded, since only then can it have raised one."""
    torch = sys.modules.get("torch")
    kinds = tuple(k for k in (getattr(torch, "OutOfMemoryError", None), getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None))
                  if isinstance(k, type))
    if kinds and isinstance(error, kinds):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error).lower() for words in _OUT_OF_MEMORY_WORDS)
