"""A video whose current frame's flow fails (a damaged image among a folder's frames) says so under the timeline: the
scan waits for that flow, and its line kept saying so, for good.  And says so once: the failed flow is not computed
again at every frame near it."""

from __future__ import annotations

from pathlib import Path

import cv2

from media import index_frame
from viewer.main_window import MainWindow


def test_a_scan_waiting_for_a_flow_that_failed_says_so_on_its_line(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(10):
        cv2.imwrite(str(folder / f"{i:04d}.png"), index_frame(i, 64, 32))
    (folder / "0005.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")  # in the first chunk: the current frame's
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("flow-prepare"), timeout=30000)
    assert "0005.png" in window.notifier.last_error
    line = window.scan_label.text()
    assert "waits" not in line and line.startswith("flow scan (dis): not started: ") and "0005.png" in line, line


def test_a_motion_sample_that_fails_says_so_on_the_scan_line(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The line said "waits for the motion sample" for good when the sample's job failed (the file gone meanwhile)."""
    import viewer.flow_controller as flow_controller
    from core.errors import VideoError
    from media import write_video

    def gone(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise VideoError("cannot be read: the file is gone", tmp_path / "clip.mp4")

    monkeypatch.setattr(flow_controller, "measure_motion_scale", gone)
    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("flow-prepare"), timeout=30000)
    assert window.scan_label.text() == f"flow scan (dis): not started: {tmp_path / 'clip.mp4'}: cannot be read: the file is gone"


def test_a_flow_that_failed_is_one_error_however_often_its_frames_are_shown(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A folder with a frame of another size: the view's chunk was computed again, and failed again, at each frame
    shown near it (five "Optical flow failed" dialogs for the frames 0, 1, 2, 1, 0); the view says why at each."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(8):
        cv2.imwrite(str(folder / f"{i:04d}.png"), index_frame(i, 64, 32) if i != 3 else index_frame(i, 32, 32))
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: bool(errors) and not window.jobs.is_busy("flow-prepare"), timeout=30000)
    for frame in (1, 2, 1, 0):
        window.state.set_frame(frame)
        qtbot.waitUntil(lambda: window.video.shown_index == frame, timeout=10000)
        qtbot.wait(200)  # the flow view asks for its pair 40 ms after the frame settles
        assert not window.jobs.is_busy("flow")
        assert window.flow_status.panel.text().startswith(f"No dis flow for frames {frame}-{frame + 1}: ") and "0003.png" in window.flow_status.panel.text()
    assert errors == [f"Optical flow failed: {folder / '0003.png'}: has size 32x32 but the sequence's first frame is 64x32"]


def test_a_video_deleted_while_open_says_it_is_gone(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Deleted after it opened: playback reads on (its decoder holds the file), the flow said "cannot identify the
    video for the flow cache (No such file or directory)"."""
    from media import write_video

    video = write_video(tmp_path / "clip.mp4", 12)
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(message))
    window.open_video(str(video))
    qtbot.waitUntil(lambda: window.video.shown_index == 0, timeout=10000)
    video.unlink()
    window.state.set_frame(9)
    qtbot.waitUntil(lambda: window.video.shown_index == 9 and bool(errors) and not window.jobs.is_busy("flow-prepare"), timeout=20000)
    assert set(errors) == {f"{video}: is gone: deleted, moved or renamed since it was opened (open it again where it is now)"}
