"""The inspection tools in the window: linked zoom (on by default), the cursor readout of a known
motion (pixel value, flow vector, noise there) and the flow arrows pointing the way things move."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.export.quiver import quiver
from viewer.flow_controller import CHUNK_PAIRS
from viewer.flow_field import ARROW_STEP
from viewer.main_window import MainWindow
from viewer.widgets.cursor_readout import IDLE_TEXT
from viewer.widgets.frame_view import FrameView

SHIFT = (2, 1)  # the texture moves 2 px right and 1 px down per frame
CENTRE = (64, 48)  # x, y of the frame's centre, in RGB view pixels
STALE = ("flow u", "inconsistency", "warp error")  # the readout's flow part, never shown for a pair the flow view waits for


def _write_moving(folder: Path, count: int) -> Path:
    """``count`` 128x96 frames of a smooth texture translating by SHIFT per frame, as lossless PNGs; the
    blue channel is the frame's index times a step, so a pixel value names the frame it came from."""
    rng = np.random.default_rng(3)
    span = (SHIFT[1] * count, SHIFT[0] * count)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (96 + span[0], 128 + span[1])).astype(np.float32), (0, 0), 2.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    for i in range(count):
        y0, x0 = span[0] - SHIFT[1] * i, span[1] - SHIFT[0] * i  # the view slides back over the texture: the texture moves forward
        moved = texture[y0:y0 + 96, x0:x0 + 128]
        frame = np.stack([moved, 255 - moved, np.full_like(moved, blue_of(i, count))], axis=2).astype(np.uint8)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame[..., ::-1])
    return folder


def blue_of(index: int, count: int) -> int:
    return index * (240 // (count - 1))


@pytest.fixture(scope="module")
def moving_folder(tmp_path_factory):  # noqa: ANN001, ANN201
    return _write_moving(tmp_path_factory.mktemp("moving"), 6)


@pytest.fixture(scope="module")
def long_moving_folder(tmp_path_factory):  # noqa: ANN001, ANN201
    """Two flow chunks: seeking into the second makes the flow view wait for its pair."""
    return _write_moving(tmp_path_factory.mktemp("long"), CHUNK_PAIRS + 4)


def _open(qtbot, folder: Path, count: int) -> MainWindow:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(folder))
    qtbot.waitUntil(lambda: win.state.frame_count == count and win.inspect_ui._flow_frame is not None, timeout=20000)
    return win


@pytest.fixture
def window(qtbot, moving_folder):  # noqa: ANN001, ANN201
    win = _open(qtbot, moving_folder, 6)
    yield win
    win.close()


@pytest.fixture
def long_window(qtbot, long_moving_folder):  # noqa: ANN001, ANN201
    win = _open(qtbot, long_moving_folder, CHUNK_PAIRS + 4)
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


