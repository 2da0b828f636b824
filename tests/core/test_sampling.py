"""Clip sampling and the crop map back to original frame pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.sampling import (
    clip_indices,
    crop_map,
    resize_and_crop,
    sliding_window_starts,
    time_slice_frames,
    uniform_clip_starts,
)


def test_clip_at_a_stride() -> None:
    clip = clip_indices(5, num_frames=100, length=16, stride=2)
    assert clip.indices == tuple(range(5, 37, 2)) and clip.padded == 0 and clip.span == 31


def test_clip_past_the_end_repeats_the_last_frame() -> None:
    clip = clip_indices(90, num_frames=100, length=16, stride=1)
    assert clip.indices == tuple(range(90, 100)) + (99,) * 6 and clip.padded == 6


def test_clip_start_outside_video() -> None:
    with pytest.raises(ValueError, match="outside"):
        clip_indices(100, num_frames=100)


def test_uniform_clips_cover_the_video_tsn_style() -> None:
    starts = uniform_clip_starts(num_frames=116, num_clips=4, length=16)
    assert starts == [12, 37, 63, 88]  # centres of 4 equal segments of the 101 valid starts
    assert uniform_clip_starts(10, 3, length=16) == [0, 0, 0]  # too short: every clip pads
    assert uniform_clip_starts(16, 1, length=16) == [0]


def test_sliding_windows_reach_the_end() -> None:
    assert sliding_window_starts(50, length=16, stride=1) == [0, 16, 32, 34]
    assert sliding_window_starts(10, length=16) == [0]
    assert sliding_window_starts(40, length=8, stride=2, step=10) == [0, 10, 20, 25]


def test_time_slices_split_frames_evenly() -> None:
    slices = time_slice_frames(list(range(100, 116)), 8)
    assert slices[0] == (100, 101) and slices[7] == (114, 115) and len(slices) == 8


def test_crop_map_of_a_landscape_frame() -> None:
    cmap = crop_map(240, 320, 224)
    assert (cmap.resized_height, cmap.resized_width) == (224, 299)
    assert (cmap.offset_x, cmap.offset_y) == (37, 0)
    x0, y0, x1, y1 = cmap.source_box()
    assert x0 == pytest.approx(37 * 320 / 299) and y0 == 0
    assert x1 == pytest.approx((37 + 224) * 320 / 299) and y1 == pytest.approx(240)


def test_resize_and_crop_keeps_the_map_consistent_with_pixels() -> None:
    """A bright square in the original frame lands where the map says, and back."""
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100:140, 200:240] = 255
    out, cmap = resize_and_crop(frame[None], 112)
    assert out.shape == (1, 112, 112, 3)
    ys, xs = np.nonzero(out[0, :, :, 0] > 128)
    # centre of the square in crop pixels, mapped back, is the square's centre
    cx, cy = cmap.to_source(xs.mean() + 0.5, ys.mean() + 0.5)
    assert cx == pytest.approx(220, abs=1.5) and cy == pytest.approx(120, abs=1.5)


def test_token_box_and_grid_to_source_agree() -> None:
    cmap = crop_map(240, 320, 224)
    grid = np.zeros((7, 7), np.float32)
    grid[2, 5] = 1.0
    heat = cmap.grid_to_source(grid)
    assert heat.shape == (240, 320)
    ys, xs = np.nonzero(heat > 0.5)
    x0, y0, x1, y1 = cmap.token_box(2, 5, 7, 7)
    assert xs.min() == pytest.approx(x0, abs=1.5) and xs.max() + 1 == pytest.approx(x1, abs=1.5)
    assert ys.min() == pytest.approx(y0, abs=1.5) and ys.max() + 1 == pytest.approx(y1, abs=1.5)
    # outside the crop (left and right bands of a landscape frame) stays at the fill value
    assert heat[:, : int(cmap.source_box()[0]) - 1].max() == 0


def test_resize_and_crop_handles_float_flow_fields() -> None:
    flow = np.zeros((2, 60, 80, 2), np.float32)
    flow[..., 0] = 3.0
    out, _ = resize_and_crop(flow, 32)
    assert out.dtype == np.float32 and out.shape == (2, 32, 32, 2)
    np.testing.assert_allclose(out[..., 0], 3.0, rtol=1e-6)


def test_upscaling_a_small_frame() -> None:
    frame = cv2.resize(np.eye(8, dtype=np.uint8) * 255, (12, 8))[None, :, :, None].repeat(3, 3)
    out, cmap = resize_and_crop(frame, 32)
    assert out.shape == (1, 32, 32, 3) and cmap.scale_x == pytest.approx(4.0)

@pytest.mark.parametrize("rows", [3, 5, 7])
def test_grid_cells_that_do_not_tile_the_crop_land_on_their_token_box(rows: int) -> None:
    """112 px is no multiple of 3 or 5: each painted cell must still cover exactly the pixel
    centres inside its token box (within half a pixel), on a 720p frame too."""
    cmap = crop_map(720, 1280, 112)
    for row in range(rows):
        grid = np.zeros((rows, rows), np.float32)
        grid[row, rows // 2] = 1.0
        heat = cmap.grid_to_source(grid)
        ys, xs = np.nonzero(heat > 0.5)
        x0, y0, x1, y1 = cmap.token_box(row, rows // 2, rows, rows)
        tolerance = 0.5 * 720 / 112 + 1  # half a crop pixel, in source pixels, plus rounding
        assert abs(ys.min() - y0) <= tolerance and abs(ys.max() + 1 - y1) <= tolerance
        assert abs(xs.min() - x0) <= tolerance and abs(xs.max() + 1 - x1) <= tolerance
