"""Per-stage wall times of one inference call, shared by every model family's classifier.

Each stage of :data:`STAGES` is timed on its own; stages that run once for a
batch of clips (backbones, fusion) are split evenly over the batch, so every
:class:`core.prediction.Prediction` reports its share and a ``total``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Mapping

import torch

STAGES = ("decode", "preprocess", "flow", "rgb_backbone", "flow_backbone", "fusion")


@contextmanager
def stage_timer(timings: dict[str, float], stage: str, device: torch.device | None = None) -> Iterator[None]:
    """Add the wall time of the block to ``timings[stage]`` in ms (CUDA work is waited for)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0


def clip_timings(own: Mapping[str, float], shared: Mapping[str, float], batch: int) -> dict[str, float]:
    """One clip's timings: its own stages plus its share of the batch's ``shared`` stages, and ``total``."""
    timings = {stage: own.get(stage, 0.0) for stage in STAGES}
    for stage, value in shared.items():
        timings[stage] = value / batch
    timings["total"] = sum(timings[s] for s in STAGES)
    return timings
