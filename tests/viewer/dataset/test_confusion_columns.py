"""The confusion matrix's columns are numbered as its rows: named, each column was as wide as the longest class
name (140 px) and a 10-class matrix beside the table (340 px in a 1440x900 window) showed one of its ten columns."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from core.synth import CLASS_NAMES
from viewer.dataset.confusion_view import ConfusionMatrixView


def test_ten_classes_fit_side_by_side_in_the_figures_pane_and_headers_name_them(qtbot) -> None:  # noqa: ANN001
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(340, 300)  # the figures pane's width in a 1440x900 window
    view.show()
    names = list(CLASS_NAMES)
    assert len(names) == 10
    view.set_matrix(names, np.diag(np.full(10, 12)))
    qtbot.wait(20)
    in_sight = sum(view.columnViewportPosition(c) + view.columnWidth(c) <= view.viewport().width() for c in range(10))
    assert in_sight >= 6  # before: 1 of 10
    model = view.model()
    assert model.headerData(2, Qt.Orientation.Horizontal) == "3"
    assert model.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == f"3: predicted {names[2]}"
    assert model.headerData(2, Qt.Orientation.Vertical) == f"3 {names[2]}"
    assert model.headerData(2, Qt.Orientation.Vertical, Qt.ItemDataRole.ToolTipRole) == f"3: true {names[2]}"
    assert model.index(2, 2).data() == "12"


def test_confusion_rows_are_as_compact_as_the_table_rows_beside_them(qtbot, window) -> None:  # noqa: ANN001
    """The matrix's rows kept the style's default height (26 px offscreen) beside the table's 20 px rows: at
    1280x800 its pane showed few of its classes."""
    panel = window.dataset.panel
    panel.confusion.set_matrix(list(CLASS_NAMES), np.diag(np.full(10, 3)))
    table_row = panel.table.verticalHeader().defaultSectionSize()
    assert panel.confusion.verticalHeader().defaultSectionSize() <= table_row
    assert all(panel.confusion.rowHeight(r) <= table_row for r in range(10))
