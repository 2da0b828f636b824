"""Cancel in the export progress dialog, pressed as the export ends: the queue goes on, and the notice tells the truth
about the file."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QPushButton

import viewer.export as export_module
from held_export import hold_exports
from media import write_video
from viewer.main_window import MainWindow


def _window_on_a_video(qtbot, tmp_path: Path) -> tuple[MainWindow, list[str], list[str]]:  # noqa: ANN001
    """A window showing frame 0 of a 12-frame video; ``(window, paths exported, notices)``."""
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: win.state.frame_count == 12 and win.video.shown_index == 0, timeout=10000)
    exported: list[str] = []
    notices: list[str] = []
    win.export.exported.connect(exported.append)
    win.notifier.noticeRaised.connect(notices.append)
    return win, exported, notices


def _press_cancel(win: MainWindow) -> None:
    win.export.progress_dialog.findChild(QPushButton).click()  # the dialog's Cancel button


def test_cancel_pressed_as_a_short_export_ends_lets_the_next_one_run(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The export ended (its result on its way to the GUI thread) just before Cancel: the result was dropped as stale,
    neither "exported" nor "cancelled" reached the export queue, and the export waiting its turn never started."""
    win, exported, notices = _window_on_a_video(qtbot, tmp_path)
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    assert win.export.export_png(str(first))
    assert win.export.export_png(str(second))  # waits its turn
    assert win.jobs.wait(20000)  # the first is written; the GUI thread has not heard yet
    _press_cancel(win)
    qtbot.waitUntil(lambda: len(exported) == 2, timeout=20000)
    assert exported == [str(first), str(second)] and first.is_file() and second.is_file()
    assert not any("nothing was written" in n for n in notices), notices  # the first was written: it says so
    assert not win.export.busy and win.export.progress_dialog is None and win.export.in_progress() == ""
    win.close()


def test_an_export_cancelled_after_its_file_was_written_says_it_was_written(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Cancel after the atomic write, before the job returned: the notice said "nothing was written" beside the file."""
    win, exported, notices = _window_on_a_video(qtbot, tmp_path)
    written, release = threading.Event(), threading.Event()
    real_write = export_module.write_png

    def write_then_wait(path, image):  # noqa: ANN001, ANN202
        real_write(path, image)
        written.set()
        release.wait(10)

    monkeypatch.setattr(export_module, "write_png", write_then_wait)
    out = tmp_path / "view.png"
    assert win.export.export_png(str(out))
    assert written.wait(20)
    _press_cancel(win)
    release.set()
    qtbot.waitUntil(lambda: not win.export.busy and win.export.progress_dialog is None, timeout=20000)
    qtbot.waitUntil(lambda: bool(exported), timeout=20000)
    assert exported == [str(out)] and out.is_file()
    assert not any("nothing was written" in n for n in notices), notices
    assert f"Exported {out}" in notices
    win.close()


def test_an_export_asked_for_right_after_a_cancel_waits_for_the_cancelled_one_to_end(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The cancelled export, still winding down, was superseded on the job channel by the next one: its end was never
    heard (no "cancelled", or no "exported" when it had written its file after all)."""
    win, exported, notices = _window_on_a_video(qtbot, tmp_path)
    started, release = hold_exports(win, "test.held", 10)
    clip, view = tmp_path / "cancelled.mp4", tmp_path / "next.png"
    assert win.export.export_clip(str(clip), (0, 1, 2)) > 0
    assert started.wait(20)
    _press_cancel(win)
    assert win.export.export_png(str(view))
    assert "next.png" in win.export.in_progress()  # waiting its turn, behind the cancelled export
    release.set()
    qtbot.waitUntil(lambda: exported == [str(view)], timeout=20000)
    assert notices.index("Export cancelled; nothing was written") < notices.index(f"Exported {view}")
    assert not clip.exists() and view.is_file()
    assert not win.export.busy and win.export.progress_dialog is None and win.export.in_progress() == ""
    win.close()


def test_an_export_started_by_the_previous_ones_end_is_still_busy(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """A slot of ``exported`` that asks for the next export (a script exporting frame after frame) starts it at once;
    the queue, empty, then said the exports were done (busyChanged(False)) while that export ran."""
    win, exported, _notices = _window_on_a_video(qtbot, tmp_path)
    second = tmp_path / "second.png"
    busy: list[bool] = []
    win.export.busyChanged.connect(busy.append)
    win.export.exported.connect(lambda path: win.export.export_png(str(second)) if path.endswith("first.png") else None)
    assert win.export.export_png(str(tmp_path / "first.png"))
    qtbot.waitUntil(lambda: len(exported) == 2, timeout=20000)
    qtbot.waitUntil(lambda: not win.export.busy, timeout=10000)
    assert busy == [True, False] and second.is_file()
    win.close()


def test_a_cancelled_export_is_listed_as_cancelling_until_its_worker_ends(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Cancel took the export off the list at once, while its worker still ran (and might still write its file):
    "what is being exported?" said nothing until its end arrived."""
    win, _exported, notices = _window_on_a_video(qtbot, tmp_path)
    started, release = hold_exports(win, "test.held", 10)
    clip = tmp_path / "cancelled.mp4"
    assert win.export.export_clip(str(clip), (0, 1, 2)) > 0
    assert started.wait(20)
    _press_cancel(win)
    QCoreApplication.processEvents()  # whatever the worker sent is delivered; it is still held at its first frame
    assert win.export.in_progress() == "Exporting frames 0-2 to cancelled.mp4 (cancelling)" and win.export.busy
    assert win.unfinished_exports() == []  # closing would drop nothing more: no question
    listed_when_told: list[tuple[str, str]] = []
    win.notifier.noticeRaised.connect(lambda text: listed_when_told.append((text, win.export.in_progress())))
    release.set()
    qtbot.waitUntil(lambda: not win.export.busy, timeout=20000)
    assert listed_when_told == [("Export cancelled; nothing was written", "")] and not clip.exists()
    win.close()
