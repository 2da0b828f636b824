"""The device-resident path (a GPU's, forced on here on a CPU) gives today's logits, maps and bookkeeping.

A stand-in engine returns known fields, computed the same way from an array
(today's path) and from a tensor (the device path), so the comparison is of
everything after the engine: one upload, rendering, normalisation, the model.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.inference import ArrayFrames, FlowBackend, default_flow_backend
from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.inputs import prepare_clip_input
from core.models.transformer.predict import TransformerClassifier, flow_runs_on

ENCODINGS = [
    {"normalization": "fixed", "max_radius": 4.0, "wheel": "middlebury"},
    {"normalization": "fixed", "max_radius": 2.5, "wheel": "legacy"},
    {"normalization": "clip", "max_radius": 1.0, "wheel": "middlebury"},
    {"normalization": "clip", "max_radius": 3.0, "wheel": "legacy"},
    {"normalization": "max", "max_radius": 1.0, "wheel": "middlebury"},
]


def _field(first: np.ndarray | torch.Tensor, second: np.ndarray | torch.Tensor) -> list:
    """A known (2, H, W) field from two frames, exact in float32 in numpy and torch alike, with a NaN vector."""
    u = (second[..., 0].astype(np.float32) if isinstance(second, np.ndarray) else second[..., 0].float()) / 16.0
    v = (first[..., 2].astype(np.float32) if isinstance(first, np.ndarray) else first[..., 2].float()) / 32.0 - 4.0
    return [u, v]


class KnownFlow:
    """A stand-in engine: the same known fields from arrays and from tensors; counts the calls of each."""

    def __init__(self) -> None:
        self.real = default_flow_backend()
        self.calls = {"array": 0, "tensor": 0}
        self.pairs = 0

    def compute(self, frames: np.ndarray, method: str, **kwargs: object) -> SimpleNamespace:
        self.calls["array"] += 1
        self.pairs += len(frames) - 1
        forward = np.stack([np.stack(_field(frames[k], frames[k + 1])) for k in range(len(frames) - 1)])
        forward[:, :, 0, 0] = np.nan
        return SimpleNamespace(forward=forward, method_used=method, fell_back=False, note="known")

    def compute_tensor(self, frames: torch.Tensor, method: str, **kwargs: object) -> SimpleNamespace:
        self.calls["tensor"] += 1
        self.pairs += len(frames) - 1
        forward = torch.stack([torch.stack(_field(frames[k], frames[k + 1])) for k in range(len(frames) - 1)])
        forward[:, :, 0, 0] = float("nan")
        return SimpleNamespace(forward=forward, method_used=method, fell_back=False, note="known")

    def backend(self) -> FlowBackend:
        return FlowBackend(compute=self.compute, render=self.real.render, compute_tensor=self.compute_tensor,
                           render_tensor=self.real.render_tensor)


def config(encoding: dict, variant: str = "fusion") -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny", class_names=list("abcdef"), variant=variant, backbone_options={"dim": 16}, input_size=32, clip_length=4,
        frame_stride=2, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="raft-small", flow_encoding=encoding,
    )


def video(frames: int = 30) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, size=(48, 64, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 3 * i, axis=1) + np.uint8(2 * i) for i in range(frames)])


@pytest.mark.parametrize("encoding", ENCODINGS, ids=lambda e: f"{e['normalization']}-{e['wheel']}")
@pytest.mark.parametrize("variant", ["fusion", "flow"])
def test_device_path_gives_todays_logits_and_maps(encoding: dict, variant: str) -> None:
    cfg, frames = config(encoding, variant), video()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    host_flow, device_flow = KnownFlow(), KnownFlow()
    today = TransformerClassifier(model, cfg, device="cpu", flow_backend=host_flow.backend(), batch_size=2)
    resident = TransformerClassifier(model, cfg, device="cpu", flow_backend=device_flow.backend(), batch_size=2, device_resident=True)
    assert not today.device_resident and resident.device_resident
    starts = [0, 3, 7, 20, 27]  # overlapping windows, and one padded at the end
    expected = today.predict_clips(frames, starts, attention=True, target_class=1)
    got = resident.predict_clips(frames, starts, attention=True, target_class=1)
    expected.append(today.predict_clip(frames, 5))  # one clip alone: prepare_clip_input rather than the shared windows
    got.append(resident.predict_clip(frames, 5))
    assert device_flow.calls["array"] == 0 and host_flow.calls["tensor"] == 0
    # each pair once on either path: 4 + 4 + 2 (7 -> 9 -> 11 is window 3's) + 4 + 2 (27 -> 29, then 29 -> 29 at the end);
    # the clip alone has its own 4
    assert device_flow.pairs == 16 + 4 and host_flow.pairs == 16 + 4
    for old, new in zip(expected, got):
        np.testing.assert_allclose(new.logits, old.logits, atol=1e-5, rtol=0)
        placed = (new.frame_indices, new.flow_frame_indices, new.padded, new.crop_map)
        assert placed == (old.frame_indices, old.flow_frame_indices, old.padded, old.crop_map)
        assert (new.flow_method, new.flow_fell_back, new.flow_note) == ("raft-small", False, "known")
        if old.attention is not None:
            np.testing.assert_allclose(new.attention.relevance, old.attention.relevance, atol=1e-5)
            np.testing.assert_allclose(new.attention.rollout, old.attention.rollout, atol=1e-5)


class BatchedKnownFlow(KnownFlow):
    """:class:`KnownFlow` that also takes several clips' tensors in one call, as RAFT on a GPU does."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def compute_clips_tensor(self, clips: list[torch.Tensor], method: str, **kwargs: object) -> list[SimpleNamespace]:
        self.batches.append(len(clips))
        return [KnownFlow.compute_tensor(self, clip, method) for clip in clips]

    def backend(self) -> FlowBackend:
        plain = super().backend()
        return FlowBackend(plain.compute, plain.render, plain.compute_tensor, plain.render_tensor, compute_clips_tensor=self.compute_clips_tensor)


