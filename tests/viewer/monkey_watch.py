"""What the monkey watches besides the pictures: exceptions, Qt warnings, error dialogs, and heavy work on the GUI
thread (each pass that decodes, computes flow or runs a model there would freeze the window)."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QTimer, QtMsgType, qInstallMessageHandler

from viewer.main_window import MainWindow

WORKER_DELAY_S = float(os.environ.get("MONKEY_WORKER_DELAY_MS", "4")) / 1000.0
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints()",)  # the offscreen platform's, not ours
# the errors a user's own action asks for: a bad file, classifying with nothing to classify
EXPECTED_ERRORS = ("Cannot open video", "Cannot classify", "Cannot explain", "Nothing to export", "Cannot load checkpoint")


@dataclass
class Observations:
    """What went wrong outside the invariants: excepthooks, Qt warnings, errors in the sink, heavy GUI-thread work."""

    exceptions: list[str] = field(default_factory=list)
    qt_messages: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    gui_thread_work: list[str] = field(default_factory=list)


def guard_gui_thread(monkeypatch, seen: list[str]) -> None:  # noqa: ANN001
    """Record decoding, flow and model passes that run on the GUI thread: each would freeze the window."""
    import core.inference as inference
    import viewer.flow_controller as flow_controller

    main = threading.main_thread()

    def watched(owner: object, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if threading.current_thread() is main:
                if getattr(_reference_calls, "depth", 0) == 0:
                    seen.append(f"{getattr(owner, '__name__', owner)}.{name} ran on the GUI thread:\n{''.join(traceback.format_stack(limit=8))}")
            elif WORKER_DELAY_S:
                time.sleep(WORKER_DELAY_S)  # an HD video's pace: results arrive turns later, and races have room
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    watched(flow_controller, "compute_chunk")  # the name the controller calls
    watched(inference.ClipClassifier, "predict_clip")
    from core.video.container import ContainerVideo
    from core.video.image_sequence import ImageSequenceVideo

    watched(ContainerVideo, "_decode")
    watched(ImageSequenceVideo, "_decode")


_reference_calls = threading.local()  # the checks' own reads on the GUI thread are not the viewer's


class Heartbeat(QObject):
    """The longest the event loop went without a turn, the checks' own work left out (reported, never asserted:
    a loaded machine stretches it; :func:`guard_gui_thread` is the deterministic check)."""

    def __init__(self) -> None:
        super().__init__()
        self.longest_ms = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._beat)
        self._timer.start()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self._last) * 1000.0)
        self._last = now

    def reset(self) -> None:
        self._last = time.perf_counter()

    def stop(self) -> None:
        self._timer.stop()


HEARTBEAT: list[Heartbeat] = []


class reference_reads:
    """The checks' own work on the GUI thread: neither the viewer's heavy work nor a stall of its event loop."""

    def __enter__(self) -> None:
        _reference_calls.depth = getattr(_reference_calls, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _reference_calls.depth -= 1
        for beat in HEARTBEAT:
            beat.reset()


def small_frame_caches(monkeypatch, frames: int = 4) -> None:  # noqa: ANN001
    """Videos keep a few decoded frames only, as a long HD video does: most seeks then go through a worker."""
    from core.video.frame_cache import FrameCache

    original = FrameCache.__init__
    monkeypatch.setattr(FrameCache, "__init__", lambda self, max_bytes=0: original(self, min(int(max_bytes), frames * 160 * 96 * 3)))


def collect(monkeypatch, window: MainWindow) -> tuple[Observations, Callable[[], None]]:  # noqa: ANN001
    """Route excepthooks, Qt's warnings and the notifier's errors into one record; returns it and an undo."""
    seen = Observations()
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.exceptions.append("".join(traceback.format_exception(kind, value, tb))))
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.exceptions.append(f"{args.exc_type.__name__}: {args.exc_value}"))

    def on_message(kind: QtMsgType, _context: object, message: str) -> None:
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) and message not in OFFSCREEN_NOISE:
            seen.qt_messages.append(message)

    previous = qInstallMessageHandler(on_message)
    window.notifier.errorRaised.connect(lambda title, message: seen.errors.append((title, message)))
    guard_gui_thread(monkeypatch, seen.gui_thread_work)
    return seen, lambda: qInstallMessageHandler(previous)


def unexpected_errors(seen: Observations) -> list[str]:
    return [f"{title}: {message}" for title, message in seen.errors if title not in EXPECTED_ERRORS]
