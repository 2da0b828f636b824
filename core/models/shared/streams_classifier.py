"""The classifier of the ResNet families (the two-stream ConvNet and representation flow): an RGB and
a flow branch, a fusion, and class activation maps per stream placed on the frames each map saw."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from core.inference.classifier import ClipClassifier, Sample
from core.models.shared.cam_maps import CAM_KINDS, cam_maps_of
from core.models.shared.streams import resolve_targets
from core.timings import stage_timer


class StreamsClassifier(ClipClassifier):
    """What the ResNet families share: an RGB and a flow branch, a fusion, CAMs per stream.

    ``sample.placement`` is ``(rgb map frames, flow map frames)``: the video
    frames each map of each stream covers.
    """

    cpu_batch_size = 4
    maps_kinds = CAM_KINDS

    def forward(self, inputs: dict[str, torch.Tensor], samples: list[Sample], *, attention: bool, target_class: int | None,
                timings: dict[str, float]) -> tuple[torch.Tensor, list[Any] | None]:
        model, device = self.model, self.device
        with stage_timer(timings, "rgb_backbone", device):
            rgb_maps = model.rgb_branch(inputs)
        with stage_timer(timings, "flow_backbone", device):
            flow_maps = model.flow_branch(inputs)
        with stage_timer(timings, "fusion", device):
            scores = model.fuse(rgb_maps, flow_maps)
            if not attention:
                return scores, None
            classes = resolve_targets(scores, target_class)
            cams = cam_maps_of(*model.stream_cams(rgb_maps, flow_maps, classes), classes)
        maps, cell_size = [], self.cam_cell_size()  # the trunk's, the same for every map
        for cam, sample in zip(cams, samples):
            rgb_frames, flow_frames = sample.placement
            cam = dataclasses.replace(cam, views=self.map_views(cam.rgb is not None, cam.flow is not None), cell_size=cell_size)
            maps.append(cam.with_frames(rgb_frames if cam.rgb is not None else None, flow_frames if cam.flow is not None else None, sample.crop_map))
        return scores, maps

    def cam_cell_size(self) -> int:
        """Input pixels per CAM cell: the trunk's total stride (both streams end on the trunk's last stage)."""
        from core.models.shared.resnet import trunk_info

        return trunk_info(self.config.backbone, **dict(self.config.backbone_options)).stride

    def map_views(self, has_rgb: bool, has_flow: bool) -> tuple[tuple[str, str | None], ...] | None:
        """Which stream's maps each view shows (``None``: each stream on its own view)."""
        return None
