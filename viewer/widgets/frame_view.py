"""A frame view: an image, named overlay layers, pan and zoom.

pyqtgraph's ImageItem with uint8 RGB data and fixed levels takes its no-copy
path; each overlay (flow quality, attention heat map, ...) is another ImageItem
in the same ViewBox, so it stays aligned through zoom and pan.  Layers are named
so that independent features can add and remove their own without knowing about
each other, and ``composite()`` blends them in numpy exactly as shown, for export
and for tests that check pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.export.heatmap import blend_rgba


@dataclass
class OverlayLayer:
    """One named overlay: an (h, w, 4) uint8 RGBA image stretched over the frame."""

    rgba: np.ndarray
    opacity: float
    item: pg.ImageItem


def as_rgba(image: np.ndarray) -> np.ndarray:
    """Validate an overlay image: (h, w, 4) uint8 RGBA, or (h, w, 3) RGB made opaque."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"an overlay must be an (h, w, 4) uint8 RGBA image, got {image.dtype} {image.shape}")
    if image.shape[2] == 3:
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(image)


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
        self.view_box.addItem(self.image)
        self._overlays: dict[str, OverlayLayer] = {}
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
        self.image.setImage(frame, levels=None, autoLevels=False)  # uint8 RGB as is: no per-paint rescale through levels
        if frame.shape != self._shape:  # new size: fit the whole frame, stretch the overlays over it
            self._shape = frame.shape
            for layer in self._overlays.values():
                self._place(layer)
            self.view_box.autoRange(padding=0.0)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def current_image(self) -> np.ndarray | None:
        return self.image.image

    # -- named overlay layers ---------------------------------------------------
    def set_overlay(self, name: str, rgba: np.ndarray | None, *, opacity: float | None = None, z: float = 10.0) -> None:
        """Show an (h, w, 4) uint8 RGBA layer named ``name`` over the frame; ``None`` removes it.

        A layer of another size than the frame (a heat map at token resolution)
        is stretched to cover the whole frame.  ``opacity`` multiplies the
        layer's own alpha; left out, a layer keeps the opacity it had (1.0 new).
        Layers with a higher ``z`` are drawn on top.
        """
        layer = self._overlays.get(name)
        if rgba is None:
            if layer is not None:
                self.view_box.removeItem(layer.item)
                del self._overlays[name]
            return
        rgba = as_rgba(rgba)
        if layer is None:
            item = pg.ImageItem(axisOrder="row-major")
            self.view_box.addItem(item)
            layer = OverlayLayer(rgba, 1.0, item)
            self._overlays[name] = layer
        layer.rgba = rgba
        if opacity is not None:
            layer.opacity = min(max(float(opacity), 0.0), 1.0)
        layer.item.setZValue(z)
        layer.item.setOpacity(layer.opacity)
        layer.item.setImage(rgba, levels=None, autoLevels=False)  # uint8 RGBA as is: pyqtgraph's no-copy path (with levels it took makeARGB, ~1.6 ms a 720p layer per paint)
        self._place(layer)

    def set_overlay_opacity(self, name: str, opacity: float) -> None:
        layer = self._overlays.get(name)
        if layer is not None:
            layer.opacity = min(max(float(opacity), 0.0), 1.0)
            layer.item.setOpacity(layer.opacity)

    def overlay(self, name: str) -> np.ndarray | None:
        """The RGBA image of the layer ``name`` as given, or ``None`` when it is not shown."""
        layer = self._overlays.get(name)
        return None if layer is None else layer.rgba

    def overlay_names(self) -> list[str]:
        """Layer names from bottom to top."""
        return [name for name, _ in sorted(self._overlays.items(), key=lambda kv: kv[1].item.zValue())]

    def composite(self) -> np.ndarray | None:
        """The frame with every overlay blended in, as an (H, W, 3) uint8 array: what the view shows, at frame pixels."""
        frame = self.image.image
        if frame is None:
            return None
        out = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
        for name in self.overlay_names():
            layer = self._overlays[name]
            out = blend_rgba(out, layer.rgba, layer.opacity)
        return out

    def _place(self, layer: OverlayLayer) -> None:
        """Stretch a layer over the frame's rectangle (or its own size while there is no frame)."""
        height, width = (self._shape[:2] if self._shape is not None else layer.rgba.shape[:2])
        layer.item.setRect(QRectF(0.0, 0.0, float(width), float(height)))
