"""The cursor readout: what is under the mouse in either view (napari's status line for layers).

The text is built by a plain function from what the views show (the frame, the
flow field and the flow's quality maps), so a test can check it against known
pixels.  Positions are given as fractions of the frame, so the same point is
read in both views whatever their image sizes; flow vectors, and noise measured
in pixels (the forward-backward inconsistency), are stated in the video's
pixels (the flow may be computed at a smaller analysis size) by the open
video's one factor, which the flow frame carries: the same as the captions,
the timeline and the exports, never worked out again from the arrays' shapes.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QWidget

IDLE_TEXT = "hover a view: pixel value, flow and noise"
READOUT_WIDTH = 720


def _at(image: np.ndarray, fx: float, fy: float) -> tuple[int, int]:
    """(row, col) of the pixel of ``image`` at fractions ``fx``, ``fy`` of its width and height."""
    height, width = image.shape[:2]
    return min(height - 1, max(0, int(fy * height))), min(width - 1, max(0, int(fx * width)))


def readout_text(fx: float, fy: float, *, frame: np.ndarray | None, field: np.ndarray | None = None,
                 noise: dict[str, tuple[np.ndarray, str]] | None = None, flow_note: str = "", video_pixels: float) -> str:
    """One line for the point at fractions (``fx``, ``fy``) of the frame: its pixel position and RGB value,
    the flow (u, v and magnitude, in frame pixels per frame) and each noise map's value there.

    ``video_pixels`` is the flow frame's factor (video pixels per analysis pixel) that states ``field``'s
    vectors and the "px" maps in the video's pixels.

    ``flow_note`` stands in for the flow when there is no field (say, the pair's flow is still computed),
    so a missing vector reads as "not known yet" rather than as a readout without flow."""
    if frame is None or not (0.0 <= fx < 1.0 and 0.0 <= fy < 1.0):
        return IDLE_TEXT
    row, col = _at(frame, fx, fy)
    r, g, b = (int(c) for c in frame[row, col, :3])
    parts = [f"x {col}, y {row}", f"RGB {r} {g} {b}"]
    if field is None and flow_note:
        parts.append(flow_note)
    if field is not None:
        frow, fcol = _at(field, fx, fy)
        u, v = float(field[frow, fcol, 0]) * video_pixels, float(field[frow, fcol, 1]) * video_pixels
        parts.append(f"flow u {u:+.2f}, v {v:+.2f}, |w| {np.hypot(u, v):.2f} px")
    for name, (values, unit) in (noise or {}).items():
        nrow, ncol = _at(values, fx, fy)
        value = float(values[nrow, ncol])
        if unit == "px":  # a length measured at the analysis size, stated in frame pixels as the flow is
            value *= video_pixels
        parts.append(f"{name} {value:.2f} {unit}")
    return " · ".join(parts)


class CursorReadout(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(IDLE_TEXT, parent)
        self.setToolTip("What is under the mouse in either view: pixel position and RGB value, the flow vector "
                        "(u right, v down, in video pixels per frame) and the flow's noise measures there")
        self.setObjectName("cursorReadout")
        self.setStyleSheet("color: #5f6368;")
        # one size (width and height: a label fixed both ways asks its layout for nothing when its text changes):
        # the window never re-lays out as the mouse moves
        self.setFixedSize(READOUT_WIDTH, self.fontMetrics().lineSpacing() + 4)
