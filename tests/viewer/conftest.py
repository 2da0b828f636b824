"""Viewer tests run as the application does: cyclic garbage is collected on the GUI thread only
(:mod:`viewer.collector`), and a test fails if a background job outlives it: a job left running
would go on in the next test, beside its windows."""

from __future__ import annotations

import pytest

from viewer.collector import GuiThreadCollector
from viewer.jobs import wait_for_all_jobs
from viewer.main_window import MainWindow

JOB_GRACE_MS = 20000  # a job already cancelled finishes its current step (a model block, a flow chunk)


@pytest.fixture(autouse=True)
def _gui_thread_collection(qapp):  # noqa: ANN001, ANN202
    collector = GuiThreadCollector(qapp)
    collector.start()
    try:
        yield
    finally:
        ended = wait_for_all_jobs(JOB_GRACE_MS)
        collector.stop()
        collector.deleteLater()
    assert ended, f"a background job was still running {JOB_GRACE_MS / 1000:.0f} s after the test ended"


@pytest.fixture
def window(qtbot):  # noqa: ANN001, ANN201 - a test module may define its own
    """A main window as the app opens it, shown offscreen, with no video."""
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