def test_the_windows_of_a_batch_have_their_flow_computed_in_one_call() -> None:
    """A whole video on a GPU: RAFT is launch-bound on one window, so a chunk's windows go to the engine
    together, each pair they share once (linked into chains); each window gets the flow of its own pairs, so
    the results are the per-window ones."""
    cfg, frames = config(ENCODINGS[0]), video()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    one_by_one, batched = KnownFlow(), BatchedKnownFlow()
    starts = [0, 3, 7, 20, 27]
    own = TransformerClassifier(model, cfg, device="cpu", flow_backend=one_by_one.backend(), batch_size=2, device_resident=True)
    own.share_windows = False
    expected = own.predict_clips(frames, starts)
    got = TransformerClassifier(model, cfg, device="cpu", flow_backend=batched.backend(), batch_size=2,
                                device_resident=True).predict_clips(frames, starts)
    assert one_by_one.calls["tensor"] == len(starts) and one_by_one.pairs == 5 * 4
    # one call for the chunk: chains 0-2-4-6-8, 3-5-...-15 (windows 3 and 7), 20-...-28, 27-29-29
    assert batched.batches == [4] and batched.pairs == 16
    for old, new in zip(expected, got):
        np.testing.assert_array_equal(new.logits, old.logits)
        assert (new.frame_indices, new.flow_frame_indices) == (old.frame_indices, old.flow_frame_indices)
        assert (new.flow_method, new.flow_note) == (old.flow_method, old.flow_note)


def test_a_timeline_on_the_device_path_computes_each_pair_once_across_chunks() -> None:
    """Windows every frame: a chunk's pairs that the next chunk's windows need are kept, not recomputed."""
    cfg, frames = config(ENCODINGS[2]), video(40)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    one_by_one, batched = KnownFlow(), BatchedKnownFlow()
    own = TransformerClassifier(model, cfg, device="cpu", flow_backend=one_by_one.backend(), batch_size=2, device_resident=True)
    own.share_windows = False
    expected = own.predict_timeline(frames, step=1)
    got = TransformerClassifier(model, cfg, device="cpu", flow_backend=batched.backend(), batch_size=2,
                                device_resident=True).predict_timeline(frames, step=1)
    assert len(got.clips) == 34 and len(batched.batches) == 5  # 8 windows a chunk
    assert batched.pairs == 40  # each of the 38 pairs i -> i + 2 once, and at the end 38 -> 39 and 39 -> 39
    assert one_by_one.pairs == 34 * 4
    for old, new in zip(expected.clips, got.clips):
        np.testing.assert_array_equal(new.logits, old.logits)


