"""Updates posted to later turns run one per turn, in order, newest per key, never for a deleted owner."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from viewer.staging import TurnQueue, turns


def test_updates_run_one_per_turn_in_order_and_a_key_keeps_its_newest(qtbot) -> None:  # noqa: ANN001
    queue = TurnQueue()
    owner = QObject()
    ran: list[str] = []
    queue.post(owner, "a", lambda: ran.append("a1"))
    queue.post(owner, "b", lambda: ran.append("b"))
    queue.post(owner, "a", lambda: ran.append("a2"))  # replaces a1, and moves behind b
    assert ran == [] and queue.pending(owner)
    QApplication.processEvents()
    assert ran == ["b"]  # one per turn: the window paints in between
    qtbot.waitUntil(lambda: not queue.pending())
    assert ran == ["b", "a2"]


def test_a_deleted_owner_is_skipped_and_flush_runs_the_rest_now(qtbot) -> None:  # noqa: ANN001
    queue = TurnQueue()
    gone, kept = QObject(), QObject()
    ran: list[str] = []
    queue.post(gone, "x", lambda: ran.append("gone"))
    queue.post(kept, "x", lambda: ran.append("kept"))  # same key, another owner: both wait
    import shiboken6

    shiboken6.delete(gone)
    queue.flush()
    assert ran == ["kept"] and not queue.pending()


def test_the_application_has_one_queue(qtbot) -> None:  # noqa: ANN001
    assert turns() is turns() and turns().parent() is QApplication.instance()
