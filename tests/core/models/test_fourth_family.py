"""A fourth model family, defined here and registered at run time, goes through every door the
three built-in families use, without a line changed anywhere else: ``train --model``, ``eval``,
``ablate``, ``classify`` (the viewer's model chooser offering it is tested with the viewer).

The family is TSN's RGB-difference stream (Wang et al. 2016): the differences of consecutive RGB
frames, stacked as channels, through a small ConvNet: a cheap motion stream without optical flow.
Its ``frames`` variant stacks the frames themselves (appearance only), so ``ablate`` has two rows.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pytest
import torch
from torch import nn

import main
import core.models.registry as registry
from core.inference import ClipClassifier, Sample
from core.inference.frames import read_frames
from core.models.shared.inputs import normalise_frames
from core.sampling import clip_indices, clip_span, resize_and_crop, uniform_clip_starts
from core.synth import generate_dataset

NAME = "rgbdiff"
VARIANTS = ("diff", "frames")


@dataclass(frozen=True)
class RgbDiffConfig:
    """What a checkpoint of the RGB-difference network records beside its weights."""

    class_names: tuple[str, ...]
    variant: str = "diff"
    input_size: int = 32
    clip_length: int = 6
    frame_stride: int = 1
    width: int = 8
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    backbone: str = "diff-cnn"
    family: str = NAME

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def uses_rgb(self) -> bool:
        return True

    @property
    def uses_flow(self) -> bool:
        return False

    def validate(self) -> None:
        if self.family != NAME or self.variant not in VARIANTS:
            raise ValueError(f"not an {NAME} config: family {self.family!r}, variant {self.variant!r}")
        if not self.class_names or self.clip_length < 2 or self.input_size < 8 or self.width < 1:
            raise ValueError(f"bad {NAME} sizes: {self.clip_length} frames, {self.input_size} px, width {self.width}")

    def architecture(self) -> tuple:
        return (self.variant, self.num_classes, self.clip_length, self.width)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(class_names=list(self.class_names), mean=list(self.mean), std=list(self.std))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RgbDiffConfig":
        values = dict(data)
        for name in ("class_names", "mean", "std"):
            values[name] = tuple(values[name])
        config = cls(**values)
        config.validate()
        return config


class RgbDiffNet(nn.Module):
    """Stacked frame differences (or frames) -> two convolutions -> global pooling -> classes."""

    def __init__(self, config: RgbDiffConfig) -> None:
        super().__init__()
        self.config = config
        planes = 3 * (config.clip_length - 1 if config.variant == "diff" else config.clip_length)
        self.features = nn.Sequential(
            nn.Conv2d(planes, config.width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(config.width, config.width, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(config.width, config.num_classes)

    def classifier_keys(self) -> list[str]:
        return ["classifier.weight"]

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:  # (B, T, 3, S, S)
        stack = rgb[:, 1:] - rgb[:, :-1] if self.config.variant == "diff" else rgb
        return self.classifier(self.features(stack.flatten(1, 2)))


def prepare_clip(config: RgbDiffConfig, source: Any, start: int) -> tuple[torch.Tensor, Any, Any]:
    clip = clip_indices(start, len(source), config.clip_length, config.frame_stride)
    frames, crop = resize_and_crop(read_frames(source, clip.indices), config.input_size)
    return normalise_frames(frames, config.mean, config.std), clip, crop


class RgbDiffClassifier(ClipClassifier):
    def clip_sample(self, frames: Any, start: int, cancel: Any) -> Sample:
        rgb, clip, crop = prepare_clip(self.config, frames, start)
        return Sample(inputs={"rgb": rgb}, start=clip.start, frame_indices=clip.indices, padded=clip.padded, crop_map=crop)


def sample_inputs(config: RgbDiffConfig, source: Any, *, starts: Sequence[int] | None = None, count: int = 1,
                  rng: np.random.Generator | None = None, flow_backend: Any = None, device: Any = "cpu") -> dict[str, torch.Tensor]:
    if starts is not None:
        start = int(starts[0])
    elif rng is not None:
        start = int(rng.integers(0, max(0, len(source) - clip_span(config.clip_length, config.frame_stride)) + 1))
    else:
        start = uniform_clip_starts(len(source), 1, config.clip_length, config.frame_stride)[0]
    return {"rgb": prepare_clip(config, source, start)[0]}


def config_from_settings(settings: Any, class_names: Sequence[str]) -> RgbDiffConfig:
    config = RgbDiffConfig(class_names=tuple(class_names), variant=settings.variant, input_size=settings.input_size or 32,
                           clip_length=settings.clip_length or 6)
    config.validate()
    return config


def train(*args: Any, **kwargs: Any) -> Any:
    from core.training.end_to_end import train_family

    return train_family(*args, **kwargs)


def rgbdiff_family(demo: Path | None = None) -> registry.Family:
    return registry.Family(
        name=NAME,
        title="RGB-difference network",
        summary="consecutive frame differences stacked through a small ConvNet (TSN's RGB-diff stream)",
        config_class=RgbDiffConfig,
        variants=VARIANTS,
        default_variant="diff",
        build=lambda config, **options: RgbDiffNet(config),
        classifier=RgbDiffClassifier,
        train=train,
        config_from_settings=config_from_settings,
        describe=lambda config: f"RGB differences of {config.clip_length} frames, {config.num_classes} classes",
        train_options=("clip_length",),
        sample_inputs=sample_inputs,
        demo_checkpoint=demo,
    )


@pytest.fixture
def fourth_family():
    record = registry.register_family(rgbdiff_family())
    yield record
    registry.unregister_family(NAME)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("fourth") / "synth"
    generate_dataset(data, clips_per_class=4, size=32, frames=10, seed=5)
    return data


TRAIN = ["--model", NAME, "--input-size", "32", "--clip-length", "6", "--epochs", "3", "--batch-size", "8", "--lr", "3e-3",
         "--device", "cpu", "--test-fraction", "0.25"]


def test_a_family_registered_at_run_time_trains_evaluates_ablates_and_classifies(fourth_family, synth, tmp_path, capsys):
    assert NAME in registry.family_names()
    checkpoint = tmp_path / "rgbdiff.safetensors"
    assert main.main(["train", str(synth), "--out", str(checkpoint), *TRAIN]) == 0
    assert f"checkpoint: {checkpoint}" in capsys.readouterr().out

    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--json", "--out", str(tmp_path / "eval")]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["model"]["family"] == NAME and evaluation["model"]["variant"] == "diff"
    assert evaluation["video_level"]["count"] == 10 and 0.0 <= evaluation["top1"] <= 1.0  # 25% of 40 videos

    video = next((synth / "MoveLeft").glob("*.mp4"))
    assert main.main(["classify", str(video), "--checkpoint", str(checkpoint), "--model", NAME, "--json", "--device", "cpu"]) == 0
    classified = json.loads(capsys.readouterr().out)
    assert classified["model"]["family"] == NAME and classified["flow"] is None and not classified["model"]["representation_flow"]
    assert len(classified["top"]) == 5 and abs(sum(t["prob"] for t in classified["top"])) <= 1.0 + 1e-6

    out = tmp_path / "ablation"
    assert main.main(["ablate", str(synth), "--out", str(out), "--json", *TRAIN]) == 0
    ablation = json.loads(capsys.readouterr().out)
    assert list(ablation["variants"]) == [f"{NAME}/diff", f"{NAME}/frames"] and ablation["families"] == [NAME]
    assert all(ablation["variants"][k]["family"] == NAME for k in ablation["variants"])


def test_its_option_rules_and_variants_come_from_its_record(fourth_family, synth, tmp_path, capsys):
    """The train command refuses an option no chosen family takes, and an unknown variant, in one line."""
    assert main.main(["train", str(synth), "--out", str(tmp_path / "x.safetensors"), *TRAIN, "--resnet", "tiny"]) == 2
    assert "--resnet is an option of the convnet and repflow families, not of --model rgbdiff" in capsys.readouterr().err
    assert main.main(["train", str(synth), "--out", str(tmp_path / "x.safetensors"), *TRAIN, "--variant", "late"]) == 2
    assert "unknown rgbdiff variant 'late': choose one of diff, frames" in capsys.readouterr().err


def test_unregistered_it_is_gone_and_its_checkpoints_are_refused_by_name(synth, tmp_path, capsys):
    record = registry.register_family(rgbdiff_family())
    try:
        path = tmp_path / "model.safetensors"
        from core.models.checkpoint import save_checkpoint

        save_checkpoint(path, RgbDiffNet(RgbDiffConfig(class_names=("a", "b"))))
    finally:
        registry.unregister_family(record.name)
    assert NAME not in registry.family_names()
    video = next((synth / "MoveLeft").glob("*.mp4"))
    assert main.main(["classify", str(video), "--checkpoint", str(path), "--device", "cpu"]) == 2
    assert "unknown model family 'rgbdiff'" in capsys.readouterr().err
