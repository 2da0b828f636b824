"""Attention layers in frame pixels: exact placement, per-clip colours, the cross-stream cells."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.transformer.attention_map import heatmap_for_frame, token_region
from core.models.transformer.layout import FLOW, RGB
from core.sampling import crop_map
from core.export.prediction_heat import AttentionChoice, attention_rgba, box_rgba, clip_frame_for, grid_rgba, normalised_volume, token_lookup
from attention_helpers import GRID, planted_maps

@pytest.mark.parametrize("height,width,size,grid", [(720, 1280, 112, (4, 7, 7)), (192, 256, 112, (4, 7, 7)), (240, 320, 224, (4, 4, 8)), (101, 333, 48, (4, 4, 6))])
def test_layers_land_on_the_same_pixels_as_the_core_heatmap(height: int, width: int, size: int, grid: tuple[int, int, int]) -> None:
    """The fast lookup follows the crop map: it differs from core's double-resize heat map only on
    token borders (a pixel's centre decides here; core's second nearest resize rounds either way).
    Grids that tile the crop exactly: with others cv2's nearest resize inside core moves borders by
    up to a crop pixel, while the lookup follows :meth:`CropMap.token_box` (see the planted-peak test)."""
    cmap = crop_map(height, width, size)
    volume = np.random.default_rng(0).random(grid).astype(np.float32)
    reference = heatmap_for_frame(volume, 5, tuple(range(8)), cmap)
    rows, cols = token_lookup(cmap, grid[1], grid[2])
    mine = np.where((rows[:, None] >= 0) & (cols[None, :] >= 0), volume[2][rows][:, cols], 0.0)
    row_border = np.zeros(height, bool)
    row_border[1:] |= rows[1:] != rows[:-1]
    row_border[:-1] |= rows[1:] != rows[:-1]
    col_border = np.zeros(width, bool)
    col_border[1:] |= cols[1:] != cols[:-1]
    col_border[:-1] |= cols[1:] != cols[:-1]
    differs = ~np.isclose(reference, mine)
    assert not (differs & ~(row_border[:, None] | col_border[None, :])).any()
    assert differs.mean() < 0.03


def test_a_planted_peak_lands_in_its_token_box_only_on_its_slice() -> None:
    frames = tuple(range(10, 18))  # 8 frames, 4 slices of 2
    cmap = crop_map(96, 160, 60)
    maps = planted_maps(frames, cmap)
    choice = AttentionChoice()
    slice_frames, (x0, y0, x1, y1) = token_region(2, 1, 3, GRID, frames, cmap)
    assert slice_frames == (14, 15)
    layer = attention_rgba(maps, RGB, 14, choice)
    assert layer is not None and layer.shape == (96, 160, 4) and layer.dtype == np.uint8
    alpha = layer[..., 3]
    ys, xs = np.nonzero(alpha)
    assert alpha.max() == 255  # the clip's maximum is fully opaque
    assert xs.min() == int(np.ceil(x0 - 0.5)) and xs.max() == int(np.ceil(x1 - 0.5)) - 1
    assert ys.min() == int(np.ceil(y0 - 0.5)) and ys.max() == int(np.ceil(y1 - 0.5)) - 1
    assert not attention_rgba(maps, RGB, 12, choice)[..., 3].any()  # another slice: nothing hot
    assert attention_rgba(maps, RGB, 9, choice) is None and attention_rgba(maps, RGB, 18, choice) is None  # outside the clip
    flow_layer = attention_rgba(maps, FLOW, 12, choice)  # flow's peak is in slice 1 (frames 12, 13)
    assert flow_layer is not None and flow_layer[..., 3].any()


def test_colours_are_scaled_per_clip_not_per_frame() -> None:
    volume = np.zeros(GRID, np.float32)
    volume[0, 0, 0] = 4.0
    volume[1, 0, 0] = 1.0
    scaled = normalised_volume(volume)
    assert scaled[0, 0, 0] == 1.0 and scaled[1, 0, 0] == pytest.approx(0.25)
    assert not normalised_volume(np.ones(GRID)).any()  # flat: nothing stands out
    cmap = crop_map(64, 64, 64)
    weak = grid_rgba(scaled[1], cmap)
    strong = grid_rgba(scaled[0], cmap)
    assert weak[..., 3].max() < strong[..., 3].max()


def test_frames_between_strided_samples_show_the_sample_before_them() -> None:
    frames = (20, 22, 24, 26)
    assert clip_frame_for(23, frames) == 22 and clip_frame_for(26, frames) == 26
    assert clip_frame_for(19, frames) is None and clip_frame_for(27, frames) is None


def test_box_layer_outlines_the_box() -> None:
    layer = box_rgba(40, 50, [((10.0, 5.0, 20.0, 15.0), (0, 255, 0), 1), ((30.0, 20.0, 40.0, 30.0), (255, 0, 0), 3)])
    ys, xs = np.nonzero(layer[..., 3])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 39, 5, 29)
    assert layer[10, 15, 3] == 0  # inside: see-through
    assert tuple(layer[5, 15, :3]) == (0, 255, 0)
    thick = layer[20:30, 30:40, 3] > 0  # three pixels wide, inside the box only
    assert thick[:3].all() and thick[-3:].all() and thick[:, :3].all() and not thick[3:-3, 3:-3].any()
    assert not layer[19, 30:40, 3].any() and not layer[20:30, 29, 3].any()


def test_a_mirrored_crop_paints_its_cells_where_the_core_heatmap_does() -> None:
    """A flipped view's map (ten-crop testing) shows the mirrored frame: its left grid column
    covers the right of the original frame, as heatmap_for_frame and the token box say."""
    from core.sampling import CropView

    cmap = crop_map(60, 80, 32, CropView(0.5, 0.5, 1.0, True))
    grid = np.zeros((2, 4), np.float32)
    grid[0, 0] = 1.0
    layer = grid_rgba(grid, cmap)
    hot = layer[..., 3] == 255
    expected = cmap.grid_to_source(grid) == 1.0
    x0, y0, x1, y1 = cmap.token_box(0, 0, 2, 4)
    assert x0 > 40  # the mirrored left column lies right of the frame's centre
    assert hot.any() and np.array_equal(hot, expected)
