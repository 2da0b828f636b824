"""Simonyan & Zisserman's ten test crops: exact boxes of a larger resize, mirrored pixels, and a
crop map that takes a mirrored view's tokens back to the right frame pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.sampling import TEN_CROPS, CropView, crop_map, resize_and_crop



def test_ten_crops_are_four_corners_and_the_centre_each_also_flipped() -> None:
    assert len(TEN_CROPS) == 10 and len(set(TEN_CROPS)) == 10
    assert [v.describe() for v in TEN_CROPS[::2]] == ["top-left", "top-right", "bottom-left", "bottom-right", "centre"]
    assert [v.flip for v in TEN_CROPS] == [False, True] * 5
    assert all(v.scale == 256 / 224 for v in TEN_CROPS)


def test_a_224_crop_comes_from_frames_whose_shorter_side_is_256() -> None:
    boxes = [(m.resized_height, m.resized_width, m.offset_x, m.offset_y, m.flipped) for m in (crop_map(240, 320, 224, v) for v in TEN_CROPS)]
    # 320 * 256 / 240 = 341.3 -> 341 wide: 117 spare columns, 32 spare rows
    assert boxes[::2] == [(256, 341, 0, 0, False), (256, 341, 117, 0, False), (256, 341, 0, 32, False), (256, 341, 117, 32, False),
                          (256, 341, 58, 16, False)]
    assert boxes[1::2] == [b[:4] + (True,) for b in boxes[::2]]  # a flip is the same square, mirrored
    portrait = crop_map(320, 240, 224, CropView(1.0, 1.0, 256 / 224))
    assert (portrait.resized_height, portrait.resized_width, portrait.offset_x, portrait.offset_y) == (341, 256, 32, 117)


def test_each_view_covers_its_exact_box_of_the_frame() -> None:
    # a 128x256 frame, crops of 56: shorter side 64 (half the frame), so every box is twice its resized one
    expected = [(0, 0, 112, 112), (144, 0, 256, 112), (0, 16, 112, 128), (144, 16, 256, 128), (72, 8, 184, 120)]
    for n, view in enumerate(TEN_CROPS):
        cmap = crop_map(128, 256, 56, view)
        assert (cmap.resized_height, cmap.resized_width, cmap.scale_x) == (64, 128, 0.5)
        assert cmap.source_box() == expected[n // 2]


def test_crops_are_slices_of_the_resized_frame_and_a_flip_is_the_mirrored_slice() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 64, 128, 3), dtype=np.uint8)  # already 64 on the shorter side: plain slices
    slices = [(0, 0), (72, 0), (0, 8), (72, 8), (36, 4)]
    for n, view in enumerate(TEN_CROPS):
        out, cmap = resize_and_crop(frames, 56, view)
        x0, y0 = slices[n // 2]
        piece = frames[:, y0 : y0 + 56, x0 : x0 + 56]
        np.testing.assert_array_equal(out, piece[:, :, ::-1] if view.flip else piece)
        assert out.flags.c_contiguous and cmap.flipped == view.flip


def test_a_flipped_rgb_crop_equals_the_mirrored_unflipped_one_after_a_resize() -> None:
    frames = np.random.default_rng(1).integers(0, 255, (3, 90, 160, 3), dtype=np.uint8)
    for plain, flipped in zip(TEN_CROPS[::2], TEN_CROPS[1::2]):
        a, amap = resize_and_crop(frames, 48, plain)
        b, bmap = resize_and_crop(frames, 48, flipped)
        np.testing.assert_array_equal(b, a[:, :, ::-1])
        assert bmap.source_box() == amap.source_box()


def test_a_mirrored_view_maps_its_tokens_back_mirrored() -> None:
    """A point the model saw at crop column x of a flipped view is frame content from the
    unflipped crop's column ``size - x``: token boxes, points and painted grids all say so."""
    plain, flipped = crop_map(128, 256, 56, TEN_CROPS[2]), crop_map(128, 256, 56, TEN_CROPS[3])  # top-right, and flipped
    assert plain.to_source(0, 0) == (144.0, 0.0) and flipped.to_source(0, 0) == (256.0, 0.0)
    for row in range(4):
        for col in range(4):
            assert flipped.token_box(row, col, 4, 4) == plain.token_box(row, 3 - col, 4, 4)
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    for interpolation in (cv2.INTER_NEAREST_EXACT, cv2.INTER_LINEAR):
        np.testing.assert_allclose(flipped.grid_to_source(grid, fill=-1, interpolation=interpolation),
                                   plain.grid_to_source(grid[:, ::-1], fill=-1, interpolation=interpolation), atol=1e-5)
    painted = flipped.grid_to_source(grid, fill=-1)
    assert painted[0, 255] == 0 and painted[0, 144] == 3 and painted[0, 143] == -1  # the first token is at the frame's right edge


def test_a_bright_pixel_lands_where_the_map_of_its_flipped_view_says() -> None:
    frames = np.zeros((1, 64, 128, 3), np.uint8)
    frames[0, 10, 100] = 255  # inside the top-right crop (x 72..128, y 0..56)
    out, cmap = resize_and_crop(frames, 56, TEN_CROPS[3])
    y, x = np.argwhere(out[0, :, :, 0] == 255)[0]
    assert cmap.to_source(x + 0.5, y + 0.5) == (100.5, 10.5)
    assert cmap.token_box(int(y) // 8, int(x) // 8, 7, 7)[0] <= 100 < cmap.token_box(int(y) // 8, int(x) // 8, 7, 7)[2]


def test_float_positions_keep_their_old_maps_and_a_flipped_flow_field_is_refused() -> None:
    for height, width, size, position in ((32, 64, 32, 0.0), (33, 64, 32, 0.5), (90, 30, 30, 1.0), (240, 320, 224, 0.5)):
        old = crop_map(height, width, size, position)
        assert old == crop_map(height, width, size, CropView(position, position)) and not old.flipped
    with pytest.raises(ValueError, match="horizontal motion"):
        resize_and_crop(np.zeros((2, 64, 128, 2), np.float32), 56, TEN_CROPS[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        CropView(1.5, 0.0)
    with pytest.raises(ValueError, match="scale must be >= 1"):
        CropView(scale=0.5)
