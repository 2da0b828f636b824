"""The colour radius settled from a sample of pairs, and the cost and time-left arithmetic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.flow.scale import RADIUS_FLOOR, measure_motion_scale, pair_motion, sample_pairs, settled_radius
from core.flow.timing import FlowCost, TimeLeft, format_duration


def test_sample_pairs_spread_over_the_video() -> None:
    assert sample_pairs(0) == [] and sample_pairs(5) == [0, 1, 2, 3, 4]
    assert sample_pairs(163) == [0, 23, 46, 69, 93, 116, 139, 162]


def test_settled_radius_ignores_a_few_large_motion_pairs() -> None:
    assert settled_radius([np.nan, np.nan]) is None
    assert settled_radius([0.01, 0.02]) == RADIUS_FLOOR  # a still video's noise stays pale
    assert settled_radius([3.0] * 6 + [30.0, 45.0]) == 3.0  # two camera jumps in eight pairs do not set it (the max would)
    assert settled_radius([1.234] * 8) == 1.2  # two significant digits


def test_pair_motion_is_a_high_percentile_of_one_pairs_motion() -> None:
    flow = np.zeros((2, 10, 10), np.float32)
    flow[0] = 2.0
    flow[0, 0, :3] = 50.0  # 3 % of the pixels mismatched
    assert pair_motion(flow) == pytest.approx(2.0)


def test_measured_motion_scale_of_a_panning_clip_with_jumps() -> None:
    """A texture panning 3 px a frame, with two pairs of 25 px jumps among eight sampled: radius 3 px."""
    rng = np.random.default_rng(2)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (80, 600, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    steps = [3.0] * 40
    steps[0] = steps[39] = 25.0  # the first and the last sampled pairs

    def read_pair(p: int) -> np.ndarray:
        x = sum(steps[:p])
        return np.stack([texture[8:72, int(x) + 40 : int(x) + 168], texture[8:72, int(x + steps[p]) + 40 : int(x + steps[p]) + 168]])

    scale = measure_motion_scale(read_pair, 40)
    assert scale.pairs == (0, 6, 11, 17, 22, 28, 33, 39)
    assert min(scale.pair_p95[0], scale.pair_p95[-1]) > 2 * max(scale.pair_p95[1:-1]), scale.pair_p95  # the jumps measured large
    assert scale.radius == pytest.approx(3.0, abs=0.15)  # the pan, to the two digits it is given in; the max would say 11


def test_motions_and_radius_are_in_the_videos_pixels_floor_included() -> None:
    """Pairs read at a large video's analysis size (half its size here): 3 analysis px of pan are 6 of the
    video's, and a still video's floor is 0.5 video px (not 0.5 analysis px, a full pixel on screen)."""
    rng = np.random.default_rng(4)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (80, 400, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)

    def panning(p: int) -> np.ndarray:
        return np.stack([texture[8:72, 3 * p + 40:3 * p + 168], texture[8:72, 3 * p + 43:3 * p + 171]])

    def still(p: int) -> np.ndarray:
        return np.stack([texture[8:72, 40:168]] * 2)

    scale = measure_motion_scale(panning, 20, video_pixels=2.0)
    assert scale.radius == pytest.approx(6.0, abs=0.3) and min(scale.pair_p95) > 5.0, scale
    assert measure_motion_scale(still, 20, video_pixels=2.0).radius == RADIUS_FLOOR


def test_an_unreadable_pair_is_passed_over_and_none_readable_raises() -> None:
    """A damaged frame among the sampled pairs (a folder of frames) left the whole video without flow."""
    from core.errors import VideoError

    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (80, 400, 3)).astype(np.float32), (0, 0), 2.0)
    texture = np.clip((texture - texture.mean()) * 4 + 128, 0, 255).astype(np.uint8)

    def read_pair(p: int) -> np.ndarray:
        if p == 11:
            raise VideoError("is not a readable image", f"frame_{p + 1}.png")
        return np.stack([texture[8:72, 3 * p + 40:3 * p + 168], texture[8:72, 3 * p + 43:3 * p + 171]])

    scale = measure_motion_scale(read_pair, 40)
    assert scale.pairs == (0, 6, 17, 22, 28, 33, 39) and scale.radius == pytest.approx(3.0, abs=0.15)

    def unreadable(p: int) -> np.ndarray:
        raise VideoError("is not a readable image", f"frame_{p}.png")

    with pytest.raises(VideoError, match="frame_0.png: is not a readable image"):
        measure_motion_scale(unreadable, 40)


def test_cost_and_time_left() -> None:
    cost = FlowCost("tvl1", 0.5, 100)
    assert cost.seconds_for(16) == 16.0 and cost.whole_video_s == 100.0
    assert [format_duration(s) for s in (0.2, 12.4, 150, 5400, 7260)] == ["under a second", "12 s", "2 min", "1 h 30 min", "2 h 1 min"]
    now = [100.0]
    left = TimeLeft(clock=lambda: now[0])
    assert left.seconds_left is None and left.describe() == "0/0"
    now[0] = 110.0
    left.update(5, 25)  # 5 steps in 10 s: 20 to go take 40 s
    assert left.seconds_left == pytest.approx(40.0) and left.describe("pairs") == "5/25 pairs, about 40 s left"
    left.update(25, 25)
    assert left.describe() == "25/25"


def test_time_left_does_not_count_answers_from_the_cache_as_a_rate() -> None:
    now = [0.0]
    left = TimeLeft(clock=lambda: now[0])
    left.update(16, 32)  # at once: the cache had half of it
    now[0] = 8.0
    left.update(20, 32)  # 4 computed in 8 s: 12 to go take 24 s
    assert left.seconds_left == pytest.approx(24.0)


def test_one_pair_is_timed_after_the_set_up() -> None:
    """The clock is read around the timed pair only: the half-size warm-up before it is not counted."""
    from core.flow.timing import time_one_pair

    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    reads = iter([10.0, 12.5])
    assert time_one_pair(frames, "farneback", clock=lambda: next(reads)) == 2.5


def test_a_slow_sample_stops_at_its_budget_still_spread_over_the_video() -> None:
    """Each pair 'takes' 1 s (a long-GOP file's seeks): after a 2.5 s budget the ends and the middle decide."""
    from core.flow.scale import spread_order

    assert spread_order([0, 23, 46, 69, 93, 116, 139, 162]) == [0, 162, 69, 23, 116, 46, 93, 139]
    now = [0.0]
    still = np.zeros((2, 64, 64, 3), np.uint8) + np.arange(64, dtype=np.uint8)[None, None, :, None]

    def read_pair(p: int) -> np.ndarray:
        now[0] += 1.0
        return still

    scale = measure_motion_scale(read_pair, 163, budget_s=2.5, clock=lambda: now[0])
    assert scale.pairs == (0, 69, 162) and scale.radius == RADIUS_FLOOR  # a still picture: the floor


def test_time_left_leaves_out_steps_said_to_be_free_whenever_they_come() -> None:
    now = [0.0]
    left = TimeLeft(clock=lambda: now[0])
    now[0] = 1.0  # the job waited its turn: the first chunk's cached answer is not "at once"
    left.update(16, 88, free=True)
    assert left.seconds_left is None  # nothing computed yet: no rate to tell
    now[0] = 11.0
    left.update(32, 88)  # 16 computed in 10 s; 56 to go take 35 s
    assert left.seconds_left == pytest.approx(35.0)
