"""Optical flow for the neighbourhood of the current frame, computed in the background.

Scrubbing asks for the flow of pair (i, i+1); the controller computes a short
window around it in one job (through the disk cache), keeps the colour
renderings in memory, and shows each as it arrives.  The newest request wins.
Colours use a fixed radius, so the same motion has the same colour in every
frame (no flicker from per-batch scaling).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.flow import FlowEncoding, compute_flow_cached, flow_to_rgb
from core.video import Video
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.state import ViewerState

WINDOW_BEFORE = 2  # pairs computed before the current one
WINDOW_AFTER = 10  # and after it: playback runs forward
MAX_ANALYSIS_SIDE = 480  # shorter side above this is downscaled for flow
MAX_STORED_PAIRS = 600


@dataclass(frozen=True)
class FlowFrame:
    """What the view shows for one frame pair."""

    pair: int
    image: np.ndarray  # (h, w, 3) uint8 colour rendering
    method_used: str
    fell_back: bool
    note: str


def analysis_frames(frames: np.ndarray) -> np.ndarray:
    """Downscale frames whose shorter side exceeds :data:`MAX_ANALYSIS_SIDE` (flow cost grows with pixels)."""
    height, width = frames.shape[1:3]
    short = min(height, width)
    if short <= MAX_ANALYSIS_SIDE:
        return frames
    scale = MAX_ANALYSIS_SIDE / short
    size = (int(round(width * scale)), int(round(height * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


class FlowController(QObject):
    flowReady = Signal(object)  # FlowFrame for the current frame
    flowPending = Signal(int)  # pair index being computed
    fallbackNotice = Signal(str)  # non-empty when RAFT fell back to a classical method

    def __init__(self, state: ViewerState, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self.video: Video | None = None
        self.method = "dis"
        self.device = "auto"
        self.encoding = FlowEncoding("fixed", 5.0)
        self._store: OrderedDict[tuple[str, int], FlowFrame] = OrderedDict()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(40)  # scrubbing fires many frames: ask once it settles
        self._throttle.timeout.connect(self._request)
        state.frameChanged.connect(self._on_frame)

    # -- inputs -------------------------------------------------------------
    def set_video(self, video: Video | None) -> None:
        self.video = video
        self._store.clear()
        self.jobs.cancel("flow")
        self._on_frame(self.state.frame_index)

    def set_method(self, method: str) -> None:
        if method != self.method:
            self.method = method
            self._on_frame(self.state.frame_index)

    def set_radius(self, radius: float) -> None:
        self.encoding = FlowEncoding("fixed", float(radius))
        self._store.clear()  # renderings depend on the radius (the flow itself is cached on disk)
        self._on_frame(self.state.frame_index)

    @staticmethod
    def pair_of(frame_index: int, frame_count: int) -> int:
        """Frame i shows the flow from i to i+1; the last frame shows the last pair."""
        return max(0, min(frame_index, frame_count - 2))

    # -- requests -----------------------------------------------------------
    def _on_frame(self, index: int) -> None:
        if self.video is None or len(self.video) < 2:
            return
        pair = self.pair_of(index, len(self.video))
        shown = self._store.get((self.method, pair))
        if shown is not None:
            self._store.move_to_end((self.method, pair))
            self.flowReady.emit(shown)
            if all((self.method, p) in self._store for p in range(pair, min(pair + 3, len(self.video) - 1))):
                return  # the next frames are ready too: no job needed yet
        else:
            self.flowPending.emit(pair)
        self._throttle.start()

    def _request(self) -> None:
        video = self.video
        if video is None:
            return
        count = len(video)
        pair = self.pair_of(self.state.frame_index, count)
        first = max(0, pair - WINDOW_BEFORE)
        last = min(count - 2, pair + WINDOW_AFTER)
        while first < last and (self.method, first) in self._store:
            first += 1  # skip what is already known
        indices = list(range(first, last + 2))
        method, device, encoding, path = self.method, self.device, self.encoding, video.path

        def work(cancel, progress):  # noqa: ANN001
            frames = analysis_frames(video.read_clip(indices))
            result, _hit = compute_flow_cached(path, indices, method, frames=frames, device=device, cancel=cancel, progress=progress)
            images = flow_to_rgb(result.forward, encoding)
            return method, [
                FlowFrame(first + k, images[k], result.method_used, result.fell_back, result.note)
                for k in range(images.shape[0])
            ]

        self.jobs.submit("flow", work, self._on_result, on_error=lambda e, t: self.notifier.error("Optical flow failed", e, t))

    def _on_result(self, result: tuple[str, list[FlowFrame]]) -> None:
        method, frames = result
        for frame in frames:
            self._store[(method, frame.pair)] = frame  # keyed by what was asked for, even if it fell back
        while len(self._store) > MAX_STORED_PAIRS:
            self._store.popitem(last=False)
        if frames:
            note = frames[0].note if frames[0].fell_back else ""
            self.fallbackNotice.emit(note)
        current = self._store.get((self.method, self.pair_of(self.state.frame_index, self.state.frame_count)))
        if current is not None:
            self.flowReady.emit(current)
        elif frames:
            self._throttle.start()  # the user moved on while this ran
