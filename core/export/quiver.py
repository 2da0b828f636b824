"""A flow field as arrows (a quiver): line segments on a regular grid, as fractions of the frame.

Plain numpy, so the viewer's worker computes the segments and the GUI thread
only hands them to the view (one line item, no per-pixel work).  Arrows are
averaged over their grid cell (a single pixel's flow is noisy) and drawn at a
length that is stated, never silently changed per frame: ``scale`` pixels of
arrow per pixel of motion, chosen once by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD_SHARE, HEAD_ANGLE = 0.3, np.deg2rad(25.0)  # arrowhead: 30% of the arrow, 25 degrees off its shaft


@dataclass(frozen=True)
class Quiver:
    """Segments ``(N, 4)`` (x0, y0, x1, y1 as fractions of the frame): each arrow's shaft then its
    two head strokes; ``scale`` is the arrow length per pixel of motion, ``step`` the grid in pixels."""

    segments: np.ndarray
    scale: float
    step: int


def quiver(flow: np.ndarray, *, step: int = 16, scale: float = 1.0, min_motion: float = 0.25) -> Quiver:
    """Arrows for an ``(H, W, 2)`` flow field (u right, v down, in pixels): one per ``step`` x ``step``
    cell with the cell's mean motion, drawn ``scale`` times its length; cells moving less than
    ``min_motion`` pixels get none (a field of dots says nothing)."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] < 1 or flow.shape[1] < 1:
        raise ValueError(f"a flow field must be (H, W, 2), got shape {flow.shape}")
    if step < 1 or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"step must be >= 1 and scale positive, got step={step}, scale={scale}")
    height, width = flow.shape[:2]
    rows, cols = max(1, height // step), max(1, width // step)
    cells = np.nan_to_num(flow[: rows * step, : cols * step]).reshape(rows, min(step, height), cols, min(step, width), 2).mean(axis=(1, 3))
    cy, cx = np.meshgrid((np.arange(rows) + 0.5) * min(step, height), (np.arange(cols) + 0.5) * min(step, width), indexing="ij")
    u, v = cells[..., 0].ravel(), cells[..., 1].ravel()
    x0, y0 = cx.ravel(), cy.ravel()
    keep = np.hypot(u, v) >= min_motion
    x0, y0, dx, dy = x0[keep], y0[keep], u[keep] * scale, v[keep] * scale
    x1, y1 = x0 + dx, y0 + dy
    angle = np.arctan2(dy, dx)
    head = HEAD_SHARE * np.hypot(dx, dy)
    strokes = [np.stack([x0, y0, x1, y1], axis=1)]
    for side in (1.0, -1.0):
        back = angle + np.pi - side * HEAD_ANGLE
        strokes.append(np.stack([x1, y1, x1 + head * np.cos(back), y1 + head * np.sin(back)], axis=1))
    segments = np.concatenate(strokes, axis=0) if len(x0) else np.zeros((0, 4))
    segments = segments / np.array([width, height, width, height], dtype=np.float64)
    return Quiver(segments.astype(np.float64), float(scale), int(step))


def arrow_scale(flow: np.ndarray, step: int, percentile: float = 95.0) -> float:
    """A length multiplier that draws the ``percentile`` motion about one grid step long
    (small motions still visible, large ones not crossing the frame); at most 8x, at least 0.25x."""
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    typical = float(np.nanpercentile(magnitude, percentile)) if magnitude.size else 0.0
    if not np.isfinite(typical) or typical <= 1e-6:
        return 1.0
    return float(np.clip(0.9 * step / typical, 0.25, 8.0))
