"""TrainSettings: validation, JSON round trip, the model config it describes, and the command line's mapping."""

from __future__ import annotations

import argparse

import pytest

from core.commands import train as train_command
from core.errors import InputError
from core.training import TrainSettings


def test_defaults_follow_the_seed_and_round_trip_through_json():
    import json

    settings = TrainSettings()
    assert (settings.lr, settings.batch_size, settings.epochs, settings.augment, settings.finetune_backbones) == (2e-4, 8, 200, "none", False)
    settings.validate()
    custom = TrainSettings(backbone_options={"dim": 32, "frame_wise": True}, rgb_time_pool=True, augment="crop", seed=3)
    again = TrainSettings.from_dict(json.loads(json.dumps(custom.to_dict())))
    assert again == custom and again.views == 5
    assert custom.differences(again) == [] and custom.differences(TrainSettings()) == ["backbone_options", "rgb_time_pool", "augment", "seed"]


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"variant": "late"}, "unknown transformer variant 'late': choose one of rgb, flow, concat, fusion"),
        ({"augment": "mixup"}, "unknown augmentation 'mixup'"),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"backbone": "resnet"}, "bad model settings: unknown backbone 'resnet'"),
        ({"input_size": 40}, "bad model settings: backbone 'tiny' needs an input size that is a multiple of 16, got 40"),
        ({"spatial_pool": 9}, "bad model settings"),
        ({"flow_method": "magic"}, "bad model settings: unknown flow_method 'magic'"),
    ],
)
def test_bad_settings_name_the_problem(changes, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainSettings(**changes).validate()
    with pytest.raises(InputError, match=r"unknown fields \['colour'\]"):
        TrainSettings.from_dict({"colour": "red"})


def test_model_config_carries_the_fusion_and_flow_choices():
    settings = TrainSettings(backbone_options={"dim": 16, "frame_wise": True}, rgb_time_pool=True, heads=2, head_dim=8, depth=3,
                             spatial_pool=2, head_layers=3, input_size=32, clip_length=8, variant="concat",
                             flow_encoding={"normalization": "fixed", "max_radius": 3.0})
    config = settings.model_config(["a", "b"])
    assert config.fusion.rgb_time_pool and config.fusion.depth == 3 and config.fusion.dim == 16
    assert config.fusion.spatial_pool == 2 and config.fusion.head_layers == 3 and config.variant == "concat"
    assert (config.input_size, config.clip_length, config.grid_shape()) == (32, 8, (4, 2, 2))
    assert config.flow_encoding == {"normalization": "fixed", "max_radius": 3.0}


def test_the_command_line_maps_to_settings_and_keeps_defaults():
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    plain = train_command.settings_from_args(parser.parse_args(["DATA", "--out", "m.safetensors"]))
    assert plain == TrainSettings()
    args = parser.parse_args(["DATA", "--out", "m.safetensors", "--tiny-dim", "32", "--frame-wise", "--rgb-time-pool", "--flow", "TV-L1",
                              "--flow-radius", "3", "--epochs", "7", "--augment", "flip+crop", "--finetune", "--split", "stratified",
                              "--split-number", "2", "--no-pretrained", "--clips-per-video", "3"])
    settings = train_command.settings_from_args(args)
    assert settings.backbone_options == {"dim": 32, "frame_wise": True} and settings.rgb_time_pool
    assert settings.flow_method == "tvl1" and settings.flow_encoding == {"normalization": "fixed", "max_radius": 3.0, "wheel": "middlebury"}
    assert (settings.epochs, settings.augment, settings.finetune_backbones, settings.split_scheme) == (7, "flip+crop", True, "stratified")
    assert (settings.official_split, settings.pretrained, settings.clips_per_video) == (2, False, 3)
