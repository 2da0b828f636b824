"""A planar YUV frame's R', G' and B' as 16-bit code planes, computed from the decoder's own planes.

Why: the HDR tone mapping (:mod:`core.video.hdr`) needs R'G'B' finer than 8 bits, and swscale's packed 16-bit RGB
(``rgb48le``) took 18 ms a 1080p 10-bit frame, a third of the budget of a whole frame, before the tone mapping
even started; then the packed array had to be split into planes again.  Here it is a few OpenCV passes on planes
(about 3 ms): chroma interpolated vertically and repeated horizontally, as swscale's ``rgb48le`` conversion
samples it (so edges of colour fall where they fell), then the frame's YUV matrix and range in float32, each
plane rounded and saturated to 0-65535 by the same pass that computes it.

One difference from swscale: its ``rgb48le`` maps limited-range white to 65283, not 65535 (0.4% dark); these
codes follow BT.2100's arithmetic exactly.

Frames this does not read (packed, semi-planar, hardware, alpha, a matrix swscale names but no luma weights are
known for) give ``None``: the caller converts those with swscale, as before.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.video.format import VideoFormat
from av.video.reformatter import ColorRange, Colorspace

# Luma weights (Kr, Kb) of the matrices :func:`core.video.colour.rgb_conversion` names.
_LUMA_WEIGHTS = {Colorspace.ITU709: (0.2126, 0.0722), Colorspace.ITU601: (0.299, 0.114), Colorspace.FCC: (0.30, 0.11),
                 Colorspace.SMPTE240M: (0.212, 0.087)}
if hasattr(Colorspace, "BT2020"):
    _LUMA_WEIGHTS[Colorspace.BT2020] = (0.2627, 0.0593)
# Planar YUV without alpha, as software decoders give HDR (HEVC Main 10/12, VP9 profile 2/3, AV1, ProRes 422),
# whose chroma swscale's rgb48le conversion samples as here when the picture's size is a whole number of chroma
# samples (checked in tests/core/video/test_hdr_speed.py); 8-bit 4:2:x and odd sizes it samples otherwise.
PLANAR_FORMATS = frozenset(f"yuv{layout}p{depth}le" for layout in ("420", "422", "444") for depth in (10, 12))
_FULL_SCALE = 65535


def rgb_code_planes(frame: "av.VideoFrame", conversion: dict[str, object]) -> list[np.ndarray] | None:
    """The R', G' and B' planes of ``frame``, (H, W) uint16 each (0-65535 for signal 0-1), converted with
    ``conversion`` (:func:`core.video.colour.rgb_conversion`'s arguments); ``None`` for a frame this module does
    not read (see its docstring)."""
    name = frame.format.name
    weights = _LUMA_WEIGHTS.get(conversion.get("src_colorspace"))
    if name not in PLANAR_FORMATS or weights is None:
        return None
    fmt = VideoFormat(name)
    depth = fmt.components[0].bits
    full = conversion.get("src_color_range") == ColorRange.JPEG
    luma, cb, cr = (_plane(frame, i) for i in range(3))
    height, width = luma.shape
    if height % cb.shape[0] or width % cb.shape[1]:  # odd size: swscale samples its chroma otherwise
        return None
    y_gain, c_gain, y_black = _levels(depth, full)
    kr, kb = weights
    kg = 1 - kr - kb
    chroma_offset = float(1 << (depth - 1))
    cb_f = (cb.astype(np.float32) - chroma_offset) * np.float32(c_gain)
    cr_f = (cr.astype(np.float32) - chroma_offset) * np.float32(c_gain)
    black = np.float32(-y_black * y_gain)  # luma's offset, carried by the (smaller) chroma planes
    differences = (  # R' - Y', G' - Y', B' - Y' at chroma resolution, plus luma's offset
        cv2.scaleAdd(cr_f, 2 * (1 - kr), np.full_like(cr_f, black)),
        cv2.addWeighted(cb_f, -2 * kb * (1 - kb) / kg, cr_f, -2 * kr * (1 - kr) / kg, float(black)),
        cv2.scaleAdd(cb_f, 2 * (1 - kb), np.full_like(cb_f, black)),
    )
    return [cv2.addWeighted(luma, y_gain, _full_size(d, height, width), 1.0, 0.0, dtype=cv2.CV_16U) for d in differences]


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


def _full_size(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """A chroma-resolution plane at the picture's size: interpolated vertically between chroma rows sited
    midway between luma rows, repeated horizontally (swscale's rgb48le sampling)."""
    if plane.shape[0] != height:  # 4:2:0: twice the rows, linearly, edge rows held (what cv2.resize does at 2x)
        plane = cv2.resize(plane, (plane.shape[1], height), interpolation=cv2.INTER_LINEAR)
    if plane.shape[1] != width:  # 4:2:0, 4:2:2: each value twice
        plane = cv2.merge([plane, plane]).reshape(height, width)
    return plane
