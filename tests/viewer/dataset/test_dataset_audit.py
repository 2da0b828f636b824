"""The dataset panel audited for wrong rows and lost work: the figures under the filters (what a click on a confusion
cell lists is what the cell counts) and drawn without stalling; jobs and results files asked for while a dataset is
listed; exports (quoting, bytes, the files they may not replace) and a new dataset opened while one is written;
records of relabelled videos; a dataset class the model lacks."""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

import viewer.dataset.controller as controller_module
from dataset_helpers import FAVOURED
from dataset_panel_helpers import WAIT_MS, export_messages, finished, hold_table_writes, open_listed, record, shown, write_results
from viewer.dataset.confusion_view import ConfusionMatrixView
from viewer.dataset.rows import COL_VIDEO, Row, table_csv

SERVER = "/srv/gpu/datasets/synth"


def cell(panel, true: str, predicted: str) -> str:  # noqa: ANN001
    """The confusion matrix's cell text, as the view shows it."""
    view = panel.confusion
    names = view.names
    return view.model().index(names.index(true), names.index(predicted)).data()


def accuracy_rows(panel) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    table = panel.accuracy
    return {table.item(i, 0).text(): (table.item(i, 1).text(), table.item(i, 2).text()) for i in range(table.rowCount())}


def test_a_confusion_cell_counts_the_rows_the_filters_show_and_its_click_lists_exactly_them(qtbot, window, data):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    panel.eval_part.setCurrentIndex(panel.eval_part.findData("all"))
    panel.eval_button.click()  # every video: 3 a class, all predicted as the favoured class
    finished(qtbot, window, "dataset-eval")
    qtbot.waitUntil(lambda: "RedBall" in panel.confusion.names and cell(panel, "RedBall", FAVOURED) == "3", timeout=5000)
    assert accuracy_rows(panel)["RedBall"] == ("0.0%", "3")

    panel.split_box.setCurrentIndex(panel.split_box.findData("test"))  # the figures follow the rows shown
    test_redballs = [r for r in controller.rows if r.true == "RedBall" and r.split == "test"]
    qtbot.waitUntil(lambda: cell(panel, "RedBall", FAVOURED) == str(len(test_redballs)), timeout=5000)
    assert accuracy_rows(panel)["RedBall"] == ("0.0%", str(len(test_redballs)))
    names = panel.confusion.names
    index = panel.confusion.model().index(names.index("RedBall"), names.index(FAVOURED))
    qtbot.mouseClick(panel.confusion.viewport(), Qt.MouseButton.LeftButton, pos=panel.confusion.visualRect(index).center())
    assert sorted(shown(window)) == sorted(r.relative for r in test_redballs)
    assert cell(panel, "RedBall", FAVOURED) == str(len(test_redballs))  # the cell's own click leaves the figures as they were

    panel.split_box.setCurrentIndex(panel.split_box.findData(""))
    qtbot.waitUntil(lambda: cell(panel, "RedBall", FAVOURED) == "3", timeout=5000)
    assert len(shown(window)) == 3  # the cell, over every split


