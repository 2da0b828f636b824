"""Closing the window while an export is being written asks first: the export the user started is not dropped
without a word."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from core.video import open_video
from held_export import hold_exports
from media import write_video
from viewer.main_window import MainWindow


def _window_with_a_held_export_overlay(qtbot, tmp_path: Path, *, show_dialogs: bool) -> tuple[MainWindow, threading.Event, threading.Event]:  # noqa: ANN001
    """A window on a 12-frame video whose exports draw an overlay that waits for ``release`` (``started``: one waits)."""
    win = MainWindow(show_dialogs=show_dialogs)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: win.state.frame_count == 12 and win.video.shown_index == 0, timeout=10000)
    started, release = hold_exports(win, "test.held", 10)
    return win, started, release


def test_closing_during_an_export_asks_and_no_keeps_it_running(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    win, started, release = _window_with_a_held_export_overlay(qtbot, tmp_path, show_dialogs=True)
    out = tmp_path / "exports" / "kept.mp4"
    win.export.export_clip(str(out), (0, 1, 2))
    assert started.wait(20)

    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]

    def question(parent, title, text, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        asked.append(text)
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    assert not win.close()  # "No": the window stays, and so does its export
    assert len(asked) == 1 and "kept.mp4" in asked[0], asked
    assert win.isVisible() and win.export.busy
    release.set()
    with qtbot.waitSignal(win.export.exported, timeout=60000):
        pass
    assert len(open_video(out)) == 3  # written whole

    assert win.close()  # nothing running: no question
    assert len(asked) == 1


def test_closing_during_an_export_and_answering_yes_quits_and_leaves_nothing(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    win, _started, release = _window_with_a_held_export_overlay(qtbot, tmp_path, show_dialogs=True)
    release.set()  # frames drawn at once: the export is cancelled wherever it is
    out = tmp_path / "exports" / "dropped.mp4"
    win.export.export_clip(str(out), tuple(range(12)))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert win.close()
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])  # cancelled: not even a temporary


def test_closing_while_a_dataset_table_is_written_asks_too(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import viewer.dataset.controller as dataset_controller

    win = MainWindow(show_dialogs=True)
    qtbot.addWidget(win)
    win.show()
    started, release = threading.Event(), threading.Event()
    real = dataset_controller.write_table_csv

    def slow(path, rows, cancel, progress):  # noqa: ANN001, ANN202
        started.set()
        release.wait(10)
        return real(path, rows, cancel, progress)

    monkeypatch.setattr(dataset_controller, "write_table_csv", slow)
    win.dataset.controller.export_csv(str(tmp_path / "table.csv"))
    assert started.wait(20)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda parent, title, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.No))
    assert not win.close()
    assert len(asked) == 1 and "1 dataset export" in asked[0], asked
    release.set()
    qtbot.waitUntil(lambda: not win.jobs.is_busy("dataset-export"), timeout=20000)
    assert (tmp_path / "table.csv").exists()
    assert win.close() and len(asked) == 1


def test_a_second_export_waits_for_the_first_instead_of_cancelling_it(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Exports shared one job channel, whose newest job wins: flow metrics asked for during an MP4 export dropped the
    MP4 without a word (the dataset's exports already queued)."""
    win, started, release = _window_with_a_held_export_overlay(qtbot, tmp_path, show_dialogs=False)
    clip, metrics = tmp_path / "first.mp4", tmp_path / "second.csv"
    exported: list[str] = []
    win.export.exported.connect(exported.append)
    assert win.export.export_clip(str(clip), (0, 1, 2)) >= 0
    assert started.wait(20)
    assert win.export.export_flow_metrics(str(metrics)) >= 0  # waits its turn
    assert "first.mp4" in win.export.in_progress() and "second.csv" in win.export.in_progress()
    release.set()
    qtbot.waitUntil(lambda: len(exported) == 2, timeout=60000)
    assert exported == [str(clip), str(metrics)]
    assert len(open_video(clip)) == 3 and len(metrics.read_text().splitlines()) == 12  # a header and 11 pairs
    assert not win.export.busy and win.export.progress_dialog is None and win.export.in_progress() == ""
    win.close()
