"""The worker infrastructure: newest wins, stale results dropped, cancel, shutdown."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QCoreApplication

from core.errors import VideoError
from viewer.jobs import JobRunner


@pytest.fixture
def runner(qtbot):  # noqa: ANN001
    jobs = JobRunner()
    yield jobs
    jobs.shutdown()


def test_result_is_delivered_on_the_gui_thread(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    got = []
    gui = threading.get_ident()
    runner.submit("a", lambda cancel, progress: threading.get_ident(), lambda r: got.append((r, threading.get_ident())))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    worker_thread, delivered_on = got[0]
    assert worker_thread != gui and delivered_on == gui


def test_newest_request_wins(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    release = threading.Event()
    got: list[str] = []

    def slow(cancel, progress):  # noqa: ANN001
        release.wait(5)
        return "old"

    runner.submit("frame", slow, got.append)
    runner.submit("frame", lambda c, p: "new", got.append)
    qtbot.waitUntil(lambda: got == ["new"], timeout=5000)
    release.set()
    assert runner._pool.waitForDone(5000)
    qtbot.wait(50)
    assert got == ["new"]  # the stale result never arrived


def test_cancel_stops_a_cooperative_job_quickly(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    progress_seen: list[int] = []
    cancelled = []

    def long_job(cancel, progress):  # noqa: ANN001
        for step in range(1000):
            progress(step, 1000, "working")
            time.sleep(0.01)
        return "finished"

    runner.submit("classify", long_job, lambda r: pytest.fail("a cancelled job delivered a result"), on_progress=lambda d, t, m: progress_seen.append(d), on_cancelled=lambda: cancelled.append(True))
    qtbot.waitUntil(lambda: len(progress_seen) >= 3, timeout=5000)
    start = time.monotonic()
    runner.cancel("classify")
    qtbot.waitUntil(lambda: cancelled == [True], timeout=2000)
    assert time.monotonic() - start < 1.5
    assert not runner.is_busy("classify")


def test_errors_reach_the_error_handler(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    errors: list[BaseException] = []

    def bad(cancel, progress):  # noqa: ANN001
        raise VideoError("is not a video", "/x/y.mp4")

    runner.submit("open", bad, lambda r: None, on_error=lambda e, t: errors.append(e))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert str(errors[0]) == "/x/y.mp4: is not a video"


def test_nothing_is_delivered_after_shutdown(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner()
    got = []

    def job(cancel, progress):  # noqa: ANN001
        time.sleep(0.2)
        return 1

    runner.submit("a", job, got.append)
    assert runner.shutdown(wait_ms=5000)
    qtbot.wait(100)
    assert got == [] and runner.submit("a", job, got.append) == -1


def test_partial_results_arrive_in_order_before_the_result(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    seen: list[object] = []

    def scan(cancel, progress):  # noqa: ANN001
        for chunk in range(3):
            progress(chunk + 1, 3, "chunk", partial=chunk)
        return "done"

    runner.submit("scan", scan, seen.append, on_partial=seen.append)
    qtbot.waitUntil(lambda: "done" in seen, timeout=5000)
    assert seen == [0, 1, 2, "done"]


def test_a_channel_with_its_own_thread_never_waits_behind_the_shared_ones(qtbot) -> None:  # noqa: ANN001
    """Cancelled flow jobs still decoding held every shared thread, and the frame asked for waited 19-32 s."""
    jobs = JobRunner(max_threads=1, own_thread=("frame",))
    release = threading.Event()
    got: list[str] = []
    try:
        jobs.submit("flow", lambda c, p: release.wait(10) and "flow", got.append)
        jobs.submit("scan", lambda c, p: "scan", got.append)  # queued behind the flow job: one shared thread
        jobs.submit("frame", lambda c, p: "frame", got.append)
        qtbot.waitUntil(lambda: got == ["frame"], timeout=5000)
        release.set()
        qtbot.waitUntil(lambda: sorted(got) == ["flow", "frame", "scan"], timeout=5000)
    finally:
        release.set()
        assert jobs.shutdown(5000)


def test_waiting_for_the_runner_waits_for_its_own_threads_too(qtbot) -> None:  # noqa: ANN001
    jobs = JobRunner(own_thread=("frame",))
    release = threading.Event()
    jobs.submit("frame", lambda c, p: release.wait(10), lambda r: None)
    assert not jobs.wait(100)
    release.set()
    assert jobs.wait(5000)
    jobs.shutdown()


def test_busy_channels_name_the_jobs_in_progress_and_none_once_they_end(qtbot) -> None:  # noqa: ANN001
    jobs = JobRunner()
    release = threading.Event()
    try:
        jobs.submit("flow", lambda c, p: release.wait(10), lambda r: None)
        jobs.submit("frame", lambda c, p: 1, lambda r: None)
        assert set(jobs.busy_channels) == {"flow", "frame"}
        qtbot.waitUntil(lambda: jobs.busy_channels == ("flow",), timeout=5000)
        release.set()
        qtbot.waitUntil(lambda: jobs.busy_channels == (), timeout=5000)
    finally:
        release.set()
        jobs.shutdown()


def test_a_cancelled_job_that_then_fails_reports_cancelled(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    """A job cancelled while it ran, which then raised on its way out (not Cancelled: a reader closed under it, a
    check that failed), was dropped as stale with neither handler called: its panel's line kept its progress."""
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def job(cancel, progress):  # noqa: ANN001
        started.set()
        release.wait(5)
        raise VideoError("is not a readable image", "frame_7.png")

    runner.submit("dataset-open", job, lambda r: ended.append("result"), on_error=lambda e, t: ended.append("error"),
                  on_cancelled=lambda: ended.append("cancelled"))
    assert started.wait(5)
    runner.cancel("dataset-open")
    release.set()
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    assert ended == ["cancelled"]


