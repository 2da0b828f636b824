"""Attention on the real window's frame views: planted peaks light up their tokens only; the
cross-stream matrix names and highlights the token pair under the mouse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.models.transformer.layout import FLOW, RGB
from media import decode_index, write_video
from core.export.prediction_heat import heat_lut
from viewer.main_window import MainWindow
from staging_helpers import settle

CLIP_START = 8  # clip frames 8..15: four time slices of two frames
GRID = (4, 4, 4)  # 8 frames x 64 px at 2 frames x 16 px per token
CROP_X = 32  # a 128x64 video's 64 px centre crop starts at x = 32 (no resizing)


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # noqa: ANN001, ANN201
    folder = tmp_path_factory.mktemp("attention-window")
    torch.manual_seed(1)
    config = TransformerConfig.create(
        backbone="tiny", class_names=["a", "b", "c"], backbone_options={"dim": 16}, input_size=64, clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 2},
    )
    save_checkpoint(folder / "tiny.safetensors", build_model(config))
    return folder / "tiny.safetensors", write_video(folder / "clip.mp4", 24, options={"crf": "12"})


@pytest.fixture
def window(qtbot, files):  # noqa: ANN001, ANN201
    checkpoint, video = files
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_video(str(video))
    win.classify.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: win.state.frame_count == 24 and win.classify.checkpoint == checkpoint, timeout=15000)
    with qtbot.waitSignal(win.classify.predictionReady, timeout=20000):
        win.classify.classify_clip(CLIP_START)
    settle(qtbot)
    yield win
    win.close()


def token_box(row: int, col: int) -> tuple[slice, slice]:
    return slice(16 * row, 16 * (row + 1)), slice(CROP_X + 16 * col, CROP_X + 16 * (col + 1))


def plant(win: MainWindow, **arrays: np.ndarray) -> None:
    """Replace the prediction's attention maps by planted ones (same layout, frames and crop)."""
    prediction = win.classify.classify_state.prediction
    assert prediction is not None and prediction.attention is not None and prediction.attention.grid_shape == GRID
    maps = dataclasses.replace(prediction.attention, **arrays)
    win.classify.classify_state.set_prediction(dataclasses.replace(prediction, attention=maps))


def class_volumes(peaks: dict[int, tuple[int, int, int]], layers: int, heads: int) -> np.ndarray:
    """(layers, heads, T', H', W') zeros with one hot token per layer."""
    volume = np.zeros((layers, heads, *GRID), np.float32)
    for layer, (t, row, col) in peaks.items():
        volume[layer, :, t, row, col] = 0.7
    return volume


def show_frame(qtbot, win: MainWindow, index: int) -> None:  # noqa: ANN001
    win.state.set_frame(index)
    qtbot.waitUntil(lambda: win.rgb_view.current_image() is not None and decode_index(np.asarray(win.rgb_view.current_image())) == index, timeout=10000)
    qtbot.waitUntil(lambda: f"flow {index} -> {index + 1}" in win.flow_view.caption.text(), timeout=20000)


def changed(view) -> np.ndarray:  # noqa: ANN001
    """Where the view's composite (frame plus layers, as shown) differs from the bare frame."""
    frame = np.asarray(view.current_image())[..., :3]
    return (view.composite() != frame).any(axis=2)


