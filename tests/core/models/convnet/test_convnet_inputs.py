"""Frames to ConvNet snippets: which frames, how flow fields are stacked, mean subtraction,
bi-directional stacks, and the flow engine's real displacements in crop pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from core.flow.synthetic import Motion, moving_sequence, smooth_texture
from core.inference import ArrayFrames
from core.models.convnet import ConvNetConfig
from core.models.convnet.inputs import prepare_snippets, snippet_starts, snippet_windows, stack_flow


def config(**overrides) -> ConvNetConfig:
    values = dict(backbone="tiny", class_names=["a", "b"], variant="late", input_size=32, flow_length=4, backbone_options={"width": 8})
    values.update(overrides)
    return ConvNetConfig.create(**values)


def constant_fields(values: list[tuple[float, float]], size: int = 8) -> np.ndarray:
    return np.stack([np.stack([np.full((size, size), x), np.full((size, size), y)]) for x, y in values]).astype(np.float32)


def test_stack_orders_x_then_y_of_each_field_and_subtracts_each_fields_mean():
    forward = constant_fields([(1, 2), (3, 4), (5, 6), (7, 8)])
    forward[1, 0, 0, 0] += 8.0  # one pixel moves more than the rest of field 1
    raw = stack_flow(forward, None, config(mean_subtraction=False))
    assert raw.shape == (8, 8, 8)
    assert [float(raw[c, 4, 4]) for c in range(8)] == [1, 2, 3, 4, 5, 6, 7, 8]
    centred = stack_flow(forward, None, config(mean_subtraction=True))
    assert np.allclose(centred[[0, 1, 3, 4, 5, 6, 7]], 0.0)
    assert np.isclose(centred[2, 0, 0], 8.0 - 8.0 / 64) and np.isclose(centred[2, 4, 4], -8.0 / 64)


def test_bidirectional_stack_takes_backward_flow_before_the_centre_and_forward_after():
    forward = constant_fields([(1, 0), (2, 0), (3, 0), (4, 0)])
    backward = constant_fields([(-1, 0), (-2, 0), (-3, 0), (-4, 0)])
    stack = stack_flow(forward, backward, config(bidirectional=True, mean_subtraction=False))
    assert [float(stack[c, 0, 0]) for c in (0, 2, 4, 6)] == [-1, -2, 3, 4]
    with pytest.raises(ValueError, match="needs backward flow"):
        stack_flow(forward, None, config(bidirectional=True))


def test_flow_is_clamped_to_the_bound_and_shapes_are_checked():
    stack = stack_flow(constant_fields([(50, -50)] * 4), None, config(mean_subtraction=False, flow_bound=20.0))
    assert stack.max() == 20.0 and stack.min() == -20.0
    with pytest.raises(ValueError, match=r"expected 4 forward flow fields \(L, 2, H, W\), got shape \(3, 2, 8, 8\)"):
        stack_flow(constant_fields([(0, 0)] * 3), None, config())


def test_test_snippets_are_spread_evenly_and_training_snippets_fall_in_their_segments():
    cfg = config()  # windows of 5 frames
    assert snippet_starts(100, 4, cfg) == [12, 36, 60, 84]
    rng = np.random.default_rng(0)
    for _ in range(20):
        starts = snippet_starts(100, 4, cfg, rng=rng)
        edges = np.linspace(0, 96, 5)
        assert all(edges[i] <= s < edges[i + 1] for i, s in enumerate(starts))
    short = snippet_windows(3, snippet_starts(3, 2, cfg), cfg)  # shorter than one window: padded
    assert [w.indices for w in short] == [(0, 1, 2, 2, 2)] * 2 and short[0].padded == 2


@dataclass
class _Result:
    forward: np.ndarray
    backward: np.ndarray | None
    method_used: str = "stand-in"
    fell_back: bool = False
    note: str = ""


class _KnownFlow:
    """A flow backend that returns flow (k, -k) for pair k and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def compute(self, frames, method, **kwargs):
        self.calls.append({"frames": frames.copy(), "method": method, **kwargs})
        n, h, w, _ = frames.shape
        forward = np.stack([np.stack([np.full((h, w), k + 1.0), np.full((h, w), -(k + 1.0))]) for k in range(n - 1)]).astype(np.float32)
        return _Result(forward, -forward if kwargs.get("backward") else None)


def test_prepared_snippets_hold_the_centre_frame_and_the_stacked_flow_of_their_window():
    frames = np.stack([np.full((48, 64, 3), 5 * i, np.uint8) for i in range(30)])
    cfg = config(mean_subtraction=False, bidirectional=True)
    backend = _KnownFlow()
    prepared = prepare_snippets(ArrayFrames(frames), [3, 20], cfg, flow_backend=backend)
    assert [w.indices for w in prepared.windows] == [(3, 4, 5, 6, 7), (20, 21, 22, 23, 24)]
    assert prepared.centre_frames == [5, 22]
    assert prepared.rgb.shape == (2, 3, 32, 32) and prepared.flow.shape == (2, 8, 32, 32)
    expected_rgb = (torch.tensor(25 / 255.0) - torch.tensor(cfg.mean)) / torch.tensor(cfg.std)
    assert torch.allclose(prepared.rgb[0, :, 10, 10], expected_rgb)
    # bi-directional: fields 0, 1 backward (-(k+1), k+1), fields 2, 3 forward (k+1, -(k+1))
    assert [float(prepared.flow[0, c, 0, 0]) for c in range(8)] == [-1, 1, -2, 2, 3, -3, 4, -4]
    assert len(backend.calls) == 2 and backend.calls[0]["backward"] is True and backend.calls[0]["method"] == "dis"
    assert backend.calls[0]["frames"].shape == (5, 32, 32, 3)  # flow runs on the cropped frames
    assert prepared.crop_map.src_height == 48 and prepared.crop_map.size == 32
    assert set(prepared.inputs()) == {"rgb", "flow"}
    assert {"decode", "preprocess", "flow"} <= set(prepared.timings_ms)


def test_rgb_only_snippets_read_only_their_centre_frames():
    read: list[list[int]] = []

    class Source(ArrayFrames):
        def read_clip(self, indices):
            read.append(list(indices))
            return super().read_clip(indices)

    frames = np.zeros((40, 32, 32, 3), np.uint8)
    prepared = prepare_snippets(Source(frames), [0, 30], config(variant="rgb"))
    assert read == [[2], [32]] and prepared.flow is None and prepared.flow_method is None


def test_real_flow_of_a_translating_texture_is_in_crop_pixels():
    frames, truth = moving_sequence(smooth_texture(128, 128, seed=1), Motion(dx=2.0, dy=-1.0), 6, size=(64, 64))
    cfg = config(input_size=64, mean_subtraction=False, flow_method="dis")
    prepared = prepare_snippets(ArrayFrames(frames), [0], cfg)
    stack = prepared.flow[0].numpy()
    inner = stack[:, 12:-12, 12:-12]
    assert np.allclose(np.median(inner[0::2], axis=(1, 2)), 2.0, atol=0.25)
    assert np.allclose(np.median(inner[1::2], axis=(1, 2)), -1.0, atol=0.25)
    assert prepared.flow_method == "dis" and not prepared.flow_fell_back
    # the same clip at half the crop size gives half the displacement (pixels of the model input)
    half = prepare_snippets(ArrayFrames(frames), [0], config(input_size=32, mean_subtraction=False, flow_method="dis")).flow[0].numpy()
    assert np.allclose(np.median(half[0::2, 6:-6, 6:-6], axis=(1, 2)), 1.0, atol=0.25)