def test_an_error_of_a_job_without_a_handler_reaches_the_error_sink(qtbot, runner: JobRunner, monkeypatch) -> None:  # noqa: ANN001
    """A job submitted without ``on_error`` (the model chooser's scan) failed in silence: nothing is swallowed."""
    import sys

    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.append(value))

    def broken(cancel, progress):  # noqa: ANN001, ANN202
        raise RuntimeError("header parser broke")

    runner.submit("classify-catalog", broken, lambda r: pytest.fail("a failed job delivered a result"))
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert isinstance(seen[0], RuntimeError) and str(seen[0]) == "header parser broke"


def _ended_recorder() -> tuple[list[str], dict]:
    """``(ended, handlers)``: the handlers append each terminal call to ``ended``."""
    ended: list[str] = []
    handlers = dict(on_result=lambda r: ended.append(f"result {r}"), on_error=lambda e, t: ended.append(f"error {e}"),
                    on_cancelled=lambda: ended.append("cancelled"))
    return ended, handlers


@pytest.mark.parametrize(("keep_completed", "expected"), [(False, ["cancelled"]), (True, ["result done"])])
def test_a_job_that_ended_just_before_its_cancel_still_ends_once(qtbot, runner: JobRunner, keep_completed: bool, expected: list[str]) -> None:  # noqa: ANN001
    """The job returned (its result queued to the GUI thread), then the owner cancelled it: the late result was dropped
    as stale and the owner heard nothing at all (an export queue waited for ever)."""
    ended, handlers = _ended_recorder()
    runner.submit("export", lambda c, p: "done", keep_completed=keep_completed, **handlers)
    assert runner.wait(5000)  # ended, and the GUI thread has not taken its result yet
    runner.cancel("export")
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    QCoreApplication.processEvents()
    assert ended == expected and not runner.is_busy("export")


@pytest.mark.parametrize(("keep_completed", "expected"), [(False, ["cancelled"]), (True, ["result done"])])
def test_a_job_cancelled_while_it_ran_to_the_end_reports_as_its_owner_asked(qtbot, runner: JobRunner, keep_completed: bool, expected: list[str]) -> None:  # noqa: ANN001
    """An export cancelled after its file was written (the function returned normally): by default the owner hears
    "cancelled"; an owner that keeps completed results hears the result (the file is there)."""
    started, release = threading.Event(), threading.Event()
    ended, handlers = _ended_recorder()

    def job(cancel, progress):  # noqa: ANN001, ANN202
        started.set()
        release.wait(5)
        return "done"

    runner.submit("export", job, keep_completed=keep_completed, **handlers)
    assert started.wait(5)
    runner.cancel("export")
    release.set()
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    assert runner.wait(5000)
    QCoreApplication.processEvents()
    assert ended == expected


def test_a_job_that_failed_just_before_its_cancel_reports_cancelled(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    ended, handlers = _ended_recorder()

    def bad(cancel, progress):  # noqa: ANN001, ANN202
        raise VideoError("is not a video", "/x/y.mp4")

    runner.submit("open", bad, **handlers)
    assert runner.wait(5000)
    runner.cancel("open")
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    QCoreApplication.processEvents()
    assert ended == ["cancelled"]


def test_a_cancelled_job_ending_after_a_newer_one_on_its_channel_stays_quiet(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    """The owner cancelled a job, asked for another, and heard that one's result: the first one's end, arriving after,
    reached the owner as well (a second terminal call, about a request it had replaced)."""
    started, release = threading.Event(), threading.Event()
    ended, handlers = _ended_recorder()

    def old(cancel, progress):  # noqa: ANN001, ANN202
        started.set()
        release.wait(5)
        cancel.raise_if_cancelled()

    runner.submit("dataset-open", old, **handlers)
    assert started.wait(5)
    runner.cancel("dataset-open")
    runner.submit("dataset-open", lambda c, p: "new", **handlers)
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    release.set()
    assert runner.wait(5000)
    QCoreApplication.processEvents()
    assert ended == ["result new"]
