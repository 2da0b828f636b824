"""The flow view shows only flow of the video, pair and method its caption names; the toolbar,
the banner and the overlays describe what is actually running; colours hold for a video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtGui import QAction

import viewer.flow_controller as flow_controller
from media import write_video
from viewer import settings as app_settings
from viewer.main_window import MainWindow


@pytest.fixture
def window(qtbot):  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    yield win
    win.close()


def _scan_complete(win: MainWindow) -> bool:
    return win.state.flow_noise.size > 0 and bool(np.isfinite(win.state.flow_noise).all()) and win.scan_label.text().endswith("complete")


def _panning_frames(folder: Path, steps: list[float]) -> Path:
    """PNG frames of a smooth texture moving ``steps[i]`` px right between frames i and i+1."""
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (100, 400, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    folder.mkdir()
    offsets = np.concatenate([[0.0], np.cumsum(steps)])
    for i, x in enumerate(offsets):
        shift = np.float32([[1, 0, -x], [0, 1, 0]])
        frame = cv2.warpAffine(texture, shift, (400, 100), flags=cv2.INTER_LINEAR)[18:82, 10:138]
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[..., ::-1])
    return folder


def test_a_second_video_never_shows_the_first_videos_flow(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    first = write_video(tmp_path / "first.mp4", 20, options={"crf": "10"})
    second = write_video(tmp_path / "second.mp4", 20, size=(160, 96), options={"crf": "10"})
    window.overlay_actions["inconsistency"].setChecked(True)
    window.open_video(str(first))
    qtbot.waitUntil(lambda: window.flow.current() is not None and _scan_complete(window), timeout=30000)
    assert window.overlays.shown_pair == 0 and window.flow_view.current_image().shape == (64, 128, 3)

    seen: dict[str, object] = {}

    def snapshot(_video: object) -> None:  # the moment the second video is in place
        seen.update(image=window.flow_view.current_image(), caption=window.flow_view.caption.text(), scan=window.scan_label.text(),
                    overlay=window.overlays.shown_pair, panel=window.flow_status.panel.isVisible(), panel_text=window.flow_status.panel.text())

    window.video.videoLoaded.connect(snapshot)
    window.open_video(str(second))
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen["image"] is None, "the first video's flow is still up beside the second video"
    assert seen["caption"] == "computing dis flow for frames 0-1 ..."
    assert "complete" not in str(seen["scan"]), seen["scan"]  # not the first video's finished scan
    assert seen["overlay"] is None  # nor its inconsistency map
    assert seen["panel"] and "Measuring the video's motion" in str(seen["panel_text"])
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert window.flow_view.current_image().shape == (96, 160, 3) and window.flow_view.caption.text().startswith("flow 0 -> 1, dis")
    assert not window.flow_status.panel.isVisible()
    qtbot.waitUntil(lambda: _scan_complete(window), timeout=30000)
    assert window.scan_label.text() == "flow scan (dis) complete"


def test_raft_banner_names_the_file_and_the_menu_and_goes_with_the_method(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    window.overlay_actions["warp_error"].setChecked(True)
    window.open_video(str(write_video(tmp_path / "clip.mp4", 20)))
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    window.method_box.setCurrentText("raft-small")
    banner = window.fallback_banner
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=30000)
    text = banner.text()
    assert text.startswith("RAFT-small weights not found (raft_small_C_T_V2-01064c6d.pth): showing dis flow."), text
    assert "Flow > Load RAFT weights" in text
    assert "URLError" not in text and "Errno" not in text and "--raft-weights" not in text and "http" not in text
    assert banner.parent() is window.flow_view and banner.geometry().intersects(window.flow_view.graphics.geometry())  # over the picture
    qtbot.wait(50)
    views_at = window.rgb_view.geometry(), window.flow_view.geometry()
    assert window.findChild(QAction, "loadRaftWeights") in window.findChild(type(window.menuBar().actions()[0].menu()), "flowMenu").actions()

    window.method_box.setCurrentText("farneback")  # at once: no RAFT banner, no DIS picture under a farneback caption
    assert not banner.isVisible() and window.flow_view.current_image() is None
    assert window.overlays.shown_pair is None and window.flow_view.overlay("quality.warp_error") is None  # nor DIS's warp error
    assert window.flow_view.caption.text().startswith("computing farneback flow")
    qtbot.wait(50)
    assert (window.rgb_view.geometry(), window.flow_view.geometry()) == views_at  # the banner going did not move the views
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert "farneback" in window.flow_view.caption.text() and not banner.isVisible()


def test_colour_radius_is_settled_before_the_first_picture_and_held_after_the_scan(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The first 16 pairs move 1 px, the other 31 move 4 px, and two of those jump 30 px: the radius is
    the video's (4 px, not the first chunk's 1 px nor the jumps' 30), from the first picture to the end of the scan."""
    steps = [1.0] * 16 + [4.0] * 31
    steps[30] = steps[40] = 30.0
    shown: list[float] = []
    window.flow.flowReady.connect(lambda frame: shown.append(frame.encoding.max_radius))
    window.open_video(str(_panning_frames(tmp_path / "frames", steps)))
    qtbot.waitUntil(lambda: _scan_complete(window), timeout=60000)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=10000)
    radius = window.flow.encoding.max_radius
    assert 3.5 <= radius <= 4.5, radius
    assert shown and set(shown) == {radius}, shown  # every picture drawn, first to last, on the same scale
    window.state.set_frame(20)
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.flow.current().pair == 20, timeout=10000)
    assert window.flow.encoding.max_radius == radius

    window.colour_scale_ui.lock_action.setChecked(True)  # locked: kept for the next video, whatever its motion
    assert window.radius_box.value() == radius and app_settings.colour_scale() == ("video", radius)
    window.open_video(str(write_video(tmp_path / "other.mp4", 20)))
    qtbot.waitUntil(lambda: window.state.frame_count == 20 and window.flow.current() is not None, timeout=30000)
    assert window.flow.encoding.max_radius == radius and "(locked)" in window.flow_view.caption.text()

    window.colour_scale_ui.per_pair_action.setChecked(True)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert window.flow.current().encoding.normalization == "clip" and "colours per pair" in window.flow_view.caption.text()
    assert not window.radius_box.isEnabled() and app_settings.colour_scale()[0] == "pair"


