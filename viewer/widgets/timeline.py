"""The timeline under the views: flow noise score and magnitude over the whole video.

A marker follows the current frame (drag it to scrub); a click jumps to that
frame, so a spike is one click away; the dashed threshold line (draggable)
decides which frames "next noisy frame" visits.

Painting is kept cheap because the GUI thread repaints this plot on every frame
change and scan chunk: the axes are cached as pixmaps (their pictures only
change with the ranges), axis space only ever grows (a tick label that gets
shorter must not re-lay-out the plot and redraw every item), the magnitude
axis moves in coarse "nice" steps instead of following every new maximum, and
partial scan results are drawn at a bounded rate (the completed scan at once).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from viewer.staging import post_later
from viewer.state import ViewerState
from viewer.widgets.steady_label import SteadyLabel

NOISE_COLOUR = "#d93025"
MAGNITUDE_COLOUR = "#1a73e8"
SCAN_REDRAW_MS = 120  # partial scan results are drawn at most this often
PLOT_HEIGHT = 140
NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest 1-1.2-1.5-2-2.5-3-4-5-6-8 x 10^k at or above ``value`` (> 0): a range that changes rarely
    as a maximum grows, yet leaves the curve at least 75% of the height."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"nice_ceiling needs a positive finite value, got {value!r}")
    scale = 10.0 ** math.floor(math.log10(value))
    for step in NICE_STEPS:
        if step * scale >= value * (1 - 1e-12):
            return step * scale
    return 10.0 * scale


class Timeline(QWidget):
    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setFixedHeight(PLOT_HEIGHT)  # a height of its own: opening a video must not re-lay it out (every axis redrawn)
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
        self.magnitude_box.setXLink(item)
        item.vb.sigResized.connect(lambda: self.magnitude_box.setGeometry(item.vb.sceneBoundingRect()))
        # one-pixel pens: Qt draws those on its fast line path; at 1.5/1.2 px every segment was stroked as a polygon
        # (a 124-frame timeline repainted in 1.43 ms against 0.50 offscreen, and the cost grows with the frames)
        self.noise_curve = item.plot(pen=pg.mkPen(NOISE_COLOUR, width=1), connect="finite")
        self.magnitude_curve = pg.PlotCurveItem(pen=pg.mkPen(MAGNITUDE_COLOUR, width=1), connect="finite")
        self.magnitude_box.addItem(self.magnitude_curve)
        self.marker = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#202124", width=2))
        self.marker.sigPositionChanged.connect(self._marker_moved)
        item.addItem(self.marker)
        self.threshold_line = pg.InfiniteLine(angle=0, movable=True, pen=pg.mkPen(NOISE_COLOUR, style=Qt.PenStyle.DashLine))
        self.threshold_line.setToolTip("Noise threshold: drag it; N jumps to the next frame above it")
        self.threshold_line.sigPositionChangeFinished.connect(lambda line: state.set_threshold(line.value()))
        item.addItem(self.threshold_line)
        for name in ("left", "right", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(autoReduceTextSpace=False)  # grow only: no relayout each time a tick label gets shorter
            axis.enableAutoSIPrefix(False)  # frame numbers, scores and pixels: a prefix would relabel (and re-lay-out) on zoom
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # a moving marker blits, not redraws text
        bottom = item.getAxis("bottom")  # frame numbers come and go with a video: their row stays
        bottom.setHeight(int(QFontMetrics(bottom.font()).height() + 2 + bottom.style["tickTextOffset"][1] + max(0, bottom.style["tickLength"])
                             + bottom.label.boundingRect().height() * 0.8))  # pyqtgraph's own sum, fixed
        self._magnitude_top: float | None = None
        self._scan_timer = QTimer(self)
        self._scan_timer.setSingleShot(True)
        self._scan_timer.setInterval(SCAN_REDRAW_MS)
        self._scan_timer.timeout.connect(self._draw_scan)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        # a key for bands other features draw on the timeline (the whole-video prediction): two lines that are always
        # there (its tooltip has it all if it is longer), so a key arriving never re-lays the window out
        self.band_legend = QLabel("")
        self.band_legend.setObjectName("timelineBandLegend")
        self.band_legend.setTextFormat(Qt.TextFormat.RichText)
        self.band_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.band_legend.setWordWrap(True)
        self.band_legend.setFixedHeight(2 * self.band_legend.fontMetrics().lineSpacing() + 4)
        # the flow scan's progress, under the noise curve it fills (in the toolbar it pushed the overlay controls
        # behind the overflow arrow); relabelled often, so a steady label
        self.scan_label = SteadyLabel("", chars=52, alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                                      colour="#5f6368")
        self.scan_label.setObjectName("scanStatus")
        self.scan_button = QPushButton("Stop scan")  # Stop while the scan runs, Resume after a stop (wired by the flow status)
        self.scan_button.setObjectName("scanButton")
        self.scan_button.setFlat(True)
        self.scan_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scan_button.setVisible(False)
        keys = QHBoxLayout()
        keys.setContentsMargins(0, 0, 0, 0)
        keys.addWidget(self.band_legend, 1)
        keys.addWidget(self.scan_label, 0, Qt.AlignmentFlag.AlignTop)
        keys.addWidget(self.scan_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot)
        layout.addLayout(keys)
        state.videoChanged.connect(self._on_video)
        state.frameChanged.connect(self._on_frame)
        state.scanChanged.connect(self._on_scan)
        state.thresholdChanged.connect(self.threshold_line.setValue)
        self.threshold_line.setValue(state.noise_threshold)
        self._fit_video()

    def set_band_legend(self, html_text: str) -> None:
        """The key line under the plot (empty: a blank line)."""
        if html_text != self.band_legend.text():
            self.band_legend.setText(html_text)
            self.band_legend.setToolTip(html_text)

    def _on_video(self, info: object) -> None:
        """The old video's curves go at once; the new frame axis (a repaint of the whole plot) waits for
        the next turn, so it is not painted together with the new video's first frame (see viewer.staging)."""
        empty = np.zeros(0)
        self.noise_curve.setData(empty, empty)
        self.magnitude_curve.setData(empty, empty)
        post_later(self, "frame axis", self._fit_video)

    def _fit_video(self) -> None:
        count = self.state.frame_count
        item = self.plot.getPlotItem()
        # no video: no frame numbers (a zero-width range made pyqtgraph label -0.4 ... 0.4)
        item.getAxis("bottom").setStyle(showValues=count > 0)
        item.setXRange(0, max(count - 1, 1), padding=0.01)  # the ViewBox ignores an unchanged range
        self._magnitude_top = None
        self._draw_scan()
        self._on_frame(self.state.frame_index)

    def _on_frame(self, index: int) -> None:
        if self.marker.value() == index:
            return
        self.marker.blockSignals(True)
        self.marker.setValue(index)
        self.marker.blockSignals(False)

    def _on_scan(self) -> None:
        """Draw a reset or a completed scan at once; coalesce the chunks in between (one redraw per interval)."""
        noise = self.state.flow_noise
        known = np.isfinite(noise)
        if known.all() or not known.any():
            self._draw_scan()
        elif not self._scan_timer.isActive():
            self._scan_timer.start()

    def _draw_scan(self) -> None:
        self._scan_timer.stop()
        noise, magnitude = self.state.flow_noise, self.state.flow_magnitude
        x = np.arange(len(noise), dtype=np.float64)
        self.noise_curve.setData(x, noise.astype(np.float64))
        self.magnitude_curve.setData(x, magnitude.astype(np.float64))
        finite = magnitude[np.isfinite(magnitude)]
        top = nice_ceiling(max(float(finite.max()) if finite.size else 1.0, 1e-3) * 1.05)
        if top != self._magnitude_top:  # the axis (and its layout) only change when the rounded top does
            self._magnitude_top = top
            self.magnitude_box.setYRange(0, top * 1.06, padding=0)  # room above the top tick for its label

    def _marker_moved(self, line: pg.InfiniteLine) -> None:
        self.state.set_frame(int(round(line.value())))

    def _clicked(self, event) -> None:  # noqa: ANN001 - pyqtgraph's mouse event
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        self.state.set_frame(int(round(x)))
