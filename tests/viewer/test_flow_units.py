"""The colour radius is in the video's pixels: a video over 480 lines has its flow computed smaller (960x960 at
480x480, a factor 2), yet the caption, the spin box and a lock all mean motion in the frame the user sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from media import panning_frames
from viewer.main_window import MainWindow

STEP = 4.0  # video pixels a frame, rightwards, on both videos
FRAMES = 5


def _panning_frames(folder: Path, side: int) -> Path:
    return panning_frames(folder, side, STEP, FRAMES)


def _open(qtbot, window: MainWindow, folder: Path) -> None:  # noqa: ANN001
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.state.info is not None and Path(window.state.info.path) == folder
                    and window.flow.current() is not None, timeout=60000)


def _saturation(image: np.ndarray) -> float:
    """Median HSV saturation of the picture's middle: 1 for a motion at (or past) the radius, less below it."""
    h, w = image.shape[:2]
    middle = image[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, 3).astype(np.float64)
    top = middle.max(axis=1)
    return float(np.median((top - middle.min(axis=1)) / np.maximum(top, 1)))


def test_the_auto_radius_and_its_caption_are_in_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The same on-screen motion settles the same auto radius on both videos, and the big video's caption states
    its analysis radius times 2: it said the analysis pixels' half (2 px for a 4 px motion)."""
    big, small = _panning_frames(tmp_path / "big", 960), _panning_frames(tmp_path / "small", 480)
    _open(qtbot, window, big)
    assert window.flow.current().image.shape[:2] == (480, 480)  # analysed at half size
    analysis = window.flow.encoding.max_radius
    assert f"colours saturate at {analysis * 2:g} px (auto)" in window.flow_view.caption.text(), window.flow_view.caption.text()
    big_radius = analysis * 2
    _open(qtbot, window, small)
    assert window.flow.current().image.shape[:2] == (480, 480)  # its own size
    small_radius = window.flow.encoding.max_radius
    assert f"colours saturate at {small_radius:g} px (auto)" in window.flow_view.caption.text()
    assert abs(big_radius - small_radius) <= 0.1 * small_radius and abs(small_radius - STEP) <= 0.5, (big_radius, small_radius)


def test_a_locked_radius_colours_the_same_on_screen_motion_alike_on_every_video(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Locking R = the motion (4 video px) colours it fully saturated on both videos: on the big one the encoding
    is R / 2 at the analysis size (it was R, so the motion, 2 analysis px, came out half saturated)."""
    big, small = _panning_frames(tmp_path / "big", 960), _panning_frames(tmp_path / "small", 480)
    _open(qtbot, window, big)
    window.radius_box.setValue(STEP)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=60000)
    assert window.flow.encoding.max_radius == STEP / 2 and not window.flow.auto_radius
    assert f"colours saturate at {STEP:g} px (locked)" in window.flow_view.caption.text(), window.flow_view.caption.text()
    big_saturation = _saturation(window.flow.current().image)

    _open(qtbot, window, small)
    assert window.flow.encoding.max_radius == STEP and window.radius_box.value() == STEP
    assert f"colours saturate at {STEP:g} px (locked)" in window.flow_view.caption.text()
    small_saturation = _saturation(window.flow.current().image)
    assert big_saturation > 0.9 and small_saturation > 0.9, (big_saturation, small_saturation)
    assert abs(big_saturation - small_saturation) < 0.05, (big_saturation, small_saturation)

    _open(qtbot, window, big)  # the lock goes back to R / 2 on the big video
    assert window.flow.encoding.max_radius == STEP / 2

