"""The real window, offscreen: open a generated video, scrub, play, bad files, closing mid-job."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from media import decode_index, write_video
from viewer.main_window import MainWindow


@pytest.fixture
def video_path(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", 40, options={"g": "8", "bf": "2"})


def _shown_index(win: MainWindow) -> int:
    image = win.rgb_view.current_image()
    return -1 if image is None else decode_index(np.asarray(image))


def test_open_and_show_first_frame(qtbot, window: MainWindow, video_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(video_path))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    qtbot.waitUntil(lambda: _shown_index(window) == 0, timeout=5000)
    assert window.transport.slider.maximum() == 39
    assert "clip.mp4" in window.windowTitle()
    # File > Open Recent gets the video once its first paint is out (the settings write waits for it)
    qtbot.waitUntil(lambda: str(video_path) in [a.text() for a in window.recent_menu.actions()], timeout=5000)


def test_scrub_with_slider_and_keys(qtbot, window: MainWindow, video_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(video_path))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    for target in (33, 5, 21):  # a burst of scrubbing: the last request wins
        window.transport.slider.setValue(target)
    qtbot.waitUntil(lambda: _shown_index(window) == 21, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: _shown_index(window) == 22, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _shown_index(window) == 12, timeout=5000)
    assert window.transport.slider.value() == 12 and "frame 12 / 39" in window.transport.readout.text()


def test_play_runs_to_the_end(qtbot, window: MainWindow, video_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(video_path))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    window.state.set_frame(30)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.state.playing
    qtbot.waitUntil(lambda: not window.state.playing, timeout=10000)
    qtbot.waitUntil(lambda: _shown_index(window) == 39, timeout=5000)


def test_corrupt_file_shows_an_error_and_the_app_keeps_working(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    window.open_video(str(bad))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=5000)
    assert str(bad) in window.notifier.last_error and "not a video file" in window.notifier.last_error
    window.open_video(str(video_path))  # still usable
    qtbot.waitUntil(lambda: _shown_index(window) == 0, timeout=10000)


def test_a_video_with_no_decodable_frame_says_so_in_the_decoders_words(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Its pictures zeroed (the index intact): the line was "cannot be read: [Errno 1094995529] Invalid data found when
    processing input: 'avcodec_send_packet()' (a damaged file?)"."""
    data = bytearray(write_video(tmp_path / "clip.mp4", 20).read_bytes())
    start = data.find(b"mdat") + 4
    size = int.from_bytes(data[start - 8 : start - 4], "big")
    data[start + 64 : start - 8 + size] = bytes(size - 72)
    bad = tmp_path / "zeroed.mp4"
    bad.write_bytes(bytes(data))
    window.open_video(str(bad))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=10000)
    assert window.notifier.last_error == f"{bad}: cannot be read: Invalid data found when processing input (a damaged file?)"


def _not_utf8_video(tmp_path: Path) -> str:
    """A 10-frame video named "clip\\xff.mp4" (a byte that is not UTF-8), beside a 40-frame "clip.mp4"."""
    import os

    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/clip\xff.mp4")
    os.rename(write_video(tmp_path / "made.mp4", 10), name)
    write_video(tmp_path / "clip.mp4", 40)  # the file the name without its byte names: never to be opened for it
    return name


def test_the_status_line_names_a_file_with_bytes_that_are_not_utf8_as_the_title_does(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The title escaped the byte (:func:`core.errors.shown_path`), the status line beside it did not: Qt dropped
    it, and "clip\\xff.mp4" was described as "clip.mp4: 10 frames", the name of another file."""
    window.open_video(_not_utf8_video(tmp_path))
    qtbot.waitUntil(lambda: _shown_index(window) == 0, timeout=20000)
    assert window.statusBar().currentMessage().startswith("clip\\xff.mp4: 10 frames, ")


def test_a_name_with_bytes_that_are_not_utf8_opens_again_from_the_recent_files(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Qt dropped the bytes: "clip\\xff.mp4" was remembered, and titled, as "clip.mp4", so File > Open Recent said
    "clip.mp4: file does not exist" (or opened another file of that name); the settings file holds it whole now."""
    from viewer import settings as app_settings

    name = _not_utf8_video(tmp_path)
    window.open_video(name)
    qtbot.waitUntil(lambda: _shown_index(window) == 0, timeout=20000)
    qtbot.waitUntil(lambda: len(window.recent_menu.actions()) == 1, timeout=20000)
    assert window.windowTitle() == "clip\\xff.mp4 - Two-Stream Viewer"
    assert window.recent_menu.actions()[0].text() == str(tmp_path / "clip\\xff.mp4")
    app_settings.flush()
    assert app_settings.recent_files() == [name] and app_settings.last_folder() == str(tmp_path)
    window.open_video(str(tmp_path / "clip.mp4"))
    qtbot.waitUntil(lambda: window.state.frame_count == 40 and len(window.recent_menu.actions()) == 2, timeout=20000)
    window.recent_menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: window.state.frame_count == 10, timeout=20000)
    assert window.video.video.path == name and window.notifier.last_error is None


