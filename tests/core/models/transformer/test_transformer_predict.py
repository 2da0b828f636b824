"""Inference: a clip in, a Prediction out, checked against feeding the model by hand.

The real flow engine runs (Farneback on 32x32 crops costs milliseconds); the
checks are inference's own work: which frames, the crop, the normalisation, the
T+1 frames for T flow images, batching, attention and timings.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.errors import Cancelled
from core.flow import FlowEncoding, compute_flow, flow_to_rgb
from core.inference import STAGES, FlowBackend, default_flow_backend
from core.models.transformer.predict import TransformerClassifier
from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.progress import CancelToken
from core.sampling import resize_and_crop, uniform_clip_starts


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


class RecordingFlow:
    """The real flow engine (``core.flow``), recording the frames it was given."""

    def __init__(self) -> None:
        self.real = default_flow_backend()
        self.calls: list[tuple[int, ...]] = []

    def compute(self, frames, method, **kwargs):
        self.calls.append(frames.shape)
        return self.real.compute(frames, method, **kwargs)

    def render(self, flow, encoding):
        return self.real.render(flow, encoding)

    def backend(self) -> FlowBackend:
        return FlowBackend(compute=self.compute, render=self.render)


def config(variant: str = "fusion") -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny",
        class_names=["a", "b", "c", "d", "e", "f"],
        variant=variant,
        backbone_options={"dim": 16},
        input_size=32,
        clip_length=4,
        frame_stride=2,
        fusion={"heads": 2, "head_dim": 8, "depth": 1},
        flow_method="farneback",
        flow_encoding={"normalization": "fixed", "max_radius": 4.0},
    )


def video(frames: int = 30) -> np.ndarray:
    """A 48x64 (non-square) video whose brightness and content change every frame."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, size=(48, 64, 3), dtype=np.uint8)
    return np.stack([np.roll(base, i, axis=1) + np.uint8(2 * i) for i in range(frames)])


def by_hand(model, cfg, frames, indices, flow_indices):
    """Feed the model the way the seed describes, without core.inference."""
    mean = torch.tensor(cfg.mean).view(1, 3, 1, 1, 1)
    std = torch.tensor(cfg.std).view(1, 3, 1, 1, 1)

    def norm(x):
        return (torch.from_numpy(x).permute(3, 0, 1, 2).float()[None] / 255.0 - mean) / std

    cropped, _ = resize_and_crop(frames[list(flow_indices)], cfg.input_size)
    field = compute_flow(cropped, cfg.flow_method).forward
    images = flow_to_rgb(field, FlowEncoding.from_dict(cfg.flow_encoding))
    with torch.no_grad():
        return model(norm(cropped[: len(indices)]), norm(images)).numpy()[0]


@pytest.mark.parametrize("variant", ["fusion", "flow", "concat"])
def test_one_clip_matches_feeding_the_model_by_hand(variant):
    cfg, flow, frames = config(variant), RecordingFlow(), video()
    model = build_model(cfg).eval()
    classifier = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend())
    pred = classifier.predict_clip(frames, start=5, top=3)
    assert pred.frame_indices == (5, 7, 9, 11)
    assert pred.flow_frame_indices == (5, 7, 9, 11, 13)  # T+1 frames give T flow images
    assert flow.calls == [(5, 32, 32, 3)]
    assert pred.padded == 0
    assert (pred.crop_map.src_height, pred.crop_map.src_width, pred.crop_map.offset_x) == (48, 64, 5)
    expected = by_hand(model, cfg, frames, pred.frame_indices, pred.flow_frame_indices)
    np.testing.assert_allclose(pred.logits, expected, atol=1e-5)
    assert pred.probabilities.sum() == pytest.approx(1.0)
    assert [label for label, _ in pred.top] == [cfg.class_names[i] for i in np.argsort(-expected)[:3]]
    assert pred.label == pred.top[0][0] and pred.probability == pytest.approx(pred.probabilities.max())
    assert (pred.flow_method, pred.flow_fell_back, pred.flow_note) == ("farneback", False, "")
    assert set(pred.timings_ms) == {*STAGES, "total"}
    assert all(v >= 0 for v in pred.timings_ms.values())
    assert pred.timings_ms["total"] == pytest.approx(sum(pred.timings_ms[s] for s in STAGES))
    assert pred.attention is None


def test_attention_comes_with_the_frame_mapping_and_the_same_logits():
    cfg, flow, frames = config(), RecordingFlow(), video()
    classifier = TransformerClassifier(build_model(cfg), cfg, device="cpu", flow_backend=flow.backend())
    plain = classifier.predict_clip(frames, start=3)
    explained = classifier.predict_clip(frames, start=3, attention=True, target_class=4)
    np.testing.assert_allclose(plain.logits, explained.logits, atol=1e-5)
    maps = explained.attention
    assert maps is not None and maps.target_class == 4
    assert maps.frame_indices == explained.frame_indices and maps.crop_map == explained.crop_map
    heat = maps.heatmap(maps.volume("rgb", "relevance"), explained.frame_indices[0])
    assert heat.shape == (48, 64)


def test_clip_past_the_end_is_padded_and_flow_uses_the_last_frame():
    cfg, flow, frames = config(), RecordingFlow(), video(10)
    pred = TransformerClassifier(build_model(cfg), cfg, device="cpu", flow_backend=flow.backend()).predict_clip(frames, start=6)
    assert pred.frame_indices == (6, 8, 9, 9)
    assert pred.padded == 2
    assert pred.flow_frame_indices == (6, 8, 9, 9, 9)


