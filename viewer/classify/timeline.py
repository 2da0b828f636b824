"""Classification on the timeline: the clip region to classify and the prediction band.

The region (a pyqtgraph LinearRegionItem) covers the clip's frames, is moved
as a whole (its width is the model's clip span, so its edges are fixed) and
snaps to whole frames.  Above the noise curve a band shows the top class of
every sliding window, one colour per class; hovering it says which window,
which class and how sure.  Every window is labelled: with its class name where
the name fits, else with the class's number in the key under the timeline,
which also says what the colours and their paleness mean.
"""

from __future__ import annotations

import colorsys
import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QColor, QCursor, QFontMetricsF
from PySide6.QtWidgets import QToolTip

from core.export.burn_in import LabelTrack
from core.inference import VideoPrediction
from viewer.classify.state import ClassifyState
from viewer.widgets.timeline import Timeline

BAND_BOTTOM, BAND_HEIGHT = 1.04, 0.14
REGION_BRUSH = (26, 115, 232, 45)
REGION_HOVER_BRUSH = (26, 115, 232, 80)
MAX_LABELLED_WINDOWS = 200  # text items beyond this cost more than they tell (hover still does)
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf")  # no grey: grey read as "no result"
MIN_ALPHA = 0.45  # the palest window (probability 0): still its class's colour, not grey


def class_colour(index: int) -> QColor:
    """A fixed colour per class index: a ten-colour palette, then evenly spread hues."""
    if index < len(PALETTE):
        return QColor(PALETTE[index])
    r, g, b = colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.55, 0.85)
    return QColor(int(r * 255), int(g * 255), int(b * 255))


