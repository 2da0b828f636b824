"""The bundled demo model: it loads, it is what its record says, and it labels the bundled sample."""

from __future__ import annotations

import json

import pytest

from core.training.settings import TrainSettings

from core.models.checkpoint import open_classifier
from core.models.transformer.predict import TransformerClassifier
from core.models import read_checkpoint_info
from core.resources import DEMO_CHECKPOINT, RESOURCES_DIR, SAMPLE_VIDEO
from core.sampling import uniform_clip_starts
from core.synth import CLASS_NAMES
from core.training import training_record
from core.video import open_video

RECORD = RESOURCES_DIR / "demo_model.json"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def test_the_checkpoint_is_small_and_is_what_its_record_says(record):
    info = read_checkpoint_info(DEMO_CHECKPOINT)
    assert info.size_bytes < 10 * 1024 * 1024
    config = info.config
    assert config.to_dict() == record["config"]
    assert config.backbone == "tiny" and config.backbone_options.get("frame_wise") is True
    assert config.fusion.rgb_time_pool and config.variant == "fusion" and config.flow_method == "dis"
    assert config.class_names == tuple(CLASS_NAMES)
    trained = training_record(DEMO_CHECKPOINT)
    assert trained is not None and trained.command == record["commands"]["train"]
    assert trained.best_epoch == record["training"]["best_epoch"]
    assert trained.settings == TrainSettings.from_dict(record["training"]["settings"])


def test_it_labels_the_bundled_sample_rotate_clockwise():
    classifier = open_classifier(DEMO_CHECKPOINT, device="cpu")
    with open_video(SAMPLE_VIDEO) as video:
        start = uniform_clip_starts(len(video), 1, classifier.config.clip_length)[0]
        prediction = classifier.predict_clip(video, start)
    (label, prob), (_, runner_up) = prediction.top[:2]
    assert label == "RotateClockwise"
    assert prob > 0.5 and prob > 3 * runner_up


def test_the_demo_convnet_is_what_its_record_says_and_labels_the_sample():
    """The second family's demo (the viewer's model chooser offers it): same checks, through the family API."""
    import core.models.registry as families
    path = families.family("convnet").demo_checkpoint
    record = json.loads((RESOURCES_DIR / "demo_convnet.json").read_text(encoding="utf-8"))
    info = read_checkpoint_info(path)
    assert info.size_bytes < 10 * 1024 * 1024
    assert families.family_of(info.config) == "convnet" and info.config == families.config_from_dict(record["config"])
    assert info.config.class_names == tuple(CLASS_NAMES) and info.config.variant == "late"
    trained = training_record(path)
    assert trained is not None and trained.command == record["commands"]["train"]
    assert trained.best_epoch == record["training"]["best_epoch"]
    assert trained.settings == TrainSettings.from_dict(record["training"]["settings"])
    classifier = open_classifier(path, device="cpu")
    with open_video(SAMPLE_VIDEO) as video:
        prediction = classifier.predict_video(video)
    (label, prob), (runner_up_label, _) = prediction.top[:2]
    assert label == "RotateClockwise" and prob > 0.5 and runner_up_label == "RotateAnticlockwise"
