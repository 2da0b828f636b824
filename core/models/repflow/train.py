"""What the end-to-end trainer needs from representation flow: its config from the run's settings,
and training samples (one clip at a random start, the centred clip for validation)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from core.errors import InputError
from core.models.repflow.config import RepFlowConfig
from core.models.repflow.inputs import prepare_clip
from core.models.shared.resnet_config import resnet_settings
from core.sampling import clip_span, uniform_clip_starts

TRAIN_OPTIONS = ("clip_length", "resnet", "tiny_width", "flow_layers", "iterations", "optimizer", "momentum", "rgb_attention",
                 "rgb_convlstm")


# Seed 004's network: ResNet-34 streams with ImageNet weights, two representation-flow layers on
# 16-frame clips (a 1x1 bottleneck to 32 channels), the RGB stream with CAM spatial attention and a
# ConvLSTM of 512 channels, the streams fused at the decision level by a learned layer, Adam at 1e-3,
# batch 32.  The seed trains in stages (RGB stream, flow branch, then the fusion) with step decays;
# this trainer trains the whole network at once.
RECIPES = {
    "seed004": {
        "resnet": "resnet34",
        "pretrained": True,
        "clip_length": 16,
        "flow_layers": 2,
        "variant": "learned",
        "rgb_attention": True,
        "rgb_convlstm": 512,
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 32,
    },
}


def config_from_settings(settings: Any, class_names: Sequence[str]) -> RepFlowConfig:
    if settings.augment != "none":
        raise InputError(f"--augment {settings.augment}: the repflow family trains on plain centre-cropped clips (no flips or crops)")
    overrides = resnet_settings(settings)
    if settings.clip_length:
        overrides["clip_length"] = settings.clip_length
    return RepFlowConfig.create(
        class_names=list(class_names), flow_layers=settings.flow_layers,
        iterations=settings.iterations, rgb_attention=settings.rgb_attention, rgb_convlstm=settings.rgb_convlstm, **overrides,
    )


def sample_inputs(config: RepFlowConfig, source: Any, *, starts: Sequence[int] | None = None, count: int = 1,
                  rng: np.random.Generator | None = None, flow_backend: Any = None, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The clip at ``starts[0]`` (or a random one with ``rng``, else the centred one): ``{"rgb": (T, 3, H, W)}``."""
    if starts is not None:
        if len(starts) != 1:
            raise ValueError(f"a representation-flow sample is one clip: give one start, got {len(starts)}")
        start = int(starts[0])
    elif rng is not None:
        room = len(source) - clip_span(config.clip_length, config.frame_stride)
        start = int(rng.integers(0, room + 1)) if room > 0 else 0
    else:
        start = uniform_clip_starts(len(source), 1, config.clip_length, config.frame_stride)[0]
    return prepare_clip(source, start, config).inputs()