class ClassifyTimelineLayer(QObject):
    def __init__(self, timeline: Timeline, state: ClassifyState, parent: QObject | None = None) -> None:
        super().__init__(parent or timeline)
        self.timeline, self.state = timeline, state
        self.plot_item = timeline.plot.getPlotItem()
        self.plot_item.setYRange(0, BAND_BOTTOM + BAND_HEIGHT, padding=0.02)
        self.region = pg.LinearRegionItem(values=(-0.5, 15.5), movable=True, brush=REGION_BRUSH, hoverBrush=REGION_HOVER_BRUSH)
        for line in self.region.lines:
            line.setMovable(False)  # the clip's length is the model's: move it, do not resize it
            line.setPen(pg.mkPen((26, 115, 232, 160), width=1))
        self.region.setZValue(-5)
        self.region.setToolTip("The clip to classify: drag it (it snaps to frames); Classify clip (C) runs it")
        self.region.sigRegionChanged.connect(self._dragged)  # snaps live while dragging
        self.region.sigRegionChangeFinished.connect(self._dragged)  # and where the mouse lets go
        self.plot_item.addItem(self.region)
        self.band = pg.BarGraphItem(x0=[], width=[], y0=BAND_BOTTOM, height=BAND_HEIGHT, brushes=[], pen=pg.mkPen("w", width=1))
        self.plot_item.addItem(self.band)
        self.labels: list[pg.TextItem] = []
        self.windows: list[tuple[int, int, str, float]] = []  # first frame, end (exclusive), label, probability
        self.hover_text = ""
        self._placing = False
        timeline.plot.scene().sigMouseMoved.connect(self._hovered)
        self.plot_item.vb.sigResized.connect(lambda _vb: self.fit_labels())
        self.plot_item.vb.sigXRangeChanged.connect(lambda *_a: self.fit_labels())
        state.regionChanged.connect(self._place)
        state.modelChanged.connect(lambda _m: self._place(state.region_start))
        state.timelineChanged.connect(self.show_timeline)
        self._place(state.region_start)

    # -- the region ---------------------------------------------------------------------------
    def region_bounds(self, start: int) -> tuple[float, float]:
        last = start + self.state.span - 1
        return start - 0.5, last + 0.5

    def _place(self, start: int) -> None:
        self._placing = True
        try:
            self.region.setRegion(self.region_bounds(start))
        finally:
            self._placing = False
        self.region.setVisible(self.state.frame_count > 0)

    def _dragged(self) -> None:
        if self._placing:
            return
        lo, hi = self.region.getRegion()
        start = int(np.floor((lo + hi) / 2.0 - (self.state.span - 1) / 2.0 + 0.5))  # from the centre: whole frames
        self.state.drag_region(start)
        self._place(self.state.region_start)  # snap (and undo any width change)

    # -- the prediction band -------------------------------------------------------------------
    def show_timeline(self, timeline: VideoPrediction | None) -> None:
        self.windows = []
        if timeline is None or not timeline.clips:
            self.band.setOpts(x0=[], width=[], brushes=[])
            self._set_labels()
            self.timeline.set_band_legend("")
            return
        names = list(timeline.class_names)
        x0, widths, brushes = [], [], []
        # the frames each window covers, by the rule the burned-in export labels follow
        for start, last, label, probability in LabelTrack.from_predictions(timeline.clips, "whole video").windows:
            self.windows.append((start, last + 1, label, probability))
            x0.append(start - 0.5)
            widths.append(last + 1 - start)
            colour = class_colour(names.index(label))
            colour.setAlphaF(MIN_ALPHA + (1.0 - MIN_ALPHA) * probability)  # paler when unsure
            brushes.append(pg.mkBrush(colour))
        self.band.setOpts(x0=x0, width=widths, y0=BAND_BOTTOM, height=BAND_HEIGHT, brushes=brushes)
        self._set_labels()
        self.timeline.set_band_legend(self.legend_html(timeline))

    def class_keys(self) -> dict[str, int]:
        """Each class shown in the band, numbered 1.. in order of first appearance (the key's order)."""
        keys: dict[str, int] = {}
        for _start, _end, label, _prob in self.windows:
            keys.setdefault(label, len(keys) + 1)
        return keys

    def legend_html(self, timeline: VideoPrediction) -> str:
        """The key under the timeline: each class's colour and number, and how to read the band."""
        names = list(timeline.class_names)
        items = []
        for label, key in self.class_keys().items():
            colour = class_colour(names.index(label)).name()
            items.append(f'<span style="color:{colour}">&#9632;</span>&nbsp;{key}&nbsp;{html.escape(label)}')
        return (
            f'<span style="color:#5f6368">Band above: top class of each of the {len(self.windows)} windows (paler = less sure; '
            f"a narrow window shows its class's number):</span> " + " &nbsp; ".join(items)
        )

    def _set_labels(self) -> None:
        """One text item per window (reused as a partial timeline grows); :meth:`fit_labels` picks name or number."""
        wanted = self.windows if len(self.windows) <= MAX_LABELLED_WINDOWS else []
        while len(self.labels) > len(wanted):
            self.plot_item.removeItem(self.labels.pop())
        for i, (start, end, label, _prob) in enumerate(wanted):
            if i == len(self.labels):
                text = pg.TextItem("", color="#202124", anchor=(0.5, 0.5))
                self.plot_item.addItem(text)
                self.labels.append(text)
            text = self.labels[i]
            text.setPos((start + end - 1) / 2.0, BAND_BOTTOM + BAND_HEIGHT / 2.0)
        self.fit_labels()

    def fit_labels(self) -> None:
        """Label each window with its class name where it fits, else with the class's key number;
        only a window too narrow for even that goes without (hover tells)."""
        width_px = self.plot_item.vb.width()
        x_min, x_max = self.plot_item.vb.viewRange()[0]
        px_per_frame = width_px / max(x_max - x_min, 1e-9)
        keys = self.class_keys()
        metrics = None
        for text, (start, end, label, _prob) in zip(self.labels, self.windows):
            room = (end - start) * px_per_frame - 6
            if metrics is None:
                metrics = QFontMetricsF(text.textItem.font())
            wanted = label if metrics.horizontalAdvance(label) <= room else str(keys[label])
            if text.toPlainText() != wanted:
                text.setText(wanted)
            text.setVisible(metrics.horizontalAdvance(wanted) <= room)

    def window_text(self, frame: float) -> str:
        """Hover text for the band at ``frame`` (empty where there is no window)."""
        for start, end, label, prob in self.windows:
            if start - 0.5 <= frame < end - 0.5:
                return f"frames {start}-{end - 1}: {label} ({prob:.1%})"
        return ""

    def _hovered(self, scene_pos: QPointF) -> None:
        vb = self.plot_item.vb
        text = ""
        if self.windows and vb.sceneBoundingRect().contains(scene_pos):
            point = vb.mapSceneToView(scene_pos)
            if point.y() >= BAND_BOTTOM:
                text = self.window_text(point.x())
        if text != self.hover_text:
            self.hover_text = text
            if text:
                QToolTip.showText(QCursor.pos(), text, self.timeline.plot)
            else:
                QToolTip.hideText()
