"""The one queue of exports: turns, cancel of a waiting or of the running export, exactly one end each, what is
listed while a cancelled export winds down; and File > Export and the dataset panel behave alike through it."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton

import viewer.dataset.controller as dataset_controller
from held_export import hold_exports
from media import write_video
from viewer.export_queue import Export, ExportQueue
from viewer.jobs import JobRunner
from viewer.main_window import MainWindow
from viewer.widgets.export_list import NOTHING, ExportList

WAIT_MS = 20000


@pytest.fixture
def runner(qtbot):  # noqa: ANN001
    jobs = JobRunner()
    yield jobs
    jobs.shutdown()


class Told:
    """What the queue told of each export, in order, and what busyChanged said."""

    def __init__(self, queue: ExportQueue) -> None:
        self.ends: list[str] = []
        self.busy: list[bool] = []
        queue.busyChanged.connect(self.busy.append)

    def export(self, name: str, work: Callable[..., Any]) -> Export:
        return Export(
            f"Exporting {name}", work,
            on_written=lambda result: self.ends.append(f"{name} written: {result}"),
            on_failed=lambda error, _trace: self.ends.append(f"{name} failed: {error}"),
            on_cancelled=lambda: self.ends.append(f"{name} cancelled"),
            on_started=lambda: self.ends.append(f"{name} started"),
        )


def held(reached: threading.Event, release: threading.Event, *, writes: bool = False) -> Callable[..., Any]:
    """A job that waits for ``release``, then stops when cancelled (``writes``: it had written its file already)."""

    def work(cancel, progress):  # noqa: ANN001, ANN202
        reached.set()
        assert release.wait(WAIT_MS / 1000)
        if not writes:
            cancel.raise_if_cancelled()
        return "file"

    return work


def test_a_waiting_export_cancelled_is_told_once_and_never_runs(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached, release = threading.Event(), threading.Event()
    queue.add(told.export("a", held(reached, release)))
    second = queue.add(told.export("b", lambda cancel, progress: "never"))
    assert queue.in_progress() == ["Exporting a", "Exporting b"]
    assert queue.cancel(second) and not queue.cancel(second)  # a second Cancel finds nothing
    assert told.ends == ["a started", "b cancelled"] and queue.in_progress() == ["Exporting a"]
    release.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "b cancelled", "a written: file"] and told.busy == [True, False]


def test_the_running_export_cancelled_is_listed_as_cancelling_until_its_worker_ends(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached, release = threading.Event(), threading.Event()
    first = queue.add(told.export("a", held(reached, release)))
    assert reached.wait(WAIT_MS / 1000)
    assert queue.cancel(first) and not queue.cancel_running()  # asked once
    queue.add(told.export("b", lambda cancel, progress: "b.csv"))
    assert queue.in_progress() == ["Exporting a (cancelling)", "Exporting b"] and queue.unfinished() == ["Exporting b"]
    assert queue.busy and told.ends == ["a started"]
    release.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "a cancelled", "b started", "b written: b.csv"]
    assert told.busy == [True, False] and queue.in_progress() == []


def test_a_cancelled_export_that_wrote_its_file_is_told_written(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached, release = threading.Event(), threading.Event()
    queue.add(told.export("a", held(reached, release, writes=True)))
    assert reached.wait(WAIT_MS / 1000)
    queue.cancel_all()
    release.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "a written: file"]


def test_cancel_all_tells_each_waiting_export_once_in_order(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached, release = threading.Event(), threading.Event()
    queue.add(told.export("a", held(reached, release)))
    queue.add(told.export("b", lambda cancel, progress: "never"))
    queue.add(told.export("c", lambda cancel, progress: "never"))
    assert reached.wait(WAIT_MS / 1000)
    queue.cancel_all()
    queue.cancel_all()  # the second finds nothing more to tell
    assert told.ends == ["a started", "b cancelled", "c cancelled"]
    release.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "b cancelled", "c cancelled", "a cancelled"] and told.busy == [True, False]


# -- File > Export and the dataset panel's exports, through the same steps ---------------------------------------


def _normalised(in_progress: str) -> list[str]:
    """``in_progress`` without each caller's wording: the file names written, and which one is cancelling."""
    return [re.sub(r"^Exporting .* to ([^ ]+)\.\w+", r"\1", title) for title in in_progress.split("; ") if title]


def _end_told(message: str, ends: list[str]) -> None:
    """An export's end as either caller tells it ("Exported PATH", "table written to PATH", "...cancelled..."),
    without its wording; other messages are left out."""
    if "cancelled" in message:
        ends.append("cancelled")
    elif message.startswith("Exported ") or " written to " in message:
        ends.append(f"written {Path(message.split()[-1]).stem}")


@dataclass(frozen=True)
class Caller:
    """One caller of the export queue, driven as its user does; its first export waits for ``release``."""

    controller: Any
    start: Callable[[str], None]
    cancel: Callable[[], None]
    busy_signal: Any
    reached: threading.Event
    release: threading.Event


def _window_exports(qtbot, win: MainWindow, tmp_path: Path, monkeypatch, ends: list[str]) -> Caller:  # noqa: ANN001
    """File > Export of a 12-frame video, cancelled with its progress dialog's Cancel; every clip export waits at
    its first frame for ``release``; the ends told go to ``ends``."""
    win.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: win.state.frame_count == 12 and win.video.shown_index == 0, timeout=WAIT_MS)
    reached, release = hold_exports(win, "test.held", WAIT_MS / 1000)
    win.notifier.noticeRaised.connect(lambda text: _end_told(text, ends))
    return Caller(win.export, lambda name: win.export.export_clip(str(tmp_path / f"{name}.mp4"), (0, 1, 2)),
                  lambda: win.export.progress_dialog.findChild(QPushButton).click(), win.export.busyChanged, reached, release)


