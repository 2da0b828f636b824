"""File > Export: the composite view as PNG, a clip with overlays as MP4, metrics and predictions as CSV/JSON.

A PNG is the one frame on screen, taken from the views (``FrameView.composite``,
so it is exactly what is shown) on the GUI thread.  Every file is checked and
written in the job runner's "export" channel (a network drive may stall the
GUI thread on either): the GUI thread builds an immutable request (the picture;
the video, the frames, the flow method and encoding, the overlay choice,
snapshots of other features' overlays) and the worker reads nothing else.
Exports run one at a time, a second waiting its turn (:mod:`viewer.export_queue`,
which the dataset panel's exports share).  Progress goes to a dialog with
Cancel; File > Export > Exports in progress… lists every export running or
waiting, each with its own Cancel (:mod:`viewer.exports_ui`); a failure (full disk, unwritable folder) is a dialog naming the file;
the writers are atomic, so nothing half-written is left.

Other features add their overlays to exported clips with
:meth:`ExportController.add_overlay_source`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from core.export import legend_rows, side_by_side, write_flow_metrics, write_mp4_stream, write_png, write_predictions
from core.export.burn_in import LabelTrack
from core.export.tables import SUFFIXES as TABLE_SUFFIXES
from core.export.target import check_writable, storage_failures_named
from core.export.legend import LegendEntry, legend_width, scale_entry, with_legend
from core.errors import InputError
from core.progress import CancelToken
from viewer import settings as app_settings
from viewer.export_dialog import ExportRangeDialog
from viewer.export_queue import Export, ExportQueue
from viewer.export_render import ClipExportRequest, FrameOverlay, flow_metrics_job, render_clip
from viewer.flow_controller import FlowController, why_no_flow
from viewer.jobs import JobRunner
from viewer.open_video import OpenVideo
from viewer.notifier import Notifier
from viewer.quality_overlay import QualityOverlayController
from viewer.state import ViewerState
from viewer.staging import turns
from viewer.video_controller import VideoController
from viewer.widgets.frame_view import FrameView

DEFAULT_CLIP_FRAMES = 16  # a model clip when no classify region is set
CHANNEL = "export"

OverlaySnapshot = Callable[[], FrameOverlay | None]  # called on the GUI thread when an export starts
ExportWork = Callable[[CancelToken, Callable[..., None]], str]  # the job: writes the file, returns its path


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
        # the keys of the model's heat maps drawn on some frames (None: the views'), from the classify feature
        self.map_legend: Callable[[Sequence[int] | None], list[LegendEntry]] = lambda frames=None: []
        self._sources: dict[tuple[str, str], OverlaySnapshot] = {}
        self.progress_dialog: QProgressDialog | None = None
        self.last_path: str | None = None
        self.exports = ExportQueue(jobs, CHANNEL, self)  # one at a time: a second export never cancels the first
        self.exports.busyChanged.connect(self.busyChanged)

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
        """Whether an export runs (also one cancelled, still winding down) or waits its turn."""
        return self.exports.busy

    def in_progress(self) -> str:
        """What the export in progress (marked "(cancelling)" until its worker ends) and those waiting their turn
        write, in words; "" when none."""
        return "; ".join(self.exports.in_progress())

    def cancel(self) -> None:
        """The progress dialog's Cancel: the export it shows stops; those waiting their turn follow."""
        self.exports.cancel_running()

    # -- what is exported ----------------------------------------------------------------
    def legend_entries(self) -> list[LegendEntry]:
        """The keys of every heat map shown: the model's maps, then the flow-quality overlays drawn."""
        quality = [scale_entry(scale) for scale in self.overlays.choice.scales] if self.overlays.shown_pair is not None else []
        return list(self.map_legend()) + quality

    def composite(self) -> np.ndarray | None:
        """The views as shown (frame and flow with every overlay), side by side, with the legend of every heat map on them."""
        turns().flush()  # layers still waiting for their turn (a prediction that just arrived) are part of the picture
        left = self.rgb_view.composite()
        if left is None:
            return None
        image = side_by_side(left, self.flow_view.composite())
        entries = self.legend_entries()
        if entries:
            image = with_legend(image, legend_rows(entries, legend_width(image.shape[1])))
        return image

    def label_track(self) -> LabelTrack | None:
        """The labels to burn in: the whole-video windows when there are some, else the clip prediction's."""
        if self.video_prediction is not None and self.video_prediction.clips:
            return LabelTrack.from_predictions(self.video_prediction.clips, "whole video")
        if self.prediction is not None:
            return LabelTrack.from_predictions([self.prediction], "clip")
        return LabelTrack((), "")

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
        """Write the composite view: taken here (it is the views), written in the background (a network drive may
        stall).  ``False``: nothing to export; else :attr:`exported` or an error says how it went."""
        image = self.composite()
        if image is None:
            self.notifier.error("Nothing to export", "open a video first")
            return False
        info = self.state.info  # not a frame of the video
        work = _checked(path, (".png",), [] if info is None else [info.path], lambda _cancel, _progress: write_png(path, image))
        self._start(f"Exporting the view to {Path(path).name}", work)
        return True

    def export_clip(self, path: str, frames: tuple[int, ...] | None = None, *, burn_in: bool = False) -> int:
        """Encode the clip (default :meth:`clip_frames`) with overlays as H.264 MP4 in the background;
        ``burn_in`` writes each frame's number and its prediction's class and score onto it."""
        opened = self._video_with_flow()  # its readers: the flow view's and classifier's, and the exports' own decoder
        if opened is None:
            return -1
        video = opened.video
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
            video_pixels=opened.video_pixels,
            overlays=self.overlays.choice,
            extra=tuple(extra),
            map_keys=tuple(self.map_legend(frames)),  # the frames exported, not the one on screen
            labels=self.label_track() if burn_in else None,
            raft_weights=self._raft_weights(),
        )

        def write(cancel: CancelToken, progress: Callable[..., None]) -> None:
            with opened.readers.lease(CHANNEL) as reader:  # the user may play on meanwhile
                own = replace(request, video=reader)
                write_mp4_stream(request.path, render_clip(own, cancel), total=len(request.frames), fps=request.fps, cancel=cancel, progress=progress)

        return self._start(f"Exporting frames {frames[0]}-{frames[-1]} to {Path(path).name}", _checked(path, (".mp4",), [video.path], write))

    def export_flow_metrics(self, path: str) -> int:
        """Every pair's flow quality measures as CSV or JSON, computed in the background (cached flow when scanned)."""
        opened = self._video_with_flow()
        if opened is None:
            return -1
        video = opened.video
        method, device, encoding, weights = self.flow.method, self.flow.device, self.flow.encoding, self._raft_weights()

        def write(cancel: CancelToken, progress: Callable[..., None]) -> None:
            with opened.readers.lease(CHANNEL) as reader:
                rows = flow_metrics_job(reader, method=method, device=device, encoding=encoding, video_pixels=opened.video_pixels, cancel=cancel,
                                        progress=progress, raft_weights=weights)
            cancel.raise_if_cancelled()
            write_flow_metrics(path, rows, video=video.path, method=method)

        return self._start(f"Exporting {method} flow metrics to {Path(path).name}", _checked(path, TABLE_SUFFIXES, [video.path], write))

    def _video_with_flow(self) -> OpenVideo | None:
        """The open video when it has flow to export, else ``None`` and the error says why (a video too narrow for
        flow failed in its export's job with "frames of 4000x1 are too small for flow", naming no file)."""
        opened = self.video.opened
        video = None if opened is None else opened.video
        if video is None or len(video) < 2:
            self.notifier.error("Nothing to export", "open a video with at least two frames first")
            return None
        reason = why_no_flow(video)
        if reason:
            self.notifier.error("Nothing to export", str(InputError(reason, video.path)))
            return None
        return opened

    def export_predictions(self, path: str, *, timeline: bool = False) -> bool:
        """The last clip prediction (or, with ``timeline``, the sliding-window one) as JSON or CSV."""
        prediction = self.video_prediction if timeline else self.prediction
        if prediction is None:
            self.notifier.error("Nothing to export", "classify a clip first" if not timeline else "classify the whole video first")
            return False
        info = self.state.info
        video, checkpoint = None if info is None else info.path, self.checkpoint_path()
        work = _checked(path, TABLE_SUFFIXES, [] if video is None else [video],
                        lambda _cancel, _progress: write_predictions(path, prediction, video=video, checkpoint=checkpoint))
        self._start(f"Exporting the {'timeline' if timeline else 'prediction'} to {Path(path).name}", work)
        return True

    # -- the job and its dialog -----------------------------------------------------------

    def _start(self, title: str, work: ExportWork) -> int:
        """Run the export now, or after the ones before it (the job channel's newest job wins, which dropped an MP4
        being written when flow metrics were asked for), also behind an export cancelled but not ended yet (its file
        may be written all the same, and is then reported).  Returns its ticket in :attr:`exports`; -1 when the
        window is closing."""
        waits = self.exports.busy
        ticket = self.exports.add(Export(
            title, work, self._done, self._on_error, self._on_cancelled, on_progress=self._on_progress,
            on_started=lambda: self._show_progress(title), on_job_ended=self._close_dialog,
        ))
        if waits and ticket > 0:
            self.notifier.notice(f"{title}: after the export in progress (File > Export > Exports in progress… to cancel it)")
        return ticket

    def _show_progress(self, title: str) -> None:
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

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setMaximum(max(total, 1))
            self.progress_dialog.setValue(min(done, max(total, 1)))
            self.progress_dialog.setLabelText(message)

    def _on_error(self, error: BaseException, trace: str) -> None:
        self.notifier.error("Export failed", error, trace)

    def _on_cancelled(self) -> None:
        """The job stopped before its file was renamed into place (the writers are atomic; one that got that far is
        reported exported), failed after the cancel, or never started: either way no file."""
        self.notifier.notice("Export cancelled; nothing was written")

    def _close_dialog(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _done(self, path: str) -> None:
        self.last_path = str(path)
        app_settings.set_last_folder(str(Path(path).absolute().parent))  # no resolve(): no file system on the GUI thread
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
        """Ask which frames (the classify region, the whole video or a range) and whether to burn in labels, then where."""
        frames = self.clip_frames()
        if not frames:
            self.notifier.error("Nothing to export", "open a video first")
            return
        dialog = ExportRangeDialog(self.state.frame_count, (frames[0], frames[-1]), self._parent)
        if not dialog.exec():
            return
        first, last = dialog.frame_range()
        path = self._ask("Export clip with overlays as MP4", f"{self._stem()}_frames{first}-{last}.mp4", "MP4 video (*.mp4)")
        if path:
            self.export_clip(path, tuple(range(first, last + 1)), burn_in=dialog.burn_in())

    def _raft_weights(self) -> str | None:
        """The RAFT weights the flow view uses for its method (when the flow controller has a choice of them)."""
        weights_for = getattr(self.flow, "raft_weights_for", None)
        return None if weights_for is None else weights_for(self.flow.method)

    def choose_flow_metrics(self) -> None:
        path = self._ask("Export flow metrics", f"{self._stem()}_flow_{self.flow.method}.csv", "CSV table (*.csv);;JSON (*.json)")
        if path:
            self.export_flow_metrics(path)

    def choose_predictions(self, timeline: bool = False) -> None:
        name = f"{self._stem()}_{'timeline' if timeline else 'prediction'}.json"
        path = self._ask("Export predictions", name, "JSON (*.json);;CSV table (*.csv)")
        if path:
            self.export_predictions(path, timeline=timeline)


def _checked(path: str, suffixes: tuple[str, ...], inputs: Sequence[str], write: Callable[[CancelToken, Callable[..., None]], None]) -> ExportWork:
    """An export's job: the target checked first (the wrong type, an unwritable folder, a file the export reads),
    before any work, then ``write``; all in the worker, since checking probes the folder with a temporary file and
    a network drive can stall the GUI thread on either."""

    def work(cancel: CancelToken, progress: Callable[..., None]) -> str:
        check_writable(path, folder=False, suffixes=suffixes, inputs=inputs)
        with storage_failures_named(path):
            write(cancel, progress)
        return str(path)

    return work
