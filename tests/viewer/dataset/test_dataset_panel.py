"""The dataset panel, offscreen, in the real window: a generated dataset scored by a checkpoint whose
answers are known (it always says Approach), filters, a confusion cell, opening a row, results files."""

from __future__ import annotations

import csv
import gc
import io

import numpy as np
import pytest
from PySide6.QtCore import Qt

import main
from core.evaluation.video_results import RESULTS_NAME
from dataset_helpers import FAVOURED
from dataset_panel_helpers import WAIT_MS, cell_text, finished, open_listed
from paths import SHARED
from training_helpers import write_colour_dataset
from viewer.dataset.rows import COL_CLASS, COL_FRAMES, Row


def test_evaluate_filter_wrong_click_a_confusion_cell_and_open_the_row(qtbot, window, data):  # noqa: ANN001
    synth, checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    assert window.dataset.dock.isVisible() and len(controller.rows) == 30
    collected = {id(o) for o in gc.get_objects()}  # frozen objects are not in any generation
    assert not any(id(r) in collected for r in controller.rows)  # the rows are exempt from full collections
    assert sorted({r.split for r in controller.rows}) == ["test", "train", "val"]
    # metadata is read lazily, for the rows on screen: the first row's frame count arrives
    qtbot.waitUntil(lambda: cell_text(window, 0, COL_FRAMES) == "12", timeout=WAIT_MS)
    assert all(r.frames is None for r in controller.rows[-5:])  # off screen: never opened

    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS, check_params_cb=lambda c, _m: c == "dataset-eval") as done:
        panel.eval_button.click()  # the test part (the default), with the Classification panel's model
    assert done.args[1].startswith("evaluated 10 videos with biased.safetensors: 1 right (10.0%)")
    scored = [r for r in controller.rows if r.record is not None]
    assert len(scored) == 10 and {r.split for r in scored} == {"test"}
    assert all(r.record.predicted == FAVOURED for r in scored)

    panel.wrong_box.setChecked(True)
    assert controller.proxy.rowCount() == 9
    assert {cell_text(window, i, COL_CLASS) for i in range(9)} == {r.true for r in scored} - {FAVOURED}
    panel.wrong_box.setChecked(False)

    matrix = panel.confusion.model()
    qtbot.waitUntil(lambda: matrix.rowCount() == 10, timeout=5000)
    names = panel.confusion.names
    r, c = names.index("RedBall"), names.index(FAVOURED)
    assert matrix.index(r, c).data() == "1" and matrix.index(r, r).data() == ""
    rect = panel.confusion.visualRect(matrix.index(r, c))
    qtbot.mouseClick(panel.confusion.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert controller.proxy.rowCount() == 1 and cell_text(window, 0, COL_CLASS) == "RedBall"
    assert panel.cell_label.text() == f"Confusion cell: true RedBall, predicted {FAVOURED}"
    accuracy = {panel.accuracy.item(i, 0).text(): panel.accuracy.item(i, 1).text() for i in range(panel.accuracy.rowCount())}
    assert accuracy[FAVOURED] == "100.0%" and accuracy["RedBall"] == "0.0%"

    # survey that clip's flow, then open it: the viewer lands on its noisiest pair
    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS, check_params_cb=lambda c, _m: c == "dataset-flow"):
        panel.scan_button.click()  # the listed rows only: this one clip
    row: Row = controller.proxy.visible_rows()[0]
    assert row.noise is not None and row.noise.pairs == 11
    table = panel.table
    centre = table.visualRect(controller.proxy.index(0, 0)).center()
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a double click is a press, then a double click
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: window.state.frame_index == row.noise.noisiest_pair, timeout=5000)
    qtbot.waitUntil(lambda: not np.isnan(window.state.flow_noise).any(), timeout=WAIT_MS)  # the viewer's own scan of it
    assert int(np.argmax(window.state.flow_noise)) == row.noise.noisiest_pair
    assert float(np.max(window.state.flow_noise)) == pytest.approx(row.noise.max_noise, abs=1e-6)
    # the prediction panel knows the true class (from the dataset) and says whose the classes are
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: "true: <b>RedBall</b>" in badge.truth_label.text() and badge.truth_label.isVisible(), timeout=WAIT_MS)
    assert badge.domain_label.text().startswith("Trained on synthetic shapes (10 classes")
    assert not badge.note_label.isVisible()  # a clip of its own dataset


