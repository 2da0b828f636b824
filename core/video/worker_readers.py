"""A video's own readers for background work: one decoder for each kind of work.

Why: a decoder serves one reading position.  Shared by playback, the flow view
and the whole-video flow scan, it was sent back and forth, and each jump decodes
from the keyframe before it: on a 4K file with 250-frame GOPs one jump took
2.6 s, and playback stalled for seconds every few frames (4 fps of 30).  Each
kind of work reading through its own decoder reads in order.  A folder of
images has no decoder to share (:meth:`Video.reopened` is ``None``), so its work
reads the video itself, as it does when the file cannot be opened again.

A job *leases* its reader for as long as it reads: no other job reads through
it meanwhile (a cancelled job still finishing its step and the job that
replaced it would each pull the decoder back to their own keyframe), and
:meth:`WorkerReaders.close` closes every decoder opened here once no job reads
it, so another video's opening leaves no file of this one open.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from core.video.base import Video

WORKER_CACHE_BYTES = 64 * 1024 * 1024  # a worker reads clips in order: it needs the frame it stopped on, not a history


class WorkerReaders:
    """Readers of ``video``'s frames, leased by jobs: opened the first time a kind of work asks (on its job's thread),
    kept for that kind's next job, and closed by :meth:`close` (a leased one when its job lets go).

    Thread-safe.  ``video`` itself (playback's) is never closed here.
    """

    share_one_decoder = False  # every kind of work through the video itself: the path before, for ``bench playback``

    def __init__(self, video: Video, cache_bytes: int = WORKER_CACHE_BYTES) -> None:
        self.video = video
        self._cache_bytes = cache_bytes
        self._idle: dict[str, Video] = {}  # each kind's reader between its jobs
        self._leased: dict[str, list[Video]] = {}  # the readers jobs read through now, by kind
        self._closed = False
        self._lock = threading.Lock()

    @contextmanager
    def lease(self, work: str) -> Iterator[Video]:
        """The reader for ``work`` (``"flow"``, ``"scan"``, ``"export"``...), read by this job alone until the block
        ends: the kind's own where it pays, else the video itself.  A second job of the same kind while the first
        still reads (the first cancelled, finishing its step) gets a decoder of its own."""
        if self.share_one_decoder:
            yield self.video
            return
        with self._lock:
            reader = None if self._closed else self._idle.pop(work, None)
        if reader is None:
            reader = self._open()  # outside the lock: other kinds open theirs meanwhile
        with self._lock:
            self._leased.setdefault(work, []).append(reader)
        try:
            yield reader
        finally:
            self._let_go(work, reader)

    def _let_go(self, work: str, reader: Video) -> None:
        with self._lock:
            self._leased[work].remove(reader)
            keep = not self._closed and work not in self._idle
            if keep:
                self._idle[work] = reader
        if not keep:  # closed meanwhile, or the kind keeps another already (a second job's, opened while the first read)
            self._close(reader)

    def _open(self) -> Video:
        try:
            other = self.video.reopened(self._cache_bytes)
        except Exception:  # noqa: BLE001 - gone or unreadable since it was opened: the shared reader is still right
            other = None
        return self.video if other is None else other

    def _close(self, reader: Video) -> None:
        if reader is not self.video:
            reader.close()

    def close(self) -> None:
        """Close the readers no job reads now; those leased close when their jobs let go.  A job that asks after this
        (an export waiting its turn) gets a reader closed when it lets go.  Idempotent."""
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle.values()), {}
        for reader in idle:
            self._close(reader)

    @property
    def opened(self) -> dict[str, list[Video]]:
        """The readers held now, by kind of work: between jobs and leased (the video itself where none of its own
        was opened)."""
        with self._lock:
            kinds = set(self._idle) | {work for work, leased in self._leased.items() if leased}
            return {work: ([self._idle[work]] if work in self._idle else []) + list(self._leased.get(work, ())) for work in kinds}
