"""The reader version a video's pictures come from, for cache keys (flow, tokens, noise summaries, scores).

Why not :data:`~core.video.base.READER_VERSION` alone: version 5 deinterlaces interlaced files and changes no
other file's pixels, so a progressive video (or an interlaced one read with deinterlacing off, as stored) keeps
version 4's keys and the flow already computed for it; only deinterlaced files get version 5's.  A later version
that changes every file's pictures applies to all.
"""

from __future__ import annotations

import functools
import os
import stat

DEINTERLACING_VERSION = 5


def pictures_version(path: str | os.PathLike[str], *, deinterlace: bool = True) -> int:
    """The reader version whose pictures of ``path`` the current reader gives (``deinterlace``: the reader's option)."""
    from core.video import base  # read when called: a test moves the version on

    if base.READER_VERSION > DEINTERLACING_VERSION or _deinterlaced(os.fspath(path), deinterlace):
        return base.READER_VERSION
    return DEINTERLACING_VERSION - 1


def _deinterlaced(path: str, deinterlace: bool) -> bool:
    if not deinterlace:
        return False
    try:
        status = os.stat(path)
    except OSError:
        return False
    if stat.S_ISDIR(status.st_mode):
        return False  # a folder's images are never interlaced
    return _file_deinterlaced(os.path.abspath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _file_deinterlaced(path: str, size: int, mtime_ns: int) -> bool:
    """Remembered per file version: opening a container to read its header costs milliseconds, and keys are
    asked for on every cache look-up."""
    from core.video.container import is_deinterlaced

    return is_deinterlaced(path)
