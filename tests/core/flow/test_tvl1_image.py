"""The image TV-L1: its in-place step is the differentiable step, and it matches OpenCV's accuracy on real pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor
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


def _pairs_of_mixed_difficulty() -> tuple[Tensor, Tensor]:
    """Three (1, 48, 64) pairs: still (settles at the first check), a large textured motion, a small one."""
    from core.flow.synthetic import smooth_texture

    texture = torch.from_numpy(to_gray(smooth_texture(80, 100, seed=7)[None])).float()  # (1, 80, 100)

    def crop(dy: int, dx: int) -> Tensor:
        return texture[:, 10 + dy: 58 + dy, 12 + dx: 76 + dx]

    first = torch.stack((crop(0, 0), crop(0, 0), crop(0, 0)))
    second = torch.stack((crop(0, 0), crop(-5, 9), crop(1, 0)))
    return first, second


def test_a_pairs_flow_does_not_depend_on_the_pairs_beside_it() -> None:
    """Each pair stops on its own test: its flow in a batch of easy and hard pairs is its flow alone, to the bit."""
    first, second = _pairs_of_mixed_difficulty()
    batched = tvl1_flow(first, second)
    for k in range(first.shape[0]):
        alone = tvl1_flow(first[k: k + 1], second[k: k + 1])
        assert torch.equal(batched[k: k + 1], alone), f"pair {k}: max difference {float((batched[k] - alone[0]).abs().max())}"
    reordered = tvl1_flow(first.flip(0), second.flip(0))  # and its place in the batch does not matter either
    assert torch.equal(reordered.flip(0), batched)
    inner = batched[1, :, 12:-12, 16:-16]
    assert abs(float(inner[0].mean()) + 9.0) < 0.1 and abs(float(inner[1].mean()) - 5.0) < 0.1  # the large motion is found
    assert float(batched[0].abs().max()) < 0.05  # the still pair stays still


def test_clip_flow_does_not_depend_on_the_batch_size() -> None:
    """Any ``batch_pixels`` gives the same flows: still, large and small motions in one clip."""
    from core.flow.synthetic import smooth_texture
    from core.flow.tvl1_image import tvl1_clip_flow

    texture = smooth_texture(80, 110, seed=5)
    offsets = [0, 0, 8, 8, 9, 9, 2]  # still pairs beside jumps of 8 and 7 px and a 1 px step
    frames = np.stack([texture[10:58, 20 + x: 84 + x] for x in offsets])
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: batch_pixels alone decides the batches
    try:
        flows = [tvl1_clip_flow(frames, device=torch.device("cpu"), batch_pixels=pixels, backward=True)
                 for pixels in (1, 3 * 48 * 64, 100 * 48 * 64)]
    finally:
        torch.set_num_threads(before)
    for forward, backward in flows[1:]:
        np.testing.assert_array_equal(forward, flows[0][0])
        np.testing.assert_array_equal(backward, flows[0][1])
