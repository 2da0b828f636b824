"""A clip in, a :class:`Prediction` out: labels, probabilities, attention and stage timings.

The steps, each timed: read T+1 frames (``decode``), resize the shorter side
and centre-crop (``preprocess``), compute flow on the cropped frames and
render it in colour with the checkpoint's encoding (``flow``), the RGB and
flow backbones, and the fusion encoder with its head (``fusion``, attention
included when asked).  On CUDA the model runs under autocast and several
clips go through it as one batch; on a CPU in float32.  Video-level
prediction averages K uniformly spread clips (TSN); a timeline slides
windows over the whole video.

The model and the flow engine are injected (:class:`FlowBackend`), so tests
can run with a stand-in flow and the viewer with its own device choice.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch

from core.errors import CoreError, InputError
from core.models.cancel_hooks import cancellable
from core.models.config import FAMILY_TRANSFORMER, ModelConfig
from core.models.explain import AttentionMaps
from core.models.fusion import TwoStreamTransformer
from core.models.layout import FLOW, RGB
from core.progress import CancelToken, check, report
from core.timings import STAGES, clip_timings, stage_timer
from core.sampling import CropMap, clip_indices, resize_and_crop, sliding_window_starts, uniform_clip_starts

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


class FrameSource(Protocol):
    """What inference reads frames from: a :class:`core.video.Video` or :class:`ArrayFrames`."""

    def __len__(self) -> int: ...

    def read_clip(self, indices: Sequence[int]) -> np.ndarray: ...


class ArrayFrames:
    """Frames already in memory, ``(N, H, W, 3)`` uint8 RGB, readable like a video."""

    def __init__(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}")
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def read_clip(self, indices: Sequence[int]) -> np.ndarray:
        return self.frames[np.asarray(indices, dtype=np.int64)]


def as_frame_source(source: FrameSource | np.ndarray) -> FrameSource:
    if isinstance(source, np.ndarray):
        return ArrayFrames(source)
    if not hasattr(source, "read_clip") or not hasattr(source, "__len__"):
        raise TypeError(f"expected a Video or an (N, H, W, 3) uint8 array, got {type(source).__name__}")
    return source


@dataclass(frozen=True)
class FlowBackend:
    """The flow engine as inference uses it.

    ``compute(frames_uint8 (N, H, W, 3), method, device=, cancel=, progress=)``
    returns an object with ``forward`` ``(N-1, 2, H, W)`` float32, ``method_used``,
    ``fell_back`` and ``note``; ``render(flow (N-1, 2, H, W), encoding_dict)``
    returns ``(N-1, H, W, 3)`` uint8 colour images.
    """

    compute: Callable[..., Any]
    render: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]


def default_flow_backend(*, raft_weights: str | os.PathLike[str] | None = None) -> FlowBackend:
    """``core.flow.compute_flow`` and ``core.flow.render.flow_to_rgb``, imported when first needed.

    ``raft_weights`` is an explicit RAFT weights file for checkpoints whose flow method is RAFT.
    """
    from core.flow import compute_flow
    from core.flow.render import FlowEncoding, flow_to_rgb

    def compute(frames: np.ndarray, method: str, **kwargs: Any) -> Any:
        return compute_flow(frames, method, raft_weights=None if raft_weights is None else str(raft_weights), **kwargs)

    def render(flow: np.ndarray, encoding: Mapping[str, Any]) -> np.ndarray:
        return flow_to_rgb(flow, FlowEncoding.from_dict(dict(encoding)))

    return FlowBackend(compute=compute, render=render)


@dataclass(frozen=True, eq=False)
class Prediction:
    """One clip's result.  ``timings_ms`` has every stage of :data:`STAGES` and ``total``
    (a batched clip reports its share of the batch's backbone and fusion time)."""

    class_names: tuple[str, ...]
    logits: np.ndarray
    probabilities: np.ndarray
    top: list[tuple[str, float]]
    start: int
    frame_indices: tuple[int, ...]
    flow_frame_indices: tuple[int, ...] | None
    padded: int
    crop_map: CropMap
    flow_method: str | None
    flow_fell_back: bool
    flow_note: str
    timings_ms: dict[str, float]
    attention: AttentionMaps | None = None

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


@dataclass(frozen=True, eq=False)
class VideoPrediction:
    """Several clips of one video; ``probabilities`` is the mean of the clips' softmax."""

    class_names: tuple[str, ...]
    probabilities: np.ndarray
    top: list[tuple[str, float]]
    clips: list[Prediction]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def flow_fell_back(self) -> bool:
        return any(c.flow_fell_back for c in self.clips)


@dataclass
class _PreparedClip:
    start: int
    indices: tuple[int, ...]
    flow_indices: tuple[int, ...] | None
    padded: int
    crop_map: CropMap
    rgb: torch.Tensor | None  # (3, T, S, S) normalised, on the device
    flow: torch.Tensor | None
    flow_method: str | None
    flow_fell_back: bool
    flow_note: str
    timings_ms: dict[str, float]


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
    config: ModelConfig,
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


def normalise_frames(frames_uint8: np.ndarray, mean: torch.Tensor, std: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(T, S, S, 3) uint8 -> (3, T, S, S) float on ``device``, normalised with ``mean``/``std`` shaped (3, 1, 1, 1)."""
    x = torch.from_numpy(np.ascontiguousarray(frames_uint8)).to(device, non_blocking=True)
    x = x.permute(3, 0, 1, 2).float().div_(255.0)
    return (x - mean) / std


def aggregate_predictions(clips: Sequence[Prediction], top: int = 5) -> VideoPrediction:
    """Clips of one video as one result: the mean of their softmax, their timings summed."""
    if not clips:
        raise ValueError("aggregate_predictions needs at least one clip")
    names = clips[0].class_names
    probs = np.mean([c.probabilities for c in clips], axis=0)
    keys = dict.fromkeys(k for c in clips for k in c.timings_ms)  # first-seen order: the stages, then total
    timings = {k: float(sum(c.timings_ms.get(k, 0.0) for c in clips)) for k in keys}
    return VideoPrediction(class_names=names, probabilities=probs, top=top_k(probs, names, top), clips=list(clips), timings_ms=timings)


def checked_probabilities(scores: torch.Tensor, what: str = "logits") -> tuple[np.ndarray, np.ndarray]:
    """A batch of class scores as float32 numpy, and their softmax; non-finite scores are a
    :class:`~core.errors.CoreError` (broken weights or input), never a silent NaN ranking."""
    scores_np = scores.float().cpu().numpy()
    if not np.isfinite(scores_np).all():
        raise CoreError(f"the model produced non-finite {what} (NaN or inf): its weights or its input are broken")
    return scores_np, torch.softmax(torch.from_numpy(scores_np), dim=1).numpy()


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(k, len(class_names)))]
    return [(class_names[i], float(probabilities[i])) for i in order]


class Classifier:
    """A loaded model plus everything needed to feed it from video frames."""

    def __init__(
        self,
        model: TwoStreamTransformer,
        config: ModelConfig | None = None,
        *,
        device: str | torch.device = "auto",
        flow_backend: FlowBackend | None = None,
        batch_size: int | None = None,
        flow_method: str | None = None,
        precision: str = "auto",
    ) -> None:
        """``precision``: ``auto`` is half-precision autocast on CUDA and float32 on a CPU;
        ``bfloat16`` on a CPU with native bf16 (AVX512-BF16, AMX) roughly halves the big
        backbones' time at about 1% relative error in their tokens."""
        from core.device import resolve_device

        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.config = config or model.config
        self.device = resolve_device(device)
        self.precision = precision
        self.model = model.to(self.device).eval()
        self._flow_backend = flow_backend
        self.batch_size = batch_size or (8 if self.device.type == "cuda" else 1)
        self.flow_method = flow_method or self.config.flow_method
        mean = torch.tensor(self.config.mean, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)
        std = torch.tensor(self.config.std, dtype=torch.float32, device=self.device).view(3, 1, 1, 1)
        self._mean, self._std = mean, std

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], *, device: str | torch.device = "auto", **kwargs: Any) -> "Classifier":
        from core.device import resolve_device
        from core.models.checkpoint import load_checkpoint

        resolved = resolve_device(device)
        model, config = load_checkpoint(path, resolved)
        if getattr(config, "family", FAMILY_TRANSFORMER) != FAMILY_TRANSFORMER:
            from core.models.families import make_classifier

            return make_classifier(model, config, device=resolved, **kwargs)  # same predict_* calls, same Prediction
        return cls(model, config, device=resolved, **kwargs)

    @property
    def flow_backend(self) -> FlowBackend:
        if self._flow_backend is None:
            self._flow_backend = default_flow_backend()
        return self._flow_backend

    # -- public calls ------------------------------------------------------------------

    def predict_clip(
        self,
        source: FrameSource | np.ndarray,
        start: int = 0,
        *,
        attention: bool = False,
        target_class: int | None = None,
        top: int = 5,
        cancel: CancelToken | None = None,
        progress: Callable[..., None] | None = None,
    ) -> Prediction:
        """Classify the clip starting at frame ``start`` (padded by repeating the last frame near the end)."""
        return self.predict_clips(source, [start], attention=attention, target_class=target_class, top=top, cancel=cancel, progress=progress)[0]

    def predict_clips(
        self,
        source: FrameSource | np.ndarray,
        starts: Sequence[int],
        *,
        attention: bool = False,
        target_class: int | None = None,
        top: int = 5,
        cancel: CancelToken | None = None,
        progress: Callable[..., None] | None = None,
    ) -> list[Prediction]:
        """Classify the clips at ``starts``; on CUDA several go through the model as one batch."""
        frames = as_frame_source(source)
        if len(starts) == 0:
            raise ValueError("predict_clips needs at least one clip start")
        if target_class is not None and not 0 <= target_class < self.config.num_classes:
            raise ValueError(f"target_class must be in [0, {self.config.num_classes}), got {target_class}")
        results: list[Prediction] = []
        total = len(starts)
        for first in range(0, total, self.batch_size):
            batch_starts = list(starts[first : first + self.batch_size])
            prepared = []
            for offset, start in enumerate(batch_starts):
                check(cancel)
                report(progress, first + offset, total, f"clip at frame {start}: decoding and flow")
                prepared.append(self._prepare(frames, int(start), cancel))
            check(cancel)
            report(progress, first + len(batch_starts) - 1, total, "running the model")
            with cancellable(self.model, cancel):
                results.extend(self._run_model(prepared, attention, target_class, top))
        report(progress, total, total, "done")
        return results

    def predict_video(
        self,
        source: FrameSource | np.ndarray,
        num_clips: int = 5,
        *,
        attention: bool = False,
        top: int = 5,
        cancel: CancelToken | None = None,
        progress: Callable[..., None] | None = None,
    ) -> VideoPrediction:
        """Video-level prediction: ``num_clips`` clips spread uniformly (TSN), softmax averaged."""
        frames = as_frame_source(source)
        starts = uniform_clip_starts(len(frames), num_clips, self.config.clip_length, self.config.frame_stride)
        return self._aggregate(self.predict_clips(frames, starts, attention=attention, top=top, cancel=cancel, progress=progress), top)

    def predict_timeline(
        self,
        source: FrameSource | np.ndarray,
        step: int | None = None,
        *,
        top: int = 5,
        cancel: CancelToken | None = None,
        progress: Callable[..., None] | None = None,
    ) -> VideoPrediction:
        """Sliding windows every ``step`` frames (default: one clip span) over the whole video."""
        frames = as_frame_source(source)
        starts = sliding_window_starts(len(frames), self.config.clip_length, self.config.frame_stride, step)
        return self._aggregate(self.predict_clips(frames, starts, top=top, cancel=cancel, progress=progress), top)

    # -- stages ---------------------------------------------------------------------------

    def _prepare(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> _PreparedClip:
        clip = prepare_clip_input(frames, start, self.config, flow_backend=self.flow_backend, flow_method=self.flow_method, device=self.device, cancel=cancel)
        timings = dict(clip.timings_ms)
        with stage_timer(timings, "preprocess"):
            rgb = self._normalise(clip.rgb) if clip.rgb is not None else None
        flow = None
        if clip.flow is not None:
            with stage_timer(timings, "flow", self.device):
                flow = self._normalise(clip.flow)
        return _PreparedClip(
            start=clip.start,
            indices=clip.indices,
            flow_indices=clip.flow_indices,
            padded=clip.padded,
            crop_map=clip.crop_map,
            rgb=rgb,
            flow=flow,
            flow_method=clip.flow_method,
            flow_fell_back=clip.flow_fell_back,
            flow_note=clip.flow_note,
            timings_ms=timings,
        )

    def _normalise(self, frames_uint8: np.ndarray) -> torch.Tensor:
        return normalise_frames(frames_uint8, self._mean, self._std, self.device)

    def _autocast(self):
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.precision)
        if self.precision == "auto" and self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def _run_model(self, prepared: list[_PreparedClip], attention: bool, target_class: int | None, top: int) -> list[Prediction]:
        model, device = self.model, self.device
        batch = len(prepared)
        shared: dict[str, float] = {}
        rgb = torch.stack([p.rgb for p in prepared]) if prepared[0].rgb is not None else None
        flow = torch.stack([p.flow for p in prepared]) if prepared[0].flow is not None else None
        maps: list[AttentionMaps] | None = None
        with torch.no_grad(), self._autocast():
            rgb_tokens = flow_tokens = None
            if self.config.uses_rgb:
                with stage_timer(shared, "rgb_backbone", device):
                    rgb_tokens = model.stream_tokens(RGB, rgb)
            if self.config.uses_flow:
                with stage_timer(shared, "flow_backbone", device):
                    flow_tokens = model.stream_tokens(FLOW, flow)
            with stage_timer(shared, "fusion", device):
                if attention:
                    explained = model.explain(rgb_tokens=rgb_tokens, flow_tokens=flow_tokens, target_class=target_class)
                    logits, maps = explained.logits, explained.maps
                else:
                    logits = model.forward_tokens(rgb_tokens, flow_tokens)
        logits_np, probs = checked_probabilities(logits)
        names = self.config.class_names
        results = []
        for b, clip in enumerate(prepared):
            timings = clip_timings(clip.timings_ms, shared, batch)
            clip_maps = maps[b].with_frames(clip.indices, clip.crop_map) if maps is not None else None
            results.append(
                Prediction(
                    class_names=names,
                    logits=logits_np[b],
                    probabilities=probs[b],
                    top=top_k(probs[b], names, top),
                    start=clip.start,
                    frame_indices=clip.indices,
                    flow_frame_indices=clip.flow_indices,
                    padded=clip.padded,
                    crop_map=clip.crop_map,
                    flow_method=clip.flow_method,
                    flow_fell_back=clip.flow_fell_back,
                    flow_note=clip.flow_note,
                    timings_ms=timings,
                    attention=clip_maps,
                )
            )
        return results

    def _aggregate(self, clips: list[Prediction], top: int) -> VideoPrediction:
        return aggregate_predictions(clips, top)
