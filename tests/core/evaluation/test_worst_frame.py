"""``worst_frame`` in eval's per-video records: the first frame of the clip that scored the true class
lowest, as the dataset panel's scoring defines it, with a model whose per-clip answers are scripted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core.evaluation.evaluate import evaluate
from core.evaluation.video_results import records_of, worst_clip_start
from core.models.checkpoint import open_classifier
from dataset_helpers import synth_with_checkpoint

TROUGH_START = 4  # 3 clips of 4 frames in 12 start at 1, 4 and 7


class ScriptedClassifier:
    """The real classifier (crops, flow, sampling), its softmax replaced: uniform, except the clip
    starting at :data:`TROUGH_START`, which puts 0.9 on ``favoured`` and little on the rest."""

    def __init__(self, real, favoured: int) -> None:  # noqa: ANN001 - a ClipClassifier
        self.real = real
        self.favoured = favoured

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the real one's
        return getattr(self.real, name)

    def predict_clips(self, video, starts, **kwargs):  # noqa: ANN001, ANN201
        return [dataclasses.replace(p, probabilities=self.scripted(p.start)) for p in self.real.predict_clips(video, starts, **kwargs)]

    def scripted(self, start: int) -> np.ndarray:
        classes = len(self.real.config.class_names)
        if start != TROUGH_START:
            return np.full(classes, 1.0 / classes, np.float32)
        out = np.full(classes, 0.1 / (classes - 1), np.float32)
        out[self.favoured] = 0.9
        return out


def test_worst_clip_start_averages_each_clips_crops():
    rows = np.array([[0.2, 0.8], [0.5, 0.5], [0.6, 0.4],  # crop 0 of clips 0, 1, 2 (crop-major, as eval scores them)
                     [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])  # crop 1: clip 0 holds the lowest row, clip 1 the lowest mean
    assert worst_clip_start(rows, 0, [3, 10, 20] * 2, crops=2) == 10
    assert worst_clip_start(rows[:3], 0, [3, 10, 20]) == 3
    assert worst_clip_start(rows[:3], 1, [3, 10, 20]) == 20
    assert worst_clip_start(rows, 0, (), crops=2) is None  # starts unknown (scored from cached token grids)


@pytest.mark.parametrize("crops", [1, 3])
def test_eval_records_the_start_of_the_clip_that_scored_the_true_class_lowest(tmp_path: Path, crops: int):
    synth, checkpoint = synth_with_checkpoint(tmp_path, clips_per_class=1)
    real = open_classifier(checkpoint, device="cpu")
    favoured = list(real.config.class_names).index("Approach")
    evaluation = evaluate(synth, checkpoint, clips_per_video=3, crops=crops, part="all", device="cpu",
                          classifier=ScriptedClassifier(real, favoured))
    records = records_of(evaluation)
    assert len(records) == 10 and sum(r.true == "Approach" for r in records) == 1
    for record in records:
        # Another class's true probability is lowest in the trough clip; Approach's is lowest (tied) in
        # the other two, and a tie goes to the first of them.
        assert record.worst_frame == (1 if record.true == "Approach" else TROUGH_START), record.video
