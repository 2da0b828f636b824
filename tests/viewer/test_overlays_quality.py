"""Flow inspection overlays in the real window: a planted corrupt patch shows up hot, and only there."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.export.heatmap import INCONSISTENCY_SCALE, TOP_ALPHA, WARP_ERROR_SCALE, heat_rgba
from viewer.main_window import MainWindow
from viewer.widgets.heat_legend import NO_OVERLAY_HINT

PATCH = (slice(20, 48), slice(60, 100))  # rows, columns of the corrupt block in frame 12
AROUND = (slice(12, 56), slice(50, 110))  # the patch and a margin: flow smooths across its edge


def _patched_frames(folder: Path) -> Path:
    """A smooth random texture panning (2, 1) px per frame, as lossless PNG frames; frame 12 has a
    block of noise, so the flow 11 -> 12 cannot match there (everything else is clean motion)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (120, 200, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    folder.mkdir()
    for i in range(20):
        frame = texture[20 + i : 84 + i, 20 + 2 * i : 148 + 2 * i].copy()
        if i == 12:
            frame[PATCH] = rng.integers(0, 256, frame[PATCH].shape, dtype=np.uint8)
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[..., ::-1])
    return folder


def _outside() -> np.ndarray:
    mask = np.ones((64, 128), bool)
    mask[AROUND] = False
    return mask


def _open_at(qtbot, win: MainWindow, path: Path, frame: int) -> None:  # noqa: ANN001
    win.open_video(str(path))
    qtbot.waitUntil(lambda: win.state.frame_count == 20, timeout=10000)
    win.state.set_frame(frame)
    qtbot.waitUntil(lambda: f"flow {frame} -> {frame + 1}" in win.flow_view.caption.text(), timeout=20000)


def test_inconsistency_overlay_is_hot_on_the_corrupt_patch_only(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, _patched_frames(tmp_path / "frames"), 11)
    assert window.flow_view.overlay_names() == []
    window.overlay_actions["inconsistency"].trigger()  # the toolbar / View menu action
    layer = window.flow_view.overlay("quality.inconsistency")
    assert layer is not None and window.rgb_view.overlay("quality.inconsistency") is None
    flow = window.flow.shown()
    assert flow is not None and flow.pair == 11
    assert np.array_equal(layer, heat_rgba(flow.inconsistency, INCONSISTENCY_SCALE))  # exactly the controller's map
    alpha = layer[..., 3].astype(np.float32)
    outside_mask = _outside()
    inside, outside = alpha[PATCH].mean(), alpha[outside_mask].mean()
    assert inside > 15 and outside < 1 and inside > 50 * outside, (inside, outside)
    # hot exactly where the inconsistency is: saturated at the scale's top, transparent where it is small
    assert np.all(alpha[flow.inconsistency >= INCONSISTENCY_SCALE.maximum] == TOP_ALPHA)
    assert np.all(alpha[flow.inconsistency < 0.05 * INCONSISTENCY_SCALE.maximum] == 0)
    # the composite (what is shown, what a PNG export writes) is changed on the patch and not far from it
    shown = window.flow_view.composite().astype(int)
    raw = np.asarray(window.flow_view.current_image()).astype(int)
    assert np.abs(shown - raw)[PATCH].mean() > 10
    assert np.abs(shown - raw)[outside_mask].mean() < 1
    assert window.legend.isVisible() and window.legend.scales == [INCONSISTENCY_SCALE]


def test_overlay_follows_target_view_opacity_and_toggles_off(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, _patched_frames(tmp_path / "frames"), 11)
    qtbot.wait(20)
    view_size = window.rgb_view.size()
    window.overlay_actions["warp_error"].setChecked(True)
    window.overlay_target_box.setCurrentIndex(window.overlay_target_box.findData("rgb"))
    assert window.flow_view.overlay_names() == [] and window.rgb_view.overlay_names() == ["quality.warp_error"]
    assert window.overlay_target_actions["rgb"].isChecked()  # the View menu agrees with the toolbar
    warp = window.rgb_view.overlay("quality.warp_error")
    assert np.array_equal(warp, heat_rgba(window.flow.shown().warp_error, WARP_ERROR_SCALE))
    assert warp[PATCH][..., 3].mean() > 150 and warp[_outside()][..., 3].mean() < 3  # noise does not warp onto the frame before it
    window.overlay_actions["inconsistency"].setChecked(True)
    assert window.rgb_view.overlay_names() == ["quality.warp_error", "quality.inconsistency"]
    half = window.rgb_view.composite().astype(int)  # at the default opacity 0.8
    raw = np.asarray(window.rgb_view.current_image()).astype(int)
    window.overlay_opacity.setValue(0)
    assert np.array_equal(window.rgb_view.composite(), raw)  # opacity 0: the bare frame
    window.overlay_opacity.setValue(100)
    full = window.rgb_view.composite().astype(int)
    assert np.abs(full - raw)[PATCH].mean() > np.abs(half - raw)[PATCH].mean() > 10
    window.overlay_actions["warp_error"].setChecked(False)
    window.overlay_actions["inconsistency"].setChecked(False)
    assert window.rgb_view.overlay_names() == [] and window.legend.scales == []
    assert window.legend.hint.text() == NO_OVERLAY_HINT and window.legend.isVisible()
    qtbot.wait(20)
    assert window.rgb_view.size() == view_size  # the legend's row never re-lays the views out


