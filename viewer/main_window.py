"""The main window: menus, docks and wiring only; behaviour lives in controllers."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.errors import shown_path
from core.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, Video
from core.flow import METHODS
from viewer import settings as app_settings
from viewer.classify.controller import ClassifyController
from viewer.classify.ui import ClassifyUi
from viewer.colour_scale_ui import ColourScaleUi
from viewer.export import ExportController
from viewer.exports_ui import ExportsUi
from viewer.flow_controller import ChunkQuality, FlowController, FlowFrame
from viewer.flow_status import FlowStatus, flow_caption
from viewer.inspect_ui import InspectUi
from viewer.jobs import JobRunner
from viewer.layout_autosave import LayoutAutosave
from viewer.notifier import Notifier
from viewer.quality_overlay import QualityOverlayController
from viewer.raft_weights_ui import RaftWeightsUi
from viewer.state import ViewerState
from viewer.video_controller import VideoController
from viewer.widgets.frame_view import FrameView
from viewer.widgets.heat_legend import HeatLegend
from viewer.widgets.status_bar import ElidingStatusBar
from viewer.widgets.timeline import Timeline
from viewer.widgets.transport import TransportBar

RECENT_FILES_DELAY_MS = 300
MIN_VIEW_HEIGHT = 200  # px: the frame views never shrink to thumbnails under a tall dock


def initial_window_size(available: QSize) -> QSize:
    """1280x800 where the screen allows, more on a large screen (up to 90% of it, 1760x1100 at most):
    the dataset dock and the side panels then leave the frame views a useful size."""
    width = min(available.width(), max(1280, min(int(available.width() * 0.9), 1760)))
    height = min(available.height(), max(800, min(int(available.height() * 0.9), 1100)))
    return QSize(width, height)


NO_VIDEO_HINT = "No video open.\nFile > Open Video… (Ctrl+O), File > Open Recent, or drop a video or a folder of frames here."
NO_VIDEO_FLOW_HINT = "The optical flow of the video's frames shows here."
VIDEO_FILTER = "Videos (" + " ".join(f"*{e}" for e in VIDEO_EXTENSIONS) + ");;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, *, show_dialogs: bool = True, checkpoint: str | Path | None = None) -> None:
        super().__init__()
        self.setStatusBar(ElidingStatusBar(self))  # before anything shows a message: a long one ends in "…", not mid-word
        self.setWindowTitle("Two-Stream Viewer")
        self.resize(initial_window_size(self.screen().availableGeometry().size()))
        self.setAcceptDrops(True)
        self.state = ViewerState(self)
        self.notifier = Notifier(self, show_dialogs=show_dialogs)
        self.jobs = JobRunner(self, own_thread=("frame",))  # the frame on screen never queues behind flow or a model
        self.video = VideoController(self.state, self.jobs, self.notifier, self)
        self.flow = FlowController(self.state, self.jobs, self.notifier, self)
        self.classify = ClassifyController(self.state, self.jobs, self.notifier, self, checkpoint=Path(checkpoint) if checkpoint else None)

        self.rgb_view = FrameView("RGB")
        self.flow_view = FrameView("Optical flow")
        self.overlays = QualityOverlayController(self.flow, {"rgb": self.rgb_view, "flow": self.flow_view}, self)
        self.legend = HeatLegend()
        self.export = ExportController(
            state=self.state, jobs=self.jobs, notifier=self.notifier, video=self.video, flow=self.flow,
            overlays=self.overlays, rgb_view=self.rgb_view, flow_view=self.flow_view, parent_widget=self,
        )
        self.export.clip_range = self._classify_range
        self.export.checkpoint_path = lambda: None if self.classify.checkpoint is None else str(self.classify.checkpoint)
        self.classify.predictionReady.connect(self.export.set_prediction)
        self.classify.timelineReady.connect(self.export.set_video_prediction)
        self._shown_flow: FlowFrame | None = None
        self.transport = TransportBar(self.state)
        self.timeline = Timeline(self.state)
        self.scan_label = self.timeline.scan_label  # the flow scan's progress, under the noise curve
        views = QHBoxLayout()
        for view in (self.rgb_view, self.flow_view):
            view.graphics.setMinimumHeight(MIN_VIEW_HEIGHT)
        views.addWidget(self.rgb_view, 1)
        views.addWidget(self.flow_view, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(views, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.timeline)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)
        self._build_toolbar()
        self._build_overlay_controls()
        self.classify_ui = ClassifyUi(self)  # classification and attention docks, device chooser

        self._build_menus()
        from viewer.dataset.install import DatasetView

        self.dataset = DatasetView(self)  # File > Open dataset…, the dataset dock, "true: X" under the model line
        self.inspect_ui = InspectUi(self)  # View > linked zoom and pan, flow arrows; the cursor readout
        self.flow_status = FlowStatus(self)  # over the flow view: the job that will fill it, and the banner
        self.fallback_banner = self.flow_status.banner
        self.raft_weights_ui = RaftWeightsUi(self)  # Flow > Load RAFT weights...
        self.colour_scale_ui = ColourScaleUi(self)  # lock / per pair beside the colour radius
        self.exports_ui = ExportsUi(self)  # File > Export > Exports in progress…: each export with its own Cancel
        self.notifier.noticeRaised.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.video.frameReady.connect(self._show_frame)
        self.video.frameReady.connect(lambda index, _frame: self.flow.frame_shown(index))  # the flow view keeps pace with it
        self.video.videoLoaded.connect(self.flow.set_video)
        self.flow.flowReady.connect(self._show_flow)
        self.flow.scanReset.connect(self.state.reset_scan)
        self.flow.scanUpdated.connect(self._scan_part)
        self.video.videoOpened.connect(self._on_video_opened)
        self.state.videoChanged.connect(self._on_video_changed)
        self.statusBar().showMessage("Open a video with File > Open or drop one on the window")
        self._show_open_hint(True)  # the status line is soon taken by the model's load: the views say it too
        self._restore_settings()
        # the layout is saved as it changes too: a crash does not lose it; a settings file that cannot be written is said
        self.layout_autosave = LayoutAutosave(self, unwritable=lambda problem: self.notifier.error("Settings are not saved", problem))

    def _scan_part(self, part: ChunkQuality) -> None:
        """A scanned chunk onto the timeline, its mean motion in the video's pixels: the scan (and the memo of finished
        scans) keeps the analysis size's, smaller on a video over 480 lines."""
        self.state.update_scan(part.first_pair, part.noise, part.magnitude * self.flow.video_pixels)

    # -- controls -----------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Flow")
        bar.setObjectName("flowToolbar")
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Flow method "))
        self.method_box = QComboBox()
        self.method_box.setObjectName("flowMethod")
        self.method_box.addItems(list(METHODS))
        self.method_box.setCurrentText(self.flow.method)
        self.method_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.method_box.currentTextChanged.connect(self.flow.set_method)
        bar.addWidget(self.method_box)
        bar.addWidget(QLabel("  Colour radius (px) "))
        self.radius_box = QDoubleSpinBox()
        self.radius_box.setRange(0.0, 200.0)
        self.radius_box.setSingleStep(0.5)
        self.radius_box.setSpecialValueText("auto")  # 0: the video's own motion scale
        self.radius_box.setValue(0.0 if self.flow.auto_radius else self.flow.locked_radius)
        self.radius_box.setToolTip("A motion of this many of the video's pixels per frame is fully saturated, in every frame "
                                   "(and, locked, on every video, whatever size its flow is computed at). auto: the video's own "
                                   "scale, from the motion of a sample of its pairs")
        self.radius_box.valueChanged.connect(self.flow.set_radius)
        # locking (or unlocking) the radius in use redraws no picture: the caption's "(auto)"/"(locked)" follows here
        self.radius_box.valueChanged.connect(lambda _radius: self._show_flow_caption())
        bar.addWidget(self.radius_box)
        bar.addSeparator()
        self.next_noisy_action = QAction("Next noisy frame", self)
        self.next_noisy_action.setShortcut(QKeySequence("N"))
        self.next_noisy_action.setToolTip("Jump to the next frame whose flow noise score is above the timeline's threshold (N)")
        self.next_noisy_action.triggered.connect(self.go_to_next_noisy_frame)
        bar.addAction(self.next_noisy_action)

    def go_to_next_noisy_frame(self) -> None:
        target = self.state.next_noisy_frame()
        if target is None:
            self.statusBar().showMessage(f"No frame scores above the noise threshold {self.state.noise_threshold:.2f} (so far)", 5000)
        else:
            self.state.set_frame(target)

    def _build_overlay_controls(self) -> None:
        """Flow inspection: checkable overlay actions (toolbar and View menu), the target view, opacity."""
        self._save_timer = QTimer(self)  # a slider drag is one write of the settings file, not one per step
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(500)
        self._save_timer.timeout.connect(lambda: app_settings.save_preferences(self.preferences()))
        bar = QToolBar("Flow inspection")
        bar.setObjectName("inspectToolbar")
        self.addToolBar(bar)
        self.overlay_actions: dict[str, QAction] = {}
        for name, text, key, tip in (
            ("inconsistency", "Inconsistency", "I", "Overlay the forward-backward inconsistency |w + w_b| (pixels) of the flow (I)"),
            ("warp_error", "Warp error", "W", "Overlay the photometric warp error (grey levels) of the flow (W)"),
        ):
            action = QAction(text, self)
            action.setObjectName(f"overlay_{name}")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(tip)
            action.toggled.connect(lambda on, n=name: self.overlays.set_enabled(n, on))
            bar.addAction(action)
            self.overlay_actions[name] = action
        self.overlay_target_group = QActionGroup(self)
        self.overlay_target_actions: dict[str, QAction] = {}
        for target, text in (("flow", "on flow view"), ("rgb", "on RGB view")):
            action = QAction(text, self.overlay_target_group)
            action.setCheckable(True)
            action.setChecked(target == self.overlays.choice.target)
            action.triggered.connect(lambda _=False, t=target: self.overlays.set_target(t))
            self.overlay_target_actions[target] = action
        self.overlay_target_box = QComboBox()
        self.overlay_target_box.setObjectName("overlayTarget")
        self.overlay_target_box.addItem("over flow", "flow")
        self.overlay_target_box.addItem("over RGB", "rgb")
        self.overlay_target_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.overlay_target_box.currentIndexChanged.connect(lambda i: self.overlays.set_target(self.overlay_target_box.itemData(i)))
        bar.addWidget(self.overlay_target_box)
        bar.addWidget(QLabel(" opacity "))
        self.overlay_opacity = QSlider(Qt.Orientation.Horizontal)
        self.overlay_opacity.setObjectName("overlayOpacity")
        self.overlay_opacity.setRange(0, 100)
        self.overlay_opacity.setFixedWidth(90)
        self.overlay_opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.overlay_opacity.setValue(round(self.overlays.choice.opacity * 100))
        self.overlay_opacity.valueChanged.connect(lambda v: self.overlays.set_opacity(v / 100.0))
        bar.addWidget(self.overlay_opacity)
        self.overlays.changed.connect(self._on_overlays_changed)
        self._enable_overlay_controls()

    def _enable_overlay_controls(self) -> None:
        """The target and opacity act on a flow-quality overlay: with none on they are greyed (they looked live and
        moving them changed nothing on screen)."""
        on = bool(self.overlays.choice.names)
        hint = "" if on else " (turn on Inconsistency, I, or Warp error, W, first)"
        for widget, tip in ((self.overlay_target_box, "The view the flow-quality overlays are drawn over"),
                            (self.overlay_opacity, "Opacity of the flow-quality overlays")):
            widget.setEnabled(on)
            widget.setToolTip(tip + hint)
        self.overlay_target_group.setEnabled(on)  # View menu's "on flow view" / "on RGB view"

    def _on_overlays_changed(self, choice: object) -> None:
        c = self.overlays.choice
        for name, action in self.overlay_actions.items():
            if action.isChecked() != (name in c.names):
                action.setChecked(name in c.names)
        self.overlay_target_actions[c.target].setChecked(True)
        index = self.overlay_target_box.findData(c.target)
        if index != self.overlay_target_box.currentIndex():
            self.overlay_target_box.setCurrentIndex(index)
        self.legend.set_scales(c.scales if self.overlays.drawable else [], c.target)  # no key for an overlay with nothing to draw
        self._enable_overlay_controls()
        self._save_timer.start()

    # -- settings that persist between runs ------------------------------------------
    def _classify_range(self) -> tuple[int, int] | None:
        """The classify region's first and last frame (what File > Export > Clip writes)."""
        region = self.classify.classify_state
        if region.frame_count == 0:
            return None
        return region.region_start, min(region.frame_count - 1, region.region_start + region.span - 1)

    def _restore_settings(self) -> None:
        from viewer.classify.controller import available_device_names

        prefs = app_settings.load_preferences(methods=list(METHODS), devices=available_device_names())
        self.method_box.setCurrentText(prefs.flow_method)
        device_index = self.classify_ui.device_box.findData(prefs.device)
        if device_index >= 0:  # sets the classifier's and the flow's device
            self.classify_ui.device_box.setCurrentIndex(device_index)
        self.state.set_threshold(prefs.noise_threshold)
        self.overlay_opacity.setValue(round(prefs.overlay_opacity * 100))
        self.overlays.set_target(prefs.overlay_target)
        self.overlay_actions["inconsistency"].setChecked(prefs.overlay_inconsistency)
        self.overlay_actions["warp_error"].setChecked(prefs.overlay_warp_error)
        geometry, layout = app_settings.window_layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if layout is not None:
            self.restoreState(layout)
            if self.dataset.controller.source is None:  # open last time, but no dataset is listed yet: an empty third of the window
                self.dataset.dock.hide()
        self.method_box.currentTextChanged.connect(self._save_timer.start)
        self.state.thresholdChanged.connect(self._save_timer.start)
        self.classify.deviceChanged.connect(self._save_timer.start)

    def preferences(self) -> app_settings.Preferences:
        c = self.overlays.choice
        return app_settings.Preferences(
            flow_method=self.flow.method, device=self.classify.device,
            overlay_inconsistency="inconsistency" in c.names, overlay_warp_error="warp_error" in c.names,
            overlay_target=c.target, overlay_opacity=c.opacity, noise_threshold=self.state.noise_threshold,
        )

    def save_settings(self) -> None:
        """Preferences and the window's layout (both are also saved shortly after each change)."""
        self._save_timer.stop()
        self.layout_autosave.stop()  # the window closing: its hidden docks are not the user's layout
        app_settings.save_preferences(self.preferences())
        app_settings.save_window_layout(self.saveGeometry(), self.saveState())
        self.dataset.panel_layout.save()

    # -- menus --------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open Video...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_video)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._refresh_recent(app_settings.recent_files())
        file_menu.addAction(self.classify_ui.load_checkpoint_action)
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        export_menu.setObjectName("exportMenu")
        for text, shortcut, slot in (
            ("View as &PNG...", "Ctrl+E", self.export.choose_png),
            ("&Clip with overlays as MP4...", "Ctrl+Shift+E", self.export.choose_clip),
            ("&Flow metrics as CSV/JSON...", None, self.export.choose_flow_metrics),
            ("P&rediction as JSON/CSV...", None, lambda: self.export.choose_predictions(timeline=False)),
            ("Prediction &timeline as JSON/CSV...", None, lambda: self.export.choose_predictions(timeline=True)),
        ):
            action = export_menu.addAction(text)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.view_menu = self.menuBar().addMenu("&View")
        self.view_menu.setObjectName("viewMenu")
        for action in self.overlay_actions.values():
            self.view_menu.addAction(action)
        overlay_on = self.view_menu.addMenu("Quality overlays &on")
        for action in self.overlay_target_actions.values():
            overlay_on.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(lambda: QMessageBox.about(self, "Two-Stream Viewer", "Two-stream action recognition: RGB and optical flow, side by side."))
        help_menu.addAction(about)

    def _refresh_recent(self, files: list[str]) -> None:
        self.recent_menu.clear()
        for path in files:
            action = self.recent_menu.addAction(shown_path(path))
            action.triggered.connect(lambda _=False, p=path: self.open_video(p))
        self.recent_menu.setEnabled(bool(files))

    # -- actions ------------------------------------------------------------
    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", app_settings.last_folder(), VIDEO_FILTER)
        if path:
            self.open_video(path)

    def open_video(self, path: str, then: Callable[[Video], None] | None = None) -> None:
        """Open ``path``; ``then`` runs once this open (and no other) has shown its video."""
        self.video.open(path, then)

    def _on_video_opened(self, path: str) -> None:
        self.setWindowTitle(f"{shown_path(Path(path).name)} - Two-Stream Viewer")  # bytes that are not UTF-8 escaped, not dropped
        # the settings file's write and the menu's rebuild (a few ms) wait until the new video's first paint is out
        QTimer.singleShot(RECENT_FILES_DELAY_MS, self, lambda: self._refresh_recent(app_settings.add_recent_file(path)))

    def _on_video_changed(self, info: object) -> None:
        for view in (self.rgb_view, self.flow_view):
            view.refit()  # another video opens whole, not at the last one's zoom
        self._show_open_hint(info is None)
        if info is None:
            self.rgb_view.set_frame(None)
            return
        i = self.state.info
        assert i is not None
        for view in (self.rgb_view, self.flow_view):
            view.set_pixel_aspect(i.sample_aspect_ratio)  # anamorphic video shown as a player shows it
        shown_as = (f", rotated {i.rotation}°" if i.rotation else "") + (", mirrored" if i.mirrored else "")
        if abs(i.sample_aspect_ratio - 1.0) > 0.01:
            shown_as += f", pixels {i.sample_aspect_ratio:.3g}:1 (shown stretched; the model sees them as stored)"
        if i.deinterlaced:
            shown_as += ", interlaced (deinterlaced: each frame's second field rebuilt, so moving edges do not comb)"
        elif i.interlaced:
            shown_as += ", interlaced (fields woven: moving edges comb, and flow shows it as noise)"
        if i.hdr:
            shown_as += f", HDR ({i.hdr.upper()}, tone-mapped to SDR)"
        if i.alpha:
            shown_as += ", alpha (composited over black)"
        vfr = ", variable frame rate" if i.variable_frame_rate else ""
        self.statusBar().showMessage(f"{shown_path(Path(i.path).name)}: {i.frames} frames, {i.width}x{i.height}, {i.fps:.3g} fps, {i.codec}{shown_as}{vfr}")

    def _show_open_hint(self, no_video: bool) -> None:
        """With no video open, the empty views say how to open one."""
        self.rgb_view.set_hint(NO_VIDEO_HINT if no_video else "")
        self.flow_view.set_hint(NO_VIDEO_FLOW_HINT if no_video else "")

    def _show_flow(self, flow: FlowFrame) -> None:
        self.flow_view.set_frame(flow.image)
        self._shown_flow = flow
        self._show_flow_caption()

    def _show_flow_caption(self) -> None:
        flow = self._shown_flow
        if flow is None:
            return
        self.flow_view.set_caption(flow_caption(flow, self.flow))

    def _show_frame(self, index: int, frame: object) -> None:
        self.rgb_view.set_frame(frame)  # type: ignore[arg-type]
        self.rgb_view.set_caption(f"frame {index}")

    # -- keyboard, drag and drop, closing ----------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.state.set_playing(not self.state.playing)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            step = 10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            self.state.step(step if key == Qt.Key.Key_Right else -step)
        elif key == Qt.Key.Key_Home:
            self.state.set_frame(0)
        elif key == Qt.Key.Key_End:
            self.state.set_frame(self.state.frame_count - 1)
        else:
            super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        dropped = event.mimeData().urls()
        urls = [u.toLocalFile() for u in dropped if u.isLocalFile()]
        if urls:
            self.open_video(urls[0])
            event.acceptProposedAction()
        elif dropped:  # a link from a browser: nothing happened, and nothing said why
            self.notifier.error("Cannot open video", f"{dropped[0].toString()}: not a file on this computer (save it first, then open the file)")

    def unfinished_exports(self) -> list[str]:
        """The exports that closing now would drop, in words."""
        views = self.export.exports.unfinished()  # not one cancelled already, winding down
        unfinished = ["; ".join(views)] if views else []
        tables = self.dataset.controller.exports_in_progress()
        if tables:
            unfinished.append(f"{tables} dataset export{'s' if tables > 1 else ''} (table or confusion matrix)")
        return unfinished

    def _may_close(self) -> bool:
        """Closing cancels every job: an export still being written is lost, so the user says whether to quit."""
        unfinished = self.unfinished_exports()
        if not unfinished or not self.notifier.show_dialogs:
            return True
        answer = QMessageBox.question(
            self, "Quit while exporting?",
            "Still being written: " + "; ".join(unfinished) + ".\nQuitting now cancels it and writes nothing. Quit anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._may_close():
            event.ignore()
            return
        self.save_settings()
        self.state.set_playing(False)
        self.jobs.shutdown()  # cancel and wait for workers first: one may be reading the video (or reading ahead)
        self.video.close()
        super().closeEvent(event)


__all__ = ["MainWindow", "IMAGE_EXTENSIONS"]