def test_the_clip_is_uploaded_once_and_its_images_are_the_host_images() -> None:
    cfg, frames = config(ENCODINGS[1]), ArrayFrames(video())
    flow = KnownFlow().backend()
    host = prepare_clip_input(frames, 4, cfg, flow_backend=flow)
    device = prepare_clip_input(frames, 4, cfg, flow_backend=flow, on_device=True)
    assert isinstance(device.rgb, torch.Tensor) and isinstance(device.flow, torch.Tensor)
    np.testing.assert_array_equal(device.rgb.numpy(), host.rgb)
    np.testing.assert_array_equal(device.flow.numpy(), host.flow)
    # the RGB frames are the flow clip's first T frames, not a second upload
    frames_seen: list[torch.Tensor] = []

    def compute_tensor(clip: torch.Tensor, method: str, **kwargs: object) -> SimpleNamespace:
        frames_seen.append(clip)
        return KnownFlow().compute_tensor(clip, method)

    spying = FlowBackend(flow.compute, flow.render, compute_tensor, flow.render_tensor)
    clip = prepare_clip_input(frames, 4, cfg, flow_backend=spying, on_device=True)
    assert clip.rgb.untyped_storage().data_ptr() == frames_seen[0].untyped_storage().data_ptr()
    with pytest.raises(ValueError, match="needs a flow backend with compute_tensor and render_tensor"):
        prepare_clip_input(frames, 4, cfg, flow_backend=FlowBackend(flow.compute, flow.render), on_device=True)


def test_the_device_path_is_chosen_for_raft_on_cuda_only() -> None:
    cuda, cpu, full = torch.device("cuda"), torch.device("cpu"), default_flow_backend()
    assert flow_runs_on(cuda, "raft-large", full) and flow_runs_on(cuda, "RAFT_small", full)
    assert not flow_runs_on(cpu, "raft-large", full)
    assert not flow_runs_on(cuda, "dis", full) and not flow_runs_on(cuda, "tvl1", full) and not flow_runs_on(cuda, "nonsense", full)
    assert not flow_runs_on(cuda, "raft-large", FlowBackend(full.compute, full.render))  # a backend without a tensor path
    assert not flow_runs_on(cuda, None, full)


def test_channels_last_backbones_give_the_same_logits() -> None:
    cfg, frames = config(ENCODINGS[0]), video()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    flow = KnownFlow().backend()
    plain = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow).predict_clips(frames, [0, 9], attention=True)
    last = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow, channels_last=True)
    weights = [p for p in model.rgb_backbone.parameters() if p.ndim == 5]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in weights)
    for old, new in zip(plain, last.predict_clips(frames, [0, 9], attention=True)):
        np.testing.assert_allclose(new.logits, old.logits, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(new.attention.relevance, old.attention.relevance, atol=1e-5)


def test_a_window_whose_pairs_came_from_an_earlier_call_says_what_computed_them() -> None:
    """Pairs kept from the chunk before keep their call's word: a fallback there is the window's, whatever the
    next call says."""

    class FirstCallFellBack(BatchedKnownFlow):
        def compute_clips_tensor(self, clips, method, **kwargs):  # noqa: ANN001, ANN201
            results = super().compute_clips_tensor(clips, method, **kwargs)
            first = len(self.batches) == 1
            return [SimpleNamespace(forward=r.forward, method_used="dis" if first else method, fell_back=first,
                                    note="no RAFT weights" if first else "") for r in results]

    cfg, frames = config(ENCODINGS[0]), video(40)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    flow = FirstCallFellBack()
    clips = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend(), batch_size=2,
                                  device_resident=True).predict_timeline(frames, step=1).clips
    assert len(flow.batches) == 5
    ninth = clips[8]  # the next chunk's first window: its pairs 8 -> 10 and 10 -> 12 came from the first call
    assert (ninth.flow_method, ninth.flow_fell_back, ninth.flow_note) == ("dis", True, "no RAFT weights")
    last = clips[-1]
    assert (last.flow_method, last.flow_fell_back, last.flow_note) == ("raft-small", False, "")


def test_every_stage_the_classifier_times_waits_for_its_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA a stage's clock is read after its queued kernels end only when its timer is given the device
    (``stage_timer`` synchronises then): normalising an uploaded clip without it left its GPU work to the
    next stage's figure, so ``preprocess`` read as launch time and ``flow`` as more than it took."""
    import core.models.transformer.predict as predict
    from core.timings import stage_timer

    timed: list[tuple[str, object]] = []

    def recording(timings: dict, stage: str, device: torch.device | None = None):  # noqa: ANN202
        timed.append((stage, device))
        return stage_timer(timings, stage, device)

    monkeypatch.setattr(predict, "stage_timer", recording)
    cfg, frames = config(ENCODINGS[0]), video()
    resident = TransformerClassifier(build_model(cfg).eval(), cfg, device="cpu", flow_backend=KnownFlow().backend(), device_resident=True)
    resident.predict_clip(frames, 3)
    assert {stage for stage, _ in timed} == {"preprocess", "flow", "rgb_backbone", "flow_backbone", "fusion"}
    assert all(device == resident.device for _, device in timed), timed
