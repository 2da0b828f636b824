"""Attention maps with planted peaks, for tests of heat layers and the cross-stream panel."""

from __future__ import annotations

import numpy as np

from core.models.transformer.explain import AttentionMaps
from core.models.transformer.layout import FLOW, RGB, TokenLayout

GRID = (4, 3, 5)  # T', H', W'


def planted_maps(frames: tuple[int, ...], cmap, *, rgb_peak=(2, 1, 3), flow_peak=(1, 2, 0), pair=None) -> AttentionMaps:  # noqa: ANN001
    """Maps of a 'fusion' layout with one hot token per stream (class-token attention), and optionally
    one hot RGB -> flow token pair in the last layer's attention."""
    layout = TokenLayout.for_variant("fusion", GRID)
    att = np.full((2, 2, layout.length, layout.length), 1e-3, np.float32)
    if pair is not None:
        q, k = pair
        att[-1, :, layout.token_slice(RGB).start + q, layout.token_slice(FLOW).start + k] = 0.9
    rgb = np.zeros((2, 2, *GRID), np.float32)
    rgb[:, :, rgb_peak[0], rgb_peak[1], rgb_peak[2]] = 0.5
    flow = np.zeros((2, 2, *GRID), np.float32)
    flow[:, :, flow_peak[0], flow_peak[1], flow_peak[2]] = 0.5
    rows = np.zeros((1, layout.length), np.float32)
    return AttentionMaps(
        layout=layout, attention=att, class_to_rgb=rgb, class_to_flow=flow,
        rgb_to_flow_time=np.zeros((2, 2, GRID[0], GRID[0]), np.float32), flow_to_rgb_time=np.zeros((2, 2, GRID[0], GRID[0]), np.float32),
        rollout=rows, relevance=rows, target_class=0, frame_indices=frames, crop_map=cmap,
    )
