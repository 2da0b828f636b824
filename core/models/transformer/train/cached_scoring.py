"""The ablation's fast test path for the transformer: its variants share frozen backbones, so the
test clips' token grids are extracted once into the token cache training used, and each variant's
fusion is scored on them (``forward_tokens``), K clips per video with their softmax averaged, exactly
as ``eval`` scores a video through the full inference path (the README compares the two)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from core.data import Dataset, SkippedVideos
from core.device import resolve_device
from core.evaluation.evaluate import Evaluation, VideoResult, run_evaluation
from core.evaluation.test_set import TestSet, class_mapping
from core.inference.flow_backend import default_flow_backend
from core.models.checkpoint import load_checkpoint
from core.models.transformer.layout import FLOW, RGB
from core.models.transformer.train.extraction import ArrayStore, ClipExtractor, VideoRequest
from core.models.transformer.train.token_cache import TokenCache
from core.prediction import checked_probabilities
from core.progress import CancelToken


def score_on_cached_tokens(
    checkpoint: Path,
    *,
    dataset: Dataset,
    test_set: TestSet,
    clips: int,
    cache_dir: str | os.PathLike[str] | None,
    device: str,
    raft_weights: str | None,
    skipped: SkippedVideos,
    flow: dict[str, Any] | None,
    cancel: CancelToken | None,
    progress: Callable[..., None] | None,
) -> tuple[Evaluation, dict[str, int]]:
    """Score the test videos from token grids: extracted once into the token cache (shared with
    training: every variant's frozen backbones are the same), then read from it.  Returns the
    evaluation and how many test grids were ``computed`` and read from the cache (``cached``)."""
    started = time.perf_counter()
    cache = TokenCache(cache_dir)
    torch_device = resolve_device(device)
    model, config = load_checkpoint(checkpoint, torch_device)
    to_model = class_mapping(dataset, config.class_names, checkpoint)
    streams = [s for s, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)) if used]
    store = ArrayStore(cache)
    extractor = ClipExtractor(
        config=config,
        model=model,
        streams=streams,
        payload="tokens",
        augment="none",
        clips_per_video=clips,
        cache=cache,
        store=store,
        flow_backend=default_flow_backend(raft_weights=raft_weights),
        device=torch_device,
        raft_weights=raft_weights,
    )
    samples = [s for s in test_set.samples if s.path not in skipped]
    stats = extractor.run([VideoRequest(s, 1) for s in samples], skipped=skipped, cancel=cancel, progress=progress, label="test grids")
    method = () if flow is None else (flow["method"],)

    def score(sample: Any, rel: str, label: int) -> VideoResult:
        grids: dict[str, list[np.ndarray]] = {stream: [] for stream in streams}
        for ordinal in range(clips):
            for stream, key in extractor.keys_for(sample, ordinal, 0).items():
                grids[stream].append(store.load(key))
        inputs = {s: torch.from_numpy(np.stack(grids[s])).float().to(torch_device) for s in streams}
        with torch.no_grad():
            _, probabilities = checked_probabilities(model.forward_tokens(inputs.get(RGB), inputs.get(FLOW)))
        return VideoResult(
            relative=rel,
            label=label,
            clip_probabilities=probabilities.astype(np.float64),
            flow_methods=method,
            flow_fell_back=bool(flow and flow["fell_back"]),
            flow_note="" if flow is None else flow["note"],
            segment=sample.segment,
        )

    evaluation = run_evaluation(checkpoint=checkpoint, config=config, device=torch_device, dataset=dataset, test_set=test_set,
                                to_model=to_model, clips_per_video=clips, skipped=skipped, score_video=score, cancel=cancel,
                                progress=progress, message_prefix="test: ", started=started)
    return evaluation, {"computed": stats.computed, "cached": stats.cached}
