"""Optical flow in the viewer: the current frame's flow first, then a whole-video scan.

Flow is computed in chunks of :data:`CHUNK_PAIRS` pairs aligned to fixed
boundaries, so the view's requests and the background scan share the disk
cache.  The chunk holding the current frame has priority ("flow" channel,
newest request wins); the scan ("flow-scan" channel) walks every chunk and
hands each one over as it finishes, so the timeline of noise scores and
magnitudes fills in while the user works.  Colours use one radius for the
whole video, so the same motion has the same colour in every frame: a radius
the user sets, or (auto, the default) the video's own motion scale, read from
the scan: motions vary from a fraction of a pixel (the bundled sample) to tens
of pixels, and a fixed default left small motions nearly white.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.flow import FlowEncoding, PairQuality, compute_flow_cached, flow_to_rgb, pair_quality
from core.video import Video
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.state import ViewerState

CHUNK_PAIRS = 16
MAX_ANALYSIS_SIDE = 480  # shorter side above this is downscaled for flow
MAX_STORED_PAIRS = 600
DEFAULT_RADIUS = 5.0  # colours before the scan has measured anything
AUTO_RADIUS_FLOOR = 0.5  # a still video's sub-pixel noise is not blown up to full colour
AUTO_RADIUS_TOLERANCE = 0.25  # the whole scan changes the first chunk's estimate only when it is this far off (no needless re-colouring)
AUTO_RADIUS_PERCENTILE = 90  # over the pairs' 95th-percentile motions: noisy outlier pairs do not set the scale


def auto_radius(p95: np.ndarray) -> float | None:
    """The colour radius for a video whose pairs' 95th-percentile motions are ``p95`` (NaN: not
    scanned yet), two significant digits so the value reads well; None before any is known."""
    known = p95[np.isfinite(p95)]
    if known.size == 0:
        return None
    radius = max(AUTO_RADIUS_FLOOR, float(np.percentile(known, AUTO_RADIUS_PERCENTILE, method="lower")))
    return float(f"{radius:.2g}")


@dataclass(frozen=True)
class FlowFrame:
    """What the views show for one frame pair."""

    pair: int
    image: np.ndarray  # (h, w, 3) uint8 colour rendering
    quality: PairQuality
    inconsistency: np.ndarray  # (h, w) float32 pixels, forward-backward
    warp_error: np.ndarray  # (h, w) float32 grey levels
    method_used: str
    fell_back: bool
    note: str
    encoding: FlowEncoding  # the colours of ``image``


@dataclass(frozen=True)
class ChunkQuality:
    """A finished chunk of the scan: per-pair noise scores and mean magnitudes."""

    method: str
    first_pair: int
    noise: np.ndarray
    magnitude: np.ndarray
    magnitude_p95: np.ndarray


def analysis_frames(frames: np.ndarray) -> np.ndarray:
    """Downscale frames whose shorter side exceeds :data:`MAX_ANALYSIS_SIDE` (flow cost grows with pixels)."""
    height, width = frames.shape[1:3]
    short = min(height, width)
    if short <= MAX_ANALYSIS_SIDE:
        return frames
    scale = MAX_ANALYSIS_SIDE / short
    size = (int(round(width * scale)), int(round(height * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def chunk_indices(chunk: int, frame_count: int) -> list[int]:
    first = chunk * CHUNK_PAIRS
    return list(range(first, min(first + CHUNK_PAIRS + 1, frame_count)))


def compute_chunk(video: Video, chunk: int, method: str, *, device: str, encoding: FlowEncoding, cancel, progress=None) -> list[FlowFrame]:  # noqa: ANN001
    """Flow, colour, quality and maps for every pair of one chunk (plain Python: runs in a worker)."""
    indices = chunk_indices(chunk, len(video))
    frames = analysis_frames(video.read_clip(indices))
    result, _hit = compute_flow_cached(video.path, indices, method, frames=frames, device=device, backward=True, cancel=cancel, progress=progress)
    images = flow_to_rgb(result.forward, encoding)
    out = []
    for k in range(result.pairs):
        cancel.raise_if_cancelled()
        backward = None if result.backward is None else result.backward[k]
        quality, maps = pair_quality(frames[k], frames[k + 1], result.forward[k], backward)
        out.append(FlowFrame(indices[k], images[k], quality, maps.inconsistency, maps.warp_error, result.method_used, result.fell_back, result.note, encoding))
    return out


class FlowController(QObject):
    flowReady = Signal(object)  # FlowFrame for the current frame
    flowPending = Signal(int)  # pair index being computed
    fallbackNotice = Signal(str)  # non-empty when RAFT fell back to a classical method
    scanUpdated = Signal(object)  # ChunkQuality
    scanProgress = Signal(int, int)  # chunks done, chunks in all
    scanReset = Signal(int)  # pairs in the new video (or method)
    radiusChanged = Signal(float)  # the colour radius in use (in auto mode: the video's, once measured)

    def __init__(self, state: ViewerState, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self.video: Video | None = None
        self.method = "dis"
        self.device = "auto"
        self.encoding = FlowEncoding("fixed", DEFAULT_RADIUS)
        self.auto_radius = True
        self._scan_p95 = np.zeros(0, np.float32)
        self._auto_measured = False  # the scan of this video and method has set the radius
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
        self._restart_scan()
        self._on_frame(self.state.frame_index)

    def set_method(self, method: str) -> None:
        if method != self.method:
            self.method = method
            self._restart_scan()
            self._on_frame(self.state.frame_index)

    def set_radius(self, radius: float) -> None:
        """Colour radius in pixels, or 0 for auto (the video's motion scale, from the scan)."""
        self.auto_radius = radius <= 0
        self._use_radius(auto_radius(self._scan_p95) if self.auto_radius else float(radius))

    def _use_radius(self, radius: float | None, tolerance: float = 0.0) -> None:
        """Colour with ``radius`` from now on, unless it is within ``tolerance`` (relative) of the current one."""
        if radius is None or abs(radius - self.encoding.max_radius) <= tolerance * self.encoding.max_radius:
            return
        self.encoding = FlowEncoding("fixed", radius)  # stored renderings are re-coloured as they are shown
        self.radiusChanged.emit(radius)
        self._on_frame(self.state.frame_index)

    @staticmethod
    def pair_of(frame_index: int, frame_count: int) -> int:
        """Frame i shows the flow from i to i+1; the last frame shows the last pair."""
        return max(0, min(frame_index, frame_count - 2))

    def current(self) -> FlowFrame | None:
        """The current frame's flow in the current colours (None while it is computed or re-coloured)."""
        frame = self.shown()
        return frame if frame is not None and frame.encoding == self.encoding else None

    def shown(self) -> FlowFrame | None:
        """The current frame's flow as the view shows it: maybe still in the previous colours."""
        if self.video is None or len(self.video) < 2:
            return None
        return self._store.get((self.method, self.pair_of(self.state.frame_index, len(self.video))))

    # -- the current frame --------------------------------------------------
    def _on_frame(self, index: int) -> None:
        if self.video is None or len(self.video) < 2:
            return
        key = (self.method, self.pair_of(index, len(self.video)))
        shown = self._store.get(key)
        if shown is None:
            self.flowPending.emit(key[1])
        else:
            self._store.move_to_end(key)
            self.flowReady.emit(shown)
            if shown.encoding == self.encoding:
                return
            # in the old colours: shown until the re-coloured chunk (from the disk cache) replaces it
        self._throttle.start()

    def _request(self) -> None:
        video = self.video
        if video is None or self.current() is not None:
            return
        chunk = self.pair_of(self.state.frame_index, len(video)) // CHUNK_PAIRS
        method, device, encoding = self.method, self.device, self.encoding

        def work(cancel, progress):  # noqa: ANN001
            return method, encoding, compute_chunk(video, chunk, method, device=device, encoding=encoding, cancel=cancel, progress=progress)

        self.jobs.submit("flow", work, self._on_chunk, on_error=lambda e, t: self.notifier.error("Optical flow failed", e, t))

    def _on_chunk(self, result: tuple[str, FlowEncoding, list[FlowFrame]]) -> None:
        method, encoding, frames = result
        for frame in frames:  # keyed by what was asked for, even if it fell back
            key = (method, frame.pair)
            held = self._store.get(key)
            if encoding == self.encoding or held is None or held.encoding != self.encoding:  # never current colours for old
                self._store[key] = frame
        while len(self._store) > MAX_STORED_PAIRS:
            self._store.popitem(last=False)
        if frames:
            self.fallbackNotice.emit(frames[0].note if frames[0].fell_back else "")
        current = self.current()
        if current is not None:
            self.flowReady.emit(current)
        elif frames:
            self._on_frame(self.state.frame_index)  # the user moved on, or the colours changed meanwhile: ask again

    # -- the whole-video scan -----------------------------------------------
    def _restart_scan(self) -> None:
        self.jobs.cancel("flow-scan")
        video = self.video
        if video is None or len(video) < 2:
            self.scanReset.emit(0)
            return
        pairs = len(video) - 1
        self._scan_p95 = np.full(pairs, np.nan, np.float32)
        self._auto_measured = False
        self.scanReset.emit(pairs)
        chunks = (pairs + CHUNK_PAIRS - 1) // CHUNK_PAIRS
        method, device, encoding = self.method, self.device, self.encoding

        def scan(cancel, progress):  # noqa: ANN001
            for chunk in range(chunks):
                frames = compute_chunk(video, chunk, method, device=device, encoding=encoding, cancel=cancel)
                part = ChunkQuality(
                    method,
                    chunk * CHUNK_PAIRS,
                    np.array([f.quality.noise_score for f in frames], np.float32),
                    np.array([f.quality.magnitude_mean for f in frames], np.float32),
                    np.array([f.quality.magnitude_p95 for f in frames], np.float32),
                )
                progress(chunk + 1, chunks, f"flow scan {chunk + 1}/{chunks}", partial=part)
            return chunks

        self.jobs.submit(
            "flow-scan",
            scan,
            lambda done: self._scan_finished(method, done),
            on_error=lambda e, t: self.notifier.error("Flow scan failed", e, t),
            on_progress=lambda done, total, _m: self.scanProgress.emit(done, total),
            on_partial=self._on_scan_chunk,
        )

    def _on_scan_chunk(self, part: ChunkQuality) -> None:
        if part.method != self.method:
            return
        end = min(len(self._scan_p95), part.first_pair + len(part.magnitude_p95))
        self._scan_p95[part.first_pair:end] = part.magnitude_p95[: end - part.first_pair]
        self.scanUpdated.emit(part)
        if self.auto_radius and not self._auto_measured:  # a first estimate, from the first chunk
            self._auto_measured = True
            self._use_radius(auto_radius(self._scan_p95))

    def _scan_finished(self, method: str, chunks: int) -> None:
        self.scanProgress.emit(chunks, chunks)
        if method == self.method and self.auto_radius:  # the whole video measured: the final scale,
            self._use_radius(auto_radius(self._scan_p95), tolerance=AUTO_RADIUS_TOLERANCE)  # if far from the first
