"""From a token volume ``(T', H', W')`` back to the pixels of an original video frame.

Time: slice t' was made from the clip frames :func:`core.sampling.time_slice_frames`
gives it (16 frames -> 8 slices: two frames each).  Space: the token grid
tiles the model's centre crop exactly, and :class:`core.sampling.CropMap`
takes the crop back to the original frame (pixels outside the crop get 0).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from core.sampling import CropMap, time_slice_frames


def slices_for_frame(frame_index: int, clip_frame_indices: Sequence[int], num_slices: int) -> list[int]:
    """The time slices whose frames include video frame ``frame_index`` (several when the clip repeats a frame)."""
    groups = time_slice_frames(tuple(int(i) for i in clip_frame_indices), num_slices)
    return [t for t, frames in enumerate(groups) if int(frame_index) in frames]


def heatmap_for_frame(
    volume: np.ndarray,
    frame_index: int,
    clip_frame_indices: Sequence[int],
    crop_map: CropMap,
    *,
    smooth: bool = False,
) -> np.ndarray:
    """The ``(src_h, src_w)`` float32 map of ``volume`` over video frame ``frame_index``.

    When the frame belongs to several slices (a padded clip repeats its last
    frame) their maps are averaged.  ``smooth`` interpolates between token
    centres instead of painting crisp token blocks.
    """
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f"expected a (T', H', W') token volume, got shape {volume.shape}")
    slices = slices_for_frame(frame_index, clip_frame_indices, volume.shape[0])
    if not slices:
        first, last = int(clip_frame_indices[0]), int(clip_frame_indices[-1])
        raise ValueError(f"frame {frame_index} is not in this clip (frames {first}..{last})")
    grid = volume[slices].mean(axis=0)
    interpolation = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    return crop_map.grid_to_source(grid, fill=0.0, interpolation=interpolation)


def token_region(t: int, row: int, col: int, grid: tuple[int, int, int], clip_frame_indices: Sequence[int], crop_map: CropMap) -> tuple[tuple[int, ...], tuple[float, float, float, float]]:
    """The video frames and the original-frame box ``(x0, y0, x1, y1)`` that token ``(t, row, col)`` covers."""
    if not 0 <= t < grid[0]:
        raise ValueError(f"time slice {t} is outside a grid of {grid[0]} slices")
    frames = time_slice_frames(tuple(int(i) for i in clip_frame_indices), grid[0])[t]
    return frames, crop_map.token_box(row, col, grid[1], grid[2])
