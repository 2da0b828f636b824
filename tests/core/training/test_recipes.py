"""``train --recipe seed000``: seed 000's configuration in one word, checked field by field, and a
clean one-line failure naming the weight file and where to put it when the weights are absent."""

from __future__ import annotations

import argparse
import re
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
    assert main.main(["train", str(data), "--out", str(out), "--recipe", "seed000", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MViTv2-S (Kinetics-400) weights are not available" in err[0]
    assert "put mvit_v2_s-ae3be167.pth in" in err[0] and err[0].endswith("or pass --backbone-weights PATH")
    assert not out.exists()


@pytest.mark.parametrize("model", ["transformer", "convnet"])
def test_missing_raft_weights_stop_training_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str) -> None:
    data = tmp_path / "data"
    generate_dataset(data, clips_per_class=2, size=32, frames=8, seed=0)
    out, cache = tmp_path / "raft.safetensors", tmp_path / "cache"
    assert main.main(["train", str(data), "--out", str(out), "--model", model, "--flow", "raft-small", "--device", "cpu",
                      "--cache-dir", str(cache)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "RAFT-small weights are not available" in err[0] and "--raft-weights PATH" in err[0]
    assert "extracting" not in captured.out and not out.exists() and not any(cache.rglob("*.npy"))


def test_the_seed002_recipe_is_the_chapters_two_stream_convnet() -> None:
    settings = settings_of("--recipe", "seed002")
    assert (settings.model, settings.resnet, settings.flow_method, settings.variant) == ("convnet", "resnet50", "tvl1", "late")
    assert (settings.optimizer, settings.lr, settings.momentum, settings.weight_decay) == ("sgd", 0.01, 0.9, 5e-4)
    assert settings.snippets == 1  # "sample one frame per video", not TSN's consensus of three snippets
    config = settings.model_config(["a", "b"])
    assert (config.flow_length, config.flow_scale, config.flow_bound, config.mean_subtraction, config.test_snippets) == (10, 20.0, 1.0, True, 25)
    assert config.input_size == 224 and config.flow_channels == 20


def test_the_seed004_recipe_is_representation_flow_with_the_papers_rgb_stream() -> None:
    settings = settings_of("--recipe", "seed004")
    config = settings.model_config(["a", "b"])
    assert (settings.model, config.backbone, config.variant, config.clip_length, config.flow_layers) == ("repflow", "resnet34", "learned", 16, 2)
    assert (config.rgb_attention, config.rgb_convlstm, config.bottleneck) == (True, 512, 32)
    assert (settings.optimizer, settings.lr, settings.batch_size) == ("adam", 1e-3, 32)


def test_seed002_flow_is_divided_by_20_and_clamped_to_one() -> None:
    """``np.clip(flow / 20, -1, 1)``, as the chapter writes it, after the mean displacement (off here)."""
    import numpy as np

    from core.models.convnet.config import ConvNetConfig
    from core.models.convnet.inputs import stack_flow

    config = ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], flow_length=2, flow_scale=20.0, flow_bound=1.0, mean_subtraction=False)
    fields = np.random.default_rng(0).normal(0, 15, (2, 2, 8, 8)).astype(np.float32)
    expected = np.clip(fields / 20.0, -1, 1).reshape(4, 8, 8)
    np.testing.assert_allclose(stack_flow(fields, None, config), expected, rtol=0, atol=1e-7)
    plain = ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], flow_length=2, mean_subtraction=False)
    np.testing.assert_array_equal(stack_flow(fields, None, plain), np.clip(fields, -20, 20).reshape(4, 8, 8))  # the default as before


def test_seed004s_rgb_stream_options_reach_the_model_from_the_command_line() -> None:
    from core.models.registry import build_model
    from core.models.shared.cam import SpatialAttention
    from core.models.shared.convlstm import ConvLSTM

    for family in ("convnet", "repflow"):
        plain = settings_of("--model", family, "--tiny-width", "8", "--variant", "late")
        seeded = settings_of("--model", family, "--tiny-width", "8", "--variant", "late", "--rgb-attention", "--rgb-convlstm", "16")
        kinds = lambda settings: {type(m) for m in build_model(settings.model_config(["a", "b"]), random_weights_ok=True).modules()}  # noqa: E731
        assert not {SpatialAttention, ConvLSTM} & kinds(plain)
        assert {SpatialAttention, ConvLSTM} <= kinds(seeded)


def test_sgd_trains_with_the_momentum_asked_for(tmp_path: Path) -> None:
    from core.training import train
    from core.training.settings import TrainSettings
    from core.training.state import load_state, state_path

    data = tmp_path / "data"
    generate_dataset(data, clips_per_class=2, size=48, frames=8, seed=1)
    settings = TrainSettings(model="convnet", tiny_width=8, input_size=48, flow_length=2, snippets=1, epochs=1, batch_size=8,
                             optimizer="sgd", lr=0.01, momentum=0.8, weight_decay=5e-4, device="cpu", test_fraction=0.2, val_fraction=0.1)
    out = tmp_path / "sgd.safetensors"
    train(data, settings, out, cache_dir=tmp_path / "cache")
    groups = load_state(state_path(out)).optimizer_state["param_groups"]
    assert groups and all(g["momentum"] == 0.8 and g["weight_decay"] == 5e-4 and g["nesterov"] is False for g in groups)


