"""The flow engine's tensor path: the same flow as the array path, left where it was computed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flow_helpers import sequence

from core.errors import FlowError
from core.flow import compute_flow
from core.flow import raft as raft_module
from core.flow.engine import compute_flow_tensor
from core.flow.raft import RaftFlow
from core.flow.raft_weights import build_raft


def _raft() -> RaftFlow:
    torch.manual_seed(0)
    model = build_raft("raft-small")
    return RaftFlow(model, variant="raft-small", device=torch.device("cpu"), weights_source="random (test)", precision="float32")


def test_raft_kept_on_device_is_the_host_flow_exactly() -> None:
    raft = _raft()
    frames, _ = sequence("rotate", frames=4, size=128)
    forward, backward, _ = raft.clip_flow(frames, updates=2, backward=True)
    kept, kept_back, _ = raft.clip_flow(torch.from_numpy(frames), updates=2, backward=True, keep_on_device=True)
    assert isinstance(kept, torch.Tensor) and kept.dtype == torch.float32 and kept.device == raft.device
    np.testing.assert_array_equal(kept.numpy(), forward)
    np.testing.assert_array_equal(kept_back.numpy(), backward)
    windowed, _, _ = raft.clip_flow(frames, updates=2, window=3, keep_on_device=True)  # windows gather into one tensor too
    np.testing.assert_array_equal(windowed.numpy(), forward)


def test_compute_flow_tensor_runs_raft_on_the_uploaded_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    raft = _raft()
    monkeypatch.setattr(raft_module, "load_raft", lambda *args, **kwargs: raft)
    frames, _ = sequence("translate", frames=3, size=128, seed=1)
    expected = compute_flow(frames, "raft-small", device="cpu", raft_iters=2)
    result = compute_flow_tensor(torch.from_numpy(frames), "raft-small", device="cpu", raft_iters=2)
    assert isinstance(result.forward, torch.Tensor) and result.backward is None and not result.fell_back
    np.testing.assert_array_equal(result.forward.numpy(), expected.forward)
    assert (result.method_used, result.weights_source, result.pairs) == ("raft-small", "random (test)", 2)


@pytest.mark.parametrize("method", ["dis", "raft-large"])  # RAFT without weights (tests are offline) falls back to DIS on the host
def test_host_methods_and_the_fallback_come_back_as_tensors_with_the_same_flow(method: str) -> None:
    frames, _ = sequence("translate", frames=3, size=64)
    expected = compute_flow(frames, method, device="cpu", backward=True)
    result = compute_flow_tensor(torch.from_numpy(frames), method, device="cpu", backward=True)
    assert (result.method_used, result.fell_back, result.note) == (expected.method_used, expected.fell_back, expected.note)
    assert result.fell_back == (method != "dis")
    np.testing.assert_array_equal(result.forward.numpy(), expected.forward)
    np.testing.assert_array_equal(result.backward.numpy(), expected.backward)


def test_tensor_frames_are_checked_as_arrays_are() -> None:
    with pytest.raises(FlowError, match="must be a torch tensor"):
        compute_flow_tensor(np.zeros((2, 32, 32, 3), np.uint8), "dis")
    with pytest.raises(FlowError, match="must be uint8 RGB, got dtype torch.float32"):
        compute_flow_tensor(torch.zeros(2, 32, 32, 3), "dis")
    with pytest.raises(FlowError, match=r"shape \(N, H, W, 3\), got \(2, 32, 32\)"):
        compute_flow_tensor(torch.zeros(2, 32, 32, dtype=torch.uint8), "dis")
    with pytest.raises(FlowError, match="too small"):
        compute_flow_tensor(torch.zeros(2, 8, 32, 3, dtype=torch.uint8), "dis")
