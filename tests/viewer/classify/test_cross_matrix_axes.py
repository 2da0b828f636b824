"""The cross-stream matrix's tick labels are drawn whole: the left axis's first label ("0", at the matrix's top
edge) was cut in half by the top of the plot, as the timeline's are not."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from viewer.classify.cross_panel import CrossAttentionMatrix


def _ink_rows(matrix: CrossAttentionMatrix) -> np.ndarray:
    """Rows of the left axis's labels (left of its line, above the matrix's bottom edge) that hold any pixel darker
    than the white background."""
    item = matrix.plot.getPlotItem()
    axis = item.getAxis("left").sceneBoundingRect().toAlignedRect()
    image = matrix.plot.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * image.height())
    pixels = pixels.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    matrix_box = item.vb.sceneBoundingRect().toAlignedRect()
    left = pixels[: matrix_box.bottom(), max(axis.left(), 0): matrix_box.left() - 3]  # the labels, not the axis line
    return np.flatnonzero((left.min(axis=2) < 200).any(axis=1))


def test_the_first_row_label_is_not_cut_by_the_top_of_the_plot(qtbot) -> None:  # noqa: ANN001
    matrix = CrossAttentionMatrix()
    qtbot.addWidget(matrix)
    matrix.resize(330, 380)
    matrix.show()
    matrix.set_matrix(np.random.default_rng(0).random((128, 128)), row_label="RGB token (query)", col_label="flow token (key)")
    qtbot.wait(50)
    rows = _ink_rows(matrix)
    assert rows.size and rows[0] >= 2  # before: the "0" label's ink began on the plot's first pixel row
