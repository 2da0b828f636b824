"""Where a classifier reads frames from: a :class:`core.video.Video`, or frames already in memory."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class FrameSource(Protocol):
    """What inference reads frames from: a :class:`core.video.Video` or :class:`ArrayFrames`."""

    def __len__(self) -> int: ...

    def read_clip(self, indices: Sequence[int]) -> np.ndarray: ...


class ArrayFrames:
    """Frames already in memory, ``(N, H, W, 3)`` uint8 RGB, readable like a video."""

    def __init__(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}")
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def read_clip(self, indices: Sequence[int]) -> np.ndarray:
        return self.frames[np.asarray(indices, dtype=np.int64)]


def as_frame_source(source: FrameSource | np.ndarray) -> FrameSource:
    if isinstance(source, np.ndarray):
        return ArrayFrames(source)
    if not hasattr(source, "read_clip") or not hasattr(source, "__len__"):
        raise TypeError(f"expected a Video or an (N, H, W, 3) uint8 array, got {type(source).__name__}")
    return source


def read_frames(source: FrameSource, indices: Sequence[int]) -> np.ndarray:
    """``source.read_clip(indices)`` checked to be ``(N, H, W, 3)`` uint8."""
    raw = np.asarray(source.read_clip(list(indices)))
    if raw.ndim != 4 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
        raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got {raw.dtype} {raw.shape}")
    return raw
