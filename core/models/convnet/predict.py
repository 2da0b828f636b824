"""Inference for the two-stream ConvNet: frames in, :class:`core.prediction.Prediction` out.

A clip is one snippet (its window of L + 1 frames); a video is
``test_snippets`` snippets (25, seed 002) spread uniformly, scored together when
the model combines them (ConvLSTM, conv fusion) and one by one with their
softmax averaged otherwise.  With ``attention`` each prediction carries
:class:`~core.models.shared.cam_maps.CamMaps` on the frames each snippet saw.
Batching, precision and cancelling are :class:`core.inference.ClipClassifier`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import torch

from core.inference.classifier import ClipClassifier, Sample
from core.inference.frames import FrameSource
from core.models.convnet.inputs import PreparedSnippets, prepare_snippets, snippet_starts
from core.models.shared.cam_maps import CAM_KINDS, cam_maps_of
from core.models.shared.streams import resolve_targets
from core.progress import CancelToken
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
        maps = []
        for cam, sample in zip(cams, samples):
            rgb_frames, flow_frames = sample.placement
            cam = dataclasses.replace(cam, views=self.map_views(cam.rgb is not None, cam.flow is not None))
            maps.append(cam.with_frames(rgb_frames if cam.rgb is not None else None, flow_frames if cam.flow is not None else None, sample.crop_map))
        return scores, maps

    def map_views(self, has_rgb: bool, has_flow: bool) -> tuple[tuple[str, str | None], ...] | None:
        """Which stream's maps each view shows (``None``: each stream on its own view)."""
        return None


class ConvNetClassifier(StreamsClassifier):
    """A loaded :class:`~core.models.convnet.model.TwoStreamConvNet` fed from video frames."""

    def default_video_count(self) -> int:
        return int(self.config.test_snippets)

    def _prepare(self, frames: FrameSource, starts: Sequence[int], cancel: CancelToken | None, progress: Callable[..., None] | None = None) -> PreparedSnippets:
        return prepare_snippets(
            frames, starts, self.config,
            flow_backend=self.flow_backend if self.config.uses_flow else None,
            flow_method=self.flow_method, device=self.device, cancel=cancel, progress=progress,
        )

    def _sample(self, prepared: PreparedSnippets) -> Sample:
        windows = prepared.windows
        frames = tuple(sorted({i for w in windows for i in w.indices}))
        per_map = [tuple(w.indices) for w in windows]
        return Sample(
            inputs=prepared.inputs(),
            start=windows[0].start,
            frame_indices=frames,
            padded=max(w.padded for w in windows),
            crop_map=prepared.crop_map,
            flow_frame_indices=frames if self.config.uses_flow else None,
            flow_method=prepared.flow_method,
            flow_fell_back=prepared.flow_fell_back,
            flow_note=prepared.flow_note,
            timings_ms=dict(prepared.timings_ms),
            placement=(per_map if self.config.uses_rgb else None, per_map if self.config.uses_flow else None),
        )

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        return self._sample(self._prepare(frames, [start], cancel))

    def video_samples(self, frames: FrameSource, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        starts = snippet_starts(len(frames), count, self.config)
        prepared = self._prepare(frames, starts, cancel, progress)
        if self.config.joint_snippets:
            return [self._sample(prepared)]
        return [self._sample(_one_snippet(prepared, s)) for s in range(len(starts))]


def _one_snippet(prepared: PreparedSnippets, index: int) -> PreparedSnippets:
    """Snippet ``index`` of prepared snippets as a one-snippet preparation (timings split evenly)."""
    count = len(prepared.windows)
    return dataclasses.replace(
        prepared,
        rgb=None if prepared.rgb is None else prepared.rgb[index : index + 1],
        flow=None if prepared.flow is None else prepared.flow[index : index + 1],
        windows=[prepared.windows[index]],
        timings_ms={k: v / count for k, v in prepared.timings_ms.items()},
    )
