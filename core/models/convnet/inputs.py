"""From video frames to what the two-stream ConvNet eats: snippets of one frame plus L stacked flow fields.

A snippet's window is ``L + 1`` frames at the config's stride (the end of a
short video repeats its last frame, as :func:`core.sampling.clip_indices`
does); the spatial stream sees the window's centre frame, the temporal stream
the flow of its L consecutive pairs as ``2L`` channels (x then y of each
field), computed on the resized and centre-cropped frames, so displacements are
in pixels of the model's input.  Test time spreads ``test_snippets`` (25)
windows uniformly over the video (seed 002); training draws one window at
random inside each of S equal segments (TSN), or, for a conv fusion with
``fusion_strides`` (seed 003), a clip of S snippets a drawn stride apart
(:func:`sample_starts`).  A network that reads a sample's snippets together
(conv fusion, ConvLSTM) is tested on groups of S spaced as in training
(:func:`fusion_groups`).  A mirrored view (a flipped test
crop) is the unmirrored snippets seen in a mirror (:func:`mirrored`), as
``--augment flip`` trains them: the flow's horizontal components change sign.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from core.inference.flow_backend import default_flow_backend
from core.inference.frames import read_frames
from core.models.convnet.config import ConvNetConfig
from core.models.shared.inputs import normalise_frames
from core.progress import CancelToken, check, report
from core.sampling import (CENTRE, ClipIndices, CropMap, CropView, as_crop_view, clip_indices, clip_span, random_strided_clip, resize_and_crop,
                           strided_clips, uniform_clip_starts)
from core.timings import stage_timer


def snippet_starts(num_frames: int, count: int, config: ConvNetConfig, *, rng: np.random.Generator | None = None) -> list[int]:
    """Window starts of ``count`` snippets: centred in equal segments, or (with ``rng``)
    uniformly at random inside each segment (TSN training sampling)."""
    starts = uniform_clip_starts(num_frames, count, config.clip_length, config.frame_stride)
    if rng is None:
        return starts
    room = num_frames - clip_span(config.clip_length, config.frame_stride)
    if room <= 0:
        return starts
    bounds = np.linspace(0, room + 1, count + 1)
    return [int(rng.integers(int(a), max(int(a) + 1, int(b)))) for a, b in zip(bounds[:-1], bounds[1:])]


def window_positions(num_frames: int, config: ConvNetConfig) -> int:
    """How many snippet windows fit whole in the video (1 when none does: the window starts at 0 and pads)."""
    return max(num_frames - clip_span(config.clip_length, config.frame_stride) + 1, 1)


def sample_starts(num_frames: int, count: int, config: ConvNetConfig, *, rng: np.random.Generator | None = None) -> list[int]:
    """Window starts of one training (with ``rng``) or validation sample of ``count`` snippets.

    Without ``fusion_strides``: TSN's, one per equal segment (:func:`snippet_starts`).  With them (seed
    003): a clip of ``count`` snippets a stride apart, the stride and then the place drawn uniformly
    (:func:`core.sampling.random_strided_clip`); validation takes the middle stride of the set, centred."""
    strides = config.fusion_strides
    if not strides:
        return snippet_starts(num_frames, count, config, rng=rng)
    positions = window_positions(num_frames, config)
    if rng is None:
        return list(strided_clips(positions, count, (strides[len(strides) // 2],), 1)[0])
    return list(random_strided_clip(positions, count, strides, rng))


def stride_clip_count(count: int, config: ConvNetConfig) -> int:
    """Test clips per stride: the ``ceil(count / S)`` groups shared among the strides, rounded up."""
    return -(-fusion_group_count(count, config) // len(config.fusion_strides))


def fusion_group_count(count: int, config: ConvNetConfig) -> int:
    """How many groups of ``fusion_snippets`` hold at least ``count`` test snippets."""
    return -(-int(count) // int(config.fusion_snippets))


def fusion_groups(num_frames: int, count: int, config: ConvNetConfig) -> list[list[int]]:
    """The conv fusion's test samples: ``ceil(count / S)`` groups of S = ``config.fusion_snippets``
    window starts, each group spaced as training spaces a sample's S snippets (one in each of S
    equal segments, at the same place in each, so a segment's length apart: training draws them
    anywhere in their segments, as far apart on average).

    Together the G x S starts are :func:`core.sampling.uniform_clip_starts`' G x S (the n-th
    centred at ``(n + 0.5) / (G S)`` of the room), group k taking every G-th from the k-th:
    start ``j G + k`` is centred at ``(j + (k + 0.5) / G) / S``, in segment j of S.  For an odd G
    the middle group is what validation scores (:func:`snippet_starts` without a generator).

    With ``fusion_strides`` (seed 003) the groups are :func:`core.sampling.strided_clips`: for each
    stride in turn, :func:`stride_clip_count` clips of S snippets that stride apart, centred in equal
    segments of the window starts.
    """
    per = int(config.fusion_snippets)
    if per < 1:
        raise ValueError(f"fusion_groups needs the config's fusion_snippets (>= 1), got {per}")
    if config.fusion_strides:  # seed 003: at every stride, clips of S snippets centred in equal segments
        clips = strided_clips(window_positions(num_frames, config), per, config.fusion_strides, stride_clip_count(count, config))
        return [list(clip) for clip in clips]
    groups = fusion_group_count(count, config)
    starts = uniform_clip_starts(num_frames, groups * per, config.clip_length, config.frame_stride)
    return [starts[k::groups] for k in range(groups)]


def snippet_windows(num_frames: int, starts: Sequence[int], config: ConvNetConfig) -> list[ClipIndices]:
    return [clip_indices(int(s), num_frames, config.clip_length, config.frame_stride) for s in starts]


def stack_flow(forward: np.ndarray, backward: np.ndarray | None, config: ConvNetConfig) -> np.ndarray:
    """L flow fields ``(L, 2, H, W)`` (and the backward ones for bi-directional input)
    to the temporal stream's ``(2L, H, W)`` float32 input.

    Bi-directional: the L/2 pairs before the centre frame contribute their
    backward flow, the L/2 after it their forward flow.  Then each field's mean
    displacement is subtracted (``mean_subtraction``), values are divided by
    ``flow_scale`` (seed 002: 20) and clamped to +-``flow_bound`` (in those units).
    """
    length = config.flow_length
    forward = np.asarray(forward, dtype=np.float32)
    if forward.ndim != 4 or forward.shape[:2] != (length, 2):
        raise ValueError(f"expected {length} forward flow fields (L, 2, H, W), got shape {forward.shape}")
    fields = forward
    if config.bidirectional:
        if backward is None or np.shape(backward) != forward.shape:
            raise ValueError(f"bi-directional input needs backward flow of shape {forward.shape}, got {None if backward is None else np.shape(backward)}")
        half = length // 2
        fields = np.concatenate((np.asarray(backward, dtype=np.float32)[:half], forward[half:]), axis=0)
    if config.mean_subtraction:
        fields = fields - fields.mean(axis=(2, 3), keepdims=True)
    if config.flow_scale != 1.0:
        fields = fields / np.float32(config.flow_scale)
    if config.flow_bound > 0:
        fields = np.clip(fields, -config.flow_bound, config.flow_bound)
    return np.ascontiguousarray(fields.reshape(2 * length, *fields.shape[2:]), dtype=np.float32)


def mirrored(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A sample seen in a mirror: frames flipped left to right, and the flow stacks too, with their horizontal
    components negated (motion to the right becomes motion to the left); vertical components stay."""
    out = {}
    for name, tensor in inputs.items():
        flipped = torch.flip(tensor, dims=[-1])
        if name == "flow":  # (S, 2L, H, W): channels u0, v0, u1, v1, ...
            flipped[:, 0::2] = -flipped[:, 0::2]
        out[name] = flipped
    return out


