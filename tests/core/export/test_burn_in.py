"""Burned-in labels: each frame gets its number and the class of the window covering it, drawn
top-left inside the first panel; the rest of the image is untouched."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.export.burn_in import LabelTrack, burn_in, caption_lines


def clip(start: int, frames: int, label: str, probability: float) -> SimpleNamespace:
    return SimpleNamespace(start=start, frame_indices=tuple(range(start, start + frames)), label=label, probability=probability)


def test_windows_cover_frames_up_to_the_next_start_and_captions_name_them() -> None:
    track = LabelTrack.from_predictions([clip(8, 8, "jump", 0.5), clip(0, 8, "run", 0.912), clip(12, 8, "walk", 0.25)], "whole video")
    assert track.windows == ((0, 7, "run", 0.912), (8, 11, "jump", 0.5), (12, 19, "walk", 0.25))
    assert caption_lines(3, track) == ["frame 3", "run 91.2%"]
    assert caption_lines(12, track) == ["frame 12", "walk 25.0%"]
    assert caption_lines(20, track) == ["frame 20"] and caption_lines(5, None) == ["frame 5"]


def test_windows_further_apart_than_their_span_leave_the_frames_between_unlabelled() -> None:
    track = LabelTrack.from_predictions([clip(0, 4, "run", 0.5), clip(10, 4, "jump", 0.75)], "whole video")
    assert track.windows == ((0, 3, "run", 0.5), (10, 13, "jump", 0.75))
    assert caption_lines(5, track) == ["frame 5"] and caption_lines(13, track) == ["frame 13", "jump 75.0%"]


def test_burn_in_writes_inside_its_box_only() -> None:
    image = np.full((120, 300, 3), 200, np.uint8)
    out = burn_in(image, ["frame 12", "run 91.2%"], width_limit=140)
    changed = (out != image).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 500 and xs.max() < 140 and ys.max() < 60  # a box top-left, inside the first panel
    assert (out[ys, xs] == 255).all(axis=1).any()  # white text on it
    assert np.array_equal(image, np.full((120, 300, 3), 200, np.uint8))  # the input is not changed
    with pytest.raises(ValueError, match="uint8"):
        burn_in(image.astype(np.float32), ["x"])
