"""Flow of several clips in one call (training's extraction): RAFT's batched path against each clip alone,
the engine's entry with its fallback and classical loop, and the checks at its boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flow_helpers import sequence

from core.errors import Cancelled, FlowError
from core.flow import compute_flow
from core.flow import raft as raft_module
from core.flow.engine import compute_flow_clips, compute_flow_clips_tensor, compute_flow_tensor
from core.flow.raft import BATCHED_PAIRS_PER_STEP, RaftFlow, plan_geometry
from core.flow.raft_weights import build_raft
from core.progress import CancelToken


def _raft(precision: str = "float32") -> RaftFlow:
    torch.manual_seed(0)
    return RaftFlow(build_raft("raft-small"), variant="raft-small", device=torch.device("cpu"), weights_source="random (test)",
                    precision=precision)


def _clips(size: int = 96) -> list[np.ndarray]:
    """Three clips of different lengths, one frame size (96 px: RAFT resizes them to 128 and back)."""
    return [sequence(kind, frames=n, size=size, seed=n)[0] for kind, n in (("translate", 2), ("rotate", 4), ("zoom", 6))]


@pytest.mark.parametrize("precision", ["float32", "auto"])
@pytest.mark.parametrize("window", [33, 3])  # 3: the longer clips cut into windows of 2 pairs
def test_batched_clips_are_each_clip_alone_exactly_on_a_cpu(precision: str, window: int) -> None:
    raft = _raft(precision)
    clips = _clips()
    seen: list[tuple[int, int]] = []
    flows, geometry = raft.clips_flow(clips, updates=2, window=window, progress=lambda done, total: seen.append((done, total)))
    assert geometry.resized and [f.shape for f in flows] == [(n - 1, 2, 96, 96) for n in (2, 4, 6)]
    for clip, flow in zip(clips, flows):
        alone, _, _ = raft.clip_flow(clip, updates=2)
        assert flow.dtype == np.float32 and np.array_equal(flow, alone)
    assert seen[-1] == (9, 9) and len(seen) == 9  # every pair of every clip, once


def test_batched_clips_kept_on_the_device_are_the_host_flow() -> None:
    raft = _raft()
    clips = _clips()[:2]
    host, _ = raft.clips_flow(clips, updates=2)
    kept, _ = raft.clips_flow([torch.from_numpy(c) for c in clips], updates=2, keep_on_device=True)
    for a, b in zip(host, kept):
        assert isinstance(b, torch.Tensor) and np.array_equal(b.numpy(), a)


def test_batched_clips_check_their_shapes_and_are_cancelled_between_steps() -> None:
    raft = _raft()
    clips = _clips()
    with pytest.raises(ValueError, match="at least one clip"):
        raft.clips_flow([])
    with pytest.raises(ValueError, match="one frame size: 96x96 and 64x64"):
        raft.clips_flow([clips[0], sequence("translate", frames=2, size=64)[0]])
    with pytest.raises(ValueError, match=r"N >= 2, got \(1, 96, 96, 3\)"):
        raft.clips_flow([clips[1], clips[0][:1]])

    def stop() -> None:
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        raft.clips_flow(clips, updates=2, cancel_check=stop)


def test_a_gpu_step_group_takes_several_clips_within_the_memory_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    raft = _raft()
    monkeypatch.setattr(raft, "device", torch.device("cuda"))  # the rule only: nothing runs
    assert raft._pairs_per_step(plan_geometry(224, 224)) == 16  # one clip's group, as before
    assert raft._pairs_per_step(plan_geometry(224, 224), BATCHED_PAIRS_PER_STEP) == BATCHED_PAIRS_PER_STEP == 64
    assert raft._pairs_per_step(plan_geometry(576, 1024), BATCHED_PAIRS_PER_STEP) == 18  # 4 GiB of correlation volumes


def test_the_engine_entry_gives_compute_flow_s_result_for_each_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    raft = _raft()
    monkeypatch.setattr(raft_module, "load_raft", lambda *args, **kwargs: raft)
    clips = _clips()
    seen: list[tuple[int, int, str]] = []
    results = compute_flow_clips(clips, "RAFT_small", device="cpu", raft_iters=2, progress=lambda d, t, m="": seen.append((d, t, m)))
    assert seen[-1] == (9, 9, "flow 9/9")
    for clip, result in zip(clips, results):
        alone = compute_flow(clip, "raft-small", device="cpu", raft_iters=2)
        assert np.array_equal(result.forward, alone.forward) and result.backward is None
        assert (result.method_requested, result.method_used, result.fell_back, result.note, result.weights_source, result.device) == \
               (alone.method_requested, alone.method_used, alone.fell_back, alone.note, alone.weights_source, alone.device)
        assert "RAFT ran at 128x128" in result.note


@pytest.mark.parametrize("method", ["dis", "raft-large"])  # RAFT without weights (tests are offline) falls back clip by clip
def test_classical_methods_and_the_fallback_run_clip_by_clip(method: str) -> None:
    clips = [sequence("translate", frames=n, size=64, seed=n)[0] for n in (2, 3)]
    results = compute_flow_clips(clips, method, device="cpu")
    for clip, result in zip(clips, results):
        alone = compute_flow(clip, method, device="cpu")
        assert np.array_equal(result.forward, alone.forward)
        assert (result.method_requested, result.method_used, result.fell_back, result.note) == \
               (alone.method_requested, alone.method_used, alone.fell_back, alone.note)
    assert results[0].fell_back == (method != "dis")


def test_the_engine_entry_checks_its_clips_and_cancel() -> None:
    clip = sequence("translate", frames=2, size=64)[0]
    with pytest.raises(FlowError, match="a list of"):
        compute_flow_clips(clip, "dis")
    with pytest.raises(FlowError, match="at least one clip"):
        compute_flow_clips([], "dis")
    with pytest.raises(FlowError, match="uint8"):
        compute_flow_clips([clip, clip.astype(np.float32)], "dis")
    with pytest.raises(FlowError, match="one frame size, got 32x32, 64x64"):
        compute_flow_clips([clip, clip[:, :32, :32]], "dis")
    with pytest.raises(FlowError, match="unknown flow method"):
        compute_flow_clips([clip], "optical")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        compute_flow_clips([clip], "dis", cancel=cancel)


@pytest.mark.parametrize("method", ["RAFT_small", "dis", "raft-large"])  # raft-large: no weights offline, the fallback
def test_the_tensor_entry_gives_each_clips_own_device_flow(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Sliding windows on a GPU hand their uploaded clips over together: each flow must be what the clip's
    own tensor call gives (on a CPU exactly), as a tensor where the frames were."""
    raft = _raft()
    real_load = raft_module.load_raft
    monkeypatch.setattr(raft_module, "load_raft", lambda variant, **kwargs: raft if variant == "raft-small" else real_load(variant, **kwargs))
    clips = [torch.from_numpy(clip) for clip in _clips()]
    results = compute_flow_clips_tensor(clips, method, device="cpu", raft_iters=2)
    for clip, result in zip(clips, results):
        alone = compute_flow_tensor(clip, method, device="cpu", raft_iters=2)
        assert isinstance(result.forward, torch.Tensor) and result.forward.device == clip.device
        assert torch.equal(result.forward, alone.forward)
        assert (result.method_used, result.fell_back, result.note) == (alone.method_used, alone.fell_back, alone.note)
    with pytest.raises(FlowError, match="torch tensors, got ndarray"):
        compute_flow_clips_tensor([clips[0], clips[1].numpy()], "dis")
    with pytest.raises(FlowError, match="non-empty list"):
        compute_flow_clips_tensor(clips[0], "dis")


def test_a_gpu_s_step_groups_and_encoder_batches_give_each_clip_s_own_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU's branch run on a CPU: pairs of several clips updated side by side (a step group of up to
    64) and frames encoded 8 at a time give each pair the flow it gets alone, so a batch's rows are read
    back into the right clip and pair (to float tolerance: batched kernels may sum in another order)."""
    raft = _raft()
    clips = _clips()
    alone = [raft.clip_flow(clip, updates=2)[0] for clip in clips]
    monkeypatch.setattr(raft, "_pairs_per_step", lambda geometry, cap=raft_module.PAIRS_PER_STEP: cap)
    monkeypatch.setattr(raft, "_batch_frames", lambda geometry: 8)
    batched, _ = raft.clips_flow(clips, updates=2)
    grouped = [raft.clip_flow(clip, updates=2)[0] for clip in clips]  # one clip's pairs in one group of 16
    for single, together, one_group in zip(alone, batched, grouped):
        np.testing.assert_allclose(together, single, atol=1e-4, rtol=0)
        np.testing.assert_allclose(one_group, single, atol=1e-4, rtol=0)
