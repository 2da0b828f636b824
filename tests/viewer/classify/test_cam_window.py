"""Class activation maps of the ConvNet families on the real window: a two-stream ConvNet's
spatial CAM lands on the RGB view and its temporal CAM on the flow view, a representation-flow
model's on the RGB view only; planted peaks light up their cells only, toggling works, and the
transformer-only controls are disabled with a note."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from core.models import save_checkpoint
from core.models.convnet import ConvNetConfig
from core.models.shared.cam_maps import CamMaps
from core.models.registry import build_model
from core.models.repflow import RepFlowConfig
from media import decode_index, write_video
from core.export.prediction_heat import heat_lut
from viewer.main_window import MainWindow
from staging_helpers import settle

CLASSES = ["a", "b", "c"]
CLIP_START = 8
CELL = 8  # the tiny trunk's stride: a 64 px crop gives an 8 x 8 map of 8 px cells
CROP_X = 32  # a 128x64 video's 64 px centre crop starts at x = 32 (no resizing)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):  # noqa: ANN001, ANN202
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # noqa: ANN001, ANN201
    folder = tmp_path_factory.mktemp("cam-window")
    torch.manual_seed(2)
    common = dict(backbone="tiny", class_names=CLASSES, input_size=64, backbone_options={"width": 8})
    convnet = ConvNetConfig.create(variant="late", flow_length=2, flow_method="farneback", **common)
    repflow = RepFlowConfig.create(variant="flow", clip_length=4, flow_layers=2, iterations=3, **common)
    save_checkpoint(folder / "convnet.safetensors", build_model(convnet, random_weights_ok=True))
    save_checkpoint(folder / "repflow.safetensors", build_model(repflow, random_weights_ok=True))
    video = write_video(folder / "clip.mp4", 24, options={"crf": "12"})
    return {"convnet": folder / "convnet.safetensors", "repflow": folder / "repflow.safetensors", "video": video}


def open_window(qtbot, files, family: str) -> MainWindow:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(files["video"]))
    win.classify.load_checkpoint(files[family])
    qtbot.waitUntil(lambda: win.state.frame_count == 24 and win.classify.checkpoint == files[family], timeout=15000)
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        win.classify.classify_clip(CLIP_START)
    settle(qtbot)
    return win


@pytest.fixture
def convnet_window(qtbot, files):  # noqa: ANN001, ANN201
    win = open_window(qtbot, files, "convnet")
    yield win
    win.close()


@pytest.fixture
def repflow_window(qtbot, files):  # noqa: ANN001, ANN201
    win = open_window(qtbot, files, "repflow")
    yield win
    win.close()


def cell(row: int, col: int) -> tuple[slice, slice]:
    return slice(CELL * row, CELL * (row + 1)), slice(CROP_X + CELL * col, CROP_X + CELL * (col + 1))


def only(*cells: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((64, 128), bool)
    for row, col in cells:
        mask[cell(row, col)] = True
    return mask


def peaks(count: int, hot: dict[int, tuple[int, int]]) -> np.ndarray:
    """(count, 8, 8) zeros with one hot cell in the maps listed."""
    volume = np.zeros((count, 8, 8), np.float32)
    for index, (row, col) in hot.items():
        volume[index, row, col] = 3.0
    return volume


def plant(win: MainWindow, **volumes: np.ndarray) -> None:
    """Replace the prediction's CAM volumes by planted ones (same frames and crop)."""
    prediction = win.classify.classify_state.prediction
    assert isinstance(prediction.attention, CamMaps)
    for name, volume in volumes.items():
        assert getattr(prediction.attention, name).shape == volume.shape
    maps = dataclasses.replace(prediction.attention, **volumes)
    win.classify.classify_state.set_prediction(dataclasses.replace(prediction, attention=maps))


def show_frame(qtbot, win: MainWindow, index: int) -> None:  # noqa: ANN001
    win.state.set_frame(index)
    qtbot.waitUntil(lambda: win.rgb_view.current_image() is not None and decode_index(np.asarray(win.rgb_view.current_image())) == index, timeout=10000)
    qtbot.waitUntil(lambda: f"flow {index} -> {index + 1}" in win.flow_view.caption.text(), timeout=20000)


def changed(view) -> np.ndarray:  # noqa: ANN001
    frame = np.asarray(view.current_image())[..., :3]
    return (view.composite() != frame).any(axis=2)


