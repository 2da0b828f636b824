"""A flipped test crop is the video seen in a mirror, for every stream of every family.

The frames are a texture translating right and up (dx=+2, dy=-1 px a frame) at
64x64 (128x128 for the transformer, whose tiny backbone tiles 16 px), and crops
of 56 (112) from the ten crops' resize (shorter side 64 (128): no resampling, so
crops are exact slices).  A flipped view's flow must be the
mirrored video's flow: motion to the left (u < 0), vertical motion unchanged,
equal (up to the flow method's own asymmetry) to the flow computed on mirrored
frames; the transformer's colour images must render that field, not mirror the
unflipped picture (which would keep rightward motion's hue).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from core.flow.synthetic import Motion, moving_sequence, smooth_texture
from core.inference import ArrayFrames
from core.inference.flow_backend import FlowBackend, default_flow_backend
from core.models.convnet import ConvNetConfig
from core.models.convnet.inputs import mirrored, prepare_snippets
from core.models.repflow import RepFlowConfig
from core.models.repflow.inputs import prepare_clip
from core.models.transformer.config import TransformerConfig
from core.models.transformer.inputs import prepare_clip_input, prepare_clip_inputs
from core.sampling import CROP_ROOM_SCALE, TEN_CROPS, CropView, resize_and_crop

SIZE = 56  # round(56 * 256 / 224) = 64: the frames' own size (the transformer's: 112 and 128)
TOP_LEFT, TOP_LEFT_FLIPPED = TEN_CROPS[0], TEN_CROPS[1]
TOP_RIGHT = CropView(1.0, 0.0, CROP_ROOM_SCALE)  # the top-left crop of a mirrored frame is the mirror of this one
INNER = (slice(None), slice(10, -10), slice(10, -10))


def translating(side: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, the same frames mirrored) of a texture moving 2 px right and 1 px up a frame."""
    frames, _ = moving_sequence(smooth_texture(2 * side, 2 * side, seed=1), Motion(dx=2.0, dy=-1.0), 6, size=(side, side))
    return frames, np.ascontiguousarray(frames[:, :, ::-1])


@pytest.fixture(scope="module")
def moving() -> tuple[np.ndarray, np.ndarray]:
    return translating(64)


def recording_backend() -> tuple[FlowBackend, list[np.ndarray]]:
    """The real flow engine, keeping each call's frames' forward fields (``(N-1, 2, H, W)``)."""
    real, fields = default_flow_backend(), []

    def compute(frames, method, **kwargs):
        result = real.compute(frames, method, **kwargs)
        fields.append(np.asarray(result.forward))
        return result

    return FlowBackend(compute=compute, render=real.render), fields


def test_convnet_flipped_view_is_the_mirrored_video_reusing_the_training_flip(moving):
    frames, mirror = moving
    cfg = ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], variant="late", input_size=SIZE, flow_length=4,
                               backbone_options={"width": 8}, mean_subtraction=False, flow_method="dis")
    plain = prepare_snippets(ArrayFrames(frames), [0], cfg, crop_position=TOP_LEFT)
    flipped = prepare_snippets(ArrayFrames(frames), [0], cfg, crop_position=TOP_LEFT_FLIPPED)
    assert flipped.crop_map.flipped and not plain.crop_map.flipped
    stack = flipped.flow[0].numpy()[INNER]
    assert np.allclose(np.median(stack[0::2], axis=(1, 2)), -2.0, atol=0.25)  # rightward motion seen as leftward
    assert np.allclose(np.median(stack[1::2], axis=(1, 2)), -1.0, atol=0.25)  # upward motion stays upward
    same = mirrored(plain.inputs())  # the flip is training's --augment flip, not a second copy of it
    assert torch.equal(flipped.rgb, same["rgb"]) and torch.equal(flipped.flow, same["flow"])
    # the flow computed on mirrored frames, at the mirrored place, agrees away from the borders
    on_mirror = prepare_snippets(ArrayFrames(mirror), [0], cfg, crop_position=TOP_RIGHT)
    assert torch.equal(flipped.rgb, on_mirror.rgb)
    difference = np.abs(stack - on_mirror.flow[0].numpy()[INNER])
    assert np.median(difference) < 0.05 and difference.mean() < 0.05


def test_transformer_flipped_view_renders_the_mirrored_u_negated_field():
    frames, mirror = translating(128)
    config = TransformerConfig.create(backbone="tiny", class_names=["a", "b"], variant="fusion", backbone_options={"dim": 16},
                                      input_size=2 * SIZE, clip_length=4, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="dis")
    backend, fields = recording_backend()

    def clip(source: np.ndarray, view: CropView):
        fields.clear()
        out = prepare_clip_input(ArrayFrames(source), 0, config, flow_backend=backend, crop=partial(resize_and_crop, position=view))
        return out, fields[0]

    plain, plain_field = clip(frames, TOP_LEFT)
    flipped, flipped_field = clip(frames, TOP_LEFT_FLIPPED)
    on_mirror, _ = clip(mirror, TOP_RIGHT)
    assert flipped.crop_map.flipped
    assert np.allclose(np.median(flipped_field[:, 0][INNER], axis=(1, 2)), -2.0, atol=0.25)
    assert np.allclose(np.median(flipped_field[:, 1][INNER], axis=(1, 2)), -1.0, atol=0.25)
    np.testing.assert_array_equal(flipped.rgb, plain.rgb[:, :, ::-1])
    np.testing.assert_array_equal(flipped.flow, on_mirror.flow)  # flow computed on the mirrored frames themselves
    # its colours are those of the unflipped field mirrored with u negated (up to DIS's own asymmetry) ...
    seen_in_mirror = plain_field[:, :, :, ::-1] * np.array([-1.0, 1.0], np.float32)[None, :, None, None]
    expected = np.asarray(backend.render(np.ascontiguousarray(seen_in_mirror), config.flow_encoding))
    inner = (slice(None), slice(10, -10), slice(10, -10))
    assert np.abs(flipped.flow[inner].astype(int) - expected[inner]).mean() < 2
    # ... and not the mirrored colour picture, whose hue still says "to the right"
    assert np.abs(flipped.flow[inner].astype(int) - plain.flow[:, :, ::-1][inner]).mean() > 20
    # windows over a video (what eval runs) give the very same clip
    shared = next(prepare_clip_inputs(ArrayFrames(frames), [0, 1], config, flow_backend=default_flow_backend(),
                                      crop_position=TOP_LEFT_FLIPPED, decode_ahead=False))
    np.testing.assert_array_equal(shared.flow, flipped.flow)
    np.testing.assert_array_equal(shared.rgb, flipped.rgb)
    assert shared.crop_map == flipped.crop_map


def test_repflow_flipped_view_is_the_mirrored_clip(moving):
    frames, mirror = moving
    config = RepFlowConfig.create(backbone="tiny", class_names=["a", "b"], variant="late", input_size=SIZE, clip_length=4,
                                  backbone_options={"width": 8}, iterations=2)
    plain = prepare_clip(ArrayFrames(frames), 0, config, TOP_LEFT)
    flipped = prepare_clip(ArrayFrames(frames), 0, config, TOP_LEFT_FLIPPED)
    assert torch.equal(flipped.rgb, plain.rgb.flip(-1)) and flipped.crop_map.flipped
    assert torch.equal(flipped.rgb, prepare_clip(ArrayFrames(mirror), 0, config, TOP_RIGHT).rgb)
