"""The cross-stream matrix: a cell names the RGB and flow tokens it joins, on the frames they cover."""

from __future__ import annotations

import numpy as np
import pytest

from attention_helpers import planted_maps
from core.export.prediction_heat import AttentionChoice
from core.models.transformer.layout import FLOW, RGB
from core.sampling import crop_map
from viewer.classify.cross_stream import cell_tokens, cross_matrix, describe_cell, pair_cell


def test_cross_stream_cells_name_their_tokens() -> None:
    frames = tuple(range(8))
    maps = planted_maps(frames, crop_map(64, 64, 60), pair=(22, 37))
    choice = AttentionChoice()
    block = cross_matrix(maps, RGB, "tokens", choice)
    assert block.shape == (60, 60) and np.unravel_index(np.argmax(block), block.shape) == (22, 37)
    assert cell_tokens(maps, RGB, "tokens", 22, 37, choice)[:2] == (22, 37)
    # a time cell stands for its strongest pair: token 22 is slice 1, token 37 slice 2
    assert cell_tokens(maps, RGB, "time", 1, 2, choice)[:2] == (22, 37)
    assert cell_tokens(maps, FLOW, "tokens", 37, 22, choice)[2] == pytest.approx(1e-3)  # flow -> RGB is the other block
    text = describe_cell(maps, RGB, "tokens", 22, 37, 0.9)
    assert "RGB token 22 (slice 1: frames 2-3; row 1, col 2)" in text and "flow token 37 (slice 2: frames 4-5; row 1, col 2)" in text
    with pytest.raises(ValueError, match="outside"):
        cell_tokens(maps, RGB, "tokens", 60, 0, choice)
    # a pair's cell in every matrix: where a click there would pick it, with its attention in that matrix
    assert pair_cell(maps, RGB, "tokens", 22, 37, choice) == (22, 37, pytest.approx(float(block[22, 37])))
    assert pair_cell(maps, RGB, "time", 22, 37, choice)[:2] == (1, 2)
    assert pair_cell(maps, FLOW, "tokens", 22, 37, choice) == (37, 22, pytest.approx(1e-3))
    assert pair_cell(maps, FLOW, "time", 22, 37, choice)[:2] == (2, 1)
    with pytest.raises(ValueError, match="unknown attention map kind"):
        AttentionChoice(kind="gradcam")
