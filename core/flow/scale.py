"""One colour scale per video, settled before its first flow picture is drawn.

A colour radius read from the whole-video scan arrives after the first pictures
(and changed under the user when the scan ended: 5 -> 2.3 px on one clip); the
largest motion of a clip is set by its worst pair (a camera jump made one
HMDB51 clip nearly white).  So the radius comes from a quick sample of pairs
spread over the video, before anything is drawn, as a high percentile of the
pairs' own 95th-percentile motions: a few large-motion pairs do not set it.
The sample uses DIS (milliseconds a pair) whatever method the view shows:
methods agree on how far things move far better than on the fine detail, and
the scale then does not change when the user changes method.

Motions, the radius and its floor are in the video's pixels: a large video's
pairs are measured at the flow's smaller analysis size and scaled back
(``video_pixels``), so "auto" settles the same radius for the same on-screen
motion whatever the video's size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from core.progress import CancelToken, check, report

SAMPLE_PAIRS = 8
SAMPLE_METHOD = "dis"
RADIUS_PERCENTILE = 75  # of the sampled pairs' 95th-percentile motions: two pairs in eight can be wild
PAIR_PERCENTILE = 95  # of one pair's pixel motions: a few mismatched pixels do not count
RADIUS_FLOOR = 0.5  # video pixels: a still video's sub-pixel noise is not blown up to full colour
SAMPLE_BUDGET_S = 3.0  # the first picture waits for the sample: no longer than this (after MIN_SAMPLED pairs)
MIN_SAMPLED = 3


@dataclass(frozen=True)
class MotionScale:
    """The sampled pairs (pair ``p`` is frames ``p -> p+1``), their motions and the radius they give."""

    pairs: tuple[int, ...]
    pair_p95: tuple[float, ...]
    radius: float


def sample_pairs(pair_count: int, count: int = SAMPLE_PAIRS) -> list[int]:
    """Up to ``count`` pair indices spread evenly over ``pair_count`` pairs (first and last included)."""
    if pair_count <= 0:
        return []
    if pair_count <= count:
        return list(range(pair_count))
    return sorted({int(round(x)) for x in np.linspace(0, pair_count - 1, count)})


def pair_motion(flow: np.ndarray) -> float:
    """The :data:`PAIR_PERCENTILE` th percentile of one pair's motion lengths, (2, H, W) in pixels."""
    flow = np.asarray(flow, dtype=np.float32)
    magnitude = np.hypot(flow[0], flow[1])
    finite = magnitude[np.isfinite(magnitude)]
    return float(np.percentile(finite, PAIR_PERCENTILE)) if finite.size else float("nan")


def settled_radius(pair_p95: Sequence[float] | np.ndarray) -> float | None:
    """The colour radius for pairs whose 95th-percentile motions are ``pair_p95`` (NaN: unknown),
    two significant digits so it reads well; None when none is known."""
    known = np.asarray(pair_p95, dtype=np.float64)
    known = known[np.isfinite(known)]
    if known.size == 0:
        return None
    radius = max(RADIUS_FLOOR, float(np.percentile(known, RADIUS_PERCENTILE, method="lower")))
    return float(f"{radius:.2g}")


def spread_order(pairs: Sequence[int]) -> list[int]:
    """``pairs`` reordered so that any first few of them are spread over the video: the ends,
    the middle, the quarters, ... (a sample cut short by its time budget still spans the video)."""
    pairs = list(pairs)
    if len(pairs) <= 2:
        return pairs
    order, queue = [pairs[0], pairs[-1]], [(0, len(pairs) - 1)]
    while queue:
        low, high = queue.pop(0)
        middle = (low + high) // 2
        if middle not in (low, high):
            order.append(pairs[middle])
            queue += [(low, middle), (middle, high)]
    return order + [p for p in pairs if p not in order]


def measure_motion_scale(
    read_pair: Callable[[int], np.ndarray],
    pair_count: int,
    *,
    count: int = SAMPLE_PAIRS,
    budget_s: float = SAMPLE_BUDGET_S,
    video_pixels: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
) -> MotionScale:
    """Sample up to ``count`` pairs of a video of ``pair_count`` pairs and settle its colour radius.

    ``read_pair(p)`` returns frames ``p`` and ``p + 1`` as a (2, H, W, 3) uint8 array
    (at the size the flow will be computed at); ``video_pixels`` is how many of the video's pixels one of
    theirs spans (:func:`core.flow.analysis_size.video_pixels_per_analysis_pixel`): the motions and the
    radius are stated in the video's pixels.  Seeking can be slow (a long-GOP 4K
    file decodes up to a GOP per pair): after ``budget_s`` seconds the pairs measured
    so far decide (at least :data:`MIN_SAMPLED`), taken in :func:`spread_order`.  A pair that cannot be read (a
    damaged frame of a folder) is passed over: one bad frame must not leave the whole video without flow; when
    no pair reads, the first error is raised.
    """
    from core.errors import VideoError
    from core.flow.engine import compute_flow

    pairs = spread_order(sample_pairs(pair_count, count))
    measured, motions = [], []
    unreadable: list[VideoError] = []
    start = clock()
    for pair in pairs:
        check(cancel)
        if len(measured) >= MIN_SAMPLED and clock() - start > budget_s:
            break
        try:
            frames = read_pair(pair)
        except VideoError as err:
            unreadable.append(err)
            continue
        flow = compute_flow(frames, SAMPLE_METHOD, device="cpu").forward[0]
        measured.append(pair)
        motions.append(pair_motion(flow) * video_pixels)
        report(progress, len(measured), len(pairs), f"motion sample {len(measured)}/{len(pairs)}")
    if not measured and unreadable:
        raise unreadable[0]
    radius = settled_radius(motions)
    order = np.argsort(measured)
    return MotionScale(tuple(int(measured[i]) for i in order), tuple(motions[i] for i in order), RADIUS_FLOOR if radius is None else radius)
