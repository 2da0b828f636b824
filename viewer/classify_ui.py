"""Wiring of classification into the main window: docks, the model toolbar, the status line.

Kept apart from ``main_window.py`` so the window stays small: this builds the
classification and attention docks, the device chooser, File > Load
checkpoint..., the timeline's clip region and prediction band, and the
attention layers on both frame views, and connects them to
``window.classify`` (the :class:`~viewer.classify_controller.ClassifyController`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QDockWidget, QFileDialog, QFrame, QLabel, QScrollArea, QToolBar

from core.models.layout import FLOW, RGB
from viewer import settings as app_settings
from viewer.attention_overlays import AttentionOverlays
from viewer.classify_controller import CUDA, ClassifyRun, available_device_names
from viewer.widgets.attention_panel import AttentionControls, CrossAttentionPanel
from viewer.widgets.classify_timeline import ClassifyTimelineLayer
from viewer.widgets.prediction_chart import PredictionPanel

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

CHECKPOINT_FILTER = "Checkpoints (*.safetensors);;All files (*)"
DEVICE_LABELS = {"cpu": "CPU", CUDA: "CUDA"}


class ClassifyUi(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        controller = window.classify
        self.controller = controller
        state = controller.classify_state

        self.prediction_panel = PredictionPanel(controller)
        self.attention_controls = AttentionControls(state)
        self.cross_panel = CrossAttentionPanel(state)
        # right column: results (tabbed with the cross-stream matrix, which needs the room) above the overlay controls
        self.results_dock = self._dock("Classification", "classifyDock", self.prediction_panel)
        self.cross_dock = self._dock("Cross-stream attention", "crossAttentionDock", self.cross_panel)
        self.attention_dock = self._dock("Attention on the frames", "attentionDock", self.attention_controls)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.results_dock)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.attention_dock)
        window.tabifyDockWidget(self.results_dock, self.cross_dock)
        self.results_dock.raise_()
        window.resizeDocks([self.results_dock], [340], Qt.Orientation.Horizontal)

        self.timeline_layer = ClassifyTimelineLayer(window.timeline, state)
        self.attention_overlays = AttentionOverlays(window.state, state, {RGB: window.rgb_view, FLOW: window.flow_view}, self)
        window.video.frameReady.connect(self.attention_overlays.rgb_frame_shown)
        window.flow.flowReady.connect(lambda flow: self.attention_overlays.flow_pair_shown(flow.pair))
        window.video.videoLoaded.connect(controller.set_video)

        self.load_checkpoint_action = QAction("Load &Checkpoint...", window)
        self.load_checkpoint_action.setToolTip("Classify with another model (.safetensors saved by train)")
        self.load_checkpoint_action.triggered.connect(self.choose_checkpoint)
        self.classify_action = QAction("Classify clip", window)
        self.classify_action.setShortcut(QKeySequence("C"))
        self.classify_action.setToolTip("Classify the timeline's region (C)")
        self.classify_action.triggered.connect(lambda: controller.classify_clip())
        window.addAction(self.classify_action)
        self.toolbar = self._build_toolbar()

        self.status_label = QLabel()
        self.status_label.setObjectName("deviceStatus")
        window.statusBar().addPermanentWidget(self.status_label)
        controller.runFinished.connect(self._show_run)
        controller.deviceChanged.connect(lambda _d: self._show_run(controller.last_run))
        self._show_run(None)

    def _dock(self, title: str, name: str, widget) -> QDockWidget:  # noqa: ANN001
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        scroll = QScrollArea()  # a short screen scrolls the panel instead of squeezing its rows together
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        return dock

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar("Model")
        bar.setObjectName("modelToolbar")
        self.window.addToolBar(bar)
        bar.addWidget(QLabel(" Device "))
        self.device_box = QComboBox()
        self.device_box.setObjectName("deviceBox")
        self.device_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.device_box.setToolTip("Where classification (and flow) run; CUDA is listed when torch sees a GPU")
        for name in available_device_names():
            self.device_box.addItem(DEVICE_LABELS.get(name, name), name)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(self.controller.device)))
        self.device_box.currentIndexChanged.connect(lambda _i: self.set_device(str(self.device_box.currentData())))
        bar.addWidget(self.device_box)
        return bar

    def set_device(self, device: str) -> None:
        self.controller.set_device(device)
        self.window.flow.device = self.controller.device  # one device choice for every model the viewer runs

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Load checkpoint", app_settings.last_folder(), CHECKPOINT_FILTER)
        if path:
            self.controller.load_checkpoint(path)

    def _show_run(self, run: ClassifyRun | None) -> None:
        device = DEVICE_LABELS.get(self.controller.device, self.controller.device)
        if run is None:
            self.status_label.setText(f"device {device}")
            return
        where = DEVICE_LABELS.get(run.device, run.device)
        fallback = " (CUDA out of memory: ran on CPU)" if run.cuda_out_of_memory else ""
        what = "clip" if run.kind == "clip" else "video"
        self.status_label.setText(f"device {device} · last {what} run {run.seconds:.2f} s on {where}{fallback}")
