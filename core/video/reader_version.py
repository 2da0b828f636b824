"""The reader version a video's pictures come from, for cache keys (flow, tokens, noise summaries, scores).

Why not :data:`~core.video.base.READER_VERSION` alone: versions 5 and 6 changed only some files' pictures (5
deinterlaces interlaced files; 6 tone-maps HDR files and composites files, and folders of images, with alpha over
black), so every other
file (an interlaced one read with deinterlacing off, as stored, among them) keeps version 4's keys and the flow
already computed for it.  A later version that changes every file's pictures applies to all.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import Sequence

DEINTERLACING_VERSION = 5
HDR_AND_ALPHA_VERSION = 6
HEADERS_REMEMBERED = 1 << 18  # files: Kinetics-400's 240,000 training videos (a few hundred bytes each)


def pictures_version(path: str | os.PathLike[str], *, deinterlace: bool = True, status: os.stat_result | None = None,
                     frames: Sequence[Path] | None = None, stamps: Sequence[tuple[int, int]] | None = None) -> int | str:
    """The reader version whose pictures of ``path`` the current reader gives (``deinterlace``: the reader's option).
    An interlaced file read as stored under a version past 5 (an HDR or alpha one's 6, or any later) is that
    version with ``-woven``: its pictures are not the default's, so neither are its flow, tokens or scores.
    ``status``: ``path``'s stat when the caller asked for it already (not asked again); ``frames``: a folder's
    images when the caller listed them already (the folder is not listed again), and ``stamps`` their sizes and
    times when it asked for them too (not asked again)."""
    from core.video import base  # read when called: a test moves the version on

    woven, converted = _header_changes(os.fspath(path), status, frames, stamps)
    if base.READER_VERSION > HDR_AND_ALPHA_VERSION:
        version = base.READER_VERSION
    elif converted:
        version = HDR_AND_ALPHA_VERSION
    else:  # version 4's pictures, deinterlaced by 5
        return DEINTERLACING_VERSION if woven and deinterlace else DEINTERLACING_VERSION - 1
    return f"{version}-woven" if woven and not deinterlace else version


def _header_changes(path: str, status: os.stat_result | None = None, frames: Sequence[Path] | None = None,
                    stamps: Sequence[tuple[int, int]] | None = None) -> tuple[bool, bool]:
    """Whether the file's header says it is interlaced, and whether it is HDR or has alpha."""
    if status is None:
        try:
            status = os.stat(path)
        except OSError:
            return False, False
    if stat.S_ISDIR(status.st_mode):  # a folder's images are never interlaced or HDR; those with alpha are composited
        from core.video.image_sequence import folder_has_alpha, images_have_alpha

        return False, folder_has_alpha(path) if frames is None else images_have_alpha(frames, stamps)
    return _file_changes(os.path.abspath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=HEADERS_REMEMBERED)
def _file_changes(path: str, size: int, mtime_ns: int) -> tuple[bool, bool]:
    """Remembered per file version: opening a container to read its header costs milliseconds, and keys are
    asked for on every cache look-up, of every video of a dataset at each look (a cache smaller than the dataset
    keeps none of it for the next sweep)."""
    from core.video.container import header_pictures

    woven, look = header_pictures(path)
    return woven, look.converted
