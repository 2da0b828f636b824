"""Class activation maps are painted on the pixels each cell saw.  A ResNet trunk (padded convolutions) of
total stride s turns an input of n pixels into ceil(n / s) cells, cell i covering input pixels
[i s, (i + 1) s), the last one cut by the edge when n is not a multiple of s.  Painting the cells as an even
tiling of the crop (n / ceil(n / s) pixels each) put a map's peak a few pixels off, more the further from the
top-left: on 100 px of the tiny trunk (stride 8, 13 cells) cell 5 sat on pixels 38-45 instead of 40-47."""

from __future__ import annotations

import numpy as np
import torch

from convnet_helpers import tiny_config
from core.export.prediction_heat import cam_rgba
from core.models.convnet import build_convnet
from core.models.convnet.predict import ConvNetClassifier
from core.models.shared.cam_maps import CamMaps
from core.sampling import crop_map


def _peak_maps(row: int, col: int, cmap, cell_size: int | None) -> CamMaps:
    grid = np.zeros((1, 13, 13), np.float32)
    grid[0, row, col] = 1.0
    return CamMaps(rgb=grid, flow=None, target_class=0, rgb_frames=((0,),), crop_map=cmap, cell_size=cell_size)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(first row, last row, first column, last column) of the True pixels, which must fill that box."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))
    assert mask.sum() == (box[1] - box[0] + 1) * (box[3] - box[2] + 1)
    return box


def test_a_peak_cell_lands_on_the_pixels_the_trunks_stride_gives() -> None:
    cmap = crop_map(100, 100, 100)
    assert _box(_peak_maps(5, 3, cmap, 8).heatmap(_peak_maps(5, 3, cmap, 8).rgb, 0) > 0) == (40, 47, 24, 31)
    last = _peak_maps(12, 12, cmap, 8)
    assert _box(last.heatmap(last.rgb, 0) > 0) == (96, 99, 96, 99)  # the last cell cut by the edge
    assert cmap.token_box(12, 12, 13, 13, cell=8) == (96.0, 96.0, 100.0, 100.0)


def test_the_viewers_cam_layer_paints_the_same_box() -> None:
    cmap = crop_map(100, 100, 100)
    layer = cam_rgba(_peak_maps(5, 3, cmap, 8), "rgb", 0)
    assert _box((layer == layer[44, 28]).all(axis=-1)) == (40, 47, 24, 31)


def test_on_a_resized_frame_the_box_goes_back_through_the_crop() -> None:
    """A 200 x 240 frame: shorter side halved to 100, a 120 px width cropped 10 px in; crop pixels
    [40, 48) x [24, 32) are frame rows 80-95 and columns (24 + 10) x 2 = 68 to 83."""
    cmap = crop_map(200, 240, 100)
    maps = _peak_maps(5, 3, cmap, 8)
    assert _box(maps.heatmap(maps.rgb, 0) > 0) == (80, 95, 68, 83)
    layer = cam_rgba(maps, "rgb", 0)
    assert _box((layer == layer[88, 75]).all(axis=-1)) == (80, 95, 68, 83)


def test_maps_without_a_cell_size_tile_the_crop_evenly_as_before() -> None:
    cmap = crop_map(100, 100, 100)
    maps = _peak_maps(5, 3, cmap, None)
    assert _box(maps.heatmap(maps.rgb, 0) > 0) == (38, 45, 23, 30)  # centres in [5, 6) x 100/13 and [3, 4) x 100/13
    whole = crop_map(112, 112, 112)  # a multiple of the stride: both readings agree
    grid = np.random.default_rng(0).random((14, 14)).astype(np.float32)
    assert np.array_equal(whole.grid_to_source(grid, cell=8), whole.grid_to_source(grid))


def test_the_classifier_gives_its_maps_the_trunks_stride() -> None:
    torch.manual_seed(0)
    model = build_convnet(tiny_config("rgb", input_size=100)).eval()
    frames = np.random.default_rng(0).integers(0, 256, size=(12, 100, 100, 3), dtype=np.uint8)
    clip = ConvNetClassifier(model, device="cpu").predict_clip(frames, 0, attention=True)
    assert clip.attention.cell_size == 8 and clip.attention.grid_shape == (1, 13, 13)


def test_the_representation_flow_classifier_gives_both_streams_maps_the_trunks_stride() -> None:
    """Its flow layers sit between stages and keep the resolution: both streams end on the trunk's 13 x 13 cells."""
    from core.models.repflow import RepFlowConfig
    from core.models.repflow.factory import build_repflow
    from core.models.repflow.predict import RepFlowClassifier

    torch.manual_seed(0)
    config = RepFlowConfig.create(backbone="tiny", class_names=["a", "b", "c"], variant="late", input_size=100, clip_length=5,
                                  backbone_options={"width": 8}, iterations=2)
    frames = np.random.default_rng(0).integers(0, 256, size=(12, 100, 100, 3), dtype=np.uint8)
    maps = RepFlowClassifier(build_repflow(config).eval(), device="cpu").predict_clip(frames, 0, attention=True).attention
    assert maps.cell_size == 8 and maps.rgb.shape[1:] == maps.flow.shape[1:] == (13, 13)
