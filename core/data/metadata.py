"""A video's frame count and duration from its container's headers, without decoding.

The dataset table shows these for thousands of videos as they scroll into
view; the viewer's exact count (every frame indexed) costs a decode pass, so
the table reads only the headers, and opens the video fully only when the
headers do not say (a stream without a frame count or duration).
"""

from __future__ import annotations

import os
from fractions import Fraction

from core.errors import VideoError
from core.video.base import local_file


def header_metadata(path: str | os.PathLike[str]) -> tuple[int, float]:
    """``(frames, duration_s)``; :class:`VideoError` for a file that is not a readable video."""
    import av

    name = os.fspath(path)
    try:
        with av.open(local_file(name), mode="r", metadata_errors="ignore") as container:
            stream = next(iter(container.streams.video), None)
            if stream is None:
                raise VideoError("has no video stream", name)
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            if duration is None and container.duration:
                duration = container.duration / 1_000_000
            rate = stream.average_rate or stream.guessed_rate
            frames = int(stream.frames) or (round(duration * Fraction(rate)) if duration and rate else 0)
    except av.error.FFmpegError as err:
        raise VideoError(f"cannot be opened as a video: {' '.join(str(err).split())}", name) from None
    except (OSError, ValueError) as err:
        raise VideoError(f"cannot be opened: {err}", name) from None
    if frames <= 0 or duration is None:
        from core.video import open_video

        with open_video(name) as video:  # the headers do not say: count the frames
            return video.info.frames, float(video.info.duration_s)
    return frames, duration
