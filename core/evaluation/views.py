"""Multi-view testing: several clips of a video times several spatial crops, softmax averaged.

``CLIPSxCROPS`` as the papers write it: MViTv2 and Swin report Kinetics-400
with 5x3 or 4x3 views (clips spread uniformly over the video, times three
square crops along the longer side of frames whose shorter side was resized
to the input size); seed 002 tests 25 snippets a video, and Simonyan & Zisserman's
original protocol ten crops of each: four corners and the centre of frames whose
shorter side is resized beyond the input size (256 for 224 crops), and their
mirror images.  So crops are 1 (the centre, what inference sees), 3 (start,
centre, end of the longer side) or 10 (``25x10`` is the original's test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InputError
from core.sampling import CENTRE, CROP_ROOM_SCALE, TEN_CROPS, THREE_CROPS, CropView

CROP_POSITIONS: dict[int, tuple[float | CropView, ...]] = {1: (CENTRE,), 3: THREE_CROPS, 10: TEN_CROPS}
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
            raise InputError(f"views: crops must be 1 or 3 (centre; start, centre, end of the longer side) or 10 "
                             f"(4 corners + centre, and their flips), got {self.crops}")

    @classmethod
    def parse(cls, text: str) -> "Views":
        """``"5x3"`` -> 5 clips x 3 crops; a bad spelling is an :class:`InputError`."""
        match = _VIEWS.match(str(text))
        if not match:
            raise InputError(f"--views must be CLIPSxCROPS, e.g. 5x3 (5 clips, 3 crops each), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def positions(self) -> tuple[float | CropView, ...]:
        """Each crop: a place along the frames' longer side (0 start, 0.5 centre, 1 end), or a
        :class:`~core.sampling.CropView` (the ten crops: a corner or the centre, mirrored or not)."""
        return CROP_POSITIONS[self.crops]

    @property
    def total(self) -> int:
        return self.clips * self.crops

    def __str__(self) -> str:
        return f"{self.clips}x{self.crops}"

    def crop_protocol(self, input_size: int | None = None) -> str | None:
        """What the ten crops are, for reports (``None`` for 1 or 3 crops, which say it in their count)."""
        if self.crops != 10:
            return None
        shorter = f"shorter side {int(round(input_size * CROP_ROOM_SCALE))}" if input_size else "shorter side 256/224 of the input size"
        return f"4 corners + centre, and their flips, {shorter}"

    def describe(self, input_size: int | None = None) -> str:
        if self.crops == 1:
            return f"{self.clips} clip{'s' if self.clips != 1 else ''} averaged"
        protocol = self.crop_protocol(input_size)
        crops = f"{self.crops} crops" + (f" ({protocol})" if protocol else "")
        return f"{self.clips} clips x {crops} = {self.total} views averaged"
