"""Exports: the CSV is formatted in the worker from a snapshot taken on the GUI thread, and exports asked
for in quick succession are all written, in the order asked."""

from __future__ import annotations

import csv
import io
import threading

from PySide6.QtCore import QCoreApplication
from dataset_helpers import FAVOURED
from media import write_video
from dataset_panel_helpers import WAIT_MS, export_messages, finished, hold_table_writes, open_listed


def test_the_csv_is_formatted_off_the_gui_thread_from_the_rows_as_they_were_asked_for(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    import viewer.dataset.controller as controller_module

    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    panel.split_box.setCurrentIndex(panel.split_box.findData("val"))
    threads = []
    real = controller_module.table_csv
    monkeypatch.setattr(controller_module, "table_csv", lambda rows: threads.append(threading.current_thread()) or real(rows))
    shown_split = [r.relative for r in controller.proxy.visible_rows()]
    controller.export_csv(str(tmp_path / "table.csv"))
    for row in controller.rows:
        row.split = "changed after the export was asked for"
    assert finished(qtbot, window, "dataset-export") == f"table written to {tmp_path / 'table.csv'}"
    assert threads and threads[0] is not threading.main_thread()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "table.csv").read_text())))
    assert [r["Video"] for r in rows] == shown_split and {r["Split"] for r in rows} == {"val"}


def test_exports_in_quick_succession_are_all_written(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint)
    finished(qtbot, window, "dataset-eval")
    messages = []
    controller.finished.connect(lambda channel, message: channel == "dataset-export" and messages.append(message))
    targets = [tmp_path / "a.csv", tmp_path / "confusion.png", tmp_path / "b.csv"]
    controller.export_csv(str(targets[0]))
    controller.export_confusion(str(targets[1]))
    controller.export_csv(str(targets[2]))
    qtbot.waitUntil(lambda: len(messages) == 3, timeout=WAIT_MS)
    assert messages == [f"table written to {targets[0]}", f"confusion matrix written to {targets[1]}", f"table written to {targets[2]}"]
    assert targets[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for target in (targets[0], targets[2]):
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert len(rows) == 30 and sum(r["Prediction"] == FAVOURED for r in rows) == 10


def test_an_export_that_cannot_be_written_is_one_line_naming_the_file(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    target = blocked / "table.csv"  # under a file: no folder to write in
    controller.export_csv(str(target))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=WAIT_MS)
    assert window.notifier.last_error.startswith(f"{target}: ") and "\n" not in window.notifier.last_error
    assert not controller.jobs.is_busy("dataset-export")  # nothing was started


def test_a_full_disk_is_one_line_naming_the_file_and_nothing_is_left(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    """The disk filling up as the table and the confusion matrix are written (the atomic writer raising ENOSPC) was
    "Export failed: OSError: [Errno 28] No space left on device", naming no file."""
    import errno

    import core.atomic as atomic

    def disk_full(path, data):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_bytes", disk_full)
    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    controller.export_csv(str(tmp_path / "table.csv"))
    qtbot.waitUntil(lambda: len(errors) == 1 and not controller.jobs.is_busy("dataset-export"), timeout=WAIT_MS)
    assert errors == [f"Export failed: {tmp_path / 'table.csv'}: cannot write: the disk is full"]
    assert list(tmp_path.iterdir()) == []


def test_the_table_is_never_written_over_the_annotation_file_it_was_read_from(qtbot, window, tmp_path):  # noqa: ANN001
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "a.mp4", 12)
    annotations = tmp_path / "train.csv"
    annotations.write_text("label,path\nx,videos/a.mp4\n")
    original = annotations.read_bytes()
    controller = window.dataset.controller
    open_listed(qtbot, window, annotations)
    controller.export_csv(str(annotations))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=WAIT_MS)
    assert window.notifier.last_error.startswith(f"{annotations}: is a file this export reads")
    assert not controller.jobs.is_busy("dataset-export") and annotations.read_bytes() == original


def test_a_table_written_before_the_panels_cancel_is_reported_written(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    """Cancel pressed after the table was written (atomically), before its job returned: the panel said "export
    cancelled" beside the file it had written."""
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    written, release = hold_table_writes(monkeypatch, written_first=True)
    target = tmp_path / "table.csv"
    controller.export_csv(str(target))
    assert written.wait(WAIT_MS / 1000)
    controller.cancel()
    release.set()
    assert finished(qtbot, window, "dataset-export") == f"table written to {target}"
    assert len(list(csv.DictReader(io.StringIO(target.read_text())))) == 30


def test_an_export_asked_for_after_a_cancel_waits_for_the_cancelled_one_to_end(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    """The cancelled export, still running, was superseded on the job channel by the next one: its end went unheard."""
    import viewer.dataset.controller as controller_module

    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    started, release = threading.Event(), threading.Event()
    real = controller_module.table_csv

    def held_once(rows):  # noqa: ANN001, ANN202
        if not started.is_set():
            started.set()
            release.wait(10)
        return real(rows)

    monkeypatch.setattr(controller_module, "table_csv", held_once)
    messages = export_messages(controller)
    cancelled, kept = tmp_path / "cancelled.csv", tmp_path / "kept.csv"
    controller.export_csv(str(cancelled))
    assert started.wait(WAIT_MS / 1000)
    controller.cancel()
    controller.export_csv(str(kept))
    assert controller.exports_in_progress() == 1  # waiting its turn
    release.set()
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=WAIT_MS)
    assert messages == ["export cancelled", f"table written to {kept}"]
    assert not cancelled.exists() and kept.is_file()


def test_a_cancelled_export_is_listed_as_cancelling_until_its_worker_ends(qtbot, window, tmp_path, monkeypatch):  # noqa: ANN001
    """The panel could not say what it was writing, and its Cancel dropped the exports waiting their turn without a
    word: only the one being written said "export cancelled"."""
    controller = window.dataset.controller
    reached, release = hold_table_writes(monkeypatch)
    controller.export_csv(str(tmp_path / "cancelled.csv"))
    controller.export_csv(str(tmp_path / "waiting.csv"))
    assert reached.wait(WAIT_MS / 1000)
    assert controller.in_progress() == "Exporting the table to cancelled.csv; Exporting the table to waiting.csv"
    told: list[tuple[str, str]] = []
    controller.finished.connect(lambda channel, text: channel == "dataset-export" and told.append((text, controller.in_progress())))
    controller.cancel()
    controller.cancel()  # a second Cancel tells nothing more
    QCoreApplication.processEvents()  # whatever the worker sent is delivered; it is still held before writing
    assert told == [("export cancelled", "Exporting the table to cancelled.csv (cancelling)")]  # the waiting one, at once
    assert controller.in_progress() == "Exporting the table to cancelled.csv (cancelling)" and controller.exports_in_progress() == 0
    release.set()
    qtbot.waitUntil(lambda: len(told) == 2, timeout=WAIT_MS)
    assert told[1] == ("export cancelled", "") and not controller.exports.busy and list(tmp_path.iterdir()) == []
