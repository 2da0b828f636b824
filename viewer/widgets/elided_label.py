"""A one-line label for a long caveat: cut to the width it is given, the whole text in its tooltip.

A word-wrapped notice in a narrow dock grew to four lines and pushed what
follows it (a classification's bars and timings) past the dock's edge.  This
label stays one line high whatever its text; it is a QLabel, so style sheets
(background, border, padding) apply as before.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """Plain text on one line, elided at the end; ``text()`` and the tooltip give the whole of it."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._whole = ""
        self.setWordWrap(False)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # a long text never widens the dock
        self.setText(text)

    def text(self) -> str:
        return self._whole

    def shown_text(self) -> str:
        """What the label draws: the text, cut with "…" where it is wider than the label."""
        return super().text()

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name
        self._whole = str(text)
        self.setToolTip(self._whole)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(1, self.contentsRect().width() - 2 * max(self.indent(), 0) - 2 * self.margin())
        shown = self.fontMetrics().elidedText(self._whole, Qt.TextElideMode.ElideRight, width)
        if shown != super().text():
            super().setText(shown)
