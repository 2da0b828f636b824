"""A time segment of a video, read as a video of its own.

Why: a Kinetics annotation names a 10-second segment of a YouTube video.  When
only the whole untrimmed video is on disk, training and evaluation must still
see the annotated seconds only, as a trimmed download would give them.  The
view renumbers frames from 0 and reads them from the opened video (whose cache
it shares); :meth:`SegmentVideo.source_index` gives a frame's index in the file,
which is what caches keyed by the file must use.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from core.errors import VideoError
from core.video.base import Video, VideoInfo

Segment = tuple[float, float]  # start and end, seconds from the file's first frame


class SegmentVideo(Video):
    """Frames ``first`` to ``stop`` (exclusive) of ``source``, numbered from 0; closing it closes ``source``."""

    def __init__(self, source: Video, first: int, stop: int, segment: Segment) -> None:
        if not 0 <= first < stop <= len(source):
            raise ValueError(f"frames {first}..{stop} are not a segment of {len(source)} frames")
        super().__init__(source.path, cache_bytes=0)  # the source keeps the frames
        self.source, self.first, self.stop, self.segment = source, first, stop, segment
        count = stop - first
        fps = source.info.fps
        self._info = replace(source.info, frames=count, duration_s=round(count / fps, 6) if fps > 0 else source.info.duration_s)

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def timestamps(self) -> np.ndarray:
        times = np.asarray(self.source.timestamps[self.first : self.stop], dtype=np.float64)
        return times - times[0]

    def source_index(self, index: int) -> int:
        """Frame ``index`` of the segment as a frame of the file."""
        return self.first + self._check_index(index)

    def _decode(self, index: int) -> np.ndarray:
        return self.source.read(self.first + index)

    def close(self) -> None:
        self.source.close()
        super().close()


def file_span(video: Video) -> tuple[Video, int, int]:
    """The file's own video and the frames ``(first, stop)`` of it that ``video`` shows (all of them for a
    whole file): caches keyed by the file number its frames so."""
    if isinstance(video, SegmentVideo):
        return video.source, video.first, video.stop
    return video, 0, len(video)


def file_index(video: Video, index: int) -> int:
    """Frame ``index`` of ``video`` as the file numbers it (a segment's frames start at its first)."""
    return video.source_index(index) if isinstance(video, SegmentVideo) else int(index)


def segment_frames(timestamps: np.ndarray, segment: Segment) -> tuple[int, int]:
    """``(first, stop)``: the frames whose time lies in ``[start, end)`` (half a millisecond of slack for
    rounded container timestamps); an empty range when none does."""
    start, end = segment
    times = np.asarray(timestamps, dtype=np.float64)
    first = int(np.searchsorted(times, start - 5e-4, side="left"))
    stop = int(np.searchsorted(times, end - 5e-4, side="left"))
    return first, max(first, stop)


def open_segment(path: str | os.PathLike[str], segment: Segment | None, **options: object) -> Video:
    """The video at ``path``, or only its ``segment`` (seconds) when one is given.

    A segment with no frame in the video (past its end: a shorter download than the annotation
    describes) is a :class:`VideoError` naming both, never a silently different clip.
    """
    from core.video.opener import open_video

    video = open_video(path, **options)
    if segment is None:
        return video
    start, end = segment
    if not end > start >= 0:
        video.close()
        raise VideoError(f"segment {start:g}-{end:g} s is not a time range", os.fspath(path))
    first, stop = segment_frames(video.timestamps, segment)
    if stop <= first:
        length = len(video) / video.info.fps if video.info.fps > 0 else 0.0
        video.close()
        raise VideoError(f"the annotated segment {start:g}-{end:g} s has no frame: the video lasts {length:.1f} s", os.fspath(path))
    return SegmentVideo(video, first, stop, (float(start), float(end)))
