"""Multi-view testing: crops at the start, centre and end of the longer side, exact crop maps for
every family, and an evaluation that averages exactly clips x crops views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data import discover_dataset
from core.errors import CoreError, InputError
from core.evaluation.evaluate import check_crop_position, evaluate, text_report
from core.evaluation.views import Views
from core.inference.frames import ArrayFrames
from core.models import save_checkpoint
from core.models.checkpoint import open_classifier
from core.models.convnet import ConvNetConfig
from core.models.registry import build_model, make_classifier
from core.models.repflow import RepFlowConfig
from core.models.transformer.config import TransformerConfig
from core.sampling import crop_map, resize_and_crop, uniform_clip_starts
from core.synth.writer import write_mp4


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def wide_frames(count: int = 10, height: int = 32, width: int = 64) -> np.ndarray:
    """Frames whose left, centre and right squares differ (so the three crops really differ)."""
    rng = np.random.default_rng(1)
    return np.stack([np.roll(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), t, axis=1) for t in range(count)])


def test_three_crop_positions_take_the_start_centre_and_end_of_the_longer_side():
    frames = wide_frames(2, 32, 64)  # shorter side already 32: no resize, crops are plain slices
    for position, x0 in ((0.0, 0), (0.5, 16), (1.0, 32)):
        out, cmap = resize_and_crop(frames, 32, position)
        assert (cmap.offset_x, cmap.offset_y) == (x0, 0)
        np.testing.assert_array_equal(out, frames[:, :, x0 : x0 + 32])
        assert cmap.source_box() == (x0, 0, x0 + 32, 32)
    tall = crop_map(90, 30, 30, 1.0)  # portrait: the crop slides down
    assert (tall.offset_x, tall.offset_y) == (0, 60)
    assert crop_map(33, 64, 32).offset_x == crop_map(33, 64, 32, 0.5).offset_x  # the default is the old centre crop
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        crop_map(32, 64, 32, 1.5)


def test_views_parse_and_refuse_bad_spellings():
    views = Views.parse("5x3")
    assert (views.clips, views.crops, views.total, str(views)) == (5, 3, 15, "5x3")
    assert views.positions == (0.0, 0.5, 1.0)
    assert Views.parse(" 4 X 1 ").positions == (0.5,)
    assert views.describe() == "5 clips x 3 crops = 15 views averaged"
    for bad, message in (("5", "CLIPSxCROPS"), ("5x2", "crops must be 1 or 3"), ("0x3", "clips must be from 1"), ("axb", "CLIPSxCROPS")):
        with pytest.raises(InputError, match=message):
            Views.parse(bad)


def _tiny_classifiers():
    names = ["a", "b", "c"]
    transformer = TransformerConfig.create(backbone="tiny", class_names=names, variant="fusion", backbone_options={"dim": 16},
                                           input_size=32, clip_length=4, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="dis")
    convnet = ConvNetConfig.create(backbone="tiny", class_names=names, variant="late", input_size=32, flow_length=2,
                                   backbone_options={"width": 8}, flow_method="dis")
    repflow = RepFlowConfig.create(backbone="tiny", class_names=names, variant="late", input_size=32, clip_length=4,
                                   backbone_options={"width": 8}, iterations=2)
    for config in (transformer, convnet, repflow):
        yield make_classifier(build_model(config, random_weights_ok=True), device="cpu")


@pytest.mark.parametrize("classifier", list(_tiny_classifiers()), ids=["transformer", "convnet", "repflow"])
def test_every_family_crops_where_it_is_told(classifier):
    frames = ArrayFrames(wide_frames(12))
    seen = {}
    for position, x0 in ((0.0, 0), (0.5, 16), (1.0, 32)):
        with classifier.at_crop(position):
            prediction = classifier.predict_clip(frames, 0, top=1)
        assert (prediction.crop_map.offset_x, prediction.crop_map.offset_y) == (x0, 0)
        check_crop_position([prediction], position, "any")
        seen[position] = prediction.probabilities
    assert classifier.crop_position == 0.5  # restored after the block
    assert not np.allclose(seen[0.0], seen[1.0])  # the crops are different pictures
    with pytest.raises(CoreError, match="ignore the crop position"):
        check_crop_position([prediction], 0.0, "any")


def test_evaluation_averages_clips_times_crops_views(tmp_path):
    for name in ("a", "b", "c"):
        write_mp4(tmp_path / "data" / name / f"{name}_0.mp4", wide_frames(12), fps=10, preset="ultrafast")
    classifier = next(_tiny_classifiers())
    checkpoint = save_checkpoint(tmp_path / "m.safetensors", classifier.model)
    evaluation = evaluate(tmp_path / "data", checkpoint, clips_per_video=2, crops=3, part="all", device="cpu",
                          classifier=open_classifier(checkpoint, device="cpu"))
    assert evaluation.crops == 3 and len(evaluation.videos) == 3
    video = discover_dataset(tmp_path / "data").samples[0]
    reference = open_classifier(checkpoint, device="cpu")
    from core.video import open_video

    with open_video(video.path) as clip:
        starts = uniform_clip_starts(len(clip), 2, reference.config.clip_length, reference.config.frame_stride)
        expected = []
        for position in (0.0, 0.5, 1.0):
            with reference.at_crop(position):
                expected.extend(p.probabilities for p in reference.predict_clips(clip, starts, top=1))
    result = next(v for v in evaluation.videos if v.relative == discover_dataset(tmp_path / "data").relative(video))
    assert result.clip_probabilities.shape == (6, 3)
    np.testing.assert_allclose(result.clip_probabilities, np.stack(expected), atol=1e-6)
    np.testing.assert_allclose(result.probabilities, np.mean(expected, axis=0), atol=1e-6)
    metrics = evaluation.metrics()
    assert metrics["video_level"]["views"] == "2x3" and metrics["clip_level"]["count"] == 18
    assert "view level (each view alone):" in text_report(evaluation) and "(18 views)" in text_report(evaluation)
