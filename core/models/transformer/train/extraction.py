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

An unreadable video is recorded in :class:`~core.data.SkippedVideos` and the
run goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from core.data import Sample, SkippedVideos
from core.errors import CoreError, InputError, WeightsUnavailable
from core.inference.flow_backend import FlowBackend
from core.models.shared.inputs import normalise_frames
from core.models.transformer.inputs import prepare_clip_input
from core.models.transformer.config import TransformerConfig
from core.models.transformer.model import TwoStreamTransformer
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken, check, report
from core.sampling import uniform_clip_starts
from core.models.transformer.train.token_cache import TokenCache, module_fingerprint
from core.training.views import view_crop, view_names

TOKENS = "tokens"
FRAMES = "frames"
PAYLOADS = (TOKENS, FRAMES)
DEFAULT_MEMORY_BUDGET = 2 << 30


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
    ``streams`` are the streams to extract (``rgb``, ``flow``).
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
    ) -> None:
        if payload not in PAYLOADS:
            raise ValueError(f"payload must be one of {PAYLOADS}, got {payload!r}")
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
        self._stats = ExtractionStats()
        from core.flow.cache import weights_identity

        self._flow_weights = weights_identity(config.flow_method, raft_weights)  # None for classical methods

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
        if stream == FLOW:
            material["flow"] = [config.flow_method, dict(config.flow_encoding), config.flow_frames]
            if self._flow_weights is not None:  # RAFT: which weights file made the flow
                material["flow_weights"] = self._flow_weights
        return TokenCache.key(material)

    def keys_for(self, sample: Sample, ordinal: int, view: int) -> dict[str, str]:
        """The cache key of each stream of one clip view (the video must exist)."""
        from core.flow.cache import video_identity

        video_id = video_identity(sample.path)
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
        """Make sure every clip view of every requested video is cached (and kept in the store)."""
        stats = self._stats = ExtractionStats()
        started = time.monotonic()
        total = len(requests)
        for done, request in enumerate(requests):
            check(cancel)
            if request.sample.path in skipped:
                continue
            try:
                self._video(request, cancel)
            except (InputError, OSError) as err:
                self._drop_pending(request.sample.path)
                skipped.add(request.sample.path, err)
            stats.videos += 1
            report(progress, done + 1, total, f"{label}: {stats.computed} arrays computed, {stats.cached} cached")
        self._flush_all()
        stats.seconds = time.monotonic() - started
        return stats

    def _video(self, request: VideoRequest, cancel: CancelToken | None) -> None:
        from core.flow.cache import video_identity

        sample = request.sample
        video_id = video_identity(sample.path)
        missing: list[tuple[int, int, dict[str, str]]] = []  # (ordinal, view, {stream: key}) still to compute
        for ordinal in range(self.clips_per_video):
            for view in range(request.views):
                need: dict[str, str] = {}
                for stream in self.streams:
                    key = self.key(video_id, ordinal, view, stream)
                    array = self.cache.get(key)
                    if array is None:
                        need[stream] = key
                    else:
                        self._stats.cached += 1
                        self.store.keep(key, array)
                if need:
                    missing.append((ordinal, view, need))
        if not missing:
            return
        from core.video import open_video

        with open_video(sample.path) as video:
            count = len(video)
            starts = uniform_clip_starts(count, self.clips_per_video, self.config.clip_length, self.config.frame_stride)
            for ordinal, view, need in missing:
                check(cancel)
                clip = prepare_clip_input(
                    video,
                    starts[ordinal],
                    self.config,
                    flow_backend=self.flow_backend,
                    device=self.device,
                    cancel=cancel,
                    crop=view_crop(self.augment, view),
                    rgb=RGB in need,
                    flow=FLOW in need,
                )
                if clip.flow_fell_back:
                    raise WeightsUnavailable(f"training asked for {self.config.flow_method} flow but it is unavailable, refusing to train on another method's flow: {clip.flow_note}")
                for stream, key in need.items():
                    frames = clip.rgb if stream == RGB else clip.flow
                    assert frames is not None
                    info = {"video": str(sample.path), "start": starts[ordinal], "view": self.view_names[view], "stream": stream, "rank": self.rank}
                    self._pending[stream].append((key, frames, info))
                    if len(self._pending[stream]) >= self.batch_size:
                        self._flush(stream)

    def _drop_pending(self, path: Path) -> None:
        for stream in self.streams:
            self._pending[stream] = [p for p in self._pending[stream] if p[2]["video"] != str(path)]

    def _flush_all(self) -> None:
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


def _autocast(device: torch.device):
    from contextlib import nullcontext

    if device.type != "cuda":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
