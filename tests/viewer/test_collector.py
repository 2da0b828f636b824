"""Cyclic garbage made in worker threads is collected on the GUI thread (so Qt objects in it die
there), and the test harness can tell when a background job outlives its test."""

from __future__ import annotations

import gc
import threading

from viewer.collector import GuiThreadCollector
from viewer.jobs import JobRunner, wait_for_all_jobs


class Cycle:
    """An object in a reference cycle that records the thread its finaliser ran on."""

    finalised_on: list[int] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.finalised_on.append(threading.get_ident())


def test_garbage_made_by_a_worker_is_collected_on_the_gui_thread(qtbot, qapp) -> None:  # noqa: ANN001
    before = gc.isenabled()
    collector = GuiThreadCollector(qapp, interval_ms=20)
    collector.start()
    try:
        assert not gc.isenabled()
        Cycle.finalised_on.clear()

        def churn() -> None:  # far past every generation's threshold, with cycles in it
            for _ in range(20000):
                Cycle()
                [[] for _ in range(3)]

        worker = threading.Thread(target=churn)
        worker.start()
        worker.join()
        assert Cycle.finalised_on == []  # nothing was collected on the worker
        qtbot.waitUntil(lambda: len(Cycle.finalised_on) > 1000, timeout=5000)
        assert set(Cycle.finalised_on) == {threading.get_ident()}
    finally:
        collector.stop()
    assert gc.isenabled() == before  # as it was: stopping gives collection back


def test_a_job_still_running_is_seen(qtbot, qapp) -> None:  # noqa: ANN001
    release = threading.Event()
    runner = JobRunner()
    runner.submit("slow", lambda cancel, progress: release.wait(10), lambda result: None)
    assert not wait_for_all_jobs(200)
    release.set()
    assert wait_for_all_jobs(5000)
    runner.shutdown()
    runner.deleteLater()
