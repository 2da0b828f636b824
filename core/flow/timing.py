"""How long flow will take: a timed pair, the cost of a chunk or a video, and the time left.

TV-L1 and RAFT on a CPU take from a fifth of a second to several seconds a
pair, depending on the frame size and on what else the machine runs; DIS takes
milliseconds.  The viewer times one pair of the chosen method on the video at
hand before committing to it, and reports the time left of running work from
its own rate, so a slow method is never a silent wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

FAST_METHODS = ("dis", "farneback")
WARM_UP_MIN_SIDE = 16  # the engine's smallest frame side


def time_one_pair(frames: np.ndarray, method: str, *, device: str = "auto", raft_weights: str | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds one forward pair of ``method`` takes on ``frames`` (2, H, W, 3): a RAFT model is
    loaded, or the method run once on the pair at half size, before the clock starts, so the figure is the
    per-pair cost, not the set-up."""
    from core.flow.engine import RAFT_METHODS, compute_flow

    if method in RAFT_METHODS:  # loads (and keeps) the model; a missing-weights fallback times the fallback
        compute_flow(frames[:2], method, device=device, raft_weights=raft_weights)
    else:  # a first call pays for set-up (torch's threads and buffers; several times a pair's cost): pay it on a half-size pair
        half = frames[:2, ::2, ::2]
        if min(half.shape[1:3]) >= WARM_UP_MIN_SIDE:
            compute_flow(np.ascontiguousarray(half), method, device=device)
    start = clock()
    compute_flow(frames[:2], method, device=device, raft_weights=raft_weights)
    return clock() - start


@dataclass(frozen=True)
class FlowCost:
    """What a method will cost on a video: seconds a pair (one direction) and the pairs to do."""

    method: str
    seconds_per_pair: float
    pairs: int
    directions: int = 2  # forward and backward: the viewer's quality maps need both

    def seconds_for(self, pairs: int) -> float:
        return self.seconds_per_pair * pairs * self.directions

    @property
    def whole_video_s(self) -> float:
        return self.seconds_for(self.pairs)


def format_duration(seconds: float) -> str:
    """``"12 s"``, ``"3 min"``, ``"1 h 20 min"``: an estimate, rounded as one."""
    if not np.isfinite(seconds) or seconds < 0:
        return "unknown time"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, rest = divmod(int(round(minutes)), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


class TimeLeft:
    """Time left of running work, from its own rate since it started.

    ``update(done, total)`` after each step; :attr:`seconds_left` is None until
    a step has taken measurable time (a first answer from the flow cache is not a rate).
    ``free=True``: the steps since the last update cost nothing (read from a cache),
    so they do not count toward the rate: a whole-video scan whose first chunk the
    view had just computed said "about 1 s left" of two minutes.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self._first_done = 0
        self._free = 0
        self.done = 0
        self.total = 0

    def update(self, done: int, total: int, *, free: bool = False) -> None:
        if self.done == 0 and done > 0 and self._clock() - self._start < 0.05:
            self._first_done, self._start = done, self._clock()  # a cache hit: start timing after it
        elif free:
            if self.done - self._first_done - self._free == 0:  # nothing computed yet: the clock starts after the free steps
                self._start = self._clock()
            self._free += max(0, int(done) - self.done)
        self.done, self.total = int(done), int(total)

    @property
    def seconds_left(self) -> float | None:
        worked = self.done - self._first_done - self._free
        elapsed = self._clock() - self._start
        if worked <= 0 or elapsed <= 0 or self.total <= 0:
            return None
        return max(0.0, elapsed / worked * (self.total - self.done))

    def describe(self, unit: str = "") -> str:
        """``"12/32 pairs, about 40 s left"``, or ``"12/32 pairs"`` before a rate is known."""
        left = self.seconds_left
        text = f"{self.done}/{self.total}" + (f" {unit}" if unit else "")
        return text if left is None or self.done >= self.total else f"{text}, about {format_duration(left)} left"
