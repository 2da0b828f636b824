"""Optical flow in the viewer: a quick look at the video, the current frame's flow, then a scan.

Opening a video first runs a short *prepare* job: DIS on a few pairs spread
over the video settles the colour radius (:mod:`core.flow.scale`), and a slow
method (TV-L1, RAFT) is timed on one pair.  Only then is anything drawn, so the
first flow picture already has the colours the video keeps; a method that
would take long on this video is not started silently: the video opens on DIS
and the slow method is offered with its cost (:class:`SlowMethodOffer`).

Then flow is computed in chunks (:mod:`viewer.flow_chunks`).  The chunk holding
the current frame has priority ("flow" channel, newest request wins); the scan
("flow-scan" channel) walks every chunk and hands each one over as it
finishes.  Every job reports its progress and the time left
(:class:`FlowJobStatus`).  Results carry the video session they were asked for:
nothing of a previous video or method is ever shown as current.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.flow import FlowEncoding
from core.flow.cache import is_cached
from core.flow.engine import MIN_SIDE, RAFT_METHODS
from core.flow.scale import RADIUS_FLOOR, MotionScale, measure_motion_scale, settled_radius
from core.flow.timing import FAST_METHODS, FlowCost, TimeLeft, time_one_pair
from core.video import Video
from viewer.flow_chunks import CHUNK_PAIRS, MAX_ANALYSIS_SIDE, ChunkQuality, FlowFrame, analysis_frames, chunk_indices, compute_chunk
from viewer.flow_job import FAST_METHOD, ChunkFailure, FlowJobStatus, Prepared, SlowMethodOffer, failure_text
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.open_video import OpenVideo
from viewer.scan_memo import ScanMemo, scan_key, whole_scan
from viewer.state import ViewerState

MAX_STORED_PAIRS = 600
# Flow pictures and quality maps kept for scrubbing back, by size too: 600 pairs of 854x480 held 2.7 GB.
MAX_STORED_BYTES = 512 << 20
DEFAULT_RADIUS = 5.0  # colours before a video has been measured
SLOW_VIEW_S = 10.0  # a first picture later than this is not started unasked
SLOW_SCAN_S = 180.0  # nor a whole-video scan longer than this
JOBS_AFTER_PAINT_MS = 20  # a video's flow jobs start this long after it opens (after its first paint)
CACHED = "cached"  # a scan chunk's progress message when its flow came from the cache
auto_radius = settled_radius  # the colour radius for pairs of known 95th-percentile motions (kept name)
AUTO_RADIUS_FLOOR = RADIUS_FLOOR

__all__ = ["CHUNK_PAIRS", "MAX_ANALYSIS_SIDE", "ChunkQuality", "FlowController", "FlowFrame", "FlowJobStatus", "SlowMethodOffer",
           "analysis_frames", "chunk_indices", "compute_chunk"]


def why_no_flow(video: Video) -> str:
    """Why ``video`` has no flow at all, or ``""``: one frame, or frames narrower or lower than any method can match
    (a 1x4000 strip: its flow jobs failed at every frame pair, in a dialog that named no file)."""
    if len(video) < 2:
        return "one frame: no pair of frames to compute flow between"
    width, height = video.info.width, video.info.height
    if min(width, height) < MIN_SIDE:
        return f"frames of {width}x{height}: too small for flow (each side must be at least {MIN_SIDE} px)"
    return ""


class FlowController(QObject):
    flowReady = Signal(object)  # FlowFrame for the current frame
    flowPending = Signal(int)  # pair whose flow is not there yet: the view shows nothing of another
    flowUnavailable = Signal(str)  # the video has no flow at all (one frame): why, for the emptied view
    jobStatus = Signal(object)  # FlowJobStatus of what the view waits for
    fallbackNotice = Signal(object)  # the FlowFrame that fell back (RAFT without weights), or None
    scanUpdated = Signal(object)  # ChunkQuality
    scanProgress = Signal(int, int)  # chunks done, chunks in all
    scanStatus = Signal(str)  # what the scan is doing, in words (the toolbar)
    scanReset = Signal(int)  # pairs in the new video (or method)
    scanActive = Signal(bool)  # the scan's job started (True) or ended: finished, failed or stopped (False)
    radiusChanged = Signal(float)  # the colour radius in use, in the video's pixels
    methodChanged = Signal(str)  # the controller chose the method (a slow one was not started)
    slowMethodOffer = Signal(object)  # SlowMethodOffer, or None when withdrawn

    def __init__(self, state: ViewerState, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self._open: OpenVideo | None = None  # the video with the decoders the flow jobs lease (playback keeps the video's)
        self.method = FAST_METHOD
        self.device = "auto"
        self.raft_weights: dict[str, str] = {}
        self.encoding = FlowEncoding("fixed", DEFAULT_RADIUS)
        self.auto_radius = True  # each video's own radius (else a locked one)
        self.locked_radius = 0.0  # video pixels: the same on-screen motion, the same colour, on every video
        self.per_pair = False
        self.scale: MotionScale | None = None
        self.offer: SlowMethodOffer | None = None
        self._session = 0
        self._ready = False  # the prepare job of this video has settled its colours and method
        self._scan_waiting = False  # the scan starts once the view's chunk is there: the first picture gets the CPU
        self._scan_p95 = np.zeros(0, np.float32)
        self._scan_parts: list[ChunkQuality] = []  # the running scan's chunks, kept once it finishes
        self._scans = ScanMemo()
        self._store: OrderedDict[tuple[str, int], FlowFrame] = OrderedDict()
        self._view_left = TimeLeft()
        self._view_job: tuple[int, Hashable] | None = None  # the view's flow job in progress, and what it computes
        # this video's chunks whose flow failed, by method and weights, and why: not asked again at every frame (a
        # failure that may pass is asked again when the user comes back to its chunk, or presses Try again)
        self._failed_chunks: dict[tuple[str, int, str | None], ChunkFailure] = {}
        self._prepare_failure: ChunkFailure | None = None  # this video's motion sample failed: asked again by Try again when it may pass
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(40)  # scrubbing fires many frames: ask once it settles
        self._throttle.timeout.connect(self._request)
        self.frame_index = 0  # the frame the RGB view shows (see frame_shown)

    # -- inputs -------------------------------------------------------------
    def set_video(self, opened: OpenVideo | None) -> None:
        self._session += 1
        video = None if opened is None else opened.video
        self._open, self.scale, self._ready = opened, None, False
        wanted = self._wanted_encoding()
        if wanted is not None:  # a lock (or per pair's floor) at this video's analysis size; nothing is drawn yet
            self.encoding = wanted
        self._store.clear()
        self._failed_chunks.clear()
        self._prepare_failure = None
        for channel in ("flow", "flow-scan", "flow-prepare"):
            self.jobs.cancel(channel)
        self._withdraw_offer()
        self.fallbackNotice.emit(None)
        no_flow = "" if video is None else why_no_flow(video)
        if video is None or no_flow:
            self.scanReset.emit(0)
            self.scanStatus.emit("")
            # the previous video's flow, caption and overlays must not stay beside this one's frame
            self.flowUnavailable.emit(no_flow)
            return
        self.frame_index = self.state.frame_index  # the new video's: its frame is shown, or on its way
        self._scan_p95 = np.full(len(video) - 1, np.nan, np.float32)
        self.scanReset.emit(len(video) - 1)
        self.scanStatus.emit("flow scan: waits for the motion sample")
        # the workers start once the new video's first paint is out: started now, they took the CPU from that paint
        # (on 2 cores the GUI thread waited 14 ms of a 40 ms stall for one)
        session = self._session
        QTimer.singleShot(JOBS_AFTER_PAINT_MS, self, lambda: session == self._session and self._prepare())
        self._on_frame(self.frame_index)

    def frame_shown(self, index: int) -> None:
        """The RGB view now shows frame ``index``: the flow view follows the frame on screen, not the frame asked
        for.  Following the request, a pair already stored was drawn at once beside the previous frame, still up
        while the new one decoded (scrubbing, and every frame of playback).

        Coming into a chunk from another asks its flow again when it failed for a passing cause (memory, a drive gone
        for a while): once per visit, so scrubbing within a chunk whose drive is still gone gives one error, not one
        at every frame."""
        arrived = self._is_current_video() and self._chunk_tried(int(index)) != self._chunk_tried(self.frame_index)
        self.frame_index = int(index)
        if arrived:
            self._forget_passing_failures(lambda tried: tried == self._chunk_tried(self.frame_index))
        self._on_frame(self.frame_index)

    def try_again(self) -> None:
        """The user's Try again (on the flow view's message): every chunk of this video whose flow failed for a passing
        cause is asked again when shown, the current frame's now; one that failed for good stays failed.  So is the
        motion sample that settles the colours (before, only opening the video again measured it again)."""
        self._forget_passing_failures(lambda _tried: True)
        failure = self._prepare_failure
        if failure is not None and failure.transient and self._is_current_video():
            self._prepare_failure = None
            self.scanStatus.emit("flow scan: waits for the motion sample")
            self._prepare()
        self._on_frame(self.frame_index)

    def _forget_passing_failures(self, which: Callable[[tuple[str, int, str | None]], bool]) -> None:
        self._failed_chunks = {tried: failure for tried, failure in self._failed_chunks.items()
                               if not (failure.transient and which(tried))}

    def set_method(self, method: str) -> None:
        if method == self.method:
            return
        self.method = method
        self._withdraw_offer()
        self.fallbackNotice.emit(None)
        self.jobs.cancel("flow")
        if self._ready:
            self._scan_after_view()
        self._on_frame(self.frame_index)

    def set_raft_weights(self, variant: str, path: str) -> None:
        """Use the weights file ``path`` for ``variant`` from now on (recomputing its flow if shown)."""
        self.raft_weights[variant] = str(path)
        self._store = OrderedDict((k, v) for k, v in self._store.items() if k[0] != variant)
        if self.method == variant:
            self.fallbackNotice.emit(None)
            self.jobs.cancel("flow")
            if self._ready:
                self._scan_after_view()
            self._on_frame(self.frame_index)

    def set_radius(self, radius: float) -> None:
        """Colour radius in the video's pixels, locked for every video; 0: each video's own (measured when it opens)."""
        self.auto_radius = radius <= 0
        self.locked_radius = 0.0 if self.auto_radius else float(radius)
        self._use_encoding(self._wanted_encoding())

    def set_per_pair(self, per_pair: bool) -> None:
        """Each pair coloured on its own largest motion (``True``), or one radius for the video."""
        self.per_pair = bool(per_pair)
        self._use_encoding(self._wanted_encoding())

    @property
    def video(self) -> Video | None:
        """The open video (``None`` with none), from :meth:`set_video`'s :class:`OpenVideo`."""
        return None if self._open is None else self._open.video

    @property
    def video_pixels(self) -> float:
        """The open video's pixels per pixel of its flow (computed smaller on a large video): the open video's one
        factor, which its flow frames state too (1.0 with no video)."""
        return 1.0 if self._open is None else self._open.video_pixels

    @property
    def radius(self) -> float | None:
        """The colour radius asked for, in the video's pixels: the lock, or the video's own once measured (else None)."""
        if not self.auto_radius:
            return self.locked_radius
        return None if self.scale is None else self.scale.radius

    def radius_in_use(self) -> float:
        """The radius the pictures are coloured at now, in the video's pixels (what Lock keeps)."""
        radius = None if self.per_pair else self.radius
        return self.encoding.max_radius * self.video_pixels if radius is None else radius

    def _wanted_encoding(self) -> FlowEncoding | None:
        """The encoding the colour choice asks for, at the flow's analysis size, where it is applied: one boundary
        between the video's pixels the user reads and types and the analysis pixels (None: not measured yet)."""
        if self.per_pair:
            return FlowEncoding("clip", RADIUS_FLOOR / self.video_pixels)
        radius = self.radius
        return None if radius is None else FlowEncoding("fixed", radius / self.video_pixels)

    def _use_encoding(self, encoding: FlowEncoding | None) -> None:
        if encoding is None or encoding == self.encoding:
            return
        self.encoding = encoding  # stored renderings are re-coloured as they are shown
        self.radiusChanged.emit(encoding.max_radius * self.video_pixels)
        self._on_frame(self.frame_index)

    @staticmethod
    def pair_of(frame_index: int, frame_count: int) -> int:
        """Frame i shows the flow from i to i+1; the last frame shows the last pair."""
        return max(0, min(frame_index, frame_count - 2))

    def raft_weights_for(self, method: str) -> str | None:
        return self.raft_weights.get(method) if method in RAFT_METHODS else None

    def current(self) -> FlowFrame | None:
        """The current frame's flow in the current colours (None while it is computed or re-coloured)."""
        frame = self.shown()
        return frame if frame is not None and frame.encoding == self.encoding else None

    def shown(self) -> FlowFrame | None:
        """The current frame's flow as the view shows it: maybe still in the previous colours."""
        if not self._is_current_video():
            return None
        return self._store.get((self.method, self.pair_of(self.frame_index, len(self.video))))

    def _is_current_video(self) -> bool:
        """A video with flow (two frames or more, large enough) that the state shows (between a new video's arrival in
        the state and :meth:`set_video` the state already shows the new one)."""
        return self.video is not None and not why_no_flow(self.video) and self.state.info is self.video.info

    # -- opening a video: colours settled and the method's cost known before anything is drawn
    def _prepare(self) -> None:
        video, readers, session, method, device = self.video, self._open.readers, self._session, self.method, self.device
        video_pixels = self.video_pixels
        weights = self.raft_weights_for(method)
        pair = self.pair_of(self.frame_index, len(video))

        def measured(reader: Video, cancel, progress) -> Prepared:  # noqa: ANN001
            def read_pair(p: int) -> np.ndarray:
                return analysis_frames(reader.read_clip([p, p + 1]))

            scale = measure_motion_scale(read_pair, len(video) - 1, video_pixels=video_pixels, cancel=cancel, progress=progress)
            cost = None
            if method not in FAST_METHODS:
                frames = read_pair(pair)
                first = chunk_indices(pair // CHUNK_PAIRS, len(video))
                if not is_cached(video.path, first, method, size=frames.shape[1:3], device=device, raft_weights=weights):
                    cancel.raise_if_cancelled()
                    cost = FlowCost(method, time_one_pair(frames, method, device=device, raft_weights=weights), len(video) - 1)
            return Prepared(session, method, scale, cost)

        def work(cancel, progress):  # noqa: ANN001
            with readers.lease("flow") as reader:
                return measured(reader, cancel, progress)

        self.jobs.submit("flow-prepare", work, self._on_prepared, on_error=lambda e, t: self._prepare_failed(session, e, t),
                         on_progress=lambda done, total, _m: self._status("measuring", f"{done}/{total} pairs"))

    def _on_prepared(self, prepared: Prepared) -> None:
        if prepared.session != self._session:
            return
        self.scale, self._ready = prepared.scale, True
        self._use_encoding(self._wanted_encoding())
        cost = prepared.cost
        if cost is not None and prepared.method == self.method and (cost.seconds_for(CHUNK_PAIRS) > SLOW_VIEW_S or cost.whole_video_s > SLOW_SCAN_S):
            self.offer = SlowMethodOffer(self.method, cost)
            self.method = FAST_METHOD
            self.methodChanged.emit(FAST_METHOD)
            self.slowMethodOffer.emit(self.offer)
        self._scan_after_view()
        self._on_frame(self.frame_index)

    def _prepare_failed(self, session: int, error: BaseException, trace: str) -> None:
        """The motion sample failed: nothing is computed until it is measured, so the view says why at every frame (it
        said "measuring" again once the user moved on), and offers Try again when the cause may pass."""
        failure = ChunkFailure.of(error)
        if session == self._session:
            self._prepare_failure = failure
        self._failed(error, trace, failure.transient)

    def _withdraw_offer(self) -> None:
        if self.offer is not None:
            self.offer = None
            self.slowMethodOffer.emit(None)

    # -- the current frame --------------------------------------------------
    def _status(self, phase: str, text: str = "", retryable: bool = False) -> None:
        if self._is_current_video():
            self.jobStatus.emit(FlowJobStatus(phase, self.method, self.pair_of(self.frame_index, len(self.video)), text, retryable))

    def _on_frame(self, index: int) -> None:
        if not self._is_current_video():
            return
        key = (self.method, self.pair_of(index, len(self.video)))
        shown = self._store.get(key)
        failure = self._failed_chunks.get(self._chunk_tried(index)) if self._ready else self._prepare_failure
        if shown is None and failure is not None:  # said again, not computed again (one more error at every frame)
            self.flowPending.emit(key[1])
            self._status("failed", failure.text, failure.transient)
            return
        if shown is None:
            self.flowPending.emit(key[1])
            self._status("computing" if self._ready else "measuring")
        else:
            self._store.move_to_end(key)
            self.flowReady.emit(shown)
            self._status("ready")
            if shown.encoding == self.encoding:
                return
            # in the old colours: shown until the re-coloured chunk (from the disk cache) replaces it
        if self._ready:
            self._throttle.start()

    def _request(self) -> None:
        if not self._ready or not self._is_current_video() or self.current() is not None:
            return
        readers, video_pixels = self._open.readers, self.video_pixels
        tried = method, chunk, weights = self._chunk_tried(self.frame_index)
        session, device, encoding = self._session, self.device, self.encoding
        asked = (session, method, chunk, encoding, weights)
        if self._view_job is not None and self._view_job == (self.jobs.current("flow"), asked):
            return  # on its way: asking again restarted it at every frame of playback, and nothing was ever shown
        if tried in self._failed_chunks:
            return

        def work(cancel, progress):  # noqa: ANN001
            with readers.lease("flow") as reader:
                frames = compute_chunk(reader, chunk, method, device=device, encoding=encoding, video_pixels=video_pixels, cancel=cancel,
                                       progress=progress, raft_weights=weights)
            return session, method, encoding, frames

        self._view_left = TimeLeft()
        job = self.jobs.submit("flow", work, self._on_chunk, on_error=lambda e, t: self._view_failed(session, tried, e, t),
                               on_progress=self._on_view_progress)
        self._view_job = (job, asked)

    def _chunk_tried(self, index: int) -> tuple[str, int, str | None]:
        """What a view's flow job for frame ``index`` computes, but for its colours (which do not make it fail)."""
        return self.method, self.pair_of(index, len(self.video)) // CHUNK_PAIRS, self.raft_weights_for(self.method)

    def _view_failed(self, session: int, tried: tuple[str, int, str | None], error: BaseException, trace: str) -> None:
        """The view's chunk is not asked again at every frame (a damaged frame gave one more error dialog at every
        frame scrubbed or played near it): for good when the cause stays (opening the video again, another method or
        weights ask again), until the user comes back to it or presses Try again when it may pass (out of memory, a
        read error of a network drive)."""
        failure = ChunkFailure.of(error)
        if session == self._session:
            self._failed_chunks[tried] = failure
        self._failed(error, trace, failure.transient)

    def _failed(self, error: BaseException, trace: str, retryable: bool = False) -> None:
        """A flow job of the view failed: said in the view (not left "computing"), in the error sink, and under the
        timeline when the scan waited for it (the line said it waited, for good)."""
        text = failure_text(error)
        self._status("failed", text, retryable)
        if self._is_current_video() and (self._scan_waiting or not self._ready):
            self.scanStatus.emit(f"flow scan ({self.method}): not started: {text}")
        self.notifier.error("Optical flow failed", error, trace)

    def _on_view_progress(self, done: int, total: int, _message: str) -> None:
        self._view_left.update(done, total)
        if self._is_current_video():
            self._status("computing", f"pairs {self._view_chunk_pairs()} both ways, {self._view_left.describe('steps')}")

    def _trim_store(self, keep: int) -> None:
        """Drop the least recently used pairs past :data:`MAX_STORED_PAIRS` or :data:`MAX_STORED_BYTES`, never the
        ``keep`` that just arrived (the chunk on screen)."""
        held = sum(_frame_bytes(f) for f in self._store.values())
        while len(self._store) > keep and (len(self._store) > MAX_STORED_PAIRS or held > MAX_STORED_BYTES):
            held -= _frame_bytes(self._store.popitem(last=False)[1])

    def _view_chunk_pairs(self) -> str:
        first = self.pair_of(self.frame_index, len(self.video)) // CHUNK_PAIRS * CHUNK_PAIRS
        return f"{first}-{min(first + CHUNK_PAIRS, len(self.video) - 1) - 1}"

    def _on_chunk(self, result: tuple[int, str, FlowEncoding, list[FlowFrame]]) -> None:
        session, method, encoding, frames = result
        if session != self._session:
            return
        for frame in frames:  # keyed by what was asked for, even if it fell back
            key = (method, frame.pair)
            held = self._store.get(key)
            if encoding == self.encoding or held is None or held.encoding != self.encoding:  # never current colours for old
                self._store[key] = frame
            if key in self._store:
                self._store.move_to_end(key)  # just arrived: the last to go
        self._trim_store(len(frames))
        if frames and method == self.method:
            self.fallbackNotice.emit(frames[0] if frames[0].fell_back else None)
            if self._scan_waiting:
                self._restart_scan()
        current = self.current()
        if current is not None:
            self.flowReady.emit(current)
            self._status("ready")
        elif frames:
            self._on_frame(self.frame_index)  # the user moved on, or the colours changed meanwhile: ask again

    # -- the whole-video scan -----------------------------------------------
    def _scan_after_view(self) -> None:
        """Start the scan once the current frame's chunk has arrived (at once when it is stored)."""
        self.jobs.cancel("flow-scan")
        self._scan_waiting = True
        if self._is_current_video():
            self.scanReset.emit(len(self.video) - 1)
            self.scanStatus.emit(f"flow scan ({self.method}): after the current frame's flow")
        if self.shown() is not None:
            self._restart_scan()

    def _restart_scan(self) -> None:
        self._scan_waiting = False
        self.jobs.cancel("flow-scan")
        video = self.video
        if video is None or why_no_flow(video):  # one frame, or too small: nothing to scan
            self.scanReset.emit(0)
            self.scanActive.emit(False)
            return
        readers, video_pixels = self._open.readers, self.video_pixels
        pairs = len(video) - 1
        self._scan_p95 = np.full(pairs, np.nan, np.float32)
        self._scan_parts = []
        self.scanReset.emit(pairs)
        chunks = (pairs + CHUNK_PAIRS - 1) // CHUNK_PAIRS
        session, method, device, encoding = self._session, self.method, self.device, self.encoding
        weights, memo, path = self.raft_weights_for(method), self._scans, str(video.path)
        left = TimeLeft()
        self.scanStatus.emit(f"flow scan ({method}) started")

        def scanned(reader: Video, cancel, progress, key: Hashable) -> ScanDone:  # noqa: ANN001
            for chunk in range(chunks):
                size = len(chunk_indices(chunk, len(video))) - 1

                def inner(done: int, total: int, _message: str = "", base: int = chunk * CHUNK_PAIRS, size: int = size) -> None:
                    progress(base + int(size * done / max(total, 1)), pairs, "")

                hits: list[bool] = []
                frames = compute_chunk(reader, chunk, method, device=device, encoding=encoding, video_pixels=video_pixels, cancel=cancel,
                                       progress=inner, raft_weights=weights, cache_hit=hits.append)
                part = ChunkQuality(
                    method,
                    chunk * CHUNK_PAIRS,
                    np.array([f.quality.noise_score for f in frames], np.float32),
                    np.array([f.quality.magnitude_mean for f in frames], np.float32),
                    np.array([f.quality.magnitude_p95 for f in frames], np.float32),
                )
                progress(chunk * CHUNK_PAIRS + size, pairs, CACHED if hits and hits[0] else "", partial=(session, part))
            return ScanDone(chunks, key)

        def scan(cancel, progress):  # noqa: ANN001
            # the memo's key stats the file, or lists and stats every image of a folder: here, not on the GUI thread
            key = scan_key(path, method, str(device), weights)
            kept = memo.get(key)
            if kept is not None:  # this video was scanned with this method before: its numbers, no flow computed
                progress(pairs, pairs, CACHED, partial=(session, kept))
                return ScanDone(chunks, key, kept=True)
            with readers.lease("scan") as reader:  # its own decoder, read in order: the view's jumps with the user
                return scanned(reader, cancel, progress, key)

        def on_progress(done: int, total: int, message: str) -> None:
            left.update(done, total, free=message == CACHED)
            if session == self._session and method == self.method:
                self.scanStatus.emit(f"flow scan ({method}) {left.describe('pairs')}")

        self.jobs.submit(
            "flow-scan",
            scan,
            lambda done: self._scan_finished(session, method, done),
            on_error=lambda e, t: self._scan_failed(session, method, e, t),
            on_progress=on_progress,
            on_partial=self._on_scan_chunk,
        )
        self.scanActive.emit(True)

    @property
    def scanning(self) -> bool:
        return self.jobs.is_busy("flow-scan")

    def stop_scan(self) -> None:
        """The user's Stop: the scan's job ends (a 30,000-frame video takes minutes); the pairs it scored stay on the
        timeline, and :meth:`resume_scan` goes on (pairs already computed come from the flow cache)."""
        if not self.scanning or self.video is None:
            return
        self.jobs.cancel("flow-scan")
        done = int(np.isfinite(self._scan_p95).sum())
        self.scanStatus.emit(f"flow scan ({self.method}) stopped at {done}/{len(self.video) - 1} pairs")
        self.scanActive.emit(False)

    def resume_scan(self) -> None:
        if self.video is not None and not self.scanning:
            self._restart_scan()

    def _scan_failed(self, session: int, method: str, error: BaseException, trace: str) -> None:
        """Said in the error sink and on the line under the timeline (it kept counting pairs, as if still running)."""
        if session == self._session and method == self.method:
            self.scanStatus.emit(f"flow scan ({method}) stopped: {failure_text(error)}")
            self.scanActive.emit(False)
        self.notifier.error("Flow scan failed", error, trace)

    def _on_scan_chunk(self, partial: tuple[int, ChunkQuality]) -> None:
        session, part = partial
        if session != self._session or part.method != self.method:
            return
        end = min(len(self._scan_p95), part.first_pair + len(part.magnitude_p95))
        self._scan_p95[part.first_pair:end] = part.magnitude_p95[: end - part.first_pair]
        self._scan_parts.append(part)
        self.scanUpdated.emit(part)
        self.scanProgress.emit(part.first_pair // CHUNK_PAIRS + 1, (len(self._scan_p95) + CHUNK_PAIRS - 1) // CHUNK_PAIRS)

    def _scan_finished(self, session: int, method: str, done: ScanDone) -> None:
        if session != self._session or method != self.method:
            return
        if not done.kept and self.video is not None:
            whole = whole_scan(self._scan_parts, len(self.video) - 1)
            if whole is not None:
                self._scans.put(done.key, whole)
        self.scanProgress.emit(done.chunks, done.chunks)
        self.scanStatus.emit(f"flow scan ({method}) complete" + (" (kept from before)" if done.kept else ""))
        self.scanActive.emit(False)


@dataclass(frozen=True)
class ScanDone:
    """What a finished scan job hands back: its chunks, the memo key of the video as the job found it, and
    whether its numbers came from the memo."""

    chunks: int
    key: Hashable | None
    kept: bool = False


def _frame_bytes(frame: FlowFrame) -> int:
    return frame.image.nbytes + frame.inconsistency.nbytes + frame.warp_error.nbytes
