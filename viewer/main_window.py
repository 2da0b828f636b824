"""The main window: menus, docks and wiring only; behaviour lives in controllers."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from core.flow import METHODS
from viewer import settings as app_settings
from viewer.flow_controller import FlowController, FlowFrame
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.state import ViewerState
from viewer.video_controller import VideoController
from viewer.widgets.frame_view import FrameView
from viewer.widgets.timeline import Timeline
from viewer.widgets.transport import TransportBar

VIDEO_FILTER = "Videos (" + " ".join(f"*{e}" for e in VIDEO_EXTENSIONS) + ");;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, *, show_dialogs: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Two-Stream Viewer")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.state = ViewerState(self)
        self.notifier = Notifier(self, show_dialogs=show_dialogs)
        self.jobs = JobRunner(self)
        self.video = VideoController(self.state, self.jobs, self.notifier, self)
        self.flow = FlowController(self.state, self.jobs, self.notifier, self)

        self.rgb_view = FrameView("RGB")
        self.flow_view = FrameView("Optical flow")
        self.fallback_banner = QLabel("")
        self.fallback_banner.setObjectName("fallbackBanner")
        self.fallback_banner.setWordWrap(True)
        self.fallback_banner.setStyleSheet("background: #fff3cd; color: #664d03; padding: 4px; border: 1px solid #ffe69c;")
        self.fallback_banner.setVisible(False)
        self.transport = TransportBar(self.state)
        self.timeline = Timeline(self.state)
        views = QHBoxLayout()
        views.addWidget(self.rgb_view, 1)
        views.addWidget(self.flow_view, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.fallback_banner)
        layout.addLayout(views, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)
        self._build_toolbar()

        self._build_menus()
        self.notifier.noticeRaised.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.video.frameReady.connect(self._show_frame)
        self.video.videoLoaded.connect(self.flow.set_video)
        self.flow.flowReady.connect(self._show_flow)
        self.flow.flowPending.connect(lambda pair: self.flow_view.set_caption(f"computing {self.flow.method} flow for frames {pair}-{pair + 1} ..."))
        self.flow.fallbackNotice.connect(self._show_fallback)
        self.flow.scanReset.connect(self.state.reset_scan)
        self.flow.scanUpdated.connect(lambda part: self.state.update_scan(part.first_pair, part.noise, part.magnitude))
        self.flow.scanProgress.connect(self._show_scan_progress)
        self.video.videoOpened.connect(self._on_video_opened)
        self.state.videoChanged.connect(self._on_video_changed)
        self.statusBar().showMessage("Open a video with File > Open or drop one on the window")

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
        self.radius_box.setRange(0.5, 200.0)
        self.radius_box.setValue(self.flow.encoding.max_radius)
        self.radius_box.setToolTip("A motion of this many pixels per frame is fully saturated; the same motion always has the same colour")
        self.radius_box.valueChanged.connect(self.flow.set_radius)
        bar.addWidget(self.radius_box)
        bar.addSeparator()
        self.next_noisy_action = QAction("Next noisy frame", self)
        self.next_noisy_action.setShortcut(QKeySequence("N"))
        self.next_noisy_action.setToolTip("Jump to the next frame whose flow noise score is above the timeline's threshold (N)")
        self.next_noisy_action.triggered.connect(self.go_to_next_noisy_frame)
        bar.addAction(self.next_noisy_action)
        self.scan_label = QLabel("")
        bar.addWidget(self.scan_label)

    def go_to_next_noisy_frame(self) -> None:
        target = self.state.next_noisy_frame()
        if target is None:
            self.statusBar().showMessage(f"No frame scores above the noise threshold {self.state.noise_threshold:.2f} (so far)", 5000)
        else:
            self.state.set_frame(target)

    def _show_scan_progress(self, done: int, total: int) -> None:
        self.scan_label.setText(f"  flow scan {done}/{total} chunks" if done < total else "  flow scan complete")

    # -- menus --------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open Video...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_video)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._refresh_recent(app_settings.recent_files())
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(lambda: QMessageBox.about(self, "Two-Stream Viewer", "Two-stream action recognition: RGB and optical flow, side by side."))
        help_menu.addAction(about)

    def _refresh_recent(self, files: list[str]) -> None:
        self.recent_menu.clear()
        for path in files:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_video(p))
        self.recent_menu.setEnabled(bool(files))

    # -- actions ------------------------------------------------------------
    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", app_settings.last_folder(), VIDEO_FILTER)
        if path:
            self.open_video(path)

    def open_video(self, path: str) -> None:
        self.video.open(path)

    def _on_video_opened(self, path: str) -> None:
        self._refresh_recent(app_settings.add_recent_file(path))
        self.setWindowTitle(f"{Path(path).name} - Two-Stream Viewer")

    def _on_video_changed(self, info: object) -> None:
        if info is None:
            self.rgb_view.set_frame(None)
            return
        i = self.state.info
        assert i is not None
        rot = f", rotated {i.rotation}°" if i.rotation else ""
        vfr = ", variable frame rate" if i.variable_frame_rate else ""
        self.statusBar().showMessage(f"{Path(i.path).name}: {i.frames} frames, {i.width}x{i.height}, {i.fps:.3g} fps, {i.codec}{rot}{vfr}")

    def _show_flow(self, flow: FlowFrame) -> None:
        self.flow_view.set_frame(flow.image)
        used = flow.method_used + (f" (fell back from {self.flow.method})" if flow.fell_back else "")
        self.flow_view.set_caption(f"flow {flow.pair} -> {flow.pair + 1}, {used}")

    def _show_fallback(self, note: str) -> None:
        self.fallback_banner.setText(f"Optical flow fell back to a classical method: {note}" if note else "")
        self.fallback_banner.setVisible(bool(note))

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
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_video(urls[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.state.set_playing(False)
        self.video.close()
        self.jobs.shutdown()
        super().closeEvent(event)


__all__ = ["MainWindow", "IMAGE_EXTENSIONS"]
