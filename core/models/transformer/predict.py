"""Inference for the two-stream transformer: a clip in, a :class:`core.prediction.Prediction` out.

The steps, each timed: read T+1 frames (``decode``), resize the shorter side
and centre-crop (``preprocess``), compute flow on the cropped frames and render
it in colour with the checkpoint's encoding (``flow``), the RGB and flow
backbones, and the fusion encoder with its head (``fusion``, attention included
when asked: :class:`~core.models.transformer.explain.AttentionMaps` placed on the
clip's frames).  Batching, precision and cancelling are
:class:`core.inference.ClipClassifier`'s.  Many clips of one call (a timeline,
a video) read and crop each frame once and compute each flow pair once
(:func:`~core.models.transformer.inputs.prepare_clip_inputs`).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Iterator, Sequence

import torch

from core.inference.classifier import ClipClassifier, Sample
from core.inference.frames import FrameSource
from core.models.shared.inputs import normalise_frames
from core.models.transformer.explain import MAP_KINDS
from core.models.transformer.inputs import ClipInput, prepare_clip_input, prepare_clip_inputs
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken
from core.sampling import CENTRE, resize_and_crop
from core.timings import stage_timer


class TransformerClassifier(ClipClassifier):
    """A loaded :class:`~core.models.transformer.model.TwoStreamTransformer` fed from video frames."""

    maps_kinds = MAP_KINDS

    def __init__(self, model: torch.nn.Module, config: Any = None, **kwargs: Any) -> None:
        super().__init__(model, config, **kwargs)
        self._mean = torch.tensor(self.config.mean, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)
        self._std = torch.tensor(self.config.std, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        crop = None if self.crop_position == CENTRE else partial(resize_and_crop, position=self.crop_position)
        clip = prepare_clip_input(frames, start, self.config, flow_backend=self.flow_backend, flow_method=self.flow_method, device=self.device,
                                  cancel=cancel, crop=crop)
        return self._sample_of(clip)

    def clip_samples(self, frames: FrameSource, starts: Sequence[int], cancel: CancelToken | None) -> Iterator[Sample]:
        if not self.share_windows:
            yield from super().clip_samples(frames, starts, cancel)
            return
        clips = prepare_clip_inputs(frames, starts, self.config, flow_backend=self.flow_backend, flow_method=self.flow_method,
                                    device=self.device, cancel=cancel, crop_position=self.crop_position, chunk=max(8, self.batch_size))
        for clip in clips:
            yield self._sample_of(clip)

    def _sample_of(self, clip: ClipInput) -> Sample:
        timings = dict(clip.timings_ms)
        inputs: dict[str, torch.Tensor] = {}
        if clip.rgb is not None:
            with stage_timer(timings, "preprocess"):
                inputs[RGB] = self._normalise(clip.rgb)
        if clip.flow is not None:
            with stage_timer(timings, "flow", self.device):
                inputs[FLOW] = self._normalise(clip.flow)
        return Sample(
            inputs=inputs,
            start=clip.start,
            frame_indices=clip.indices,
            padded=clip.padded,
            crop_map=clip.crop_map,
            flow_frame_indices=clip.flow_indices,
            flow_method=clip.flow_method,
            flow_fell_back=clip.flow_fell_back,
            flow_note=clip.flow_note,
            timings_ms=timings,
        )

    def _normalise(self, frames_uint8: Any) -> torch.Tensor:
        return normalise_frames(frames_uint8, self._mean, self._std, device=self.device, channels_first=True)

    def forward(self, inputs: dict[str, torch.Tensor], samples: list[Sample], *, attention: bool, target_class: int | None,
                timings: dict[str, float]) -> tuple[torch.Tensor, list[Any] | None]:
        model, device = self.model, self.device
        rgb_tokens = flow_tokens = None
        if self.config.uses_rgb:
            with stage_timer(timings, "rgb_backbone", device):
                rgb_tokens = model.stream_tokens(RGB, inputs[RGB])
        if self.config.uses_flow:
            with stage_timer(timings, "flow_backbone", device):
                flow_tokens = model.stream_tokens(FLOW, inputs[FLOW])
        with stage_timer(timings, "fusion", device):
            if not attention:
                return model.forward_tokens(rgb_tokens, flow_tokens), None
            explained = model.explain(rgb_tokens=rgb_tokens, flow_tokens=flow_tokens, target_class=target_class)
        maps = [explained.maps[b].with_frames(s.frame_indices, s.crop_map) for b, s in enumerate(samples)]
        return explained.logits, maps
