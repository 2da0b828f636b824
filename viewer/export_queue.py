"""One queue of exports on a job channel: each waits its turn, one runs at a time, and each ends exactly once.

File > Export and the dataset panel's exports both queue here (each kept a copy of this, and neither listed an
export cancelled but still winding down: "what is running?" said nothing while its worker still wrote).  A job
channel of :class:`~viewer.jobs.JobRunner` is "newest wins", so the queue submits the next export only once the
previous one's end has been heard: a cancelled export may still write its file (the writers are atomic, it is then
reported written), and a newer job on the channel would silence that end.

:attr:`ExportQueue.changed` and :meth:`ExportQueue.entries` let a view list the exports in progress, each with its
ticket to cancel it (:mod:`viewer.widgets.export_list`).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from viewer.jobs import JobFunction, JobRunner

CANCELLING = " (cancelling)"  # after the title of a cancelled export whose worker has not ended yet


@dataclass(frozen=True)
class Export:
    """One export: what it writes, in words; its job; and how its one end is told (``on_written`` gets the job's
    result; ``on_cancelled`` also tells of one cancelled while it waited).  ``on_started`` and ``on_job_ended``
    bracket its job, for a progress dialog: an export cancelled while it waited has neither."""

    title: str
    work: JobFunction
    on_written: Callable[[Any], None]
    on_failed: Callable[[BaseException, str], None]
    on_cancelled: Callable[[], None]
    on_progress: Callable[[int, int, str], None] | None = None
    on_started: Callable[[], None] | None = None
    on_job_ended: Callable[[], None] | None = None


@dataclass(frozen=True)
class QueuedExport:
    """An export in progress as a list shows it: its ticket (for :meth:`ExportQueue.cancel`), what it writes, and
    whether it runs (``cancelling``: asked to stop, its worker not ended yet) or waits its turn."""

    ticket: int
    title: str
    running: bool = False
    cancelling: bool = False


class ExportQueue(QObject):
    """Exports on one job channel, run one at a time in the order asked for; a second never cancels the first."""

    busyChanged = Signal(bool)  # on a change only: an export runs (or winds down after a cancel) or waits
    changed = Signal()  # the exports in progress changed: one was added, started, asked to stop, cancelled or ended

    def __init__(self, jobs: JobRunner, channel: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs, self._channel = jobs, channel
        self._tickets = itertools.count(1)
        self._running: tuple[int, Export] | None = None  # until its job's end is heard, cancelled or not
        self._cancelling = False  # the running export was asked to stop; its worker has not ended yet
        self._waiting: deque[tuple[int, Export]] = deque()
        self._said_busy = False

    @property
    def busy(self) -> bool:
        """Whether an export runs (also one cancelled, still winding down) or waits its turn."""
        return self._running is not None or bool(self._waiting)

    def entries(self) -> list[QueuedExport]:
        """The export running (also one cancelled, still winding down), then those waiting, in order."""
        running = [] if self._running is None else [QueuedExport(self._running[0], self._running[1].title, True, self._cancelling)]
        return running + [QueuedExport(ticket, export.title) for ticket, export in self._waiting]

    def in_progress(self) -> list[str]:
        """The titles of the export running (marked when cancelled but not ended yet) and of those waiting, in order."""
        return [entry.title + (CANCELLING if entry.cancelling else "") for entry in self.entries()]

    def unfinished(self) -> list[str]:
        """The titles of the exports still wanted, running or waiting: those closing the window now would drop."""
        return [entry.title for entry in self.entries() if not entry.cancelling]

    def add(self, export: Export) -> int:
        """Run ``export`` now, or after those before it; its ticket (for :meth:`cancel`), or -1 when the job runner
        is shut down (the window closing: nothing runs, nothing is told)."""
        ticket = next(self._tickets)
        if self.busy:  # also while an end is told: a slot asking for the next export queues behind those waiting
            self._waiting.append((ticket, export))
            self.changed.emit()
            return ticket
        return ticket if self._run(ticket, export) else -1

    def cancel(self, ticket: int) -> bool:
        """A waiting export leaves the queue and is told cancelled now; the running one is asked to stop and is told
        its end (written or cancelled) when its worker ends.  ``False``: no such export, or asked already."""
        for entry in self._waiting:
            if entry[0] == ticket:
                self._waiting.remove(entry)
                self.changed.emit()
                entry[1].on_cancelled()
                return True
        if self._running is None or self._running[0] != ticket or self._cancelling:
            return False
        self._cancelling = True
        self._jobs.cancel(self._channel)
        self.changed.emit()
        return True

    def cancel_running(self) -> bool:
        """The export running stops (a progress dialog's Cancel); those waiting their turn follow."""
        return self._running is not None and self.cancel(self._running[0])

    def cancel_all(self) -> None:
        """The running export is asked to stop, then every export waiting is told cancelled, in order."""
        self.cancel_running()
        for ticket in [ticket for ticket, _export in self._waiting]:
            self.cancel(ticket)

    def _run(self, ticket: int, export: Export) -> bool:
        self._running, self._cancelling = (ticket, export), False
        if export.on_started is not None:
            export.on_started()
        job = self._jobs.submit(
            self._channel, export.work,
            lambda result: self._end(export, export.on_written, result),
            on_error=lambda error, trace: self._end(export, export.on_failed, error, trace),
            on_progress=export.on_progress,
            on_cancelled=lambda: self._end(export, export.on_cancelled),
            keep_completed=True,  # written before a Cancel took effect: it was exported, and says so
        )
        if job < 0:  # the runner is shut down: nothing more runs or is delivered
            self._running = None
            self._waiting.clear()
            self.changed.emit()
            self._say_busy(False)
            return False
        self.changed.emit()
        self._say_busy(True)
        return True

    def _end(self, export: Export, tell: Callable[..., None], *args: Any) -> None:
        """The running export's one end: its job is over, it is told, then the next export runs (unless a slot of
        that end started one: the queue is still busy)."""
        self._running, self._cancelling = None, False
        self.changed.emit()
        if export.on_job_ended is not None:
            export.on_job_ended()
        tell(*args)
        if self._running is not None:
            return
        if self._waiting:
            self._run(*self._waiting.popleft())
        else:
            self._say_busy(False)

    def _say_busy(self, busy: bool) -> None:
        if busy != self._said_busy:
            self._said_busy = busy
            self.busyChanged.emit(busy)
