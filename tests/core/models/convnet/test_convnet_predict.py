"""ConvNet inference: predictions shaped like the transformer's, 25 snippets averaged, and
class activation maps that land on the planted evidence in original frame pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from core.inference import STAGES, ArrayFrames
from core.models.convnet import ConvNetConfig, build_convnet
from core.models.convnet.inputs import prepare_snippets
from core.models.convnet.predict import ConvNetClassifier
from core.sampling import sliding_window_starts, uniform_clip_starts

# a 96x128 frame shows as a 64x64 centre crop: scale 2/3, 10 crop pixels cut on the left
BOX_CROP = (32, 24, 48, 40)  # x0, y0, x1, y1 in crop pixels: exactly the tiny trunk's cells (4..5, 3..4)
BOX_SOURCE = (63, 36, 87, 60)  # the same box in source pixels


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def frames_with_patch(count: int = 40) -> np.ndarray:
    frames = np.full((count, 96, 128, 3), 90, np.uint8)
    x0, y0, x1, y1 = BOX_SOURCE
    frames[:, y0:y1, x0:x1] = (230, 40, 40)
    return frames


@dataclass
class _Result:
    forward: np.ndarray
    backward: np.ndarray | None = None
    method_used: str = "box"
    fell_back: bool = False
    note: str = ""


class _BoxFlow:
    """Flow of 3 px to the right inside the planted box (crop pixels), none elsewhere."""

    def compute(self, frames, method, **kwargs):
        n, h, w, _ = frames.shape
        flow = np.zeros((n - 1, 2, h, w), np.float32)
        x0, y0, x1, y1 = BOX_CROP
        flow[:, 0, y0:y1, x0:x1] = 3.0
        return _Result(flow)


def config(variant: str = "late", **overrides) -> ConvNetConfig:
    values = dict(backbone="tiny", class_names=["other", "patch", "third"], variant=variant, input_size=64, flow_length=4,
                  backbone_options={"width": 8}, mean_subtraction=False, test_snippets=25, dropout=0.0)
    values.update(overrides)
    return ConvNetConfig.create(**values)


def point_head_at_the_box(model, frames: np.ndarray) -> None:
    """Set class 1's weights of both streams to the feature direction of the box's cells."""
    prepared = prepare_snippets(ArrayFrames(frames), [10], model.config, flow_backend=_BoxFlow())
    with torch.no_grad():
        for stream, x in ((model.rgb_stream, prepared.rgb), (model.flow_stream, prepared.flow)):
            maps = stream.forward_maps(x[None]).maps[0, 0]  # (C, 8, 8)
            inside = maps[:, 3:5, 4:6].mean(dim=(1, 2))
            stream.head.weight.zero_()
            stream.head.bias.zero_()
            stream.head.weight[1] = inside - maps.mean(dim=(1, 2))


def test_cam_of_both_streams_peaks_on_the_planted_patch_in_source_pixels():
    frames = frames_with_patch()
    model = build_convnet(config()).eval()
    point_head_at_the_box(model, frames)
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=_BoxFlow())
    prediction = classifier.predict_clip(frames, 10, attention=True, target_class=1)
    maps = prediction.attention
    assert maps.target_class == 1 and maps.grid_shape == (1, 8, 8)
    # the spatial stream saw the centre frame alone, the temporal stream the flow of pairs 10->11 .. 13->14
    assert maps.rgb_frames == ((12,),) and maps.flow_frames == ((10, 11, 12, 13),) and maps.crop_map == prediction.crop_map
    assert maps.maps_for_frame("rgb", 11) == [] and maps.maps_for_frame("flow", 14) == []
    assert prediction.frame_indices == (10, 11, 12, 13, 14) and maps.frame_indices == (10, 11, 12, 13)  # frames some map covers
    for stream in ("rgb", "flow"):
        heat = maps.heatmap(maps.volume(stream), 12)
        assert heat.shape == (96, 128)
        y, x = np.unravel_index(np.argmax(heat), heat.shape)
        x0, y0, x1, y1 = BOX_SOURCE
        assert x0 <= x < x1 and y0 <= y < y1, (stream, x, y)
        assert heat[:, :14].max() == 0.0 and heat[:, 114:].max() == 0.0  # outside the crop: nothing
    with pytest.raises(ValueError, match="frame 30 is not covered"):
        maps.heatmap(maps.volume("rgb"), 30)
    with pytest.raises(ValueError, match="unknown map kind"):
        maps.volume("rgb", kind="rollout")


def test_a_clip_prediction_reads_like_the_transformers():
    model = build_convnet(config()).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=_BoxFlow())
    prediction = classifier.predict_clip(frames_with_patch(), 38, top=2)
    # the window runs past the end: padded, the repeats listed as fed (len(frames) is the clip, as for the transformer)
    assert prediction.frame_indices == (38, 39, 39, 39, 39)
    assert prediction.padded == 3 and prediction.start == 38
    assert len(prediction.top) == 2 and abs(prediction.probabilities.sum() - 1.0) < 1e-6
    assert prediction.flow_method == "box" and prediction.attention is None
    assert set(prediction.timings_ms) == {*STAGES, "total"}
    assert abs(prediction.timings_ms["total"] - sum(prediction.timings_ms[s] for s in STAGES)) < 1e-6


def test_video_prediction_averages_25_snippets_and_matches_the_models_own_consensus():
    frames = frames_with_patch(120)
    frames[:, :, :20] = np.arange(120, dtype=np.uint8)[:, None, None, None]  # snippets differ
    model = build_convnet(config("late")).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=_BoxFlow())
    video = classifier.predict_video(frames)
    assert len(video.clips) == 25
    assert np.allclose(video.probabilities, np.mean([c.probabilities for c in video.clips], axis=0))
    starts = [c.start for c in video.clips]
    prepared = prepare_snippets(ArrayFrames(frames), starts, model.config, flow_backend=_BoxFlow())
    with torch.no_grad():
        together = model(**{k: v[None] for k, v in prepared.inputs().items()}).softmax(dim=1)[0].numpy()
    assert np.allclose(video.probabilities, together, atol=1e-5)


def test_models_that_combine_snippets_score_the_video_in_one_pass():
    model = build_convnet(config("conv")).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=_BoxFlow())
    video = classifier.predict_video(frames_with_patch(60), num_clips=6, attention=True)
    assert len(video.clips) == 1
    clip = video.clips[0]
    assert clip.attention.grid_shape == (6, 8, 8)  # one map per snippet
    starts = uniform_clip_starts(60, 6, 5)
    assert clip.attention.flow_frames == tuple(tuple(range(s, s + 4)) for s in starts)  # each snippet's 4 pairs
    assert clip.attention.rgb_frames == tuple((s + 2,) for s in starts)  # and its centre frame
    assert clip.frame_indices == tuple(sorted({i for s in starts for i in range(s, s + 5)}))


def test_timeline_slides_one_window_at_a_time_and_rgb_models_need_no_flow():
    frames = frames_with_patch(30)
    classifier = ConvNetClassifier(build_convnet(config("rgb")), device="cpu")
    timeline = classifier.predict_timeline(frames)
    assert [c.start for c in timeline.clips] == sliding_window_starts(30, 5, 1)
    assert all(c.flow_method is None and c.timings_ms["flow"] == 0.0 for c in timeline.clips)
    with pytest.raises(ValueError, match="outside the video's 30 frames"):
        classifier.predict_clip(frames, 30)
    with pytest.raises(ValueError, match="target_class"):
        classifier.predict_clip(frames, 0, target_class=3)
