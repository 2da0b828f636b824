"""An export that waits: an overlay source whose drawing blocks until the test releases it, so a test can act
while the export is in progress (cancel it, close the window, ask for another)."""

from __future__ import annotations

import threading
from typing import Any


def hold_exports(window: Any, name: str, wait_s: float) -> tuple[threading.Event, threading.Event]:
    """Add overlay source ``name`` to ``window``'s exports; returns ``(started, release)``: ``started`` is set when an
    export draws its first frame, which then waits for ``release`` (at most ``wait_s`` seconds)."""
    started, release = threading.Event(), threading.Event()

    def held(index: int) -> None:
        started.set()
        release.wait(wait_s)
        return None

    window.export.add_overlay_source("flow", name, lambda: held)
    return started, release
