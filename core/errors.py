"""Typed errors: each one reads as a single line that names the file and the problem.

The command line turns :class:`InputError` into ``error: ...`` and exit code 2;
the viewer shows it in a dialog.  Anything else is a bug (exit code 1).
"""

from __future__ import annotations

import os


class CoreError(Exception):
    """Base class of every error raised on purpose by ``core``."""


class InputError(CoreError):
    """Bad input from the user: a file, an argument, a checkpoint.

    ``str(err)`` is ``"<path>: <problem>"`` when a path is known.
    """

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
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
