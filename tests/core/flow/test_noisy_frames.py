"""A noisy frame is named as a frame: the one between two flagged pairs, not the clean frame before it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.flow import clip_quality, compute_flow
from core.flow.noisy_frames import NoisyFrame, next_noisy_frame, noisy_frames

BROKEN = 17
THRESHOLD = 0.35  # the viewer's default noise threshold


def _panning_clip_with_a_noise_frame(frames: int = 24) -> np.ndarray:
    """A smooth texture panning (2, 1) px a frame; frame BROKEN is replaced by uniform noise."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (140, 220, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    clip = np.stack([texture[10 + i : 74 + i, 10 + 2 * i : 138 + 2 * i] for i in range(frames)])
    clip[BROKEN] = rng.integers(0, 256, clip[BROKEN].shape, dtype=np.uint8)
    return clip


def test_the_noise_frame_of_a_generated_clip_is_named_exactly() -> None:
    clip = _panning_clip_with_a_noise_frame()
    flow = compute_flow(clip, "dis", backward=True)
    noise = np.array([q.noise_score for q in clip_quality(clip, flow.forward, flow.backward)])
    assert set(np.flatnonzero(noise > THRESHOLD)) == {BROKEN - 1, BROKEN}  # the flow into it and out of it
    assert noisy_frames(noise, THRESHOLD) == [NoisyFrame(BROKEN, (BROKEN - 1, BROKEN))]
    assert next_noisy_frame(noise, THRESHOLD, after=0) == NoisyFrame(BROKEN, (BROKEN - 1, BROKEN))
    assert next_noisy_frame(noise, THRESHOLD, after=BROKEN).frame == BROKEN  # the only one: wraps to itself


@pytest.mark.parametrize(("scores", "frames"), [
    ([0, 0, 1, 1, 0, 0], [(3, (2, 3))]),  # one broken frame
    ([0, 1, 0, 0, 0, 0], [(1, (1,))]),  # a lone flagged pair (a cut): named by its first frame
    ([0, 1, 1, 1, 0], [(2, (1, 2)), (3, (2, 3))]),  # two broken frames in a row
    ([1, 0, 0, 1], [(0, (0,)), (3, (3,))]),  # flagged pairs at both ends
    ([np.nan, 1, 1, np.nan], [(2, (1, 2))]),  # unscanned pairs are not flagged
    ([0.2, 0.3], []),
])
def test_flagged_pairs_become_frames(scores: list[float], frames: list[tuple[int, tuple[int, ...]]]) -> None:
    assert noisy_frames(np.array(scores, np.float32), 0.5) == [NoisyFrame(f, p) for f, p in frames]


def test_next_noisy_frame_steps_and_wraps() -> None:
    scores = np.array([0, 1, 1, 0, 0, 1, 0], np.float32)  # frame 2 (pairs 1 and 2), then the lone pair 5
    assert [next_noisy_frame(scores, 0.5, after=a).frame for a in (0, 2, 5, 6)] == [2, 5, 2, 2]
    assert next_noisy_frame(np.zeros(4, np.float32), 0.5, after=0) is None
