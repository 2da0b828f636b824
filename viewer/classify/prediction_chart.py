"""The classification panel: the model and its flow, the buttons, progress, and the top-5 chart.

Plain Qt widgets so the labels stay crisp at any size: one row per class with
its name, a bar as long as its probability and the percentage.  The panel
renders the classify state and the controller's signals; its buttons call the
controller.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.inference import STAGES, Prediction, VideoPrediction
from core.models.registry import Family
from viewer.classify.controller import ClassifyController, ClassifyRun
from viewer.classify.state import ModelStatus, OverlaySettings
from viewer.widgets.steady_label import SteadyLabel

BAR_COLOUR = QColor("#1a73e8")
TOP_BAR_COLOUR = QColor("#0b57d0")
NOTICE_STYLE = "background: #fff3cd; color: #664d03; padding: 4px; border: 1px solid #ffe69c;"
EXPLAINED_COLOUR = QColor("#e8710a")
STAGE_NAMES = {"decode": "decode", "preprocess": "resize", "flow": "flow", "rgb_backbone": "RGB net", "flow_backbone": "flow-stream net", "fusion": "fusion"}


NO_PREDICTION = "no prediction yet"
# a whole-video run fills the line under the bars, not the bars: "no prediction yet" beside its result read as a contradiction
NO_CLIP_PREDICTION = "no clip classified (Classify clip, C): the whole-video result is below"


class ProbabilityBars(QWidget):
    """Horizontal bars: class name, a bar proportional to its probability, the percentage.

    The row whose class the heat maps explain is outlined; clicking a row asks to explain its class.
    """

    ROW_HEIGHT = 22
    rowClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []
        self._explained: int | None = None
        self.empty_text = NO_PREDICTION
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.ROW_HEIGHT * 5)

    def set_empty_text(self, text: str) -> None:
        """What the bars say while they have no rows."""
        self.empty_text = text
        self.update()

    def set_rows(self, rows: list[tuple[str, float]], explained: int | None = None) -> None:
        self._rows = [(str(name), float(prob)) for name, prob in rows]
        self._explained = explained if explained is not None and 0 <= explained < len(self._rows) else None
        self.setMinimumHeight(self.ROW_HEIGHT * max(5, len(self._rows)))
        lines = [f"{name}: {prob:.1%}" + ("  (the heat maps explain this class)" if i == self._explained else "") for i, (name, prob) in enumerate(self._rows)]
        if self._rows:
            lines.append("Click a class to see the heat maps for it")
        self.setToolTip("\n".join(lines))
        self.setCursor(Qt.CursorShape.PointingHandCursor if self._rows else Qt.CursorShape.ArrowCursor)
        self.update()

    @property
    def explained_row(self) -> int | None:
        return self._explained

    def row_at(self, y: float) -> int | None:
        row = int(y // self.ROW_HEIGHT)
        return row if 0 <= y and row < len(self._rows) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        row = self.row_at(event.position().y())
        if row is not None and event.button() == Qt.MouseButton.LeftButton:
            self.rowClicked.emit(row)
            event.accept()
            return
        super().mousePressEvent(event)

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(280, self.ROW_HEIGHT * max(5, len(self._rows)))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        width = self.width()
        label_width = int(width * 0.42)
        value_width = metrics.horizontalAdvance("100.0%") + 6
        bar_left, bar_right = label_width + 6, width - value_width
        text_colour = self.palette().color(self.foregroundRole())
        if not self._rows:
            painter.setPen(text_colour)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            return
        for i, (name, prob) in enumerate(self._rows):
            top = i * self.ROW_HEIGHT
            text_rect = QRectF(0, top, label_width, self.ROW_HEIGHT)
            painter.setPen(text_colour)
            font = QFont(painter.font())
            font.setBold(i == 0)
            painter.setFont(font)
            elided = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_width)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, elided)
            track = QRectF(bar_left, top + 5, max(1, bar_right - bar_left), self.ROW_HEIGHT - 10)
            painter.fillRect(track, QColor(127, 127, 127, 40))
            bar = QRectF(track.left(), track.top(), track.width() * min(max(prob, 0.0), 1.0), track.height())
            painter.fillRect(bar, TOP_BAR_COLOUR if i == 0 else BAR_COLOUR)
            painter.drawText(QRectF(bar_right + 4, top, value_width, self.ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{prob:.1%}")
        if self._explained is not None:  # the class the heat maps show
            painter.setPen(QPen(EXPLAINED_COLOUR, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(1, self._explained * self.ROW_HEIGHT + 1, width - 2, self.ROW_HEIGHT - 2))


def stage_names(prediction: Prediction, family: Family) -> dict[str, str]:
    """What each timed stage was for this prediction's model: the optical flow method it computed,
    and the stages its family names itself (representation flow's learnt flow layers)."""
    names = dict(STAGE_NAMES)
    names.update(family.stage_labels)
    if prediction.flow_method:
        names["flow"] = f"{prediction.flow_method.upper()} flow"
    return names


def timing_text(prediction: Prediction, run: ClassifyRun | None, family: Family) -> str:
    """The stages' milliseconds.  A family that computes no optical flow always lists its motion
    stage (it is the model's own flow, however quick)."""
    names = stage_names(prediction, family)
    times = prediction.timings_ms

    def listed(stage: str) -> bool:
        own_motion = not family.optical_flow and stage == family.motion_stage and stage in times
        return times.get(stage, 0.0) >= 0.5 or own_motion

    parts = [f"{names[s]} {times.get(s, 0.0):.0f}" for s in STAGES if listed(s)]
    text = "ms: " + " · ".join(parts) + f" · total {prediction.timings_ms.get('total', 0.0):.0f}"
    if run is not None and run.load_ms > 0:
        text += f" (+ model load {run.load_ms:.0f})"
    return text


def explained_class(prediction: Prediction | None, kind: str) -> int | None:
    """The class index the prediction's heat maps of ``kind`` explain: ``None`` without maps, or
    for a kind that explains no class (a transformer's class-token attention and rollout)."""
    maps = None if prediction is None else prediction.attention
    return int(maps.target_class) if maps is not None and kind in maps.class_kinds else None


class PredictionPanel(QWidget):
    explainRequested = Signal(int)  # a class index: the user clicked its bar

    def __init__(self, controller: ClassifyController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        state = controller.classify_state
        self.state = state
        self.model_label = QLabel()
        self.model_label.setObjectName("modelLabel")
        self.model_label.setWordWrap(True)
        self.flow_note = QLabel()
        self.flow_note.setObjectName("flowNote")
        self.flow_note.setWordWrap(True)
        self.flow_note.setStyleSheet("color: #5f6368;")
        self.classify_button = QPushButton("Classify clip")
        self.classify_button.setObjectName("classifyClipButton")
        self.classify_button.setToolTip("Classify the clip in the timeline's shaded region (C)")
        self.classify_button.clicked.connect(lambda: controller.classify_clip())
        self.video_button = QPushButton("Whole video")
        self.video_button.setObjectName("classifyVideoButton")
        self.video_button.setToolTip("Classify sliding windows over the whole video: the prediction timeline")
        self.video_button.clicked.connect(lambda: controller.classify_video(self.window_step()))
        self.step_box = QSpinBox()
        self.step_box.setObjectName("windowStep")
        self.step_box.setRange(0, 9999)
        self.step_box.setSpecialValueText("one clip span")  # 0: windows side by side, no overlap
        self.step_box.setSuffix(" frames")
        self.step_box.setToolTip("Whole video: a window starts every this many frames (smaller steps overlap the windows: "
                                 "a finer prediction timeline, more clips to run)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelClassifyButton")
        self.cancel_button.clicked.connect(controller.cancel)
        self.cancel_button.setEnabled(False)
        self.follow_box = QCheckBox("follow frame")
        self.follow_box.setObjectName("followFrame")
        self.follow_box.setToolTip("The region follows the current frame; uncheck it (or drag the region on the timeline) to keep the region where it is")
        self.follow_box.toggled.connect(self._follow_toggled)
        self.region_label = SteadyLabel(chars=26)  # follows the frame while scrubbing: no relayout (see its module)
        self.region_label.setObjectName("regionLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("classifyProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        # progress messages, many a run: a steady label (no window relayout); long ones are cut, whole in the tooltip
        self.status_label = SteadyLabel("", chars=20, colour="#5f6368")
        self.status_label.setObjectName("classifyStatus")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # long messages never widen the dock
        self.notice_label = QLabel("")
        self.notice_label.setObjectName("classifyNotice")
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet(NOTICE_STYLE)
        self.notice_label.setVisible(False)
        self.predicted_label = QLabel("")  # hidden until there is a prediction: no lone bold dash above "no prediction yet"
        self.predicted_label.setObjectName("predictedLabel")
        font = self.predicted_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.predicted_label.setFont(font)
        self.clip_label = QLabel("")
        self.clip_label.setObjectName("clipLabel")
        self.clip_label.setWordWrap(True)
        self.bars = ProbabilityBars()
        self.bars.setObjectName("probabilityBars")
        self.bars.rowClicked.connect(self._row_clicked)
        self.timings_label = QLabel("")
        self.timings_label.setObjectName("timingsLabel")
        self.timings_label.setWordWrap(True)
        self.timings_label.setStyleSheet("color: #5f6368;")
        self.video_label = QLabel("")
        self.video_label.setObjectName("videoPredictionLabel")
        self.video_label.setWordWrap(True)

        for small in (self.flow_note, self.timings_label, self.status_label, self.clip_label):
            small_font = small.font()
            small_font.setPointSizeF(small_font.pointSizeF() * 0.9)
            small.setFont(small_font)
        buttons = QHBoxLayout()
        buttons.addWidget(self.classify_button)
        buttons.addWidget(self.video_button)
        buttons.addWidget(self.cancel_button)
        step = QHBoxLayout()
        step.addWidget(QLabel("Whole video: a window every"))
        step.addWidget(self.step_box, 1)
        region = QHBoxLayout()
        region.addWidget(self.region_label, 1)
        region.addWidget(self.follow_box)
        progress = QHBoxLayout()
        progress.addWidget(self.progress, 1)
        progress.addWidget(self.status_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        self._layout = layout
        layout.addWidget(self.model_label)
        layout.addWidget(self.flow_note)
        layout.addLayout(buttons)
        layout.addLayout(step)
        layout.addLayout(region)
        layout.addLayout(progress)
        for widget in (self.notice_label, self.predicted_label, self.clip_label, self.bars, self.timings_label, self.video_label):
            layout.addWidget(widget)
        layout.addStretch(1)
        self._model_notice = self._flow_notice = self._run_notice = ""
        self._outlined = False  # whether the drawn kind explains a class (a bar is outlined)

        state.modelChanged.connect(self._on_model)
        state.regionChanged.connect(self._on_region)
        state.predictionChanged.connect(self._on_prediction)
        state.timelineChanged.connect(self._on_timeline)
        state.overlayChanged.connect(self._on_overlay_kind)
        controller.busyChanged.connect(self._on_busy)
        controller.progressChanged.connect(self._on_progress)
        controller.notice.connect(self._on_run_notice)
        controller.timelineReady.connect(lambda timeline: self._on_timeline(timeline, final=True))
        self._on_model(state.model)
        self._on_region(state.region_start)
        self._on_prediction(state.prediction)
        self._on_busy(controller.busy)

    # -- rendering --------------------------------------------------------------------

    def window_step(self) -> int | None:
        """The whole-video window step in frames, or None for one clip span."""
        return self.step_box.value() or None
    def _on_model(self, status: ModelStatus) -> None:
        config = status.config
        if status.problem:
            self.model_label.setText("<b>No model</b>")
        elif config is None:
            self.model_label.setText(f"<b>Model</b> {status.path.name if status.path else ''} (reading ...)")
        else:
            name = status.path.name if status.path else ""
            self.model_label.setText(f"<b>Model</b> {name}: {html.escape(status.family.describe(config))}")
        self._model_notice = status.problem
        self.flow_note.setText("" if config is None else status.family.flow_statement(config))
        self._update_buttons()
        self._show_notice()
        self._on_region(self.state.region_start)

    def _on_region(self, start: int) -> None:
        self.follow_box.blockSignals(True)
        self.follow_box.setChecked(self.state.follow_frame)
        self.follow_box.blockSignals(False)
        if self.state.frame_count == 0:
            self.region_label.setText("Clip region: open a video")
            return
        last = min(start + self.state.span - 1, self.state.frame_count - 1)
        self.region_label.setText(f"Clip region: frames {start}-{last}")
        self.region_label.setToolTip(f"{self.state.clip_length} frames at stride {self.state.frame_stride}, the model's clip")

    def _on_prediction(self, prediction: Prediction | None) -> None:
        if prediction is None:
            self.predicted_label.setText("")
            self.predicted_label.setVisible(False)
            self.clip_label.setText("")
            self.bars.set_rows([])
            self.timings_label.setText("")
            self._outlined = False
            self._flow_notice = ""
            self._show_notice()
            return
        self.predicted_label.setText(prediction.label)
        self.predicted_label.setVisible(True)
        frames = prediction.frame_indices
        padded = f", last frame repeated {prediction.padded}x" if prediction.padded else ""
        flow = f"; flow {prediction.flow_method}" if prediction.flow_method else ""
        self.clip_label.setText(f"Clip frames {frames[0]}-{frames[-1]}{padded}{flow}: {prediction.probability:.1%}")
        rows = prediction.top[:5]
        target = explained_class(prediction, self.state.overlay.choice.kind)
        self._outlined = target is not None
        names = [name for name, _p in rows]
        explained_name = None if target is None else prediction.class_names[target]
        self.bars.set_rows(rows, names.index(explained_name) if explained_name in names else None)
        self.timings_label.setText(timing_text(prediction, self.controller.last_run, self.state.model.family))
        self._flow_notice = f"Flow fell back: {prediction.flow_note}" if prediction.flow_fell_back else ""
        self._show_notice()

    def _on_timeline(self, timeline: VideoPrediction | None, *, final: bool = False) -> None:
        self.bars.set_empty_text(NO_PREDICTION if timeline is None else NO_CLIP_PREDICTION)
        if timeline is None:
            self.video_label.setText("")
            return
        label, prob = timeline.top[0]
        windows = f"{len(timeline.clips)} windows" + ("" if final else " so far")
        self.video_label.setText(f"Whole video ({windows}): <b>{label}</b> {prob:.1%}")

    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        self._update_buttons()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.status_label.setText(message)
        self.status_label.setToolTip(message)

    def _on_run_notice(self, text: str) -> None:
        self._run_notice = text
        self._show_notice()

    def _show_notice(self) -> None:
        text = "\n".join(t for t in (self._model_notice, self._run_notice, self._flow_notice) if t)
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))

    def _update_buttons(self) -> None:
        ready = self.state.model.ready
        self.classify_button.setEnabled(ready)
        self.video_button.setEnabled(ready)

    def _on_overlay_kind(self, overlay: OverlaySettings) -> None:
        outlined = explained_class(self.state.prediction, overlay.choice.kind) is not None
        if outlined != self._outlined:  # only the outline changes: not on every opacity step
            self._on_prediction(self.state.prediction)

    def set_model_chooser(self, chooser: QWidget) -> None:
        """Put the model chooser at the top of the panel (above the model's description)."""
        self._layout.insertWidget(0, chooser)

    def _row_clicked(self, row: int) -> None:
        prediction = self.state.prediction
        if prediction is None or row >= len(prediction.top):
            return
        self.explainRequested.emit(prediction.class_names.index(prediction.top[row][0]))

    def _follow_toggled(self, on: bool) -> None:
        self.state.follow_frame = bool(on)
        if on:
            self.state.follow(self.controller.state.frame_index)
