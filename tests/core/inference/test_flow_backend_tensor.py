"""The default flow backend's tensor path gives its array path's flow and images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.inference import FlowBackend, default_flow_backend


@pytest.mark.parametrize("encoding", [{"normalization": "fixed", "max_radius": 2.0, "wheel": "middlebury"},
                                      {"normalization": "clip", "max_radius": 1.0}])  # no wheel recorded: legacy
def test_tensor_path_equals_array_path(encoding: dict) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, i, axis=1) for i in range(4)])
    backend = default_flow_backend()
    assert backend.has_device_path
    arrays = backend.compute(frames, "farneback", device="cpu")
    tensors = backend.compute_tensor(torch.from_numpy(frames), "farneback", device="cpu")
    np.testing.assert_array_equal(tensors.forward.numpy(), arrays.forward)
    np.testing.assert_array_equal(backend.render_tensor(tensors.forward, encoding).numpy(), backend.render(arrays.forward, encoding))


def test_a_backend_without_a_tensor_path_is_used_as_before() -> None:
    full = default_flow_backend()
    assert not FlowBackend(full.compute, full.render).has_device_path
    assert not FlowBackend(full.compute, full.render, compute_tensor=full.compute_tensor).has_device_path
