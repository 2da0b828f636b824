"""GUI updates that may wait a turn of the event loop, one per turn.

One event (a video opened, a prediction arrived) changes many widgets; done at
once, their updates and the window's repaint that follows add up to one long
stall of the GUI thread (``bench ui`` measured 27-39 ms on two cores).  The
parts that can wait (heat layers, the cross-stream matrix, the timeline's new
frame axis) are posted here instead: each runs in its own turn, after the paint
of the turn before, so the window stays responsive between them.

Rules for what is posted: it reads the state when it runs (never a value
captured when it was posted, which may be stale by then); whatever it would
replace has already been cleared synchronously, so nothing outdated is shown
while it waits; a second post with the same key replaces the first.
"""

from __future__ import annotations

from typing import Callable, Hashable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer


class TurnQueue(QObject):
    """Runs posted updates one per event-loop turn, in the order posted."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[Hashable, tuple[QObject, Callable[[], None]]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # a real zero timer: it runs after the posted paint of the turn before
        self._timer.timeout.connect(self._run_one)

    def post(self, owner: QObject, key: Hashable, update: Callable[[], None]) -> None:
        """Run ``update`` in a later turn, unless ``owner`` is gone by then; replaces a pending ``key``."""
        self._pending.pop((id(owner), key), None)
        self._pending[(id(owner), key)] = (owner, update)
        if not self._timer.isActive():
            self._timer.start()

    def pending(self, owner: QObject | None = None) -> bool:
        """Whether updates (of ``owner``, or of anyone) still wait."""
        return any(owner is None or queued is owner for queued, _update in self._pending.values())

    def flush(self) -> None:
        """Run everything pending now (a window about to be grabbed or closed)."""
        while self._pending:
            self._run_one()

    def _run_one(self) -> None:
        if not self._pending:
            return
        key = next(iter(self._pending))
        owner, update = self._pending.pop(key)
        if self._pending:
            self._timer.start()  # the next one waits for this turn's paint
        if shiboken6.isValid(owner):
            update()


_queue: TurnQueue | None = None


def turns() -> TurnQueue:
    """The application's queue (made on first use, owned by the QApplication)."""
    global _queue
    app = QCoreApplication.instance()
    if _queue is None or not shiboken6.isValid(_queue) or _queue.parent() is not app:
        _queue = TurnQueue(app)
    return _queue


def post_later(owner: QObject, key: Hashable, update: Callable[[], None]) -> None:
    """``turns().post(...)``: see :class:`TurnQueue`."""
    turns().post(owner, key, update)
