"""From video frames to the representation-flow model's input: one RGB clip, no optical flow.

A clip is ``clip_length`` (16, seed 004) frames at ``frame_stride`` from a
start frame, resized on the shorter side and centre-cropped like every other
model's input, normalised with the config's mean/std: ``(T, 3, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from core.inference.frames import read_frames
from core.models.shared.inputs import normalise_frames
from core.timings import stage_timer
from core.models.repflow.config import RepFlowConfig
from core.sampling import CENTRE, ClipIndices, CropMap, CropView, clip_indices, resize_and_crop


@dataclass(eq=False)
class PreparedClip:
    rgb: torch.Tensor  # (T, 3, H, W)
    clip: ClipIndices
    crop_map: CropMap
    timings_ms: dict[str, float] = field(default_factory=dict)

    def inputs(self) -> dict[str, torch.Tensor]:
        return {"rgb": self.rgb}


def prepare_clip(source: Any, start: int, config: RepFlowConfig, crop_position: float | CropView = CENTRE) -> PreparedClip:
    """Decode, crop (at ``crop_position`` along the longer side, or as a :class:`~core.sampling.CropView`
    says: the model learns its flow from these frames, so a mirrored view is simply mirrored frames)
    and normalise the clip at ``start`` (padded by repeating the last frame)."""
    clip = clip_indices(int(start), len(source), config.clip_length, config.frame_stride)
    timings: dict[str, float] = {}
    with stage_timer(timings, "decode"):
        raw = read_frames(source, clip.indices)
    with stage_timer(timings, "preprocess"):
        cropped, cmap = resize_and_crop(raw, config.input_size, crop_position)
        rgb = normalise_frames(cropped, config.mean, config.std)
    return PreparedClip(rgb=rgb, clip=clip, crop_map=cmap, timings_ms=timings)
