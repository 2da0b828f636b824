"""The viewer's state: one plain object with change signals.

Widgets render it and hold none of their own; the main window's controller
changes it.  Nothing here computes anything.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.flow.noisy_frames import next_noisy_frame
from core.video import VideoInfo


class ViewerState(QObject):
    videoChanged = Signal(object)  # VideoInfo | None
    frameChanged = Signal(int)
    playingChanged = Signal(bool)
    scanChanged = Signal()  # flow noise / magnitude per pair
    thresholdChanged = Signal(float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: VideoInfo | None = None
        self.times: np.ndarray | None = None  # each frame's presentation time in seconds (None: index / fps)
        self.frame_index = 0
        self.playing = False
        self.flow_noise = np.zeros(0, np.float32)  # per pair; NaN until scanned
        self.flow_magnitude = np.zeros(0, np.float32)  # per pair, the mean motion in the video's pixels; NaN until scanned
        self.noise_threshold = 0.35

    @property
    def frame_count(self) -> int:
        return self.info.frames if self.info is not None else 0

    def set_video(self, info: VideoInfo | None, times: np.ndarray | None = None) -> None:
        """A new video (``None``: none); ``times``: its frames' timestamps, which a variable frame rate needs."""
        self.info = info
        usable = info is not None and times is not None and len(times) == info.frames
        self.times = np.asarray(times, np.float64) if usable else None
        self.frame_index = 0
        self.set_playing(False)
        self.videoChanged.emit(info)
        self.frameChanged.emit(0)

    def set_frame(self, index: int) -> None:
        if self.info is None:
            return
        index = max(0, min(int(index), self.frame_count - 1))
        if index != self.frame_index:
            self.frame_index = index
            self.frameChanged.emit(index)

    def seconds_at(self, index: int) -> float:
        """Frame ``index``'s time from the first frame: its timestamp when known, else ``index / fps``."""
        if self.times is not None and 0 <= index < len(self.times):
            return float(self.times[index])
        info = self.info
        return index / info.fps if info is not None and info.fps else 0.0

    def step(self, delta: int) -> None:
        self.set_frame(self.frame_index + delta)

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing) and self.info is not None
        if playing != self.playing:
            self.playing = playing
            self.playingChanged.emit(playing)

    # -- the flow scan ------------------------------------------------------
    def reset_scan(self, pairs: int) -> None:
        self.flow_noise = np.full(pairs, np.nan, np.float32)
        self.flow_magnitude = np.full(pairs, np.nan, np.float32)
        self.scanChanged.emit()

    def update_scan(self, first_pair: int, noise: np.ndarray, magnitude: np.ndarray) -> None:
        end = min(first_pair + len(noise), len(self.flow_noise))
        self.flow_noise[first_pair:end] = noise[: end - first_pair]
        self.flow_magnitude[first_pair:end] = magnitude[: end - first_pair]
        self.scanChanged.emit()

    def set_threshold(self, value: float) -> None:
        value = float(value)
        if value != self.noise_threshold:
            self.noise_threshold = value
            self.thresholdChanged.emit(value)

    def next_noisy_frame(self) -> int | None:
        """The first noisy frame after the current one (wrapping): a frame whose flow in and out are
        both flagged is the frame named, not the clean frame before it (see core.flow.noisy_frames)."""
        found = next_noisy_frame(self.flow_noise, self.noise_threshold, after=self.frame_index)
        return None if found is None else found.frame