@pytest.mark.parametrize("option, value, problem", [
    ("--input-size", "0", "argument --input-size: must be at least 1, got 0"),
    ("--clip-length", "0", "argument --clip-length: must be at least 1, got 0"),
    ("--clip-length", "x", "argument --clip-length: expected a whole number, got 'x'"),
])
def test_a_size_of_zero_is_refused_not_taken_for_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
                                                              problem: str) -> None:
    assert main.main(["train", str(tmp_path), "--out", str(tmp_path / "x.safetensors"), option, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]


def test_convnet_flip_mirrors_frames_and_negates_horizontal_flow() -> None:
    """``--augment flip`` for the ConvNet (seed 002's recipe sets it, with crops): a mirrored sample's motion to the right is
    motion to the left; vertical motion stays; validation samples are never mirrored."""
    import numpy as np
    import torch

    from core.models.convnet import train as convnet_train

    rgb = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).reshape(2, 3, 2, 4)
    flow = torch.zeros(2, 4, 2, 4)  # L = 2: u0, v0, u1, v1
    flow[:, 0::2, :, 0] = 3.0  # the leftmost column moves right
    flow[:, 1::2, :, 0] = -1.0  # and up
    out = convnet_train.mirrored({"rgb": rgb, "flow": flow})
    assert torch.equal(out["rgb"], rgb.flip(-1))
    assert torch.equal(out["flow"][:, 0::2, :, 3], torch.full((2, 2, 2), -3.0)) and torch.equal(out["flow"][:, 1::2, :, 3], torch.full((2, 2, 2), -1.0))
    assert torch.equal(out["flow"][:, :, :, :3], torch.zeros(2, 4, 2, 3))

    settings = settings_of("--model", "convnet", "--augment", "flip")
    sample = {"rgb": rgb, "flow": flow}
    original = convnet_train.snippets_from_prepared
    try:
        convnet_train.snippets_from_prepared = lambda prepared, starts, config: sample
        prepared = type("Prepared", (), {"frames": np.zeros((40, 2, 4, 3), np.uint8)})()
        config = settings.model_config(["a", "b"])
        rng = np.random.default_rng(0)
        flips = [convnet_train.training_inputs(config, prepared, rng, settings)["rgb"] is not rgb for _ in range(200)]
        assert 70 < sum(flips) < 130  # half of the training samples
        assert all(convnet_train.training_inputs(config, prepared, None, settings)["rgb"] is rgb for _ in range(20))
    finally:
        convnet_train.snippets_from_prepared = original


def test_the_seed002_recipe_crops_flips_and_jitters_as_simonyan_and_zisserman_train() -> None:
    """"A 224 x 224 sub-image is randomly cropped from the selected frame; it then undergoes random
    horizontal flipping and RGB jittering" (the paper seed 001 links, section 6): crops and flips for
    both streams, the jitter for the spatial stream's RGB."""
    settings = settings_of("--recipe", "seed002")
    assert settings.augment == "flip+crop+jitter"
    assert settings_of("--recipe", "seed002", "--augment", "flip").augment == "flip"  # an option beside the recipe changes it


@pytest.mark.parametrize("augment", ["crop", "flip+crop"])
def test_convnet_takes_crops_and_repflow_still_refuses_augmentation_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                                augment: str) -> None:
    from core.models.convnet.config import ConvNetConfig
    from core.training import TrainSettings

    assert isinstance(settings_of("--model", "convnet", "--augment", augment).model_config(["a", "b"]), ConvNetConfig)
    assert main.main(["train", str(tmp_path), "--out", str(tmp_path / "x.safetensors"), "--model", "repflow", "--augment", augment]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --augment is an option of the transformer and convnet families, not of --model repflow"]
    with pytest.raises(InputError, match=re.escape(f"--augment {augment}: the repflow family trains on plain centre-cropped clips")):
        TrainSettings(model="repflow", augment=augment).validate()


def test_augment_parts_combine_in_any_order_and_are_recorded_canonically(capsys: pytest.CaptureFixture[str]) -> None:
    assert settings_of("--model", "convnet", "--augment", "jitter+crop+flip").augment == "flip+crop+jitter"
    assert settings_of("--model", "convnet", "--augment", "jitter").augment == "jitter"
    assert settings_of("--model", "convnet", "--augment", "crop+jitter").augment == "crop+jitter"
    for bad in ("flip+flip", "jitter+blur", "none+flip", ""):
        with pytest.raises(SystemExit) as caught:
            settings_of("--model", "convnet", "--augment", bad)
        assert caught.value.code == 2
        assert f"argument --augment: unknown augmentation {bad!r}: none, or parts of flip, crop, jitter joined by '+'" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["transformer", "repflow"])
def test_rgb_jittering_is_refused_for_the_families_that_do_not_draw_it(model: str) -> None:
    """The transformer trains on fixed cached views (a fresh colour each epoch would need the backbones each
    epoch) and repflow on plain clips: ``jitter`` is the ConvNet's, said in one line."""
    from core.training import TrainSettings

    with pytest.raises(InputError, match=re.escape(f"--augment flip+jitter: RGB jittering is for the spatial stream of these families only: convnet (not {model})")):
        TrainSettings(model=model, augment="flip+jitter").validate()
