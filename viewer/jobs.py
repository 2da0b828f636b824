"""One worker infrastructure for every background job (frames, flow, classification).

A job is a plain function ``fn(cancel, progress) -> result`` from ``core``;
``progress(done, total, message, partial=obj)`` can also hand over a partial
result (a chunk of a long scan) to show before the job ends.  Jobs
run on a thread pool; each *channel* ("frame", "flow", "classify") has at most
one job that matters: submitting a new one cancels the old one, and results
carry a request id so a stale result is dropped, never shown.  A job its owner
cancelled still ends with exactly one call to it, however late its end arrives
(an owner waiting for it, :mod:`viewer.export_queue`, would otherwise wait for ever):
``on_cancelled``, or ``on_result`` when the function returned and the owner keeps
completed results (an export whose file was written).  Only a job superseded by
a newer request on its channel ends in silence: its owner hears from the newer
one.  After :meth:`JobRunner.shutdown` (the window closing) nothing is delivered
at all.

Jobs running at once share the cores (:data:`core.thread_budget.WORKER_BUDGET`):
each gets an even share of torch threads, re-read at every progress report, and
idle torch threads sleep instead of spinning, so overlapping jobs slow down in
proportion instead of collapsing (``python main.py bench ui``).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from core.errors import Cancelled
from core.progress import CancelToken
from core.thread_budget import WORKER_BUDGET, sleep_idle_openmp_threads

sleep_idle_openmp_threads()  # before the workers import torch (OpenMP reads it once)

JobFunction = Callable[[CancelToken, Callable[..., None]], Any]
_worker_niceness = 0  # the application raises it (viewer.app); tests keep full-speed workers


def set_worker_niceness(niceness: int) -> None:
    """How much nicer (Linux ``nice``) worker threads are than the GUI thread, from their next job on."""
    global _worker_niceness
    _worker_niceness = max(0, min(19, int(niceness)))


def lower_thread_priority() -> None:
    """Make the calling worker thread nicer than the GUI thread.

    On a 2-core machine the pool's threads (and torch's) outnumber the cores;
    without this the GUI thread waits its turn behind them and the heartbeat
    of ``bench ui`` shows it.  Linux nice values are per thread; elsewhere this
    is a no-op.  A worker alone on the machine still gets the whole CPU.
    """
    niceness = _worker_niceness
    if niceness > 0 and sys.platform.startswith("linux"):
        try:
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            if current < niceness:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError:
            pass  # not permitted (a sandbox): keep the default


@dataclass
class _Handlers:
    on_result: Callable[[Any], None]
    on_error: Callable[[BaseException, str], None] | None
    on_progress: Callable[[int, int, str], None] | None
    on_cancelled: Callable[[], None] | None
    on_partial: Callable[[Any], None] | None = None
    keep_completed: bool = False  # a result that arrives after a cancel is delivered, not turned into on_cancelled
    token: CancelToken = field(default_factory=CancelToken)


class _Relay(QObject):
    """Lives on the GUI thread; worker threads emit, Qt queues to the GUI thread."""

    finished = Signal(int, object)
    failed = Signal(int, object, str)
    cancelled = Signal(int)
    progressed = Signal(int, int, int, str)
    partial = Signal(int, object)


class _Runnable(QRunnable):
    def __init__(self, job_id: int, fn: JobFunction, token: CancelToken, relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job_id, self._fn, self._token, self._relay = job_id, fn, token, relay

    def run(self) -> None:
        relay, job_id, token = self._relay, self._job_id, self._token
        lower_thread_priority()

        def progress(done: int, total: int, message: str = "", partial: Any = None) -> None:
            token.raise_if_cancelled()  # a progress report is also a cancellation point
            WORKER_BUDGET.apply()  # and a chunk boundary: follow jobs that started or ended meanwhile
            if partial is not None:
                relay.partial.emit(job_id, partial)
            relay.progressed.emit(job_id, int(done), int(total), str(message))

        try:
            token.raise_if_cancelled()
            with WORKER_BUDGET.job():
                result = self._fn(token, progress)
            relay.finished.emit(job_id, result)  # cancelled meanwhile or not: the GUI thread, which cancels, decides
        except Cancelled:
            relay.cancelled.emit(job_id)
        except BaseException as err:  # noqa: BLE001 - every error goes to the user
            relay.failed.emit(job_id, err, traceback.format_exc())


_RUNNERS: "weakref.WeakSet[JobRunner]" = weakref.WeakSet()


def wait_for_all_jobs(timeout_ms: int) -> bool:
    """Wait until no job of any runner is running (True), or ``timeout_ms`` passes (False)."""
    deadline = time.monotonic() + timeout_ms / 1000.0
    for runner in list(_RUNNERS):
        left = max(0, int((deadline - time.monotonic()) * 1000))
        if not runner.wait(left):
            return False
    return True


class JobRunner(QObject):
    """Start, cancel and deliver background jobs; newest request per channel wins."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 5, own_thread: tuple[str, ...] = ()) -> None:
        """``own_thread``: channels that get a thread of their own, so their jobs never wait in the queue
        behind long ones (a frame asked for while flow, a scan and a model held every shared thread)."""
        super().__init__(parent)
        _RUNNERS.add(self)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._own_pools: dict[str, QThreadPool] = {}
        for channel in own_thread:
            pool = self._own_pools[channel] = QThreadPool(self)
            pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.cancelled.connect(self._on_cancelled)
        self._relay.progressed.connect(self._on_progress)
        self._relay.partial.connect(self._on_partial)
        self._ids = itertools.count(1)
        self._current: dict[str, int] = {}  # the job in progress of each channel (none once cancelled)
        self._latest: dict[str, int] = {}  # the newest job asked for on each channel: only its end reaches its owner
        self._handlers: dict[int, _Handlers] = {}
        self._channel_of: dict[int, str] = {}
        self._closed = False
        self._lock = threading.Lock()

    def submit(
        self,
        channel: str,
        fn: JobFunction,
        on_result: Callable[[Any], None],
        *,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        keep_completed: bool = False,
    ) -> int:
        """Run ``fn`` in the background; cancels the channel's previous job.  ``keep_completed``: when ``fn`` returned
        though the job was cancelled meanwhile (a cancel too late to stop it), ``on_result`` still gets its result
        (an export: the file was written) instead of ``on_cancelled``."""
        if self._closed:
            return -1
        self.cancel(channel)
        job_id = next(self._ids)
        handlers = _Handlers(on_result, on_error, on_progress, on_cancelled, on_partial, keep_completed)
        self._handlers[job_id] = handlers
        self._channel_of[job_id] = channel
        self._current[channel] = job_id
        self._latest[channel] = job_id
        self._own_pools.get(channel, self._pool).start(_Runnable(job_id, fn, handlers.token, self._relay))
        return job_id

    def cancel(self, channel: str) -> None:
        job_id = self._current.pop(channel, None)
        if job_id is not None and job_id in self._handlers:
            self._handlers[job_id].token.cancel()

    def is_busy(self, channel: str) -> bool:
        return channel in self._current

    @property
    def busy_channels(self) -> tuple[str, ...]:
        """The channels with a job that matters in progress (none: the viewer is idle)."""
        return tuple(self._current)

    def current(self, channel: str) -> int | None:
        """The id of the channel's job in progress (``None``: none): which request it is."""
        return self._current.get(channel)

    def wait(self, wait_ms: int) -> bool:
        """Whether every job has ended within ``wait_ms`` (nothing is cancelled)."""
        try:
            return self._wait_pools(wait_ms)
        except RuntimeError:  # the pool is gone with its window: Qt waited for its threads then
            return True

    def _wait_pools(self, wait_ms: int) -> bool:
        deadline = time.monotonic() + wait_ms / 1000.0
        for pool in (self._pool, *self._own_pools.values()):
            if not pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000))):
                return False
        return True

    def shutdown(self, wait_ms: int = 3000) -> bool:
        """Cancel everything, deliver nothing more, and wait for workers to stop."""
        self._closed = True
        for handlers in self._handlers.values():
            handlers.token.cancel()
        self._current.clear()
        return self._wait_pools(wait_ms)

    # -- delivery on the GUI thread -------------------------------------------------
    def _ended(self, job_id: int) -> _Handlers | None:
        """The handlers of a job that ended, whose owner hears how: ``None`` after shutdown, or when a newer request
        on its channel superseded it (the owner hears from that one)."""
        handlers = self._handlers.pop(job_id, None)
        channel = self._channel_of.pop(job_id, "")
        if self._current.get(channel) == job_id:
            del self._current[channel]
        if handlers is None or self._closed or self._latest.get(channel) != job_id:
            return None
        return handlers

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        handlers = self._ended(job_id)
        if handlers is None:
            return
        if handlers.token.cancelled and not handlers.keep_completed:  # cancelled too late to stop it
            _report_cancelled(handlers)
        else:
            handlers.on_result(result)

    @Slot(int, object, str)
    def _on_failed(self, job_id: int, error: BaseException, trace: str) -> None:
        handlers = self._ended(job_id)
        if handlers is None:
            return
        if handlers.token.cancelled:  # what a cancelled job raised on its way out, or just before: it was cancelled
            _report_cancelled(handlers)
        elif handlers.on_error is not None:
            handlers.on_error(error, trace)
        else:  # no handler of its own: the application's error sink (viewer.app routes the excepthook to the notifier)
            sys.excepthook(type(error), error, error.__traceback__)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        handlers = self._ended(job_id)  # cancelled, or it stopped by itself (the function raised Cancelled)
        if handlers is not None:
            _report_cancelled(handlers)

    def _live(self, job_id: int) -> _Handlers | None:
        """The handlers of a job that is still the current one of its channel."""
        handlers = self._handlers.get(job_id)
        channel = self._channel_of.get(job_id)
        if handlers is None or self._closed or channel is None or self._current.get(channel) != job_id:
            return None
        return handlers

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        handlers = self._live(job_id)
        if handlers is not None and handlers.on_progress is not None:
            handlers.on_progress(done, total, message)

    @Slot(int, object)
    def _on_partial(self, job_id: int, partial: object) -> None:
        handlers = self._live(job_id)
        if handlers is not None and handlers.on_partial is not None:
            handlers.on_partial(partial)


def _report_cancelled(handlers: _Handlers) -> None:
    if handlers.on_cancelled is not None:
        handlers.on_cancelled()