def test_exports_write_the_shown_table_and_the_confusion_png(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    window.dataset.panel.eval_button.click()
    finished(qtbot, window, "dataset-eval")  # cached from the first test's run when it ran: instant
    window.dataset.panel.split_box.setCurrentIndex(window.dataset.panel.split_box.findData("test"))
    controller.export_csv(str(tmp_path / "table.csv"))
    finished(qtbot, window, "dataset-export")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "table.csv").read_text())))
    assert len(rows) == 10 and {r["Prediction"] for r in rows} == {FAVOURED}
    assert sum(r["Correct"] == "yes" for r in rows) == 1
    controller.export_confusion(str(tmp_path / "confusion.png"))
    finished(qtbot, window, "dataset-export")
    assert (tmp_path / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_results_file_written_by_eval_fills_the_table_without_recomputing(qtbot, window, data, monkeypatch):  # noqa: ANN001
    synth, checkpoint, root = data
    out = root / "eval-out"
    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out), "--device", "cpu"]) == 0
    import core.evaluation.panel_scoring as scoring

    monkeypatch.setattr(scoring, "score_video", lambda *a, **k: pytest.fail("a results file must not be recomputed"))
    controller = window.dataset.controller
    from core.evaluation.video_results import read_video_results

    listed = read_video_results(out / RESULTS_NAME).records[0].path  # a video the file lists, open before it: truth from its folder
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        window.open_video(listed)
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: window.classify.classify_state.model.config is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "(from the folder name)" in badge.truth_label.text(), timeout=WAIT_MS)
    controller.open_results(str(out / RESULTS_NAME))  # no dataset open: the file alone lists its videos
    finished(qtbot, window, "dataset-results")
    assert len(controller.rows) == 10 and sum(r.correct for r in controller.rows) == 1
    qtbot.waitUntil(lambda: "(from the dataset)" in badge.truth_label.text(), timeout=WAIT_MS)  # the file's labels replaced the mapping it read
    window.dataset.panel.wrong_box.setChecked(True)
    assert controller.proxy.rowCount() == 9
    window.dataset.panel.wrong_box.setChecked(False)
    open_listed(qtbot, window, synth)  # then the dataset: the same file's predictions land on its rows
    controller.open_results(str(out / RESULTS_NAME))
    finished(qtbot, window, "dataset-results")
    assert len(controller.rows) == 30 and sum(r.record is not None for r in controller.rows) == 10


def test_a_synthetic_model_on_a_real_video_says_its_classes_are_not_actions(qtbot, window, tmp_path):  # noqa: ANN001
    video = write_colour_dataset(tmp_path, videos_per_class=1) / "Red" / "Red_0.mp4"
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        window.open_video(str(video))
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: badge.note_label.isVisible(), timeout=WAIT_MS)
    assert "are not real actions" in badge.note_label.text()
    assert not badge.truth_label.isVisible()  # "Red" is not one of the model's classes: nothing claimed


def test_the_shared_clips_open_as_a_dataset_with_their_true_classes(qtbot, window):  # noqa: ANN001
    csv_file, videos = SHARED / "data" / "labels" / "clips_labels.csv", SHARED / "data" / "videos"
    if not csv_file.is_file() or not videos.is_dir():
        pytest.skip(f"the shared clips are absent ({csv_file})")
    open_listed(qtbot, window, csv_file, videos)
    truth = {r.path.name: r.true for r in window.dataset.controller.rows}
    assert len(truth) == 17 and truth["v_Basketball_g01_c01.avi"] == "Basketball" and truth["abseiling_k400.mp4"] == "abseiling"
    summary = window.dataset.panel.summary.text()
    assert summary.startswith("17 videos, 16 classes (kinetics)")
    # the sizes the fractions gave: one clip a class leaves little to hold out
    assert "Split column: the dataset's own split (" in summary and ": 16 train, 0 val, 1 test" in summary


