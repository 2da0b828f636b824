"""Per-pixel measures as colour: flow quality on fixed scales, and their legends.

Plain numpy (OpenCV for resizing and outlines), no Qt, so the viewer and every
export colour a map the same way.

Flow quality (forward-backward inconsistency, warp error) uses a fixed scale
(never "the largest value of this frame"), so the same inconsistency has the
same colour on every frame and in every export; the inconsistency's is in the
video's pixels (2 px of the frame the user sees), whatever size the flow was
computed at.  Values near zero are
transparent, so a clean flow field shows through; the colour saturates at the
scale's maximum.  A 256-entry RGBA lookup table keeps the rendering to one
index computation and one gather: a few milliseconds for a 480p map, cheap
enough for the GUI thread.

A prediction's heat maps are drawn by :mod:`core.export.prediction_heat` with the
same interpolation (:func:`ramp`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

TRANSPARENT_BELOW = 0.05  # share of the scale under which a pixel is left fully transparent
OPAQUE_FROM = 0.5  # share of the scale from which alpha is at its top
TOP_ALPHA = 235


@dataclass(frozen=True)
class HeatScale:
    """How one per-pixel measure becomes colour: 0 .. ``maximum`` ``unit`` over ``anchors``."""

    name: str
    label: str
    unit: str
    maximum: float
    anchors: tuple[tuple[float, tuple[int, int, int]], ...]

    def lut(self) -> np.ndarray:
        """(256, 4) uint8 RGBA: colour along the anchors, alpha rising from transparent."""
        return _lut(self)


INCONSISTENCY_SCALE = HeatScale(
    name="inconsistency",
    label="forward-backward inconsistency",
    unit="px",
    maximum=2.0,
    anchors=((0.0, (120, 0, 0)), (0.4, (235, 30, 20)), (0.75, (255, 200, 0)), (1.0, (255, 255, 210))),
)
WARP_ERROR_SCALE = HeatScale(
    name="warp_error",
    label="warp error",
    unit="grey levels",
    maximum=60.0,
    anchors=((0.0, (10, 0, 140)), (0.4, (20, 90, 255)), (0.75, (0, 220, 255)), (1.0, (210, 255, 255))),
)
QUALITY_SCALES = {scale.name: scale for scale in (INCONSISTENCY_SCALE, WARP_ERROR_SCALE)}

_LUTS: dict[str, np.ndarray] = {}


def ramp(anchors: Sequence[tuple[float, tuple[int, int, int]]], values: np.ndarray) -> np.ndarray:
    """``(len(values), 3)`` float RGB, linear between ``anchors`` ``(position, (r, g, b))``: every
    colour table here is built from such a ramp."""
    positions = [float(p) for p, _ in anchors]
    return np.stack([np.interp(values, positions, [float(c[k]) for _, c in anchors]) for k in range(3)], axis=1)


def _lut(scale: HeatScale) -> np.ndarray:
    cached = _LUTS.get(scale.name)
    if cached is not None and cached.shape == (256, 4):
        return cached
    t = np.linspace(0.0, 1.0, 256)
    rgb = ramp(scale.anchors, t)
    alpha = np.clip((t - TRANSPARENT_BELOW) / (OPAQUE_FROM - TRANSPARENT_BELOW), 0.0, 1.0) * TOP_ALPHA
    table = np.concatenate([rgb, alpha[:, None]], axis=1).round().astype(np.uint8)
    table.setflags(write=False)
    _LUTS[scale.name] = table
    return table


def heat_rgba(values: np.ndarray, scale: HeatScale, *, opacity: float = 1.0, to_scale_unit: float = 1.0) -> np.ndarray:
    """An (H, W) map of ``scale``'s measure as an (H, W, 4) uint8 RGBA overlay.

    ``opacity`` (0..1) multiplies the alpha, so the result can be blended as is
    (an export) or shown with the opacity left to the view (``opacity=1``).
    ``to_scale_unit`` is the scale's units per unit of ``values``: a length
    measured at the flow's analysis size is coloured in the video's pixels
    (:func:`core.flow.analysis_size.video_pixels_per_analysis_pixel`), as the
    legend states it, with no pass over the map of its own.
    NaN counts as 0 (nothing known, nothing drawn).
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a quality map must be a non-empty (H, W) array, got shape {values.shape}")
    scaled = values.astype(np.float32) * np.float32(255.0 * to_scale_unit / scale.maximum)  # +inf stays +inf: the top colour
    np.minimum(scaled, 255.0, out=scaled)
    scaled[~(scaled >= 0.0)] = 0.0  # NaN and negatives
    table = _lut(scale)
    if opacity < 1.0:
        table = table.copy()
        table[:, 3] = np.round(table[:, 3] * max(0.0, float(opacity))).astype(np.uint8)
    return np.take(table, scaled.astype(np.uint8), axis=0)  # 4x faster than table[index]: it runs on the GUI thread per pair


def blend_rgba(base: np.ndarray, rgba: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Alpha-blend an RGBA layer (its alpha times ``opacity``) over an RGB uint8 image,
    stretching the layer to the image (bilinear), as the viewer draws it."""
    import cv2

    if base.ndim != 3 or base.shape[2] != 3 or base.dtype != np.uint8:
        raise ValueError(f"base must be an (H, W, 3) uint8 image, got {base.dtype} {base.shape}")
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"layer must be an (h, w, 4) uint8 RGBA image, got {rgba.dtype} {rgba.shape}")
    height, width = base.shape[:2]
    if rgba.shape[:2] != (height, width):
        rgba = cv2.resize(rgba, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = rgba[..., 3:4].astype(np.float32) * np.float32(min(max(float(opacity), 0.0), 1.0) / 255.0)
    mixed = base.astype(np.float32) * (1.0 - alpha) + rgba[..., :3].astype(np.float32) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


LEGEND_HEIGHT = 22  # the height of one legend row (drawn by core.export.legend.legend_rows)
