"""One computation per cache key at a time, within this process.

The viewer asks for the same flow from two threads at once: the current
frame's chunk and the whole-video scan both start on a cold cache, often on
the same first chunk, and classification may ask for a clip's flow while the
scan computes it.  Without a lock both compute it (the CPU's two cores spent
on one result); with it, the second waits for the first and reads its result
from the cache.  Waiting stays cancellable.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from core.progress import CancelToken, check

POLL_S = 0.05  # how often a waiting thread looks at its cancel token


class KeyedLock:
    """A lock per key, made on first use and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # key -> [lock, users]

    @contextmanager
    def hold(self, key: str, cancel: CancelToken | None = None) -> Iterator[bool]:
        """Hold ``key``'s lock for the block; yields True when another thread held it first (so
        what it computed may now be in the cache: look again before computing)."""
        with self._guard:
            slot = self._locks.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        lock: threading.Lock = slot[0]
        try:
            waited = not lock.acquire(blocking=False)
            if waited:
                while not lock.acquire(timeout=POLL_S):
                    check(cancel)
            try:
                yield waited
            finally:
                lock.release()
        finally:
            with self._guard:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._locks[key]

    def busy(self, key: str) -> bool:
        """True while some thread holds or waits for ``key`` (for tests and diagnostics)."""
        with self._guard:
            return key in self._locks
