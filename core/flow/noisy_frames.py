"""From flagged frame pairs to the frames that break them.

A flow noise score belongs to a *pair* of frames.  One corrupt frame spoils
both pairs it takes part in (the flow into it and the flow out of it), so a
list of flagged pairs names two candidates per bad frame, and the first of them
(the frame before) has a clean picture.  Here a frame whose pair before and pair
after are both flagged is named as the culprit; a flagged pair that no such
frame explains (a scene cut, a sudden motion) is named by its first frame, the
one whose flow the viewer shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoisyFrame:
    """A frame to look at, and the flagged pairs (pair ``p`` is frames ``p -> p+1``) it accounts for."""

    frame: int
    pairs: tuple[int, ...]

    @property
    def breaks_both_neighbours(self) -> bool:
        """True when the frame itself looks broken (the flow into and out of it are both flagged)."""
        return len(self.pairs) == 2


def flagged_pairs(noise: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of pairs scoring above ``threshold`` (unscanned pairs, NaN, are not flagged)."""
    scores = np.nan_to_num(np.asarray(noise, dtype=np.float64), nan=-np.inf)
    return np.flatnonzero(scores > threshold)


def noisy_frames(noise: np.ndarray, threshold: float) -> list[NoisyFrame]:
    """The frames to visit for the pairs above ``threshold``, in frame order.

    ``noise[p]`` scores pair ``p`` (frames ``p`` and ``p + 1``).  Frame ``i`` with
    pairs ``i - 1`` and ``i`` both flagged is named for both; every flagged pair
    left over is named by its first frame.
    """
    bad = set(int(p) for p in flagged_pairs(noise, threshold))
    named: dict[int, tuple[int, ...]] = {}
    explained: set[int] = set()
    for pair in sorted(bad):
        if pair + 1 in bad:  # frame pair+1 sits between two flagged pairs
            named[pair + 1] = (pair, pair + 1)
            explained.update((pair, pair + 1))
    for pair in sorted(bad - explained):
        named.setdefault(pair, (pair,))
    return [NoisyFrame(frame, named[frame]) for frame in sorted(named)]


def next_noisy_frame(noise: np.ndarray, threshold: float, after: int) -> NoisyFrame | None:
    """The first noisy frame after frame ``after``, wrapping to the first one; None when there is none."""
    frames = noisy_frames(noise, threshold)
    if not frames:
        return None
    return next((f for f in frames if f.frame > after), frames[0])