# -- a new pair or method: nothing of the old pair's flow stays up ----------------------------------------------
def _hover_centre_with_arrows(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    window.inspect_ui.arrows_action.setChecked(True)
    window.rgb_view.hovered.emit(float(CENTRE[0]), float(CENTRE[1]))
    qtbot.waitUntil(lambda: window.flow_view.arrows.isVisible() and "flow u" in window.inspect_ui.readout.text(), timeout=20000)


def _rgb_part(window: MainWindow) -> str:
    r, g, b = np.asarray(window.rgb_view.current_image())[CENTRE[1], CENTRE[0]]
    return f"x {CENTRE[0]}, y {CENTRE[1]} · RGB {r} {g} {b}"


def _misreadings(window: MainWindow) -> list[str]:
    """What the arrows and the readout get wrong right now: flow of a pair the emptied flow view waits
    for, or a pixel value of another frame than the RGB view shows."""
    text, wrong = window.inspect_ui.readout.text(), []
    if not text.startswith(_rgb_part(window)):
        wrong.append(f"pixel of another frame: {text}")
    if window.flow_view.current_image() is None:
        if window.flow_view.arrows.isVisible():
            wrong.append("arrows over the emptied flow view")
        if any(word in text for word in STALE):
            wrong.append(f"flow values while the flow view waits: {text}")
    return wrong


def _wait_for_new_flow(qtbot, window: MainWindow, method: str, pair: int) -> list[str]:  # noqa: ANN001
    """Wait until the flow view, its arrows and the readout show ``method``'s flow of ``pair``; every misreading seen meanwhile."""
    ui, seen = window.inspect_ui, []

    def arrived() -> bool:
        seen.extend(_misreadings(window))
        chunk = ui.fields.chunk
        return (ui._flow_frame is not None and ui._flow_frame.pair == pair and chunk is not None and chunk.key[1] == method and chunk.key[-1] == pair // CHUNK_PAIRS
                and window.flow_view.current_image() is not None and window.flow_view.arrows.isVisible() and "flow u" in ui.readout.text())

    qtbot.waitUntil(arrived, timeout=30000)
    return seen


def _assert_arrows_and_readout_show(window: MainWindow, pair: int) -> None:
    """The arrows drawn are the shown pair's field's, pointing the way the texture moves; the readout reads that flow."""
    ui = window.inspect_ui
    field, arrows = ui.fields.field(pair), ui.fields.arrows(pair)
    assert np.array_equal(arrows.segments, quiver(field, step=ARROW_STEP, scale=arrows.scale).segments)
    height, width = window.flow_view.image_size()
    xs, ys = window.flow_view.arrows.getData()
    assert np.allclose(xs, arrows.segments[:, [0, 2]].reshape(-1) * width) and np.allclose(ys, arrows.segments[:, [1, 3]].reshape(-1) * height)
    shafts = arrows.segments[: len(arrows.segments) // 3] * np.array([128, 96, 128, 96])
    angle = np.degrees(np.arctan2(np.median(shafts[:, 3] - shafts[:, 1]), np.median(shafts[:, 2] - shafts[:, 0])))
    assert angle == pytest.approx(np.degrees(np.arctan2(SHIFT[1], SHIFT[0])), abs=8.0)
    text = ui.readout.text()
    assert text.startswith(_rgb_part(window) + " · flow u "), text
    u, v = float(text.split("flow u ")[1].split(",")[0]), float(text.split(", v ")[1].split(",")[0])
    assert u == pytest.approx(SHIFT[0], abs=0.5) and v == pytest.approx(SHIFT[1], abs=0.5)
    flow = window.flow.current()
    assert flow is ui._flow_frame and flow.pair == pair
    rows, cols = flow.inconsistency.shape
    assert f"inconsistency {flow.inconsistency[rows // 2, cols // 2]:.2f} px" in text
    assert f"warp error {flow.warp_error[rows // 2, cols // 2]:.2f} grey levels" in text


def test_switching_the_method_takes_the_old_arrows_and_readout_away_until_the_new_flow(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    _hover_centre_with_arrows(qtbot, window)
    window.method_box.setCurrentText("farneback")
    assert window.flow_view.current_image() is None and window.flow_view.caption.text().startswith("computing farneback flow")
    assert not window.flow_view.arrows.isVisible(), "DIS arrows over the view that waits for farneback"
    assert window.inspect_ui.readout.text() == _rgb_part(window) + " · farneback flow 0 -> 1: not computed yet"
    assert _wait_for_new_flow(qtbot, window, "farneback", 0) == []
    assert window.flow.current().method_used == "farneback"
    _assert_arrows_and_readout_show(window, 0)


def test_seeking_takes_the_old_arrows_and_readout_away_and_reads_the_new_frame(qtbot, long_window: MainWindow) -> None:  # noqa: ANN001
    window, count = long_window, CHUNK_PAIRS + 4
    _hover_centre_with_arrows(qtbot, window)
    assert window.inspect_ui.readout.text().startswith(_rgb_part(window) + " · flow u ")
    target = CHUNK_PAIRS + 1  # in the second chunk: its flow has not been asked for yet
    seen: dict[str, object] = {}

    def snapshot(index: int, _frame: object) -> None:  # the moment the new frame is up (the flow view keeps pace with it)
        if index == target and not seen:
            seen.update(image=window.flow_view.current_image(), arrows=window.flow_view.arrows.isVisible(), readout=window.inspect_ui.readout.text())

    window.video.frameReady.connect(snapshot)
    window.state.set_frame(target)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen["image"] is None, "the second chunk's flow was already there: nothing to wait for"
    assert not seen["arrows"], "pair 0's arrows over the view that waits for another pair"
    assert not any(word in str(seen["readout"]) for word in STALE), seen["readout"]
    assert _wait_for_new_flow(qtbot, window, "dis", target) == []
    qtbot.waitUntil(lambda: window.rgb_view.caption.text() == f"frame {target}", timeout=10000)
    assert np.asarray(window.rgb_view.current_image())[CENTRE[1], CENTRE[0], 2] == blue_of(target, count)
    assert _misreadings(window) == []
    _assert_arrows_and_readout_show(window, target)


def test_a_cleared_view_drops_its_arrows_and_says_its_image_changed(qtbot) -> None:  # noqa: ANN001
    view = FrameView("flow")
    qtbot.addWidget(view)
    view.show()
    changes: list[None] = []
    view.imageChanged.connect(lambda: changes.append(None))
    view.set_frame(np.zeros((48, 64, 3), np.uint8))
    view.set_segments(np.array([[0.25, 0.25, 0.75, 0.5]]))
    assert view.arrows.isVisible()
    view.set_frame(None)
    assert not view.arrows.isVisible()
    view.set_frame(np.zeros((96, 128, 3), np.uint8))  # the next frame: the old frame's arrows do not come back on it
    assert not view.arrows.isVisible() and len(changes) == 3


def test_vectors_read_with_other_raft_weights_are_not_shown(qtbot) -> None:  # noqa: ANN001
    """New RAFT weights for the method on screen: the vectors read with the old ones no longer count."""
    from types import SimpleNamespace

    from viewer.flow_field import ChunkFields, FlowFieldSource
    from viewer.jobs import JobRunner

    video = SimpleNamespace(path="/videos/clip.mp4")
    settings = {"weights": "old.pth"}
    jobs = JobRunner()
    source = FlowFieldSource(jobs, lambda: (video, "raft-small", "cpu", settings["weights"]), lambda _message: None)
    field = np.zeros((4, 4, 2), np.float32)
    source.chunk = ChunkFields((video.path, "raft-small", "old.pth", 0), {0: field}, {}, 1.0)
    assert source.field(0) is field
    settings["weights"] = "new.pth"
    assert source.field(0) is None
    jobs.shutdown()


def test_a_status_message_gets_the_readouts_room_unless_the_mouse_is_over_a_view(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    bar, readout = window.statusBar(), window.inspect_ui.readout
    message = "Cannot open video: /somewhere/deep/in/a/folder/truncated_recording_of_a_long_name.mp4: moov atom not found"
    bar.showMessage(message)
    assert not readout.isVisible()  # the whole message can be read
    window.rgb_view.hovered.emit(64.0, 48.0)
    assert readout.isVisible()  # the mouse is over a view: the readout is what is being read
    window.rgb_view.hovered.emit(-1.0, -1.0)
    assert not readout.isVisible() and bar.currentMessage() == message
    bar.clearMessage()
    assert readout.isVisible() and readout.text() == IDLE_TEXT
