"""The timeline under the views: flow noise score and magnitude over the whole video.

A marker follows the current frame (drag it to scrub); a click jumps to that
frame, so a spike is one click away; the dashed threshold line (draggable)
decides which frames "next noisy frame" visits.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from viewer.state import ViewerState

NOISE_COLOUR = "#d93025"
MAGNITUDE_COLOUR = "#1a73e8"


class Timeline(QWidget):
    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setMinimumHeight(120)
        self.plot.setMaximumHeight(170)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(x=True, y=False, alpha=0.2)
        item.setLabel("bottom", "frame")
        item.setLabel("left", "noise score", color=NOISE_COLOUR)
        item.setYRange(0, 1, padding=0.02)
        item.showAxis("right")
        item.setLabel("right", "mean |flow| (px)", color=MAGNITUDE_COLOUR)
        self.magnitude_box = pg.ViewBox(enableMenu=False)
        self.magnitude_box.setMouseEnabled(x=False, y=False)
        item.scene().addItem(self.magnitude_box)
        item.getAxis("right").linkToView(self.magnitude_box)
        item.getAxis("right").enableAutoSIPrefix(False)  # pixels, not "x0.001"
        self.magnitude_box.setXLink(item)
        item.vb.sigResized.connect(lambda: self.magnitude_box.setGeometry(item.vb.sceneBoundingRect()))
        self.noise_curve = item.plot(pen=pg.mkPen(NOISE_COLOUR, width=1.5), connect="finite")
        self.magnitude_curve = pg.PlotCurveItem(pen=pg.mkPen(MAGNITUDE_COLOUR, width=1.2), connect="finite")
        self.magnitude_box.addItem(self.magnitude_curve)
        self.marker = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#202124", width=2))
        self.marker.sigPositionChanged.connect(self._marker_moved)
        item.addItem(self.marker)
        self.threshold_line = pg.InfiniteLine(angle=0, movable=True, pen=pg.mkPen(NOISE_COLOUR, style=Qt.PenStyle.DashLine))
        self.threshold_line.setToolTip("Noise threshold: drag it; N jumps to the next frame above it")
        self.threshold_line.sigPositionChangeFinished.connect(lambda line: state.set_threshold(line.value()))
        item.addItem(self.threshold_line)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        state.videoChanged.connect(self._on_video)
        state.frameChanged.connect(self._on_frame)
        state.scanChanged.connect(self._on_scan)
        state.thresholdChanged.connect(self.threshold_line.setValue)
        self.threshold_line.setValue(state.noise_threshold)
        self._on_video(state.info)

    def _on_video(self, info: object) -> None:
        count = max(1, self.state.frame_count)
        self.plot.getPlotItem().setXRange(0, count - 1, padding=0.01)
        self._on_scan()
        self._on_frame(self.state.frame_index)

    def _on_frame(self, index: int) -> None:
        self.marker.blockSignals(True)
        self.marker.setValue(index)
        self.marker.blockSignals(False)

    def _on_scan(self) -> None:
        noise, magnitude = self.state.flow_noise, self.state.flow_magnitude
        x = np.arange(len(noise), dtype=np.float64)
        self.noise_curve.setData(x, noise.astype(np.float64))
        self.magnitude_curve.setData(x, magnitude.astype(np.float64))
        finite = magnitude[np.isfinite(magnitude)]
        top = float(finite.max()) if finite.size else 1.0
        self.magnitude_box.setYRange(0, max(top, 1e-3) * 1.05, padding=0)

    def _marker_moved(self, line: pg.InfiniteLine) -> None:
        self.state.set_frame(int(round(line.value())))

    def _clicked(self, event) -> None:  # noqa: ANN001 - pyqtgraph's mouse event
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        self.state.set_frame(int(round(x)))