def test_overlay_follows_the_frame(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, _patched_frames(tmp_path / "frames"), 11)
    window.overlay_actions["inconsistency"].setChecked(True)
    hot = window.flow_view.overlay("quality.inconsistency")[..., 3][PATCH].mean()
    window.state.set_frame(5)  # a clean pair: the overlay is redrawn from its maps, nearly transparent
    qtbot.waitUntil(lambda: window.overlays.shown_pair == 5, timeout=20000)
    cold = window.flow_view.overlay("quality.inconsistency")[..., 3][PATCH].mean()
    assert cold < hot / 4, (hot, cold)


def _saturation(image: np.ndarray) -> float:
    return float(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)[..., 1].mean())


def test_auto_colour_radius_follows_the_videos_motion(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The texture pans (2, 1) px a frame: auto colours saturate near |(2, 1)| = 2.24 px, not at the 5 px default."""
    from viewer.flow_controller import AUTO_RADIUS_FLOOR, auto_radius

    assert auto_radius(np.full(4, np.nan, np.float32)) is None
    assert auto_radius(np.array([0.01, 0.02, np.nan], np.float32)) == AUTO_RADIUS_FLOOR  # still video: noise stays pale
    assert auto_radius(np.array([2.0] * 9 + [40.0], np.float32)) == 2.0  # one broken pair does not set the scale

    assert window.radius_box.text() == "auto" and window.flow.auto_radius
    _open_at(qtbot, window, _patched_frames(tmp_path / "frames"), 4)
    qtbot.waitUntil(lambda: bool(np.isfinite(window.state.flow_noise).all()) and window.scan_label.text().endswith("complete"), timeout=20000)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=10000)
    radius = window.flow.encoding.max_radius
    assert 2.0 <= radius <= 2.6, radius
    assert "2" in window.flow_view.caption.text() and "(auto)" in window.flow_view.caption.text()
    auto_image = window.flow.current().image
    window.radius_box.setValue(5.0)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=10000)
    assert window.flow.encoding.max_radius == 5.0 and not window.flow.auto_radius
    fixed_image = window.flow.current().image
    assert _saturation(auto_image) > 1.8 * _saturation(fixed_image), (_saturation(auto_image), _saturation(fixed_image))
    window.radius_box.setValue(0.0)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=10000)
    assert window.flow.encoding.max_radius == radius and window.flow.auto_radius


def test_a_one_frame_video_leaves_nothing_of_the_last_videos_flow(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, _patched_frames(tmp_path / "frames"), 11)
    window.overlay_actions["inconsistency"].trigger()
    assert window.flow_view.overlay("quality.inconsistency") is not None and window.flow_view.current_image() is not None
    assert any("inconsistency" in text for text in window.legend.texts())  # the drawn overlay's key
    single = tmp_path / "single"
    single.mkdir()
    cv2.imwrite(str(single / "000.png"), np.full((40, 60, 3), 90, np.uint8))
    window.open_video(str(single))
    qtbot.waitUntil(lambda: window.state.frame_count == 1, timeout=10000)
    qtbot.waitUntil(lambda: window.rgb_view.current_image() is not None and window.rgb_view.current_image().shape[:2] == (40, 60),
                    timeout=10000)
    assert window.flow_view.current_image() is None and window.flow_view.overlay("quality.inconsistency") is None
    assert window.flow_view.caption.text() == "one frame: no pair of frames to compute flow between"
    assert not any("inconsistency" in text for text in window.legend.texts())  # no key for an overlay with nothing drawn
    assert window.overlay_actions["inconsistency"].isChecked()  # the choice stays for the next video


def _open_strip(qtbot, window: MainWindow, tmp_path: Path) -> list[str]:  # noqa: ANN001
    """Open a 4000x1 strip of 4 frames (too narrow for flow); the errors said from now on."""
    strip = tmp_path / "strip"
    strip.mkdir()
    for i in range(4):
        cv2.imwrite(str(strip / f"{i:03d}.png"), np.full((1, 4000, 3), 40 * i, np.uint8))
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    window.open_video(str(strip))
    qtbot.waitUntil(lambda: window.state.frame_count == 4 and window.video.shown_index == 0, timeout=10000)
    return errors


def test_a_video_too_narrow_for_flow_says_so_in_the_flow_view_and_asks_no_flow(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A 4000x1 strip (any side under 16 px): its flow jobs failed, and said "Optical flow failed: frames of 4000x1
    are too small for flow" in a dialog naming no file; now its flow view is emptied and says why, as a one-frame
    video's is, and no flow job runs."""
    errors = _open_strip(qtbot, window, tmp_path)
    window.state.set_frame(2)
    qtbot.waitUntil(lambda: window.video.shown_index == 2, timeout=10000)
    qtbot.wait(300)  # the flow jobs start after the first paint, the view's 40 ms after a frame settles
    assert window.flow_view.current_image() is None
    assert window.flow_view.caption.text() == "frames of 4000x1: too small for flow (each side must be at least 16 px)"
    assert errors == [] and not any(window.jobs.is_busy(channel) for channel in ("flow", "flow-scan", "flow-prepare"))


def test_resuming_the_scan_of_a_video_too_narrow_for_flow_starts_no_scan(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The scan checked "two frames or more" on its own, not :func:`why_no_flow`: "Resume scan" (still shown from the
    video before) started a scan of a 4000x1 strip, which failed in a dialog naming no file."""
    errors = _open_strip(qtbot, window, tmp_path)
    window.flow.resume_scan()
    assert not window.jobs.is_busy("flow-scan") and errors == []
