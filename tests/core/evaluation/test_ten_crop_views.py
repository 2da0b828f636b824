"""``eval --views Nx10``: Simonyan & Zisserman's ten crops (four corners and the centre of a
larger resize, and their flips) for every family, each video's score the mean of clips x 10 views."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import main
from core.errors import CoreError, InputError
from core.evaluation.evaluate import check_crop_position
from core.evaluation.views import Views
from core.models import save_checkpoint
from core.models.checkpoint import open_classifier
from core.models.convnet import ConvNetConfig
from core.models.registry import build_model
from core.models.repflow import RepFlowConfig
from core.models.transformer.config import TransformerConfig
from core.sampling import TEN_CROPS, uniform_clip_starts
from core.synth.writer import write_mp4
from core.video import open_video

NAMES = ["a", "b"]


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def test_views_of_ten_crops_parse_and_say_what_they_are():
    views = Views.parse("25x10")
    assert (views.clips, views.crops, views.total, str(views)) == (25, 10, 250, "25x10")
    assert views.positions == TEN_CROPS
    assert views.describe(224) == "25 clips x 10 crops (4 corners + centre, and their flips, shorter side 256) = 250 views averaged"
    assert "256/224 of the input size" in views.describe()
    assert Views.parse("5x3").crop_protocol(224) is None and Views.parse("5x1").describe(224) == "5 clips averaged"


@pytest.mark.parametrize("spelling", ["5x7", "25x5", "25x2", "1x9"])
def test_other_crop_counts_are_one_line_listing_1_3_or_10(spelling, capsys):
    with pytest.raises(InputError) as caught:
        Views.parse(spelling)
    message = str(caught.value.problem)
    assert "\n" not in message and all(n in message for n in ("1 or 3", "or 10")) and message.endswith(spelling.split("x")[1])
    assert main.main(["eval", "nowhere", "--checkpoint", "m.safetensors", "--views", spelling]) == 2
    err = capsys.readouterr().err
    assert "crops must be 1 or 3" in err and "or 10 (4 corners + centre, and their flips)" in err and len(err.strip().splitlines()) == 1


def wide_frames(count: int = 12, height: int = 32, width: int = 64) -> np.ndarray:
    """Frames whose corners differ (so the ten crops really are ten pictures)."""
    rng = np.random.default_rng(1)
    return np.stack([np.roll(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), t, axis=1) for t in range(count)])


def tiny_model(family: str) -> torch.nn.Module:
    if family == "transformer":
        config = TransformerConfig.create(backbone="tiny", class_names=NAMES, variant="fusion", backbone_options={"dim": 16}, input_size=32,
                                          clip_length=4, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="dis")
    elif family == "convnet":
        config = ConvNetConfig.create(backbone="tiny", class_names=NAMES, variant="late", input_size=32, flow_length=2,
                                      backbone_options={"width": 8}, flow_method="dis")
    else:
        config = RepFlowConfig.create(backbone="tiny", class_names=NAMES, variant="late", input_size=32, clip_length=4,
                                      backbone_options={"width": 8}, iterations=2)
    return build_model(config, random_weights_ok=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("tencrop") / "data"
    for n, name in enumerate(NAMES):
        write_mp4(root / name / f"{name}_0.mp4", np.roll(wide_frames(), 7 * n, axis=2), fps=10, preset="ultrafast")
    return root


@pytest.mark.parametrize("family", ["transformer", "convnet", "repflow"])
def test_eval_views_2x10_averages_ten_views_of_each_clip(family, videos, tmp_path, capsys):
    checkpoint = save_checkpoint(tmp_path / f"{family}.safetensors", tiny_model(family))
    out = tmp_path / "out"
    code = main.main(["eval", str(videos), "--checkpoint", str(checkpoint), "--views", "2x10", "--part", "all", "--device", "cpu",
                      "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    # 32 px crops: the shorter side resized to round(32 * 256 / 224) = 37
    assert "video level (2 clips x 10 crops (4 corners + centre, and their flips, shorter side 37) = 20 views averaged)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    level = metrics["video_level"]
    assert (level["views"], level["crops_per_clip"], level["crops"]) == ("2x10", 10, "4 corners + centre, and their flips, shorter side 37")
    assert metrics["clip_level"]["count"] == 2 * 2 * 10
    records = {r["video"]: r for r in map(json.loads, (out / "videos.jsonl").read_text().splitlines()[1:])}

    reference = open_classifier(checkpoint, device="cpu")
    config = reference.config
    for name in NAMES[:1]:  # one video scored by hand, view by view
        with open_video(videos / name / f"{name}_0.mp4") as clip:
            starts = uniform_clip_starts(len(clip), 2, config.clip_length, config.frame_stride)
            views = []
            for view in TEN_CROPS:
                with reference.at_crop(view):
                    predictions = reference.predict_clips(clip, starts, top=1)
                assert all(p.crop_map.flipped == view.flip and p.crop_map.resized_width == 74 for p in predictions)
                check_crop_position(predictions, view, family)
                if view == TEN_CROPS[0]:  # an unmirrored crop is not its flipped view: a family ignoring flips stops the run
                    with pytest.raises(CoreError, match=r"ignore the crop position \(top-left flipped\)"):
                        check_crop_position(predictions, TEN_CROPS[1], family)
                views.extend(p.probabilities for p in predictions)
        views = np.stack(views)
        assert views.shape == (20, len(NAMES)) and len({tuple(np.round(v, 5)) for v in views}) > 10  # the views are different pictures
        scored = {entry["label"]: entry["prob"] for entry in records[f"{name}/{name}_0.mp4"]["top5"]}
        np.testing.assert_allclose([scored[n] for n in NAMES], views.mean(axis=0), atol=2e-6)
