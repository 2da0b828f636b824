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
                        noise={"inconsistency": (inconsistency, "px"), "warp error": (warp, "grey levels")}, video_pixels=2.0)
    assert "flow u +3.00, v -1.00" in text
    assert "inconsistency 1.50 px" in text
    assert "warp error 12.00 grey levels" in text


def test_lengths_are_stated_by_the_flow_frames_factor_not_by_the_arrays_shapes() -> None:
    """The readout worked its factor out again from the frame's and the field's shapes (2.0 here), apart from the
    one the open video holds and its captions, timeline and exports state (2.25 given here): now it is handed that."""
    frame = np.zeros((540, 960, 3), np.uint8)
    field = np.zeros((270, 480, 2), np.float32)
    field[..., 0], field[..., 1] = 2.0, -4.0
    inconsistency = np.full((270, 480), 0.4, np.float32)
    text = readout_text(0.5, 0.5, frame=frame, field=field, noise={"inconsistency": (inconsistency, "px")}, video_pixels=2.25)
    assert "flow u +4.50, v -9.00, |w| 10.06 px" in text and "inconsistency 0.90 px" in text, text
