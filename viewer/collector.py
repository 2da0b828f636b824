"""Garbage collection on the GUI thread only.

Python's cyclic garbage collector runs on whichever thread happens to allocate
when a generation's threshold is crossed: with classification, flow and the
scan running in worker threads, that is usually a worker.  If the garbage it
finds holds Qt wrappers (a closed window's widgets, a finished job's signals),
their C++ objects are destroyed off the GUI thread, which Qt does not allow: the
application can die with a segmentation fault, at random (the test suite once
did).  So automatic collection is switched off and a timer on the GUI thread
runs the collections the thresholds call for; reference counting still frees
everything that is not in a cycle at once, on whichever thread.  pyqtgraph's
``GarbageCollector`` answers the same problem the same way.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

DEFAULT_INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Automatic collection off while started; the due generation collected from a GUI-thread timer."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = DEFAULT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect everything here, on this thread, then give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int | None:
        """The collection Python would have run by now, if any: ``gc.collect``'s count, or ``None``."""
        counts, limits = gc.get_count(), self._thresholds
        if counts[0] <= limits[0]:
            return None
        generation = 2 if counts[2] > limits[2] else (1 if counts[1] > limits[1] else 0)
        return gc.collect(generation)


_installed: GuiThreadCollector | None = None


def install_gui_collector(app: QObject) -> GuiThreadCollector:
    """Start the application's collector (once per process)."""
    global _installed
    if _installed is None:
        _installed = GuiThreadCollector(app)
        _installed.start()
    return _installed


def exempt_long_lived() -> None:
    """Exempt every object alive now from future collections (``gc.freeze``), for data that
    lives until it is replaced, such as a listed dataset's rows.

    The collector above runs a full collection whenever Python's counters call for one,
    and a full collection walks every tracked object: with 13,320 dataset rows that took
    80-110 ms on the GUI thread every few seconds while the table scrolled.  Frozen rows
    are still freed by reference counting when the next listing replaces them (a row
    holds no cycle); only garbage cycles alive at this moment stay uncollected."""
    gc.freeze()
