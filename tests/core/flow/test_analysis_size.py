"""The size flow is computed at, and the one factor from its pixels to the video's."""

from __future__ import annotations

import numpy as np
import pytest

from core.flow.analysis_size import analysis_frames, analysis_shape, video_pixels_per_analysis_pixel


def test_a_video_over_480_lines_is_analysed_at_480() -> None:
    assert analysis_shape(1080, 1920) == (480, 853) and analysis_shape(540, 960) == (480, 853)
    assert analysis_shape(1920, 1080) == (853, 480)  # a portrait video: its width is the shorter side
    assert analysis_shape(270, 480) == (270, 480) and analysis_shape(480, 640) == (480, 640)  # their own size
    assert analysis_frames(np.zeros((2, 960, 960, 3), np.uint8)).shape == (2, 480, 480, 3)


def test_lengths_at_the_analysis_size_scale_back_to_the_videos_pixels() -> None:
    """A 1080p video's flow is computed 2.25 times smaller; a video analysed at its own size keeps its lengths."""
    assert video_pixels_per_analysis_pixel((960, 960)) == 2.0
    assert video_pixels_per_analysis_pixel((1080, 1920, 3)) == pytest.approx(2.25, abs=1e-3)  # 1920 / 853 is 2.2509
    assert video_pixels_per_analysis_pixel((270, 480)) == 1.0 and video_pixels_per_analysis_pixel((480, 854)) == 1.0
    assert video_pixels_per_analysis_pixel((540, 960), (270, 480)) == 2.0  # arrays of known shapes (the readout's)
