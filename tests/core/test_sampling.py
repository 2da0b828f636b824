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


@pytest.mark.parametrize(("height", "width", "size", "rows"), [(720, 1280, 112, 7), (240, 320, 224, 7), (480, 854, 224, 14), (1080, 1920, 112, 5), (96, 80, 224, 8)])
def test_a_painted_cell_covers_exactly_the_pixel_centres_inside_its_token_box(height: int, width: int, size: int, rows: int) -> None:
    """The heat map and the token box the viewer draws around it must agree to the pixel:
    a frame pixel is hot exactly when its centre lies inside the token's box."""
    cmap = crop_map(height, width, size)
    centres_x, centres_y = np.arange(width) + 0.5, np.arange(height) + 0.5
    for row, col in [(0, 0), (rows // 2, rows - 1), (rows - 1, rows // 3)]:
        grid = np.zeros((rows, rows), np.float32)
        grid[row, col] = 1.0
        x0, y0, x1, y1 = cmap.token_box(row, col, rows, rows)
        expected = ((centres_y >= y0) & (centres_y < y1))[:, None] & ((centres_x >= x0) & (centres_x < x1))[None, :]
        for interpolation in (cv2.INTER_NEAREST, cv2.INTER_NEAREST_EXACT):
            heat = cmap.grid_to_source(grid, interpolation=interpolation)
            assert heat.shape == (height, width)
            mismatched = np.argwhere((heat > 0.5) != expected)
            assert len(mismatched) == 0, f"{len(mismatched)} pixels disagree with token ({row}, {col}), e.g. {mismatched[:3].tolist()}"


def test_a_smooth_map_peaks_at_its_cell_centre_and_is_empty_outside_the_crop() -> None:
    cmap = crop_map(720, 1280, 112)
    grid = np.zeros((7, 7), np.float32)
    grid[3, 5] = 1.0
    heat = cmap.grid_to_source(grid, fill=-1.0, interpolation=cv2.INTER_LINEAR)
    x0, y0, x1, y1 = cmap.token_box(3, 5, 7, 7)
    peak_y, peak_x = np.unravel_index(np.argmax(heat), heat.shape)
    assert abs(peak_x + 0.5 - (x0 + x1) / 2) <= 1 and abs(peak_y + 0.5 - (y0 + y1) / 2) <= 1
    assert heat.max() == pytest.approx(1.0, abs=0.02)
    left, _, right, _ = cmap.source_box()
    assert np.all(heat[:, : int(np.floor(left))] == -1.0) and np.all(heat[:, int(np.ceil(right)) :] == -1.0)
    inside = heat[:, int(np.ceil(left)) : int(np.floor(right))]
    assert inside.min() >= 0.0 and inside.max() <= 1.0


def test_a_smooth_map_of_a_ramp_is_the_ramp_at_every_pixel_between_cell_centres() -> None:
    """Linear painting of grid value = column index gives, at each frame pixel, its centre's
    position in cells minus half a cell (cell values sit at cell centres)."""
    cmap = crop_map(480, 854, 224)
    grid = np.tile(np.arange(8, dtype=np.float32), (8, 1))
    heat = cmap.grid_to_source(grid, interpolation=cv2.INTER_LINEAR)
    cells = ((np.arange(854) + 0.5) * cmap.scale_x - cmap.offset_x) * 8 / 224 - 0.5
    inside = (cells > 0) & (cells < 7)
    np.testing.assert_allclose(heat[240, inside], cells[inside], atol=1e-4)
    with pytest.raises(ValueError, match="nearest or linear"):
        cmap.grid_to_source(grid, interpolation=cv2.INTER_CUBIC)
