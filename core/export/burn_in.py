"""Text burned into exported frames: the frame number, and the class and score of the prediction
that covers the frame (as MMAction2's demo writes the label onto its output video).

Plain data and OpenCV drawing, no Qt: the GUI thread freezes a :class:`LabelTrack`
from the shown predictions when an export starts, and the worker draws each frame's
lines with :func:`burn_in`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MARGIN = 4


@dataclass(frozen=True)
class LabelTrack:
    """Windows ``(first, last, label, probability)`` (inclusive frames, ascending starts): the class shown
    on each frame; where windows overlap the later one wins, as on the timeline's band."""

    windows: tuple[tuple[int, int, str, float], ...] = ()
    source: str = ""  # "clip" or "whole video": which prediction the labels come from

    @classmethod
    def from_predictions(cls, clips: Sequence, source: str) -> "LabelTrack":  # noqa: ANN001 - core.prediction.Prediction
        """Each clip covers its frames up to the next clip's start or its own last frame, whichever comes first
        (windows further apart than their span leave frames no prediction covers)."""
        ordered = sorted(clips, key=lambda c: c.start)
        windows = []
        for i, clip in enumerate(ordered):
            last = int(max(clip.frame_indices))
            if i + 1 < len(ordered):
                last = min(last, int(ordered[i + 1].start) - 1)
            windows.append((int(clip.start), max(int(clip.start), last), str(clip.label), float(clip.probability)))
        return cls(tuple(windows), source)

    def at(self, frame: int) -> tuple[str, float] | None:
        """The label and probability shown on ``frame``, or ``None`` where no prediction covers it."""
        for first, last, label, probability in self.windows:
            if first <= frame <= last:
                return label, probability
        return None


def caption_lines(frame: int, track: LabelTrack | None) -> list[str]:
    """The lines burned into ``frame``: its number, then the covering prediction's class and score."""
    lines = [f"frame {int(frame)}"]
    hit = None if track is None else track.at(int(frame))
    if hit is not None:
        lines.append(f"{hit[0]} {hit[1]:.1%}")
    return lines


def text_scale(height: int) -> float:
    """OpenCV font scale for an image ``height`` pixels tall: readable at 64 px, not shouting at 1080."""
    return float(np.clip(height / 500.0, 0.35, 1.2))


def burn_in(image: np.ndarray, lines: Sequence[str], *, width_limit: int | None = None) -> np.ndarray:
    """``image`` with ``lines`` written top-left in white on a dark box (a copy; the input is not changed).
    ``width_limit`` keeps the box inside the first panel of a side-by-side image."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"burn_in needs an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    out = np.ascontiguousarray(image).copy()
    if not lines:
        return out
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, text_scale(image.shape[0])
    thickness = 1 if scale < 0.8 else 2
    sizes = [cv2.getTextSize(line, font, scale, thickness) for line in lines]
    line_height = max(h + base for (_w, h), base in sizes) + MARGIN
    box_w = min(max(w for (w, _h), _b in sizes) + 2 * MARGIN, width_limit or out.shape[1], out.shape[1])
    box_h = min(line_height * len(lines) + MARGIN, out.shape[0])
    region = np.ascontiguousarray(out[:box_h, :box_w].astype(np.uint16) * 2 // 7, dtype=np.uint8)  # darkened, the picture faintly there
    for k, line in enumerate(lines):
        baseline_y = MARGIN + (k + 1) * line_height - sizes[k][1] - MARGIN // 2
        cv2.putText(region, line, (MARGIN, baseline_y), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    out[:box_h, :box_w] = region  # drawn on a contiguous copy: OpenCV may not draw into a strided view
    return out
