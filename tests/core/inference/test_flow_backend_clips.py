"""A flow backend's several-clips entry: the default backend's gives its one-clip results, and a backend
without one is called clip by clip."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference import FlowBackend, default_flow_backend


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8)
    return [np.stack([np.roll(base, i, axis=1) for i in range(n)]) for n in (2, 4)]


def test_the_default_backend_s_clips_are_its_clip_by_clip_results() -> None:
    backend = default_flow_backend()
    assert backend.compute_clips is not None
    clips = _clips()
    for clip, result in zip(clips, backend.flow_of_clips(clips, "farneback", device="cpu")):
        np.testing.assert_array_equal(result.forward, backend.compute(clip, "farneback", device="cpu").forward)


def test_a_backend_without_compute_clips_is_called_once_per_clip() -> None:
    full = default_flow_backend()
    calls: list[int] = []

    def compute(frames: np.ndarray, method: str, **kwargs: object) -> object:
        calls.append(len(frames))
        return full.compute(frames, method, **kwargs)

    results = FlowBackend(compute, full.render).flow_of_clips(_clips(), "farneback", device="cpu")
    assert calls == [2, 4] and [r.pairs for r in results] == [1, 3]
    short = FlowBackend(compute, full.render, compute_clips=lambda clips, method, **kwargs: [])
    with pytest.raises(ValueError, match="returned 0 results for 2 clips"):
        short.flow_of_clips(_clips(), "farneback")
