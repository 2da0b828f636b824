"""Waiting for the updates the viewer posts to later turns of the event loop (:mod:`viewer.staging`)."""

from __future__ import annotations

from viewer.staging import turns


def settle(qtbot, timeout_ms: int = 5000) -> None:  # noqa: ANN001 - pytest-qt's fixture
    """Let every posted update run (heat layers, the cross-stream matrix, the timeline's axis)."""
    qtbot.waitUntil(lambda: not turns().pending(), timeout=timeout_ms)
