"""A video's flow noise, pair by pair, computed as the viewer's Scan flow computes it, without Qt.

The viewer's flow work (``viewer/flow_chunks.py``) cuts a video into chunks of
:data:`CHUNK_PAIRS` pairs at fixed boundaries, shrinks frames whose shorter
side passes :data:`MAX_ANALYSIS_SIDE`, computes forward and backward flow
through the flow cache and scores each pair with
:func:`core.flow.quality.pair_quality`; the dataset panel's survey sums a
video up with :func:`core.data.flow_survey.summarise_noise` and keeps it in a
:class:`~core.data.flow_survey.FlowSurveyStore`.  Here are the same steps for
``eval`` on a machine with no viewer: the same frame indices and sizes (so the
same flow-cache entries), the same measure and the same store, so a summary
equals the one the viewer's survey stores (a test compares the two, which
also holds the viewer's copy of the chunk constants to these).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from core.data.flow_survey import FlowSummary, FlowSurveyStore, default_survey_root, summarise_noise
from core.errors import InputError
from core.flow.analysis_size import MAX_ANALYSIS_SIDE, analysis_frames  # noqa: F401 - the viewer and eval take them from here
from core.progress import CancelToken, check, report

if TYPE_CHECKING:
    from core.video import Video

CHUNK_PAIRS = 16  # the viewer's unit of flow work; its boundaries decide the flow cache's keys
DEFAULT_SURVEY_METHOD = "dis"  # the dataset panel's Scan flow, for a model that computes no flow
SAVE_EVERY = 8  # videos between writes of the survey store


def chunk_indices(chunk: int, frame_count: int) -> list[int]:
    """The frames of chunk ``chunk``: its :data:`CHUNK_PAIRS` pairs and the frame closing the last."""
    first = chunk * CHUNK_PAIRS
    return list(range(first, min(first + CHUNK_PAIRS + 1, frame_count)))


def chunks_covering(first_pair: int, stop_pair: int) -> range:
    """The chunks holding pairs ``first_pair`` up to ``stop_pair`` (exclusive): the file's own chunk boundaries,
    so a segment's pairs come from the same flow-cache entries as the whole file's."""
    return range(first_pair // CHUNK_PAIRS, (stop_pair + CHUNK_PAIRS - 1) // CHUNK_PAIRS)


def pair_noise_scores(
    video: Video,
    method: str,
    *,
    device: str = "auto",
    raft_weights: str | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
    pairs: tuple[int, int] | None = None,
) -> list[float]:
    """The noise score of every frame pair of ``video`` (pair ``p``: frames ``p`` and ``p + 1``), or of pairs
    ``pairs[0]`` up to ``pairs[1]`` (exclusive; an annotated segment), through the same chunks."""
    from core.flow import compute_flow_cached, pair_quality

    frame_count = len(video)
    first, stop = (0, max(0, frame_count - 1)) if pairs is None else (max(0, pairs[0]), min(pairs[1], frame_count - 1))
    wanted = max(0, stop - first)
    scores: list[float] = []
    for chunk in chunks_covering(first, stop):
        check(cancel)
        indices = chunk_indices(chunk, frame_count)
        frames = analysis_frames(video.read_clip(indices))
        result, _hit = compute_flow_cached(video.path, indices, method, frames=frames, device=device, backward=True,
                                           raft_weights=raft_weights, cancel=cancel)
        for k in range(result.pairs):
            if not first <= indices[k] < stop:
                continue
            check(cancel)
            backward = None if result.backward is None else result.backward[k]
            quality, _maps = pair_quality(frames[k], frames[k + 1], result.forward[k], backward)
            scores.append(quality.noise_score)
        report(progress, len(scores), wanted, f"pair {len(scores)}/{wanted}")
    return scores


def survey_video(path: str | os.PathLike[str], method: str, *, device: str = "auto", raft_weights: str | None = None,
                 cancel: CancelToken | None = None, progress: Callable[..., None] | None = None,
                 segment: tuple[float, float] | None = None) -> FlowSummary:
    """One video's flow-noise summary over all its pairs (the pairs within its annotated ``segment`` when given,
    named by the file's frames); an unreadable video is an :class:`InputError`."""
    from core.video import file_span, open_segment

    with open_segment(path, segment) as opened:
        video, first, stop = file_span(opened)  # pairs through the file's own chunks: the viewer's flow cache entries
        scores = pair_noise_scores(video, method, device=device, raft_weights=raft_weights, cancel=cancel, progress=progress,
                                   pairs=(first, stop - 1))
        return summarise_noise(scores, first=first)


def survey_videos(
    paths: Sequence[Path],
    method: str,
    *,
    device: str = "auto",
    raft_weights: str | None = None,
    store: FlowSurveyStore | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
    segments: Mapping[Path, tuple[float, float]] | None = None,
) -> tuple[dict[Path, FlowSummary], list[tuple[Path, str]]]:
    """Summaries of ``paths`` (keyed as given; of its annotated seconds for a path in ``segments``) and the
    videos that could not be surveyed (with why).

    A video the survey store (default: the viewer's, for ``method``) already
    summarises is not opened; each new summary is put in it, and the store is
    saved on the way out, also when cancelled, so a second run resumes and the
    viewer's dataset panel shows the noise without scanning again.
    """
    store = store if store is not None else FlowSurveyStore(default_survey_root(), method)
    summaries: dict[Path, FlowSummary] = {}
    failed: list[tuple[Path, str]] = []
    total = len(paths)
    try:
        for done, path in enumerate(paths):
            check(cancel)
            segment = (segments or {}).get(path)
            summary = store.get(path, segment)
            if summary is None:
                def inner(pair: int, pairs: int, _message: str = "", name: str = Path(path).name, done: int = done) -> None:
                    report(progress, done, total, f"{name}: pair {pair}/{pairs}")

                try:
                    summary = survey_video(path, method, device=device, raft_weights=raft_weights, cancel=cancel, progress=inner,
                                           segment=segment)
                except InputError as err:  # listed, the rest go on
                    failed.append((path, err.problem))
                    report(progress, done + 1, total, f"{Path(path).name}: {err.problem}")
                    continue
                store.put(path, summary, segment=segment)
                if (done + 1) % SAVE_EVERY == 0:
                    store.save()
            summaries[path] = summary
            report(progress, done + 1, total, Path(path).name)
    finally:
        store.save()
    return summaries, failed
