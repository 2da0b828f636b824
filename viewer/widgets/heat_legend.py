"""A colour legend for the quality overlays: each scale's gradient with its range and unit."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.export.heatmap import HeatScale

BAR_SIZE = (160, 12)


def gradient_pixmap(scale: HeatScale, width: int = BAR_SIZE[0], height: int = BAR_SIZE[1]) -> QPixmap:
    """The scale's colours from 0 (left) to its maximum (right), opaque, as drawn at full alpha."""
    colours = scale.lut()[np.linspace(0, 255, width).astype(np.int64), :3]
    strip = np.ascontiguousarray(np.broadcast_to(colours[None], (height, width, 3)))
    image = QImage(strip.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage must not outlive the numpy buffer


NO_OVERLAY_HINT = "Flow inspection: no overlay (toolbar: Inconsistency I, Warp error W)"


class HeatLegend(QWidget):
    """One row: "label 0 [gradient] max unit" per active scale, or a hint when there is none.

    The row keeps one fixed height whatever it shows: hiding and showing it
    re-laid the window out, and repainting every view and axis at new sizes
    stalled the GUI thread ~30 ms on each overlay toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("qualityLegend")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 0, 4, 0)
        self._layout.setSpacing(6)
        self.scales: list[HeatScale] = []
        self.hint = QLabel(NO_OVERLAY_HINT)
        self.hint.setStyleSheet("color: palette(mid);")
        self.setFixedHeight(max(BAR_SIZE[1], self.hint.sizeHint().height()) + 4)
        self.set_scales([])

    def set_scales(self, scales: list[HeatScale], target: str = "") -> None:
        self.scales = list(scales)
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        if not self.scales:
            self.hint = QLabel(NO_OVERLAY_HINT)
            self.hint.setStyleSheet("color: palette(mid);")
            self._layout.addWidget(self.hint)
        elif target:
            where = QLabel(f"Overlay on the {target.upper() if target == 'rgb' else target} view:")
            self._layout.addWidget(where)
        for scale in self.scales:
            self._layout.addWidget(QLabel(f"  {scale.label}  0"))
            bar = QLabel()
            bar.setPixmap(gradient_pixmap(scale))
            bar.setToolTip(f"{scale.label}: transparent near 0, saturated at {scale.maximum:g} {scale.unit} and above (a fixed scale: same colour, same value on every frame)")
            self._layout.addWidget(bar)
            self._layout.addWidget(QLabel(f"{scale.maximum:g}+ {scale.unit}"))
        self._layout.addStretch(1)
