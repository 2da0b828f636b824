"""What was asked with an open (a dataset row's frame, the command line's --frame and --classify) belongs to that
open: never to the next video after a failed or replaced one; and the last request wins."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from media import decode_index, write_video
from viewer.main_window import MainWindow


def shown_index(window: MainWindow) -> int:
    image = window.rgb_view.current_image()
    return -1 if image is None else decode_index(np.asarray(image)[..., :3])


def broken_file(path: Path) -> Path:
    path.write_bytes(b"\x00\x01garbage" * 100)
    return path


def test_a_rows_frame_is_not_applied_to_the_video_opened_after_its_failed_open(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    good = write_video(tmp_path / "good.mp4", 40, options={"crf": "12"})
    window.dataset.panel.openRequested.emit(str(broken_file(tmp_path / "broken.mp4")), 30)
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=10000)
    window.open_video(str(good))  # File > Open
    qtbot.waitUntil(lambda: window.state.frame_count == 40 and shown_index(window) == 0, timeout=10000)
    assert window.state.frame_index == 0


def test_a_rows_frame_is_not_applied_to_the_video_that_replaced_its_open(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    row = write_video(tmp_path / "row.mp4", 60, options={"crf": "12"})
    other = write_video(tmp_path / "other.mp4", 40, options={"crf": "12"})
    window.dataset.panel.openRequested.emit(str(row), 30)
    window.open_video(str(other))  # File > Open before the row's video has opened
    qtbot.waitUntil(lambda: window.state.frame_count == 40 and shown_index(window) == 0, timeout=10000)
    assert window.state.frame_index == 0 and window.windowTitle().startswith("other.mp4")


def test_a_row_of_the_video_shown_wins_over_an_open_in_progress(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    shown = write_video(tmp_path / "a.mp4", 40, options={"crf": "12"})
    window.open_video(str(shown))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    window.open_video(str(write_video(tmp_path / "big.mp4", 50, options={"crf": "12"})))
    window.dataset.panel.openRequested.emit(str(shown), 30)  # the later request: a.mp4 at frame 30
    qtbot.waitUntil(lambda: shown_index(window) == 30, timeout=10000)
    assert not window.video.opening
    qtbot.wait(300)  # the replaced open's result, had it been kept, would land here
    assert window.windowTitle().startswith("a.mp4") and window.state.frame_count == 40 and window.state.frame_index == 30


def test_the_command_lines_frame_and_classify_do_not_outlive_a_failed_open(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """``python main.py broken.mp4 --frame 20 --classify``, then File > Open: frame 0, and no classification."""
    import viewer.app as app_module

    made: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            made.append(self)

    class NoEventLoop:
        def exec(self) -> int:
            return 0

    monkeypatch.setattr(app_module, "MainWindow", Recorded)
    monkeypatch.setattr(app_module, "create_application", lambda argv=None: NoEventLoop())
    monkeypatch.setattr(app_module, "freeze_startup_objects", lambda: None)
    good = write_video(tmp_path / "good.mp4", 40, options={"crf": "12"})
    assert app_module.run_viewer(str(broken_file(tmp_path / "broken.mp4")), frame=20, classify=True) == 0
    window = made[0]
    qtbot.addWidget(window)
    window.notifier.show_dialogs = False
    try:
        qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=10000)
        qtbot.waitUntil(lambda: window.classify.checkpoint is not None, timeout=15000)
        window.open_video(str(good))
        qtbot.waitUntil(lambda: window.state.frame_count == 40 and shown_index(window) == 0, timeout=10000)
        qtbot.wait(300)
        assert window.state.frame_index == 0
        assert not window.classify.busy and window.classify.classify_state.prediction is None
    finally:
        window.close()


def test_the_transport_reads_a_variable_frame_rate_frames_own_time(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """20 frames 40 ms apart, a 2 s pause, 20 more: frame 30 is at 3.16 s, not 30 / average fps."""
    times_ms = [40 * i for i in range(20)] + [40 * 19 + 2000 + 40 * i for i in range(20)]
    video = write_video(tmp_path / "vfr.mkv", 40, time_base_pts=times_ms, options={"crf": "12", "bf": "0"})
    window.open_video(str(video))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    assert window.state.info is not None and window.state.info.variable_frame_rate
    window.state.set_frame(30)
    assert window.transport.readout.text().split() == ["frame", "30", "/", "39", "3.16", "s"]
    window.state.set_frame(19)
    window.state.set_playing(True)
    try:
        assert window.video._timer.interval() == 2000  # the 2 s pause plays as long as it lasted, not 40 ms
    finally:
        window.state.set_playing(False)
