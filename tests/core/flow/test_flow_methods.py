"""Every classical method recovers known motion; the engine validates and reports; TV-L1's core is differentiable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flow_helpers import MOTIONS, interior_epe, sequence

from core.errors import Cancelled, FlowError
from core.flow import METHODS, compute_flow
from core.flow.engine import normalize_method
from core.flow.tvl1 import TVL1Iteration, divergence, forward_gradient, tvl1_refine
from core.progress import CancelToken


@pytest.mark.parametrize("method", ["dis", "farneback", "tvl1"])
@pytest.mark.parametrize("kind", list(MOTIONS))
def test_classical_methods_recover_known_motion(method: str, kind: str) -> None:
    frames, truth = sequence(kind, frames=3, size=96)
    result = compute_flow(frames, method, device="cpu", backward=(kind == "translate"))
    assert result.forward.shape == (2, 2, 96, 96) and result.forward.dtype == np.float32
    assert result.method_used == result.method_requested == method and not result.fell_back
    assert result.device == "cpu"
    zero = interior_epe(np.zeros_like(truth), truth)
    assert interior_epe(result.forward, truth) < 0.15 < zero / 4
    if kind == "translate":
        assert result.backward is not None and result.backward.shape == result.forward.shape
        assert interior_epe(result.backward, -truth) < 0.15  # frame t+1 back to t
    else:
        assert result.backward is None


def test_engine_rejects_bad_input_with_flow_errors() -> None:
    frames, _ = sequence("translate", frames=2, size=32)
    with pytest.raises(FlowError, match="unknown flow method 'lucas'"):
        compute_flow(frames, "lucas")
    with pytest.raises(FlowError, match="uint8"):
        compute_flow(frames.astype(np.float32), "dis")
    with pytest.raises(FlowError, match="at least 2 frames"):
        compute_flow(frames[:1], "dis")
    with pytest.raises(FlowError, match=r"\(N, H, W, 3\)"):
        compute_flow(frames[..., 0], "dis")
    with pytest.raises(FlowError, match="too small"):
        compute_flow(frames[:, :8, :8], "dis")
    with pytest.raises(FlowError, match="fallback"):
        compute_flow(frames, "raft-small", fallback="raft-large")
    assert normalize_method("RAFT_small") == "raft-small" and normalize_method("TV-L1") == "tvl1"
    assert METHODS == ("raft-large", "raft-small", "tvl1", "dis", "farneback")


@pytest.mark.parametrize("method", ["dis", "tvl1"])
def test_progress_per_pair_and_cancellation(method: str) -> None:
    frames, _ = sequence("translate", frames=4, size=48)
    calls: list[tuple[int, int]] = []
    compute_flow(frames, method, device="cpu", backward=True, progress=lambda done, total, msg="": calls.append((done, total)))
    assert calls[-1] == (6, 6) and all(total == 6 for _, total in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_flow(frames, method, device="cpu", cancel=token)
    # cancelled part-way: the token fires from the progress callback after the first pair (or batch)
    long_clip, _ = sequence("translate", frames=12, size=160)
    token = CancelToken()
    reports: list[int] = []

    def cancel_after_first(done: int, total: int, msg: str = "") -> None:
        reports.append(done)
        token.cancel()

    with pytest.raises(Cancelled):
        compute_flow(long_clip, method, device="cpu", progress=cancel_after_first, cancel=token)
    assert len(reports) == 1 and reports[0] < 11


def test_tvl1_gradient_operators_are_adjoint() -> None:
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 3, 9, 7, generator=gen)
    px, py = torch.randn(2, 3, 9, 7, generator=gen), torch.randn(2, 3, 9, 7, generator=gen)
    px[..., :, -1] = 0  # the dual variable lives where the forward gradient does
    py[..., -1, :] = 0
    ux, uy = forward_gradient(u)
    lhs = (ux * px + uy * py).sum()
    rhs = -(u * divergence(px, py)).sum()
    assert torch.allclose(lhs, rhs, atol=1e-4)


def test_tvl1_iteration_recovers_subpixel_shift_and_is_learnable() -> None:
    frames, truth = sequence("translate", frames=2, size=48)
    gray = torch.from_numpy(frames.mean(axis=3, dtype=np.float32)).unsqueeze(1)  # (2, 1, H, W)
    i0, i1 = gray[:1] / 4, gray[1:] / 4  # a 0.4 px / 0.225 px shift at quarter scale is within one linearisation
    small = torch.nn.functional.avg_pool2d(torch.cat([i0, i1]), 4)
    flow = tvl1_refine(small[:1], small[1:], iterations=60, lambda_=0.5)
    assert flow.shape == (1, 2, 1, 12, 12)
    centre = flow[0, :, 0, 3:-3, 3:-3].mean(dim=(1, 2))
    assert torch.allclose(centre, torch.tensor([1.6 / 4, -0.9 / 4]), atol=0.12)

    torch.manual_seed(0)
    layer = TVL1Iteration(iterations=5, learnable=True)
    assert {n for n, _ in layer.named_parameters()} == {"tau", "lambda_", "theta"}
    features = torch.randn(2, 4, 16, 16, requires_grad=True)  # (B, C, H, W): one flow per channel
    out = layer(features, torch.roll(features, 1, dims=3))
    assert out.shape == (2, 2, 4, 16, 16) and torch.isfinite(out).all()
    out.abs().mean().backward()
    for param in layer.parameters():
        assert param.grad is not None and torch.isfinite(param.grad) and param.grad.abs() > 0
    assert features.grad is not None and torch.isfinite(features.grad).all()
    flat = torch.zeros(1, 2, 8, 8, requires_grad=True)  # flat input (e.g. ReLU zeros): gradients stay finite
    layer(flat, flat).sum().backward()
    assert all(torch.isfinite(p.grad) for p in layer.parameters()) and torch.isfinite(flat.grad).all()
    fixed = TVL1Iteration(iterations=2)
    assert not list(fixed.parameters()) and {n for n, _ in fixed.named_buffers()} == {"tau", "lambda_", "theta"}
