"""A frame view: an image, named overlay layers, pan and zoom.

pyqtgraph's ImageItem with uint8 RGB data and fixed levels takes its no-copy
path; each overlay (flow quality, attention heat map, ...) is another ImageItem
in the same ViewBox, so it stays aligned through zoom and pan.  Layers are named
so that independent features can add and remove their own without knowing about
each other, and ``composite()`` blends them in numpy exactly as shown, for export
and for tests that check pixels.

Besides pixel layers a view has vector marks that cost nothing per frame: a
shaded region (outside the model's crop), and line segments (flow arrows).
Both are given in fractions of the frame, so they sit right on a view whose
image is smaller than the video (the flow at analysis size).  The view reports
the mouse position in its image's pixels (``hovered``) and its visible part as
fractions (``rangeChangedByUser``) so two views can be linked.  Clearing the view
drops its arrows too: they belong to the frame they were drawn for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGridLayout, QLabel, QVBoxLayout, QWidget

from core.export.heatmap import blend_rgba
from viewer.widgets.steady_label import SteadyLabel


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


Fractions = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the frame's width and height
MARK_Z, ARROW_Z = 40.0, 50.0


class FrameView(QWidget):
    hovered = Signal(float, float)  # the mouse over the image, in its pixels (x, y); (-1, -1) when it leaves
    rangeChangedByUser = Signal(object)  # the visible part, as Fractions, after the user zoomed or panned
    imageChanged = Signal()  # a new frame is shown, or the view was cleared: what reads its pixels reads again

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
        # relabelled on every frame: a steady label (no window relayout), two lines (a long caption wraps
        # instead of widening this view and squeezing the other)
        self.caption = SteadyLabel("", chars=20, lines=2, alignment=Qt.AlignmentFlag.AlignCenter, colour="#9aa0a6")
        # what to do while the view has no picture (no video open): drawn over the dark view, never beside it
        self.hint = QLabel("")
        self.hint.setObjectName("viewHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #bdc1c6; background: transparent; padding: 12px;")
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setVisible(False)
        picture = QGridLayout()
        picture.setContentsMargins(0, 0, 0, 0)
        picture.addWidget(self.graphics, 0, 0)
        picture.addWidget(self.hint, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addLayout(picture, 1)
        layout.addWidget(self.caption)
        self._shape: tuple[int, ...] | None = None
        self._fitted: tuple[int, ...] | None = None  # the frame size the zoom was last fitted to
        self._region_mark: Fractions | None = None
        self.region_item = QGraphicsPathItem()  # shaded outside a region (the model's crop)
        self.region_item.setBrush(QBrush(QColor(0, 0, 0, 120)))
        self.region_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.region_item.setZValue(MARK_Z)
        self.region_item.setVisible(False)
        self.view_box.addItem(self.region_item)
        self.region_edge = QGraphicsPathItem()
        edge_pen = QPen(QColor(255, 255, 255, 200), 1.0, Qt.PenStyle.DashLine)
        edge_pen.setCosmetic(True)
        self.region_edge.setPen(edge_pen)
        self.region_edge.setZValue(MARK_Z)
        self.view_box.addItem(self.region_edge)
        self._segments: np.ndarray | None = None  # (N, 4) fractions x0, y0, x1, y1
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen((25, 25, 25, 230), width=1), connect="pairs", antialias=False)  # dark: flow colours are pale where motion is small; 1 px: Qt's fast line path, no stroking per segment
        self.arrows.setZValue(ARROW_Z)
        self.arrows.setVisible(False)
        self.view_box.addItem(self.arrows)
        self._applying_range = False
        self._hovered_pixel: tuple[int, int] | None = None
        self.view_box.sigRangeChangedManually.connect(lambda *_a: self._range_changed())
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)

    def set_frame(self, frame: np.ndarray | None) -> None:
        """Show an (H, W, 3) uint8 RGB frame; ``None`` clears the view, its arrows with it (the region mark waits for the next frame)."""
        if frame is None:
            self.image.clear()
            self._shape = None
            self.hint.setVisible(bool(self.hint.text()))
            self._segments = None  # another frame's arrows must not come back over the next one
            self._draw_region_mark()
            self._draw_segments()
            self.imageChanged.emit()
            return
        self.hint.setVisible(False)
        self.image.setImage(frame, levels=None, autoLevels=False)  # uint8 RGB as is: no per-paint rescale through levels
        if frame.shape != self._shape:  # new size: fit the whole frame, stretch the overlays and marks over it
            self._shape = frame.shape
            for layer in self._overlays.values():
                self._place(layer)
            self._draw_region_mark()
            self._draw_segments()
        if frame.shape != self._fitted:  # a frame after a clear (the flow view waiting) keeps the user's zoom
            self._fitted = frame.shape
            self.view_box.autoRange(padding=0.0)
            # the new range's transform now, not in the paint: set there, it dirtied the scene again after the paint
            # and the window painted twice (pyqtgraph defers it to the scene's prepareForPaint)
            self.view_box.prepareForPaint()
        self.imageChanged.emit()

    def set_pixel_aspect(self, ratio: float) -> None:
        """Draw each image pixel ``ratio`` times as wide as it is tall (a video's sample aspect ratio: 32/27 for
        anamorphic 16:9 DVD), as a player shows it; the image, hover positions and overlays stay in its own pixels.
        The next frame is fitted whole."""
        if not ratio > 0:
            raise ValueError(f"a pixel aspect ratio must be positive, got {ratio}")
        self.view_box.setAspectLocked(True, ratio=float(ratio))
        self._fitted = None

    def refit(self) -> None:
        """Fit the next frame whole, whatever its size (another video: the zoom of the last one does not carry over)."""
        self._fitted = None

    def set_hint(self, text: str) -> None:
        """Say ``text`` over the view while it shows no picture (what to do to fill it); "" says nothing."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text) and self._shape is None)

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

    # -- vector marks -------------------------------------------------------------------------------
    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of the shown image, or ``None`` when empty."""
        return None if self._shape is None else (int(self._shape[0]), int(self._shape[1]))

    def set_region_mark(self, region: Fractions | None, tooltip: str = "") -> None:
        """Shade everything outside ``region`` (fractions of the frame), with a dashed edge; ``None`` removes it."""
        self._region_mark = None if region is None else tuple(float(v) for v in region)  # type: ignore[assignment]
        self.region_item.setToolTip(tooltip)
        self._draw_region_mark()

    def region_mark(self) -> Fractions | None:
        return self._region_mark

    def _draw_region_mark(self) -> None:
        size = self.image_size()
        shown = self._region_mark is not None and size is not None
        self.region_item.setVisible(shown)
        self.region_edge.setVisible(shown)
        if not shown:
            return
        height, width = size  # type: ignore[misc]
        x0, y0, x1, y1 = self._region_mark  # type: ignore[misc]
        inner = QRectF(x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)
        outside = QPainterPath()
        outside.addRect(QRectF(0.0, 0.0, float(width), float(height)))
        outside.addRect(inner)  # odd-even fill: the frame minus the region
        self.region_item.setPath(outside)
        edge = QPainterPath()
        edge.addRect(inner)
        self.region_edge.setPath(edge)

    def set_segments(self, segments: np.ndarray | None) -> None:
        """Draw line segments ``(N, 4)`` (x0, y0, x1, y1 as fractions of the frame); ``None`` or empty hides them."""
        self._segments = None if segments is None or len(segments) == 0 else np.asarray(segments, dtype=np.float64).reshape(-1, 4)
        self._draw_segments()

    def _draw_segments(self) -> None:
        size = self.image_size()
        if self._segments is None or size is None:
            self.arrows.setVisible(False)
            return
        height, width = size
        xs = self._segments[:, [0, 2]].reshape(-1) * width
        ys = self._segments[:, [1, 3]].reshape(-1) * height
        self.arrows.setData(xs, ys)
        self.arrows.setVisible(True)

    # -- the mouse and the visible part -----------------------------------------------------------
    def visible_fractions(self) -> Fractions | None:
        """The visible part of the frame as fractions (beyond 0..1 when zoomed out past the frame)."""
        size = self.image_size()
        if size is None:
            return None
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        height, width = size
        return x0 / width, y0 / height, x1 / width, y1 / height

    def show_fractions(self, fractions: Fractions) -> None:
        """Show that part of the frame (another view's :meth:`visible_fractions`), without echoing it back."""
        size = self.image_size()
        if size is None:
            return
        height, width = size
        x0, y0, x1, y1 = fractions
        self._applying_range = True
        try:
            self.view_box.setRange(xRange=(x0 * width, x1 * width), yRange=(y0 * height, y1 * height), padding=0.0)
        finally:
            self._applying_range = False

    def _range_changed(self) -> None:
        if not self._applying_range:
            fractions = self.visible_fractions()
            if fractions is not None:
                self.rangeChangedByUser.emit(fractions)

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        """Say which image pixel is under the mouse, once per pixel (not once per mouse event)."""
        size = self.image_size()
        x, y = -1.0, -1.0
        if size is not None and self.view_box.sceneBoundingRect().contains(scene_pos):
            point = self.view_box.mapSceneToView(scene_pos)
            if 0 <= point.x() < size[1] and 0 <= point.y() < size[0]:
                x, y = point.x(), point.y()
        pixel = (int(x), int(y)) if x >= 0 else None
        if pixel != self._hovered_pixel:
            self._hovered_pixel = pixel
            self.hovered.emit(x, y)