def test_a_dropped_web_link_says_it_is_not_a_file(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """A link dragged from a browser was dropped without a word."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    dropped = QMimeData()
    dropped.setUrls([QUrl("https://example.com/clip.mp4")])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, dropped, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=5000)
    assert window.notifier.last_error == "https://example.com/clip.mp4: not a file on this computer (save it first, then open the file)"


def test_error_dialog_is_shown(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QMessageBox

    win = MainWindow(show_dialogs=True)
    qtbot.addWidget(win)
    win.open_video(str(tmp_path / "missing.avi"))
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "errorDialog") is not None, timeout=5000)
    assert "does not exist" in win.findChild(QMessageBox, "errorDialog").text()
    win.close()


def test_close_during_a_job_does_not_crash(qtbot, video_path: Path) -> None:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    delivered = []

    def slow(cancel, progress):  # noqa: ANN001
        for _ in range(50):
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        return 1

    win.jobs.submit("classify", slow, delivered.append)
    win.open_video(str(video_path))
    win.close()
    qtbot.wait(200)
    assert delivered == []


def test_default_launch_opens_the_bundled_sample(qtbot, monkeypatch) -> None:  # noqa: ANN001
    """`python main.py` with no video opens resources/sample.mp4."""
    import main
    import viewer.app as app_module
    from core.resources import SAMPLE_VIDEO

    assert SAMPLE_VIDEO.exists() and SAMPLE_VIDEO.stat().st_size < 1_000_000
    opened: list[str | None] = []
    monkeypatch.setattr(app_module, "run_viewer", lambda video, **options: opened.append(video) or 0)
    assert main.main([]) == 0
    assert opened == [str(SAMPLE_VIDEO)]
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.open_video(opened[0])
    qtbot.waitUntil(lambda: win.state.frame_count > 100 and win.rgb_view.current_image() is not None, timeout=10000)
    win.close()


def test_flow_is_shown_beside_the_frame_and_follows_the_method(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001

    path = write_video(tmp_path / "move.mp4", 20, options={"crf": "10"})
    window.open_video(str(path))
    qtbot.waitUntil(lambda: window.flow_view.current_image() is not None, timeout=20000)
    assert "dis" in window.flow_view.caption.text() and "flow 0 -> 1" in window.flow_view.caption.text()
    window.state.set_frame(10)
    qtbot.waitUntil(lambda: "flow 10 -> 11" in window.flow_view.caption.text(), timeout=20000)
    window.method_box.setCurrentText("farneback")
    assert window.flow_view.current_image() is None  # DIS's picture is not left up under a farneback caption
    qtbot.waitUntil(lambda: "flow 10 -> 11, farneback" in window.flow_view.caption.text(), timeout=20000)
    image = np.asarray(window.flow_view.current_image())
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8


def test_raft_without_weights_shows_a_visible_fallback_notice(qtbot, window: MainWindow, video_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(video_path))
    qtbot.waitUntil(lambda: window.state.frame_count == 40, timeout=10000)
    window.method_box.setCurrentText("raft-small")
    qtbot.waitUntil(lambda: window.fallback_banner.isVisible(), timeout=30000)
    assert "raft" in window.fallback_banner.text().lower() and "fell back" in window.flow_view.caption.text()


def test_flow_scan_fills_the_timeline_and_next_noisy_frame_finds_a_corrupted_frame(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A video whose frame 23 is replaced by noise: flow into and out of it cannot be right,
    so the scan scores pairs 22 and 23 highest, and 'next noisy frame' names frame 23."""
    import av

    from media import index_frame

    path = tmp_path / "glitch.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.options = {"crf": "12"}
        for i in range(40):
            img = index_frame(i)
            if i == 23:
                img = rng.integers(0, 256, img.shape, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    window.open_video(str(path))
    qtbot.waitUntil(lambda: window.state.flow_noise.size == 39 and np.isfinite(window.state.flow_noise).all(), timeout=30000)
    noise = window.state.flow_noise
    assert set(np.argsort(noise)[-2:]) == {22, 23}
    x, y = window.timeline.noise_curve.getData()
    assert len(x) == 39 and np.allclose(y, noise)
    window.state.set_threshold(float(np.sort(noise)[-3] + 1e-3))
    window.go_to_next_noisy_frame()
    assert window.state.frame_index == 23  # the broken frame itself, not frame 22 (clean) whose flow leads into it
    window.state.set_frame(30)
    window.go_to_next_noisy_frame()
    assert window.state.frame_index == 23  # wraps around


def test_view_options_start_at_a_frame_and_classify(qtbot, monkeypatch, tmp_path, capsys) -> None:  # noqa: ANN001
    """`main.py VIDEO --frame N --classify`: bad values are command-line errors; good ones reach the window."""
    import main
    import viewer.app as app_module
    from core.resources import SAMPLE_VIDEO

    calls: list[tuple] = []
    monkeypatch.setattr(app_module, "run_viewer", lambda video, **options: calls.append((video, options)) or 0)
    assert main.main([str(SAMPLE_VIDEO), "--frame", "40", "--classify"]) == 0
    assert calls == [(str(SAMPLE_VIDEO), {"frame": 40, "checkpoint": None, "classify": True, "raft_weights": None, "dataset": None, "dataset_videos": None})]
    assert main.main([str(SAMPLE_VIDEO), "--checkpoint", str(tmp_path / "nope.safetensors")]) == 2
    assert main.main([str(SAMPLE_VIDEO), "--frame", "-1"]) == 2
    err = capsys.readouterr().err
    assert "nope.safetensors: file does not exist" in err and "--frame must be >= 0" in err

    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    requested: list[int | None] = []
    monkeypatch.setattr(win.classify, "classify_clip", lambda start=None: requested.append(start) or 1)
    win.video.videoLoaded.connect(lambda _v: app_module._start_at(win, 400, True))
    win.open_video(str(SAMPLE_VIDEO))
    qtbot.waitUntil(lambda: bool(requested), timeout=10000)
    assert win.state.frame_index == win.state.frame_count - 1  # clamped to the last frame


def test_every_toolbar_control_fits_a_1280_px_window(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Nothing of the toolbars hides behind the overflow arrow at the smallest default width (the flow scan's
    progress once pushed the overlay opacity there; it now sits under the timeline)."""
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=5000)
    qtbot.wait(50)
    for control in (window.method_box, window.radius_box, window.classify_ui.device_box, window.overlay_target_box,
                    window.overlay_opacity):
        assert control.isVisible(), control.objectName()
    assert window.scan_label.isVisible() and window.scan_label.parent() is window.timeline


def test_the_status_line_says_a_video_is_interlaced_and_deinterlaced(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    from media import write_video

    path = write_video(tmp_path / "tff.mp4", 4, options={"x264-params": "interlaced=1:tff=1"})
    shown: list[str] = []  # every message: the demo model's "loaded" may replace the video's before it is read
    window.statusBar().messageChanged.connect(shown.append)
    window.open_video(str(path))
    qtbot.waitUntil(lambda: any("tff.mp4: 4 frames" in message for message in shown), timeout=10000)
    assert any("tff.mp4: 4 frames" in message and "interlaced (deinterlaced:" in message for message in shown), shown


def test_the_status_line_says_a_video_has_alpha(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    from media import write_alpha

    shown: list[str] = []  # every message: the demo model's "loaded" may come after the video's
    window.statusBar().messageChanged.connect(shown.append)
    window.open_video(str(write_alpha(tmp_path / "qtrle.mov", "qtrle", "argb")))
    qtbot.waitUntil(lambda: any("qtrle.mov: 3 frames" in message for message in shown), timeout=10000)
    assert any("qtrle, alpha (composited over black)" in message for message in shown), shown
