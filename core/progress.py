"""Progress reporting and cooperative cancellation for long work.

Compute functions in ``core`` take an optional :class:`CancelToken` and an
optional progress callback; the viewer's workers and the command line's
progress line are thin wrappers around them (no threads in here).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Optional, Protocol, TextIO

from core.errors import Cancelled


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


class CancelToken:
    """A thread-safe flag that long work polls between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


def check(cancel: Optional[CancelToken]) -> None:
    """Raise :class:`Cancelled` if ``cancel`` has fired; a no-op for ``None``."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def report(progress: Optional[Callable[..., None]], done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if given."""
    if progress is not None:
        progress(done, total, message)


class ProgressLine:
    """A one-line progress display for the command line (``\\r`` on a terminal,
    a line every few seconds otherwise), with rate and ETA."""

    def __init__(self, label: str, stream: TextIO | None = None, min_interval_s: float = 0.2) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval_s = min_interval_s if self._is_tty() else 5.0
        self._start = time.monotonic()
        self._last = 0.0
        self._shown = False

    def _is_tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.min_interval_s:
            return
        self._last = now
        elapsed = now - self._start
        pct = 100.0 * done / total if total else 100.0
        eta = elapsed / done * (total - done) if done else float("nan")
        eta_text = f"ETA {eta:5.1f}s" if done and done < total else f"{elapsed:5.1f}s"
        text = f"{self.label}: {done}/{total} ({pct:3.0f}%) {eta_text} {message}".rstrip()
        end = "" if self._is_tty() and done < total else "\n"
        prefix = "\r" if self._is_tty() else ""
        self.stream.write(prefix + text + end)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self._is_tty():
            self.stream.write("\n")
            self.stream.flush()
