"""The Qt side of the dataset table: a model over the rows and a proxy that filters them.

Cheap per call by design: ``data`` formats one cell of one row (a 13,320-row
table only ever asks for the visible cells), a cell whose metadata is unknown
asks for it through ``metadata_wanted`` (batched by the controller, read in a
worker), sorting is one Python sort of the row list, and filtering evaluates
the criteria once per change into a list of booleans the proxy looks up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from viewer.dataset.rows import COL_CORRECT, COL_DURATION, COL_FRAMES, COLUMNS, Row

RIGHT, WRONG = QBrush(QColor("#d8f0dc")), QBrush(QColor("#f8d7da"))
Index = QModelIndex | QPersistentModelIndex


class DatasetTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.rows: list[Row] = []
        self.generation = 0  # bumped by every new row list: the proxy's cached verdicts are for one generation
        self._position: dict[int, int] = {}
        self.metadata_wanted: Callable[[Row], None] = lambda _row: None

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.generation += 1
        self._position = {id(r): i for i, r in enumerate(rows)}
        self.endResetModel()

    def row_changed(self, row: Row) -> None:
        """Repaint ``row`` (its fields were updated in place), wherever sorting put it."""
        i = self._position.get(id(row))
        if i is not None:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def all_changed(self) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column in (COL_FRAMES, COL_DURATION) and row.frames is None and not row.meta_error:
                self.metadata_wanted(row)
            return row.text(column)
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_CORRECT and row.correct is not None:
            return RIGHT if row.correct else WRONG
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.meta_error or str(row.path)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.set_rows(sorted(self.rows, key=lambda r: r.sort_key(column), reverse=order == Qt.SortOrder.DescendingOrder))


@dataclass(frozen=True)
class RowFilter:
    """What the table shows; empty fields filter nothing."""

    text: str = ""
    true_class: str = ""
    split: str = ""
    wrong_only: bool = False
    max_confidence: float | None = None  # show predictions below this confidence
    min_noise: float | None = None  # show videos whose max noise score is above this
    predicted: str = ""  # a confusion cell: rows predicted as this class

    def accepts(self, row: Row) -> bool:
        if self.text and self.text.casefold() not in row.relative.casefold() and self.text.casefold() not in row.true.casefold():
            return False
        if (self.true_class and row.true != self.true_class) or (self.split and row.split != self.split):
            return False
        if self.wrong_only and row.correct is not False:
            return False
        if self.predicted and (row.record is None or row.record.predicted != self.predicted):
            return False
        if self.max_confidence is not None and (row.record is None or row.record.confidence >= self.max_confidence):
            return False
        return self.min_noise is None or (row.noise is not None and row.noise.max_noise > self.min_noise)

    def changed(self, **fields: Any) -> "RowFilter":
        return replace(self, **fields)


class DatasetFilterProxy(QSortFilterProxyModel):
    """Filtering by a :class:`RowFilter`; sorting is handed to the source model (one Python sort)."""

    def __init__(self, source: DatasetTableModel, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setSourceModel(source)
        self.table = source
        self.criteria = RowFilter()
        self._accepted: list[bool] = []
        self._generation = -1

    def set_filter(self, criteria: RowFilter) -> None:
        if criteria == self.criteria and self._generation == self.table.generation:
            return  # the same rows, the same criteria: nothing to redo (13,320 rows take tens of ms)
        self.criteria = criteria
        self.refilter()

    def refilter(self) -> None:
        self.beginFilterChange()
        self._verdicts()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def _verdicts(self) -> None:
        self._accepted = [self.criteria.accepts(r) for r in self.table.rows]
        self._generation = self.table.generation

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        if self._generation != self.table.generation:
            self._verdicts()
        return self._accepted[source_row]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0:
            return
        self.table.sort(column, order)
        self.refilter()

    def visible_rows(self) -> list[Row]:
        """The rows shown, in the shown order."""
        return [self.table.rows[self.mapToSource(self.index(i, 0)).row()] for i in range(self.rowCount())]

    def source_rows(self, proxy_rows: Sequence[int]) -> list[int]:
        return [self.mapToSource(self.index(i, 0)).row() for i in proxy_rows]
