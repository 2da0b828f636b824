"""The cursor readout's numbers against known maps: one unit for every length on its line."""

from __future__ import annotations

import numpy as np

from viewer.widgets.cursor_readout import readout_text


def test_inconsistency_is_stated_in_frame_pixels_like_the_flow() -> None:
    """Frames above 480 px are analysed at a smaller size: the flow was scaled back to the video's
    pixels but the forward-backward inconsistency beside it stayed in analysis pixels (half here)."""
    frame = np.zeros((540, 960, 3), np.uint8)
    field = np.zeros((270, 480, 2), np.float32)
    field[..., 0], field[..., 1] = 1.5, -0.5  # analysis pixels
    inconsistency = np.full((270, 480), 0.75, np.float32)  # analysis pixels
    warp = np.full((270, 480), 12.0, np.float32)  # grey levels: no size in it
    text = readout_text(0.5, 0.5, frame=frame, field=field,
                        noise={"inconsistency": (inconsistency, "px"), "warp error": (warp, "grey levels")})
    assert "flow u +3.00, v -1.00" in text
    assert "inconsistency 1.50 px" in text
    assert "warp error 12.00 grey levels" in text
