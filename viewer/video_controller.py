"""Opening videos and fetching frames in the background; playback timing.

The GUI thread never decodes, nor touches the disk: it asks for frame ``i``
and shows it when it arrives (a decoded frame at once, unless knowing it is
still current needs a stat: a folder's images, checked by the worker).
Scrubbing fires many requests; the newest wins and stale frames are dropped.
Playback skips a tick while a frame is still decoding, so a slow video plays
slower instead of piling up work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.video import Video, open_video
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.open_video import OpenVideo
from viewer.state import ViewerState


class VideoController(QObject):
    frameReady = Signal(int, object)  # index, (H, W, 3) uint8
    videoOpened = Signal(object)  # the path (object: a str through Qt loses the bytes of a name that are not UTF-8)
    videoLoaded = Signal(object)  # the OpenVideo, for other controllers: its readers are theirs to lease

    def __init__(self, state: ViewerState, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self.opened: OpenVideo | None = None  # the video shown and its jobs' readers (closed when another opens)
        self.current_frame: np.ndarray | None = None
        self.shown_index = -1
        self._first_frame: np.ndarray | None = None  # frame 0 as the opening job read it, until it is shown
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)  # each frame is due when its own time says (variable frame rates)
        self._timer.timeout.connect(self._tick)
        state.frameChanged.connect(self._request_frame)
        state.playingChanged.connect(self._on_playing)

    @property
    def video(self) -> Video | None:
        return None if self.opened is None else self.opened.video

    # -- opening ------------------------------------------------------------
    def open(self, path: str, then: Callable[[Video], None] | None = None) -> None:
        """Open ``path`` in the background; errors go to the notifier.  ``then`` runs once this very
        open has shown its video (a start frame, a classification): never after a failed open, nor
        after an open that a later one replaced."""
        path = str(Path(path).expanduser())
        self.notifier.notice(f"Opening {path} ...")

        def work(cancel, progress):  # noqa: ANN001 - the JobFunction signature
            video = open_video(path)
            try:
                return video, video.timestamps, video.read(0)  # frame 0 is shown with the video: no round trip
            except BaseException:
                video.close()
                raise

        self.jobs.submit("open", work, lambda opened: self._on_opened(*opened, then),
                         on_error=lambda e, t: self.notifier.error("Cannot open video", e, t))

    @property
    def opening(self) -> bool:
        """Whether an open is in progress (its video will replace the one shown)."""
        return self.jobs.is_busy("open")

    def cancel_open(self) -> None:
        """Drop the open in progress: the video shown stays."""
        if self.opening:
            self.jobs.cancel("open")
            self.notifier.notice("Opening cancelled")

    def _on_opened(self, video: Video, times: np.ndarray, first: np.ndarray, then: Callable[[Video], None] | None = None) -> None:
        old, self.opened = self.opened, OpenVideo(video)
        if old is not None:
            self.jobs.cancel("frame")
        self.current_frame, self.shown_index = None, -1
        self._first_frame = first
        self.state.set_video(video.info, times)  # frame 0 with it (read by the opening job, so shown at once)
        self.videoLoaded.emit(self.opened)  # the other controllers drop the old video's jobs
        if old is not None:
            old.close()  # its jobs' decoders; the old video itself is dropped here (a worker still reading it holds it)
        self.videoOpened.emit(video.path)
        if then is not None:
            then(video)

    # -- frames -------------------------------------------------------------
    def _request_frame(self, index: int) -> None:
        video = self.video
        if video is None:
            return
        first, self._first_frame = self._first_frame, None  # the opening's frame 0: for the request the opening makes
        cached = first if index == 0 and first is not None else video.cached_in_memory(index)
        if cached is not None:  # already decoded: no round trip through a worker (a folder's frame is checked there)
            self.jobs.cancel("frame")
            self._show(index, cached)
            return

        def work(cancel, progress):  # noqa: ANN001
            cancel.raise_if_cancelled()
            return index, video.read(index)

        self.jobs.submit("frame", work, lambda result: self._show(*result), on_error=lambda e, t: self.notifier.error("Cannot read frame", e, t))

    def _show(self, index: int, frame: np.ndarray) -> None:
        self.current_frame, self.shown_index = frame, index
        self.frameReady.emit(index, frame)

    # -- playback -----------------------------------------------------------
    def _on_playing(self, playing: bool) -> None:
        if playing and self.state.info is not None:
            self._timer.start(self._until_next_frame())
        else:
            self._timer.stop()

    def _until_next_frame(self) -> int:
        """Milliseconds from the current frame to the next: their timestamps' difference, else one frame at the
        average rate (a gap in a variable-rate recording plays as long as it lasted)."""
        state = self.state
        index = state.frame_index
        step = state.seconds_at(index + 1) - state.seconds_at(index) if state.times is not None and index + 1 < len(state.times) else 0.0
        if step <= 0:
            fps = state.info.fps if state.info is not None and state.info.fps else 25.0
            step = 1.0 / fps
        return max(5, int(round(1000.0 * step)))

    def _tick(self) -> None:
        if not self.state.playing:
            return
        if self.jobs.is_busy("frame"):
            self._timer.start(self._until_next_frame())  # the last frame is still decoding: skip this tick
            return
        if self.state.frame_index >= self.state.frame_count - 1:
            self.state.set_playing(False)
            return
        self.state.step(1)
        self._timer.start(self._until_next_frame())

    def close(self) -> None:
        self._timer.stop()
        if self.opened is not None:
            self.opened.close()
            self.opened = None
