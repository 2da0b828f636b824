"""``open_video``: one door for files and frame folders, with the checks a user needs."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from core.errors import VideoError
from core.video.base import MAX_PIXELS, Video
from core.video.frame_cache import DEFAULT_CACHE_BYTES
from core.video.image_sequence import IMAGE_EXTENSIONS, ImageSequenceVideo

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".3gp", ".ts", ".gif")


def _missing(path: str) -> str:
    """Why a path that does not exist as a file does not: a link to nothing, a loop of links, or nothing there."""
    if not os.path.islink(path):
        return "file does not exist"
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a loop of symbolic links"
    return f"is a link to {os.readlink(path)}, which does not exist"


def open_video(path: str | os.PathLike[str], *, cache_bytes: int = DEFAULT_CACHE_BYTES, max_pixels: int = MAX_PIXELS,
               deinterlace: bool = True) -> Video:
    """Open a video file or a folder of frames; :class:`VideoError` says what is wrong.  ``deinterlace``: rebuild
    interlaced frames from their fields (``False``: give them as stored, combed)."""
    text = os.fspath(path)
    if not text:
        raise VideoError("no video path given")
    p = Path(text)
    if not p.exists():
        raise VideoError(_missing(text), text)
    if p.is_dir():
        return ImageSequenceVideo(text, cache_bytes=cache_bytes, max_pixels=max_pixels)
    if not p.is_file():
        raise VideoError("is not a regular file", text)
    if not os.access(p, os.R_OK):
        raise VideoError("is not readable (permission denied)", text)
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        raise VideoError("is a single image; open the folder that holds the frames to read an image sequence", text)
    from core.video.container import ContainerVideo  # PyAV only when a file is opened

    return ContainerVideo(text, cache_bytes=cache_bytes, max_pixels=max_pixels, deinterlace=deinterlace)
