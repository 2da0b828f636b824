"""From video frames to the transformer's input: an RGB clip and its flow as colour images (seed 000).

T frames at the config's stride (padded by repeating the last), plus one more
when flow is wanted: flow image k is the flow from frame k to frame k+1
(``"t_plus_one"``), computed on the resized and centre-cropped frames and
rendered in colour with the checkpoint's encoding.  Inference and training
(token extraction) prepare clips with the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from core.inference.flow_backend import FlowBackend
from core.inference.frames import FrameSource
from core.models.transformer.config import TransformerConfig
from core.progress import CancelToken
from core.sampling import CropMap, clip_indices, resize_and_crop
from core.timings import stage_timer

CropFunction = Callable[[np.ndarray, int], tuple[np.ndarray, CropMap]]


@dataclass(frozen=True, eq=False)
class ClipInput:
    """One clip as the backbones' input, still uint8: what inference and training share.

    ``rgb`` and ``flow`` are ``(T, S, S, 3)`` uint8 (the flow as its colour
    rendering), ``None`` for a stream not asked for.  ``timings_ms`` has
    ``decode``, ``preprocess`` and ``flow``.
    """

    start: int
    indices: tuple[int, ...]
    flow_indices: tuple[int, ...] | None
    padded: int
    crop_map: CropMap
    rgb: np.ndarray | None
    flow: np.ndarray | None
    flow_method: str | None
    flow_fell_back: bool
    flow_note: str
    timings_ms: dict[str, float]


def prepare_clip_input(
    frames: FrameSource,
    start: int,
    config: TransformerConfig,
    *,
    flow_backend: FlowBackend,
    flow_method: str | None = None,
    device: str | torch.device = "cpu",
    cancel: CancelToken | None = None,
    crop: CropFunction | None = None,
    rgb: bool | None = None,
    flow: bool | None = None,
) -> ClipInput:
    """Read the clip at ``start``, resize and crop it, compute and render its flow.

    T frames (padded by repeating the last), plus one more when flow is wanted:
    flow image k is the flow from frame k to frame k+1 (``"t_plus_one"``),
    computed on the cropped frames and rendered with the config's encoding.
    ``crop(frames, size)`` replaces the centre crop (training's augmentation
    views); ``rgb``/``flow`` default to the streams the variant uses.
    """
    want_rgb = config.uses_rgb if rgb is None else rgb
    want_flow = config.uses_flow if flow is None else flow
    crop = crop or resize_and_crop
    timings: dict[str, float] = {}
    clip = clip_indices(start, len(frames), config.clip_length, config.frame_stride)
    indices = clip.indices
    flow_indices = None
    if want_flow:  # T+1 frames give T flow images ("t_plus_one")
        flow_indices = (*indices, min(indices[-1] + config.frame_stride, len(frames) - 1))
    with stage_timer(timings, "decode"):
        raw = np.asarray(frames.read_clip(list(flow_indices or indices)))
    if raw.ndim != 4 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {raw.dtype} {raw.shape}")
    size = config.input_size
    with stage_timer(timings, "preprocess"):
        cropped, cmap = crop(raw, size)
        if cropped.shape != (len(raw), size, size, 3):
            raise ValueError(f"crop gave frames of shape {cropped.shape}, expected {(len(raw), size, size, 3)}")
    method, fell_back, note, images = None, False, "", None
    if want_flow:
        torch_device = torch.device(device) if not isinstance(device, torch.device) else device
        with stage_timer(timings, "flow", torch_device):
            result = flow_backend.compute(cropped, flow_method or config.flow_method, device=torch_device, cancel=cancel, progress=None)
            vectors = np.asarray(result.forward, dtype=np.float32)
            expected = (len(indices), 2, size, size)
            if vectors.shape != expected:
                raise ValueError(f"flow engine returned shape {vectors.shape}, expected {expected}")
            images = np.asarray(flow_backend.render(vectors, config.flow_encoding))
            if images.shape != (len(indices), size, size, 3) or images.dtype != np.uint8:
                raise ValueError(f"flow rendering returned {images.dtype} {images.shape}, expected uint8 {(len(indices), size, size, 3)}")
        method, fell_back, note = str(result.method_used), bool(result.fell_back), str(getattr(result, "note", "") or "")
    return ClipInput(
        start=start,
        indices=indices,
        flow_indices=flow_indices,
        padded=clip.padded,
        crop_map=cmap,
        rgb=np.ascontiguousarray(cropped[: len(indices)]) if want_rgb else None,
        flow=images,
        flow_method=method,
        flow_fell_back=fell_back,
        flow_note=note,
        timings_ms=timings,
    )