def test_toggling_attention_changes_pixels_where_the_peak_is_and_nowhere_else(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    maps = window.classify.classify_state.prediction.attention
    layers, heads = maps.num_layers, maps.num_heads
    plant(
        window,
        class_to_rgb=class_volumes({layers - 1: (1, 2, 1), 0: (1, 0, 0)}, layers, heads),
        class_to_flow=class_volumes({layers - 1: (1, 0, 3), 0: (1, 3, 3)}, layers, heads),
    )
    show_frame(qtbot, window, CLIP_START + 2)  # slice 1 = frames 10, 11
    expected_rgb = np.zeros((64, 128), bool)
    expected_rgb[token_box(2, 1)] = True
    expected_flow = np.zeros((64, 128), bool)
    expected_flow[token_box(0, 3)] = True
    assert np.array_equal(changed(window.rgb_view), expected_rgb)
    assert np.array_equal(changed(window.flow_view), expected_flow)

    toggle = window.classify_ui.attention_controls.toggle
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # off
    assert not window.classify.classify_state.overlay.enabled
    assert not changed(window.rgb_view).any() and not changed(window.flow_view).any()
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # on again
    assert np.array_equal(changed(window.rgb_view), expected_rgb)

    window.classify_ui.attention_controls.opacity.setValue(100)  # fully opaque: the hottest colour itself
    rows, cols = token_box(2, 1)
    assert np.array_equal(window.rgb_view.composite()[rows, cols], np.broadcast_to(heat_lut()[255, :3], (16, 16, 3)))

    layer_box = window.classify_ui.attention_controls.layer_box
    layer_box.setCurrentIndex(layer_box.findData(0))  # layer 1 has its peak elsewhere
    first = np.zeros((64, 128), bool)
    first[token_box(0, 0)] = True
    assert np.array_equal(changed(window.rgb_view), first)

    show_frame(qtbot, window, CLIP_START + 4)  # slice 2: nothing planted there
    assert not changed(window.rgb_view).any()
    show_frame(qtbot, window, 20)  # outside the classified clip: no layer at all
    assert window.rgb_view.overlay("attention") is None and window.flow_view.overlay("attention") is None


def test_the_map_kind_chooses_rollout(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    maps = window.classify.classify_state.prediction.attention
    rollout = np.zeros_like(maps.rollout)
    first_rgb = maps.layout.token_slice(RGB).start
    rollout[0, first_rgb + 16 * 3 + 4 * 1 + 2] = 1.0  # RGB token (t=3, row 1, col 2)
    plant(window, rollout=rollout)
    show_frame(qtbot, window, CLIP_START + 6)  # slice 3
    kind = window.classify_ui.attention_controls.kind_box
    kind.setCurrentIndex(kind.findData("rollout"))
    assert window.classify.classify_state.overlay.choice.kind == "rollout"
    expected = np.zeros((64, 128), bool)
    expected[token_box(1, 2)] = True
    assert np.array_equal(changed(window.rgb_view), expected)
    assert not changed(window.flow_view).any()  # flow's rollout row is flat: nothing stands out
    assert "rollout" in window.classify_ui.attention_controls.description.text()


def test_clicking_a_cross_stream_cell_highlights_both_tokens_and_seeks(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    maps = window.classify.classify_state.prediction.attention
    attention = np.full_like(maps.attention, 1e-3)
    rgb_token, flow_token = 21, 42  # RGB (t=1, row 1, col 1) -> flow (t=2, row 2, col 2)
    attention[-1, :, maps.layout.token_slice(RGB).start + rgb_token, maps.layout.token_slice(FLOW).start + flow_token] = 0.9
    plant(window, attention=attention)
    window.classify_ui.cross_dock.raise_()
    matrix = window.classify_ui.cross_panel.matrix
    qtbot.waitUntil(lambda: matrix.isVisible() and matrix.values is not None, timeout=5000)
    assert matrix.values.shape == (64, 64) and np.unravel_index(np.argmax(matrix.values), (64, 64)) == (rgb_token, flow_token)

    vb = matrix.plot.getPlotItem().vb
    scene_pos = vb.mapViewToScene(QPointF(flow_token + 0.5, rgb_token + 0.5))
    matrix._hovered(scene_pos)
    assert "RGB token 21 (slice 1: frames 10-11; row 1, col 1)" in matrix.hover_text
    assert "flow token 42 (slice 2: frames 12-13; row 2, col 2)" in matrix.hover_text and "0.9000" in matrix.hover_text

    qtbot.mouseClick(matrix.plot.viewport(), Qt.MouseButton.LeftButton, pos=matrix.plot.mapFromScene(scene_pos))
    selection = window.classify.classify_state.selection
    assert selection is not None and (selection.rgb_token, selection.flow_token) == (rgb_token, flow_token)

    # each box goes on the frames its token's time slice covers, worked out from the model's grid:
    # 8 clip frames over 4 slices of 16 tokens -> slice = token // 16 covers 2 frames from CLIP_START + 2 * slice
    frames_per_slice = 8 // GRID[0]

    def covered(token: int) -> set[int]:
        first = CLIP_START + frames_per_slice * (token // (GRID[1] * GRID[2]))
        return set(range(first, first + frames_per_slice))

    assert covered(rgb_token) == {10, 11} and covered(flow_token) == {12, 13}
    assert window.state.frame_index == 10  # the query token's slice
    label = window.classify_ui.cross_panel.selection_label.text()
    assert "RGB token 21" in label and "frames 10-11" in label and "flow token 42" in label and "frames 12-13" in label

    def outline(view) -> tuple[int, int, int, int] | None:  # noqa: ANN001
        layer = view.overlay("attention-token")
        if layer is None:
            return None
        ys, xs = np.nonzero(layer[..., 3])
        return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())

    rgb_box, flow_box = (16, 31, CROP_X + 16, CROP_X + 31), (32, 47, CROP_X + 32, CROP_X + 47)
    for frame in range(CLIP_START, CLIP_START + 8):
        show_frame(qtbot, window, frame)
        assert outline(window.rgb_view) == (rgb_box if frame in covered(rgb_token) else None), f"RGB box on frame {frame}"
        assert outline(window.flow_view) == (flow_box if frame in covered(flow_token) else None), f"flow box on frame {frame}'s flow"

    window.classify_ui.cross_panel.selection_label.linkActivated.emit("12")  # the readout's link to the flow token's frames
    assert window.state.frame_index == 12


def test_the_matrix_and_its_readout_fit_the_dock_without_scrolling(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    panel = window.classify_ui.cross_panel
    window.classify_ui.cross_dock.raise_()
    qtbot.waitUntil(lambda: panel.matrix.isVisible() and panel.matrix.values is not None, timeout=5000)
    panel.click_cell(21, 42)
    qtbot.wait(50)  # the layout settles
    scroll = window.classify_ui.cross_dock.widget()
    assert scroll.verticalScrollBar().maximum() == 0  # the x-axis and the readout are in view, not below the fold
    label = panel.selection_label
    assert label.height() >= label.heightForWidth(label.width())  # the readout's lines are all shown
    assert panel.matrix.height() >= 150


def test_layer_and_head_apply_only_to_one_layers_attention(window: MainWindow) -> None:
    """Rollout and relevance use every layer: their layer and head boxes are disabled; the
    cross-stream matrix keeps a layer and head of its own."""
    controls, cross = window.classify_ui.attention_controls, window.classify_ui.cross_panel
    for kind, applies in (("attention", True), ("rollout", False), ("relevance", False), ("attention", True)):
        controls.kind_box.setCurrentIndex(controls.kind_box.findData(kind))
        assert window.classify.classify_state.overlay.choice.kind == kind
        assert controls.layer_box.isEnabled() is applies and controls.head_box.isEnabled() is applies, kind
        assert cross.layer_box.isEnabled() and cross.head_box.isEnabled()
    maps = window.classify.classify_state.prediction.attention
    cross.layer_box.setCurrentIndex(cross.layer_box.findData(0))
    assert np.allclose(cross.matrix.values, maps.block(RGB, FLOW, layer=0))
    assert cross.matrix.color_bar.levels() == pytest.approx((cross.matrix.values.min(), cross.matrix.values.max()))  # its colour scale
    assert cross.matrix.color_bar.getAxis("left").labelText == "attention weight (softmax share)"
    cross.granularity_box.setCurrentIndex(cross.granularity_box.findData("time"))
    assert cross.matrix.color_bar.getAxis("left").labelText == "share of a slice's attention"


def test_every_map_kind_has_its_key_and_the_crop_border_is_shaded(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Each kind of map gets a key per view with the clip's range and unit; with the inconsistency
    overlay also on the flow view, both warm maps there have their own key; outside the crop is shaded."""
    show_frame(qtbot, window, CLIP_START)
    maps = window.classify.classify_state.prediction.attention
    controls, legend = window.classify_ui.attention_controls, window.legend
    words = {"attention": "attention, layer 2, mean of heads", "rollout": "attention rollout", "relevance": "relevance (Chefer et al.)"}
    for kind, name in words.items():
        controls.kind_box.setCurrentIndex(controls.kind_box.findData(kind))
        keys = legend.maps_row.entries
        assert [k.label for k in keys] == [f"RGB view: {name}", f"flow view: {name}"], kind
        for key, stream in zip(keys, (RGB, FLOW)):
            volume = maps.volume(stream, kind)
            assert key.low == f"{volume.min():.3g}" and key.high == f"{volume.max():.3g}" and key.unit
        assert any(name in text for text in legend.texts())  # on screen, not only in the data
    window.overlay_actions["inconsistency"].setChecked(True)
    window.overlays.set_target("flow")
    assert [k.label for k in legend.quality_row.entries] == ["forward-backward inconsistency"]
    assert any("flow view" in k.label for k in legend.maps_row.entries)  # the flow view's two warm maps: two keys
    window.overlay_actions["inconsistency"].setChecked(False)

    crop_x = CROP_X / 128, 0.0, (CROP_X + 64) / 128, 1.0  # the 64 px centre crop of the 128x64 frame
    for view in (window.rgb_view, window.flow_view):
        assert view.region_mark() == pytest.approx(crop_x) and view.region_item.isVisible()
    assert any("outside the model's 64x64 px centre crop" in text for text in legend.texts())
    controls.toggle.setChecked(False)  # maps hidden: no keys, no shading
    assert legend.maps_row.entries == [] and window.rgb_view.region_mark() is None
    assert legend.maps_row.hint.text().startswith("Model heat maps: none shown")


def test_png_export_carries_the_heat_maps_keys(qtbot, window: MainWindow, tmp_path) -> None:  # noqa: ANN001
    import cv2

    from core.export.heatmap import LEGEND_HEIGHT
    from core.export.image import GAP
    from core.export.legend import legend_layout

    show_frame(qtbot, window, CLIP_START)
    window.overlay_actions["warp_error"].setChecked(True)
    qtbot.waitUntil(lambda: window.overlays.shown_pair == CLIP_START, timeout=20000)
    out = tmp_path / "view.png"
    with qtbot.waitSignal(window.export.exported, timeout=10000):
        assert window.export.export_png(str(out))
    image = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    entries = window.export.legend_entries()
    assert [e.label.split(":")[0] for e in entries] == ["RGB view", "flow view", "warp error"]  # both map keys, the overlay's
    layouts = [legend_layout(e, image.shape[1]) for e in entries]
    assert image.shape == (64 + sum(map(len, layouts)) * LEGEND_HEIGHT, 128 + GAP + 128, 3)
    first_line = 0
    for layout in layouts[:2]:  # each map key's bar shows the heat colours from the darkest to the palest
        bar_line = first_line + next(n for n, line in enumerate(layout) if any(kind == "bar" for kind, *_ in line))
        colours = {tuple(c) for c in image[64 + bar_line * LEGEND_HEIGHT + 11]}
        assert tuple(heat_lut()[0, :3]) in colours and tuple(heat_lut()[255, :3]) in colours
        first_line += len(layout)
    window.overlay_actions["warp_error"].setChecked(False)


def test_the_flow_maps_leave_with_the_flow_they_were_drawn_on(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """While another pair's flow computes the flow view is empty: the last pair's heat map, its key and a
    selected token's box must not stay over it as if they belonged to the pair being waited for."""
    show_frame(qtbot, window, CLIP_START + 2)
    assert window.flow_view.overlay("attention") is not None
    window.flow.flowPending.emit(CLIP_START + 3)
    assert window.flow_view.overlay("attention") is None and window.flow_view.overlay("attention-token") is None
    assert window.rgb_view.overlay("attention") is not None  # the RGB frame shown is still the classified one
    show_frame(qtbot, window, CLIP_START + 3)  # its flow arrives: its map with it
    assert window.flow_view.overlay("attention") is not None
    window.flow.flowUnavailable.emit("one frame")
    assert window.flow_view.overlay("attention") is None


def test_a_selected_pair_is_read_off_whichever_matrix_is_shown(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Layer, head, direction and granularity change the matrix, not the selected token pair: its cell stays
    marked where it now sits and the readout gives its attention in the matrix shown (it kept the old value
    under a hidden marker)."""
    maps = window.classify.classify_state.prediction.attention
    attention = np.full_like(maps.attention, 1e-3)
    rgb_token, flow_token = 21, 42  # slices 1 and 2
    rgb_at, flow_at = maps.layout.token_slice(RGB).start + rgb_token, maps.layout.token_slice(FLOW).start + flow_token
    attention[-1, :, rgb_at, flow_at] = 0.9
    attention[0, :, rgb_at, flow_at] = 0.5
    attention[-1, :, flow_at, rgb_at] = 0.25
    plant(window, attention=attention)
    panel = window.classify_ui.cross_panel
    window.classify_ui.cross_dock.raise_()
    qtbot.waitUntil(lambda: panel.matrix.values is not None, timeout=5000)
    panel.click_cell(rgb_token, flow_token)

    def marked() -> tuple[int, int] | None:
        if not panel.matrix.marker.isVisible():
            return None
        rect = panel.matrix.marker.rect()
        return int(rect.y()), int(rect.x())

    assert marked() == (21, 42) and "attention 0.9000 (RGB → flow, last layer, mean of heads)" in panel.selection_label.text()
    panel.layer_box.setCurrentIndex(panel.layer_box.findData(0))
    assert marked() == (21, 42) and "attention 0.5000 (RGB → flow, layer 1, mean of heads)" in panel.selection_label.text()
    panel.layer_box.setCurrentIndex(0)  # last layer again
    panel.direction_box.setCurrentIndex(panel.direction_box.findData(FLOW))
    assert marked() == (42, 21) and "attention 0.2500 (flow → RGB, last layer" in panel.selection_label.text()
    panel.granularity_box.setCurrentIndex(panel.granularity_box.findData("time"))
    assert marked() == (2, 1) and "attention 0.2500" in panel.selection_label.text()
    selection = window.classify.classify_state.selection
    assert (selection.rgb_token, selection.flow_token) == (rgb_token, flow_token)  # the boxes on the frames stay


def test_an_exported_clip_draws_the_selected_token_pair_as_the_views_do(qtbot, window: MainWindow, tmp_path) -> None:  # noqa: ANN001
    """RGB token 21 covers frames 10-11 (row 1, col 1), flow token 42 frames 12-13 (row 2, col 2): the exported MP4
    boxes them there and nowhere else; it once left the boxes out."""
    from core.export.image import GAP
    from core.video import open_video

    window.classify.classify_state.set_overlay(enabled=False)  # the boxes alone: no heat map under them
    window.classify_ui.cross_panel.click_cell(21, 42)
    settle(qtbot)
    frames = tuple(range(CLIP_START, CLIP_START + 8))

    def export(name: str) -> list[np.ndarray]:
        with qtbot.waitSignal(window.export.exported, timeout=60000):
            window.export.export_clip(str(tmp_path / name), frames)
        with open_video(tmp_path / name) as video:
            return [video.read(k)[:64].astype(int) for k in range(len(frames))]

    export("warm-up.mp4")  # the flow of these frames into the cache: both exports below read the same flow
    boxed = export("boxed.mp4")
    window.classify.classify_state.set_selection(None)
    plain = export("plain.mp4")
    ring = np.zeros((64, 128 + GAP + 128), bool)
    for (y0, x0), left in (((16, CROP_X + 16), 0), ((32, CROP_X + 32), 128 + GAP)):  # the RGB box, the flow box
        ring[y0:y0 + 16, left + x0:left + x0 + 16] = True
        ring[y0 + 3:y0 + 13, left + x0 + 3:left + x0 + 13] = False  # the outline, 2-3 px wide
    for k, frame in enumerate(frames):
        diff = np.abs(boxed[k] - plain[k]).mean(axis=2)
        rgb_ring, flow_ring = ring.copy(), ring.copy()
        rgb_ring[:, 128:] = False
        flow_ring[:, :128] = False
        assert (diff[rgb_ring].mean() > 40) == (frame in (10, 11)), f"RGB box on frame {frame}: {diff[rgb_ring].mean():.1f}"
        assert (diff[flow_ring].mean() > 40) == (frame in (12, 13)), f"flow box on frame {frame}: {diff[flow_ring].mean():.1f}"
