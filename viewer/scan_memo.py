"""Finished flow scans of recent videos and methods, kept in memory.

Switching DIS -> TV-L1 -> DIS used to scan the whole video again: every pair's
flow read back from the cache, coloured and scored (about a second for the
125-frame sample, with both cores busy), although nothing had changed.  A scan
that finished is kept here by what decides its numbers: the video (as the flow
cache identifies it), the method, the device and the RAFT weights.  The
colour encoding is not part of it: noise and magnitude do not depend on it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Hashable

import numpy as np

from viewer.flow_chunks import ChunkQuality

MAX_SCANS = 16  # each is a few floats per pair: ~2 KB for a 125-frame video


def scan_key(path: str, method: str, device: str, raft_weights: str | None) -> Hashable | None:
    """What a finished scan's numbers depend on; ``None`` when the video cannot be read (no memo then).  The video
    is what the flow cache calls it: a folder of frames by every image's name, size and time (frames written
    again in place keep the folder's own size and time, and once brought back the old frames' curve)."""
    from core.errors import FlowError
    from core.flow.cache import video_identity

    try:
        identity = video_identity(path)
    except (FlowError, OSError):
        return None
    return (json.dumps(identity, sort_keys=True), method, device, raft_weights)


def whole_scan(parts: list[ChunkQuality], pairs: int) -> ChunkQuality | None:
    """The chunks of one scan as one ChunkQuality over every pair; ``None`` while some pair is missing."""
    if not parts:
        return None
    noise = np.full(pairs, np.nan, np.float32)
    magnitude = np.full(pairs, np.nan, np.float32)
    p95 = np.full(pairs, np.nan, np.float32)
    covered = np.zeros(pairs, bool)
    for part in parts:
        end = min(pairs, part.first_pair + len(part.noise))
        span = slice(part.first_pair, end)
        noise[span], magnitude[span], p95[span] = part.noise[: end - part.first_pair], part.magnitude[: end - part.first_pair], part.magnitude_p95[: end - part.first_pair]
        covered[span] = True
    if not covered.all():
        return None
    return ChunkQuality(parts[0].method, 0, noise, magnitude, p95)


class ScanMemo:
    """The last :data:`MAX_SCANS` finished scans, least recently used dropped first.  Thread-safe: the scan's job
    looks its key up (the key lists a folder's images, file-system work kept off the GUI thread), the GUI thread puts."""

    def __init__(self, capacity: int = MAX_SCANS) -> None:
        self.capacity = capacity
        self._scans: OrderedDict[Hashable, ChunkQuality] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None) -> ChunkQuality | None:
        with self._lock:
            if key is None or key not in self._scans:
                return None
            self._scans.move_to_end(key)
            return self._scans[key]

    def put(self, key: Hashable | None, scan: ChunkQuality) -> None:
        if key is None:
            return
        with self._lock:
            self._scans[key] = scan
            self._scans.move_to_end(key)
            while len(self._scans) > self.capacity:
                self._scans.popitem(last=False)
