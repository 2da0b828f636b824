"""From video frames to the transformer's input: an RGB clip and its flow as colour images (seed 000).

T frames at the config's stride (padded by repeating the last), plus one more
when flow is wanted: flow image k is the flow from frame k to frame k+1
(``"t_plus_one"``), computed on the resized and centre-cropped frames and
rendered in colour with the checkpoint's encoding.  A mirrored crop (training's
flip view, or a flipped test view) is mirrored before its flow is computed, so
its flow images show the mirrored video's motion (rightward motion rendered as
leftward), never the mirrored picture of the unmirrored flow.  Inference and training
(token extraction) prepare clips with the same function; many windows over one
video (:func:`prepare_clip_inputs`) get the very same inputs with each frame
read and cropped once and each flow pair computed once.

On a GPU with a method that runs there (``on_device``): each clip's cropped
frames are uploaded once as uint8, the flow is computed from them, rendered and
left on the device (:class:`~core.inference.flow_backend.FlowBackend`'s tensor
path), and the clip's RGB frames are the same upload.  Why: the flow then
makes no round trip through the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from core.flow.render import FlowEncoding
from core.inference.flow_backend import FlowBackend
from core.inference.decode_ahead import DecodeAhead, SerialFrames
from core.inference.frame_memo import FrameMemo, starts_still_to_come
from core.inference.frames import FrameSource
from core.inference.pair_flow import PairFlow, pairs_are_independent, shares_pairs
from core.inference.resident_frames import ResidentFrames
from core.models.transformer.config import TransformerConfig
from core.progress import CancelToken, check
from core.sampling import CENTRE, ClipIndices, CropMap, CropView, clip_indices, resize_and_crop
from core.timings import stage_timer

CropFunction = Callable[[np.ndarray, int], tuple[np.ndarray, CropMap]]


@dataclass(frozen=True, eq=False)
class ClipInput:
    """One clip as the backbones' input, still uint8: what inference and training share.

    ``rgb`` and ``flow`` are ``(T, S, S, 3)`` uint8 (the flow as its colour
    rendering), ``None`` for a stream not asked for: numpy arrays, or torch
    tensors on the device when prepared ``on_device``.  ``timings_ms`` has
    ``decode``, ``preprocess`` and ``flow``.
    """

    start: int
    indices: tuple[int, ...]
    flow_indices: tuple[int, ...] | None
    padded: int
    crop_map: CropMap
    rgb: np.ndarray | torch.Tensor | None
    flow: np.ndarray | torch.Tensor | None
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
    on_device: bool = False,
) -> ClipInput:
    """Read the clip at ``start``, resize and crop it, compute and render its flow.

    T frames (padded by repeating the last), plus one more when flow is wanted:
    flow image k is the flow from frame k to frame k+1 (``"t_plus_one"``),
    computed on the cropped frames and rendered with the config's encoding.
    ``crop(frames, size)`` replaces the centre crop (training's augmentation
    views); ``rgb``/``flow`` default to the streams the variant uses.
    ``on_device``: the backend's tensor path on ``device`` (see the module's note).
    """
    want_rgb = config.uses_rgb if rgb is None else rgb
    want_flow = config.uses_flow if flow is None else flow
    crop = crop or resize_and_crop
    torch_device = torch.device(device) if not isinstance(device, torch.device) else device
    _check_device_path(flow_backend, on_device)
    timings: dict[str, float] = {}
    clip = clip_indices(start, len(frames), config.clip_length, config.frame_stride)
    indices = clip.indices
    flow_indices = _flow_indices(clip, len(frames)) if want_flow else None
    with stage_timer(timings, "decode"):
        raw = np.asarray(frames.read_clip(list(flow_indices or indices)))
    if raw.ndim != 4 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {raw.dtype} {raw.shape}")
    size = config.input_size
    with stage_timer(timings, "preprocess", torch_device if on_device else None):
        cropped, cmap = crop(raw, size)
        if cropped.shape != (len(raw), size, size, 3):
            raise ValueError(f"crop gave frames of shape {cropped.shape}, expected {(len(raw), size, size, 3)}")
        clip_frames = _upload(cropped, torch_device) if on_device else cropped
    method, fell_back, note, images = None, False, "", None
    if want_flow:
        with stage_timer(timings, "flow", torch_device):
            method_asked = flow_method or config.flow_method
            images, method, fell_back, note = clip_flow_images(flow_backend, clip_frames, method_asked, config, torch_device, cancel)
    rgb_frames = clip_frames[: len(indices)] if on_device else np.ascontiguousarray(cropped[: len(indices)])
    return ClipInput(
        start=start,
        indices=indices,
        flow_indices=flow_indices,
        padded=clip.padded,
        crop_map=cmap,
        rgb=rgb_frames if want_rgb else None,
        flow=images,
        flow_method=method,
        flow_fell_back=fell_back,
        flow_note=note,
        timings_ms=timings,
    )


def prepare_clip_inputs(
    frames: FrameSource,
    starts: Sequence[int],
    config: TransformerConfig,
    *,
    flow_backend: FlowBackend,
    flow_method: str | None = None,
    device: str | torch.device = "cpu",
    cancel: CancelToken | None = None,
    crop_position: float | CropView = CENTRE,
    chunk: int = 8,
    on_device: bool = False,
    decode_ahead: bool = True,
) -> Iterator[ClipInput]:
    """The clips at ``starts``, in order, exactly as :func:`prepare_clip_input` makes them one by one.

    Why: windows over one video overlap.  Here each frame is read and cropped
    once, and for methods that solve each pair on its own
    (:func:`core.inference.pair_flow.shares_pairs`) each flow pair is computed
    once, ``chunk`` windows' missing pairs at a time; other methods keep one
    engine call per window.  Only frames and pairs that windows still to come
    can use are kept.  ``crop_position``: where the crop sits along the longer side, or a
    :class:`~core.sampling.CropView` (multi-view testing).  Each clip's ``timings_ms`` has its share of the work done
    for its chunk.  ``on_device``: the backend's tensor path (see the module's
    note): each frame uploaded once, and the flow of a chunk's windows
    in one engine call (:meth:`FlowBackend.flow_of_tensor_clips`: RAFT's pairs
    side by side), each pair the windows share computed once
    (:class:`~core.inference.resident_frames.ResidentFrames`).  ``decode_ahead``:
    the next chunk's frames are read on a CPU thread meanwhile
    (:mod:`core.inference.decode_ahead`); closing the generator waits for it.
    """
    size = config.input_size
    method = flow_method or config.flow_method
    torch_device = torch.device(device) if not isinstance(device, torch.device) else device
    _check_device_path(flow_backend, on_device)
    maps: list[CropMap] = []

    def crop(raw: np.ndarray) -> np.ndarray:
        cropped, cmap = resize_and_crop(raw, size, crop_position)
        if cropped.shape != (len(raw), size, size, 3):
            raise ValueError(f"crop gave frames of shape {cropped.shape}, expected {(len(raw), size, size, 3)}")
        if not maps:  # every frame of a video has the same size, so the same map
            maps.append(cmap)
        return cropped

    memo = FrameMemo(SerialFrames(frames) if decode_ahead else frames, crop)
    ahead = DecodeAhead(memo, strip_threads=1 if torch_device.type == "cpu" else None) if decode_ahead else None
    try:
        yield from _chunks(frames, starts, config, memo, ahead, maps, flow_backend, method, torch_device, cancel, chunk, on_device)
    finally:
        if ahead is not None:
            ahead.close()  # no read in flight once the caller has the video back


def _chunks(frames: FrameSource, starts: Sequence[int], config: TransformerConfig, memo: FrameMemo, ahead: DecodeAhead | None,
            maps: list[CropMap], flow_backend: FlowBackend, method: str, torch_device: torch.device, cancel: CancelToken | None,
            chunk: int, on_device: bool) -> Iterator[ClipInput]:
    """:func:`prepare_clip_inputs`' windows, ``chunk`` at a time (the next chunk's frames decoded ``ahead``)."""
    count, step = len(frames), max(1, chunk)

    def chunk_at(first: int) -> tuple[list[ClipIndices], list[tuple[int, ...]]]:
        clips = [clip_indices(int(s), count, config.clip_length, config.frame_stride) for s in starts[first : first + step]]
        return clips, [_flow_indices(c, count) if config.uses_flow else c.indices for c in clips]

    shared = None
    if config.uses_flow and shares_pairs(method, torch_device) and not on_device:
        shared = PairFlow(flow_backend, method, memo.read_clip, device=torch_device, cancel=cancel)
    resident = ResidentFrames(memo.read_clip, torch_device)
    per_pair = shared is not None and FlowEncoding.from_dict(dict(config.flow_encoding)).normalization == "fixed"
    keep = starts_still_to_come(starts)
    for first in range(0, len(starts), step):
        check(cancel)
        clips, reads = chunk_at(first)
        memo.forget_before(keep[first])
        before = dict(memo.timings_ms)
        if ahead is not None:
            ahead.collect()
        memo.fetch(i for r in reads for i in r)
        share = {k: (memo.timings_ms[k] - before[k]) / len(clips) for k in before}
        if ahead is not None and first + step < len(starts):
            ahead.start(i for r in chunk_at(first + step)[1] for i in r)
        if shared is not None:
            shared.forget_before(keep[first])
            spent = shared.milliseconds
            pairs = [p for r in reads for p in zip(r[:-1], r[1:])]
            shared.ensure(pairs)
            if per_pair:
                shared.images(pairs, lambda vectors: _render(flow_backend, vectors, config, len(vectors)))
            share["flow"] = (shared.milliseconds - spent) / len(clips)
        uploads: list[torch.Tensor | None] = [None] * len(clips)
        device_flows: list[object | None] = [None] * len(clips)
        if on_device:
            chunk_ms: dict[str, float] = {}
            resident.forget_before(keep[first])
            with stage_timer(chunk_ms, "preprocess", torch_device):
                uploads = [resident.clip(read) for read in reads]
            if config.uses_flow:
                with stage_timer(chunk_ms, "flow", torch_device):
                    if pairs_are_independent(method):
                        device_flows = list(resident.window_flows(flow_backend, reads, method, cancel))
                    else:
                        device_flows = list(flow_backend.flow_of_tensor_clips(uploads, method, device=torch_device, cancel=cancel,
                                                                              progress=None))
            for stage, ms in chunk_ms.items():
                share[stage] = share.get(stage, 0.0) + ms / len(clips)
        for clip, read, uploaded, device_flow in zip(clips, reads, uploads, device_flows):
            yield _assemble(clip, read, memo, shared if not per_pair else None, shared if per_pair else None, maps[0], dict(share), config,
                            flow_backend, method, torch_device, cancel, uploaded, device_flow)


def _assemble(clip: ClipIndices, read: tuple[int, ...], memo: FrameMemo, fields: PairFlow | None, rendered: PairFlow | None, cmap: CropMap,
              timings: dict[str, float], config: TransformerConfig, flow_backend: FlowBackend, method: str, device: torch.device,
              cancel: CancelToken | None, uploaded: torch.Tensor | None = None, device_flow: object | None = None) -> ClipInput:
    """One window's :class:`ClipInput` from the remembered frames, and pairs' fields or images (else its own engine call);
    on the device path from its uploaded frames (the RGB frames are the flow's first T) and its flow result."""
    clip_frames = uploaded
    with stage_timer(timings, "preprocess"):
        if uploaded is not None:
            rgb = uploaded[: len(clip.indices)] if config.uses_rgb else None
        else:
            rgb = np.ascontiguousarray(memo.read_clip(clip.indices)) if config.uses_rgb else None
    images, used, fell_back, note = None, None, False, ""
    pairs = list(zip(read[:-1], read[1:]))
    if config.uses_flow:
        with stage_timer(timings, "flow", device):
            if device_flow is not None:
                images = _render_tensor(flow_backend, device_flow.forward, config, device)  # type: ignore[attr-defined]
                used, fell_back = str(device_flow.method_used), bool(device_flow.fell_back)  # type: ignore[attr-defined]
                note = str(getattr(device_flow, "note", "") or "")
            elif rendered is not None:
                images = rendered.images(pairs, lambda vectors: _render(flow_backend, vectors, config, len(vectors)))
                used, fell_back, note = rendered.method_used, rendered.fell_back, rendered.note
            elif fields is not None:
                images = _render(flow_backend, fields.vectors(pairs), config)
                used, fell_back, note = fields.method_used, fields.fell_back, fields.note
            else:
                frames = clip_frames if clip_frames is not None else memo.read_clip(read)
                images, used, fell_back, note = clip_flow_images(flow_backend, frames, method, config, device, cancel)
    return ClipInput(
        start=clip.start, indices=clip.indices, flow_indices=read if config.uses_flow else None, padded=clip.padded, crop_map=cmap,
        rgb=rgb, flow=images, flow_method=used, flow_fell_back=fell_back, flow_note=note, timings_ms=timings,
    )


def _flow_indices(clip: ClipIndices, count: int) -> tuple[int, ...]:
    """T+1 frames give T flow images ("t_plus_one"); the extra one is the last frame near the end."""
    return (*clip.indices, min(clip.indices[-1] + clip.stride, count - 1))


def _check_device_path(flow_backend: FlowBackend, on_device: bool) -> None:
    if on_device and not flow_backend.has_device_path:
        raise ValueError("on_device needs a flow backend with compute_tensor and render_tensor")


def _upload(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """A clip's cropped uint8 frames on ``device``, copied once."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device)


def clip_flow_images(flow_backend: FlowBackend, frames: np.ndarray | torch.Tensor, method: str, config: TransformerConfig, device: torch.device,
               cancel: CancelToken | None) -> tuple[np.ndarray | torch.Tensor, str, bool, str]:
    """One engine call on a clip's frames and its colour images, with what ran: (images, method used, fell back, note).

    Frames in a tensor take the backend's tensor path and give images on ``device``.
    """
    if isinstance(frames, torch.Tensor):
        result = flow_backend.compute_tensor(frames, method, device=device, cancel=cancel, progress=None)  # type: ignore[misc]
        images = _render_tensor(flow_backend, result.forward, config, device)
    else:
        result = flow_backend.compute(frames, method, device=device, cancel=cancel, progress=None)
        images = _render(flow_backend, result.forward, config)
    return images, str(result.method_used), bool(result.fell_back), str(getattr(result, "note", "") or "")


def clips_flow_images(flow_backend: FlowBackend, clips: Sequence[np.ndarray], method: str, config: TransformerConfig, device: torch.device,
                      cancel: CancelToken | None) -> list[tuple[np.ndarray, str, bool, str]]:
    """:func:`clip_flow_images` for several clips' host frames in one engine call
    (:meth:`~core.inference.flow_backend.FlowBackend.flow_of_clips`): each clip's
    (images, method used, fell back, note), the images those of its own call.

    Why: RAFT on a GPU computes the pairs of several clips side by side.
    """
    results = flow_backend.flow_of_clips(list(clips), method, device=device, cancel=cancel, progress=None)
    return [(_render(flow_backend, result.forward, config), str(result.method_used), bool(result.fell_back),
             str(getattr(result, "note", "") or "")) for result in results]


def _render_tensor(flow_backend: FlowBackend, forward: torch.Tensor, config: TransformerConfig, device: torch.device) -> torch.Tensor:
    """:func:`_render` on the device: a clip's flow tensor, checked, as colour images left on ``device``."""
    length, size = config.clip_length, config.input_size
    vectors = torch.as_tensor(forward).to(device=device, dtype=torch.float32)
    if tuple(vectors.shape) != (length, 2, size, size):
        raise ValueError(f"flow engine returned shape {tuple(vectors.shape)}, expected {(length, 2, size, size)}")
    images = flow_backend.render_tensor(vectors, config.flow_encoding)  # type: ignore[misc]
    if tuple(images.shape) != (length, size, size, 3) or images.dtype != torch.uint8 or images.device != vectors.device:
        raise ValueError(f"flow rendering returned {images.dtype} {tuple(images.shape)} on {images.device}, "
                         f"expected uint8 {(length, size, size, 3)} on {vectors.device}")
    return images


def _render(flow_backend: FlowBackend, forward: np.ndarray, config: TransformerConfig, length: int | None = None) -> np.ndarray:
    """A clip's flow vectors (or ``length`` pairs'), checked, as the colour images the flow backbone sees."""
    length, size = config.clip_length if length is None else length, config.input_size
    vectors = np.asarray(forward, dtype=np.float32)
    if vectors.shape != (length, 2, size, size):
        raise ValueError(f"flow engine returned shape {vectors.shape}, expected {(length, 2, size, size)}")
    images = np.asarray(flow_backend.render(vectors, config.flow_encoding))
    if images.shape != (length, size, size, 3) or images.dtype != np.uint8:
        raise ValueError(f"flow rendering returned {images.dtype} {images.shape}, expected uint8 {(length, size, size, 3)}")
    return images
