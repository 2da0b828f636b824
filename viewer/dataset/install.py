"""Add the dataset view to the main window: a dock, File menu entries, the truth badge.

Wiring only, kept out of ``main_window.py`` (one call there): the panel asks to
open a video at a frame, to evaluate with the Classification panel's model, or
to survey flow with the toolbar's method.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QFrame, QScrollArea

from viewer import settings as app_settings
from viewer.dataset.controller import DatasetController
from viewer.dataset.panel import DatasetPanel
from viewer.dataset.panel_layout import PanelLayoutAutosave
from viewer.dataset.truth_badge import TruthBadge

if TYPE_CHECKING:
    from core.video import Video

ANNOTATIONS_FILTER = "Annotations (*.csv *.json);;All files (*)"
RESULTS_FILTER = "Per-video results (*.jsonl);;All files (*)"
DOCK_SHARE, DOCK_MIN_HEIGHT = 0.36, 220  # the dock's first height: a share of the window, at least this many px


class DatasetView:
    """The dataset dock and its wiring to ``window`` (a :class:`viewer.main_window.MainWindow`)."""

    def __init__(self, window) -> None:  # noqa: ANN001
        self.window = window
        self.controller = DatasetController(window.jobs, window.notifier, window)
        self.panel = DatasetPanel(self.controller)
        self.panel_layout = PanelLayoutAutosave(self.panel)  # the splitter and column widths of the last run
        self.dock = QDockWidget("Dataset", window)
        self.dock.setObjectName("datasetDock")
        # a short screen scrolls the panel instead of growing the window past it: the panel needs ~230 px and the
        # views above keep theirs (the window's minimum height was 832 px with the dock open: beyond a 768 px laptop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.panel)
        self.dock.setWidget(scroll)
        # the right-hand docks keep the bottom-right corner: the dataset dock takes its room from the views only,
        # so its first appearance does not re-lay out (and repaint) the classification panels as well
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self._sized = False
        self.dock.visibilityChanged.connect(self._size_when_first_shown)
        self.badge = TruthBadge(window.classify.classify_state, window.state, lambda: self.controller.labels, window.jobs, window.notifier)
        panel = window.classify_ui.prediction_panel
        panel.layout().insertWidget(panel.layout().indexOf(panel.model_label) + 1, self.badge)  # under the model line
        self.controller.listed.connect(lambda _s: self.badge.refresh())
        self.controller.recordsChanged.connect(self.badge.refresh)
        self.panel.openRequested.connect(self.open_video_at)
        self.panel.openSegmentRequested.connect(self.open_segment_at)
        self.panel.evaluateRequested.connect(self.evaluate)
        self.panel.scanRequested.connect(lambda: self.controller.scan_flow(window.flow.method, device=window.classify.device))
        self.controller.finished.connect(lambda _c, message: window.statusBar().showMessage(message, 10000))
        self._add_menu_entries()

    def _add_menu_entries(self) -> None:
        window = self.window
        file_menu = window.menuBar().actions()[0].menu()
        before = window.classify_ui.load_checkpoint_action
        entries = (
            ("Open &dataset…", "openDataset", self.choose_dataset),
            ("Open dataset &annotations (CSV/JSON)…", "openAnnotations", self.choose_annotations),
            ("Open per-video &results…", "openResults", self.choose_results),
            ("Dataset table as CS&V…", "exportDatasetCsv", self.choose_csv),
            ("Confusion &matrix as PNG…", "exportConfusion", self.choose_png),
        )
        self.actions: dict[str, QAction] = {}
        for text, name, slot in entries:
            action = QAction(text, window)
            action.setObjectName(name)
            action.triggered.connect(slot)
            file_menu.insertAction(before, action)
            self.actions[name] = action
        self.dock.toggleViewAction().setText("&Dataset panel")
        window.view_menu.addAction(self.dock.toggleViewAction())

    # -- actions ----------------------------------------------------------------------
    def _size_when_first_shown(self, visible: bool) -> None:
        """The first time the dock shows, at about a third of the window's height, so the frame
        views above keep most of it (the user's own later sizes are left alone)."""
        if visible and not self._sized and not self.dock.isFloating():
            self._sized = True
            self.window.resizeDocks([self.dock], [max(DOCK_MIN_HEIGHT, int(self.window.height() * DOCK_SHARE))], Qt.Orientation.Vertical)

    def show_dock(self) -> None:
        self.dock.show()

    def open_dataset(self, path: str, videos: str | None = None) -> None:
        self.show_dock()
        classify = self.window.classify  # the predictions its model scored before, on its device
        self.controller.open_dataset(path, videos, checkpoint=classify.checkpoint, device=classify.device)

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open dataset folder", app_settings.last_folder())
        if folder:
            self.open_dataset(folder)

    def choose_annotations(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open dataset annotations", app_settings.last_folder(), ANNOTATIONS_FILTER)
        if path:
            self.open_dataset(path)

    def choose_results(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open per-video results", app_settings.last_folder(), RESULTS_FILTER)
        if path:
            self.show_dock()
            self.controller.open_results(path)

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Dataset table as CSV", "dataset.csv", "CSV (*.csv)")
        if path:
            self.controller.export_csv(path)

    def choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Confusion matrix as PNG", "confusion.png", "PNG (*.png)")
        if path:
            self.controller.export_confusion(path)

    def evaluate(self, part: str) -> None:
        checkpoint = self.window.classify.checkpoint
        if checkpoint is None:
            self.window.notifier.error("No model", "choose a model in the Classification panel first")
            return
        self.controller.evaluate(checkpoint, part=part, device=self.window.classify.device)

    def open_video_at(self, path: str, frame: int) -> None:
        """Show ``path`` at ``frame``: at once when it is the video shown (an open in progress of another is
        dropped: this is the later request), else once its own open has shown it."""
        self._show_at(path, lambda _video: frame)

    def open_segment_at(self, path: str, start_s: float) -> None:
        """Show ``path`` at the first frame of an annotated segment starting at ``start_s``, found from the file's
        timestamps as :func:`core.video.open_segment` finds it (a row opened before its metadata was read)."""
        from core.video.segment import segment_frames

        self._show_at(path, lambda video: segment_frames(video.timestamps, (start_s, math.inf))[0])

    def _show_at(self, path: str, frame_of: Callable[[Video], int]) -> None:
        window = self.window
        info, shown = window.state.info, window.video.video
        # the same spelling of the path (a link to it reopens it): resolving stats every part, on the GUI thread
        if info is not None and shown is not None and os.path.abspath(info.path) == os.path.abspath(path):
            window.video.cancel_open()
            window.state.set_frame(frame_of(shown))  # clamped to the video
            return
        window.open_video(path, lambda video: window.state.set_frame(frame_of(video)))
