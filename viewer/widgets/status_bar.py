"""The window's status bar, whose message is elided where the permanent widgets begin.

Qt draws a status message up to the first permanent widget and cuts it there, mid-word: an error about a
damaged checkpoint read "... invalid JSON in header: I" right against "device CPU".  This bar ends such a
message in "…" and keeps the whole of it in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QStatusBar, QWidget

MESSAGE_LEFT, MESSAGE_RIGHT_MARGIN = 6, 12  # Qt's own margins around the message (QStatusBarPrivate::messageRect)


class ElidingStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        self.messageChanged.connect(self.setToolTip)  # the whole message, elided or not

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt API
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def insertPermanentWidget(self, index: int, widget: QWidget, stretch: int = 0) -> int:  # noqa: N802 - Qt API
        self._permanent.append(widget)
        return super().insertPermanentWidget(index, widget, stretch)

    def message_rect(self) -> QRect:
        """Where Qt draws the message: from its left margin to the first visible permanent widget."""
        right = self.width() - MESSAGE_RIGHT_MARGIN
        shown = [w.x() - 2 for w in self._permanent if w.isVisible()]
        if shown:
            right = min(right, min(shown))
        return QRect(MESSAGE_LEFT, 0, right - MESSAGE_LEFT, self.height())

    def shown_message(self) -> str:
        """The message as drawn: elided to its room."""
        return self.fontMetrics().elidedText(self.currentMessage(), Qt.TextElideMode.ElideRight, max(0, self.message_rect().width()))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        message, shown = self.currentMessage(), self.shown_message()
        if message == shown:
            return
        room = self.message_rect()  # Qt's cut text painted over with the elided one
        painter = QPainter(self)
        painter.fillRect(room, self.palette().window())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(room, int(Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine), shown)
        painter.end()