@pytest.mark.parametrize("folder, verdict", [(FAVOURED, "✔ right"), ("MoveLeft", "✘ wrong")])
def test_the_true_class_from_the_folder_name_is_marked_right_or_wrong(qtbot, window, data, folder, verdict):  # noqa: ANN001
    video = next((data[0] / folder).glob("*.mp4"))  # no dataset open: the folder name is one of the model's classes
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        window.open_video(str(video))
    qtbot.waitUntil(lambda: window.classify.classify_state.model.config is not None, timeout=WAIT_MS)
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: "(from the folder name)" in badge.truth_label.text(), timeout=WAIT_MS)
    with qtbot.waitSignal(window.classify.classify_state.predictionChanged, timeout=WAIT_MS,
                          check_params_cb=lambda p: p is not None):
        window.classify.classify_clip()
    assert window.classify.classify_state.prediction.label == FAVOURED
    assert badge.truth_label.text().startswith(f"true: <b>{folder}</b>") and verdict in badge.truth_label.text()


def test_a_bad_annotation_line_and_a_model_of_other_classes_are_one_line_errors(qtbot, window, tmp_path):  # noqa: ANN001
    bad = tmp_path / "train.csv"
    bad.write_text("label,youtube_id,time_start,time_end\nabseiling,aaa,9,3\n")
    with qtbot.waitSignal(window.notifier.errorRaised, timeout=WAIT_MS) as raised:
        window.dataset.open_dataset(str(bad))
    assert raised.args == ["Cannot open the dataset", f"{bad}: line 2: time_end 3 is not after time_start 9"]
    assert window.dataset.controller.rows == []  # nothing half-listed

    open_listed(qtbot, window, write_colour_dataset(tmp_path / "colours", videos_per_class=2))
    with qtbot.waitSignal(window.notifier.errorRaised, timeout=WAIT_MS) as raised:
        window.dataset.panel.eval_part.setCurrentIndex(1)  # all videos
        window.dataset.panel.eval_button.click()
    assert raised.args[0] == "Evaluation failed" and "none of the dataset's classes (Blue, Green, Red, ...) is a class of this model" in raised.args[1]
    assert window.dataset.panel.status.text() == "evaluation failed: see the message"  # not an earlier job's line


def test_the_open_dock_leaves_the_frame_views_a_useful_size(qtbot, window, data):  # noqa: ANN001
    from viewer.main_window import MIN_VIEW_HEIGHT

    open_listed(qtbot, window, data[0])
    qtbot.waitUntil(lambda: window.dataset.dock.isVisible())
    window.grab()  # lay the window out as a paint would
    assert window.rgb_view.graphics.height() >= MIN_VIEW_HEIGHT
    assert window.flow_view.graphics.height() >= MIN_VIEW_HEIGHT
    assert window.dataset.dock.height() <= 0.5 * window.height()
    assert window.dataset.panel.height() > 150  # the table still shows rows


def test_the_dock_takes_its_room_from_the_views_without_growing_the_window(qtbot, window):  # noqa: ANN001
    """Its first appearance re-laid out the whole window: the window grew (its minimum height with the dock was
    832 px, beyond a 768 px laptop screen) and the classification docks were resized and repainted too."""
    window.resize(1280, 800)
    window.grab()
    right = [window.classify_ui.results_dock.geometry(), window.classify_ui.attention_dock.geometry()]
    window.dataset.show_dock()
    qtbot.waitUntil(lambda: window.dataset.dock.isVisible())
    window.grab()
    assert window.height() == 800 and window.minimumSizeHint().height() <= 700
    assert [window.classify_ui.results_dock.geometry(), window.classify_ui.attention_dock.geometry()] == right


