"""Score a dataset's videos one by one for the dataset panel, reusing what is already scored.

Plain Python for a worker: each video is looked up in the checkpoint's
:class:`~core.evaluation.record_cache.RecordCache` first and scored only when
absent (K clips spread over it, softmax averaged, as ``eval`` does).  Each
record is handed to ``progress(..., partial=record)`` as soon as it exists, so
the table fills while the job runs; the cache is saved on the way out, also
when cancelled, so a second run resumes.  The record keeps the start of the
clip that scored the true class lowest: where to look first in the viewer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core.errors import InputError
from core.evaluation.record_cache import RecordCache
from core.evaluation.video_results import VideoRecord, record_of, worst_clip_start
from core.progress import CancelToken, check, report

DEFAULT_PANEL_CLIPS = 3  # fewer than eval's 5: a browsing pass, said in the panel


def score_video(classifier: Any, path: Path, relative: str, true_name: str, clips: int, cancel: CancelToken | None) -> VideoRecord:
    """One video's record: mean softmax of ``clips`` clips and the worst clip's first frame."""
    from core.sampling import uniform_clip_starts
    from core.video import open_video

    config = classifier.config
    names = list(config.class_names)
    true_index = names.index(true_name)
    with open_video(path) as video:
        if getattr(config, "joint_snippets", False):
            outcome = classifier.predict_video(video, clips, top=1, cancel=cancel)
            predictions, starts = list(outcome.clips), [c.start for c in outcome.clips]
        else:
            starts = uniform_clip_starts(len(video), clips, config.clip_length, config.frame_stride)
            predictions = classifier.predict_clips(video, starts, top=1, cancel=cancel)
    per_clip = np.stack([np.asarray(p.probabilities, dtype=np.float64) for p in predictions])
    methods = sorted({p.flow_method for p in predictions if p.flow_method})
    flow = None if not config.uses_flow else {
        "method": ", ".join(methods), "fell_back": any(p.flow_fell_back for p in predictions),
        "note": "; ".join(sorted({p.flow_note for p in predictions if p.flow_note})),
    }
    return record_of(relative, Path(path).resolve(), names, true_index, per_clip.mean(axis=0).tolist(), flow,
                     worst_frame=worst_clip_start(per_clip, true_index, starts))


def score_videos(
    classifier: Any,
    videos: Sequence[tuple[Path, str, str]],
    cache: RecordCache,
    *,
    clips: int = DEFAULT_PANEL_CLIPS,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
) -> tuple[list[VideoRecord], list[tuple[Path, str]]]:
    """Records of ``(path, relative, true class)`` videos, cached ones first-hand; returns the
    records and the videos that could not be read (with why)."""
    records: list[VideoRecord] = []
    failed: list[tuple[Path, str]] = []
    try:
        for done, (path, relative, true_name) in enumerate(videos, start=1):
            check(cancel)
            record = cache.get(path)
            if record is None:
                try:
                    record = score_video(classifier, path, relative, true_name, clips, cancel)
                except InputError as err:  # an unreadable video: listed, the rest go on
                    failed.append((path, err.problem))
                    report(progress, done, len(videos), f"{relative}: {err.problem}")
                    continue
                cache.put(record)
            records.append(record)
            if progress is not None:
                progress(done, len(videos), relative, partial=record)
    finally:
        cache.save()
    return records, failed
