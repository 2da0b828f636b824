"""The size flow is computed at, and the one factor that states its lengths in the video's pixels.

Flow of a large video is computed on smaller frames (cost grows with pixels):
a shorter side above :data:`MAX_ANALYSIS_SIDE` is shrunk to it.  A motion, an
inconsistency or a colour radius measured there is shorter than the same
thing in the frame the user sees (2.25 times on a 1080p video), so what the
viewer says in "px" goes through :func:`video_pixels_per_analysis_pixel`.
"""

from __future__ import annotations

import numpy as np

MAX_ANALYSIS_SIDE = 480  # a shorter side above this is downscaled for flow (cost grows with pixels)


def analysis_shape(height: int, width: int) -> tuple[int, int]:
    """(height, width) flow is computed at for frames of ``height`` x ``width``."""
    short = min(height, width)
    if short <= MAX_ANALYSIS_SIDE:
        return height, width
    scale = MAX_ANALYSIS_SIDE / short
    return int(round(height * scale)), int(round(width * scale))


def analysis_frames(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) frames, downscaled when their shorter side exceeds :data:`MAX_ANALYSIS_SIDE`."""
    import cv2

    height, width = frames.shape[1:3]
    shape = analysis_shape(height, width)
    if shape == (height, width):
        return frames
    return np.stack([cv2.resize(f, (shape[1], shape[0]), interpolation=cv2.INTER_AREA) for f in frames])


def video_pixels_per_analysis_pixel(video_shape: tuple[int, ...], analysis: tuple[int, ...] | None = None) -> float:
    """How many of the video's pixels one pixel of flow length at the analysis size spans: the mean of the two
    axes' ratios (they differ by the rounding of the shrunk width, under 0.1 %).  ``video_shape`` and
    ``analysis`` are (height, width, ...) shapes; ``analysis`` defaults to :func:`analysis_shape`'s.
    1.0 for a video analysed at its own size."""
    height, width = int(video_shape[0]), int(video_shape[1])
    small_height, small_width = analysis_shape(height, width) if analysis is None else (int(analysis[0]), int(analysis[1]))
    if (small_height, small_width) == (height, width):
        return 1.0
    return (width / small_width + height / small_height) / 2
