"""The confusion matrix as a PNG that stays readable from 10 to 101 classes.

The figure grows with the class count (about 0.16 inch a class beyond a
minimum), tick labels shrink to fit, and cell values are written in the
cells only while they can be read (up to 30 classes).  Colours are the
row-normalised matrix (each true class sums to 1, so a rare class is as
visible as a frequent one) or the raw counts; the colour scale is fixed to
[0, 1] for normalised matrices so two PNGs compare at a glance.

matplotlib draws on an Agg canvas of its own (no screen, no pyplot state) and is
imported only here.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from core.evaluation.metrics import row_normalised

NORMALISED = "normalised"
COUNTS = "counts"
MODES = (NORMALISED, COUNTS)
ANNOTATE_UP_TO = 30  # classes; beyond this the numbers would be unreadable


def confusion_png(
    matrix: np.ndarray,
    class_names: Sequence[str],
    *,
    mode: str = NORMALISED,
    title: str = "",
) -> bytes:
    """Render ``matrix`` (rows = true class, columns = predicted) to PNG bytes.

    Bytes rather than a file so the caller writes them atomically, together
    with the metrics, only once the whole evaluation has finished.
    """
    matrix = np.asarray(matrix)
    n = len(class_names)
    if matrix.shape != (n, n):
        raise ValueError(f"confusion matrix shape {matrix.shape} does not match {n} class names")
    if mode not in MODES:
        raise ValueError(f"confusion mode must be one of {', '.join(MODES)}, got {mode!r}")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = row_normalised(matrix) if mode == NORMALISED else matrix.astype(np.float64)
    side = max(5.0, 1.6 + 0.16 * n)
    row_points = 0.8 * side * 72.0 / max(n, 1)  # the height of one row, in points
    tick_size = float(np.clip(0.55 * row_points, 4.0, 10.0))
    fig = Figure(figsize=(side + 1.2, side), dpi=100 if n <= 40 else 150)
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global backend
    ax = fig.add_subplot(1, 1, 1)
    vmax = 1.0 if mode == NORMALISED else max(1.0, float(values.max()))
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class (cells: percent)" if mode == NORMALISED else "videos")
    ticks = np.arange(n)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(list(class_names), rotation=90, fontsize=tick_size)
    ax.set_yticklabels(list(class_names), fontsize=tick_size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title, fontsize=10)
    if n <= ANNOTATE_UP_TO:
        cell_size = float(np.clip(0.28 * row_points, 4.0, 8.0))
        for row in range(n):
            for col in range(n):
                count = int(matrix[row, col])
                if count == 0:
                    continue
                text = f"{100 * values[row, col]:.0f}" if mode == NORMALISED else str(count)
                dark = values[row, col] > 0.5 * vmax
                ax.text(col, row, text, ha="center", va="center", fontsize=cell_size, color="white" if dark else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