def test_convnet_cams_land_on_their_views_and_toggle(qtbot, convnet_window: MainWindow) -> None:  # noqa: ANN001
    win = convnet_window
    panel = win.classify_ui.prediction_panel
    prediction = win.classify.classify_state.prediction
    assert panel.predicted_label.text() == prediction.label and prediction.label in CLASSES
    assert "two-stream ConvNet, late fusion" in panel.model_label.text()
    assert "FARNEBACK flow" in panel.flow_note.text()
    maps = prediction.attention
    assert isinstance(maps, CamMaps) and maps.streams == ("rgb", "flow") and maps.rgb.shape == (1, 8, 8)

    controls = win.classify_ui.attention_controls
    assert [controls.kind_box.itemData(i) for i in range(controls.kind_box.count())] == ["cam"]
    assert controls.kind_box.currentText() == "Class activation map"
    assert win.classify.classify_state.overlay.choice.kind == "cam"
    assert not controls.layer_box.isEnabled() and not controls.head_box.isEnabled()
    assert "RGB stream on the RGB view" in controls.description.text() and "flow stream on the flow view" in controls.description.text()
    cross = win.classify_ui.cross_panel
    assert not cross.direction_box.isEnabled() and cross.matrix.values is None
    assert "no cross-stream attention" in cross.selection_label.text()
    assert win.legend.maps_row.entries == []  # frame 0 lies outside the classified clip: no map drawn, no key
    show_frame(qtbot, win, CLIP_START + 1)
    keys = win.legend.maps_row.entries  # a class activation map's key on each view, with its clip range
    assert [k.label for k in keys] == ["RGB view: class activation", "flow view: class activation"]
    assert keys[0].low == f"{maps.rgb.min():.3g}" and keys[0].high_text == f"{maps.rgb.max():.3g} a.u."

    plant(win, rgb=peaks(1, {0: (2, 1)}), flow=peaks(1, {0: (5, 6)}))
    show_frame(qtbot, win, CLIP_START + 1)  # the snippet's window: frames 8, 9, 10, centre frame 9
    assert np.array_equal(changed(win.rgb_view), only((2, 1)))
    assert np.array_equal(changed(win.flow_view), only((5, 6)))
    show_frame(qtbot, win, CLIP_START + 2)  # the window's last frame: not the spatial stream's, nor is flow 10 -> 11
    assert win.rgb_view.overlay("attention") is None and win.flow_view.overlay("attention") is None
    show_frame(qtbot, win, CLIP_START)  # flow 8 -> 9 was seen, frame 8 itself was not
    assert win.rgb_view.overlay("attention") is None and np.array_equal(changed(win.flow_view), only((5, 6)))
    show_frame(qtbot, win, CLIP_START + 1)

    toggle = controls.toggle
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # off
    assert not win.classify.classify_state.overlay.enabled
    assert not changed(win.rgb_view).any() and not changed(win.flow_view).any()
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # on again
    assert np.array_equal(changed(win.rgb_view), only((2, 1)))

    controls.opacity.setValue(100)  # fully opaque: the hottest colour itself
    rows, cols = cell(2, 1)
    assert np.array_equal(win.rgb_view.composite()[rows, cols], np.broadcast_to(heat_lut()[255, :3], (CELL, CELL, 3)))

    cross.click_cell(0, 0)  # no matrix for a ConvNet: nothing is selected, nothing raises
    assert win.classify.classify_state.selection is None

    show_frame(qtbot, win, 20)  # outside the classified snippet: no layer at all
    assert win.rgb_view.overlay("attention") is None and win.flow_view.overlay("attention") is None


def test_repflow_cams_follow_the_frames_on_the_rgb_view_only(qtbot, repflow_window: MainWindow) -> None:  # noqa: ANN001
    win = repflow_window
    panel = win.classify_ui.prediction_panel
    prediction = win.classify.classify_state.prediction
    assert panel.predicted_label.text() == prediction.label
    assert "representation flow" in panel.model_label.text()
    assert "no optical flow: the network learns its own representation flow" in panel.model_label.text()
    maps = prediction.attention
    assert isinstance(maps, CamMaps) and maps.streams == ("flow",)
    steps = maps.flow.shape[0]
    assert steps == 2 and maps.flow_frames == ((8, 9, 10), (9, 10, 11))  # 4 frames, 2 flow layers
    controls = win.classify_ui.attention_controls
    assert "representation-flow stream on the RGB view" in controls.description.text()

    plant(win, flow=peaks(steps, {0: (1, 1), 1: (5, 6)}))
    show_frame(qtbot, win, CLIP_START)  # only map 0 covers frame 8
    assert np.array_equal(changed(win.rgb_view), only((1, 1)))
    assert not changed(win.flow_view).any()  # the model never saw optical flow
    show_frame(qtbot, win, CLIP_START + 3)  # only map 1 covers frame 11
    assert np.array_equal(changed(win.rgb_view), only((5, 6)))
    show_frame(qtbot, win, CLIP_START + 1)  # both cover frame 9: their mean, both cells
    assert np.array_equal(changed(win.rgb_view), only((1, 1), (5, 6)))

    qtbot.mouseClick(controls.toggle, Qt.MouseButton.LeftButton)
    assert not changed(win.rgb_view).any()
    qtbot.mouseClick(controls.toggle, Qt.MouseButton.LeftButton)
    assert np.array_equal(changed(win.rgb_view), only((1, 1), (5, 6)))
    show_frame(qtbot, win, 16)
    assert win.rgb_view.overlay("attention") is None
