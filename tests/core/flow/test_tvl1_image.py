"""The image TV-L1: its in-place step is the differentiable step, and it matches OpenCV's accuracy on real pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paths import SHARED

from core.flow.classical import to_gray
from core.flow.quality import endpoint_error
from core.flow.tvl1 import central_gradient, linearise, tvl1_iterations
from core.flow.tvl1_image import TVL1Settings, _DualState, _linearise, tvl1_flow

# OpenCV contrib 5.1.0.95's DualTVL1 at its defaults on these pairs (bench flow measures it when installed)
OPENCV_EPE = {"Dimetrodon": 0.1814, "RubberWhale": 0.1568}


def test_in_place_step_is_the_differentiable_step() -> None:
    """Seven in-place steps from a random flow give tvl1_iterations' flow (the rewrite changed no arithmetic)."""
    generator = torch.Generator().manual_seed(0)
    i0 = torch.rand(2, 1, 20, 27, generator=generator) * 255
    i1 = torch.roll(i0, 1, -1) + torch.rand(2, 1, 20, 27, generator=generator)
    u0 = torch.rand(2, 2, 20, 27, generator=generator)
    settings = TVL1Settings(interpolation="bilinear", ignore_outside=False)
    expected, _, _ = tvl1_iterations(linearise(i0, i1, u0.unsqueeze(2)), u0.unsqueeze(2), tau=settings.tau, lambda_=settings.lambda_, theta=settings.theta, iterations=7)
    gx, gy = central_gradient(i1)
    data = _linearise(i0, torch.cat((i1, gx, gy), dim=1), u0, "bilinear", False)
    u = u0.clone()
    state = _DualState(u, settings)
    for _ in range(7):
        state.iterate(data)
    assert torch.allclose(u, expected[:, :, 0], atol=1e-4)
    assert (u - u0).abs().max() > 0.1  # the steps did move the flow


def test_flow_leaving_the_frame_has_no_data_term() -> None:
    i0 = torch.rand(1, 1, 12, 12) * 255
    u = torch.zeros(1, 2, 12, 12)
    u[:, 0, :, -3:] = 5.0  # the last three columns look beyond the right edge
    gx, gy = central_gradient(i0)
    data = _linearise(i0, torch.cat((i0, gx, gy), dim=1), u, "bicubic", True)
    assert data.grad[..., -3:].abs().max() == 0 and data.neg_inv[..., -3:].abs().max() == 0
    assert data.grad[..., :-3].abs().max() > 0


def test_batched_pairs_each_find_their_own_shift() -> None:
    """Two pairs in one batch, shifted by different amounts, each recover their shift."""
    generator = torch.Generator().manual_seed(1)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 76, 76, generator=generator) * 255, 5, 1)
    first = base[..., 4:68, 4:68]
    second = torch.cat((base[..., 4:68, 5:69], base[..., 6:70, 4:68]))  # content moves 1 px left, then 2 px up
    flow = tvl1_flow(torch.cat((first, first)), second)
    inner = flow[..., 8:-8, 8:-8]
    assert abs(float(inner[0, 0].mean()) + 1.0) < 0.05 and abs(float(inner[0, 1].mean())) < 0.05
    assert abs(float(inner[1, 1].mean()) + 2.0) < 0.05 and abs(float(inner[1, 0].mean())) < 0.05


@pytest.mark.skipif(not (SHARED / "data" / "flow_gt" / "middlebury").is_dir(), reason="../shared/data/flow_gt is not there")
@pytest.mark.parametrize("name", sorted(OPENCV_EPE))
def test_middlebury_error_at_most_opencv(name: str) -> None:
    from core.flow.groundtruth import middlebury_pairs

    pair = middlebury_pairs(names=(name,))[0]
    gray = torch.from_numpy(to_gray(np.stack([pair.frame0, pair.frame1]))).float().unsqueeze(1)
    flow = tvl1_flow(gray[:1], gray[1:])[0].numpy()
    assert endpoint_error(flow, pair.flow, pair.valid) <= OPENCV_EPE[name]


def _moving_frames(count: int = 5) -> np.ndarray:
    from core.flow.synthetic import smooth_texture

    texture = smooth_texture(60, 80, seed=4)
    return np.stack([texture[4:52, 2 + i: 66 + i] for i in range(count)])


def test_cpu_batches_side_by_side_match_one_thread_and_restore_torch_threads() -> None:
    """Batches spread over single-threaded workers give exactly the flows of one thread doing them in turn."""
    from core.flow.tvl1_image import tvl1_clip_flow

    frames = _moving_frames()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone, _ = tvl1_clip_flow(frames, device=torch.device("cpu"), batch_pixels=1)
        torch.set_num_threads(2)
        seen: list[tuple[int, int]] = []
        side_by_side, back = tvl1_clip_flow(frames, device=torch.device("cpu"), batch_pixels=1, backward=True, progress=lambda d, t: seen.append((d, t)))
        assert torch.get_num_threads() == 2  # the caller's setting is back
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(alone, side_by_side)
    assert back is not None and abs(float(back[:, 0, 8:-8, 8:-8].mean()) - 1.0) < 0.05  # frame t+1 to t: 1 px right
    assert abs(float(alone[:, 0, 8:-8, 8:-8].mean()) + 1.0) < 0.05  # the view slides right: content 1 px left
    assert [d for d, _ in seen] == list(range(1, 9)) and {t for _, t in seen} == {8}


def test_cancel_inside_a_worker_reaches_the_caller() -> None:
    from core.errors import Cancelled
    from core.flow.tvl1_image import tvl1_clip_flow

    calls = []

    def cancel_after_a_few() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise Cancelled("stop")

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(Cancelled):
            tvl1_clip_flow(_moving_frames(9), device=torch.device("cpu"), batch_pixels=1, cancel_check=cancel_after_a_few)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
