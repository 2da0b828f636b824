"""A fourth model family, defined here for the tests (not in ``core``): TSN's RGB-difference stream
(Wang et al. 2016), the differences of consecutive RGB frames stacked as channels through a small
ConvNet, a cheap motion stream without optical flow.  Its ``frames`` variant stacks the frames
themselves (appearance only).  :func:`rgbdiff_family` is its registry record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

import core.models.registry as registry
from core.inference import ClipClassifier, Sample
from core.inference.frames import read_frames
from core.models.shared.inputs import normalise_frames
from core.sampling import clip_indices, clip_span, resize_and_crop, uniform_clip_starts

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