def _dataset_exports(qtbot, win: MainWindow, tmp_path: Path, monkeypatch, ends: list[str]) -> Caller:  # noqa: ANN001
    """The dataset panel's table export (no dataset open: a header alone), cancelled with the panel's Cancel; the
    first waits to format the table until ``release``."""
    reached, release = threading.Event(), threading.Event()
    real = dataset_controller.table_csv

    def held_once(rows):  # noqa: ANN001, ANN202
        if not reached.is_set():
            reached.set()
            assert release.wait(WAIT_MS / 1000)
        return real(rows)

    monkeypatch.setattr(dataset_controller, "table_csv", held_once)
    controller = win.dataset.controller
    controller.finished.connect(lambda _channel, text: _end_told(text, ends))
    return Caller(controller, lambda name: controller.export_csv(str(tmp_path / f"{name}.csv")), controller.cancel,
                  getattr(getattr(controller, "exports", None), "busyChanged", None), reached, release)


@pytest.mark.parametrize("exports_of", [_window_exports, _dataset_exports], ids=["window", "dataset panel"])
def test_start_cancel_start_goes_the_same_way_through_both_callers(qtbot, window: MainWindow, tmp_path: Path, monkeypatch, exports_of) -> None:  # noqa: ANN001
    """Each kept its own queue: the window listed nothing of a cancelled export still winding down, and the panel
    could not say what it was writing at all."""
    ends: list[str] = []  # how each export's end was told, in order
    caller = exports_of(qtbot, window, tmp_path, monkeypatch, ends)
    busy: list[bool] = []
    assert caller.busy_signal is not None, "the dataset panel's exports say nothing of being busy"
    caller.busy_signal.connect(busy.append)
    caller.start("first")
    assert caller.reached.wait(WAIT_MS / 1000)
    caller.cancel()
    caller.start("second")
    listed = _normalised(caller.controller.in_progress())
    caller.release.set()
    qtbot.waitUntil(lambda: busy[-1:] == [False], timeout=WAIT_MS)
    assert (listed, ends, busy) == (["first (cancelling)", "second"], ["cancelled", "written second"], [True, False])
    assert caller.controller.in_progress() == "" and not any(tmp_path.glob("first.*")) and len(list(tmp_path.glob("second.*"))) == 1


# -- the list of exports in progress, each with its own Cancel ---------------------------------------------------


def test_the_export_list_cancels_one_waiting_export_and_follows_the_queue(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    """Only the running export could be cancelled (its progress dialog's Cancel): one waiting could only be let run."""
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached_a, release_a, reached_b, release_b = (threading.Event() for _ in range(4))
    queue.add(told.export("a", held(reached_a, release_a)))
    queue.add(told.export("b", held(reached_b, release_b)))
    queue.add(told.export("c", lambda cancel, progress: "never"))
    shown = ExportList([queue])
    qtbot.addWidget(shown)
    assert shown.texts() == ["Exporting a (running)", "Exporting b (waiting)", "Exporting c (waiting)"] and shown.empty.isHidden()
    qtbot.mouseClick(shown.buttons[2], Qt.MouseButton.LeftButton)  # the second one waiting
    assert told.ends == ["a started", "c cancelled"]
    assert shown.texts() == ["Exporting a (running)", "Exporting b (waiting)"]
    release_a.set()
    qtbot.waitUntil(lambda: shown.texts() == ["Exporting b (running)"], timeout=WAIT_MS)  # a ended, b started
    release_b.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "c cancelled", "a written: file", "b started", "b written: file"]
    assert shown.texts() == [] and not shown.empty.isHidden() and shown.empty.text() == NOTHING


def test_the_running_export_cancelled_from_the_list_says_cancelling_until_it_ends(qtbot, runner: JobRunner) -> None:  # noqa: ANN001
    queue = ExportQueue(runner, "export")
    told = Told(queue)
    reached, release = threading.Event(), threading.Event()
    queue.add(told.export("a", held(reached, release)))
    assert reached.wait(WAIT_MS / 1000)
    shown = ExportList([queue])
    qtbot.addWidget(shown)
    qtbot.mouseClick(shown.buttons[0], Qt.MouseButton.LeftButton)
    assert shown.texts() == ["Exporting a (cancelling)"] and not shown.buttons[0].isEnabled()
    release.set()
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)
    assert told.ends == ["a started", "a cancelled"] and shown.texts() == []


def test_file_export_lists_the_window_s_exports_and_cancels_a_waiting_one(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """File > Export > Exports in progress…, through the menu: one MP4 held running and two waiting; the second
    waiting one cancelled there is told cancelled once and never written, the first still is."""
    ends: list[str] = []
    caller = _window_exports(qtbot, window, tmp_path, monkeypatch, ends)
    for name in ("running", "first", "second"):
        caller.start(name)
    assert caller.reached.wait(WAIT_MS / 1000)
    window.findChild(QAction, "showExports").trigger()
    dialog = window.exports_ui.dialog
    assert dialog is not None and dialog.isVisible()
    listed = dialog.list
    assert [re.sub(r"^Exporting frames 0-2 to ", "", t) for t in listed.texts()] == ["running.mp4 (running)", "first.mp4 (waiting)",
                                                                                      "second.mp4 (waiting)"]
    qtbot.mouseClick(listed.buttons[2], Qt.MouseButton.LeftButton)
    assert ends == ["cancelled"] and len(listed.texts()) == 2
    caller.release.set()
    qtbot.waitUntil(lambda: not window.export.busy, timeout=WAIT_MS)
    assert ends == ["cancelled", "written running", "written first"] and listed.texts() == []
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["clip.mp4", "first.mp4", "running.mp4"]
