"""A frame view: an image, an optional heat-map overlay, pan and zoom.

pyqtgraph's ImageItem with uint8 RGB data and fixed levels takes its no-copy
path; the overlay is a second ImageItem in the same ViewBox, so it stays
aligned through zoom and pan.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class FrameView(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-weight: 600; padding: 2px;")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.view_box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(10)
        self.overlay.setVisible(False)
        self.view_box.addItem(self.image)
        self.view_box.addItem(self.overlay)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet("color: #9aa0a6;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self._shape: tuple[int, ...] | None = None

    def set_frame(self, frame: np.ndarray | None) -> None:
        """Show an (H, W, 3) uint8 RGB frame; ``None`` clears the view."""
        if frame is None:
            self.image.clear()
            self._shape = None
            return
        self.image.setImage(frame, levels=(0, 255), autoLevels=False)
        if frame.shape != self._shape:  # new size: fit the whole frame
            self._shape = frame.shape
            self.view_box.autoRange(padding=0.0)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def current_image(self) -> np.ndarray | None:
        return self.image.image
