"""Fill the token cache: every clip of every video, through the frozen backbones, once.

Each video gives ``clips_per_video`` clips spread uniformly (TSN) and, for
training videos, every augmentation view of each; a clip is prepared exactly
as inference prepares it (:func:`core.inference.prepare_clip_input`: same
frames, crop, flow and colour rendering), normalised, and run through the
stream's backbone in batches.  The grids (float16) go to the
:class:`~core.models.transformer.train.token_cache.TokenCache` and, within a memory budget,
stay in memory for training.  For end-to-end fine-tuning the prepared uint8
clips are cached instead (``payload="frames"``): flow, the expensive part,
is still computed once.

Clips are prepared (decoded, cropped, flowed) ahead of the backbones by
worker processes (:mod:`~core.models.transformer.train.clip_loader`), a
video's clips sharing frames and flow pairs; the backbone batches and the
cache keys are those of one clip at a time.  An unreadable video is recorded
in :class:`~core.data.SkippedVideos` and the run goes on.

Flow left to this process (RAFT or TV-L1 on CUDA, which workers cannot run;
with ``workers=0`` and a ``flow_batch`` above 1, every method) is gathered
across consecutive videos and computed ``flow_batch`` clips per engine call
(:func:`~core.models.transformer.train.clip_loader.flows_images`): RAFT then
updates the pairs of several clips side by side on a GPU.  The videos go on to
the backbones in request order once their flow is in, so the backbone batches
and the cache keys are the same whatever the flow batch (on a CPU the arrays
too, bit for bit; on a GPU batched RAFT may pick other kernels).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from core.data import Sample, SkippedVideos
from core.errors import CoreError, InputError, WeightsUnavailable
from core.inference.flow_backend import FlowBackend
from core.models.shared.inputs import normalise_frames
from core.models.transformer.config import TransformerConfig
from core.models.transformer.model import TwoStreamTransformer
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken, check, report
from core.models.transformer.train.clip_loader import (ClipPreparer, ClipWant, PreparedClip, PreparedVideo, VideoJob, can_fork,
                                                       default_workers, flow_images, flow_runs_in_workers, flows_images,
                                                       prepared_videos)
from core.models.transformer.train.token_cache import TokenCache, module_fingerprint
from core.training.views import view_names

TOKENS = "tokens"
FRAMES = "frames"
PAYLOADS = (TOKENS, FRAMES)
DEFAULT_MEMORY_BUDGET = 2 << 30
CUDA_FLOW_BATCH = 4


def default_flow_batch(device: torch.device) -> int:
    """Clips per flow engine call (``--flow-batch`` overrides it): 4 on CUDA, 1 elsewhere.

    Why 4 on CUDA: four 16-frame clips (16 pairs each) fill one RAFT step group
    of :data:`core.flow.raft.BATCHED_PAIRS_PER_STEP` pairs, a quarter of the
    kernel launches per clip; not measured on a GPU yet.  Why 1 on a CPU: RAFT
    runs one pair at a time there, so batching gains nothing (0.92x measured,
    see :mod:`~core.models.transformer.train.clip_loader`), and extraction stays
    exactly as it was.
    """
    return CUDA_FLOW_BATCH if device.type == "cuda" else 1


def check_flow_batch(flow_batch: object) -> int:
    """``flow_batch`` if it is a positive integer, else a ``ValueError`` naming it."""
    if not isinstance(flow_batch, int) or isinstance(flow_batch, bool) or flow_batch < 1:
        raise ValueError(f"flow_batch must be a positive integer, got {flow_batch!r}")
    return flow_batch


@dataclass(frozen=True)
class VideoRequest:
    """One video to extract: its sample and how many augmentation views (1: centre only)."""

    sample: Sample
    views: int


@dataclass
class ExtractionStats:
    videos: int = 0
    computed: int = 0  # arrays computed and written by this call
    cached: int = 0  # arrays found intact in the cache
    seconds: float = 0.0


class ArrayStore:
    """The extracted arrays: in memory up to a budget, read back from the cache beyond it."""

    def __init__(self, cache: TokenCache, budget_bytes: int = DEFAULT_MEMORY_BUDGET) -> None:
        self.cache = cache
        self.budget_bytes = budget_bytes
        self._memory: dict[str, np.ndarray] = {}
        self._bytes = 0

    def keep(self, key: str, array: np.ndarray) -> None:
        if key in self._memory or self._bytes + array.nbytes > self.budget_bytes:
            return
        self._memory[key] = array
        self._bytes += array.nbytes

    def load(self, key: str) -> np.ndarray:
        array = self._memory.get(key)
        if array is not None:
            return array
        array = self.cache.get(key)
        if array is None:
            raise CoreError(f"token cache entry {self.cache.path_for(key)} vanished or was damaged during training; rerun the command to recompute it")
        return array


class ClipExtractor:
    """Computes, caches and looks up the arrays of (video, clip ordinal, view, stream).

    ``model`` supplies the frozen backbones (only for ``payload="tokens"``);
    ``streams`` are the streams to extract (``rgb``, ``flow``).  ``workers``:
    processes preparing clips ahead of the backbones (``None``:
    :func:`~core.models.transformer.train.clip_loader.default_workers`, 0 on a
    CPU; 0: in this process).  ``share=False`` prepares each clip view alone, in this
    process: the path before workers, which ``bench extract`` compares against.
    ``flow_batch``: clips whose flow, left to this process, is computed in one
    engine call (``None``: :func:`default_flow_batch`); above 1 with ``workers=0``
    every clip's flow is left to this process.
    """

    def __init__(
        self,
        *,
        config: TransformerConfig,
        model: TwoStreamTransformer | None,
        streams: Sequence[str],
        payload: str,
        augment: str,
        clips_per_video: int,
        cache: TokenCache,
        store: ArrayStore,
        flow_backend: FlowBackend,
        device: torch.device,
        batch_size: int = 8,
        rank: int = 0,
        raft_weights: str | None = None,
        workers: int | None = None,
        share: bool = True,
        flow_batch: int | None = None,
    ) -> None:
        if payload not in PAYLOADS:
            raise ValueError(f"payload must be one of {PAYLOADS}, got {payload!r}")
        self.flow_batch = default_flow_batch(device) if flow_batch is None else check_flow_batch(flow_batch)
        self.config = config
        self.streams = tuple(streams)
        self.payload = payload
        self.augment = augment
        self.view_names = view_names(augment)
        self.clips_per_video = clips_per_video
        self.cache = cache
        self.store = store
        self.flow_backend = flow_backend
        self.device = device
        self.batch_size = batch_size
        self.rank = rank
        self.workers = default_workers(device) if workers is None else max(0, int(workers))
        self.share = share
        self.backbones: dict[str, torch.nn.Module] = {}
        self.backbone_ids: dict[str, str] = {}
        if payload == TOKENS:
            if model is None:
                raise ValueError("token extraction needs the model whose backbones make the tokens")
            for stream in self.streams:
                module = model.rgb_backbone if stream == RGB else model.flow_backbone
                if module is None:
                    raise ValueError(f"the model has no {stream} backbone to extract tokens with")
                self.backbones[stream] = module
                self.backbone_ids[stream] = module_fingerprint(module)
        self._mean = torch.tensor(config.mean, dtype=torch.float32, device=device).view(3, 1, 1, 1)
        self._std = torch.tensor(config.std, dtype=torch.float32, device=device).view(3, 1, 1, 1)
        self._pending: dict[str, list[tuple[str, np.ndarray, dict]]] = {stream: [] for stream in self.streams}
        self._waiting: list[PreparedVideo] = []  # prepared videos, in order, whose flow (or an earlier video's) is not in yet
        self._stats = ExtractionStats()
        from core.flow.cache import weights_identity
        from core.flow.settings import flow_identity

        self._flow_weights = weights_identity(config.flow_method, raft_weights)  # None for classical methods
        self._flow_engine = flow_identity(config.flow_method)  # flow from changed method settings makes other tokens

    # -- keys ------------------------------------------------------------------------------

    def key(self, video_id: dict, ordinal: int, view: int, stream: str) -> str:
        config = self.config
        material = {
            "video": video_id,
            "clip": [ordinal, self.clips_per_video, config.clip_length, config.frame_stride],
            "view": self.view_names[view],
            "stream": stream,
            "payload": self.payload,
            "input_size": config.input_size,
        }
        if self.payload == TOKENS:
            material["normalisation"] = [list(config.mean), list(config.std)]
            material["backbone"] = [config.backbone, dict(config.backbone_options), self.backbone_ids[stream]]
            precision = backbone_precision(self.device)
            if precision != "float32":  # a GPU's half-precision tokens are not the CPU's (fp32 keys stay as they were)
                material["precision"] = precision
        if stream == FLOW:
            material["flow"] = [config.flow_method, dict(config.flow_encoding), config.flow_frames]
            material["flow_engine"] = self._flow_engine
            if self._flow_weights is not None:  # RAFT: which weights file made the flow
                material["flow_weights"] = self._flow_weights
        return TokenCache.key(material)

    def keys_for(self, sample: Sample, ordinal: int, view: int) -> dict[str, str]:
        """The cache key of each stream of one clip view (the video must exist)."""
        from core.flow.cache import video_identity

        video_id = video_identity(sample.path, sample.segment)
        return {stream: self.key(video_id, ordinal, view, stream) for stream in self.streams}

    # -- extraction ---------------------------------------------------------------------------

    def run(
        self,
        requests: Sequence[VideoRequest],
        *,
        skipped: SkippedVideos,
        cancel: CancelToken | None = None,
        progress: Callable[..., None] | None = None,
        label: str = "extract",
    ) -> ExtractionStats:
        """Make sure every clip view of every requested video is cached (and kept in the store).

        The cache is looked up first; the videos with clips still missing are
        prepared by :func:`~core.models.transformer.train.clip_loader.prepared_videos`
        (``workers`` processes ahead of the backbones) and their backbone
        batches run here, in request order, as the one-process path ran them.
        """
        stats = self._stats = ExtractionStats()
        self._waiting = []
        started = time.monotonic()
        total = len(requests)
        jobs: dict[int, VideoJob] = {}
        known_bad: set[int] = set()  # skipped before this call: not counted
        for position, request in enumerate(requests):
            check(cancel)
            if request.sample.path in skipped:
                known_bad.add(position)
                continue
            try:
                wants = self._missing(request)
            except (InputError, OSError) as err:
                skipped.add(request.sample.path, err)
                continue
            if wants:
                jobs[position] = VideoJob(position, request.sample.path, wants, request.sample.segment)
        workers = self.workers if self.share else 0
        with prepared_videos(list(jobs.values()), self._preparer(), workers=workers, cancel=cancel) as prepared:
            for done in range(total):
                check(cancel)
                if done in jobs:
                    self._take(next(prepared), skipped, cancel)
                stats.videos += done not in known_bad
                report(progress, done + 1, total, f"{label}: {stats.computed} arrays computed, {stats.cached} cached")
        self._flush_all(skipped, cancel)
        stats.seconds = time.monotonic() - started
        return stats

    def _missing(self, request: VideoRequest) -> tuple[ClipWant, ...]:
        """The clip views of a video some stream of which is not cached yet; the cached ones go to the store."""
        from core.flow.cache import video_identity

        video_id = video_identity(request.sample.path, request.sample.segment)
        missing: list[ClipWant] = []
        for ordinal in range(self.clips_per_video):
            for view in range(request.views):
                need: list[str] = []
                for stream in self.streams:
                    key = self.key(video_id, ordinal, view, stream)
                    array = self.cache.get(key)
                    if array is None:
                        need.append(stream)
                    else:
                        self._stats.cached += 1
                        self.store.keep(key, array)
                if need:
                    missing.append(ClipWant(ordinal, view, tuple(need)))
        return tuple(missing)

    def _preparer(self) -> ClipPreparer:
        in_workers = self.workers > 0 and self.share and can_fork()
        if in_workers:
            flow_here = flow_runs_in_workers(self.config.flow_method, self.device)
        else:  # in process, a flow batch leaves every clip's flow to _take, to be computed across videos
            flow_here = self.flow_batch == 1
        flow_device = (self.device if not in_workers else torch.device("cpu")) if flow_here else None
        return ClipPreparer(config=self.config, augment=self.augment, clips_per_video=self.clips_per_video,
                            flow_backend=self.flow_backend, flow_device=flow_device, share=self.share)

    def _take(self, prepared: PreparedVideo, skipped: SkippedVideos, cancel: CancelToken | None) -> None:
        """A prepared video in line for the backbones: the flow left with the waiting videos' clips is
        computed ``flow_batch`` clips at a time, then the videos whose flow is all in go on, in order."""
        self._waiting.append(prepared)
        self._gathered_flow(cancel, everything=False)
        self._push_ready(skipped)

    def _gathered_flow(self, cancel: CancelToken | None, *, everything: bool) -> None:
        """Flow for the waiting clips, whole flow batches only (``everything``: the rest too, a last smaller call)."""
        while True:
            todo = [(video, clip) for video in self._waiting if video.error is None for clip in video.clips if clip.flow_frames is not None]
            if not todo or (len(todo) < self.flow_batch and not everything):
                return
            check(cancel)
            self._compute_flow(todo[: self.flow_batch], cancel)

    def _compute_flow(self, chunk: list[tuple[PreparedVideo, PreparedClip]], cancel: CancelToken | None) -> None:
        """One engine call for the clips of ``chunk`` (one clip: :func:`flow_images`, the call of the path
        before batches); a failed batch is retried clip by clip, so an error skips only its own video."""
        config, backend = self.config, self.flow_backend
        try:
            if len(chunk) == 1:
                images, fell_back, note = flow_images(chunk[0][1].flow_frames, config, backend, device=self.device, cancel=cancel)
                results = [(images, fell_back, note)]
            else:
                made = flows_images([clip.flow_frames for _, clip in chunk], config, backend, device=self.device, cancel=cancel)
                results = [(images, fell_back, note) for images, _method, fell_back, note in made]
        except (InputError, OSError) as err:
            if len(chunk) == 1:
                chunk[0][0].error = err
                return
            for video, clip in chunk:
                if video.error is None:
                    self._compute_flow([(video, clip)], cancel)
            return
        for (_, clip), (images, fell_back, note) in zip(chunk, results):
            clip.flow, clip.flow_fell_back, clip.flow_note, clip.flow_frames = images, fell_back, note, None

    def _push_ready(self, skipped: SkippedVideos) -> None:
        """The waiting videos at the head of the line whose flow is all in (or that failed) to the pending batches."""
        while self._waiting:
            head = self._waiting[0]
            if head.error is None and any(clip.flow_frames is not None for clip in head.clips):
                return
            self._push(self._waiting.pop(0), skipped)

    def _push(self, prepared: PreparedVideo, skipped: SkippedVideos) -> None:
        """A video's arrays into the pending batches, in the one-clip-at-a-time path's order; its error skips it."""
        from core.flow.cache import video_identity

        sample_path = prepared.job.path
        try:
            if prepared.error is not None:
                raise prepared.error
            video_id = video_identity(sample_path, prepared.job.segment)
            items: list[tuple[str, str, np.ndarray, dict]] = []
            for clip in prepared.clips:
                if clip.flow_fell_back:
                    raise WeightsUnavailable(f"training asked for {self.config.flow_method} flow but it is unavailable, "
                                             f"refusing to train on another method's flow: {clip.flow_note}")
                want = clip.want
                for stream in want.streams:
                    frames = clip.rgb if stream == RGB else clip.flow
                    assert frames is not None
                    info = {"video": str(sample_path), "start": clip.start, "view": self.view_names[want.view], "stream": stream,
                            "rank": self.rank}
                    items.append((stream, self.key(video_id, want.ordinal, want.view, stream), frames, info))
        except (InputError, OSError) as err:
            skipped.add(sample_path, err)
            return
        for stream, key, frames, info in items:  # the order and batches the one-clip-at-a-time path had
            self._pending[stream].append((key, frames, info))
            if len(self._pending[stream]) >= self.batch_size:
                self._flush(stream)

    def _flush_all(self, skipped: SkippedVideos, cancel: CancelToken | None) -> None:
        """The flow still gathered, its videos, then every pending batch."""
        self._gathered_flow(cancel, everything=True)
        self._push_ready(skipped)
        for stream in self.streams:
            self._flush(stream)

    def _flush(self, stream: str) -> None:
        pending, self._pending[stream] = self._pending[stream], []
        if not pending:
            return
        if self.payload == FRAMES:
            arrays = [frames for _, frames, _ in pending]
        else:
            batch = torch.stack([normalise_frames(frames, self._mean, self._std, device=self.device, channels_first=True) for _, frames, _ in pending])
            with torch.no_grad(), _autocast(self.device):
                tokens = self.backbones[stream](batch)
            arrays = list(tokens.to(torch.float16).cpu().numpy())
            if not all(np.isfinite(a).all() for a in arrays):
                raise CoreError(f"the frozen {stream} backbone produced non-finite tokens (NaN or inf; float16 overflow?)")
        for (key, _, info), array in zip(pending, arrays):
            self.cache.put(key, array, info)
            self.store.keep(key, np.ascontiguousarray(array))
        self._stats.computed += len(pending)


def backbone_precision(device: torch.device) -> str:
    """The dtype the backbones compute in on ``device`` during extraction (:func:`_autocast`)."""
    if device.type != "cuda":
        return "float32"
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def _autocast(device: torch.device):
    from contextlib import nullcontext

    precision = backbone_precision(device)
    if precision == "float32":
        return nullcontext()
    return torch.autocast("cuda", dtype=getattr(torch, precision))
