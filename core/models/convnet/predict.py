"""Inference for the ConvNet families: frames in, :class:`core.inference.Prediction` out.

The results are the very objects the transformer's :class:`core.inference.Classifier`
returns (``Prediction``/``VideoPrediction``, the same stage timings), with a
:class:`~core.models.convnet.saliency.CamMaps` in ``attention`` when asked, so
``classify`` and the viewer show a ConvNet checkpoint like any other.

:class:`SnippetClassifier` holds what both families share (batching, timing,
softmax, top-k, CAM frame mapping); a family says how a clip start becomes a
model sample (:meth:`SnippetClassifier.clip_sample`) and how a whole video is
sampled (:meth:`SnippetClassifier.video_samples`).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from core.errors import InputError
from core.models.cancel_hooks import cancellable
from core.progress import CancelToken, check, report
from core.sampling import CropMap, sliding_window_starts
from core.timings import clip_timings, stage_timer

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclass(eq=False)
class Sample:
    """One model sample (no batch dimension) and where its maps sit in the video."""

    inputs: dict[str, torch.Tensor]
    start: int
    frame_indices: tuple[int, ...]
    padded: int
    crop_map: CropMap
    rgb_map_frames: list[tuple[int, ...]] | None
    flow_map_frames: list[tuple[int, ...]] | None
    flow_frame_indices: tuple[int, ...] | None = None
    flow_method: str | None = None
    flow_fell_back: bool = False
    flow_note: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


class SnippetClassifier:
    """A loaded ConvNet-family model plus everything needed to feed it from video frames."""

    def __init__(
        self,
        model: torch.nn.Module,
        config: Any = None,
        *,
        device: str | torch.device = "auto",
        flow_backend: Any = None,
        flow_method: str | None = None,
        batch_size: int | None = None,
        precision: str = "auto",
    ) -> None:
        from core.device import resolve_device

        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.config = config or model.config
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.precision = precision
        self._flow_backend = flow_backend
        self.flow_method = flow_method or getattr(self.config, "flow_method", None)
        self.batch_size = batch_size or (8 if self.device.type == "cuda" else 4)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], *, device: str | torch.device = "auto", **kwargs: Any) -> "SnippetClassifier":
        from core.device import resolve_device
        from core.models.checkpoint import load_checkpoint

        resolved = resolve_device(device)
        model, config = load_checkpoint(path, resolved)
        return cls(model, config, device=resolved, **kwargs)

    @property
    def flow_backend(self) -> Any:
        if self._flow_backend is None:
            from core.inference import default_flow_backend

            self._flow_backend = default_flow_backend()
        return self._flow_backend

    # -- what a family defines ------------------------------------------------------------

    def clip_sample(self, source: Any, start: int, cancel: CancelToken | None) -> Sample:
        raise NotImplementedError

    def video_samples(self, source: Any, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        raise NotImplementedError

    def default_video_count(self) -> int:
        return 5

    # -- public calls (the signatures of core.inference.Classifier) -------------------------

    def predict_clip(self, source: Any, start: int = 0, *, attention: bool = False, target_class: int | None = None, top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None):
        """Classify the clip (one sample) starting at frame ``start``."""
        return self.predict_clips(source, [start], attention=attention, target_class=target_class, top=top, cancel=cancel, progress=progress)[0]

    def predict_clips(self, source: Any, starts: Sequence[int], *, attention: bool = False, target_class: int | None = None, top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> list:
        """One prediction per clip start, several clips per model batch."""
        from core.inference import as_frame_source

        frames = as_frame_source(source)
        if len(starts) == 0:
            raise ValueError("predict_clips needs at least one clip start")
        self._check_target(target_class)
        total = len(starts)
        samples = []
        for n, start in enumerate(starts):
            check(cancel)
            report(progress, n, total, f"clip at frame {start}: decoding and preparing")
            if not 0 <= int(start) < len(frames):
                raise ValueError(f"clip start {start} is outside the video's {len(frames)} frames")
            samples.append(self.clip_sample(frames, int(start), cancel))
        report(progress, total, total, "running the model")
        results = self._run_batched(samples, attention, target_class, top, cancel)
        report(progress, total, total, "done")
        return results

    def predict_video(self, source: Any, num_clips: int | None = None, *, attention: bool = False, top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None):
        """Video-level prediction from ``num_clips`` samples spread over the video, softmax averaged."""
        from core.inference import as_frame_source

        frames = as_frame_source(source)
        count = self.default_video_count() if num_clips is None else int(num_clips)
        if count < 1:
            raise ValueError(f"num_clips must be >= 1, got {count}")
        samples = self.video_samples(frames, count, cancel, progress)
        report(progress, count, count, "running the model")
        return self._aggregate(self._run_batched(samples, attention, None, top, cancel), top)

    def predict_timeline(self, source: Any, step: int | None = None, *, top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None):
        """Sliding windows every ``step`` frames (default: one window span) over the whole video."""
        from core.inference import as_frame_source

        frames = as_frame_source(source)
        starts = sliding_window_starts(len(frames), self.config.clip_length, self.config.frame_stride, step)
        return self._aggregate(self.predict_clips(frames, starts, top=top, cancel=cancel, progress=progress), top)

    # -- running the model -------------------------------------------------------------------

    def _check_target(self, target_class: int | None) -> None:
        if target_class is not None and not 0 <= target_class < self.config.num_classes:
            raise ValueError(f"target_class must be in [0, {self.config.num_classes}), got {target_class}")

    def _autocast(self):
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.precision)
        if self.precision == "auto" and self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def _run_batched(self, samples: list[Sample], attention: bool, target_class: int | None, top: int, cancel: CancelToken | None) -> list:
        results = []
        groups: list[list[Sample]] = []
        for sample in samples:  # samples of different shapes (snippet counts) never share a batch
            shape = {k: tuple(v.shape) for k, v in sample.inputs.items()}
            if groups and len(groups[-1]) < self.batch_size and {k: tuple(v.shape) for k, v in groups[-1][0].inputs.items()} == shape:
                groups[-1].append(sample)
            else:
                groups.append([sample])
        for group in groups:
            check(cancel)
            with cancellable(self.model, cancel):
                results.extend(self._run_model(group, attention, target_class, top))
        return results

    def _run_model(self, samples: list[Sample], attention: bool, target_class: int | None, top: int) -> list:
        from core.inference import Prediction, checked_probabilities, top_k
        from core.models.convnet.model import resolve_targets
        from core.models.convnet.saliency import CamMaps, to_numpy_maps

        model, device = self.model, self.device
        batch = len(samples)
        inputs = {key: torch.stack([s.inputs[key] for s in samples]).to(device) for key in samples[0].inputs}
        shared: dict[str, float] = {}
        rgb_cams: list = []
        flow_cams: list = []
        classes = None
        with torch.no_grad(), self._autocast():
            with stage_timer(shared, "rgb_backbone", device):
                rgb_maps = model.rgb_branch(inputs)
            with stage_timer(shared, "flow_backbone", device):
                flow_maps = model.flow_branch(inputs)
            with stage_timer(shared, "fusion", device):
                logits = model.fuse(rgb_maps, flow_maps)
                if attention:
                    classes = resolve_targets(logits, target_class)
                    rgb_cam, flow_cam = model.stream_cams(rgb_maps, flow_maps, classes)
                    rgb_cams, flow_cams = to_numpy_maps(rgb_cam), to_numpy_maps(flow_cam)
        logits_np, probs = checked_probabilities(logits, "scores")
        names = self.config.class_names
        results = []
        for b, sample in enumerate(samples):
            timings = clip_timings(sample.timings_ms, shared, batch)
            maps = None
            if attention and classes is not None:
                maps = CamMaps(rgb=rgb_cams[b] if rgb_cams else None, flow=flow_cams[b] if flow_cams else None, target_class=int(classes[b]))
                maps = maps.with_frames(sample.rgb_map_frames if maps.rgb is not None else None, sample.flow_map_frames if maps.flow is not None else None, sample.crop_map)
            results.append(
                Prediction(
                    class_names=names,
                    logits=logits_np[b],
                    probabilities=probs[b],
                    top=top_k(probs[b], names, top),
                    start=sample.start,
                    frame_indices=sample.frame_indices,
                    flow_frame_indices=sample.flow_frame_indices,
                    padded=sample.padded,
                    crop_map=sample.crop_map,
                    flow_method=sample.flow_method,
                    flow_fell_back=sample.flow_fell_back,
                    flow_note=sample.flow_note,
                    timings_ms=timings,
                    attention=maps,
                )
            )
        return results

    def _aggregate(self, clips: list, top: int):
        from core.inference import aggregate_predictions

        return aggregate_predictions(clips, top)


class ConvNetClassifier(SnippetClassifier):
    """A clip is one snippet (its window of L + 1 frames); a video is ``test_snippets``
    snippets (25) spread uniformly, scored together when the model combines them
    (ConvLSTM, conv fusion) and one by one with their softmax averaged otherwise."""

    def default_video_count(self) -> int:
        return int(self.config.test_snippets)

    def _prepare(self, source: Any, starts: Sequence[int], cancel: CancelToken | None, progress: Callable[..., None] | None = None):
        from core.models.convnet.inputs import prepare_snippets

        return prepare_snippets(
            source, starts, self.config,
            flow_backend=self.flow_backend if self.config.uses_flow else None,
            flow_method=self.flow_method, device=self.device, cancel=cancel, progress=progress,
        )

    def _sample(self, prepared: Any) -> Sample:
        windows = prepared.windows
        frames = tuple(sorted({i for w in windows for i in w.indices}))
        per_map = [tuple(w.indices) for w in windows]
        return Sample(
            inputs=prepared.inputs(),
            start=windows[0].start,
            frame_indices=frames,
            padded=max(w.padded for w in windows),
            crop_map=prepared.crop_map,
            rgb_map_frames=per_map if self.config.uses_rgb else None,
            flow_map_frames=per_map if self.config.uses_flow else None,
            flow_frame_indices=frames if self.config.uses_flow else None,
            flow_method=prepared.flow_method,
            flow_fell_back=prepared.flow_fell_back,
            flow_note=prepared.flow_note,
            timings_ms=dict(prepared.timings_ms),
        )

    def clip_sample(self, source: Any, start: int, cancel: CancelToken | None) -> Sample:
        return self._sample(self._prepare(source, [start], cancel))

    def video_samples(self, source: Any, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        from core.models.convnet.inputs import snippet_starts

        starts = snippet_starts(len(source), count, self.config)
        prepared = self._prepare(source, starts, cancel, progress)
        if self.config.joint_snippets:
            return [self._sample(prepared)]
        return [self._sample(_one_snippet(prepared, s)) for s in range(len(starts))]


def _one_snippet(prepared: Any, index: int) -> Any:
    """Snippet ``index`` of prepared snippets as a one-snippet preparation (timings split evenly)."""
    import dataclasses

    count = len(prepared.windows)
    return dataclasses.replace(
        prepared,
        rgb=None if prepared.rgb is None else prepared.rgb[index : index + 1],
        flow=None if prepared.flow is None else prepared.flow[index : index + 1],
        windows=[prepared.windows[index]],
        timings_ms={k: v / count for k, v in prepared.timings_ms.items()},
    )
