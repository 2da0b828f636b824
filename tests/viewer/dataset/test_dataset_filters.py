"""The panel's filters and sorting, driven through its widgets, with known predictions and noise figures
(from a results file); and a flow scan cancelled with the Cancel button that resumes where it stopped."""

from __future__ import annotations

import threading

from PySide6.QtCore import QPoint, Qt

from core.data.flow_survey import FlowSurveyStore
from dataset_helpers import FAVOURED
from dataset_panel_helpers import WAIT_MS, cell_text, finished, open_listed, record, shown, write_results
from viewer.dataset import flow_survey_job
from viewer.dataset.rows import COL_CLASS, COL_CONFIDENCE

SERVER = "/srv/gpu/datasets/synth"
SCORED = [  # relative path, prediction, confidence, max noise (None: not surveyed)
    ("RedBall/RedBall_0001.mp4", "RedBall", 0.9, 0.6),
    ("RedBall/RedBall_0002.mp4", FAVOURED, 0.4, 0.1),
    ("GreenBall/GreenBall_0001.mp4", "GreenBall", 0.7, None),
    ("MoveLeft/MoveLeft_0001.mp4", "MoveRight", 0.3, 0.8),
    ("Approach/Approach_0001.mp4", FAVOURED, 0.95, 0.2),
]


def with_scores(qtbot, window, synth, tmp_path) -> None:  # noqa: ANN001
    open_listed(qtbot, window, synth)
    records = [record(rel, predicted, confidence, root=SERVER,
                      flow_noise=None if noise is None else {"max": noise, "mean": noise / 2, "noisy_pairs": 1, "noisiest_pair": 0})
               for rel, predicted, confidence, noise in SCORED]
    window.dataset.controller.open_results(str(write_results(tmp_path / "videos.jsonl", records, root=SERVER)))
    finished(qtbot, window, "dataset-results")


