"""The one classifier every model family builds on: frames in, :class:`core.prediction.Prediction` out.

:class:`ClipClassifier` owns what does not depend on the model: the device
and precision (half-precision autocast on CUDA, float32 on a CPU unless asked),
batching clips through the model (samples of different shapes never share a
batch), the cancel hooks that stop a forward pass at its next block, the stage
timings, softmax and top-k, and the ``predict_clip`` / ``predict_clips`` /
``predict_video`` / ``predict_timeline`` calls.  A family says how a clip start
becomes a model sample (:meth:`ClipClassifier.clip_sample`), how the model runs
on a batch (:meth:`ClipClassifier.forward`, which also returns the clip's maps
when asked), and, when a video is not simply K clips spread uniformly, how a
video is sampled (:meth:`ClipClassifier.video_samples`).

Many clips of one call share their work (:meth:`ClipClassifier.clip_samples`):
by default each frame is read once; a family may also share cropping and flow
(the transformer does).  :meth:`ClipClassifier.warm_up` runs one dummy clip so
that a timed clip does not pay for first-call set-up; with ``compile_backbones``
it also compiles the modules a family names in :attr:`ClipClassifier.compilable`
(see :mod:`core.inference.compiled`), so no later call compiles.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from core.device import autocast_dtype, resolve_device
from core.errors import InputError
from core.inference.cancel_hooks import cancellable
from core.inference.compiled import CompiledModule, CompileReport, compile_unavailable, use_persistent_cache, wants_compile
from core.inference.flow_backend import FlowBackend, default_flow_backend
from core.inference.frame_memo import FrameMemo, starts_still_to_come
from core.inference.frames import ArrayFrames, FrameSource, as_frame_source
from core.prediction import Prediction, VideoPrediction, aggregate_predictions, checked_probabilities, top_k
from core.progress import CancelToken, check, report
from core.sampling import CENTRE, CropMap, CropView, clip_span, sliding_window_starts, uniform_clip_starts
from core.timings import clip_timings, stage_timer

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclass(eq=False)
class Sample:
    """One model sample (no batch dimension) and where it came from in the video.

    ``inputs``: the model's keyword inputs; ``placement``: whatever the family
    needs to put its maps back on the video's frames (kept, not read, here).
    """

    inputs: dict[str, torch.Tensor]
    start: int
    frame_indices: tuple[int, ...]
    padded: int
    crop_map: CropMap
    flow_frame_indices: tuple[int, ...] | None = None
    flow_method: str | None = None
    flow_fell_back: bool = False
    flow_note: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    placement: Any = None


class ClipClassifier:
    """A loaded model plus everything needed to feed it from video frames.

    ``precision``: ``auto`` is half-precision autocast on CUDA and float32 on a
    CPU; ``bfloat16`` on a CPU with native bf16 (AVX512-BF16, AMX) roughly halves
    big backbones' time at about 1% relative error.  ``batch_size``: clips per
    forward pass (default 8 on CUDA, :attr:`cpu_batch_size` on a CPU).
    ``compile_backbones``: ``off``, ``auto`` (CUDA only) or ``on``: :attr:`compilable`
    through ``torch.compile``, compiled by :meth:`warm_up` (``compile_backend``: tests
    pass a cheap one).
    """

    cpu_batch_size = 1
    maps_kinds: tuple[str, ...] = ()  # what ``attention=True`` gives (set by the family)
    crop_position: float | CropView = CENTRE  # where a family's clip_sample crops (see at_crop)
    share_windows = True  # False: every clip prepared on its own, as before clips shared work (benchmarks compare the two)
    decode_ahead = True  # shared windows: the next chunk's frames read on a CPU thread while this chunk runs (where a family does)
    compilable: tuple[str, ...] = ()  # the model's submodules worth compiling (a family names its backbones)

    def __init__(
        self,
        model: torch.nn.Module,
        config: Any = None,
        *,
        device: str | torch.device = "auto",
        flow_backend: FlowBackend | None = None,
        flow_method: str | None = None,
        batch_size: int | None = None,
        precision: str = "auto",
        compile_backbones: str = "off",
        compile_backend: str | Callable[..., Any] = "inductor",
    ) -> None:
        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.config = config or model.config
        self.device = resolve_device(device)
        self.precision = precision
        self.model = model.to(self.device).eval()
        self._flow_backend = flow_backend
        self.flow_method = flow_method or getattr(self.config, "flow_method", None)
        self.batch_size = batch_size or (8 if self.device.type == "cuda" else self.cpu_batch_size)
        self.compile_note: str | None = None  # why nothing is compiled although it was asked for
        self._compiled: dict[str, CompiledModule] = {}
        self._thread = threading.local()  # .compiling: this thread's calls compile (prepare_compiled); others' never do
        if wants_compile(compile_backbones, self.device):
            self._wrap_compilable(compile_backend)

    def _wrap_compilable(self, backend: str | Callable[..., Any]) -> None:
        reason = compile_unavailable(self.device) if backend == "inductor" else None
        modules = {name: getattr(self.model, name, None) for name in self.compilable}
        modules = {name: module for name, module in modules.items() if module is not None}
        if reason is None and not modules:
            reason = f"the {type(self).__name__} names no module to compile"
        if reason is not None:
            self.compile_note = f"runs eager: {reason}"
            return
        use_persistent_cache()
        self._compiled = {name: CompiledModule(module, name, self.device, backend=backend) for name, module in modules.items()}

    def submodule(self, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model's ``name`` module as the forward pass should call it: compiled when it is
        (see :mod:`core.inference.compiled`), the module itself otherwise."""
        compiled = self._compiled.get(name)
        if compiled is None:
            return getattr(self.model, name)
        if getattr(self._thread, "compiling", False):
            return compiled.compile_and_run
        return compiled

    def compile_reports(self) -> list[CompileReport]:
        """What compiling did per module (empty when nothing was asked or could be compiled)."""
        return [compiled.report() for compiled in self._compiled.values()]

    @property
    def compile_problem(self) -> str | None:
        """Why modules asked to be compiled run eager (one line for a report); ``None`` when none does."""
        if self.compile_note:
            return self.compile_note
        failures = [f"{r.name}: {r.failure}" for r in self.compile_reports() if r.failure]
        return "runs eager: " + "; ".join(failures) if failures else None

    @property
    def flow_backend(self) -> FlowBackend:
        if self._flow_backend is None:
            self._flow_backend = default_flow_backend()
        return self._flow_backend

    @contextmanager
    def at_crop(self, position: float | CropView) -> Iterator[None]:
        """Samples made inside the block are cropped at ``position`` along the frames'
        longer side (0 start, 0.5 centre, 1 end), or as a :class:`~core.sampling.CropView`
        says (a corner of a larger resize, mirrored or not): multi-view testing's spatial crops."""
        if not isinstance(position, CropView) and not 0.0 <= position <= 1.0:
            raise ValueError(f"crop position must be in [0, 1], got {position}")
        before, self.crop_position = self.crop_position, position if isinstance(position, CropView) else float(position)
        try:
            yield
        finally:
            self.crop_position = before

    # -- what a family defines ------------------------------------------------------------

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        """The model sample of the clip starting at frame ``start``."""
        raise NotImplementedError(f"{type(self).__name__} must say how a clip becomes a model sample")

    def forward(self, inputs: dict[str, torch.Tensor], samples: list[Sample], *, attention: bool, target_class: int | None,
                timings: dict[str, float]) -> tuple[torch.Tensor, list[Any] | None]:
        """Class scores of a batch (``inputs`` stacked on the device) and, when ``attention``, each
        sample's maps placed on its frames.  Stage times go into ``timings`` (batch totals).
        The default runs ``model(**inputs)`` as one stage and explains nothing."""
        with stage_timer(timings, "fusion", self.device):
            return self.model(**inputs), None

    def clip_samples(self, frames: FrameSource, starts: Sequence[int], cancel: CancelToken | None) -> Iterator[Sample]:
        """The samples of the clips at ``starts``, in order, each as :meth:`clip_sample` makes it.

        By default through a :class:`~core.inference.frame_memo.FrameMemo`, so frames
        that clips share are read once; a family may share more (cropping, flow).
        """
        if not self.share_windows:
            for start in starts:
                yield self.clip_sample(frames, int(start), cancel)
            return
        memo = FrameMemo(frames)
        for start, keep in zip(starts, starts_still_to_come(starts)):
            memo.forget_before(keep)
            yield self.clip_sample(memo, int(start), cancel)

    def video_samples(self, frames: FrameSource, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        """A video's samples: ``count`` clips spread uniformly (TSN)."""
        starts = uniform_clip_starts(len(frames), count, self.config.clip_length, self.config.frame_stride)
        samples, made = [], self.clip_samples(frames, starts, cancel)
        with closing(made):  # a sample source reading ahead stops before the caller closes the video
            for n, start in enumerate(starts):
                check(cancel)
                report(progress, n, len(starts), f"clip {n + 1}/{len(starts)} at frame {start}: decoding")
                samples.append(next(made))
        return samples

    def default_video_count(self) -> int:
        return 5

    # -- public calls -------------------------------------------------------------------------

    def predict_clip(self, source: FrameSource | np.ndarray, start: int = 0, *, attention: bool = False, target_class: int | None = None,
                     top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> Prediction:
        """Classify the clip starting at frame ``start`` (padded by repeating the last frame near the end)."""
        return self.predict_clips(source, [start], attention=attention, target_class=target_class, top=top, cancel=cancel, progress=progress)[0]

    def predict_clips(self, source: FrameSource | np.ndarray, starts: Sequence[int], *, attention: bool = False, target_class: int | None = None,
                      top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> list[Prediction]:
        """Classify the clips at ``starts``, :attr:`batch_size` clips per forward pass."""
        with closing(self.iter_clips(source, starts, attention=attention, target_class=target_class, top=top, cancel=cancel,
                                     progress=progress)) as batches:
            results = [prediction for batch in batches for prediction in batch]
        report(progress, len(results), len(results), "done")
        return results

    def iter_clips(self, source: FrameSource | np.ndarray, starts: Sequence[int], *, attention: bool = False, target_class: int | None = None,
                   top: int = 5, cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> Iterator[list[Prediction]]:
        """:meth:`predict_clips`' predictions a batch at a time, as each forward pass ends.

        Why: a caller showing partial results (the viewer's whole-video timeline) keeps
        one pass over the video (frames, flow pairs and reading ahead shared by every
        window) instead of one call per batch.  Close it (``contextlib.closing``) when
        stopping early: that waits for any read ahead before the video may be closed.
        """
        frames = as_frame_source(source)
        if len(starts) == 0:
            raise ValueError("predict_clips needs at least one clip start")
        self._check_target(target_class)
        for start in starts:
            if not 0 <= int(start) < len(frames):
                raise ValueError(f"clip start {start} is outside the video's {len(frames)} frames")
        total = len(starts)
        made = self.clip_samples(frames, [int(s) for s in starts], cancel)
        with closing(made):  # a sample source reading ahead stops before the caller closes the video
            for first in range(0, total, self.batch_size):
                batch = []
                for offset, start in enumerate(starts[first : first + self.batch_size]):
                    check(cancel)
                    report(progress, first + offset, total, f"clip at frame {start}: decoding and preparing")
                    batch.append(next(made))
                report(progress, first + len(batch) - 1, total, "running the model")
                yield self._run_batched(batch, attention, target_class, top, cancel)

    def predict_video(self, source: FrameSource | np.ndarray, num_clips: int | None = None, *, attention: bool = False, top: int = 5,
                      cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> VideoPrediction:
        """Video-level prediction from ``num_clips`` samples (default: the family's test protocol), softmax averaged."""
        frames = as_frame_source(source)
        count = self.default_video_count() if num_clips is None else int(num_clips)
        if count < 1:
            raise ValueError(f"num_clips must be >= 1, got {count}")
        samples = self.video_samples(frames, count, cancel, progress)
        report(progress, count, count, "running the model")
        return aggregate_predictions(self._run_batched(samples, attention, None, top, cancel), top)

    def predict_timeline(self, source: FrameSource | np.ndarray, step: int | None = None, *, top: int = 5,
                         cancel: CancelToken | None = None, progress: Callable[..., None] | None = None) -> VideoPrediction:
        """Sliding windows every ``step`` frames (default: one clip span) over the whole video."""
        frames = as_frame_source(source)
        starts = sliding_window_starts(len(frames), self.config.clip_length, self.config.frame_stride, step)
        return aggregate_predictions(self.predict_clips(frames, starts, top=top, cancel=cancel, progress=progress), top)

    def warm_up(self, *, compiling: bool = True) -> float:
        """Run one clip of made-up frames at the model's input size through flow and model; returns its ms.

        Why: the first call pays for set-up (CUDA context and kernel choice, RAFT's
        weights, oneDNN's primitives) that a timed clip should not.  The frames are
        seeded noise, the shape of a real clip after cropping, so the same kernels run.
        ``compiling``: also :meth:`prepare_compiled` (the viewer does that apart, so
        that clicks run eager while it compiles).
        """
        began = time.perf_counter()
        with torch.no_grad():
            self._run_batched([self._made_up_sample()], False, None, 1, None)
        if compiling:
            self.prepare_compiled()
        return (time.perf_counter() - began) * 1000.0

    @property
    def compile_pending(self) -> bool:
        """Whether a module asked to be compiled has neither been compiled nor failed."""
        return any(not r.batches and r.failure is None for r in self.compile_reports())

    def prepare_compiled(self) -> float:
        """Compile :attr:`compilable` for one clip and for a full batch by running made-up clips
        through them; returns its ms (0 when nothing is pending).  Other threads may classify
        meanwhile: they run eager until the compiled forward is ready."""
        if not self.compile_pending:
            return 0.0
        began = time.perf_counter()
        self._thread.compiling = True
        try:
            with torch.no_grad():
                sample = self._made_up_sample()
                for size in sorted({1, self.batch_size}):  # one clip (a click); a full batch (a timeline, a video)
                    self._run_batched([sample] * size, False, None, 1, None)
        finally:
            self._thread.compiling = False
        return (time.perf_counter() - began) * 1000.0

    def _made_up_sample(self) -> Sample:
        size = int(self.config.input_size)
        span = clip_span(self.config.clip_length, self.config.frame_stride) + int(getattr(self.config, "frame_stride", 1))
        noise = np.random.default_rng(0).integers(0, 256, size=(span, size, size, 3), dtype=np.uint8)
        return self.clip_sample(ArrayFrames(noise), 0, None)

    # -- running the model ----------------------------------------------------------------------

    def _check_target(self, target_class: int | None) -> None:
        if target_class is not None and not 0 <= target_class < self.config.num_classes:
            raise ValueError(f"target_class must be in [0, {self.config.num_classes}), got {target_class}")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """What :attr:`precision` runs the model in on this device (:func:`core.device.autocast_dtype`)."""
        return autocast_dtype(self.precision, self.device)

    def autocast(self):
        """The autocast context of :attr:`precision` on this device (none for float32)."""
        dtype = self.autocast_dtype
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def _run_batched(self, samples: list[Sample], attention: bool, target_class: int | None, top: int, cancel: CancelToken | None) -> list[Prediction]:
        groups: list[list[Sample]] = []
        for sample in samples:  # samples of different shapes (snippet counts) never share a batch
            shape = {k: tuple(v.shape) for k, v in sample.inputs.items()}
            if groups and len(groups[-1]) < self.batch_size and {k: tuple(v.shape) for k, v in groups[-1][0].inputs.items()} == shape:
                groups[-1].append(sample)
            else:
                groups.append([sample])
        results: list[Prediction] = []
        for group in groups:
            check(cancel)
            compiled = [c.module for c in self._compiled.values() if c.failure is None]  # hooks would fail their guards
            with cancellable(self.model, cancel, without=compiled):
                results.extend(self._run_model(group, attention, target_class, top))
        return results

    def _run_model(self, samples: list[Sample], attention: bool, target_class: int | None, top: int) -> list[Prediction]:
        inputs = {key: torch.stack([s.inputs[key] for s in samples]).to(self.device, non_blocking=True) for key in samples[0].inputs}
        shared: dict[str, float] = {}
        with torch.no_grad(), self.autocast():
            scores, maps = self.forward(inputs, samples, attention=attention, target_class=target_class, timings=shared)
        scores_np, probs = checked_probabilities(scores)
        names = self.config.class_names
        return [
            Prediction(
                class_names=names,
                logits=scores_np[b],
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
                timings_ms=clip_timings(sample.timings_ms, shared, len(samples)),
                attention=maps[b] if maps is not None else None,
            )
            for b, sample in enumerate(samples)
        ]
