"""Which class the heat maps explain: clicking a bar of the top-5 chart (or the attention panel's
class box) runs a new explain pass for that class, in a worker, and the overlay shows its relevance
map (transformer) or class activation map (ConvNet): the same maps core computes for that class."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from core.export.prediction_heat import AttentionChoice, attention_rgba
from core.models import save_checkpoint
from core.models.checkpoint import open_classifier
from core.models.convnet import ConvNetConfig
from core.models.registry import build_model
from core.models.shared.cam_maps import CamMaps
from core.models.transformer.config import TransformerConfig
from core.video import open_video
from media import write_video
from viewer.main_window import MainWindow
from staging_helpers import settle

CLASSES = ["a", "b", "c", "d", "e", "f"]
START = 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # noqa: ANN001, ANN201
    folder = tmp_path_factory.mktemp("attention-class")
    torch.manual_seed(5)
    transformer = TransformerConfig.create(
        backbone="tiny", class_names=CLASSES, backbone_options={"dim": 16}, input_size=64, clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 2},
    )
    convnet = ConvNetConfig.create(variant="late", flow_length=2, flow_method="farneback", backbone="tiny", class_names=CLASSES, input_size=64, backbone_options={"width": 8})
    paths = SimpleNamespace(transformer=folder / "t.safetensors", convnet=folder / "c.safetensors", video=write_video(folder / "clip.mp4", 24, options={"crf": "12"}))
    save_checkpoint(paths.transformer, build_model(transformer))
    save_checkpoint(paths.convnet, build_model(convnet, random_weights_ok=True))
    return paths


def classified_window(qtbot, checkpoint) -> MainWindow:  # noqa: ANN001
    win = MainWindow(show_dialogs=False, checkpoint=checkpoint)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(checkpoint.parent / "clip.mp4"))
    qtbot.waitUntil(lambda: win.state.frame_count == 24 and win.classify.classify_state.model.config is not None, timeout=15000)
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        win.classify.classify_clip(START)
    settle(qtbot)
    return win


def test_clicking_a_bar_explains_that_class_with_relevance(qtbot, files) -> None:  # noqa: ANN001
    win = classified_window(qtbot, files.transformer)
    state = win.classify.classify_state
    first = state.prediction
    top_index = CLASSES.index(first.label)
    assert first.attention.target_class == top_index
    panel, controls = win.classify_ui.prediction_panel, win.classify_ui.attention_controls
    assert panel.bars.explained_row is None  # class-token attention explains no class: no bar outlined
    assert state.overlay.choice.kind == "attention" and not controls.class_box.isEnabled()  # attention ignores the class

    third = CLASSES.index(first.top[2][0])
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        qtbot.mouseClick(panel.bars, Qt.MouseButton.LeftButton, pos=QPoint(panel.bars.width() // 2, 2 * panel.bars.ROW_HEIGHT + 8))
        assert state.overlay.choice.kind == "relevance"  # the class matters for relevance only: switched to it
        assert win.classify.busy  # a new explain pass, on the classify channel
    settle(qtbot)
    explained = state.prediction
    assert explained.attention.target_class == third and explained.start == first.start
    assert np.allclose(explained.probabilities, first.probabilities, atol=1e-6)  # the same clip, the same scores
    assert panel.bars.explained_row == 2 and panel.predicted_label.text() == first.label
    assert controls.class_box.isEnabled() and controls.class_box.currentData() == third
    assert f"for class {CLASSES[third]}" in controls.description.text()

    reference = open_classifier(files.transformer, device="cpu").predict_clip(open_video(files.video), START, attention=True, target_class=third)
    assert np.allclose(explained.attention.relevance, reference.attention.relevance, atol=1e-5)
    assert not np.allclose(explained.attention.relevance, first.attention.relevance, atol=1e-5)
    frame = first.frame_indices[2]
    win.state.set_frame(frame)
    qtbot.waitUntil(lambda: win.classify_ui.attention_overlays.shown["rgb"] == frame, timeout=10000)
    expected = attention_rgba(reference.attention.with_frames(explained.frame_indices, explained.crop_map), "rgb", frame, AttentionChoice(kind="relevance"))
    assert np.array_equal(win.rgb_view.overlay("attention"), expected)  # the overlay is the chosen class's map

    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):  # the class box: back to the top class
        controls.class_box.activated.emit(0)
    settle(qtbot)
    assert state.prediction.attention.target_class == top_index and panel.bars.explained_row == 0
    assert np.allclose(state.prediction.attention.relevance, first.attention.relevance, atol=1e-5)
    assert win.classify.explain_class(top_index) == -1  # already shown: nothing runs
    win.close()


def test_the_class_box_picks_the_class_of_a_convnet_cam(qtbot, files) -> None:  # noqa: ANN001
    win = classified_window(qtbot, files.convnet)
    state = win.classify.classify_state
    first = state.prediction
    assert isinstance(first.attention, CamMaps)
    controls = win.classify_ui.attention_controls
    assert controls.class_box.isEnabled() and controls.class_box.count() == 5
    row = 3
    chosen = int(controls.class_box.itemData(row))
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        controls.class_box.activated.emit(row)
    settle(qtbot)
    maps = state.prediction.attention
    assert isinstance(maps, CamMaps) and maps.target_class == chosen
    reference = open_classifier(files.convnet, device="cpu").predict_clip(open_video(files.video), START, attention=True, target_class=chosen).attention
    assert np.allclose(maps.rgb, reference.rgb, atol=1e-5) and np.allclose(maps.flow, reference.flow, atol=1e-5)
    assert not np.allclose(maps.rgb, first.attention.rgb, atol=1e-5)
    assert win.classify_ui.prediction_panel.bars.explained_row == row
    assert state.overlay.choice.kind == "cam"

    shown = state.prediction  # a cancelled explain pass leaves the maps, and the box says so
    controls.class_box.setCurrentIndex(0)  # as a user's pick does
    controls.class_box.activated.emit(0)
    assert win.classify.busy
    win.classify.cancel()
    qtbot.wait(200)
    assert state.prediction is shown and controls.class_box.currentData() == chosen
    win.close()


def test_picking_back_the_explained_class_while_another_is_explained_keeps_it(qtbot, files) -> None:  # noqa: ANN001
    """The user picks the third class, then, before its pass ends, the class the maps explain: the last pick wins.
    The third class's maps once arrived after and replaced them (picking the explained class did nothing)."""
    import threading

    from core.inference import FlowBackend, default_flow_backend
    from core.progress import CancelToken

    win = classified_window(qtbot, files.transformer)
    state = win.classify.classify_state
    first = state.prediction
    shown = int(first.attention.target_class)
    backend, release = default_flow_backend(), threading.Event()

    def held_flow(frames, method, *, device=None, cancel: CancelToken | None = None, progress=None):  # noqa: ANN001, ANN202
        while not release.wait(0.01):
            if cancel is not None:
                cancel.raise_if_cancelled()
        return backend.compute(frames, method, device=device, cancel=cancel, progress=progress)

    win.classify.loader = lambda path, device: open_classifier(path, device=device, flow_backend=FlowBackend(compute=held_flow, render=backend.render))
    win.classify_ui.explain_class(CLASSES.index(first.top[2][0]))
    assert win.classify.busy
    win.classify_ui.explain_class(shown)
    release.set()
    qtbot.waitUntil(lambda: not win.classify.busy, timeout=15000)
    settle(qtbot)
    assert state.prediction is first and int(state.prediction.attention.target_class) == shown
    assert win.classify_ui.attention_controls.class_box.currentData() == shown
