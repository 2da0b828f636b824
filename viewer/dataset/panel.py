"""The dataset panel: filters, the table of videos, jobs' progress, accuracy and confusion."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from viewer.dataset.confusion_view import ROW_HEIGHT, ClassAccuracyView, ConfusionMatrixView
from viewer.dataset.controller import DatasetController
from viewer.dataset.rows import COL_VIDEO
from viewer.dataset.table_model import RowFilter

ALL = ""


class MiddleElidedDelegate(QStyledItemDelegate):
    """Cells whose text, too long for the column, is cut in the middle: a path keeps its folder and file name's end."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802 - Qt API
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


def _threshold_box(name: str, off_text: str, prefix: str) -> QDoubleSpinBox:
    """A 0-1 threshold; 0 shows ``off_text`` and filters nothing."""
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setSpecialValueText(off_text)
    box.setPrefix(prefix)
    return box


class DatasetPanel(QWidget):
    openRequested = Signal(object, int)  # video path (object: a str through Qt loses bytes that are not UTF-8), frame to show
    openSegmentRequested = Signal(object, float)  # video path, the annotated segment's start (s): its first frame is not known yet
    evaluateRequested = Signal(str)  # "test" or "all"
    scanRequested = Signal()

    def __init__(self, controller: DatasetController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.summary = QLabel("No dataset: File > Open dataset…")
        self.summary.setObjectName("datasetSummary")
        self.summary.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setObjectName("datasetSearch")
        self.search.setPlaceholderText("filter by name or class")
        self.class_box = QComboBox()
        self.class_box.setObjectName("datasetClass")
        # as wide as "all classes" and a typical class name; a long name shows whole in the list
        self.class_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_box.setMinimumContentsLength(14)
        self.split_box = QComboBox()
        self.split_box.setObjectName("datasetSplit")
        for text, value in (("all splits", ALL), ("train", "train"), ("val", "val"), ("test", "test")):
            self.split_box.addItem(text, value)
        self.wrong_box = QCheckBox("wrong only")
        self.wrong_box.setObjectName("datasetWrong")
        self.low_box = _threshold_box("datasetLowConfidence", "any confidence", "confidence < ")
        self.noise_box = _threshold_box("datasetNoisy", "any flow", "max noise > ")
        self.cell_label = QLabel("")
        self.cell_label.setObjectName("confusionCellFilter")
        self.cell_label.setVisible(False)  # shown with a chosen cell
        self.clear_cell = QPushButton("show all")
        self.clear_cell.setVisible(False)
        self.clear_cell.clicked.connect(lambda: self._set_cell("", ""))

        self.table = QTableView()
        self.table.setObjectName("datasetTable")
        self.table.setModel(controller.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(COL_VIDEO, 260)
        # one line a cell: wrapped at the "/" and elided, every video of a class with a long name read
        # "RotateAnticlockwise/..." and its rows could not be told apart; a path is cut in the middle, its numbered
        # end shown, and the other columns at their end (in the middle, two Rotate classes both read "Rotate…ckwise")
        self.table.setWordWrap(False)
        self.table.setItemDelegateForColumn(COL_VIDEO, MiddleElidedDelegate(self.table))
        self.table.doubleClicked.connect(self._open_row)

        self.scan_button = QPushButton("Scan flow")
        self.scan_button.setObjectName("datasetScanFlow")
        self.scan_button.setToolTip("Flow quality of every listed video, through the flow cache (resumes where a cancelled scan stopped)")
        self.scan_button.clicked.connect(self.scanRequested)
        self.eval_part = QComboBox()
        self.eval_part.setObjectName("datasetEvalPart")
        self.eval_part.addItem("test part", "test")
        self.eval_part.addItem("all videos", "all")
        self.eval_button = QPushButton("Evaluate")
        self.eval_button.setObjectName("datasetEvaluate")
        self.eval_button.setToolTip("Score the chosen part of the split recorded in the Classification panel's model, as eval does "
                                    "(3 clips a video; results kept per checkpoint and video)")
        self.eval_button.clicked.connect(lambda: self.evaluateRequested.emit(self.eval_part.currentData()))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("datasetCancel")
        self.cancel_button.clicked.connect(controller.cancel)
        self.progress = QProgressBar()
        self.progress.setObjectName("datasetProgress")
        self.progress.setMaximumHeight(12)
        self.status = QLabel("")
        self.status.setObjectName("datasetStatus")
        self.accuracy = ClassAccuracyView()
        self.confusion = ConfusionMatrixView()
        self.confusion.cellChosen.connect(self._set_cell)

        filters = QHBoxLayout()
        for widget in (self.search, self.class_box, self.split_box, self.wrong_box, self.low_box, self.noise_box):
            filters.addWidget(widget)
        actions = QHBoxLayout()
        for widget in (self.scan_button, self.eval_part, self.eval_button, self.cancel_button):
            actions.addWidget(widget)
        actions.addWidget(self.progress, 1)
        cell = QHBoxLayout()
        cell.addWidget(self.cell_label, 1)
        cell.addWidget(self.clear_cell)
        figures = QTabWidget()
        figures.addTab(self.confusion, "Confusion")
        figures.addTab(self.accuracy, "Per-class accuracy")
        self.splitter = split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("datasetSplitter")
        split.addWidget(self.table)
        split.addWidget(figures)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([3000, 1400])  # the table gets most of the width from the start (unless a layout is restored)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addLayout(actions)  # above the table: at the dock's usual height, rows below it were scrolled out of sight
        layout.addWidget(self.status)
        layout.addLayout(filters)
        layout.addLayout(cell)
        layout.addWidget(split, 1)

        # a burst of predictions redraws the figures at most every 250 ms; started only when idle, so that records
        # arriving faster than that (a GPU, the cache) still redraw them as they come, not once at the end
        self._figures_timer = QTimer(self)
        self._figures_timer.setSingleShot(True)
        self._figures_timer.setInterval(250)
        self._figures_timer.timeout.connect(self._refresh_figures)
        self._cell = ("", "")
        self.search.textChanged.connect(self._apply_filter)
        self.class_box.currentIndexChanged.connect(self._apply_filter)
        self.split_box.currentIndexChanged.connect(self._apply_filter)
        self.wrong_box.toggled.connect(self._apply_filter)
        self.low_box.valueChanged.connect(self._apply_filter)
        self.noise_box.valueChanged.connect(self._apply_filter)
        controller.listed.connect(self._on_listed)
        controller.summaryChanged.connect(self.summary.setText)
        controller.progressed.connect(self._on_progress)
        controller.finished.connect(lambda _channel, message: self._finish(message))
        controller.recordsChanged.connect(self._figures_soon)
        controller.proxy.modelReset.connect(self._figures_soon)  # new rows, or a row's split changed

    # -- filters ----------------------------------------------------------------------
    def _apply_filter(self) -> None:
        true_class, predicted = self._cell
        self.controller.proxy.set_filter(RowFilter(
            text=self.search.text().strip(),
            true_class=self.class_box.currentData() or "",
            split=self.split_box.currentData() or "",
            wrong_only=self.wrong_box.isChecked(),
            max_confidence=self.low_box.value() or None,
            min_noise=self.noise_box.value() or None,
            cell=(true_class, predicted) if true_class else None,
        ))
        self._show_count()
        self._figures_soon()  # the figures count the rows the filters show

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        """The least height the panel can take at ``width``.  The dock's scroll area makes a panel whose layout
        word-wraps (the summary) this tall: with Qt's default, the preferred height, the table and figures kept their
        full 222 px and, at 1280x800, two table rows showed and the confusion matrix's none; now they shrink and
        scroll their own rows first."""
        return self.layout().totalMinimumHeightForWidth(width)

    def _set_cell(self, true_class: str, predicted: str) -> None:
        self._cell = (true_class, predicted)
        self.cell_label.setText(f"Confusion cell: true {true_class}, predicted {predicted}" if true_class else "")
        self.cell_label.setVisible(bool(true_class))  # an empty line took a table row's height
        self.clear_cell.setVisible(bool(true_class))
        self._apply_filter()

    def _show_count(self) -> None:
        shown, total = self.controller.proxy.rowCount(), self.controller.model.rowCount()
        self.status.setText(f"{shown} of {total} videos shown" if shown != total else f"{total} videos")

    # -- events -----------------------------------------------------------------------
    def _on_listed(self, summary: str) -> None:
        self.summary.setText(summary)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)  # listing done (it reported its first steps only)
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("all classes", ALL)
        for name in self.controller.classes:
            self.class_box.addItem(name, name)
        self.class_box.blockSignals(False)
        # the new rows come in listing order and a confusion cell of the last dataset filters nothing now: neither
        # the header's sort arrow nor the cell's line and "show all" may go on claiming otherwise
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._set_cell("", "")

    def _on_progress(self, channel: str, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(f"{channel.removeprefix('dataset-')}: {done}/{total} {message}")

    def _finish(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.controller.proxy.refilter()
        self._show_count()
        self.status.setText(message)

    def _figures_soon(self) -> None:
        if not self._figures_timer.isActive():
            self._figures_timer.start()

    def _refresh_figures(self) -> None:
        rows = self.controller.figure_rows()
        names, matrix = self.controller.confusion(rows)
        self.confusion.set_matrix(names, matrix)
        self.accuracy.set_rows(self.controller.per_class_accuracy(rows))

    def _open_row(self, index) -> None:  # noqa: ANN001 - a proxy index
        row = self.controller.model.rows[self.controller.proxy.mapToSource(index).row()]
        frame = row.start_frame()
        if frame is None and row.segment is not None:
            self.openSegmentRequested.emit(str(row.path), float(row.segment[0]))
        else:
            self.openRequested.emit(str(row.path), frame or 0)
