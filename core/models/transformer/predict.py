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

On CUDA with RAFT the clip stays on the GPU from upload to logits
(``device_resident``): frames uploaded once as uint8, RAFT's flow rendered and
normalised there.  ``channels_last`` (off unless asked) stores the video
backbones' 3-D convolution weights and inputs channels-last.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Iterator, Sequence

import torch

from core.errors import FlowError
from core.flow.engine import RAFT_METHODS, normalize_method
from core.inference.classifier import ClipClassifier, Sample
from core.inference.flow_backend import FlowBackend
from core.inference.frames import FrameSource
from core.models.shared.inputs import normalise_frames
from core.models.transformer.explain import MAP_KINDS
from core.models.transformer.inputs import ClipInput, prepare_clip_input, prepare_clip_inputs
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken
from core.sampling import CENTRE, resize_and_crop
from core.timings import stage_timer


def flow_runs_on(device: torch.device, method: str | None, backend: FlowBackend) -> bool:
    """Whether a clip's flow can stay on ``device``: CUDA, a RAFT method (the one that runs there) and a backend with a tensor path."""
    try:
        raft = method is not None and normalize_method(method) in RAFT_METHODS
    except FlowError:
        return False
    return device.type == "cuda" and raft and backend.has_device_path


class TransformerClassifier(ClipClassifier):
    """A loaded :class:`~core.models.transformer.model.TwoStreamTransformer` fed from video frames.

    ``device_resident``: prepare clips on the device (see the module's note); ``None`` decides by
    :func:`flow_runs_on`, ``True`` forces it (tests run it on a CPU).  ``channels_last``: 3-D
    convolution weights (converted in place, in the model given) and backbone inputs in
    ``torch.channels_last_3d``: the same results to float rounding; whether it is faster depends on
    the GPU's convolution kernels (MViT's pooling convolutions would follow the weights' layout),
    so it is asked for, not assumed.
    """

    maps_kinds = MAP_KINDS
    compilable = ("rgb_backbone", "flow_backbone")

    def __init__(self, model: torch.nn.Module, config: Any = None, *, device_resident: bool | None = None, channels_last: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(model, config, **kwargs)
        self._mean = torch.tensor(self.config.mean, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)
        self._std = torch.tensor(self.config.std, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)
        self._device_resident = device_resident
        self.channels_last = bool(channels_last)
        if self.channels_last:
            for backbone in (getattr(self.model, "rgb_backbone", None), getattr(self.model, "flow_backbone", None)):
                for weight in [] if backbone is None else backbone.parameters():
                    if weight.ndim == 5:
                        weight.data = weight.data.contiguous(memory_format=torch.channels_last_3d)

    @property
    def device_resident(self) -> bool:
        """Whether clips are prepared on the device, from upload to the backbones' input."""
        if self._device_resident is not None:
            return self._device_resident
        return self.config.uses_flow and flow_runs_on(self.device, self.flow_method, self.flow_backend)

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        crop = None if self.crop_position == CENTRE else partial(resize_and_crop, position=self.crop_position)
        clip = prepare_clip_input(frames, start, self.config, flow_backend=self.flow_backend, flow_method=self.flow_method, device=self.device,
                                  cancel=cancel, crop=crop, on_device=self.device_resident)
        return self._sample_of(clip)

    def clip_samples(self, frames: FrameSource, starts: Sequence[int], cancel: CancelToken | None) -> Iterator[Sample]:
        if not self.share_windows:
            yield from super().clip_samples(frames, starts, cancel)
            return
        clips = prepare_clip_inputs(frames, starts, self.config, flow_backend=self.flow_backend, flow_method=self.flow_method,
                                    device=self.device, cancel=cancel, crop_position=self.crop_position, chunk=max(8, self.batch_size),
                                    on_device=self.device_resident, decode_ahead=self.decode_ahead)
        try:
            for clip in clips:
                yield self._sample_of(clip)
        finally:
            clips.close()  # waits for a read ahead in flight: the caller may close the video next

    def _sample_of(self, clip: ClipInput) -> Sample:
        timings = dict(clip.timings_ms)
        inputs: dict[str, torch.Tensor] = {}
        if clip.rgb is not None:
            with stage_timer(timings, "preprocess", self.device):  # on the device path this runs on the GPU: waited for
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
        layout = torch.channels_last_3d if self.channels_last else torch.contiguous_format
        if self.config.uses_rgb:
            with stage_timer(timings, "rgb_backbone", device):
                rgb_tokens = self._tokens(RGB, inputs[RGB].contiguous(memory_format=layout))
        if self.config.uses_flow:
            with stage_timer(timings, "flow_backbone", device):
                flow_tokens = self._tokens(FLOW, inputs[FLOW].contiguous(memory_format=layout))
        with stage_timer(timings, "fusion", device):
            if not attention:
                return model.forward_tokens(rgb_tokens, flow_tokens), None
            explained = model.explain(rgb_tokens=rgb_tokens, flow_tokens=flow_tokens, target_class=target_class)
        maps = [explained.maps[b].with_frames(s.frame_indices, s.crop_map) for b, s in enumerate(samples)]
        return explained.logits, maps

    def _tokens(self, stream: str, clip: torch.Tensor) -> torch.Tensor:
        """One stream's token grid, through the compiled backbone when warm-up compiled it."""
        backbone = self.model.checked_backbone(stream, clip)  # a wrong shape is an error, compiled or not
        name = f"{stream}_backbone"
        return self.submodule(name)(clip) if name in self._compiled else backbone(clip)
