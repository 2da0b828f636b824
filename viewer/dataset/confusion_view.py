"""Per-class accuracy and an interactive confusion matrix: a click on a cell lists its clips."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def _shade(share: float, diagonal: bool) -> QBrush:
    """White to green on the diagonal, white to red off it, by the row's share."""
    base = (46, 160, 67) if diagonal else (207, 34, 46)
    mix = [round(255 + (c - 255) * min(1.0, share)) for c in base]
    return QBrush(QColor(*mix))


class ConfusionMatrixView(QTableWidget):
    """Rows: true class; columns: predicted class; each cell its count, shaded by row share."""

    cellChosen = Signal(str, str)  # true class, predicted class

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.names: list[str] = []
        self.cellClicked.connect(lambda r, c: self.cellChosen.emit(self.names[r], self.names[c]))

    def set_matrix(self, names: Sequence[str], matrix: np.ndarray) -> None:
        self.names = list(names)
        self.clear()
        self.setRowCount(len(names))
        self.setColumnCount(len(names))
        self.setVerticalHeaderLabels([f"{n} (true)" for n in names])
        self.setHorizontalHeaderLabels(list(names))
        totals = matrix.sum(axis=1) if len(names) else np.zeros(0)
        for r in range(len(names)):
            for c in range(len(names)):
                count = int(matrix[r, c])
                item = QTableWidgetItem(str(count) if count else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if count:
                    item.setBackground(_shade(count / max(1, int(totals[r])), r == c))
                item.setToolTip(f"true {names[r]}, predicted {names[c]}: {count} videos (click to list them)")
                self.setItem(r, c, item)


class ClassAccuracyView(QTableWidget):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(0, 3, parent)
        self.setObjectName("classAccuracy")
        self.setHorizontalHeaderLabels(["Class", "Accuracy", "Videos"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def set_rows(self, rows: Sequence[tuple[str, float, int]]) -> None:
        self.setRowCount(len(rows))
        for i, (name, accuracy, count) in enumerate(rows):
            for j, text in enumerate((name, f"{accuracy:.1%}", str(count))):
                self.setItem(i, j, QTableWidgetItem(text))
