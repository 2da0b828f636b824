"""The Middlebury colour wheel with a recorded, fixed or per-clip scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import FlowError
from core.flow.render import WHEEL, FlowEncoding, flow_to_rgb, radius_for, render_flow


def _uniform(u: float, v: float, size: int = 4) -> np.ndarray:
    flow = np.zeros((2, size, size), np.float32)
    flow[0], flow[1] = u, v
    return flow


def test_known_colours_of_the_legacy_wheel() -> None:
    """What this program drew before the exact Middlebury arithmetic: kept for checkpoints trained on it."""
    enc = FlowEncoding("fixed", 5.0, wheel="legacy")
    assert len(WHEEL) == 55
    assert tuple(flow_to_rgb(_uniform(5.0, 0.0), enc)[0, 0]) == (255, 0, 0)  # +x: red, full saturation
    assert tuple(flow_to_rgb(_uniform(0.0, 0.0), enc)[0, 0]) == (255, 255, 255)  # no motion: white
    assert tuple(flow_to_rgb(_uniform(2.5, 0.0), enc)[0, 0]) == (255, 128, 128)  # half the radius: half saturated
    down = flow_to_rgb(_uniform(0.0, 5.0), enc)[0, 0]  # +y (down): orange-yellow
    assert down[0] == 255 and 200 < down[1] < 255 and down[2] == 0
    left = flow_to_rgb(_uniform(-5.0, 0.0), enc)[0, 0]  # -x: cyan-blue
    assert left[0] == 0 and left[2] == 255 and 150 < left[1] < 230
    up = flow_to_rgb(_uniform(0.0, -5.0), enc)[0, 0]  # -y (up): violet
    assert up[1] == 0 and up[2] == 255 and 60 < up[0] < 220
    # the sign of a zero component does not change the colour of pure +x motion
    minus_zero = _uniform(5.0, 0.0)
    minus_zero[1] = -0.0
    assert tuple(flow_to_rgb(minus_zero, enc)[0, 0]) == (255, 0, 0)


@pytest.mark.parametrize("shape,scale", [((1, 2, 17, 23), 1.0), ((3, 2, 64, 48), 5.0), ((2, 2, 8, 8), 0.01), ((2, 31, 7), 40.0)])
@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_the_middlebury_wheel_with_max_scale_is_torchvision_flow_to_image_exactly(shape: tuple, scale: float, kind: str) -> None:
    """Seed 000 feeds ``flow_to_image`` pictures to its backbone: zero difference, pixel for pixel."""
    import torch
    from torchvision.utils import flow_to_image

    rng = np.random.default_rng([len(shape), *shape, int(scale * 100), len(kind)])  # the same fields in every run
    flow = (rng.normal(0, scale, shape) if kind == "gaussian" else rng.uniform(-scale, scale, shape)).astype(np.float32)
    ours = flow_to_rgb(flow, FlowEncoding("max", 1.0))
    theirs = flow_to_image(torch.from_numpy(flow))
    theirs = (theirs.permute(0, 2, 3, 1) if theirs.ndim == 4 else theirs.permute(1, 2, 0)).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_known_colours_of_the_middlebury_wheel() -> None:
    enc = FlowEncoding("fixed", 5.0)
    assert enc.wheel == "middlebury"
    assert tuple(flow_to_rgb(_uniform(5.0, 0.0), enc)[0, 0]) == (255, 0, 0)
    assert tuple(flow_to_rgb(_uniform(0.0, 0.0), enc)[0, 0]) == (255, 255, 255)
    assert tuple(flow_to_rgb(_uniform(2.5, 0.0), enc)[0, 0]) == (255, 127, 127)  # floored, as the Middlebury code does
    assert tuple(flow_to_rgb(_uniform(0.0, 5.0), enc)[0, 0]) == (255, 229, 0)  # down: the legacy wheel drew (255, 234, 0)
    assert tuple(flow_to_rgb(_uniform(0.0, 5.0), FlowEncoding("fixed", 5.0, wheel="legacy"))[0, 0]) == (255, 234, 0)
    np.testing.assert_array_equal(flow_to_rgb(_uniform(80.0, -3.0), enc), flow_to_rgb(_uniform(80.0, -3.0) / 16.0 * 1.0, FlowEncoding("fixed", 5.0 / 16.0)))


def test_an_encoding_recorded_without_a_wheel_is_the_legacy_one() -> None:
    """Checkpoints made before the exact wheel keep rendering as they were trained."""
    assert FlowEncoding.from_dict({"normalization": "fixed", "max_radius": 3.0}).wheel == "legacy"
    assert FlowEncoding.from_dict(FlowEncoding("clip", 2.0).to_dict()) == FlowEncoding("clip", 2.0, wheel="middlebury")
    with pytest.raises(FlowError, match="wheel must be one of"):
        FlowEncoding("fixed", 1.0, wheel="hsv")


def test_fixed_scale_gives_the_same_colour_whatever_the_batch() -> None:
    enc = FlowEncoding("fixed", 8.0)
    small = np.stack([_uniform(1.0, 2.0), _uniform(0.5, 0.0)])
    large = np.stack([_uniform(1.0, 2.0), _uniform(40.0, -30.0)])
    a, b = flow_to_rgb(small, enc), flow_to_rgb(large, enc)
    assert a.shape == (2, 4, 4, 3) and a.dtype == np.uint8 and a.flags.c_contiguous
    np.testing.assert_array_equal(a[0], b[0])
    # longer than the radius: clipped to full saturation, same hue as the radius itself
    np.testing.assert_array_equal(flow_to_rgb(_uniform(80.0, 0.0), enc), flow_to_rgb(_uniform(8.0, 0.0), enc))


def test_clip_scale_is_one_radius_for_the_whole_array_with_a_floor() -> None:
    enc = FlowEncoding("clip", 2.0)
    clip = np.stack([_uniform(1.0, 0.0), _uniform(6.0, 8.0)])
    rgb, radius = render_flow(clip, enc)
    assert radius == pytest.approx(10.0) == radius_for(clip, enc)
    np.testing.assert_array_equal(rgb, flow_to_rgb(clip, FlowEncoding("fixed", 10.0)))
    still = np.stack([_uniform(0.05, 0.0)])
    assert radius_for(still, enc) == 2.0  # sub-pixel noise is not blown up to full colour


def test_non_finite_flow_is_drawn_black_and_shapes_are_checked() -> None:
    flow = _uniform(1.0, 1.0)
    flow[0, 1, 2] = np.nan
    rgb = flow_to_rgb(flow, FlowEncoding())
    assert tuple(rgb[1, 2]) == (0, 0, 0) and rgb.shape == (4, 4, 3)
    with pytest.raises(FlowError, match=r"\(2, H, W\)"):
        flow_to_rgb(np.zeros((3, 4, 4), np.float32))


def test_encoding_round_trips_exactly_through_json_and_validates() -> None:
    enc = FlowEncoding("clip", 7.123456789012345)
    text = json.dumps(enc.to_dict())
    again = FlowEncoding.from_dict(json.loads(text))
    assert again == enc and again.max_radius == 7.123456789012345
    assert FlowEncoding.from_dict({"normalization": "fixed", "max_radius": 3}).max_radius == 3.0
    for bad in ({"normalization": "batch", "max_radius": 1.0}, {"normalization": "fixed", "max_radius": 0},
                {"normalization": "fixed", "max_radius": float("inf")}, {"normalization": "fixed"},
                {"normalization": "fixed", "max_radius": 1.0, "gamma": 2}, {"normalization": "fixed", "max_radius": True}):
        with pytest.raises(FlowError):
            FlowEncoding.from_dict(bad)
