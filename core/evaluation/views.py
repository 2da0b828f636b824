"""Multi-view testing: several clips of a video times several spatial crops, softmax averaged.

``CLIPSxCROPS`` as the papers write it: MViTv2 and Swin report Kinetics-400
with 5x3 or 4x3 views (clips spread uniformly over the video, times three
square crops along the longer side of frames whose shorter side was resized
to the input size); seed 002 tests 25 snippets a video, and Simonyan & Zisserman's
original protocol also ten crops of each (four corners and the centre, and their
flips) of frames resized beyond the input size.  Here frames are resized so their
shorter side is the input size, which leaves room along the longer side only:
crops are 1 (the centre, what inference sees) or 3 (start, centre, end), and a
25x1 score is not the original's 25x10 one (README says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InputError
from core.sampling import CENTRE, THREE_CROPS

CROP_POSITIONS = {1: (CENTRE,), 3: THREE_CROPS}
MAX_CLIPS = 250  # 10x the seeds' densest protocol (25 snippets a video); more only repeats clips
_VIEWS = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@dataclass(frozen=True)
class Views:
    """``clips`` temporal samples a video, each seen through ``crops`` spatial crops."""

    clips: int
    crops: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.clips <= MAX_CLIPS:
            raise InputError(f"views: clips must be from 1 to {MAX_CLIPS}, got {self.clips}")
        if self.crops not in CROP_POSITIONS:
            raise InputError(f"views: crops must be {' or '.join(map(str, CROP_POSITIONS))} (centre; start, centre, end), got {self.crops}")

    @classmethod
    def parse(cls, text: str) -> "Views":
        """``"5x3"`` -> 5 clips x 3 crops; a bad spelling is an :class:`InputError`."""
        match = _VIEWS.match(str(text))
        if not match:
            raise InputError(f"--views must be CLIPSxCROPS, e.g. 5x3 (5 clips, 3 crops each), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def positions(self) -> tuple[float, ...]:
        """Where each crop sits along the frames' longer side (0 start, 0.5 centre, 1 end)."""
        return CROP_POSITIONS[self.crops]

    @property
    def total(self) -> int:
        return self.clips * self.crops

    def __str__(self) -> str:
        return f"{self.clips}x{self.crops}"

    def describe(self) -> str:
        if self.crops == 1:
            return f"{self.clips} clip{'s' if self.clips != 1 else ''} averaged"
        return f"{self.clips} clips x {self.crops} crops = {self.total} views averaged"