def test_the_confusion_matrix_of_many_classes_is_drawn_without_stalling_the_window(qtbot):  # noqa: ANN001
    """A QTableWidget of one item per cell, sized to its contents, took 1.1 s for UCF101's 101 classes and 70 s for
    Kinetics-400's, on the GUI thread, at every refresh while an evaluation ran."""
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.show()
    chosen = []
    view.cellChosen.connect(lambda true, predicted: chosen.append((true, predicted)))
    for classes in (101, 400):
        names = [f"class number {i}" for i in range(classes)]
        matrix = np.random.default_rng(classes).integers(0, 3, (classes, classes))
        started = time.perf_counter()
        view.set_matrix(names, matrix)
        qtbot.wait(1)  # laid out and painted
        assert time.perf_counter() - started < 2.0
        index = view.model().index(5, 7)
        assert index.data() == (str(matrix[5, 7]) if matrix[5, 7] else "")
        assert "true class number 5, predicted class number 7" in index.data(Qt.ItemDataRole.ToolTipRole)
    view.scrollTo(view.model().index(0, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(view.model().index(0, 1)).center())
    assert chosen == [("class number 0", "class number 1")]


def hold_listing(monkeypatch) -> threading.Event:  # noqa: ANN001
    """Make the next dataset listings wait until the returned event is set (a slow disk, a large folder)."""
    release = threading.Event()
    real = controller_module.list_dataset

    def slow_listing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        assert release.wait(WAIT_MS / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(controller_module, "list_dataset", slow_listing)
    return release


def test_a_results_file_opened_while_the_dataset_is_listed_lands_on_its_rows(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    """Opened before the listing came in, its records were matched against the rows then (none): added as rows of
    their own beside the listing's (each video twice), or dropped when the listing replaced them."""
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    release = hold_listing(monkeypatch)
    results = write_results(tmp_path / "videos.jsonl", [record("RedBall/RedBall_0001.mp4", "RedBall", 0.9, root=SERVER),
                                                        record("Recede/Recede_0009.mp4", FAVOURED, 0.6, root=SERVER)], root=SERVER)
    window.dataset.open_dataset(str(synth))
    controller.open_results(str(results))
    qtbot.wait(300)  # the results file is read by now, if it was not waiting for the listing
    release.set()
    jobs = window.jobs
    qtbot.waitUntil(lambda: len(controller.rows) >= 30 and not jobs.is_busy("dataset-open") and not jobs.is_busy("dataset-results"),
                    timeout=WAIT_MS)
    assert len(controller.rows) == 31  # the 30 listed and the one video the table does not list
    assert sorted(r.relative for r in controller.rows if r.record is not None) == ["Recede/Recede_0009.mp4", "RedBall/RedBall_0001.mp4"]
    assert [r.relative for r in controller.rows].count("RedBall/RedBall_0001.mp4") == 1


def test_an_evaluation_and_a_scan_asked_for_while_the_dataset_is_listed_fill_its_rows(qtbot, window, data, monkeypatch):  # noqa: ANN001
    """Asked for before the listing came in, they ran on the rows of then (the last dataset's, or none) and their
    results landed on rows the listing replaced: an evaluation said 'evaluated 10 videos' over a table with none."""
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    release = hold_listing(monkeypatch)
    window.dataset.open_dataset(str(synth))  # listed again (videos added, say)
    panel.eval_button.click()
    panel.search.setText("RedBall_0001")
    panel.scan_button.click()
    release.set()
    jobs = window.jobs
    qtbot.waitUntil(lambda: not any(jobs.is_busy(c) for c in ("dataset-open", "dataset-eval", "dataset-flow")), timeout=WAIT_MS)
    assert sum(r.record is not None for r in controller.rows) == 10  # the test part, on the rows shown
    assert [r.relative for r in controller.rows if r.noise is not None] == ["RedBall/RedBall_0001.mp4"]


def test_opening_another_dataset_does_not_drop_an_export_asked_for(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    started, release = hold_table_writes(monkeypatch)
    messages = export_messages(controller)
    controller.export_csv(str(tmp_path / "first.csv"))
    controller.export_csv(str(tmp_path / "second.csv"))  # waits its turn
    assert started.wait(30)
    open_listed(qtbot, window, synth)  # a new listing (here the same folder again, as after adding videos)
    release.set()
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=WAIT_MS)
    assert messages == [f"table written to {tmp_path / 'first.csv'}", f"table written to {tmp_path / 'second.csv'}"]
    for name in ("first.csv", "second.csv"):
        assert len(list(csv.DictReader(io.StringIO((tmp_path / name).read_text())))) == 30


def test_table_csv_quotes_every_field_holding_a_line_break(tmp_path):  # noqa: ANN001
    """A carriage return in a file name was written bare (the writer's line end was '\\n' alone): a reader split
    the row in two there."""
    rows = [Row(tmp_path / "a\rb.mp4", "Class/a\rb.mp4", "Class", "test"), Row(tmp_path / "c\nd, e.mp4", "Class/c\nd, e.mp4", "Class", "test"),
            Row(tmp_path / "plain.mp4", "Class/plain.mp4", "Class", "train")]
    text = table_csv(rows)
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[COL_VIDEO] for r in read[1:]] == ["Class/a\rb.mp4", "Class/c\nd, e.mp4", "Class/plain.mp4"]
    assert all(len(r) == len(read[0]) for r in read)


def test_the_table_csv_is_written_byte_for_byte_as_formatted(qtbot, window, data, tmp_path):  # noqa: ANN001
    """Written as text, a platform's newline translation turns a field's line break into another."""
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    target = tmp_path / "table.csv"
    controller.export_csv(str(target))
    finished(qtbot, window, "dataset-export")
    assert target.read_bytes() == table_csv(controller.proxy.visible_rows()).encode("utf-8")


def test_a_record_of_a_rows_file_under_another_class_is_not_that_rows_result(qtbot, window, data, tmp_path):  # noqa: ANN001
    """Matched by its absolute path, a record scored when the video had another label (the annotations were corrected
    since) was shown as the row's prediction, its right/wrong and worst window answering the old label."""
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    row = next(r for r in controller.rows if r.relative == "RedBall/RedBall_0001.mp4")
    here = str(synth.resolve())
    stale = replace(record("RedBall/RedBall_0001.mp4", "GreenBall", 0.8, root=here, worst_frame=5), true="GreenBall")  # scored as GreenBall
    fine = record("RedBall/RedBall_0002.mp4", "RedBall", 0.8, root=here)
    controller.open_results(str(write_results(tmp_path / "videos.jsonl", [stale, fine], root=here)))
    message = finished(qtbot, window, "dataset-results")
    assert row.record is None
    assert len(controller.rows) == 30 and [r.relative for r in controller.rows].count("RedBall/RedBall_0001.mp4") == 1
    assert "1 of another class than its row (relabelled since it was scored?), left out" in message
    assert next(r for r in controller.rows if r.relative == "RedBall/RedBall_0002.mp4").record is not None


def test_rows_a_results_file_adds_to_a_sorted_table_take_their_place_in_its_order(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    panel.table.sortByColumn(COL_VIDEO, Qt.SortOrder.DescendingOrder)
    assert shown(window)[0] == "StripedBall/StripedBall_0003.mp4"
    controller.open_results(str(write_results(tmp_path / "videos.jsonl", [record("Recede/Recede_0009.mp4", FAVOURED, 0.6, root=SERVER)],
                                              root=SERVER)))
    finished(qtbot, window, "dataset-results")
    order = shown(window)
    assert order.index("Recede/Recede_0009.mp4") == order.index("Recede/Recede_0003.mp4") - 1
    assert order == sorted(order, key=str.casefold, reverse=True) and len(order) == 31


def test_the_table_is_never_written_over_the_results_file_or_class_index_it_was_read_from(qtbot, window, tmp_path):  # noqa: ANN001
    from media import write_video

    for name in ("Archery", "Bowling"):
        (tmp_path / "data" / name).mkdir(parents=True)
        write_video(tmp_path / "data" / name / f"{name}_1.mp4", 12)
    class_index = tmp_path / "data" / "classInd.txt"
    class_index.write_text("1 Bowling\n2 Archery\n")
    controller = window.dataset.controller
    open_listed(qtbot, window, tmp_path / "data")
    results = write_results(tmp_path / "videos.jsonl", [record("RedBall/RedBall_0001.mp4", "RedBall", 0.9, root=SERVER)], root=SERVER)
    controller.open_results(str(results))
    finished(qtbot, window, "dataset-results")
    for target in (results, class_index):
        original = target.read_bytes()
        window.notifier.last_error = None
        controller.export_csv(str(target))
        qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=WAIT_MS)
        assert window.notifier.last_error.startswith(f"{target}: is a file this export reads")
        assert target.read_bytes() == original


def test_a_dataset_class_the_model_lacks_is_never_marked_wrong(qtbot, window, tmp_path):  # noqa: ANN001
    """The open dataset's label of a video was judged against the prediction even when the model has no such class:
    'true: Red ✘ wrong' for a model that could never say Red (the panel's evaluation leaves such videos out)."""
    from training_helpers import write_colour_dataset

    open_listed(qtbot, window, write_colour_dataset(tmp_path / "colours", videos_per_class=1))
    video = next(r.path for r in window.dataset.controller.rows if r.true == "Red")
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        window.open_video(str(video))
    qtbot.waitUntil(lambda: window.classify.classify_state.model.config is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(window.classify.classify_state.predictionChanged, timeout=WAIT_MS, check_params_cb=lambda p: p is not None):
        window.classify.classify_clip()
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: "true: <b>Red</b>" in badge.truth_label.text(), timeout=WAIT_MS)
    assert "not one of the model's classes" in badge.truth_label.text() and "✘" not in badge.truth_label.text()


def test_a_record_of_a_relabelled_video_written_on_another_machine_is_left_out_not_added(tmp_path):  # noqa: ANN001
    from core.evaluation.video_results import VideoResults, record_of
    from viewer.dataset.results_merge import merge_results

    rows = [Row(tmp_path / "k" / "train" / "abc.mp4", "train/abc.mp4", "jump", "test"),
            Row(tmp_path / "k" / "train" / "xyz.mp4", "train/xyz.mp4", "swim", "test")]
    server = Path("/srv/k/train")
    relabelled = record_of("train/abc.mp4", server / "abc.mp4", ("jump", "run"), 1, [0.3, 0.7], None)  # scored as run
    other_dataset = record_of("train/xyz.mp4", server / "xyz.mp4", ("jump", "run"), 0, [0.6, 0.4], None)  # 'swim' is none of its classes
    merge = merge_results(rows, VideoResults("model.pt", "/srv/k", ("jump", "run"), (relabelled, other_dataset)))
    assert merge.matched == () and merge.other_class == 1
    assert [(r.relative, r.true) for r in merge.added] == [("train/xyz.mp4", "jump")]  # a video of its own, as before


def test_the_figures_fill_in_while_predictions_keep_arriving(qtbot, window, data):  # noqa: ANN001
    """Each prediction restarted the figures' 250 ms timer: records arriving faster than that (a GPU, or the cache)
    left the matrix and the per-class accuracy empty until the last one was in."""
    from core.evaluation.video_results import record_of
    from core.synth import CLASS_NAMES

    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    qtbot.wait(300)
    seen = []
    for i, row in enumerate(controller.rows[:20]):  # one every 50 ms, for a second
        scored = record_of(row.relative, row.path, CLASS_NAMES, CLASS_NAMES.index(row.true), [0.1] * len(CLASS_NAMES), None)
        controller._row_updated((row, "record", scored))
        qtbot.wait(50)
        seen.append(panel.confusion.model().rowCount())
    assert any(seen[:15]), seen  # redrawn while they came
