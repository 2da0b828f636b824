"""The conv fusion (``--variant conv``, seed 003) is tested on clips sampled as it trains: its 3-D kernel
reads a training sample's S snippets together, one per segment of S equal segments of the video, so a
video is scored as groups of S snippets spaced a segment apart, the groups' softmax averaged.  The other
variants keep their 25 single snippets, and a conv checkpoint made before the groups its one sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models.convnet import ConvNetConfig, build_convnet
from core.models.convnet.inputs import fusion_groups, snippet_starts
from core.models.convnet.predict import ConvNetClassifier
from core.sampling import uniform_clip_starts
from core.training import TrainSettings
from convnet_helpers import BoxFlow, alone_probabilities, tiny_config


@pytest.mark.parametrize("frames, count, per", [(300, 25, 3), (120, 25, 3), (61, 10, 2), (300, 25, 1), (40, 6, 4)])
def test_each_test_group_is_spaced_as_a_training_sample(frames: int, count: int, per: int) -> None:
    """ceil(count / S) groups of S starts; the j-th start of every group lies in the j-th of the S segments
    training draws from (so the groups are training samples), at the same place in each: consecutive starts a
    segment's length apart (to the frame), and all of them together the uniform G x S starts."""
    config = tiny_config(fusion_snippets=per)
    groups = fusion_groups(frames, count, config)
    assert len(groups) == -(-count // per) and all(len(g) == per for g in groups)
    room = frames - config.clip_length
    bounds = np.linspace(0, room + 1, per + 1)
    segment = (room + 1) / per
    for group in groups:
        for j, start in enumerate(group):
            assert int(bounds[j]) <= start < max(int(bounds[j]) + 1, int(bounds[j + 1]))  # where training draws snippet j
        assert all(abs((b - a) - segment) <= 1 for a, b in zip(group, group[1:]))
    assert sorted(s for g in groups for s in g) == uniform_clip_starts(frames, len(groups) * per, config.clip_length)
    middle = groups[len(groups) // 2] if len(groups) % 2 else None
    if middle is not None:
        assert middle == snippet_starts(frames, per, config)  # the centred group is the validation sample


def test_the_training_draws_fall_in_the_same_segments_as_the_test_groups() -> None:
    """Training's random snippets (TSN) land in each group's segments: per position j the same range."""
    config = tiny_config(fusion_snippets=3)
    groups = fusion_groups(300, 25, config)
    rng = np.random.default_rng(0)
    drawn = np.array([snippet_starts(300, 3, config, rng=rng) for _ in range(2000)])
    for j in range(3):
        tested = [g[j] for g in groups]
        assert drawn[:, j].min() <= min(tested) and max(tested) <= drawn[:, j].max()
        assert drawn[:, j].max() - drawn[:, j].min() < 100  # inside one third of the video


def test_a_conv_video_is_scored_as_groups_each_read_together_and_averaged() -> None:
    torch.manual_seed(0)
    frames = np.random.default_rng(1).integers(0, 256, size=(90, 40, 48, 3), dtype=np.uint8)
    model = build_convnet(tiny_config(fusion_snippets=3)).eval()
    classifier = ConvNetClassifier(model, device="cpu", flow_backend=BoxFlow())
    video = classifier.predict_video(frames, attention=True)  # 25 snippets asked: 9 groups of 3
    groups = fusion_groups(90, 25, model.config)
    assert len(video.clips) == 9 and [c.start for c in video.clips] == [g[0] for g in groups]
    for clip, group in zip(video.clips, groups):
        assert clip.attention.grid_shape[0] == 3  # one map per snippet of the group
        assert clip.attention.rgb_frames == tuple((s + model.config.centre_offset,) for s in group)
        assert np.allclose(clip.probabilities, alone_probabilities(model, frames, group, BoxFlow()), atol=1e-5)
    assert np.allclose(video.probabilities, np.mean([c.probabilities for c in video.clips], axis=0))
    assert classifier.video_sampling_note(25) == ("conv fusion: each video is scored as 9 samples of 3 snippets spaced as in "
                                                  "training (27 snippets, a clip below is one sample), their softmax averaged")


def test_other_variants_and_older_conv_checkpoints_sample_as_before() -> None:
    """A late fusion: 25 single snippets, uniform, and no ``fusion_snippets`` in its config's JSON; a conv config
    without it (a checkpoint made before): one sample of the 25; the field belongs to the conv variant only."""
    late = tiny_config("late")
    assert "fusion_snippets" not in late.to_dict() and ConvNetConfig.from_dict(late.to_dict()) == late
    frames = np.random.default_rng(2).integers(0, 256, size=(90, 40, 48, 3), dtype=np.uint8)
    torch.manual_seed(0)
    video = ConvNetClassifier(build_convnet(late).eval(), device="cpu", flow_backend=BoxFlow()).predict_video(frames)
    assert [c.start for c in video.clips] == uniform_clip_starts(90, 25, late.clip_length)
    older = ConvNetClassifier(build_convnet(tiny_config()).eval(), device="cpu", flow_backend=BoxFlow())
    assert len(older.predict_video(frames).clips) == 1 and older.video_sampling_note(25) is None
    with pytest.raises(ValueError, match="fusion_snippets is the conv fusion's"):
        tiny_config("late", fusion_snippets=3)


def test_training_records_the_conv_fusions_snippets_and_only_its() -> None:
    conv = TrainSettings(model="convnet", variant="conv", snippets=4, tiny_width=8, input_size=32, flow_length=4).model_config(["a", "b"])
    assert conv.fusion_snippets == 4 and conv.to_dict()["fusion_snippets"] == 4
    assert ConvNetConfig.from_dict(conv.to_dict()) == conv
    late = TrainSettings(model="convnet", variant="late", snippets=4, tiny_width=8, input_size=32, flow_length=4).model_config(["a", "b"])
    assert late.fusion_snippets == 0
    from core.models.convnet.describe import describe

    assert "conv fusion (3d, 4 snippets a sample, tested alike)" in describe(conv) and "conv fusion (3d)," in describe(tiny_config())
