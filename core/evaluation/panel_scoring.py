"""Score a dataset's videos one by one for the dataset panel, reusing what is already scored.

Plain Python for a worker: each video is looked up in the checkpoint's
:class:`~core.evaluation.record_cache.RecordCache` first and scored only when
absent (K clips spread over it, softmax averaged, as ``eval`` does).  Each
record is handed to ``progress(..., partial=record)`` as soon as it exists, so
the table fills while the job runs; the cache is saved every :data:`SAVE_EVERY_S`
seconds and on the way out, also when cancelled, so a second run resumes (and a
viewer killed mid-run keeps all but its last seconds of scoring).  The record keeps the start of the
clip that scored the true class lowest: where to look first in the viewer.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core.errors import InputError
from core.evaluation.panel_settings import DEFAULT_PANEL_CLIPS
from core.evaluation.record_cache import RecordCache
from core.evaluation.video_results import VideoRecord, record_of, worst_clip_start
from core.progress import CancelToken, check, report

SAVE_EVERY_S = 20.0  # the cache is rewritten whole: by time, not per video (13,320 records are megabytes)


def score_video(classifier: Any, path: Path, relative: str, true_name: str, clips: int, cancel: CancelToken | None,
                segment: tuple[float, float] | None = None) -> VideoRecord:
    """One video's record (of its annotated ``segment`` when given): mean softmax of ``clips`` clips and the
    worst clip's first frame, numbered as in the file (the viewer opens the file)."""
    from core.sampling import uniform_clip_starts
    from core.video import open_segment
    from core.video.segment import file_index

    config = classifier.config
    names = list(config.class_names)
    true_index = names.index(true_name)
    with open_segment(path, segment) as video:
        if getattr(config, "joint_snippets", False):
            outcome = classifier.predict_video(video, clips, top=1, cancel=cancel)
            predictions, starts = list(outcome.clips), [c.start for c in outcome.clips]
        else:
            starts = uniform_clip_starts(len(video), clips, config.clip_length, config.frame_stride)
            predictions = classifier.predict_clips(video, starts, top=1, cancel=cancel)
        starts = [file_index(video, int(s)) for s in starts]
    per_clip = np.stack([np.asarray(p.probabilities, dtype=np.float64) for p in predictions])
    methods = sorted({p.flow_method for p in predictions if p.flow_method})
    flow = None if not config.uses_flow else {
        "method": ", ".join(methods), "fell_back": any(p.flow_fell_back for p in predictions),
        "note": "; ".join(sorted({p.flow_note for p in predictions if p.flow_note})),
    }
    return record_of(relative, Path(path).resolve(), names, true_index, per_clip.mean(axis=0).tolist(), flow,
                     worst_frame=worst_clip_start(per_clip, true_index, starts), segment=segment)


def reusable_record(record: VideoRecord | None, relative: str, true_name: str) -> VideoRecord | None:
    """A cached record as this listing names its video, or ``None`` when it was scored against another true
    class (its correctness and worst clip answer that class; a relabelled video is scored again)."""
    if record is None or record.true != true_name:
        return None
    return record if record.video == relative else replace(record, video=relative)


def score_videos(
    classifier: Any,
    videos: Sequence[tuple[Path, str, str] | tuple[Path, str, str, tuple[float, float] | None]],
    cache: RecordCache,
    *,
    clips: int = DEFAULT_PANEL_CLIPS,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
) -> tuple[list[VideoRecord], list[tuple[Path, str]]]:
    """Records of ``(path, relative, true class[, segment])`` videos, cached ones first-hand; returns the
    records and the videos that could not be read (with why)."""
    records: list[VideoRecord] = []
    failed: list[tuple[Path, str]] = []
    saved = time.monotonic()
    try:
        for done, (path, relative, true_name, *rest) in enumerate(videos, start=1):
            check(cancel)
            segment = rest[0] if rest else None
            record = reusable_record(cache.get(path, segment), relative, true_name)
            if record is None:
                try:
                    record = score_video(classifier, path, relative, true_name, clips, cancel, segment)
                except InputError as err:  # an unreadable video: listed, the rest go on
                    failed.append((path, err.problem))
                    report(progress, done, len(videos), f"{relative}: {err.problem}")
                    continue
                cache.put(record, segment)
                if time.monotonic() - saved >= SAVE_EVERY_S:  # a viewer killed mid-run keeps what it scored
                    cache.save()
                    saved = time.monotonic()
            records.append(record)
            if progress is not None:
                progress(done, len(videos), relative, partial=record)
    finally:
        cache.save()
    return records, failed
