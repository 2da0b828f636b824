"""Seed 003's multi-stride clips for the conv fusion (``fusion_strides``, ``--recipe seed003``): a training
sample is S snippets a stride apart, the stride drawn from the set and then the place; a test video is
scored as clips at every stride, centred in equal segments; the checkpoint records the strides, so eval and
classify sample as training did, and a checkpoint without them samples exactly as before.

The indices below are pinned by hand for a 60-frame video and L = 4 (windows of 5 frames, so 56 places a
window fits whole): stride 1's clips span 3 places, 53 spare, centred at (k + 0.5) x 54 / 3 = 9, 27, 45;
stride 5's span 11, centred at (k + 0.5) x 46 / 3 -> 7, 23, 38; stride 10's span 21, (k + 0.5) x 36 / 3 =
6, 18, 30."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from convnet_helpers import BoxFlow, alone_probabilities, tiny_config
from core.commands import train as train_command
from core.errors import InputError
from core.models.checkpoint import load_checkpoint, save_checkpoint
from core.models.convnet import ConvNetConfig, build_convnet
from core.models.convnet.inputs import fusion_groups, sample_starts, snippet_starts
from core.models.convnet.predict import ConvNetClassifier
from core.models.convnet.train import training_inputs
from core.sampling import random_strided_clip, strided_clips
from core.training import TrainSettings
from core.training.end_to_end import PreparedVideo

STRIDES = (1, 5, 10)
PINNED_60 = [[9, 10, 11], [27, 28, 29], [45, 46, 47],
             [7, 12, 17], [23, 28, 33], [38, 43, 48],
             [6, 16, 26], [18, 28, 38], [30, 40, 50]]


def _strided(**overrides) -> ConvNetConfig:
    return tiny_config(fusion_snippets=3, fusion_strides=STRIDES, **overrides)


def test_test_clips_are_pinned_for_a_video_length_and_stride_set() -> None:
    """25 snippets asked, S = 3: 9 groups, 3 clips at each stride, in the order of the strides."""
    assert fusion_groups(60, 25, _strided()) == PINNED_60
    assert strided_clips(56, 3, STRIDES, 3) == [tuple(g) for g in PINNED_60]


def test_a_video_too_short_for_a_stride_repeats_its_last_window() -> None:
    """20 frames: 16 window places; stride 10's clip (span 21) does not fit, so each starts at 0 and its third
    snippet, 20 frames on, repeats the last place (15), as a clip longer than its video repeats its last frame."""
    assert fusion_groups(20, 25, _strided()) == [[2, 3, 4], [7, 8, 9], [11, 12, 13],
                                                 [1, 6, 11], [3, 8, 13], [5, 10, 15],
                                                 [0, 10, 15], [0, 10, 15], [0, 10, 15]]


def test_training_draws_a_stride_then_a_place_and_validation_takes_the_middle_stride_centred() -> None:
    config = _strided()
    rng = np.random.default_rng(0)
    assert [sample_starts(60, 3, config, rng=rng) for _ in range(4)] == [[22, 32, 42], [12, 17, 22], [2, 3, 4], [0, 1, 2]]
    assert sample_starts(60, 3, config) == [23, 28, 33]  # stride 5, centred: the test's middle clip
    rng = np.random.default_rng(1)
    drawn = [sample_starts(60, 3, config, rng=rng) for _ in range(600)]
    gaps = {b - a for a, b, _ in drawn}
    assert gaps == set(STRIDES) and all(c - b == b - a for a, b, c in drawn)
    assert min(s[0] for s in drawn) == 0 and max(s[-1] for s in drawn) == 55  # every place, the last window whole
    with pytest.raises(ValueError, match="at least one stride"):
        random_strided_clip(56, 3, (), rng)


def test_the_trainer_feeds_the_strided_clip_it_draws() -> None:
    """``training_inputs`` (the end-to-end trainer's samples) takes the windows :func:`sample_starts` draws:
    the spatial stream's frames are those windows' centre frames."""
    config = _strided()
    frames = np.stack([np.full((32, 32, 3), i, np.uint8) for i in range(60)])
    prepared = PreparedVideo(frames, np.zeros((59, 2, 32, 32), np.float32), None, "dis")
    settings = TrainSettings(model="convnet", variant="conv", snippets=3, fusion_strides=STRIDES, tiny_width=8, input_size=32, flow_length=4)
    sample = training_inputs(config, prepared, np.random.default_rng(0), settings)
    centre = config.centre_offset
    expected = [s + centre for s in sample_starts(60, 3, config, rng=np.random.default_rng(0))]
    seen = [round(float(sample["rgb"][s, 0, 0, 0]) * config.std[0] * 255 + config.mean[0] * 255) for s in range(3)]
    assert seen == expected == [24, 34, 44]


def test_a_strided_video_is_scored_as_its_clips_each_read_together_and_averaged() -> None:
    torch.manual_seed(0)
    frames = np.random.default_rng(1).integers(0, 256, size=(60, 40, 48, 3), dtype=np.uint8)
    model = build_convnet(_strided()).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=BoxFlow())
    video = classifier.predict_video(frames)
    assert [c.start for c in video.clips] == [g[0] for g in PINNED_60]
    for clip, group in zip(video.clips, PINNED_60):
        assert np.allclose(clip.probabilities, alone_probabilities(model, frames, group, BoxFlow()), atol=1e-5)
    assert np.allclose(video.probabilities, np.mean([c.probabilities for c in video.clips], axis=0))
    assert classifier.video_sampling_note(25) == (
        "conv fusion: each video is scored as 9 clips of 3 snippets, 3 at each stride of 1, 5, 10 frames as in training "
        "(27 snippets, a clip below is one sample), their softmax averaged")


def test_the_checkpoint_records_the_strides_and_an_older_one_samples_as_before(tmp_path: Path) -> None:
    strided = _strided()
    assert strided.to_dict()["fusion_strides"] == [1, 5, 10]
    save_checkpoint(tmp_path / "strided.safetensors", build_convnet(strided))
    _, loaded = load_checkpoint(tmp_path / "strided.safetensors")
    assert loaded == strided and loaded.fusion_strides == STRIDES
    older = tiny_config(fusion_snippets=3)  # a conv checkpoint of TSN groups: no field in its JSON
    assert "fusion_strides" not in older.to_dict()
    save_checkpoint(tmp_path / "older.safetensors", build_convnet(older))
    _, loaded = load_checkpoint(tmp_path / "older.safetensors")
    assert loaded.fusion_strides == () and fusion_groups(60, 25, loaded) == fusion_groups(60, 25, older)
    assert sample_starts(60, 3, loaded) == snippet_starts(60, 3, loaded)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert sample_starts(60, 3, loaded, rng=rng_a) == snippet_starts(60, 3, loaded, rng=rng_b)


@pytest.mark.parametrize("overrides, message", [
    ({"fusion_snippets": 3, "fusion_strides": (5, 1)}, "increasing"),
    ({"fusion_snippets": 3, "fusion_strides": (1, 1)}, "increasing"),
    ({"fusion_snippets": 3, "fusion_strides": (0, 5)}, "from 1 to 1000"),
    ({"fusion_strides": (1, 5)}, "multi-stride clips"),
])
def test_bad_strides_are_refused_by_name(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)
    with pytest.raises(ValueError, match="multi-stride clips"):
        tiny_config("late", fusion_strides=(1, 5))


def _settings(*argv: str) -> TrainSettings:
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return train_command.settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", *argv]))


def test_the_seed003_recipe_is_conv_fusion_with_temporal_pooling_on_multi_stride_clips() -> None:
    settings = _settings("--recipe", "seed003")
    assert (settings.model, settings.variant, settings.conv_fusion, settings.snippets, settings.fusion_strides) == ("convnet", "conv", "1x1", 3, STRIDES)
    config = settings.model_config(["a", "b"])
    assert (config.variant, config.conv_fusion, config.fusion_snippets, config.fusion_strides) == ("conv", "1x1", 3, STRIDES)
    assert _settings("--recipe", "seed003", "--fusion-strides", "10,2").fusion_strides == (2, 10)
    assert TrainSettings.from_dict(settings.to_dict()) == settings  # a resumed run compares equal
    plain = _settings("--model", "convnet", "--variant", "conv")
    assert plain.fusion_strides == () and "fusion_strides" not in plain.to_dict()  # the TSN default, recorded as before


def test_bad_or_misplaced_stride_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _settings("--model", "convnet", "--fusion-strides", "1,1")
    assert "different whole numbers" in capsys.readouterr().err
    with pytest.raises(InputError, match="--fusion-strides is an option of the convnet family"):
        _settings("--model", "repflow", "--fusion-strides", "1,5")
    with pytest.raises(InputError, match="multi-stride clips"):
        _settings("--model", "convnet", "--variant", "late", "--fusion-strides", "1,5").model_config(["a", "b"])


def test_clips_that_share_a_snippet_share_its_time(monkeypatch) -> None:
    """A 20-frame video's stride-10 clips are one clip three times and share snippets with the others: the
    clips' decode times still add up to the video's (each snippet's time split among the clips that read it)."""
    model = build_convnet(_strided()).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=BoxFlow())
    prepare = ConvNetClassifier._prepare

    def timed(self, frames, starts, cancel, progress=None):
        prepared = prepare(self, frames, starts, cancel, progress)
        return dataclasses.replace(prepared, timings_ms={"decode": 12.0 * len(starts)})

    monkeypatch.setattr(ConvNetClassifier, "_prepare", timed)
    frames = np.random.default_rng(2).integers(0, 256, size=(20, 40, 48, 3), dtype=np.uint8)
    video = classifier.predict_video(frames)
    unique = {s for g in fusion_groups(20, 25, model.config) for s in g}
    assert len(video.clips) == 9 and len(unique) == 15
    assert sum(c.timings_ms["decode"] for c in video.clips) == pytest.approx(12.0 * 15)
    assert video.clips[-1].timings_ms["decode"] == pytest.approx(12.0 * (1 / 3 + 1 / 4 + 1 / 4))  # 0 in three clips, 10 and 15 in four
