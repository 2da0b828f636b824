"""Small helpers shared by the classification panels' widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget


def small_label(label: QLabel) -> QLabel:
    """A secondary line: smaller, grey, wrapped."""
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    label.setStyleSheet("color: #5f6368;")
    label.setWordWrap(True)
    return label


def fill_choices(box: QComboBox, count: int, whole: str) -> None:
    """``whole`` (data ``None``) then 1..count (data 0..count-1), keeping the current choice when it still exists."""
    keep = box.currentData()
    box.blockSignals(True)
    box.clear()
    box.addItem(whole, None)
    for i in range(count):
        box.addItem(str(i + 1), i)
    index = box.findData(keep) if keep is not None and keep < count else 0
    box.setCurrentIndex(max(index, 0))
    box.blockSignals(False)


def labelled_row(*pairs: tuple[str, QWidget]) -> QHBoxLayout:
    """One row of "label [widget]" pairs, the widgets sharing the width."""
    row = QHBoxLayout()
    for text, widget in pairs:
        row.addWidget(QLabel(text))
        row.addWidget(widget, 1)
    return row