def test_a_slow_remembered_method_is_not_started_unasked(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """TV-L1 timed at 2 s a pair on this video (the figure a busy 2-core machine gave): the video opens on
    DIS with the cost said and TV-L1 one click away; started, TV-L1 shows its progress and a way back."""
    monkeypatch.setattr(flow_controller, "time_one_pair", lambda frames, method, **_kw: 2.0)
    window.method_box.setCurrentText("tvl1")  # as restored from the settings
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    banner = window.fallback_banner
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=30000)
    assert window.method_box.currentText() == "dis" and window.flow.method == "dis"
    assert banner.text() == ("tvl1 would take about 64 s before the first picture and 3 min for the whole video here "
                             "(2 s a pair): showing dis."), banner.text()
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert window.flow_view.caption.text().startswith("flow 0 -> 1, dis")

    use = banner.button
    assert use.isVisible() and use.text() == "Use tvl1 anyway"
    use.click()
    assert window.flow.method == "tvl1" and not banner.isVisible() and window.flow_view.current_image() is None
    panel = window.flow_status.panel
    assert panel.isVisible() and panel.text() == "Computing tvl1 flow for frames 0-1" and panel.button.isVisible()
    qtbot.waitUntil(lambda: "/32 steps" in panel.text(), timeout=90000)  # a first TV-L1 pair on a busy 2-core machine: up to ~20 s
    assert panel.text().startswith("Computing tvl1 flow for frames 0-1: pairs 0-15 both ways, ") and panel.button.isVisible()
    assert window.scan_label.text() == "flow scan (tvl1): after the current frame's flow"  # the first picture first
    panel.button.click()  # Switch to DIS (fast)
    assert window.flow.method == "dis" and window.method_box.currentText() == "dis"
    qtbot.waitUntil(lambda: window.flow.current() is not None and not panel.isVisible(), timeout=30000)


