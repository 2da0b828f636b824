"""What the flow view waits for, and what it did not start: small immutable records the
flow controller hands to the widgets (:mod:`viewer.flow_status` draws them)."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import is_transient
from core.flow.scale import MotionScale
from core.flow.timing import FAST_METHODS, FlowCost, format_duration
from viewer.flow_chunks import CHUNK_PAIRS

FAST_METHOD = "dis"


@dataclass(frozen=True)
class FlowJobStatus:
    """What the flow view is waiting for: ``phase`` "measuring" (the prepare job), "computing"
    (the current pair's chunk), "failed" (``text`` says why) or "ready" (nothing: the picture is shown)."""

    phase: str
    method: str
    pair: int
    text: str = ""  # progress and time left, when known
    retryable: bool = False  # "failed" for a passing cause: the view offers Try again

    @property
    def slow(self) -> bool:
        return self.method not in FAST_METHODS


def failure_text(error: BaseException) -> str:
    """``error`` in one line for the flow view's message and the scan's line (its name when it says nothing)."""
    return " ".join(str(error).split()) or type(error).__name__


@dataclass(frozen=True)
class ChunkFailure:
    """Why a chunk's flow failed, in one line, and whether asking again may succeed (:func:`core.errors.is_transient`:
    memory, a drive gone for a while, a stopped job) or fails again (frames of another size, a damaged file)."""

    text: str
    transient: bool

    @classmethod
    def of(cls, error: BaseException) -> "ChunkFailure":
        return cls(failure_text(error), is_transient(error))


@dataclass(frozen=True)
class SlowMethodOffer:
    """A method the video did not open on because of its cost (seconds, measured on this video)."""

    method: str
    cost: FlowCost

    def describe(self) -> str:
        first = format_duration(self.cost.seconds_for(CHUNK_PAIRS))
        whole = format_duration(self.cost.whole_video_s)
        return (f"{self.method} would take about {first} before the first picture and {whole} for the whole video here "
                f"({self.cost.seconds_per_pair:.2g} s a pair): showing {FAST_METHOD}.")


@dataclass(frozen=True)
class Prepared:
    """What a video's prepare job found: its colour scale, and the cost of the method asked for (None: fast or cached)."""

    session: int
    method: str
    scale: MotionScale
    cost: FlowCost | None
