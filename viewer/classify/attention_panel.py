"""The attention controls: what to draw over the frames (map kind, class, layer, head, opacity).

The controls change the classify state's overlay settings (the frame views
follow).  What they offer depends on the maps a prediction carries, looked up by
their type (:mod:`viewer.classify.maps_panels`); before any prediction, on the
kinds the chosen model's family record says its maps carry.  Layer and head are
enabled only while they choose the drawn map (one layer's attention): rollout,
relevance and class activation maps use the whole network.  The cross-stream
matrix is :mod:`viewer.classify.cross_panel`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from core.inference import Prediction
from viewer.classify.cross_panel import CrossAttentionMatrix, CrossAttentionPanel
from viewer.classify.maps_panels import MapsPanel, maps_type_for_kinds, panel_for, panel_for_type
from viewer.classify.panel_widgets import fill_choices, labelled_row, small_label
from viewer.classify.state import ClassifyState, OverlaySettings

EXPLAINS_CLASS = "The class the map explains: one of the top 5 (choosing another runs the model on the clip again)"

__all__ = ["AttentionControls", "CrossAttentionMatrix", "CrossAttentionPanel"]


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
        self.description = small_label(QLabel("Classify a clip to see where the model looks."))
        self.description.setObjectName("attentionDescription")

        top = QHBoxLayout()
        top.addWidget(self.toggle)
        top.addWidget(self.kind_box, 1)
        layer_head = labelled_row(("Layer", self.layer_box), ("Head", self.head_box))
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
        fill_choices(self.layer_box, maps.num_layers if maps is not None and layered else 0, "last")
        fill_choices(self.head_box, maps.num_heads if maps is not None and layered else 0, "mean")
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
        applies = panel is not None and panel.layered and not hint  # an empty hint: layer and head choose the drawn map
        for box in (self.layer_box, self.head_box):
            box.setEnabled(applies)
            box.setToolTip(hint)
        prediction, maps = self.state.prediction, self._maps()
        if prediction is None or maps is None:
            self.description.setText("Classify a clip to see where the model looks.")
        else:
            class_name = prediction.class_names[int(maps.target_class)]
            self.description.setText(panel_for(maps).describe(maps, overlay.choice, class_name, self.state.model.family))
