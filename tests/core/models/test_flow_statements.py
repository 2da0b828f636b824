"""What the viewer says a checkpoint does to flow must be what its inputs do (seed 002's clamp, seed 000's colours)."""

from __future__ import annotations

import re

import numpy as np

import core.models.registry as families
from core.flow.render import FlowEncoding, flow_to_rgb
from core.models.convnet import ConvNetConfig
from core.models.convnet.inputs import stack_flow
from core.models.transformer.config import TransformerConfig

CLASSES = ["walk", "run", "jump"]


def _statement(config) -> str:  # noqa: ANN001
    return families.family_record(config).flow_statement(config)


def test_the_convnet_clamp_is_stated_in_pixels_of_motion_after_the_scale() -> None:
    """Seed 002 divides by 20 and clamps to +-1: motion is clamped at 20 px, which the statement must say."""
    config = ConvNetConfig.create(backbone="tiny", class_names=CLASSES, input_size=32, flow_length=2, backbone_options={"width": 8},
                                  flow_scale=20.0, flow_bound=1.0, mean_subtraction=False)
    fields = np.zeros((2, 2, 4, 4), np.float32)
    fields[:, 0, 0, 0] = [15.0, 30.0]  # one motion inside the clamp, one beyond it
    stacked = stack_flow(fields, None, config)
    clamp_px = float(np.abs(stacked).max()) * config.flow_scale
    assert stacked[0, 0, 0] * config.flow_scale == 15.0 and clamp_px == 20.0
    said = re.search(r"clamped to ±([0-9.]+) px", _statement(config))
    assert said is not None and float(said.group(1)) == clamp_px
    assert "divided by 20" in _statement(config)


def test_a_flow_to_image_encoding_is_not_said_to_have_a_floor() -> None:
    """The "max" encoding (seed 000's flow_to_image) scales each clip by its largest motion however small:
    0.2 px of motion is drawn fully saturated, so no "at least 10 px" floor may be claimed."""
    encoding = {"normalization": "max", "max_radius": 10.0, "wheel": "middlebury"}
    config = TransformerConfig.create(backbone="tiny", class_names=CLASSES, backbone_options={"dim": 16}, input_size=32, clip_length=4,
                                      fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_encoding=encoding)
    flow = np.zeros((1, 2, 4, 4), np.float32)
    flow[0, 0, 1, 1] = 0.2
    image = flow_to_rgb(flow, FlowEncoding.from_dict(encoding))
    assert image[0, 1, 1].min() < 40  # saturated: the wheel's colour, far from white
    statement = _statement(config)
    assert "at least" not in statement and "largest motion" in statement
