"""A planar YUV frame's R', G' and B' as 16-bit codes, computed from the decoder's own planes a strip of rows at a
time, for the HDR tone mapping (:mod:`core.video.hdr`), which needs R'G'B' finer than 8 bits.

Why: swscale's packed 16-bit RGB (``rgb48le``) took 18 ms a 1080p 10-bit frame, most of the budget of a whole
frame, before the tone mapping started, and the packed array then had to be split into planes.  Here it is a few
OpenCV passes (about 3 ms): the colour differences (R' - Y', ...) at chroma resolution, interpolated vertically
and repeated horizontally as swscale's ``rgb48le`` samples chroma (so edges of colour fall where they fell), then,
strip by strip, one pass that adds luma and rounds and saturates to 0-65535; whole planes of codes never exist.

One difference from swscale: its ``rgb48le`` maps limited-range white to 65283, not 65535 (0.4% dark); these
codes follow BT.2100's arithmetic exactly.

Frames this does not read (8-bit, odd sizes, packed, semi-planar, alpha, a matrix without known luma weights)
give ``None``: the caller converts those with swscale, as before.
"""

from __future__ import annotations

import threading
from typing import Sequence

import av
import cv2
import numpy as np
from av.video.format import VideoFormat
from av.video.reformatter import ColorRange, Colorspace

from core.video.hdr import BT2020_LUMA

# Luma weights (Kr, Kb) of the matrices :func:`core.video.colour.rgb_conversion` names.
_LUMA_WEIGHTS = {Colorspace.ITU709: (0.2126, 0.0722), Colorspace.ITU601: (0.299, 0.114), Colorspace.FCC: (0.30, 0.11),
                 Colorspace.SMPTE240M: (0.212, 0.087)}
if hasattr(Colorspace, "BT2020"):
    _LUMA_WEIGHTS[Colorspace.BT2020] = (BT2020_LUMA[0], BT2020_LUMA[2])
# Planar YUV without alpha, as software decoders give HDR (HEVC Main 10/12, VP9 profile 2/3, AV1, ProRes 422),
# whose chroma swscale's rgb48le conversion samples as here when the picture's size is a whole number of chroma
# samples (checked in tests/core/video/test_hdr_speed.py); 8-bit 4:2:x and odd sizes it samples otherwise.
PLANAR_FORMATS = frozenset(f"yuv{layout}p{depth}le" for layout in ("420", "422", "444") for depth in (10, 12))
_FULL_SCALE = 65535


def yuv_codes(frame: "av.VideoFrame", conversion: dict[str, object]) -> "YuvCodes | None":
    """The R'G'B' codes of ``frame`` converted with ``conversion`` (:func:`core.video.colour.rgb_conversion`'s
    arguments); ``None`` for a frame this module does not read (see its docstring)."""
    name = frame.format.name
    weights = _LUMA_WEIGHTS.get(conversion.get("src_colorspace"))
    if name not in PLANAR_FORMATS or weights is None:
        return None
    luma, cb, cr = (_plane(frame, i) for i in range(3))
    height, width = luma.shape
    if height % cb.shape[0] or width % cb.shape[1]:  # odd size: swscale samples its chroma otherwise
        return None
    depth = VideoFormat(name).components[0].bits
    y_gain, c_gain, y_black = _levels(depth, conversion.get("src_color_range") == ColorRange.JPEG)
    kr, kb = weights
    kg = 1 - kr - kb
    chroma_offset = float(1 << (depth - 1))
    cb_f = (cb.astype(np.float32) - chroma_offset) * np.float32(c_gain)
    cr_f = (cr.astype(np.float32) - chroma_offset) * np.float32(c_gain)
    black = np.full_like(cb_f, -y_black * y_gain)  # luma's offset, carried by the (smaller) chroma planes
    differences = (  # R' - Y', G' - Y', B' - Y' at chroma resolution, plus luma's offset
        cv2.scaleAdd(cr_f, 2 * (1 - kr), black),
        cv2.addWeighted(cb_f, -2 * kb * (1 - kb) / kg, cr_f, -2 * kr * (1 - kr) / kg, float(black[0, 0])),
        cv2.scaleAdd(cb_f, 2 * (1 - kb), black),
    )
    if cb.shape[0] != height:  # 4:2:0: twice the rows, linearly, edge rows held (what cv2.resize does at 2x)
        differences = tuple(cv2.resize(d, (d.shape[1], height), interpolation=cv2.INTER_LINEAR) for d in differences)
    return YuvCodes(luma, y_gain, differences)


class YuvCodes:
    """R'G'B' codes from luma and the colour differences at chroma width, a strip of rows at a time
    (:class:`core.video.hdr.CodeRows`): the differences are repeated along each row into a strip buffer, and one
    pass adds luma, rounds and saturates into the codes.  Threads may read strips at the same time (each repeats
    into a buffer of its own)."""

    def __init__(self, luma: np.ndarray, luma_gain: float, differences: tuple[np.ndarray, ...]) -> None:
        self.luma, self.luma_gain, self.differences = luma, luma_gain, differences
        self.shape: tuple[int, int] = luma.shape
        self._own = threading.local()  # .wide: this thread's strip of a difference at picture width

    def rows(self, top: int, bottom: int, out: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        luma = self.luma[top:bottom]
        count, width = luma.shape
        planes = []
        for difference, codes in zip(self.differences, out):
            difference = difference[top:bottom]
            if difference.shape[1] != width:  # 4:2:0, 4:2:2: each value twice
                wide = getattr(self._own, "wide", None)
                if wide is None or wide.shape[0] < count:
                    wide = self._own.wide = np.empty((count, width // 2, 2), np.float32)
                difference = cv2.merge([difference, difference], dst=wide[:count]).reshape(count, width)
            planes.append(cv2.addWeighted(luma, self.luma_gain, difference, 1.0, 0.0, dst=codes, dtype=cv2.CV_16U))
        return planes


def _plane(frame: "av.VideoFrame", index: int) -> np.ndarray:
    """Plane ``index`` as an (h, w) uint16 array viewing the frame's memory (its rows may be padded)."""
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.dtype("<u2")).reshape(plane.height, -1)
    return rows[:, : plane.width]


def _levels(depth: int, full: bool) -> tuple[float, float, float]:
    """(luma gain, chroma gain, luma black level) taking ``depth``-bit code values to 16-bit codes (BT.2100)."""
    if full:
        top = (1 << depth) - 1
        return _FULL_SCALE / top, _FULL_SCALE / top, 0.0
    step = 1 << (depth - 8)
    return _FULL_SCALE / (219 * step), _FULL_SCALE / (224 * step), 16.0 * step
