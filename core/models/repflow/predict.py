"""Inference for representation-flow checkpoints: clips in, :class:`core.inference.Prediction` out.

No optical flow is computed (``flow_method`` is ``None`` and the ``flow``
stage takes 0 ms); the representation-flow stream's time is reported as
``flow_backbone``.  A video is ``test_clips`` clips spread uniformly (TSN),
softmax averaged.
"""

from __future__ import annotations

from typing import Any, Callable

from core.models.convnet.predict import Sample, SnippetClassifier
from core.models.repflow.inputs import prepare_clip
from core.progress import CancelToken, check, report
from core.sampling import uniform_clip_starts


class RepFlowClassifier(SnippetClassifier):
    def default_video_count(self) -> int:
        return int(self.config.test_clips)

    def clip_sample(self, source: Any, start: int, cancel: CancelToken | None) -> Sample:
        config = self.config
        prepared = prepare_clip(source, start, config)
        indices = tuple(prepared.clip.indices)
        steps = len(indices) - config.flow_layers
        return Sample(
            inputs=prepared.inputs(),
            start=prepared.clip.start,
            frame_indices=indices,
            padded=prepared.clip.padded,
            crop_map=prepared.crop_map,
            rgb_map_frames=[(i,) for i in indices] if config.uses_rgb else None,
            flow_map_frames=[indices[t : t + config.flow_layers + 1] for t in range(steps)] if config.uses_flow else None,
            timings_ms=dict(prepared.timings_ms),
        )

    def video_samples(self, source: Any, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        starts = uniform_clip_starts(len(source), count, self.config.clip_length, self.config.frame_stride)
        samples = []
        for n, start in enumerate(starts):
            check(cancel)
            report(progress, n, len(starts), f"clip {n + 1}/{len(starts)}: decoding")
            samples.append(self.clip_sample(source, start, cancel))
        return samples
