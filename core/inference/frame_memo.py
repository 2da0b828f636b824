"""Frames read once for one inference call, and forgotten once no later window can need them.

Sliding windows overlap (a window every 4 frames of a 16-frame clip reads each
frame four times), and even back-to-back windows share a frame when flow reads
T+1.  A memo keyed by frame index, alive for one call, reads each frame from
the source once and (with ``prepare``) crops it once.  Windows never read a
frame before their own start, so :meth:`FrameMemo.forget_before` the smallest
start still to come keeps about one window's frames however long the video; a
byte bound caps the odd order that defeats that rule (a miss is only a second read).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from core.inference.frames import FrameSource, read_frames

MEMO_BYTES = 512 * 1024 * 1024


def starts_still_to_come(starts: Sequence[int]) -> list[int]:
    """For each window, the smallest start of it and every later window: what the memo must keep."""
    out, smallest = [0] * len(starts), None
    for n in range(len(starts) - 1, -1, -1):
        smallest = int(starts[n]) if smallest is None else min(smallest, int(starts[n]))
        out[n] = smallest
    return out


@dataclass(frozen=True)
class LoadedFrames:
    """Frames read and prepared for a memo, with the time each step took."""

    indices: tuple[int, ...]
    frames: np.ndarray
    decode_ms: float
    preprocess_ms: float


class FrameMemo:
    """A :class:`FrameSource` over ``source`` that reads each frame once while it is remembered.

    ``prepare((N, H, W, 3) uint8) -> (N, ...)`` is applied once to each newly
    read batch and must treat frames independently (a resize and crop does), so
    a frame is the same whichever batch it arrived in.  ``reads`` counts frames
    taken from the source; ``timings_ms`` has ``decode`` and ``preprocess``.
    """

    def __init__(self, source: FrameSource, prepare: Callable[[np.ndarray], np.ndarray] | None = None, *,
                 max_bytes: int = MEMO_BYTES) -> None:
        self.source = source
        self.prepare = prepare
        self.max_bytes = int(max_bytes)
        self.reads = 0
        self.timings_ms: dict[str, float] = {"decode": 0.0, "preprocess": 0.0}
        self._frames: dict[int, np.ndarray] = {}
        self._bytes = 0
        self._length = len(source)

    def __len__(self) -> int:
        return self._length

    def read_clip(self, indices: Sequence[int]) -> np.ndarray:
        """The frames at ``indices`` (repeats allowed), reading only those not remembered."""
        wanted = [int(i) for i in indices]
        self.fetch(wanted)
        return np.stack([self._frames[i] for i in wanted])

    def fetch(self, indices: Iterable[int]) -> None:
        """Read (in one call to the source, in increasing order) the frames of ``indices`` not remembered yet."""
        wanted = {int(i) for i in indices}
        missing = self.missing(wanted)
        if missing:
            self.keep(self.load(missing), wanted)

    def missing(self, indices: Iterable[int]) -> list[int]:
        """The frames of ``indices`` not remembered, in increasing order."""
        return sorted({int(i) for i in indices} - self._frames.keys())

    def load(self, indices: Sequence[int]) -> "LoadedFrames":
        """Read and prepare the frames at ``indices`` (increasing) without remembering them: the part of
        :meth:`fetch` that may run on another thread (it touches the source, not the memo)."""
        began = time.perf_counter()
        raw = read_frames(self.source, indices)
        decoded = time.perf_counter()
        frames = raw if self.prepare is None else self.prepare(raw)
        if len(frames) != len(indices):
            raise ValueError(f"preparing {len(indices)} frames gave {len(frames)}")
        return LoadedFrames(tuple(int(i) for i in indices), frames, (decoded - began) * 1000.0, (time.perf_counter() - decoded) * 1000.0)

    def keep(self, loaded: "LoadedFrames", wanted: Iterable[int] = ()) -> None:
        """Remember frames :meth:`load` gave, evicting the oldest others past the byte bound (never ``wanted``'s)."""
        self.timings_ms["decode"] += loaded.decode_ms
        self.timings_ms["preprocess"] += loaded.preprocess_ms
        self.reads += len(loaded.indices)
        for index, frame in zip(loaded.indices, loaded.frames):
            if index in self._frames:
                self._bytes -= self._frames[index].nbytes
            self._frames[index] = frame
            self._bytes += frame.nbytes
        self._evict_oldest(keep={*loaded.indices, *(int(i) for i in wanted)})

    def forget_before(self, index: int) -> None:
        """Drop every frame before ``index``: no window still to come reads it."""
        for key in [k for k in self._frames if k < index]:
            self._bytes -= self._frames.pop(key).nbytes

    def _evict_oldest(self, keep: set[int]) -> None:
        for key in list(self._frames):
            if self._bytes <= self.max_bytes:
                return
            if key not in keep:
                self._bytes -= self._frames.pop(key).nbytes
