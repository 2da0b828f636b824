"""The next chunk's frames decoded on a CPU thread while the current chunk's flow and model run.

Why: over a whole video the windows go through in chunks; without this the
device waits for each chunk's decoding, then the CPU waits for the device.
One background thread reads and prepares (crops) the frames the next chunk
needs that the memo lacks (:meth:`FrameMemo.load`); the memo takes them when
that chunk begins (:meth:`FrameMemo.keep`), so a frame is still read once and
the windows' inputs are the same bits.  The source is read by one thread at a
time (:class:`SerialFrames`): a video's decoder is not safe to share, and the
main thread may still read a frame the memo evicted.  :meth:`DecodeAhead.close`
waits for a read in flight, so the caller may close the video right after.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np

from core.inference.frame_memo import FrameMemo, LoadedFrames
from core.inference.frames import FrameSource
from core.video.hdr import limit_strip_threads_here


class SerialFrames:
    """``source`` read by one thread at a time."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._length = len(source)

    def __len__(self) -> int:
        return self._length

    def read_clip(self, indices: Sequence[int]) -> np.ndarray:
        with self._lock:
            return self.source.read_clip(indices)


class DecodeAhead:
    """Loads one batch of frames for ``memo`` in the background; :meth:`collect` hands it over.

    ``strip_threads``: how many threads an HDR frame read ahead may tone-map on (``None``: as any reader).  A model
    on the CPU runs on the cores the read-ahead would split its strips across: two strip threads on two busy cores
    read HDR frames 1.12-1.20x slower than one (``bench decode`` under load), so the CPU path passes 1."""

    def __init__(self, memo: FrameMemo, strip_threads: int | None = None) -> None:
        self.memo = memo
        self.strip_threads = strip_threads
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[LoadedFrames] | None = None

    def start(self, indices: Iterable[int]) -> None:
        """Begin reading the frames of ``indices`` the memo lacks (after collecting any read in flight)."""
        self.collect()
        missing = self.memo.missing(indices)
        if not missing:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode-ahead",
                                            initializer=limit_strip_threads_here, initargs=(self.strip_threads,))
        self._pending = self._pool.submit(self.memo.load, missing)

    def collect(self) -> None:
        """Wait for the read in flight and give its frames to the memo; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.memo.keep(pending.result())

    def close(self) -> None:
        """Wait for a read in flight (its frames and error are dropped) and stop the thread."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()  # waits; an error of a read nobody needs any more is not raised
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
