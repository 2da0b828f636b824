"""The viewer's state: one plain object with change signals.

Widgets render it and hold none of their own; the main window's controller
changes it.  Nothing here computes anything.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.video import VideoInfo


class ViewerState(QObject):
    videoChanged = Signal(object)  # VideoInfo | None
    frameChanged = Signal(int)
    playingChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: VideoInfo | None = None
        self.frame_index = 0
        self.playing = False

    @property
    def frame_count(self) -> int:
        return self.info.frames if self.info is not None else 0

    def set_video(self, info: VideoInfo | None) -> None:
        self.info = info
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

    def step(self, delta: int) -> None:
        self.set_frame(self.frame_index + delta)

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing) and self.info is not None
        if playing != self.playing:
            self.playing = playing
            self.playingChanged.emit(playing)
