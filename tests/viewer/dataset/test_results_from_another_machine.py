"""A per-video results file written on a GPU server, opened on a laptop where the dataset lives elsewhere:
its records land on the table's rows (no duplicates), bring their noise figures and open at the worst window."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dataset_helpers import FAVOURED
from dataset_panel_helpers import double_click_first_row, finished, open_listed, record, shown, write_results
from viewer.dataset.rows import COL_MAX_NOISE, COL_MEAN_NOISE, COL_NOISY, COL_PREDICTION, Row

SERVER = "/srv/gpu/datasets/synth"


def by_relative(window) -> dict[str, Row]:  # noqa: ANN001
    return {r.relative: r for r in window.dataset.controller.rows}


def test_records_match_rows_by_their_path_in_the_dataset_never_adding_duplicates(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    assert len(controller.rows) == 30
    results = write_results(tmp_path / "videos.jsonl", [
        record("RedBall/RedBall_0001.mp4", "RedBall", 0.9, root=SERVER,  # eval's short names for the noise figures
               flow_noise={"max": 0.61, "mean": 0.2, "noisy_pairs": 4, "noisiest_pair": 3}, worst_frame=7),
        record("MoveLeft/MoveLeft_0002.mp4", FAVOURED, 0.5, root=SERVER,  # the survey's own names
               flow_noise={"pairs": 11, "max_noise": 0.8, "mean_noise": 0.3, "noisy_pairs": 6, "noisiest_pair": 9}),
        record("Approach/Approach_0003.mp4", FAVOURED, 0.95, root=SERVER),
        record("Recede/Recede_0009.mp4", FAVOURED, 0.6, root=SERVER),  # not on the laptop: a row of its own
    ], root=SERVER)
    for tail in ("; 3 matched by their path in the dataset; 1 not in the table, added",
                 "; 3 matched by their path in the dataset"):  # a second opening of the same file adds nothing
        controller.open_results(str(results))
        assert finished(qtbot, window, "dataset-results").endswith(tail)
        assert len(controller.rows) == 31
        assert sorted(r.relative for r in controller.rows if r.record is not None) == [
            "Approach/Approach_0003.mp4", "MoveLeft/MoveLeft_0002.mp4", "Recede/Recede_0009.mp4", "RedBall/RedBall_0001.mp4"]
    rows = by_relative(window)
    assert str(rows["RedBall/RedBall_0001.mp4"].path).startswith(str(synth))  # the laptop's own file, scored on the server
    assert str(rows["Recede/Recede_0009.mp4"].path) == f"{SERVER}/Recede/Recede_0009.mp4"
    assert [rows["RedBall/RedBall_0001.mp4"].text(c) for c in (COL_MAX_NOISE, COL_MEAN_NOISE, COL_NOISY, COL_PREDICTION)] == [
        "0.610", "0.200", "4", "RedBall"]
    assert [rows["MoveLeft/MoveLeft_0002.mp4"].text(c) for c in (COL_MAX_NOISE, COL_NOISY)] == ["0.800", "6"]
    assert rows["Approach/Approach_0003.mp4"].text(COL_MAX_NOISE) == ""  # not surveyed on the server either

    # double-click: the viewer opens the laptop's file at the prediction's worst window (not the noisiest pair)
    qtbot.keyClicks(panel.search, "RedBall_0001")
    assert shown(window) == ["RedBall/RedBall_0001.mp4"]
    double_click_first_row(qtbot, window)
    assert Path(window.state.info.path).resolve() == rows["RedBall/RedBall_0001.mp4"].path.resolve()
    qtbot.waitUntil(lambda: window.state.frame_index == 7, timeout=5000)


def test_the_panels_own_flow_survey_wins_over_a_results_files_noise(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller, panel = window.dataset.controller, window.dataset.panel
    open_listed(qtbot, window, synth)
    qtbot.keyClicks(panel.search, "MoveLeft_0002")
    assert shown(window) == ["MoveLeft/MoveLeft_0002.mp4"]
    panel.scan_button.click()
    finished(qtbot, window, "dataset-flow")
    surveyed = by_relative(window)["MoveLeft/MoveLeft_0002.mp4"].noise
    assert surveyed is not None and surveyed.pairs == 11
    results = write_results(tmp_path / "videos.jsonl", [
        record("MoveLeft/MoveLeft_0002.mp4", FAVOURED, 0.5, root=SERVER,
               flow_noise={"max": 0.99, "mean": 0.9, "noisy_pairs": 11, "noisiest_pair": 1}, worst_frame=4),
        record("MoveLeft/MoveLeft_0003.mp4", FAVOURED, 0.5, root=SERVER,
               flow_noise={"max": 0.42, "mean": 0.1, "noisy_pairs": 1, "noisiest_pair": 2}),
    ], root=SERVER)
    controller.open_results(str(results))
    finished(qtbot, window, "dataset-results")
    rows = by_relative(window)
    assert rows["MoveLeft/MoveLeft_0002.mp4"].noise == surveyed and rows["MoveLeft/MoveLeft_0002.mp4"].record.worst_frame == 4
    assert rows["MoveLeft/MoveLeft_0003.mp4"].noise.max_noise == 0.42
    assert rows["MoveLeft/MoveLeft_0002.mp4"].start_frame() == surveyed.noisiest_pair  # this panel's survey: its noisiest pair
    assert rows["MoveLeft/MoveLeft_0003.mp4"].start_frame() == 2  # no worst window: the file's noisiest pair


def test_records_written_under_another_root_match_by_class_folder_and_name(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    other = "/data/shared"  # the server's dataset root was one folder up: its relative paths start with "synth/"
    records = [replace(record(rel, rel.split("/")[0], 0.7, root=f"{other}/synth"), video=f"synth/{rel}")
               for rel in ("GreenBall/GreenBall_0002.mp4", "BlueBall/BlueBall_0001.mp4")]
    records.append(record("BlueBall/GreenBall_0003.mp4", "BlueBall", 0.7, root=other))  # a table row's file name, another class
    controller.open_results(str(write_results(tmp_path / "videos.jsonl", records, root=other)))
    finished(qtbot, window, "dataset-results")
    rows = by_relative(window)
    assert rows["GreenBall/GreenBall_0002.mp4"].record is not None and rows["BlueBall/BlueBall_0001.mp4"].record is not None
    assert rows["GreenBall/GreenBall_0003.mp4"].record is None
    assert len(controller.rows) == 31 and "BlueBall/GreenBall_0003.mp4" in rows
