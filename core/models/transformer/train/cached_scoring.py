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
from core.errors import CoreError
from core.evaluation.evaluate import Evaluation, VideoResult
from core.evaluation.test_set import TestSet, class_mapping
from core.inference.flow_backend import default_flow_backend
from core.models.checkpoint import load_checkpoint
from core.models.transformer.layout import FLOW, RGB
from core.models.transformer.train.extraction import ArrayStore, ClipExtractor, VideoRequest
from core.models.transformer.train.token_cache import TokenCache
from core.progress import CancelToken, check


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
    started = time.monotonic()
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
    results: list[VideoResult] = []
    method = () if flow is None else (flow["method"],)
    with torch.no_grad():
        for sample in samples:
            check(cancel)
            if sample.path in skipped:
                continue
            grids: dict[str, list[np.ndarray]] = {stream: [] for stream in streams}
            for ordinal in range(clips):
                for stream, key in extractor.keys_for(sample, ordinal, 0).items():
                    grids[stream].append(store.load(key))
            inputs = {s: torch.from_numpy(np.stack(grids[s])).float().to(torch_device) for s in streams}
            logits = model.forward_tokens(inputs.get(RGB), inputs.get(FLOW)).float()
            if not torch.isfinite(logits).all():
                raise CoreError("the model produced non-finite logits (NaN or inf) on cached token grids", checkpoint)
            probabilities = torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)
            results.append(
                VideoResult(
                    relative=dataset.relative(sample),
                    label=to_model[sample.label_index],
                    clip_probabilities=probabilities,
                    flow_methods=method,
                    flow_fell_back=bool(flow and flow["fell_back"]),
                    flow_note="" if flow is None else flow["note"],
                )
            )
    evaluation = Evaluation(
        checkpoint=Path(checkpoint),
        dataset_root=dataset.root,
        class_names=tuple(config.class_names),
        test_set=test_set,
        clips_per_video=clips,
        videos=tuple(results),
        skipped=skipped,
        requested_flow_method=getattr(config, 'flow_method', None) if config.uses_flow else None,
        device=str(torch_device),
        seconds=time.monotonic() - started,
        model={"backbone": config.backbone, "variant": config.variant, "classes": config.num_classes},
    )
    return evaluation, {"computed": stats.computed, "cached": stats.cached}
