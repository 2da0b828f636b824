"""Per-class accuracy and an interactive confusion matrix: a click on a cell lists its clips."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTableWidget, QTableWidgetItem

# one text line a row, in the dataset panel's table and its figures: the style's default (26-30 px) showed few
# of a matrix's classes in a 1280x800 window
ROW_HEIGHT = 20


def _shade(share: float, diagonal: bool) -> QBrush:
    """White to green on the diagonal, white to red off it, by the row's share."""
    base = (46, 160, 67) if diagonal else (207, 34, 46)
    mix = [round(255 + (c - 255) * min(1.0, share)) for c in base]
    return QBrush(QColor(*mix))


class ConfusionModel(QAbstractTableModel):
    """The matrix's cells, formatted when the view asks for one (only those on screen are ever asked for)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.names: list[str] = []
        self.matrix = np.zeros((0, 0), np.int64)
        self._totals = np.zeros(0, np.int64)

    def set_matrix(self, names: Sequence[str], matrix: np.ndarray) -> None:
        self.beginResetModel()
        self.names = list(names)
        self.matrix = np.asarray(matrix, np.int64).reshape(len(self.names), len(self.names))
        self._totals = self.matrix.sum(axis=1)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.names)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        """Rows by number and name, columns (predicted) by the same number, the name in their tooltip: named
        columns were each as wide as the longest name, and a 10-class matrix showed one or two of its columns."""
        if not 0 <= section < len(self.names):
            return None
        name, number = self.names[section], section + 1
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(number)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{number}: predicted {name}"
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{number} {name}"  # "(true)" after each name took the room of two columns; the tooltips say it
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{number}: true {name}"
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        count = int(self.matrix[r, c])
        if role == Qt.ItemDataRole.DisplayRole:
            return str(count) if count else ""
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole and count:
            return _shade(count / max(1, int(self._totals[r])), r == c)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"true {self.names[r]}, predicted {self.names[c]}: {count} videos (click to list them)"
        return None


class ConfusionMatrixView(QTableView):
    """Rows: true class (numbered, named); columns: predicted class (the same numbers); each cell its count, shaded
    by row share.

    A model renders the cells the view shows; columns are one width, from the widest class number or count (a
    table of one item per cell sized to its contents took 1.1 s for 101 classes and 70 s for 400, on the GUI thread)."""

    cellChosen = Signal(str, str)  # true class, predicted class

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self._model = ConfusionModel(self)
        self.setModel(self._model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.clicked.connect(lambda index: self.cellChosen.emit(self.names[index.row()], self.names[index.column()]))

    @property
    def names(self) -> list[str]:
        return self._model.names

    def set_matrix(self, names: Sequence[str], matrix: np.ndarray) -> None:
        self._model.set_matrix(names, matrix)
        metrics = self.horizontalHeader().fontMetrics()
        largest = max(len(self._model.names), int(self._model.matrix.max(initial=0)))
        self.horizontalHeader().setDefaultSectionSize(max(24, metrics.horizontalAdvance(str(largest)) + 10))


class ClassAccuracyView(QTableWidget):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(0, 3, parent)
        self.setObjectName("classAccuracy")
        self.setHorizontalHeaderLabels(["Class", "Accuracy", "Videos"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def set_rows(self, rows: Sequence[tuple[str, float, int]]) -> None:
        self.setRowCount(len(rows))
        for i, (name, accuracy, count) in enumerate(rows):
            for j, text in enumerate((name, f"{accuracy:.1%}", str(count))):
                self.setItem(i, j, QTableWidgetItem(text))