@dataclass(eq=False)
class PreparedSnippets:
    """One sample's snippets, ready for the model (no batch dimension).

    ``rgb`` (S, 3, H, W) and ``flow`` (S, 2L, H, W) float32 on the CPU, or
    ``None`` for a stream the variant does not use; ``windows`` the frames of each
    snippet; ``flow_*`` what the flow engine did; ``timings_ms`` per stage.
    """

    rgb: torch.Tensor | None
    flow: torch.Tensor | None
    windows: list[ClipIndices]
    centre_offset: int
    crop_map: CropMap
    flow_method: str | None = None
    flow_fell_back: bool = False
    flow_note: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def inputs(self) -> dict[str, torch.Tensor]:
        """The model's keyword inputs (``model(**inputs)`` after adding a batch dimension)."""
        return {name: value for name, value in (("rgb", self.rgb), ("flow", self.flow)) if value is not None}

    @property
    def centre_frames(self) -> list[int]:
        return [w.indices[self.centre_offset] for w in self.windows]


def prepare_snippets(
    source: Any,
    starts: Sequence[int],
    config: ConvNetConfig,
    *,
    flow_backend: Any = None,
    flow_method: str | None = None,
    device: str | torch.device = "cpu",
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
    crop_position: float | CropView = CENTRE,
) -> PreparedSnippets:
    """Decode, crop and (for the temporal stream) compute and stack flow for the windows at ``starts``.

    ``source``: a :class:`core.video.Video` or anything with ``len`` and
    ``read_clip``.  ``flow_backend``: a :class:`core.inference.FlowBackend`
    (default: the flow engine); its ``compute`` gets the cropped frames of one
    window and ``backward=True`` for bi-directional input.  ``crop_position``:
    where the square crop sits along the longer side, or a :class:`~core.sampling.CropView`
    (multi-view testing); a flipped view crops unmirrored, computes the flow there and
    then mirrors the stacks with :func:`mirrored` (the flow computed once, as training's flip).
    """
    if len(starts) == 0:
        raise ValueError("prepare_snippets needs at least one snippet start")
    num_frames = len(source)
    windows = snippet_windows(num_frames, starts, config)
    timings: dict[str, float] = {}
    rgb_frames: list[np.ndarray] = []
    stacks: list[np.ndarray] = []
    method_used: list[str] = []
    notes: list[str] = []
    fell_back = False
    cmap: CropMap | None = None
    if config.uses_flow and flow_backend is None:
        flow_backend = default_flow_backend()
    method = flow_method or config.flow_method
    view = as_crop_view(crop_position)
    flip = view.flip
    crop = dataclasses.replace(view, flip=False) if flip else crop_position
    for n, window in enumerate(windows):
        check(cancel)
        report(progress, n, len(windows), f"snippet {n + 1}/{len(windows)}: decoding" + (" and flow" if config.uses_flow else ""))
        indices = window.indices if config.uses_flow else (window.indices[config.centre_offset],)
        with stage_timer(timings, "decode"):
            raw = read_frames(source, indices)
        with stage_timer(timings, "preprocess"):
            cropped, cmap = resize_and_crop(raw, config.input_size, crop)
        if config.uses_rgb:
            rgb_frames.append(cropped[config.centre_offset] if config.uses_flow else cropped[0])
        if config.uses_flow:
            with stage_timer(timings, "flow"):
                result = flow_backend.compute(cropped, method, device=device, cancel=cancel, progress=None, backward=config.bidirectional)
                stacks.append(stack_flow(result.forward, getattr(result, "backward", None), config))
            method_used.append(str(result.method_used))
            fell_back = fell_back or bool(result.fell_back)
            if getattr(result, "note", ""):
                notes.append(str(result.note))
    assert cmap is not None
    with stage_timer(timings, "preprocess"):
        rgb = normalise_frames(np.stack(rgb_frames), config.mean, config.std) if rgb_frames else None
        flow = torch.from_numpy(np.stack(stacks)) if stacks else None
        if flip:
            seen = mirrored({name: value for name, value in (("rgb", rgb), ("flow", flow)) if value is not None})
            rgb, flow = seen.get("rgb"), seen.get("flow")
            cmap = dataclasses.replace(cmap, flipped=True)
    report(progress, len(windows), len(windows), "snippets ready")
    return PreparedSnippets(
        rgb=rgb,
        flow=flow,
        windows=windows,
        centre_offset=config.centre_offset,
        crop_map=cmap,
        flow_method=(method_used[0] if len(set(method_used)) == 1 else ",".join(sorted(set(method_used)))) if method_used else None,
        flow_fell_back=fell_back,
        flow_note="; ".join(sorted(set(notes))),
        timings_ms=timings,
    )
