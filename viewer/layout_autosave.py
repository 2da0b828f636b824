"""The window's layout (geometry, docks, toolbars) saved shortly after the user changes it, not only on close:
a viewer killed or crashed keeps the layout the user arranged.

Moving or resizing the window, a dock or a toolbar, or showing or hiding one, restarts a single-shot timer; when
it fires, the layout is saved once (a drag of a dock's edge is one write, not one per step), and only if it
differs from the last one saved.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QByteArray, QEvent, QObject, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar

from viewer import settings as app_settings

LAYOUT_SAVE_DELAY_MS = 1000
_LAYOUT_EVENTS = frozenset({QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.WindowStateChange})


class DelayedSave(QObject):
    """A layout saved :data:`LAYOUT_SAVE_DELAY_MS` after the last change (:meth:`changed`), and only when it differs
    from the one saved last: the one mechanism of the window's and the dataset panel's autosaves.  Subclasses say
    what the layout is (:meth:`_layout`) and how it is written (:meth:`_write`)."""

    def __init__(self, parent: QObject, delay_ms: int = LAYOUT_SAVE_DELAY_MS) -> None:
        super().__init__(parent)
        self._saved: object = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save)

    def changed(self) -> None:
        """The layout changed: saved once the changes settle (a drag is one write, not one per step).  The slot to
        connect signals to: one connected to ``QTimer.start`` passed its first int (a splitter's position, a column's
        index) as the delay in ms."""
        self._timer.start()

    def _layout(self) -> object:
        raise NotImplementedError

    def _write(self, layout: object) -> None:
        raise NotImplementedError

    def save(self) -> None:
        """Save the layout now (when it changed since the last save)."""
        self._timer.stop()
        layout = self._layout()
        if layout != self._saved:
            self._write(layout)
            self._saved = layout


class LayoutAutosave(DelayedSave):
    """Watches ``window`` and its docks and toolbars (those it has when this is made) and saves their layout
    :data:`LAYOUT_SAVE_DELAY_MS` after the last change, until :meth:`stop`.  A settings file that cannot be written
    is told to ``unwritable`` once (the window's first layout is saved a second after it shows)."""

    def __init__(self, window: QMainWindow, delay_ms: int = LAYOUT_SAVE_DELAY_MS, unwritable: Callable[[str], None] | None = None) -> None:
        super().__init__(window, delay_ms)
        self._window = window
        self._unwritable = unwritable
        self._stopped = False
        for watched in (window, *window.findChildren(QDockWidget), *window.findChildren(QToolBar)):
            watched.installEventFilter(self)
        for dock in window.findChildren(QDockWidget):
            dock.dockLocationChanged.connect(self._changed)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in _LAYOUT_EVENTS:
            self._changed()
        return False

    def _changed(self) -> None:
        if not self._stopped and self._window.isVisible():  # a window closing hides everything: not the user's layout
            self.changed()

    def _layout(self) -> tuple[QByteArray, QByteArray]:
        return self._window.saveGeometry(), self._window.saveState()

    def _write(self, layout: tuple[QByteArray, QByteArray]) -> None:
        app_settings.save_window_layout(*layout)
        problem = app_settings.write_problem() if self._unwritable is not None else ""
        if problem:
            self._unwritable(problem)
            self._unwritable = None  # said once

    def stop(self) -> None:
        """No more saves (the window closing saves its layout itself)."""
        self._stopped = True
        self._timer.stop()
