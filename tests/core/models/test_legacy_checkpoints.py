"""Checkpoints written before the family registry still load and predict the same.

``tests/data/legacy`` holds a small checkpoint of each family saved by the code of commit 4929ffe
(before ``core.models.registry``) and the probabilities, clip frames and heat-map statistics that
code computed with them, plus its predictions by the two bundled demo models on the sample video.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import core.models.registry as registry
from core.models.checkpoint import open_classifier, read_checkpoint_info
from core.resources import SAMPLE_VIDEO
from core.video import open_video
from paths import REPO

LEGACY = REPO / "tests" / "data" / "legacy"
RECORD = json.loads((LEGACY / "predictions.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    with np.load(LEGACY / "frames.npz") as data:
        return data["frames"]


@pytest.mark.parametrize("name", ["transformer", "convnet", "repflow"])
def test_a_checkpoint_of_each_family_saved_before_the_registry_predicts_the_same(name, frames):
    path = LEGACY / f"{name}.safetensors"
    assert read_checkpoint_info(path).extra == {"made_by": "4929ffe"}
    expected = RECORD[name]
    classifier = open_classifier(path, device="cpu")
    assert type(classifier) is registry.family(name).classifier
    clip = classifier.predict_clip(frames, 2, attention=True)
    np.testing.assert_allclose(clip.probabilities, expected["clip_probabilities"], rtol=0, atol=1e-6)
    assert list(clip.frame_indices) == expected["clip_frames"]
    np.testing.assert_allclose(classifier.predict_video(frames).probabilities, expected["video_probabilities"], rtol=0, atol=1e-6)
    maps = clip.attention
    volume = maps.volume("rgb", "rollout") if name == "transformer" else maps.volume(maps.streams[-1], "cam")
    assert list(volume.shape) == expected["map_shape"]
    assert float(np.sum(volume)) == pytest.approx(expected["map_sum"], rel=1e-5)
    assert float(np.max(volume)) == pytest.approx(expected["map_max"], rel=1e-5)


@pytest.mark.parametrize("name", ["transformer", "convnet"])
def test_the_bundled_demo_models_predict_what_they_did_before_the_registry(name):
    expected = RECORD["demo_" + name]
    classifier = open_classifier(registry.family(name).demo_checkpoint, device="cpu")
    with open_video(SAMPLE_VIDEO) as video:
        clip = classifier.predict_clip(video, expected["start"])
    np.testing.assert_allclose(clip.probabilities, expected["clip_probabilities"], rtol=0, atol=1e-6)
