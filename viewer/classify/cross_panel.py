"""The cross-stream attention panel: a matrix of one layer's attention from one stream's tokens to the other's.

Hover a cell for which tokens and how much; click it to pick the pair, which
boxes both tokens on the frames their time slices cover (and no others) and
seeks to the query's slice; the readout names those frames and links to them.
The matrix has its own layer and head (rollout and relevance, drawn on the
frames, use every layer) and a colour scale of the shown block's range.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QFontMetrics
from PySide6.QtWidgets import QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from core.export.prediction_heat import FLOW, RGB, AttentionChoice
from core.inference import Prediction
from viewer.classify.cross_stream import STREAM_NAMES, cell_tokens, cross_matrix, describe_cell, describe_token, pair_cell, slice_frames, token_position
from viewer.classify.maps_panels import has_cross_stream, panel_for
from viewer.classify.panel_widgets import fill_choices, labelled_row, small_label
from viewer.classify.state import ClassifyState, TokenSelection
from viewer.staging import post_later

MATRIX_SCALE_LABEL = "attention weight (softmax share)"
TIME_SCALE_LABEL = "share of a slice's attention"
BOX_NAMES = {RGB: "cyan", FLOW: "magenta"}
MATRIX_MIN_HEIGHT = 150


class CrossAttentionMatrix(QWidget):
    """A matrix as an image: rows are query tokens, columns key tokens; hover text, click to pick a cell."""

    cellClicked = Signal(int, int)  # row, column

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setMinimumHeight(MATRIX_MIN_HEIGHT)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertY(True)
        item.setAspectLocked(False)
        item.setMouseEnabled(x=False, y=False)
        for side in ("left", "bottom"):
            item.getAxis(side).enableAutoSIPrefix(False)  # token numbers, not "x1e3"; also spares relayouts of the label
        # the left axis's labels are centred on their ticks: the first ("0", at the matrix's top edge) reaches half a
        # line above the plot, and was cut in half there without room for it
        half_line = QFontMetrics(item.getAxis("left").font()).height() // 2 + 1
        item.layout.setContentsMargins(1, half_line, 1, 1)
        self._labels: tuple[str, str] = ("", "")
        self.scale_label = MATRIX_SCALE_LABEL
        self._shape: tuple[int, ...] = ()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        item.addItem(self.image)
        # the colour scale: the matrix's own range (levels are min..max of the shown block), read-only
        self.color_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), interactive=False, width=12,
                                         label=MATRIX_SCALE_LABEL, colorMapMenu=False, pen="#5f6368")
        self.color_bar.setImageItem(self.image, insert_in=item)
        self.color_bar.getAxis("right").enableAutoSIPrefix(False)
        self.color_bar.getAxis("right").setTextPen("#202124")
        self.color_bar.getAxis("right").setStyle(tickTextWidth=34, autoExpandTextSpace=False)
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
        # fill the room the panel has, and ask for none: a plot's large size hint made the dock scroll, hiding
        # the readout under the matrix (a wrapped label makes the layout size itself by its items' hints)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.setMinimumHeight(MATRIX_MIN_HEIGHT)

    def set_matrix(self, values: np.ndarray | None, *, row_label: str = "", col_label: str = "", describe=None, scale_label: str = MATRIX_SCALE_LABEL) -> None:  # noqa: ANN001
        if scale_label != self.scale_label:
            self.scale_label = scale_label
            self.color_bar.getAxis("left").setLabel(scale_label)  # where ColorBarItem puts its label
        self.values = None if values is None else np.asarray(values, dtype=np.float32)
        self.marker.setVisible(False)
        item = self.plot.getPlotItem()
        if self.values is None or self.values.size == 0:
            self.image.clear()
            return
        if describe is not None:
            self.describe = describe
        lo, hi = float(self.values.min()), float(self.values.max())
        levels = (lo, hi if hi > lo else lo + 1e-6)
        self.image.setImage(self.values, levels=levels, autoLevels=False)
        self.color_bar.setLevels(levels)
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



class CrossAttentionPanel(QWidget):
    """The cross-stream matrix of its own layer and head, with its direction and granularity."""

    seekRequested = Signal(int)  # a frame the readout's link asks the views to show

    def __init__(self, state: ClassifyState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.direction_box = QComboBox()
        self.direction_box.setObjectName("crossDirection")
        self.direction_box.addItem("RGB → flow", RGB)
        self.direction_box.addItem("flow → RGB", FLOW)
        self.direction_box.setToolTip("Rows (queries) from one stream's tokens, columns (keys) from the other's")
        self.direction_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.granularity_box = QComboBox()
        self.granularity_box.setObjectName("crossGranularity")
        self.granularity_box.addItem("token pairs", "tokens")
        self.granularity_box.addItem("time slices", "time")
        self.granularity_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("crossLayer")
        self.layer_box.setToolTip("The layer whose attention the matrix shows")
        self.layer_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.head_box = QComboBox()
        self.head_box.setObjectName("crossHead")
        self.head_box.setToolTip("One head, or the mean of the heads")
        self.head_box.currentIndexChanged.connect(lambda _i: self._refresh_matrix())
        self.matrix = CrossAttentionMatrix()
        self.matrix.setObjectName("crossMatrix")
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.hint = small_label(QLabel("Hover a cell to read it; click it to box both tokens on the frames they cover."))
        self.selection_label = QLabel("")
        self.selection_label.setObjectName("selectionLabel")
        self.selection_label.setWordWrap(True)
        self.selection_label.setTextFormat(Qt.TextFormat.RichText)
        self.selection_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)  # wraps to the dock, never widens it
        self.selection_label.linkActivated.connect(lambda frame: self.seekRequested.emit(int(frame)))
        controls = QHBoxLayout()
        controls.addWidget(self.direction_box, 1)
        controls.addWidget(self.granularity_box, 1)
        layer_head = labelled_row(("Layer", self.layer_box), ("Head", self.head_box))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addLayout(controls)
        layout.addLayout(layer_head)
        layout.addWidget(self.hint)
        layout.addWidget(self.matrix, 1)
        layout.addWidget(self.selection_label)
        state.predictionChanged.connect(self._on_prediction)
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

    @property
    def choice(self) -> AttentionChoice:
        """The layer and head the matrix shows (the kind is always one layer's attention)."""
        layer = self.layer_box.currentData()
        return AttentionChoice(kind="attention", layer=-1 if layer is None else int(layer), head=self.head_box.currentData())

    def _on_prediction(self, _prediction: Prediction | None) -> None:
        maps = self.maps
        cross = has_cross_stream(maps)
        for widget in (self.direction_box, self.granularity_box, self.layer_box, self.head_box, self.matrix):
            widget.setEnabled(cross)
        fill_choices(self.layer_box, maps.num_layers if cross else 0, "last")
        fill_choices(self.head_box, maps.num_heads if cross else 0, "mean")
        self.selection_label.setText(panel_for(maps).no_cross_note(maps) if maps is not None and not cross else "")
        self.matrix.set_matrix(None)  # the old clip's matrix goes at once; the new one is drawn in a later turn
        post_later(self, "matrix", self._refresh_matrix)  # (its own turn and paint: see viewer.staging)

    def _refresh_matrix(self) -> None:
        maps = self.maps
        if not has_cross_stream(maps):
            self.matrix.set_matrix(None)
            return
        query, granularity, choice = self.query, self.granularity, self.choice
        unit = "token" if granularity == "tokens" else "time slice"
        self.matrix.set_matrix(
            cross_matrix(maps, query, granularity, choice),
            row_label=f"{STREAM_NAMES[query]} {unit} (query)",
            col_label=f"{STREAM_NAMES[FLOW if query == RGB else RGB]} {unit} (key)",
            describe=lambda row, col, value: describe_cell(maps, query, granularity, row, col, value),
            scale_label=MATRIX_SCALE_LABEL if granularity == "tokens" else TIME_SCALE_LABEL,
        )
        self._on_selection(self.state.selection)  # a selected pair stays: marked and read off this matrix

    def click_cell(self, row: int, col: int) -> None:
        """Pick a cell as a click does: mark it and select its token pair."""
        self.matrix.mark(row, col)
        self._cell_clicked(row, col)

    def _cell_clicked(self, row: int, col: int) -> None:
        maps = self.maps
        if not has_cross_stream(maps):
            return
        q_token, k_token, value = cell_tokens(maps, self.query, self.granularity, row, col, self.choice)
        rgb_token, flow_token = (q_token, k_token) if self.query == RGB else (k_token, q_token)
        self.state.set_selection(TokenSelection(rgb_token=rgb_token, flow_token=flow_token, value=value, query=self.query))

    def token_frames(self, stream: str, token: int) -> tuple[int, ...]:
        """The video frames whose view shows ``stream``'s box for ``token``: its time slice's frames."""
        maps = self.maps
        t, _row, _col = token_position(token, maps.grid_shape)
        return slice_frames(maps, t)

    def _on_selection(self, selection: TokenSelection | None) -> None:
        maps = self.maps
        if maps is not None and not has_cross_stream(maps):
            return  # the note set with the prediction stays
        if selection is None or maps is None:
            self.selection_label.setText("")
            return
        row, col, value = pair_cell(maps, self.query, self.granularity, selection.rgb_token, selection.flow_token, self.choice)
        self.matrix.mark(row, col)
        parts = []
        for stream, token in ((RGB, selection.rgb_token), (FLOW, selection.flow_token)):
            frames = self.token_frames(stream, token)
            link = f'<a href="{frames[0]}">show frame {frames[0]}</a>'
            parts.append(f"{html.escape(describe_token(maps, stream, token))}: {BOX_NAMES[stream]} box on frames {frames[0]}-{frames[-1]} ({link})")
        arrow = "<br>→ " if self.query == RGB else "<br>← "  # the query's tokens attend to the key's
        self.selection_label.setText("Selected " + arrow.join(parts) + f"<br>attention {value:.4f} ({self._choice_text()})")

    def _choice_text(self) -> str:
        """Which matrix the readout's value is from: "RGB → flow, last layer, mean of heads"."""
        layer = "last layer" if self.layer_box.currentData() is None else f"layer {self.layer_box.currentText()}"
        head = "mean of heads" if self.head_box.currentData() is None else f"head {self.head_box.currentText()}"
        return f"{self.direction_box.currentText()}, {layer}, {head}"
