"""Inference for representation-flow checkpoints: clips in, :class:`core.prediction.Prediction` out.

No optical flow is computed (``flow_method`` is ``None`` and the ``flow``
stage takes 0 ms); the representation-flow stream's time is reported as
``flow_backbone``.  A video is ``test_clips`` clips spread uniformly (TSN),
softmax averaged.  The model sees RGB frames only, so its maps go on the RGB
view: the flow layers' when it has them, else the RGB stream's.
"""

from __future__ import annotations

from core.inference.classifier import Sample
from core.inference.frames import FrameSource
from core.models.shared.streams_classifier import StreamsClassifier
from core.models.repflow.inputs import prepare_clip
from core.progress import CancelToken


class RepFlowClassifier(StreamsClassifier):
    def default_video_count(self) -> int:
        return int(self.config.test_clips)

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        config = self.config
        prepared = prepare_clip(frames, start, config, self.crop_position)
        indices = tuple(prepared.clip.indices)
        steps = len(indices) - config.flow_layers
        return Sample(
            inputs=prepared.inputs(),
            start=prepared.clip.start,
            frame_indices=indices,
            padded=prepared.clip.padded,
            crop_map=prepared.crop_map,
            timings_ms=dict(prepared.timings_ms),
            placement=(
                [(i,) for i in indices] if config.uses_rgb else None,
                [indices[t : t + config.flow_layers + 1] for t in range(steps)] if config.uses_flow else None,
            ),
        )

    def map_views(self, has_rgb: bool, has_flow: bool) -> tuple[tuple[str, str | None], ...] | None:
        return (("rgb", "flow" if has_flow else ("rgb" if has_rgb else None)), ("flow", None))
