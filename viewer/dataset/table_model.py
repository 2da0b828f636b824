"""The Qt side of the dataset table: a model over the rows and a proxy that filters them.

Cheap per call by design: ``data`` formats one cell of one row (a 13,320-row
table only ever asks for the visible cells), a cell whose metadata is unknown
asks for it through ``metadata_wanted`` (batched by the controller, read in a
worker), sorting is one Python sort of the row list, and filtering evaluates
the criteria once per change into the list of rows the filter model shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
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
        self.sorted_by: tuple[int, Qt.SortOrder] | None = None  # the column and order of the last sort, until new rows

    def set_rows(self, rows: list[Row], positions: dict[int, int] | None = None) -> None:
        """New rows, in their own order.  ``positions`` (``id(row)`` -> index) when the caller made it already, off
        the GUI thread."""
        self.sorted_by = None
        self._replace_rows(rows, positions)

    def add_rows(self, rows: list[Row]) -> None:
        """``rows`` after those shown, or in their place in the table's order when it is sorted."""
        sorted_by = self.sorted_by
        self._replace_rows(self.rows + rows)
        if sorted_by is not None:
            self.sort(*sorted_by)

    def _replace_rows(self, rows: list[Row], positions: dict[int, int] | None = None) -> None:
        self.beginResetModel()
        self.rows = rows
        self.generation += 1
        self._position = positions if positions is not None else {id(r): i for i, r in enumerate(rows)}
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
        """Known values in ``order``, then the rows whose value is unknown (either way: a partly
        scored table sorted by confidence shows its scores first, not thousands of blanks)."""
        keyed = [(row.sort_key(column), row) for row in self.rows]
        known = sorted((item for item in keyed if item[0][0] == 0), key=lambda item: item[0],
                       reverse=order == Qt.SortOrder.DescendingOrder)
        self._replace_rows([row for _key, row in known] + [row for key, row in keyed if key[0] != 0])
        self.sorted_by = (column, order)


@dataclass(frozen=True)
class RowFilter:
    """What the table shows; empty fields filter nothing.  The confusion matrix and per-class accuracy count the
    rows of :meth:`without_cell`, so a click on a cell lists exactly the rows the cell counts."""

    text: str = ""
    true_class: str = ""
    split: str = ""
    wrong_only: bool = False
    max_confidence: float | None = None  # show predictions below this confidence
    min_noise: float | None = None  # show videos whose max noise score is above this
    cell: tuple[str, str] | None = None  # a confusion cell (true class, predicted class): its rows only

    def accepts(self, row: Row) -> bool:
        if self.text and self.text.casefold() not in row.relative.casefold() and self.text.casefold() not in row.true.casefold():
            return False
        if (self.true_class and row.true != self.true_class) or (self.split and row.split != self.split):
            return False
        if self.wrong_only and row.correct is not False:
            return False
        if self.cell is not None and (row.true != self.cell[0] or row.record is None or row.record.predicted != self.cell[1]):
            return False
        if self.max_confidence is not None and (row.record is None or row.record.confidence >= self.max_confidence):
            return False
        return self.min_noise is None or (row.noise is not None and row.noise.max_noise > self.min_noise)

    def without_cell(self) -> "RowFilter":
        """The rows the figures count: these criteria but the confusion cell's."""
        return self if self.cell is None else replace(self, cell=None)

    def changed(self, **fields: Any) -> "RowFilter":
        return replace(self, **fields)


class DatasetFilterProxy(QAbstractTableModel):
    """The rows a :class:`RowFilter` lets through, in the source model's (sorted) order.

    Not a ``QSortFilterProxyModel``: that one calls a Python ``filterAcceptsRow`` once per
    source row on every reset, 13,320 calls (80 ms on the GUI thread) when a dataset is
    listed.  Here the visible rows are one list of source positions, rebuilt by one list
    comprehension (none at all when nothing is filtered), and the view only ever asks for
    the cells on screen.  Verdicts are taken when the rows or the criteria change, or on
    :meth:`refilter` (after new predictions or noise scores)."""

    def __init__(self, source: DatasetTableModel, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.table = source
        self.criteria = RowFilter()
        self._visible: list[int] = []
        self._proxy_row: dict[int, int] | None = {}  # source row -> shown row; None: every row is shown
        self._generation = -1
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._source_reset)
        source.dataChanged.connect(self._source_changed)

    def set_filter(self, criteria: RowFilter) -> None:
        if criteria == self.criteria and self._generation == self.table.generation:
            return  # the same rows, the same criteria: nothing to redo
        self.criteria = criteria
        self.refilter()

    def refilter(self) -> None:
        self.beginResetModel()
        self._verdicts()
        self.endResetModel()

    def _source_reset(self) -> None:
        self._verdicts()
        self.endResetModel()

    def _verdicts(self) -> None:
        rows = self.table.rows
        if self.criteria == RowFilter():
            self._visible, self._proxy_row = list(range(len(rows))), None
        else:
            accepts = self.criteria.accepts
            self._visible = [i for i, row in enumerate(rows) if accepts(row)]
            self._proxy_row = {source: shown for shown, source in enumerate(self._visible)}
        self._generation = self.table.generation

    def _source_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, roles: Sequence[int] = ()) -> None:
        if not self._visible:
            return
        last = len(COLUMNS) - 1
        if top_left.row() == bottom_right.row():
            source = top_left.row()
            shown = source if self._proxy_row is None else self._proxy_row.get(source)
            if shown is not None:
                self.dataChanged.emit(self.index(shown, 0), self.index(shown, last))
        else:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._visible) - 1, last))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        return self.table.headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        return self.table.data(self.mapToSource(index), role)

    def mapToSource(self, index: Index) -> QModelIndex:  # noqa: N802
        if not index.isValid() or index.row() >= len(self._visible):
            return QModelIndex()
        return self.table.index(self._visible[index.row()], index.column())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0:
            return
        self.table.sort(column, order)  # a reset of the source: the verdicts follow it

    def visible_rows(self) -> list[Row]:
        """The rows shown, in the shown order."""
        rows = self.table.rows
        return [rows[i] for i in self._visible]

    def source_rows(self, proxy_rows: Sequence[int]) -> list[int]:
        return [self._visible[i] for i in proxy_rows]