def click_header(qtbot, window, column: int) -> None:  # noqa: ANN001
    header = window.dataset.panel.table.horizontalHeader()
    pos = QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_text_class_confidence_and_noise_filters_show_exactly_the_matching_rows(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    panel = window.dataset.panel
    with_scores(qtbot, window, synth, tmp_path)
    assert len(shown(window)) == 30

    qtbot.keyClicks(panel.search, "redball_000")  # any case, in the file name
    assert shown(window) == ["RedBall/RedBall_0001.mp4", "RedBall/RedBall_0002.mp4", "RedBall/RedBall_0003.mp4"]
    assert panel.status.text() == "3 of 30 videos shown"
    panel.search.clear()
    qtbot.keyClicks(panel.search, "recede")  # or in the class
    assert shown(window) == ["Recede/Recede_0001.mp4", "Recede/Recede_0002.mp4", "Recede/Recede_0003.mp4"]
    panel.search.clear()
    assert len(shown(window)) == 30

    panel.class_box.setCurrentIndex(panel.class_box.findText("GreenBall"))
    assert shown(window) == ["GreenBall/GreenBall_0001.mp4", "GreenBall/GreenBall_0002.mp4", "GreenBall/GreenBall_0003.mp4"]
    panel.class_box.setCurrentIndex(panel.class_box.findData(""))

    panel.low_box.setValue(0.5)  # predictions below 50% confidence
    assert shown(window) == ["MoveLeft/MoveLeft_0001.mp4", "RedBall/RedBall_0002.mp4"]
    panel.low_box.setValue(0.0)  # "any confidence"
    panel.noise_box.setValue(0.5)  # videos whose flow is noisier than 0.5 somewhere
    assert shown(window) == ["MoveLeft/MoveLeft_0001.mp4", "RedBall/RedBall_0001.mp4"]
    panel.class_box.setCurrentIndex(panel.class_box.findText("RedBall"))  # filters combine
    assert shown(window) == ["RedBall/RedBall_0001.mp4"]
    panel.noise_box.setValue(0.0)
    panel.class_box.setCurrentIndex(panel.class_box.findData(""))
    assert len(shown(window)) == 30 and panel.status.text() == "30 videos"


def test_sorting_by_confidence_puts_scores_in_order_and_unscored_videos_last_both_ways(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    panel = window.dataset.panel
    with_scores(qtbot, window, synth, tmp_path)
    by_confidence = [rel for rel, _p, _c, _n in sorted(SCORED, key=lambda s: s[2])]
    header = panel.table.horizontalHeader()
    click_header(qtbot, window, COL_CONFIDENCE)
    first = header.sortIndicatorOrder()
    click_header(qtbot, window, COL_CONFIDENCE)
    assert header.sortIndicatorOrder() != first and header.sortIndicatorSection() == COL_CONFIDENCE
    for _ in range(2):
        ascending = header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
        rows = shown(window)
        assert rows[:5] == (by_confidence if ascending else by_confidence[::-1])
        assert [cell_text(window, i, COL_CONFIDENCE) for i in range(5, 30)] == [""] * 25  # unscored: last either way
        click_header(qtbot, window, COL_CONFIDENCE)
    panel.low_box.setValue(0.8)  # sorted and filtered
    ascending = header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert shown(window) == (by_confidence[:3] if ascending else by_confidence[:3][::-1])


class StoppingStore(FlowSurveyStore):
    """The survey store, recording each video it is given; the third waits until the test says go."""

    puts: list[str] = []
    go = threading.Event()

    def put(self, path, summary, segment=None) -> None:  # noqa: ANN001
        StoppingStore.puts.append(str(path))
        if len(StoppingStore.puts) == 3:
            assert StoppingStore.go.wait(WAIT_MS / 1000)
        super().put(path, summary, segment)


def test_a_flow_scan_cancelled_with_the_cancel_button_resumes_with_the_videos_it_had_not_scanned(qtbot, window, data, monkeypatch):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    monkeypatch.setattr(flow_survey_job, "FlowSurveyStore", StoppingStore)
    monkeypatch.setattr(StoppingStore, "puts", [])
    monkeypatch.setattr(StoppingStore, "go", threading.Event())
    open_listed(qtbot, window, synth)
    order = [str(r.path) for r in controller.proxy.visible_rows()]
    panel.scan_button.click()
    qtbot.waitUntil(lambda: len(StoppingStore.puts) == 3, timeout=WAIT_MS)  # the third video's summary is being stored
    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS, check_params_cb=lambda c, _m: c == "dataset-flow") as done:
        panel.cancel_button.click()
        StoppingStore.go.set()
    assert done.args[1] == "flow survey cancelled: Scan flow resumes it"
    assert StoppingStore.puts == order[:3]
    assert [r.noise is not None for r in controller.rows] == [True, True] + [False] * 28  # the third never reached the table

    StoppingStore.puts = []
    panel.scan_button.click()
    assert finished(qtbot, window, "dataset-flow") == "flow survey complete: 30 videos"
    assert StoppingStore.puts == order[3:]  # the three stored before the cancel are not scanned again
    assert all(r.noise is not None and r.noise.pairs == 11 for r in controller.rows)


def test_another_dataset_drops_the_last_ones_confusion_cell_and_sort_order(qtbot, window, data, tmp_path):  # noqa: ANN001
    """The cell's line and "show all" button, and the header's sort arrow, stayed up over the next dataset's rows."""
    from training_helpers import write_colour_dataset

    panel = window.dataset.panel
    open_listed(qtbot, window, data[0])
    panel.confusion.cellChosen.emit("RedBall", FAVOURED)  # a click on a confusion cell
    click_header(qtbot, window, COL_CLASS)
    click_header(qtbot, window, COL_CLASS)  # descending
    assert panel.cell_label.text() and panel.clear_cell.isVisibleTo(panel)
    assert panel.table.horizontalHeader().sortIndicatorSection() == COL_CLASS

    open_listed(qtbot, window, write_colour_dataset(tmp_path / "colours", videos_per_class=1))
    assert panel.cell_label.text() == "" and not panel.clear_cell.isVisibleTo(panel)
    assert panel.table.horizontalHeader().sortIndicatorSection() == -1
    assert shown(window) == ["Blue/Blue_0.mp4", "Green/Green_0.mp4", "Red/Red_0.mp4"]  # listing order, all shown


def test_a_scan_says_which_videos_it_could_not_read(qtbot, window, tmp_path):  # noqa: ANN001
    """A video gone since the listing (a folder moved away) was said only in a passing progress line: the scan
    ended on "flow survey complete: 2 videos", as if the table held two."""
    from training_helpers import write_colour_dataset

    root = write_colour_dataset(tmp_path / "colours", videos_per_class=1)
    open_listed(qtbot, window, root)
    (root / "Red" / "Red_0.mp4").unlink()
    window.dataset.panel.scan_button.click()
    message = finished(qtbot, window, "dataset-flow")
    assert message.startswith("flow survey complete: 2 videos; 1 unreadable: Red/Red_0.mp4: ")
    assert window.dataset.panel.status.text() == message
