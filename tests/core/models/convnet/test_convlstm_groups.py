"""The spatial stream's ConvLSTM (``--rgb-convlstm``, seed 004) is tested as it trains: it learns on samples of
S snippets (``--snippets``), one per segment, so a test video is read as ceil(25 / S) sequences of S snippets
spaced as in training, their softmax averaged (the conv fusion's groups, ``fusion_snippets`` in the
checkpoint), not as one 25-step sequence.  A checkpoint made before records no S and still reads the 25
snippets as one sequence.

Pinned for 90 frames and L = 4 (windows of 5 frames, 85 spare): the 27 uniform starts are
floor((n + 0.5) x 86 / 27); group k takes every 9th from the k-th."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convnet_helpers import alone_probabilities, tiny_config
from core.models.checkpoint import load_checkpoint, save_checkpoint
from core.models.convnet import build_convnet
from core.models.convnet.describe import describe
from core.models.convnet.inputs import fusion_groups, snippet_starts
from core.models.convnet.predict import ConvNetClassifier
from core.training import TrainSettings

PINNED_90 = [[1, 30, 58], [4, 33, 62], [7, 36, 65], [11, 39, 68], [14, 43, 71],
             [17, 46, 74], [20, 49, 78], [23, 52, 81], [27, 55, 84]]


def _frames() -> np.ndarray:
    return np.random.default_rng(4).integers(0, 256, size=(90, 40, 48, 3), dtype=np.uint8)


def test_training_records_the_convlstms_snippets_when_the_rgb_stream_runs() -> None:
    def config(variant: str):
        return TrainSettings(model="convnet", variant=variant, rgb_convlstm=8, snippets=3, tiny_width=8, input_size=32,
                             flow_length=4).model_config(["a", "b"])

    assert config("rgb").fusion_snippets == 3 and config("late").fusion_snippets == 3
    assert config("flow").fusion_snippets == 0  # no spatial stream, no ConvLSTM
    assert "ConvLSTM (8 channels, 3 snippets a sample, tested alike)" in describe(config("late"))


def test_each_test_sequence_gets_the_snippets_a_training_sample_would() -> None:
    torch.manual_seed(0)
    model = build_convnet(tiny_config("rgb", rgb_convlstm=8, fusion_snippets=3)).eval()
    assert fusion_groups(90, 25, model.config) == PINNED_90
    assert PINNED_90[4] == snippet_starts(90, 3, model.config)  # the middle sequence is the validation sample
    frames = _frames()
    classifier = ConvNetClassifier(model, device="cpu")
    video = classifier.predict_video(frames, attention=True)
    assert len(video.clips) == 9
    for clip, group in zip(video.clips, PINNED_90):
        assert clip.attention.rgb_frames == tuple((s + model.config.centre_offset,) for s in group)
        assert np.allclose(clip.probabilities, alone_probabilities(model, frames, group), atol=1e-5)
    assert np.allclose(video.probabilities, np.mean([c.probabilities for c in video.clips], axis=0))
    assert classifier.video_sampling_note(25) == ("ConvLSTM: each video is scored as 9 samples of 3 snippets spaced as in "
                                                  "training (27 snippets, a clip below is one sample), their softmax averaged")


def test_an_older_convlstm_checkpoint_still_reads_the_25_snippets_as_one_sequence(tmp_path: Path) -> None:
    torch.manual_seed(0)
    older = tiny_config("rgb", rgb_convlstm=8)
    assert "fusion_snippets" not in older.to_dict()
    save_checkpoint(tmp_path / "older.safetensors", build_convnet(older))
    model, config = load_checkpoint(tmp_path / "older.safetensors")
    assert config.fusion_snippets == 0
    frames = _frames()
    classifier = ConvNetClassifier(model, device="cpu")
    video = classifier.predict_video(frames)
    starts = snippet_starts(90, 25, config)
    assert len(video.clips) == 1 and video.clips[0].start == starts[0] and classifier.video_sampling_note(25) is None
    assert np.allclose(video.probabilities, alone_probabilities(model, frames, starts), atol=1e-5)


def test_trained_on_25_snippets_as_seed_004_the_test_is_one_sequence_of_the_25() -> None:
    """Seed 004 samples 25 frames per video; a ConvLSTM trained so (``--snippets 25``) is tested on one sequence
    of the 25 uniform snippets, the validation sample, as the paper does."""
    config = tiny_config("rgb", rgb_convlstm=8, fusion_snippets=25)
    assert fusion_groups(90, 25, config) == [snippet_starts(90, 25, config)]
    assert len(snippet_starts(90, 25, config)) == 25
