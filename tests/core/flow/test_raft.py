"""RAFT: original-release checkpoints converted by name, weights resolution and fallback,
the clip path's parts and the whole path against torchvision's forward, small inputs, and
accuracy with real weights."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from flow_helpers import FLOW_GT, RAFT_SMALL, interior_epe, sequence

from core.errors import CheckpointError, FlowError
from core.flow import compute_flow, endpoint_error
from core.flow import raft as raft_module
from core.flow.raft import RaftFlow, coords_grid, cuda_autocast, forward_splat, plan_geometry, resolve_precision
from core.flow.raft_corr import CorrPyramid
from core.flow.raft_update import FastUpdate
from core.flow.raft_weights import (
    build_raft,
    convert_original_raft,
    default_weights_file,
    identify_raft_weights,
    is_original_layout,
    load_raft_state_dict,
    to_original_layout,
)

needs_raft_small = pytest.mark.skipif(not RAFT_SMALL.exists(), reason=f"{RAFT_SMALL} is absent (the original RAFT release's raft-small.pth)")
needs_gt = pytest.mark.skipif(not (FLOW_GT / "middlebury" / "RubberWhale").is_dir(), reason=f"{FLOW_GT} is absent")


def _random_state(variant: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_raft(variant).state_dict()


def test_a_weights_file_says_which_raft_it_is_for(tmp_path: Path) -> None:
    """The viewer's Flow > Load RAFT weights: the user picks a file, its size is read from it (either layout)."""
    small, large = tmp_path / "mine.pth", tmp_path / "raft-things.pth"
    torch.save(_random_state("raft-small"), small)
    torch.save(to_original_layout(_random_state("raft-large")), large)
    assert identify_raft_weights(small) == "raft-small" and identify_raft_weights(large) == "raft-large"
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(CheckpointError, match="resnet.pth: .*not a RAFT weights file"):
        identify_raft_weights(other)
    truncated = dict(_random_state("raft-small"))
    truncated.pop("update_block.flow_head.conv2.weight")
    torch.save(truncated, tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match="cut.pth: does not fit"):
        identify_raft_weights(tmp_path / "cut.pth")
    assert default_weights_file("raft-small").name == "raft_small_C_T_V2-01064c6d.pth"


