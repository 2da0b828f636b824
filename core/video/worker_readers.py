"""A video's own readers for background work: one decoder for each kind of work.

Why: a decoder serves one reading position.  Shared by playback, the flow view
and the whole-video flow scan, it was sent back and forth, and each jump decodes
from the keyframe before it: on a 4K file with 250-frame GOPs one jump took
2.6 s, and playback stalled for seconds every few frames (4 fps of 30).  Each
kind of work reading through its own decoder reads in order.  A folder of
images has no decoder to share (:meth:`Video.reopened` is ``None``), so its work
reads the video itself, as it does when the file cannot be opened again.
"""

from __future__ import annotations

import threading

from core.video.base import Video

WORKER_CACHE_BYTES = 64 * 1024 * 1024  # a worker reads clips in order: it needs the frame it stopped on, not a history


class WorkerReaders:
    """Readers of ``video``'s frames, opened the first time a kind of work asks (on its own thread).

    Thread-safe; readers are never closed here: a job still reading one keeps it,
    and it goes when the last job lets go of it, as ``video`` does.
    """

    share_one_decoder = False  # every kind of work through the video itself: the path before, for ``bench playback``

    def __init__(self, video: Video, cache_bytes: int = WORKER_CACHE_BYTES) -> None:
        self.video = video
        self._cache_bytes = cache_bytes
        self._readers: dict[str, Video] = {}
        self._opening: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def reader(self, work: str) -> Video:
        """The reader for ``work`` (``"flow"``, ``"scan"``...): its own where it pays, else the video itself."""
        if self.share_one_decoder:
            return self.video
        with self._lock:
            opening = self._opening.setdefault(work, threading.Lock())
        with opening:  # one open per kind of work; other kinds open theirs meanwhile
            found = self._readers.get(work)
            if found is None:
                found = self._open()
                with self._lock:
                    self._readers[work] = found
            return found

    def _open(self) -> Video:
        try:
            other = self.video.reopened(self._cache_bytes)
        except Exception:  # noqa: BLE001 - gone or unreadable since it was opened: the shared reader is still right
            other = None
        return self.video if other is None else other

    @property
    def opened(self) -> dict[str, Video]:
        """The readers asked for so far, by kind of work (the video itself where none of its own was opened)."""
        with self._lock:
            return dict(self._readers)
