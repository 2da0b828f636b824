"""What every video source offers: metadata, exact frame reads, clips, a frame cache."""

from __future__ import annotations

import abc
import os
import threading
from dataclasses import asdict, dataclass
from typing import Iterator, Sequence

import numpy as np

from core.errors import VideoError
from core.video.frame_cache import DEFAULT_CACHE_BYTES, FrameCache


def local_file(path: str | os.PathLike[str]) -> str:
    """``path`` as FFmpeg must be given a local file: absolute.  A relative name whose first part holds a colon
    (``file:other.mp4``, ``clip:1.mp4``, ``pipe:1.mp4``) is otherwise an FFmpeg URL: another file, or none."""
    return os.path.abspath(os.fspath(path))


# One frame above this many pixels (8K is 33 Mpx) is refused: a clip of them
# would not fit in memory, and no model here looks at more than 1080p anyway.
MAX_PIXELS = 8192 * 8192
# Which reader made a frame numbering: bump when a fix changes the picture some file's frame i is (2: cut and
# open-GOP AVIs, AVI-copied MKV/MP4, ASF; 3: mirroring display matrices, the stream a player picks among several;
# 4: untagged HD video converted with BT.709 as players do, not BT.601, and EXIF orientation of a folder's images;
# 5: interlaced video deinterlaced; 6: HDR video tone-mapped to SDR, alpha composited over black), so flow, tokens
# and scores cached from the old numbering are not reused.  Cache keys take a video's version from
# core.video.reader_version.pictures_version: a version that changes only some files' pictures keeps the others' keys.
READER_VERSION = 6


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of an opened video; ``width``/``height`` are after rotation.

    ``rotation`` is the clockwise rotation in degrees applied to show the frames
    upright (the convention of the classic ``rotate`` tag: 90 for a portrait
    phone video); ``mirrored``: the frames are then flipped left to right (a
    front camera's display matrix may ask for it).  ``variable_frame_rate`` is
    true when frame durations differ; ``fps`` is then the average.
    ``sample_aspect_ratio`` is a stored pixel's width over its height as shown
    (32/27 for anamorphic 16:9 NTSC DVD): frames are given as stored, and a view
    that shows them as a player does stretches them by it.  ``interlaced``: each
    frame holds two fields woven together (moving edges comb, which optical flow
    shows as noise); ``deinterlaced``: the reader rebuilds each frame's second
    field from its first and its neighbours' (frame count and times unchanged),
    so nothing combs.  ``hdr``: ``"pq"`` or ``"hlg"`` for an HDR stream, whose
    frames are tone-mapped to SDR BT.709 (empty for SDR); ``alpha``: the stream
    (or an image of the folder) has an alpha channel, and frames are composited
    over black.
    """

    path: str
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    codec: str
    rotation: int
    container: str
    pixel_format: str
    variable_frame_rate: bool
    mirrored: bool = False
    sample_aspect_ratio: float = 1.0
    interlaced: bool = False
    deinterlaced: bool = False
    hdr: str = ""
    alpha: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def check_resolution(path: str, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    if width <= 0 or height <= 0:
        raise VideoError(f"has an invalid frame size {width}x{height}", path)
    if width * height > max_pixels:
        raise VideoError(
            f"frame size {width}x{height} ({width * height / 1e6:.0f} Mpx) is larger than the supported "
            f"{max_pixels / 1e6:.0f} Mpx; downscale the video first (e.g. ffmpeg -vf scale=-2:1080)",
            path,
        )


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """Grayscale becomes three equal channels; an alpha channel is dropped."""
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    elif frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return np.ascontiguousarray(frame)


class Video(abc.ABC):
    """A source of frames with exact random access.

    Reads are serialised by a lock, so one instance may be shared between
    threads; a worker that wants parallel decoding opens its own instance.
    """

    def __init__(self, path: str, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.path = path
        self.cache = FrameCache(cache_bytes)
        self._lock = threading.RLock()

    @property
    @abc.abstractmethod
    def info(self) -> VideoInfo: ...

    @property
    @abc.abstractmethod
    def timestamps(self) -> np.ndarray:
        """Presentation time of each frame in seconds, from the first frame."""

    @abc.abstractmethod
    def _decode(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (valid, not cached); may fill the cache with neighbours."""

    def __len__(self) -> int:
        return self.info.frames

    def _check_index(self, index: int) -> int:
        count = len(self)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, got {type(index).__name__}")
        if not 0 <= index < count:
            raise IndexError(f"frame {index} is outside {self.path}'s {count} frames (0..{count - 1})")
        return int(index)

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as an (H, W, 3) uint8 RGB array (read-only; copy to modify)."""
        index = self._check_index(index)
        cached = self.cached(index)
        if cached is not None:
            return cached
        with self._lock:
            cached = self.cached(index)
            if cached is not None:
                return cached
            frame = self._decode(index)
            self.cache.put(index, frame)
            return frame

    def reopened(self, cache_bytes: int) -> "Video | None":
        """Another reader of the same frames with a decoder of its own, for work on another thread that reads
        elsewhere in the video; ``None`` where reading out of order costs nothing (sharing this one is as good)."""
        return None

    def cached(self, index: int) -> np.ndarray | None:
        """Frame ``index`` if it is decoded and still what the source holds, else ``None``: no decoding (a folder's
        image written again is not given from before); knowing that may ask the file system (see
        :meth:`cached_in_memory`)."""
        frame = self.cache.get(index)
        return frame if frame is not None and self._cached_is_current(index) else None

    # Whether knowing a decoded frame is still current asks the file system (a folder's images can be written
    # again in place: each is stat'ed, which can stall for seconds on a network drive).
    cache_check_reads_disk = False

    def cached_in_memory(self, index: int) -> np.ndarray | None:
        """:meth:`cached` where it touches no file, else ``None`` (ask a worker's :meth:`read`): what the GUI thread
        may ask."""
        return None if self.cache_check_reads_disk else self.cached(index)

    def _cached_is_current(self, index: int) -> bool:
        """Whether the cached frame ``index`` is still what the source holds (a file's frames cannot change under
        an open reader; a folder's images can be written again in place)."""
        return True

    def read_clip(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as (T, H, W, 3) uint8.

        Indices are decoded in ascending order so a clip costs one pass.
        """
        if len(indices) == 0:
            raise ValueError("read_clip needs at least one frame index")
        checked = [self._check_index(i) for i in indices]
        frames = {i: self.read(i) for i in sorted(set(checked))}
        return np.stack([frames[i] for i in checked])

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` for frames ``start`` to ``stop`` (exclusive), in order."""
        stop = len(self) if stop is None else min(stop, len(self))
        for index in range(max(0, start), stop):
            yield index, self.read(index)

    def close(self) -> None:
        self.cache.clear()

    def __enter__(self) -> "Video":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"<{type(self).__name__} {i.path!r} {i.frames} frames {i.width}x{i.height} @ {i.fps:.3g} fps>"