@pytest.mark.parametrize("variant", ["raft-small", "raft-large"])
def test_original_layout_converts_by_name_not_position(variant: str) -> None:
    state = _random_state(variant)
    original = to_original_layout(state)
    assert is_original_layout(original) and not is_original_layout(state)
    assert all(k.startswith("module.") for k in original)
    if variant == "raft-large":  # the original's names: separable GRU, mask head, duplicated downsample norms
        assert {"module.update_block.gru.convz1.weight", "module.update_block.gru.convq2.bias", "module.update_block.mask.0.weight",
                "module.update_block.mask.2.bias", "module.cnet.layer2.0.norm3.running_mean", "module.cnet.norm1.weight"} <= set(original)
    else:
        assert {"module.update_block.gru.convz.weight", "module.update_block.encoder.convc1.weight", "module.fnet.conv2.weight"} <= set(original)
    shuffled = list(original.items())
    random.Random(0).shuffle(shuffled)
    converted = convert_original_raft(dict(shuffled))
    assert set(converted) == set(state)
    for key, value in state.items():
        assert torch.equal(converted[key], value), key
    model = build_raft(variant)
    load_raft_state_dict(model, dict(shuffled), variant=variant, source="fake.pth")
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_bad_checkpoints_are_refused_with_the_reason() -> None:
    small = _random_state("raft-small")
    model = build_raft("raft-small")
    with pytest.raises(CheckpointError, match="holds RAFT-small weights, not RAFT-large: use --method raft-small"):
        load_raft_state_dict(build_raft("raft-large"), small, variant="raft-large", source="w.pth")
    broken = dict(small)
    broken["update_block.flow_head.conv2.weight"] = torch.zeros(2, 64, 3, 3)
    with pytest.raises(CheckpointError, match=r"flow_head\.conv2\.weight has shape \(2, 64, 3, 3\)"):
        load_raft_state_dict(model, broken, variant="raft-small", source="w.pth")
    missing = {k: v for k, v in small.items() if "flow_head" not in k}
    with pytest.raises(CheckpointError, match="missing"):
        load_raft_state_dict(model, missing, variant="raft-small", source="w.pth")
    original = to_original_layout(small)
    original["module.update_block.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="unknown key 'update_block.extra.weight'"):
        convert_original_raft(original, source="w.pth")
    large = to_original_layout(_random_state("raft-large"))
    large["module.cnet.layer2.0.norm3.weight"] = large["module.cnet.layer2.0.norm3.weight"] + 1
    with pytest.raises(CheckpointError, match="should repeat"):
        convert_original_raft(large)


@needs_raft_small
def test_release_raft_small_converts_exactly() -> None:
    from core.weights import load_state_dict_file

    release = load_state_dict_file(RAFT_SMALL)
    assert len(release) == 106 and is_original_layout(release)
    model = build_raft("raft-small")
    load_raft_state_dict(model, release, variant="raft-small", source=RAFT_SMALL)
    back = to_original_layout(model.state_dict())
    assert set(back) == set(release)
    assert all(torch.equal(back[k], release[k]) for k in release)


def test_missing_weights_fall_back_and_say_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    frames, truth = sequence("translate", frames=3, size=64)
    result = compute_flow(frames, "raft-small", fallback="farneback", backward=True)
    assert result.fell_back and result.method_requested == "raft-small" and result.method_used == "farneback"
    assert "raft_small_C_T_V2-01064c6d.pth" in result.note and str(tmp_path / "torch") in result.note
    assert "--raft-weights" in result.note and "downloads are disabled" in result.note
    assert result.weights_source is None and result.backward is not None
    assert interior_epe(result.forward, truth) < 0.15  # the fallback's flow, not random RAFT output
    with pytest.raises(CheckpointError, match="does not exist"):
        compute_flow(frames, "raft-small", raft_weights=str(tmp_path / "nope.pth"))


def test_weights_in_the_hub_cache_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "raft_small_C_T_V1-ad48884c.pth"
    cached.parent.mkdir(parents=True)
    torch.save(_random_state("raft-small"), cached)  # random values: this checks where weights come from, not flow
    frames, _ = sequence("translate", frames=2, size=128)
    result = compute_flow(frames, "raft-small", device="cpu")
    assert not result.fell_back and result.method_used == "raft-small" and result.weights_source == str(cached)
    assert result.forward.shape == (1, 2, 128, 128) and np.isfinite(result.forward).all()


def test_small_and_odd_inputs_are_resized_padded_and_scaled_back() -> None:
    geometry = plan_geometry(40, 60)
    assert (geometry.run_height, geometry.run_width) == (128, 192) and geometry.pad == (0, 0, 0, 0)
    geometry = plan_geometry(388, 584)
    assert (geometry.run_height, geometry.run_width) == (388, 584) and geometry.pad == (0, 0, 2, 2) and not geometry.resized
    geometry = plan_geometry(1080, 1920)
    assert geometry.resized and geometry.run_height * geometry.run_width <= 1024 * 576
    with pytest.raises(FlowError, match="too elongated"):
        plan_geometry(16, 9000)
    torch.manual_seed(0)
    raft = RaftFlow(build_raft("raft-small"), variant="raft-small", device=torch.device("cpu"), weights_source="random (test)")
    frames, _ = sequence("translate", frames=3, size=48)
    forward, backward, geometry = raft.clip_flow(frames[:, :40, :], backward=True)
    assert geometry.resized and forward.shape == backward.shape == (2, 2, 40, 48)
    assert np.isfinite(forward).all() and np.isfinite(backward).all()


@pytest.mark.parametrize("variant", ["raft-small", "raft-large"])
def test_fused_update_step_is_torchvision_update_block(variant: str) -> None:
    torch.manual_seed(0)
    model = build_raft(variant).eval()
    fast = FastUpdate(model.update_block)
    assert fast.context_channels == {"raft-small": 64, "raft-large": 128}[variant]
    hidden = torch.randn(2, model.update_block.hidden_state_size, 12, 17).tanh()
    context = torch.randn(2, fast.context_channels, 12, 17).relu()
    corr = torch.randn(2, model.corr_block.out_channels, 12, 17)
    flow = 3 * torch.randn(2, 2, 12, 17)
    with torch.inference_mode():
        expected_hidden, expected_delta = model.update_block(hidden, context, corr, flow)
        prepared = fast.prepare(context)
        got_hidden, got_delta = fast.step(hidden, prepared, corr, flow)
        torch.testing.assert_close(got_hidden, expected_hidden, atol=2e-5, rtol=0)
        torch.testing.assert_close(got_delta, expected_delta, atol=2e-5, rtol=0)
        # new weights loaded in place are picked up, not a stale copy
        model.update_block.recurrent_block.convgru1.convq.bias.add_(0.5)
        expected_hidden, _ = model.update_block(hidden, context, corr, flow)
        torch.testing.assert_close(fast.step(hidden, fast.prepare(context), corr, flow)[0], expected_hidden, atol=2e-5, rtol=0)
        # channels-last weights and inputs (the CPU layout): the same numbers
        channels_last = FastUpdate(copy.deepcopy(model.update_block).to(memory_format=torch.channels_last), memory_format=torch.channels_last)
        as_cl = [t.contiguous(memory_format=torch.channels_last) for t in (hidden, context, corr, flow)]
        got_hidden, got_delta = channels_last.step(as_cl[0], channels_last.prepare(as_cl[1]), as_cl[2], as_cl[3])
        torch.testing.assert_close(got_hidden, expected_hidden, atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match=r"context must be \(B, "):
        fast.prepare(context[:, :5])


@pytest.mark.parametrize(("height", "width", "radius"), [(16, 21, 3), (17, 24, 4)])
def test_correlation_pyramid_is_torchvision_corr_block(height: int, width: int, radius: int) -> None:
    from torchvision.models.optical_flow.raft import CorrBlock

    torch.manual_seed(0)
    fmap1, fmap2 = torch.randn(2, 32, height, width), torch.randn(2, 32, height, width)
    block = CorrBlock(num_levels=4, radius=radius)
    block.build_pyramid(fmap1, fmap2)
    coords = coords_grid(2, height, width, fmap1.device) + 6 * torch.randn(2, 2, height, width)
    coords[0, :, 0, 0] = torch.tensor([-40.0, 3.0])  # far outside: all zeros
    coords[0, :, 1, 1] = torch.tensor([5.0, 70.3])
    coords[1, :, 2, 2] = torch.tensor([-1.5, -0.25])  # partly outside
    coords[1, :, 3, 3] = torch.tensor([width - 1.0, height - 1.0])  # on the last pixel
    expected = block.index_pyramid(centroids_coords=coords)
    pyramid = CorrPyramid(fmap1, fmap2, levels=4, radius=radius)
    assert pyramid.channels == block.out_channels
    torch.testing.assert_close(pyramid.lookup(coords), expected, atol=2e-5, rtol=0)
    channels_last = pyramid.lookup(coords, memory_format=torch.channels_last)
    assert channels_last.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(channels_last, expected, atol=2e-5, rtol=0)
    assert float(expected[0, :, 0, 0].abs().max()) == 0.0
    stored_bf16 = CorrPyramid(fmap1, fmap2, levels=4, radius=radius, dtype=torch.bfloat16).lookup(coords)
    assert float((stored_bf16 - expected).abs().max()) < 0.02 * float(expected.abs().max())
    with pytest.raises(ValueError, match="too small for 4 levels"):
        CorrPyramid(fmap1[..., :8, :8], fmap2[..., :8, :8], levels=4, radius=radius)
    with pytest.raises(ValueError, match=r"coords must be \(2, 2, "):
        pyramid.lookup(coords[:1])


def test_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == torch.float32 and resolve_precision("bfloat16", cpu) == torch.bfloat16
    monkeypatch.setattr(raft_module, "cpu_has_native_bfloat16", lambda: True)
    assert resolve_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(raft_module, "cpu_has_native_bfloat16", lambda: False)
    assert resolve_precision("auto", cpu) == torch.float32
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", cpu)


def test_float32_asked_for_on_cuda_runs_without_autocast() -> None:
    """``bench flow``'s "clip fp32" row and the naive baseline ask for float32: on CUDA they once ran
    under float16 autocast all the same (the same cached model as the default one)."""
    cuda, cpu = torch.device("cuda"), torch.device("cpu")  # a device object needs no GPU
    assert [cuda_autocast(p, cuda) for p in ("auto", "bfloat16", "float32")] == [True, True, False]
    assert not any(cuda_autocast(p, cpu) for p in ("auto", "bfloat16", "float32"))


def test_float32_clip_path_is_torchvision_forward_pair_by_pair() -> None:
    torch.manual_seed(0)
    raft = RaftFlow(build_raft("raft-small"), variant="raft-small", device=torch.device("cpu"), weights_source="random (test)", precision="float32")
    frames, _ = sequence("rotate", frames=4, size=128)
    forward, backward, _ = raft.clip_flow(frames, updates=3, backward=True)
    np.testing.assert_allclose(forward, raft.naive_flow(frames, updates=3), atol=1e-3)
    np.testing.assert_allclose(backward, raft.naive_flow(np.ascontiguousarray(frames[::-1]), updates=3)[::-1], atol=1e-3)
    warm, _, _ = raft.clip_flow(frames, updates=3, warm_start=True)
    np.testing.assert_array_equal(warm[0], forward[0])  # the first pair has nothing to start from
    assert not np.allclose(warm[1:], forward[1:], atol=1e-3)  # later pairs did start from the previous flow


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_a_pairs_flow_does_not_depend_on_how_the_clip_is_cut(precision: str) -> None:
    """The same flow whether pairs come in one batch, in windows, or one at a time: a
    viewer scanning a video chunk by chunk and the cache see one flow per pair."""
    torch.manual_seed(0)
    raft = RaftFlow(build_raft("raft-small"), variant="raft-small", device=torch.device("cpu"), weights_source="random (test)", precision=precision)
    frames, _ = sequence("translate", frames=5, size=128, seed=1)
    whole, whole_back, _ = raft.clip_flow(frames, updates=2, backward=True)
    windowed, windowed_back, _ = raft.clip_flow(frames, updates=2, backward=True, window=3)  # pairs 0-1, then 2-3
    np.testing.assert_array_equal(windowed, whole)
    np.testing.assert_array_equal(windowed_back, whole_back)
    for i in range(len(frames) - 1):
        single, _, _ = raft.clip_flow(frames[i: i + 2], updates=2)
        np.testing.assert_array_equal(single[0], whole[i])


def test_forward_splat_pushes_values_along_the_motion() -> None:
    values = torch.zeros(1, 1, 6, 6)
    values[0, 0, 2, 2] = 5.0
    moved = forward_splat(values, torch.ones(1, 2, 6, 6))  # one cell right and down
    assert moved[0, 0, 3, 3] == 5.0
    assert moved[0, 0, 0, 0] == 0.0  # nothing lands on the top-left: the original value stays
    half = forward_splat(values, torch.full((1, 2, 6, 6), 0.5))  # bilinear: a quarter lands on each of 4 cells
    assert torch.allclose(half[0, 0, 2:4, 2:4], torch.full((2, 2), 1.25))
    assert half.sum() == pytest.approx(5.0)


@needs_raft_small
@needs_gt
@pytest.mark.parametrize("name, reference", [
    ("RubberWhale", 0.32),  # 584x388: padded top and bottom
    ("Venus", 0.38),  # 420x380: padded on all four sides, so a crop that undid the padding wrongly would show
])
def test_release_weights_match_the_reference_epe(name: str, reference: float) -> None:
    from core.flow.groundtruth import middlebury_pairs

    pair = middlebury_pairs(FLOW_GT, names=(name,))[0]
    result = compute_flow(np.stack([pair.frame0, pair.frame1]), "raft-small", device="cpu", raft_weights=str(RAFT_SMALL))
    assert result.weights_source == str(RAFT_SMALL) and not result.fell_back
    error = endpoint_error(result.forward[0], pair.flow, pair.valid)
    assert abs(error - reference) <= 0.05 * reference, error  # the reference table of ../shared/data/README.md


@needs_raft_small
def test_clip_path_matches_per_pair_raft_on_a_translating_sequence() -> None:
    from core.flow.raft import load_raft

    frames, truth = sequence("translate", frames=4, size=128, seed=3)
    raft = load_raft("raft-small", device=torch.device("cpu"), weights_path=str(RAFT_SMALL))  # default precision
    naive = raft.naive_flow(frames)
    forward, backward, _ = raft.clip_flow(frames, backward=True)
    assert float(np.abs(forward - naive).max()) < 0.1  # bfloat16 rounding at most, on a CPU that has it
    clip_error, naive_error = interior_epe(forward, truth), interior_epe(naive, truth)
    assert naive_error < 0.25 and clip_error <= 1.05 * naive_error
    assert interior_epe(backward, -truth) < 0.25
    warm, _, _ = raft.clip_flow(frames, warm_start=True)  # the option: fewer updates from the previous flow
    assert interior_epe(warm, truth) <= 1.25 * naive_error + 0.02
