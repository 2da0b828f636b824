"""The attention panel: what to draw over the frames, and the cross-stream matrix.

The controls change the classify state's overlay settings (the frame views
follow); the matrix shows one layer's attention from one stream's tokens to
the other's, hover for which tokens and how much, click to pick the pair,
which highlights both tokens on the frames and seeks to the query's time slice.

What the controls offer depends on the maps a prediction carries, looked up by
their type (:mod:`viewer.classify.maps_panels`); before any prediction, on the
kinds the chosen model's family record says its maps carry.  Maps without
layers (class activation maps) disable the layer and head boxes, and maps
without a cross-stream matrix disable it, with a note saying why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from core.export.prediction_heat import FLOW, RGB
from core.inference import Prediction
from viewer.classify.cross_stream import STREAM_NAMES, cell_tokens, cross_matrix, describe_cell, describe_token
from viewer.classify.maps_panels import MapsPanel, has_cross_stream, maps_type_for_kinds, panel_for, panel_for_type
from viewer.classify.state import ClassifyState, OverlaySettings, TokenSelection

EXPLAINS_CLASS = "The class the map explains: one of the top 5 (choosing another runs the model on the clip again)"


class CrossAttentionMatrix(QWidget):
    """A matrix as an image: rows are query tokens, columns key tokens; hover text, click to pick a cell."""

    cellClicked = Signal(int, int)  # row, column

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setMinimumHeight(170)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertY(True)
        item.setAspectLocked(False)
        item.setMouseEnabled(x=False, y=False)
        for side in ("left", "bottom"):
            item.getAxis(side).enableAutoSIPrefix(False)  # token numbers, not "x1e3"; also spares relayouts of the label
        self._labels: tuple[str, str] = ("", "")
        self._shape: tuple[int, ...] = ()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        item.addItem(self.image)
        self.marker = QGraphicsRectItem()
        self.marker.setPen(pg.mkPen("#ff2d55", width=2, cosmetic=True))
        self.marker.setZValue(10)
        self.marker.setVisible(False)
        item.addItem(self.marker)
        self.values: np.ndarray | None = None
        self.describe = lambda row, col, value: f"({row}, {col}): {value:.4f}"
        self.hover_text = ""
        self.plot.scene().sigMouseMoved.connect(self._hovered)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_matrix(self, values: np.ndarray | None, *, row_label: str = "", col_label: str = "", describe=None) -> None:  # noqa: ANN001
        self.values = None if values is None else np.asarray(values, dtype=np.float32)
        self.marker.setVisible(False)
        item = self.plot.getPlotItem()
        if self.values is None or self.values.size == 0:
            self.image.clear()
            return
        if describe is not None:
            self.describe = describe
        lo, hi = float(self.values.min()), float(self.values.max())
        self.image.setImage(self.values, levels=(lo, hi if hi > lo else lo + 1e-6), autoLevels=False)
        if (row_label, col_label) != self._labels:  # axis labels are rich text: relayout only on change
            self._labels = (row_label, col_label)
            item.setLabel("left", row_label)
            item.setLabel("bottom", col_label)
        if self.values.shape != self._shape:
            self._shape = self.values.shape
            self.image.setRect(QRectF(0, 0, self.values.shape[1], self.values.shape[0]))
            item.setRange(xRange=(0, self.values.shape[1]), yRange=(0, self.values.shape[0]), padding=0.0)

    def mark(self, row: int, col: int) -> None:
        self.marker.setRect(QRectF(col, row, 1, 1))
        self.marker.setVisible(True)

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """The (row, column) under a scene position, or ``None`` off the matrix."""
        if self.values is None:
            return None
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= row < self.values.shape[0] and 0 <= col < self.values.shape[1]:
            return row, col
        return None

    def cell_text(self, row: int, col: int) -> str:
        assert self.values is not None
        return self.describe(row, col, float(self.values[row, col]))

    def _hovered(self, scene_pos: QPointF) -> None:
        cell = self.cell_at(scene_pos)
        self.hover_text = "" if cell is None else self.cell_text(*cell)
        if self.hover_text:
            QToolTip.showText(QCursor.pos(), self.hover_text, self.plot)
        else:
            QToolTip.hideText()

    def _clicked(self, event) -> None:  # noqa: ANN001 - pyqtgraph's mouse event
        cell = self.cell_at(event.scenePos())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.mark(*cell)
            self.cellClicked.emit(*cell)


def _small(label: QLabel) -> QLabel:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    label.setStyleSheet("color: #5f6368;")
    label.setWordWrap(True)
    return label


def _fill_choices(box: QComboBox, count: int, whole: str) -> None:
    """``whole`` (data ``None``) then 1..count (data 0..count-1), keeping the current choice when it still exists."""
    keep = box.currentData()
    box.blockSignals(True)
    box.clear()
    box.addItem(whole, None)
    for i in range(count):
        box.addItem(str(i + 1), i)
    index = box.findData(keep) if keep is not None and keep < count else 0
    box.setCurrentIndex(max(index, 0))
    box.blockSignals(False)


class AttentionControls(QWidget):
    """On/off, map kind, the class explained, layer, head and opacity of the heat maps on the frames."""

    classRequested = Signal(int)  # the user picked a class to explain (a new explain pass)

    def __init__(self, state: ClassifyState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.toggle = QCheckBox("Show")
        self.toggle.setObjectName("attentionToggle")
        self.toggle.setToolTip("Draw the attention heat maps over both views (frames of the classified clip only)")
        self.toggle.setChecked(state.overlay.enabled)
        self.toggle.toggled.connect(lambda on: state.set_overlay(enabled=bool(on)))
        self.kind_box = QComboBox()
        self.kind_box.setObjectName("attentionKind")
        self._offered: tuple[str, ...] = ()
        self.kind_box.currentIndexChanged.connect(lambda _i: state.set_overlay(kind=self.kind_box.currentData()))
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("attentionLayer")
        self.layer_box.currentIndexChanged.connect(lambda _i: self._choice_changed())
        self.head_box = QComboBox()
        self.head_box.setObjectName("attentionHead")
        self.head_box.currentIndexChanged.connect(lambda _i: self._choice_changed())
        self.class_box = QComboBox()
        self.class_box.setObjectName("explainedClass")
        self.class_box.setToolTip("The class the relevance map (or class activation map) explains: one of the top 5")
        self.class_box.activated.connect(self._class_activated)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("attentionOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(round(state.overlay.opacity * 100)))
        self.opacity.valueChanged.connect(lambda v: state.set_overlay(opacity=v / 100.0))
        self.description = _small(QLabel("Classify a clip to see where the model looks."))
        self.description.setObjectName("attentionDescription")

        top = QHBoxLayout()
        top.addWidget(self.toggle)
        top.addWidget(self.kind_box, 1)
        layer_head = QHBoxLayout()
        layer_head.addWidget(QLabel("Layer"))
        layer_head.addWidget(self.layer_box, 1)
        layer_head.addWidget(QLabel("Head"))
        layer_head.addWidget(self.head_box, 1)
        opacity = QHBoxLayout()
        opacity.addWidget(QLabel("Opacity"))
        opacity.addWidget(self.opacity, 1)
        explained = QHBoxLayout()
        explained.addWidget(QLabel("Class"))
        explained.addWidget(self.class_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        for row in (top, explained, layer_head, opacity):
            layout.addLayout(row)
        layout.addWidget(self.description)
        layout.addStretch(1)

        state.predictionChanged.connect(self._on_prediction)
        state.modelChanged.connect(lambda _status: self._on_prediction(state.prediction))
        state.overlayChanged.connect(self._on_overlay)
        self._on_prediction(state.prediction)

    def _maps(self) -> Any:
        prediction = self.state.prediction
        return None if prediction is None else prediction.attention

    def _maps_type(self) -> type | None:
        """The type of the shown maps or, before any prediction, of the maps the chosen model's family draws."""
        maps = self._maps()
        return type(maps) if maps is not None else maps_type_for_kinds(self.state.model.family.map_kinds)

    def _panel(self) -> MapsPanel | None:
        maps_type = self._maps_type()
        return None if maps_type is None else panel_for_type(maps_type)

    def _offer_kinds(self, kinds: tuple[str, ...], panel: MapsPanel | None) -> None:
        """Fill the kind box with ``kinds`` (its signal blocked: the state decides the choice)."""
        if kinds == self._offered:
            return
        self._offered = kinds
        labels = {} if panel is None else panel.kind_labels
        self.kind_box.blockSignals(True)
        self.kind_box.clear()
        for kind in kinds:
            self.kind_box.addItem(labels.get(kind, kind), kind)
        self.kind_box.blockSignals(False)

    def _on_prediction(self, prediction: Prediction | None) -> None:
        maps = self._maps()
        kinds = tuple(maps.kinds) if maps is not None else tuple(self.state.model.family.map_kinds)
        panel = self._panel()
        self._offer_kinds(kinds, panel)
        layered = panel is not None and panel.layered
        for box in (self.layer_box, self.head_box):
            box.setEnabled(layered)
        _fill_choices(self.layer_box, maps.num_layers if maps is not None and layered else 0, "last")
        _fill_choices(self.head_box, maps.num_heads if maps is not None and layered else 0, "mean")
        if kinds and self.state.overlay.choice.kind not in kinds:
            self.state.set_overlay(kind=kinds[0], layer=-1, head=None)
        self._choice_changed()
        self.sync_class()
        self._on_overlay(self.state.overlay)

    def sync_class(self) -> None:
        """The class box lists the prediction's top 5 and shows the class its maps explain
        (also after a cancelled explain pass: the maps stayed as they were)."""
        prediction = self.state.prediction
        maps = None if prediction is None else prediction.attention
        self.class_box.blockSignals(True)
        self.class_box.clear()
        current = -1
        if prediction is not None and maps is not None:
            for name, prob in prediction.top[:5]:
                index = prediction.class_names.index(name)
                self.class_box.addItem(f"{name} ({prob:.1%})", index)
                if index == int(maps.target_class):
                    current = self.class_box.count() - 1
            if current < 0:  # explained a class outside the top 5 (programmatically): still say which
                target = int(maps.target_class)
                self.class_box.addItem(prediction.class_names[target], target)
                current = self.class_box.count() - 1
        self.class_box.setCurrentIndex(current)
        self.class_box.blockSignals(False)
        self._enable_class_box()

    def _enable_class_box(self) -> None:
        maps_type = self._maps_type()
        depends = maps_type is not None and self.state.overlay.choice.kind in maps_type.class_kinds
        self.class_box.setEnabled(depends and self.class_box.count() > 0)
        class_free = "" if maps_type is None else panel_for_type(maps_type).class_free
        self.class_box.setToolTip(EXPLAINS_CLASS if depends else class_free)

    def _class_activated(self, index: int) -> None:
        data = self.class_box.itemData(index)
        if data is not None:
            self.classRequested.emit(int(data))

    def _choice_changed(self) -> None:
        layer = self.layer_box.currentData()
        self.state.set_overlay(layer=-1 if layer is None else int(layer), head=self.head_box.currentData())

    def _on_overlay(self, overlay: OverlaySettings) -> None:
        self.toggle.blockSignals(True)
        self.toggle.setChecked(overlay.enabled)
        self.toggle.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(int(round(overlay.opacity * 100)))
        self.opacity.blockSignals(False)
        index = self.kind_box.findData(overlay.choice.kind)
        if index != self.kind_box.currentIndex():
            self.kind_box.blockSignals(True)
            self.kind_box.setCurrentIndex(index)
            self.kind_box.blockSignals(False)
        self._enable_class_box()
        panel = self._panel()
        hint = "" if panel is None else panel.layer_hint(overlay.choice.kind)
        self.layer_box.setToolTip(hint)
        self.head_box.setToolTip(hint)
        prediction, maps = self.state.prediction, self._maps()
        if prediction is None or maps is None:
            self.description.setText("Classify a clip to see where the model looks.")
        else:
            class_name = prediction.class_names[int(maps.target_class)]
            self.description.setText(panel_for(maps).describe(maps, overlay.choice, class_name, self.state.model.family))


