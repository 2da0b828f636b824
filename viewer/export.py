"""File > Export: the composite view as PNG, a clip with overlays as MP4, metrics and predictions as CSV/JSON.

A PNG is the one frame on screen, taken from the views (``FrameView.composite``,
so it is exactly what is shown) on the GUI thread.  Anything longer runs in the
job runner's "export" channel: the GUI thread builds an immutable request (the
video, the frames, the flow method and encoding, the overlay choice, snapshots
of other features' overlays) and the worker reads nothing else.  Progress goes
to a dialog with Cancel; a failure (full disk, unwritable folder) is a dialog
naming the file; the writers are atomic, so nothing half-written is left.

Other features add their overlays to exported clips with
:meth:`ExportController.add_overlay_source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from core.export import (
    ExportError,
    flow_metric_rows,
    legend_band,
    side_by_side,
    write_flow_metrics,
    write_mp4_stream,
    write_png,
    write_predictions,
)
from core.export.heatmap import blend_rgba
from core.flow import FlowEncoding
from core.progress import CancelToken
from core.video import Video
from viewer import settings as app_settings
from viewer.flow_controller import CHUNK_PAIRS, FlowController, FlowFrame, compute_chunk
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.quality_overlay import OverlayChoice, QualityOverlayController
from viewer.state import ViewerState
from viewer.video_controller import VideoController
from viewer.widgets.frame_view import FrameView

DEFAULT_CLIP_FRAMES = 16  # a model clip when no classify region is set
CHANNEL = "export"

FrameOverlay = Callable[[int], np.ndarray | None]  # frame index -> (h, w, 4) uint8 RGBA (opacity in alpha) or None
OverlaySnapshot = Callable[[], FrameOverlay | None]  # called on the GUI thread when an export starts


@dataclass(frozen=True)
class ClipExportRequest:
    """Everything a clip export reads; built on the GUI thread, read by the worker."""

    path: str
    video: Video
    frames: tuple[int, ...]
    fps: float
    method: str
    device: str
    encoding: FlowEncoding
    overlays: OverlayChoice
    extra: tuple[tuple[str, str, FrameOverlay], ...] = field(default=())  # (view, name, overlay)


def pair_of(frame_index: int, frame_count: int) -> int:
    return FlowController.pair_of(frame_index, frame_count)


def flow_frames_for(video: Video, pairs: list[int], *, method: str, device: str, encoding: FlowEncoding, cancel: CancelToken) -> Iterator[FlowFrame]:
    """The FlowFrames of ``pairs`` (ascending), chunk by chunk through the disk cache the viewer fills."""
    current_chunk, by_pair = -1, {}
    for pair in pairs:
        chunk = pair // CHUNK_PAIRS
        if chunk != current_chunk:
            by_pair = {f.pair: f for f in compute_chunk(video, chunk, method, device=device, encoding=encoding, cancel=cancel)}
            current_chunk = chunk
        yield by_pair[pair]


def render_clip(request: ClipExportRequest, cancel: CancelToken) -> Iterator[np.ndarray]:
    """Composite frames (RGB | flow, overlays as chosen, legend under them) for an MP4 export."""
    count = len(request.video)
    pairs = [pair_of(i, count) for i in request.frames]
    flows = flow_frames_for(request.video, sorted(set(pairs)), method=request.method, device=request.device, encoding=request.encoding, cancel=cancel)
    flow_by_pair: dict[int, FlowFrame] = {}
    legend = None
    for index, pair in zip(request.frames, pairs):
        cancel.raise_if_cancelled()
        while pair not in flow_by_pair:
            frame = next(flows)
            flow_by_pair = {frame.pair: frame}  # frames ascend: only the newest pair is ever needed again
        flow = flow_by_pair[pair]
        views = {"rgb": request.video.read(index), "flow": flow.image}
        for name, rgba in request.overlays.layers(flow, bake_opacity=True).items():
            views[request.overlays.target] = blend_rgba(views[request.overlays.target], rgba)
        for view, _name, overlay in request.extra:
            rgba = overlay(index)
            if rgba is not None:
                views[view] = blend_rgba(views[view], rgba)
        image = side_by_side(views["rgb"], views["flow"])
        if request.overlays.names:
            if legend is None:
                legend = legend_band(request.overlays.scales, image.shape[1])
            image = np.concatenate([image, legend], axis=0)
        yield image


def flow_metrics_job(video: Video, *, method: str, device: str, encoding: FlowEncoding, cancel: CancelToken, progress: Callable[..., None]) -> list[dict[str, Any]]:
    """Every pair's quality measures for the whole video (flow from the cache when the scan has run)."""
    pairs = len(video) - 1
    chunks = (pairs + CHUNK_PAIRS - 1) // CHUNK_PAIRS
    rows: list[dict[str, Any]] = []
    for chunk in range(chunks):
        frames = compute_chunk(video, chunk, method, device=device, encoding=encoding, cancel=cancel)
        rows += flow_metric_rows([f.quality for f in frames], first_pair=frames[0].pair if frames else chunk * CHUNK_PAIRS, method_used=[f.method_used for f in frames])
        progress(chunk + 1, chunks, f"flow metrics {chunk + 1}/{chunks} chunks")
    return rows


