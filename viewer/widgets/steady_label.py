"""A label for text that changes on every frame, without re-laying-out the window.

``QLabel.setText`` always asks its layout for new geometry, and the request
climbs to the main window: while scrubbing, the frame counter, the captions
and the clip region relabelled on every frame and each change cost a layout of
the whole window (3-4 ms of a 16 ms frame on two cores, ``bench ui``).  This
label has a size that does not depend on its text (a width in characters, one
or a few lines high); a new text is only repainted, elided (or wrapped) to fit.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class SteadyLabel(QWidget):
    """Plain text in a box of fixed height; its width comes from the layout, never from the text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, chars: int = 12, lines: int = 1,
                 alignment: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                 colour: str | None = None) -> None:
        super().__init__(parent)
        self._text = str(text)
        self._chars, self._lines = max(1, int(chars)), max(1, int(lines))
        self._alignment = alignment
        self._colour = QColor(colour) if colour else None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self._lines * self.fontMetrics().lineSpacing() + 2)

    # -- QLabel's API, as far as it is used ---------------------------------------------
    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name, so callers need not know the difference
        text = str(text)
        if text != self._text:
            self._text = text
            self.update()  # a repaint of this box only: no geometry request

    def setAlignment(self, alignment: Qt.AlignmentFlag) -> None:  # noqa: N802
        self._alignment = alignment
        self.update()

    def set_colour(self, colour: str | None) -> None:
        self._colour = QColor(colour) if colour else None
        self.update()

    # -- size and painting -------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.FontChange:  # a smaller or larger font: the box follows, once
            self.setFixedHeight(self._lines * self.fontMetrics().lineSpacing() + 2)
        super().changeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._chars * self.fontMetrics().averageCharWidth() + 4, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().averageCharWidth() * 3, self.height())

    def shown_text(self) -> str:
        """What fits: the text, elided at the end of its last line when it is too long."""
        metrics = self.fontMetrics()
        width = max(1, self.width() - 4)
        if self._lines == 1:
            return metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, width)
        bound = metrics.boundingRect(QRect(0, 0, width, 10**6), int(Qt.TextFlag.TextWordWrap), self._text)
        if bound.height() <= self._lines * metrics.lineSpacing():
            return self._text
        return metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, width * self._lines - metrics.averageCharWidth() * 4)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        # no colour of its own: its foreground role's, read at each paint, so a palette change reaches it
        painter.setPen(self._colour if self._colour is not None else self.palette().color(self.foregroundRole()))
        flags = int(self._alignment) | (int(Qt.TextFlag.TextWordWrap) if self._lines > 1 else 0)
        painter.drawText(self.rect().adjusted(2, 0, -2, 0), flags, self.shown_text())
        painter.end()
