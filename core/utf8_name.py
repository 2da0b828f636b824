"""A name the safetensors library can open for any file.

safetensors (Rust) takes UTF-8 paths only: a checkpoint whose name holds bytes that are not UTF-8 (copied from an
older system's Latin-1 disk: ``mod\\xe8le.safetensors``) could not be loaded ("Path ... is not valid UTF-8").  Such
a file is opened here and named by its descriptor, which any program can open again.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def utf8_name(path: str | os.PathLike[str]) -> Iterator[str]:
    """``path`` as text when it is UTF-8, else the descriptor's name (``/proc/self/fd/N``, ``/dev/fd/N`` on macOS) of
    the file opened for the block."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        yield text
        return
    descriptors = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    fd = os.open(text, os.O_RDONLY)
    try:
        yield f"{descriptors}/{fd}"
    finally:
        os.close(fd)
