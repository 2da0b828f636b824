"""A display matrix, or an image's EXIF orientation, read as the picture a player shows: a right-angle turn, perhaps
mirrored.

Why: phone cameras store frames sideways and say in a 3x3 display matrix how to show them; a front
camera's matrix may mirror them too.  The matrix's rotation angle alone (what ``VideoFrame.rotation``
gives) calls a mirror a half turn, so a mirrored video came out upside down, and a flip top to bottom
was not seen at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# How far from a right angle a matrix may turn the picture and still count as that right angle (FFmpeg's
# command line warns of an "odd rotation angle" beyond 2 degrees).
RIGHT_ANGLE_SLACK = math.sin(math.radians(2.0))


class OddOrientation(ValueError):
    """A display matrix that turns the picture by an angle that is not a multiple of 90 degrees (the message: the angle)."""


@dataclass(frozen=True)
class Orientation:
    """Turn ``rotation`` degrees clockwise (a multiple of 90), then mirror left to right when ``mirrored``."""

    rotation: int = 0
    mirrored: bool = False

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` (H, W, ...) as shown; the same array when nothing changes."""
        turns = (self.rotation // 90) % 4
        if turns == 0 and not self.mirrored:
            return frame
        shown = np.rot90(frame, k=-turns)
        if self.mirrored:
            shown = shown[:, ::-1]
        return np.ascontiguousarray(shown)


UPRIGHT = Orientation()
_ALL = tuple(Orientation(r, m) for m in (False, True) for r in (0, 90, 180, 270))
# EXIF's Orientation tag (TIFF tag 274): 1 upright, 2 mirrored, 3 half turn, 4 flipped top to bottom, 5 transposed,
# 6 a quarter turn clockwise to show (a camera held upright), 7 transverse, 8 a quarter turn anticlockwise.
_EXIF = {1: UPRIGHT, 2: Orientation(0, True), 3: Orientation(180), 4: Orientation(180, True),
         5: Orientation(90, True), 6: Orientation(90), 7: Orientation(270, True), 8: Orientation(270)}


def from_exif(value: object) -> Orientation:
    """The orientation an image's EXIF Orientation tag asks for, as image viewers apply it; upright for a value
    outside 1..8 (a damaged tag), which they show as stored."""
    return _EXIF.get(value, UPRIGHT) if isinstance(value, int) else UPRIGHT


def from_display_matrix(data: bytes) -> Orientation:
    """The orientation FFmpeg's display matrix side data (nine 16.16 fixed-point int32) asks for.

    The matrix maps a stored pixel (x, y) to the shown one: ``x' = a x + c y``, ``y' = b x + d y`` (scale and
    translation aside).  :class:`OddOrientation` when it is no right-angle turn, which a frame array cannot show."""
    m = np.frombuffer(data[:36], dtype=np.int32).astype(np.float64) / 65536.0
    a, b, c, d = m[0], m[1], m[3], m[4]
    x_scale, y_scale = math.hypot(a, c), math.hypot(b, d)
    if x_scale == 0 or y_scale == 0:
        return UPRIGHT  # a degenerate matrix: nothing a player could apply either
    a, c, b, d = a / x_scale, c / x_scale, b / y_scale, d / y_scale
    signs = [round(v) for v in (a, b, c, d)]
    turn_only = (signs[0] == signs[3] == 0 and abs(signs[1]) == abs(signs[2]) == 1) or (
        signs[1] == signs[2] == 0 and abs(signs[0]) == abs(signs[3]) == 1)
    if not turn_only or any(abs(v - s) > RIGHT_ANGLE_SLACK for v, s in zip((a, b, c, d), signs)):
        raise OddOrientation(f"{math.degrees(math.atan2(b, a)) % 360:.0f} degrees clockwise")
    a, b, c, d = signs
    probe = np.arange(6).reshape(2, 3)  # stored pixels, shown as the matrix maps them
    shown = probe.T if a == 0 else probe  # a == 0: stored x becomes shown y
    if (c if a == 0 else a) < 0:
        shown = shown[:, ::-1]
    if (b if a == 0 else d) < 0:
        shown = shown[::-1]
    return next(o for o in _ALL if np.array_equal(o.apply(probe), shown))
