"""The inspection tools in the window: linked zoom (on by default), the cursor readout of a known
motion (pixel value, flow vector, noise there) and the flow arrows pointing the way things move."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from viewer.main_window import MainWindow
from viewer.widgets.cursor_readout import IDLE_TEXT

SHIFT = (2, 1)  # the texture moves 2 px right and 1 px down per frame


@pytest.fixture(scope="module")
def moving_folder(tmp_path_factory):  # noqa: ANN001, ANN201
    """Frames of a smooth texture translating by SHIFT per frame, as lossless PNGs (a folder of frames)."""
    folder = tmp_path_factory.mktemp("moving")
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (160, 200)).astype(np.float32), (0, 0), 2.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    for i in range(6):
        moved = np.roll(texture, (SHIFT[1] * i, SHIFT[0] * i), axis=(0, 1))[16:112, 16:144]
        frame = np.stack([moved, 255 - moved, np.full_like(moved, 40 * i)], axis=2).astype(np.uint8)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame[..., ::-1])
    return folder


@pytest.fixture
def window(qtbot, moving_folder):  # noqa: ANN001, ANN201
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(moving_folder))
    qtbot.waitUntil(lambda: win.state.frame_count == 6 and win.inspect_ui._flow_frame is not None, timeout=20000)
    yield win
    win.close()


def test_the_readout_names_the_pixel_the_flow_and_the_noise_under_the_mouse(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    assert window.inspect_ui.link_action.isChecked() and window.inspect_ui.link.enabled  # linked by default
    assert window.inspect_ui.readout.text() == IDLE_TEXT
    window.rgb_view.hovered.emit(64.0, 48.0)  # the frame's centre, in RGB view pixels
    qtbot.waitUntil(lambda: "flow u" in window.inspect_ui.readout.text(), timeout=20000)
    text = window.inspect_ui.readout.text()
    frame = np.asarray(window.rgb_view.current_image())
    r, g, b = frame[48, 64]
    assert text.startswith(f"x 64, y 48 · RGB {r} {g} {b} · ")
    u = float(text.split("flow u ")[1].split(",")[0])
    v = float(text.split(", v ")[1].split(",")[0])
    assert u == pytest.approx(SHIFT[0], abs=0.35) and v == pytest.approx(SHIFT[1], abs=0.35)
    flow = window.inspect_ui._flow_frame
    rows, cols = flow.inconsistency.shape
    assert f"inconsistency {flow.inconsistency[rows // 2, cols // 2]:.2f} px" in text
    assert f"warp error {flow.warp_error[rows // 2, cols // 2]:.2f} grey levels" in text
    window.flow_view.hovered.emit(-1.0, -1.0)  # the mouse left
    assert window.inspect_ui.readout.text() == IDLE_TEXT


def test_flow_arrows_point_the_way_the_texture_moves(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    assert not window.flow_view.arrows.isVisible()
    window.inspect_ui.arrows_action.setChecked(True)
    qtbot.waitUntil(lambda: window.flow_view.arrows.isVisible(), timeout=20000)
    arrows = window.inspect_ui.fields.arrows(window.inspect_ui._flow_frame.pair)
    shafts = arrows.segments[: len(arrows.segments) // 3] * np.array([128, 96, 128, 96])
    dx, dy = shafts[:, 2] - shafts[:, 0], shafts[:, 3] - shafts[:, 1]
    angle = np.degrees(np.arctan2(np.median(dy), np.median(dx)))
    assert angle == pytest.approx(np.degrees(np.arctan2(SHIFT[1], SHIFT[0])), abs=8.0)
    assert f"{arrows.scale:.2g}x" in window.flow_view.arrows.toolTip()
    window.inspect_ui.arrows_action.setChecked(False)
    assert not window.flow_view.arrows.isVisible()
