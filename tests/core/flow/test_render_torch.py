"""The torch renderer draws exactly the images of the numpy/CPU renderer, a whole clip at a time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from core.errors import FlowError
from core.flow.render import FlowEncoding, render_flow
from core.flow import render_torch
from core.flow.render_torch import flow_to_rgb_tensor, middlebury_colours, radius_tensor, render_flow_tensor

ENCODINGS = [FlowEncoding(n, r, w) for n, r, w in itertools.product(("fixed", "clip", "max"), (0.5, 10.0, 10.1), ("middlebury", "legacy"))]


def _fields(seed: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Small, ordinary and large motions, zero flow, non-finite vectors and values at the wheel's seams."""
    rng = np.random.default_rng(seed)
    fields = {f"normal {s}": rng.normal(0, s, shape).astype(np.float32) for s in (0.01, 1.0, 8.0, 300.0, 1e6)}
    fields["zero"] = np.zeros(shape, np.float32)
    broken = rng.normal(0, 5.0, shape).astype(np.float32)
    flat = broken.reshape(-1)
    flat[::37], flat[5::41], flat[11::43] = np.nan, np.inf, -np.inf
    fields["non-finite"] = broken
    axes = np.zeros(shape, np.float32)  # pure horizontal/vertical motions (atan2 at +-pi, +-pi/2) and -0.0
    axes[:, 0] = rng.choice([-3.0, -0.0, 0.0, 3.0, 10.0], size=axes[:, 0].shape)
    vertical, flat = rng.choice([-3.0, 3.0, -0.0], size=axes[:, 1].shape), rng.choice([0.0, -0.0], size=axes[:, 1].shape)
    axes[:, 1] = np.where(axes[:, 0] == 0, vertical, flat)
    fields["axes"] = axes
    fields["huge"] = rng.choice([-3e38, 3e38, 1e20, 1.0], size=shape).astype(np.float32)  # squares overflow to inf
    return fields


@pytest.mark.parametrize("shape", [(5, 2, 32, 32), (3, 2, 17, 23), (2, 2, 131, 67)])
@pytest.mark.parametrize("encoding", ENCODINGS, ids=lambda e: f"{e.normalization}-{e.max_radius}-{e.wheel}")
def test_torch_images_and_radius_equal_the_cpu_renderer_bit_for_bit(shape: tuple[int, ...], encoding: FlowEncoding) -> None:
    for name, field in _fields(sum(shape), shape).items():
        with np.errstate(over="ignore"):  # the huge field's squares overflow, on purpose
            expected, radius = render_flow(field, encoding)
        images, used = render_flow_tensor(torch.from_numpy(field), encoding)
        assert images.dtype == torch.uint8 and tuple(images.shape) == (shape[0], *shape[2:], 3)
        np.testing.assert_array_equal(images.numpy(), expected, err_msg=name)
        assert float(used) == radius, name


@pytest.mark.parametrize("shape", [(6, 2, 24, 40), (3, 2, 17, 23), (2, 2, 131, 67)])
@pytest.mark.parametrize("normalization", ["fixed", "clip", "max"])
def test_the_whole_clip_in_one_call_as_on_a_gpu_draws_the_same_images_but_for_a_last_bit_angle(shape: tuple[int, ...], normalization: str) -> None:
    """On a GPU the Middlebury kernel takes the clip at once; on a CPU it is given pairs.  The whole clip on a
    CPU cuts the pixels into torch's vector lanes elsewhere, and torch's vector and scalar ``atan2`` differ in
    the last bit: a rare pixel may move by one grey level (torch 2.14.1: one channel of 3,519 did), never more."""
    encoding = FlowEncoding(normalization, 4.0)
    for name, field in _fields(3, shape).items():
        with np.errstate(over="ignore"):
            expected, _ = render_flow(field, encoding)
        flow = torch.from_numpy(field)
        whole = middlebury_colours(flow, radius_tensor(flow, encoding).float(), saturate=normalization != "max")
        difference = np.abs(whole.permute(0, 2, 3, 1).numpy().astype(np.int16) - expected.astype(np.int16))
        assert int(difference.max()) <= 1, name
        assert np.count_nonzero(difference) <= max(1, difference.size // 1000), name  # rare: at most one channel in a thousand


@pytest.mark.parametrize("wheel", ["middlebury", "legacy"])
@pytest.mark.parametrize("normalization", ["fixed", "clip"])
def test_a_root_or_angle_off_by_one_bit_moves_a_channel_by_one_grey_level_at_most(monkeypatch: pytest.MonkeyPatch, wheel: str,
                                                                                normalization: str) -> None:
    """The bound across devices: a GPU's ``sqrt`` and ``atan2`` may round differently in the last bit; nothing else may."""
    field = torch.from_numpy(_fields(2, (4, 2, 48, 48))["normal 8.0"])
    encoding = FlowEncoding(normalization, 6.0, wheel)
    exact = flow_to_rgb_tensor(field, encoding).to(torch.int16)
    owner, names = (torch, ("sqrt", "atan2")) if wheel == "middlebury" else (render_torch, ("_sqrt64", "_atan2_64"))
    for name, towards in itertools.product(names, (float("inf"), float("-inf"))):
        real = getattr(owner, name)

        calls: list[int] = []

        def nudged(*args: torch.Tensor, real=real, towards=towards) -> torch.Tensor:  # noqa: ANN001 - bound defaults
            value = real(*args)
            calls.append(value.numel())
            return torch.nextafter(value, torch.full_like(value, towards))

        monkeypatch.setattr(owner, name, nudged)
        moved = flow_to_rgb_tensor(field, encoding).to(torch.int16)
        monkeypatch.setattr(owner, name, real)
        assert sum(calls) >= field[:, 0].numel(), name  # every pixel's root or angle was nudged
        assert int((moved - exact).abs().max()) <= 1, name


def test_shapes_are_checked() -> None:
    with pytest.raises(FlowError, match=r"\(N, 2, H, W\) tensor, got Tensor \(2, 8, 8\)"):
        flow_to_rgb_tensor(torch.zeros(2, 8, 8))
    with pytest.raises(FlowError, match="got ndarray"):
        flow_to_rgb_tensor(np.zeros((1, 2, 8, 8), np.float32))  # type: ignore[arg-type]