def _rows_in_sight(window) -> int:  # noqa: ANN001
    """Table rows wholly inside the part of the dock the user sees (its scroll area's viewport)."""
    panel, proxy = window.dataset.panel, window.dataset.controller.proxy
    sight = panel.parentWidget().rect()  # the scroll area's viewport
    table = panel.table.viewport()
    inside = 0
    for row in range(proxy.rowCount()):
        rect = panel.table.visualRect(proxy.index(row, 0))
        top, bottom = table.mapTo(panel.parentWidget(), rect.topLeft()), table.mapTo(panel.parentWidget(), rect.bottomLeft())
        inside += rect.isValid() and sight.contains(top) and sight.contains(bottom) and table.rect().contains(rect.bottomLeft())
    return inside


def test_at_1280x800_the_table_shrinks_to_the_dock_instead_of_the_dock_scrolling_it_away(qtbot, window, data):  # noqa: ANN001
    """The dock's scroll area sized the panel (its summary word-wraps) to its preferred height: the table and the
    figures kept 222 px in a dock of 209, so two table rows were in sight and the confusion matrix's none, with the
    rest below a second scroll bar.  Now the panel takes its least height and the table scrolls its own rows."""
    window.resize(1280, 800)
    open_listed(qtbot, window, data[0])
    qtbot.waitUntil(lambda: window.dataset.dock.isVisible())
    window.grab()
    assert window.height() == 800
    assert _rows_in_sight(window) >= 3
    assert not window.dataset.panel.cell_label.isVisible()  # no confusion cell chosen: no empty line above the table


def test_two_videos_of_a_class_with_a_long_name_do_not_look_alike_in_the_table(qtbot, window, data):  # noqa: ANN001
    """The Video column wrapped a long path at its "/" and elided the rest: every RotateAnticlockwise video read
    "RotateAnticlockwise/..." (the same picture in each row).  Now the cell is cut in the middle, its end shown."""
    from PySide6.QtCore import QModelIndex

    open_listed(qtbot, window, data[0])
    table, proxy = window.dataset.panel.table, window.dataset.controller.proxy
    rows = [r for r in range(proxy.rowCount()) if proxy.data(proxy.index(r, 0)).startswith("RotateAnticlockwise/")][:2]
    assert len(rows) == 2
    table.clearSelection()
    table.setCurrentIndex(QModelIndex())
    window.resize(1280, 800)
    table.scrollTo(proxy.index(rows[0], 0))
    window.grab()
    width = table.fontMetrics().horizontalAdvance(proxy.data(proxy.index(rows[0], 0)))
    assert width > table.columnWidth(0)  # the name does not fit: this is about how it is cut
    cells = [table.viewport().grab(table.visualRect(proxy.index(r, 0))).toImage() for r in rows]
    assert cells[0] != cells[1]
    clockwise = next(r for r in range(proxy.rowCount()) if proxy.data(proxy.index(r, COL_CLASS)) == "RotateClockwise")
    classes = [table.viewport().grab(table.visualRect(proxy.index(r, COL_CLASS))).toImage() for r in (rows[0], clockwise)]
    assert classes[0] != classes[1]  # two long class names stay apart too


def test_a_row_whose_name_has_bytes_that_are_not_utf8_opens_its_own_video(qtbot, window, tmp_path):  # noqa: ANN001
    """The double-clicked row's path went through a Qt signal as text, which dropped the byte: "walk\\xff.mp4" was
    opened as "walk.mp4" (another video, or "file does not exist")."""
    import os

    from media import write_video

    root = tmp_path / "data"
    for name in ("run", "walk"):
        (root / name).mkdir(parents=True)
        write_video(root / name / f"{name}.mp4", 12 if name == "walk" else 20)
    odd = os.fsdecode(os.fsencode(str(root / "walk")) + b"/walk\xff.mp4")
    os.rename(write_video(root / "walk" / "made.mp4", 8), odd)
    open_listed(qtbot, window, root)
    controller = window.dataset.controller
    shown_row = next(i for i, r in enumerate(controller.proxy.visible_rows()) if str(r.path) == odd)
    window.dataset.panel.table.doubleClicked.emit(controller.proxy.index(shown_row, 0))
    qtbot.waitUntil(lambda: window.video.video is not None and window.state.frame_count == 8, timeout=WAIT_MS)
    assert window.video.video.path == odd and window.notifier.last_error is None
