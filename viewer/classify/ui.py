"""Wiring of classification into the main window: docks, the model toolbar, the status line.

Kept apart from ``main_window.py`` so the window stays small: this builds the
classification and attention docks, the device chooser, File > Load
checkpoint..., the timeline's clip region and prediction band, and the
attention layers on both frame views, and connects them to
``window.classify`` (the :class:`~viewer.classify.controller.ClassifyController`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QDockWidget, QFileDialog, QFrame, QLabel, QScrollArea, QToolBar

from core.export.prediction_heat import FLOW, RGB
from viewer import settings as app_settings
from viewer.classify.attention_panel import AttentionControls, CrossAttentionPanel
from viewer.classify.controller import CUDA, ClassifyRun, available_device_names
from viewer.classify.model_chooser import ModelCatalog, ModelChooser
from viewer.classify.overlays import AttentionOverlays
from viewer.classify.prediction_chart import PredictionPanel, stage_names
from viewer.classify.state import ModelStatus
from viewer.classify.timeline import ClassifyTimelineLayer
from viewer.widgets.steady_label import SteadyLabel

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
        self.cross_panel.seekRequested.connect(window.state.set_frame)
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
        self.attention_overlays.legendChanged.connect(window.legend.set_map_entries)
        self.attention_overlays.update_keys()
        window.flow.flowReady.connect(lambda flow: self.attention_overlays.flow_pair_shown(flow.pair))
        window.flow.flowPending.connect(lambda _pair: self.attention_overlays.flow_pair_cleared())
        window.flow.flowUnavailable.connect(lambda _reason: self.attention_overlays.flow_pair_cleared())
        window.video.videoLoaded.connect(controller.set_video)

        # the model chooser heads the Classification panel; the catalog rescans in a worker
        self.model_chooser = ModelChooser()
        self.prediction_panel.set_model_chooser(self.model_chooser)
        self.catalog = ModelCatalog(self.model_chooser, window.jobs, parent=self)
        self.model_chooser.modelChosen.connect(controller.choose_model)
        self.model_chooser.loadOtherRequested.connect(self.choose_checkpoint)
        controller.checkpointFailed.connect(lambda _path: self.model_chooser.set_current(state.model.path))
        state.modelChanged.connect(self.catalog.model_changed)
        self.catalog.model_changed(state.model)
        self.catalog.refresh()

        # which class the heat maps explain: a bar of the chart or the attention panel's class box
        self.prediction_panel.explainRequested.connect(self.explain_class)
        self.attention_controls.classRequested.connect(self.explain_class)
        controller.busyChanged.connect(lambda busy: None if busy else self.attention_controls.sync_class())

        # exports follow the state: a new model or video clears the prediction they would write
        state.predictionChanged.connect(window.export.set_prediction)
        state.timelineChanged.connect(lambda timeline: None if timeline is not None else window.export.set_video_prediction(None))  # finished ones arrive by timelineReady
        # File > Export MP4 draws the heat maps as the views do
        for view in (RGB, FLOW):
            window.export.add_overlay_source(view, "attention", self.attention_overlays.export_snapshot(view))
        for view in (RGB, FLOW):  # over the heat maps, as in the views
            window.export.add_overlay_source(view, "token box", self.attention_overlays.export_box_snapshot(view))
        window.export.map_legend = self._map_legend  # PNG and MP4 exports carry the keys of the maps they draw

        self.load_checkpoint_action = QAction("Load &Checkpoint...", window)
        self.load_checkpoint_action.setToolTip("Classify with another model (.safetensors saved by train)")
        self.load_checkpoint_action.triggered.connect(self.choose_checkpoint)
        self.classify_action = QAction("Classify clip", window)
        self.classify_action.setShortcut(QKeySequence("C"))
        self.classify_action.setToolTip("Classify the timeline's region (C)")
        self.classify_action.triggered.connect(lambda: controller.classify_clip())
        window.addAction(self.classify_action)
        self.toolbar = self._build_toolbar()

        self.status_label = SteadyLabel(chars=64)  # relabelled after every run: a QLabel re-laid out the whole window
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
        inspect = self.window.findChild(QToolBar, "inspectToolbar")
        if inspect is not None:  # before the overlay controls: where the row overflows, the opacity slider hides, not the device
            self.window.insertToolBar(inspect, bar)
        else:
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

    def explain_class(self, class_index: int) -> int:
        """Show the heat maps for ``class_index``: when the drawn kind does not depend on the class
        (a transformer's class-token attention and rollout) the overlay switches to the first kind
        the maps offer that does (relevance), then the clip is explained again."""
        state = self.controller.classify_state
        maps = None if state.prediction is None else state.prediction.attention
        if maps is not None and maps.class_kinds and state.overlay.choice.kind not in maps.class_kinds:
            state.set_overlay(kind=maps.class_kinds[0])
        job = self.controller.explain_class(class_index)
        self.attention_controls.sync_class()  # until the new maps arrive, the box says what is shown
        return job

    def _map_legend(self, frames: Sequence[int] | None = None) -> list:
        """The keys of the maps drawn on ``frames`` (``None``: the views', as the legend under them shows)."""
        overlays = self.attention_overlays
        return list(overlays.legend) if frames is None else overlays.legend_for(frames)

    def _show_run(self, run: ClassifyRun | None) -> None:
        device = DEVICE_LABELS.get(self.controller.device, self.controller.device)
        if run is None:
            self.status_label.setText(f"device {device}")
            return
        where = DEVICE_LABELS.get(run.device, run.device)
        fallback = " (CUDA out of memory: ran on CPU)" if run.cuda_out_of_memory else ""
        what = "clip" if run.kind == "clip" else "video"
        self.status_label.setText(f"device {device} · last {what} run {run.seconds:.2f} s on {where}{fallback}{flow_share(run, self.controller.classify_state.model)}")


def flow_share(run: ClassifyRun, model: ModelStatus) -> str:
    """The motion part of a run's time, in the status bar: the stage the model's family computes
    motion in (the optical flow method, or representation flow's learnt flow layers)."""
    timings = run.result.timings_ms
    family = model.family
    stage = family.motion_stage
    if timings.get(stage, 0.0) <= 0.0:
        return ""
    clips = getattr(run.result, "clips", None)
    prediction = clips[0] if clips else run.result
    return f" ({stage_names(prediction, family)[stage]} {timings[stage]:.0f} ms)"  # type: ignore[arg-type]
