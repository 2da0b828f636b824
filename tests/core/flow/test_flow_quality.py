"""Quality measures find noisy flow: correct flow scores low, corrupted flow high."""

from __future__ import annotations

import math

import numpy as np
import pytest
from flow_helpers import sequence

from core.errors import FlowError
from core.flow.quality import clip_quality, noise_score, pair_quality
from core.progress import CancelToken
from core.errors import Cancelled


def test_true_flow_scores_low_and_corrupted_flow_scores_high() -> None:
    frames, truth = sequence("translate", frames=2, size=96)
    forward, backward = truth[0], -truth[0]  # a translation's backward flow is its negative
    good, maps = pair_quality(frames[0], frames[1], forward, backward)
    assert good.noise_score < 0.1
    assert good.inconsistent_share < 0.01 and good.fb_error_mean < 0.05
    assert good.warp_error_mean < 3.0
    assert good.magnitude_mean == pytest.approx(math.hypot(1.6, 0.9), rel=1e-4)
    assert good.magnitude_max == pytest.approx(good.magnitude_p95, rel=1e-4)
    assert maps.inconsistency.shape == maps.warp_error.shape == (96, 96)
    assert maps.inconsistency.dtype == maps.warp_error.dtype == np.float32 and maps.outside.dtype == bool
    # the flow points out of the frame along the right and top edges: those pixels are left out
    assert maps.outside[:, -1].all() and maps.outside[0, :].all() and not maps.outside[48, 48]
    assert (maps.warp_error[maps.outside] == 0).all()

    rng = np.random.default_rng(1)
    noisy = forward + rng.normal(0, 3.0, forward.shape).astype(np.float32)
    bad, bad_maps = pair_quality(frames[0], frames[1], noisy, backward)
    assert bad.noise_score > 0.4 and bad.noise_score > 5 * good.noise_score
    assert bad.inconsistent_share > 0.5 and bad.warp_error_mean > 3 * good.warp_error_mean
    assert bad_maps.inconsistency[20:-20, 20:-20].mean() > 10 * maps.inconsistency[20:-20, 20:-20].mean()

    shifted, _ = pair_quality(frames[0], frames[1], forward + np.array([4.0, 0.0], np.float32)[:, None, None], backward)
    assert shifted.noise_score > 0.4  # a consistent-looking but wrong flow still fails the warp check


def test_without_backward_flow_the_score_is_the_warp_term() -> None:
    frames, truth = sequence("rotate", frames=2, size=64)
    quality, maps = pair_quality(frames[0], frames[1], truth[0])
    assert math.isnan(quality.fb_error_mean) and math.isnan(quality.inconsistent_share)
    assert quality.noise_score == pytest.approx(noise_score(warp_error_mean=quality.warp_error_mean))
    assert not maps.inconsistency.any()
    assert quality.to_dict()["fb_error_mean"] is None


def test_noise_score_scale_is_fixed() -> None:
    assert noise_score(warp_error_mean=0.0, fb_error_mean=0.0, inconsistent_share=0.0) == 0.0
    assert noise_score(warp_error_mean=20.0, fb_error_mean=1.0, inconsistent_share=0.5) == pytest.approx(0.5)
    assert noise_score(warp_error_mean=1e9, fb_error_mean=1e9, inconsistent_share=1.0) == pytest.approx(1.0)


def test_clip_quality_checks_shapes_and_cancels() -> None:
    frames, truth = sequence("zoom", frames=3, size=64)
    scores = clip_quality(frames, truth)
    assert len(scores) == 2 and all(s.noise_score < 0.15 for s in scores)
    with pytest.raises(FlowError, match="need 2 flows"):
        clip_quality(frames, truth[:1])
    with pytest.raises(FlowError, match=r"\(2, 64, 64\)"):
        pair_quality(frames[0], frames[1], truth[0][:, :10])
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        clip_quality(frames, truth, cancel=token)


def test_in_video_pixels_scales_the_lengths_only_and_is_itself_at_a_factor_of_1() -> None:
    """A 960x960 video's flow measured at 480x480: its lengths double in the video's pixels; shares, grey levels and
    the noise score stay (judged at the analysis size); a video analysed at its own size keeps every number."""
    frames, truth = sequence("translate", frames=2, size=96)
    quality, _maps = pair_quality(frames[0], frames[1], truth[0], -truth[0])
    assert quality.in_video_pixels(1.0) is quality
    doubled = quality.in_video_pixels(2.0)
    for name in ("fb_error_mean", "magnitude_mean", "magnitude_p95", "magnitude_max"):
        assert getattr(doubled, name) == 2.0 * getattr(quality, name), name
    for name in ("inconsistent_share", "warp_error_mean", "outside_share", "noise_score"):
        assert getattr(doubled, name) == getattr(quality, name), name