class CrossAttentionPanel(QWidget):
    """The cross-stream matrix of the layer and head chosen in the controls, with its direction and granularity."""

    def __init__(self, state: ClassifyState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.direction_box = QComboBox()
        self.direction_box.setObjectName("crossDirection")
        self.direction_box.addItem("RGB tokens → flow tokens", RGB)
        self.direction_box.addItem("flow tokens → RGB tokens", FLOW)
        self.direction_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.granularity_box = QComboBox()
        self.granularity_box.setObjectName("crossGranularity")
        self.granularity_box.addItem("token pairs", "tokens")
        self.granularity_box.addItem("time slices", "time")
        self.granularity_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.matrix = CrossAttentionMatrix()
        self.matrix.setObjectName("crossMatrix")
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.hint = _small(QLabel("Hover a cell to read it; click it to show both tokens on the frames and go to the query's time slice."))
        self.selection_label = QLabel("")
        self.selection_label.setObjectName("selectionLabel")
        self.selection_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.direction_box, 1)
        controls.addWidget(self.granularity_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addLayout(controls)
        layout.addWidget(self.hint)
        layout.addWidget(self.matrix, 1)
        layout.addWidget(self.selection_label)
        state.predictionChanged.connect(self._on_prediction)
        state.overlayChanged.connect(lambda _o: self._refresh_matrix())
        state.selectionChanged.connect(self._on_selection)
        self._on_prediction(state.prediction)

    @property
    def maps(self) -> Any:
        prediction = self.state.prediction
        return None if prediction is None else prediction.attention

    @property
    def query(self) -> str:
        return str(self.direction_box.currentData())

    @property
    def granularity(self) -> str:
        return str(self.granularity_box.currentData())

    def _on_prediction(self, _prediction: Prediction | None) -> None:
        maps = self.maps
        cross = has_cross_stream(maps)
        self.direction_box.setEnabled(cross)
        self.granularity_box.setEnabled(cross)
        self.matrix.setEnabled(cross)
        if maps is not None and not cross:
            self.selection_label.setText(panel_for(maps).no_cross_note(maps))
        self._refresh_matrix()

    def _refresh_matrix(self) -> None:
        maps = self.maps
        if not has_cross_stream(maps):
            self.matrix.set_matrix(None)
            return
        query, granularity, choice = self.query, self.granularity, self.state.overlay.choice
        unit = "token" if granularity == "tokens" else "time slice"
        self.matrix.set_matrix(
            cross_matrix(maps, query, granularity, choice),
            row_label=f"{STREAM_NAMES[query]} {unit} (query)",
            col_label=f"{STREAM_NAMES[FLOW if query == RGB else RGB]} {unit} (key)",
            describe=lambda row, col, value: describe_cell(maps, query, granularity, row, col, value),
        )

    def click_cell(self, row: int, col: int) -> None:
        """Pick a cell as a click does: mark it and select its token pair."""
        self.matrix.mark(row, col)
        self._cell_clicked(row, col)

    def _cell_clicked(self, row: int, col: int) -> None:
        maps = self.maps
        if not has_cross_stream(maps):
            return
        q_token, k_token, value = cell_tokens(maps, self.query, self.granularity, row, col, self.state.overlay.choice)
        rgb_token, flow_token = (q_token, k_token) if self.query == RGB else (k_token, q_token)
        self.state.set_selection(TokenSelection(rgb_token=rgb_token, flow_token=flow_token, value=value, query=self.query))

    def _on_selection(self, selection: TokenSelection | None) -> None:
        maps = self.maps
        if maps is not None and not has_cross_stream(maps):
            return  # the note set with the prediction stays
        if selection is None or maps is None:
            self.selection_label.setText("")
            return
        self.selection_label.setText(
            f"Selected {describe_token(maps, RGB, selection.rgb_token)} (cyan box) and {describe_token(maps, FLOW, selection.flow_token)} (magenta box): attention {selection.value:.4f}"
        )
