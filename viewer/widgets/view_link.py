"""Linked zoom and pan between two frame views (napari's linked layers, for our side-by-side views).

The views may show images of different sizes (the flow at analysis size beside
the full-size frame), so the link copies the visible part as fractions of the
frame, not as pixel coordinates.  Only the user's own zoom and pan are copied
(a view fitting a new frame, or a resized window, is not), and a copied range is
not echoed back.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from viewer.widgets.frame_view import Fractions, FrameView


class ViewLink(QObject):
    def __init__(self, first: FrameView, second: FrameView, *, enabled: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.views = (first, second)
        self.enabled = bool(enabled)
        first.rangeChangedByUser.connect(lambda fractions: self._follow(second, fractions))
        second.rangeChangedByUser.connect(lambda fractions: self._follow(first, fractions))

    def set_enabled(self, enabled: bool) -> None:
        """Link (the second view takes the first's visible part at once) or unlink."""
        self.enabled = bool(enabled)
        if self.enabled:
            fractions = self.views[0].visible_fractions()
            if fractions is not None:
                self.views[1].show_fractions(fractions)

    def _follow(self, view: FrameView, fractions: Fractions) -> None:
        if self.enabled:
            view.show_fractions(fractions)