def test_raft_weights_from_the_command_line_and_the_flow_menu(qtbot, window: MainWindow, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import torch

    import main
    import viewer.app as app_module
    from core.flow.raft_weights import build_raft
    from core.resources import SAMPLE_VIDEO

    calls: list[dict] = []
    monkeypatch.setattr(app_module, "run_viewer", lambda video, **options: calls.append(options) or 0)
    assert main.main([str(SAMPLE_VIDEO), "--raft-weights", str(tmp_path / "nope.pth")]) == 2
    assert "nope.pth: file does not exist" in capsys.readouterr().err and not calls
    weights = tmp_path / "small.pth"
    torch.manual_seed(0)
    torch.save(build_raft("raft-small").state_dict(), weights)
    assert main.main([str(SAMPLE_VIDEO), "--raft-weights", str(weights)]) == 0
    assert calls[-1]["raft_weights"] == str(weights)

    action = window.findChild(QAction, "loadRaftWeights")
    assert action.text() == "Load &RAFT weights…" and action in window.raft_weights_ui.menu.actions()
    assert [a.text() for a in window.menuBar().actions()][-2:] == ["F&low", "&Help"]
    monkeypatch.setattr("viewer.raft_weights_ui.QFileDialog.getOpenFileName", lambda *a, **k: (str(weights), ""))
    with qtbot.waitSignal(window.raft_weights_ui.loaded, timeout=30000) as loaded:
        action.trigger()  # the size is read from the file: RAFT-small, without asking
    assert loaded.args == ["raft-small", str(weights)]
    assert window.flow.raft_weights == {"raft-small": str(weights)} and window.method_box.currentText() == "raft-small"
    assert app_settings.raft_weights() == {"raft-small": str(weights.absolute())}  # remembered for the next start
    window.method_box.setCurrentText("dis")  # nothing left computing RAFT behind the test

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    errors: list[str] = []
    window.notifier.noticeRaised.connect(errors.append)
    window.raft_weights_ui.load(str(bad))
    qtbot.waitUntil(lambda: any("Cannot use these RAFT weights" in e for e in errors), timeout=30000)
    assert app_settings.raft_weights() == {"raft-small": str(weights.absolute())}


def test_colour_scale_and_raft_weights_are_restored_at_start(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    weights = tmp_path / "raft-things.pth"
    weights.write_bytes(b"checked when loaded, not at start")
    app_settings.set_raft_weights("raft-large", weights)
    app_settings.set_raft_weights("raft-small", tmp_path / "moved-away.pth")  # gone since: not used
    app_settings.set_colour_scale("video", 3.5)
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    assert win.flow.raft_weights == {"raft-large": str(weights.absolute())}
    assert win.radius_box.value() == 3.5 and win.colour_scale_ui.lock_action.isChecked()
    assert win.flow.encoding.max_radius == 3.5 and not win.flow.auto_radius
    app_settings.set_colour_scale("pair", 0.0)
    other = MainWindow(show_dialogs=False)
    qtbot.addWidget(other)
    assert other.flow.per_pair and other.flow.encoding.normalization == "clip" and not other.radius_box.isEnabled()
    assert other.flow.auto_radius and not other.colour_scale_ui.lock_action.isChecked()


def test_a_failed_flow_job_says_so_under_the_view_too(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The panel over the empty view said "No dis flow", the caption under it still "computing dis flow"."""
    import viewer.flow_controller as flow_controller
    from core.errors import FlowError

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise FlowError("the weights are damaged")

    monkeypatch.setattr(flow_controller, "compute_chunk", broken)
    window.notifier.show_dialogs = False
    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    panel = window.flow_status.panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.text().startswith("No "), timeout=30000)
    assert panel.text() == "No dis flow for frames 0-1: the weights are damaged"
    assert window.flow_view.caption.text() == "no dis flow for frames 0-1: it failed" and window.flow_view.current_image() is None


def test_the_flow_view_keeps_pace_with_the_rgb_view_while_a_frame_decodes(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Pair 10's flow is stored, frame 10 is not decoded: asked for it, the flow view waits with the RGB view.
    (It drew pair 10 at once, beside frame 0 still up while frame 10 decoded: scrubbing, and every frame of playback.)"""
    window.overlay_actions["inconsistency"].setChecked(True)
    window.overlays.set_target("rgb")
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40, options={"g": "8", "bf": "2"})))
    qtbot.waitUntil(lambda: _scan_complete(window) and window.flow.current() is not None, timeout=60000)
    assert window.flow._store.get(("dis", 10)) is not None  # the first chunk's 16 pairs came with pair 0's
    window.video.video.cache.clear()
    window.state.set_frame(10)
    assert window.rgb_view.caption.text() == "frame 0"  # frame 10 is on its way from a worker
    assert window.flow_view.caption.text().startswith("flow 0 -> 1")
    assert window.overlays.shown_pair == 0  # the inconsistency drawn over the RGB view is frame 0's
    qtbot.waitUntil(lambda: window.rgb_view.caption.text() == "frame 10", timeout=10000)
    assert window.flow_view.caption.text().startswith("flow 10 -> 11") and window.overlays.shown_pair == 10