class ExportController(QObject):
    exported = Signal(str)  # the path written
    busyChanged = Signal(bool)

    def __init__(
        self,
        *,
        state: ViewerState,
        jobs: JobRunner,
        notifier: Notifier,
        video: VideoController,
        flow: FlowController,
        overlays: QualityOverlayController,
        rgb_view: FrameView,
        flow_view: FrameView,
        parent_widget: QWidget | None = None,
    ) -> None:
        super().__init__(parent_widget)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self.video, self.flow, self.overlays = video, flow, overlays
        self.rgb_view, self.flow_view = rgb_view, flow_view
        self._parent = parent_widget
        self.prediction: Any = None  # the last clip Prediction (from the classify feature)
        self.video_prediction: Any = None  # the last sliding-window VideoPrediction
        self.checkpoint_path: Callable[[], str | None] = lambda: None  # the classifier's checkpoint, recorded in prediction exports
        self.clip_range: Callable[[], tuple[int, int] | None] = lambda: None  # (first, last) frame of the classify region
        self._sources: dict[tuple[str, str], OverlaySnapshot] = {}
        self.progress_dialog: QProgressDialog | None = None
        self.last_path: str | None = None

    # -- hooks for other features ---------------------------------------------------
    def add_overlay_source(self, view: str, name: str, snapshot: OverlaySnapshot) -> None:
        """Put another feature's overlay into exported clips.

        ``snapshot()`` runs on the GUI thread when an export starts and returns
        ``None`` (overlay off) or a function ``frame_index -> RGBA | None`` that
        the worker calls for each frame: it must only read data captured at
        snapshot time (thread-safe), with the opacity already in its alpha.
        """
        if view not in ("rgb", "flow"):
            raise ValueError(f"view must be 'rgb' or 'flow', got {view!r}")
        self._sources[(view, name)] = snapshot

    def set_prediction(self, prediction: Any) -> None:
        self.prediction = prediction

    def set_video_prediction(self, prediction: Any) -> None:
        self.video_prediction = prediction

    @property
    def busy(self) -> bool:
        return self.jobs.is_busy(CHANNEL)

    def cancel(self) -> None:
        if self.busy:
            self.jobs.cancel(CHANNEL)

    # -- what is exported ----------------------------------------------------------------
    def composite(self) -> np.ndarray | None:
        """The views as shown (frame and flow with every overlay), side by side, with the quality legend."""
        left = self.rgb_view.composite()
        if left is None:
            return None
        image = side_by_side(left, self.flow_view.composite())
        if self.overlays.choice.names and self.overlays.shown_pair is not None:
            image = np.concatenate([image, legend_band(self.overlays.choice.scales, image.shape[1])], axis=0)
        return image

    def clip_frames(self) -> tuple[int, ...]:
        """The classify region when there is one, else a model clip's worth of frames from the current one."""
        count = self.state.frame_count
        region = self.clip_range()
        if region is not None:
            first, last = max(0, int(region[0])), min(count - 1, int(region[1]))
        else:
            first = min(self.state.frame_index, max(0, count - DEFAULT_CLIP_FRAMES))
            last = min(count - 1, first + DEFAULT_CLIP_FRAMES - 1)
        return tuple(range(first, last + 1))

    # -- exports ---------------------------------------------------------------------
    def export_png(self, path: str) -> bool:
        """Write the composite view (one frame: done here, on the GUI thread)."""
        image = self.composite()
        if image is None:
            self.notifier.error("Nothing to export", "open a video first")
            return False
        try:
            write_png(path, image)
        except (ExportError, ValueError) as err:
            self.notifier.error("Export failed", err)
            return False
        self._done(path)
        return True

    def export_clip(self, path: str, frames: tuple[int, ...] | None = None) -> int:
        """Encode the clip (default :meth:`clip_frames`) with overlays as H.264 MP4 in the background."""
        video = self.video.video
        if video is None or len(video) < 2:
            self.notifier.error("Nothing to export", "open a video with at least two frames first")
            return -1
        frames = tuple(frames) if frames is not None else self.clip_frames()
        bad = [i for i in frames if not 0 <= i < len(video)]
        if not frames or bad or any(b <= a for a, b in zip(frames, frames[1:])):
            self.notifier.error("Export failed", f"the frames to export must ascend inside the video's 0..{len(video) - 1}, got {frames[:4]}...")
            return -1
        extra = []
        for (view, name), snapshot in self._sources.items():
            overlay = snapshot()
            if overlay is not None:
                extra.append((view, name, overlay))
        info = self.state.info
        request = ClipExportRequest(
            path=str(path),
            video=video,
            frames=frames,
            fps=(info.fps if info is not None and info.fps > 0 else 25.0),
            method=self.flow.method,
            device=self.flow.device,
            encoding=self.flow.encoding,
            overlays=self.overlays.choice,
            extra=tuple(extra),
        )

        def work(cancel: CancelToken, progress: Callable[..., None]) -> str:
            write_mp4_stream(request.path, render_clip(request, cancel), total=len(request.frames), fps=request.fps, cancel=cancel, progress=progress)
            return request.path

        return self._start(f"Exporting frames {frames[0]}-{frames[-1]} to {Path(path).name}", work)

    def export_flow_metrics(self, path: str) -> int:
        """Every pair's flow quality measures as CSV or JSON, computed in the background (cached flow when scanned)."""
        video = self.video.video
        if video is None or len(video) < 2:
            self.notifier.error("Nothing to export", "open a video with at least two frames first")
            return -1
        method, device, encoding = self.flow.method, self.flow.device, self.flow.encoding
        target = str(path)

        def work(cancel: CancelToken, progress: Callable[..., None]) -> str:
            rows = flow_metrics_job(video, method=method, device=device, encoding=encoding, cancel=cancel, progress=progress)
            cancel.raise_if_cancelled()
            write_flow_metrics(target, rows, video=video.path, method=method)
            return target

        return self._start(f"Exporting {method} flow metrics to {Path(path).name}", work)

    def export_predictions(self, path: str, *, timeline: bool = False) -> bool:
        """The last clip prediction (or, with ``timeline``, the sliding-window one) as JSON or CSV."""
        prediction = self.video_prediction if timeline else self.prediction
        if prediction is None:
            self.notifier.error("Nothing to export", "classify a clip first" if not timeline else "classify the whole video first")
            return False
        info = self.state.info
        try:
            write_predictions(path, prediction, video=None if info is None else info.path, checkpoint=self.checkpoint_path())
        except (ExportError, ValueError) as err:
            self.notifier.error("Export failed", err)
            return False
        self._done(path)
        return True

    # -- the job and its dialog -----------------------------------------------------------
    def _start(self, title: str, work: Callable[[CancelToken, Callable[..., None]], str]) -> int:
        self._close_dialog()
        dialog = QProgressDialog(title, "Cancel", 0, 0, self._parent)
        dialog.setObjectName("exportProgress")
        dialog.setWindowTitle("Export")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(400)  # short exports finish without a flashing dialog
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        self.progress_dialog = dialog
        self.notifier.notice(title + " ...")
        job = self.jobs.submit(
            CHANNEL,
            work,
            self._on_finished,
            on_error=self._on_error,
            on_progress=self._on_progress,
            on_cancelled=self._on_cancelled,
        )
        self.busyChanged.emit(True)
        return job

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setMaximum(max(total, 1))
            self.progress_dialog.setValue(min(done, max(total, 1)))
            self.progress_dialog.setLabelText(message)

    def _on_finished(self, path: str) -> None:
        self._close_dialog()
        self.busyChanged.emit(False)
        self._done(path)

    def _on_error(self, error: BaseException, trace: str) -> None:
        self._close_dialog()
        self.busyChanged.emit(False)
        self.notifier.error("Export failed", error, trace)

    def _on_cancelled(self) -> None:
        self._close_dialog()
        self.busyChanged.emit(False)
        self.notifier.notice("Export cancelled; nothing was written")

    def _close_dialog(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _done(self, path: str) -> None:
        self.last_path = str(path)
        app_settings.set_last_folder(str(Path(path).resolve().parent))
        self.notifier.notice(f"Exported {path}")
        self.exported.emit(str(path))

    # -- file dialogs (the menu's entry points) ----------------------------------------------
    def _ask(self, title: str, name: str, filters: str) -> str:
        start = str(Path(app_settings.last_folder()) / name)
        path, _ = QFileDialog.getSaveFileName(self._parent, title, start, filters)
        return path

    def _stem(self) -> str:
        info = self.state.info
        return Path(info.path).stem if info is not None else "export"

    def choose_png(self) -> None:
        path = self._ask("Export view as PNG", f"{self._stem()}_frame{self.state.frame_index:05d}.png", "PNG images (*.png)")
        if path:
            self.export_png(path)

    def choose_clip(self) -> None:
        frames = self.clip_frames()
        if not frames:
            self.notifier.error("Nothing to export", "open a video first")
            return
        path = self._ask("Export clip with overlays as MP4", f"{self._stem()}_frames{frames[0]}-{frames[-1]}.mp4", "MP4 video (*.mp4)")
        if path:
            self.export_clip(path, frames)

    def choose_flow_metrics(self) -> None:
        path = self._ask("Export flow metrics", f"{self._stem()}_flow_{self.flow.method}.csv", "CSV table (*.csv);;JSON (*.json)")
        if path:
            self.export_flow_metrics(path)

    def choose_predictions(self, timeline: bool = False) -> None:
        name = f"{self._stem()}_{'timeline' if timeline else 'prediction'}.json"
        path = self._ask("Export predictions", name, "JSON (*.json);;CSV table (*.csv)")
        if path:
            self.export_predictions(path, timeline=timeline)