def test_batched_clips_equal_single_clips_and_video_level_averages():
    cfg, flow, frames = config(), RecordingFlow(), video()
    model = build_model(cfg)
    single = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend(), batch_size=1)
    batched = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend(), batch_size=3)
    video_pred = batched.predict_video(frames, num_clips=3)
    starts = uniform_clip_starts(len(frames), 3, cfg.clip_length, cfg.frame_stride)
    assert [c.start for c in video_pred.clips] == starts
    for clip in video_pred.clips:
        np.testing.assert_allclose(clip.logits, single.predict_clip(frames, clip.start).logits, atol=1e-5)
    np.testing.assert_allclose(video_pred.probabilities, np.mean([c.probabilities for c in video_pred.clips], axis=0))
    assert video_pred.top[0][1] == pytest.approx(video_pred.probabilities.max())
    timeline = batched.predict_timeline(frames)
    assert [c.start for c in timeline.clips] == [0, 7, 14, 21, 23]


def test_rgb_only_model_never_computes_flow():
    cfg, frames = config("rgb"), video()

    def refuse(*args, **kwargs):
        raise AssertionError("flow was computed for an RGB-only model")

    pred = TransformerClassifier(build_model(cfg), cfg, device="cpu", flow_backend=FlowBackend(refuse, refuse)).predict_clip(frames)
    assert pred.flow_method is None and pred.flow_frame_indices is None
    assert pred.timings_ms["flow"] == 0.0 and pred.timings_ms["flow_backbone"] == 0.0


def test_cancel_and_progress():
    cfg, flow, frames = config(), RecordingFlow(), video()
    classifier = TransformerClassifier(build_model(cfg), cfg, device="cpu", flow_backend=flow.backend())
    seen = []
    classifier.predict_video(frames, num_clips=2, progress=lambda done, total, msg="": seen.append((done, total)))
    assert seen[-1] == (2, 2) and all(total == 2 for _, total in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        classifier.predict_clip(frames, cancel=token)
    assert len(flow.calls) == 2  # nothing was computed after the cancel


def test_a_flow_engine_giving_the_wrong_shape_is_caught():
    cfg, frames = config(), video()
    good = RecordingFlow()

    def short(frames_, method, **kwargs):
        result = good.compute(frames_, method)
        return SimpleNamespace(forward=result.forward[:-1], method_used=result.method_used, fell_back=False, note="")

    classifier = TransformerClassifier(build_model(cfg), cfg, device="cpu", flow_backend=FlowBackend(short, good.render))
    with pytest.raises(ValueError, match=r"flow engine returned shape \(3, 2, 32, 32\), expected \(4, 2, 32, 32\)"):
        classifier.predict_clip(frames)


def test_bfloat16_autocast_stays_close_and_a_bad_precision_is_refused():
    from core.errors import InputError

    cfg, flow, frames = config(), RecordingFlow(), video()
    model = build_model(cfg)
    exact = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend()).predict_clip(frames, 2)
    half = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend(), precision="bfloat16").predict_clip(frames, 2)
    assert half.logits.dtype == np.float32
    np.testing.assert_allclose(half.probabilities, exact.probabilities, atol=0.03)
    assert [TransformerClassifier(model, cfg, device="cpu", precision=p).autocast_dtype for p in ("auto", "float32", "bfloat16", "float16")] == [
        None, None, torch.bfloat16, torch.float16]  # what the benchmark tables name (auto: float32 on a CPU)
    with pytest.raises(InputError, match="unknown precision 'int8'"):
        TransformerClassifier(model, cfg, device="cpu", precision="int8")


@pytest.mark.parametrize(("precision", "tolerance"), [("bfloat16", 0.06), ("float16", 0.01)])  # bfloat16 keeps 8 bits of tokens
def test_attention_maps_under_half_precision_are_recorded_in_float32(precision: str, tolerance: float):
    """The backbones run under autocast, the recorded fusion pass does not: bfloat16 maps once crashed
    (numpy has no bfloat16) and float16 ones came back rounded to half precision."""
    cfg, flow, frames = config(), RecordingFlow(), video()
    model = build_model(cfg)
    exact = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend()).predict_clip(frames, 2, attention=True)
    half = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend(), precision=precision).predict_clip(
        frames, 2, attention=True)
    for name in ("attention", "rollout", "relevance", "class_to_rgb", "class_to_flow"):
        got, want = getattr(half.attention, name), getattr(exact.attention, name)
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got, want, atol=tolerance, err_msg=name)
    assert half.attention.target_class == exact.attention.target_class


def test_cancel_during_the_forward_pass_stops_before_the_next_block():
    """Cancel pressed while the RGB backbone runs: the flow backbone never finishes, and the hooks
    that made that possible are gone afterwards."""
    cfg, flow, frames = config(), RecordingFlow(), video()
    model = build_model(cfg)
    classifier = TransformerClassifier(model, cfg, device="cpu", flow_backend=flow.backend())
    token = CancelToken()
    ran: list[str] = []

    def rgb_done(*_args: object) -> None:  # the user presses Cancel while the RGB stream runs
        ran.append("rgb")
        token.cancel()

    def flow_done(*_args: object) -> None:
        ran.append("flow")

    model.rgb_backbone.register_forward_hook(rgb_done)
    model.flow_backbone.register_forward_hook(flow_done)
    with pytest.raises(Cancelled):
        classifier.predict_clip(frames, cancel=token)
    assert ran == ["rgb"]
    assert all(len(m._forward_pre_hooks) == 0 for m in model.modules())
    ran.clear()
    assert classifier.predict_clip(frames).probabilities.shape == (cfg.num_classes,)  # the model still works
    assert ran == ["rgb", "flow"]
