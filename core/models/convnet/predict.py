"""Inference for the two-stream ConvNet: frames in, :class:`core.prediction.Prediction` out.

A clip is one snippet (its window of L + 1 frames); a video is
``test_snippets`` snippets (25, seed 002) spread uniformly, scored together when
the model combines them (ConvLSTM, conv fusion) and one by one with their
softmax averaged otherwise.  A conv fusion or ConvLSTM that records its training
snippet count (``fusion_snippets``) reads them in groups of that many spaced as in
training (:func:`~core.models.convnet.inputs.fusion_groups`: a segment apart, or
clips at each of seed 003's ``fusion_strides``), the groups' softmax averaged: its
3-D kernel or recurrence sees as many snippets, as far apart, as it learnt on.  With
``attention`` each prediction carries :class:`~core.models.shared.cam_maps.CamMaps`
on the frames each snippet saw.
Batching, precision and cancelling are :class:`core.inference.ClipClassifier`'s.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Callable, Sequence

from core.inference.classifier import Sample
from core.inference.frames import FrameSource
from core.models.convnet.inputs import PreparedSnippets, fusion_group_count, fusion_groups, prepare_snippets, snippet_starts, stride_clip_count
from core.models.shared.streams_classifier import StreamsClassifier
from core.progress import CancelToken


class ConvNetClassifier(StreamsClassifier):
    """A loaded :class:`~core.models.convnet.model.TwoStreamConvNet` fed from video frames."""

    def default_video_count(self) -> int:
        return int(self.config.test_snippets)

    def video_sampling_note(self, count: int) -> str | None:
        """What ``eval`` says when a video's ``count`` snippets are not scored as ``count`` samples: the conv
        fusion's (or ConvLSTM's) groups spaced as in training."""
        config = self.config
        per = int(config.fusion_snippets)
        if not (config.joint_snippets and per):
            return None
        who = "conv fusion" if config.variant == "conv" else "ConvLSTM"
        strides = config.fusion_strides
        if strides:
            each = stride_clip_count(count, config)
            groups = each * len(strides)
            return (f"{who}: each video is scored as {groups} clips of {per} snippets, {each} at each stride of "
                    f"{', '.join(str(s) for s in strides)} frames as in training ({groups * per} snippets, a clip below is one "
                    f"sample), their softmax averaged")
        groups = fusion_group_count(count, config)
        return (f"{who}: each video is scored as {groups} samples of {per} snippets spaced as in training "
                f"({groups * per} snippets, a clip below is one sample), their softmax averaged")

    def _prepare(self, frames: FrameSource, starts: Sequence[int], cancel: CancelToken | None, progress: Callable[..., None] | None = None) -> PreparedSnippets:
        return prepare_snippets(
            frames, starts, self.config,
            flow_backend=self.flow_backend if self.config.uses_flow else None,
            flow_method=self.flow_method, device=self.device, cancel=cancel, progress=progress, crop_position=self.crop_position,
        )

    def _sample(self, prepared: PreparedSnippets) -> Sample:
        windows = prepared.windows
        # one snippet: its frames as fed, the repeats of a padded end included (as every family reports a clip);
        # several: each frame they use, once
        frames = tuple(windows[0].indices) if len(windows) == 1 else tuple(sorted({i for w in windows for i in w.indices}))
        # where each snippet's maps belong: the spatial stream saw the window's centre frame alone, the temporal
        # stream the flow of its L pairs, which the flow view shows at each pair's first frame (not the last frame)
        rgb_per_map = [(w.indices[prepared.centre_offset],) for w in windows]
        flow_per_map = [tuple(w.indices[:-1]) for w in windows]
        return Sample(
            inputs=prepared.inputs(),
            start=windows[0].start,
            frame_indices=frames,
            padded=max(w.padded for w in windows),
            crop_map=prepared.crop_map,
            flow_frame_indices=frames if self.config.uses_flow else None,
            flow_method=prepared.flow_method,
            flow_fell_back=prepared.flow_fell_back,
            flow_note=prepared.flow_note,
            timings_ms=dict(prepared.timings_ms),
            placement=(rgb_per_map if self.config.uses_rgb else None, flow_per_map if self.config.uses_flow else None),
        )

    def clip_sample(self, frames: FrameSource, start: int, cancel: CancelToken | None) -> Sample:
        return self._sample(self._prepare(frames, [start], cancel))

    def video_samples(self, frames: FrameSource, count: int, cancel: CancelToken | None, progress: Callable[..., None] | None) -> list[Sample]:
        if self.config.joint_snippets and self.config.fusion_snippets:
            groups = fusion_groups(len(frames), count, self.config)
            starts = sorted({s for group in groups for s in group})  # the video read once, in order, each snippet once
            prepared = self._prepare(frames, starts, cancel, progress)
            where = {s: n for n, s in enumerate(starts)}
            uses = Counter(s for group in groups for s in group)  # a snippet two clips share: half its time to each
            return [self._sample(_group(prepared, [where[s] for s in group], sum(1 / uses[s] for s in group) / len(starts)))
                    for group in groups]
        starts = snippet_starts(len(frames), count, self.config)
        prepared = self._prepare(frames, starts, cancel, progress)
        if self.config.joint_snippets:
            return [self._sample(prepared)]
        return [self._sample(_one_snippet(prepared, s)) for s in range(len(starts))]


def _one_snippet(prepared: PreparedSnippets, index: int) -> PreparedSnippets:
    """Snippet ``index`` of prepared snippets as a one-snippet preparation (timings split evenly)."""
    count = len(prepared.windows)
    return dataclasses.replace(
        prepared,
        rgb=None if prepared.rgb is None else prepared.rgb[index : index + 1],
        flow=None if prepared.flow is None else prepared.flow[index : index + 1],
        windows=[prepared.windows[index]],
        timings_ms={k: v / count for k, v in prepared.timings_ms.items()},
    )


def _group(prepared: PreparedSnippets, indices: list[int], share: float) -> PreparedSnippets:
    """Snippets ``indices`` of prepared snippets as one sample of their own, with ``share`` of the timings
    (the groups' shares sum to 1, so the clips' timings add up to the video's)."""
    return dataclasses.replace(
        prepared,
        rgb=None if prepared.rgb is None else prepared.rgb[indices],
        flow=None if prepared.flow is None else prepared.flow[indices],
        windows=[prepared.windows[i] for i in indices],
        timings_ms={k: v * share for k, v in prepared.timings_ms.items()},
    )
