"""``train --recipe seed000``: seed 000's configuration in one word, checked field by field, and a
clean one-line failure naming the weight file and where to put it when the weights are absent."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import main
from core.commands import train as train_command
from core.errors import InputError
from core.synth import generate_dataset


def settings_of(*argv: str):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return train_command.settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", *argv]))


def test_the_seed000_recipe_builds_the_seeds_model_field_by_field() -> None:
    settings = settings_of("--recipe", "seed000")
    assert (settings.model, settings.backbone, settings.pretrained, settings.flow_method) == ("transformer", "mvit_v2_s", True, "raft-large")
    assert (settings.lr, settings.batch_size, settings.epochs, settings.augment, settings.weight_decay) == (2e-4, 8, 200, "none", 0.0)
    config = settings.model_config(["a", "b", "c"])
    assert (config.backbone, config.variant, config.input_size, config.clip_length) == ("mvit_v2_s", "fusion", 224, 16)
    assert (config.fusion.heads, config.fusion.head_dim, config.fusion.dim) == (8, 96, 768)
    assert (config.fusion.head_layers, config.fusion.head_dropout) == (1, 0.5)  # LayerNorm, Dropout 0.5, Linear
    assert config.flow_encoding == {"normalization": "max", "max_radius": 1.0, "wheel": "middlebury"}  # flow_to_image
    assert config.flow_method == "raft-large" and config.mean == (0.45, 0.45, 0.45)


def test_options_beside_a_recipe_change_it_and_a_wrong_family_or_name_is_refused() -> None:
    changed = settings_of("--recipe", "seed000", "--backbone", "swin3d_s", "--lr", "1e-4")
    assert (changed.backbone, changed.lr, changed.flow_method) == ("swin3d_s", 1e-4, "raft-large")
    with pytest.raises(InputError, match="--recipe seed000 is a recipe of the transformer family, not of --model convnet"):
        settings_of("--recipe", "seed000", "--model", "convnet")
    with pytest.raises(InputError, match="unknown recipe 'seed999': choose one of seed000"):
        settings_of("--recipe", "seed999")
    assert settings_of().backbone == "tiny"  # no recipe: the defaults as before


def test_without_weights_the_recipe_fails_in_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    generate_dataset(data, clips_per_class=2, size=32, frames=8, seed=0)
    out = tmp_path / "seed000.safetensors"
    assert main.main(["train", str(data), "--out", str(out), "--recipe", "seed000", "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MViTv2-S (Kinetics-400) weights are not available" in err[0]
    assert "put mvit_v2_s-ae3be167.pth in" in err[0] and err[0].endswith("or pass --backbone-weights PATH")
    assert not out.exists()
