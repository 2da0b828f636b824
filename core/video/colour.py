"""Which matrix and range turn a decoded YUV frame into RGB: the stream's tags, else what a player assumes; and the
same matrix, named, for the videos we write.

Why: swscale converts a frame that names no matrix with BT.601, whatever its size, while players (mpv, VLC,
browsers) take untagged HD video for BT.709, the matrix HD cameras and encoders use: a 1080p clip came out with its
colours 14 levels or more off what every player shows.  Tagged matrices and ranges are passed explicitly as well, so
the picture does not depend on what a PyAV release makes of a frame's own tags.
"""

from __future__ import annotations

import functools

import av
import numpy as np
from av.video.format import VideoFormat
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

# FFmpeg's AVColorSpace values (a frame's ``colorspace``) for the matrices swscale implements.
_TAGGED = {
    1: Colorspace.ITU709,  # BT709
    4: Colorspace.FCC,
    5: Colorspace.ITU601,  # BT470BG (PAL)
    6: Colorspace.ITU601,  # SMPTE170M (NTSC): the same matrix
    7: Colorspace.SMPTE240M,
}
if hasattr(Colorspace, "BT2020"):  # not in older PyAV releases
    _TAGGED[9] = Colorspace.BT2020  # BT2020_NCL
# RGB (nonsense for a YUV frame), unspecified, reserved: the matrix is guessed from the size, as mpv does.
_UNTAGGED = frozenset({0, 2, 3})
_FULL = 2  # AVColorRange JPEG
_SPC_BT709, _SPC_SMPTE170M, _LIMITED = 1, 6, 1  # the tags a written stream gets (AVColorSpace, AVColorRange)


def is_hd(width: int, height: int) -> bool:
    """Whether an untagged picture of this stored size is taken for HD (BT.709): mpv's rule
    (``mp_csp_guess_colorspace``), 1280 wide or more, or over 576 lines; other players also guess by size."""
    return width >= 1280 or height > 576


def rgb_conversion(frame: "av.VideoFrame") -> dict[str, object]:
    """The ``src_colorspace``/``src_color_range`` arguments of ``VideoFrame.reformat`` that convert ``frame`` to
    RGB as a player shows it; none for a frame that is not YUV (RGB, grey, palette: no matrix applies)."""
    return dict(_conversion(frame.format.name, int(getattr(frame, "colorspace", 2)), int(getattr(frame, "color_range", 0)),
                            frame.width, frame.height))


@functools.lru_cache(maxsize=64)
def _conversion(pixel_format: str, colorspace: int, color_range: int, width: int, height: int) -> tuple[tuple[str, object], ...]:
    """Cached: the same few combinations come with every frame of a video."""
    fmt = VideoFormat(pixel_format)
    if fmt.is_rgb or fmt.has_palette or len(fmt.components) < 3 or pixel_format.startswith("xyz"):
        return ()
    full = pixel_format.startswith("yuvj") or color_range == _FULL  # yuvj* formats are full range by definition
    args: list[tuple[str, object]] = [("src_color_range", ColorRange.JPEG if full else ColorRange.MPEG)]
    if colorspace in _TAGGED:
        args.append(("src_colorspace", _TAGGED[colorspace]))
    elif colorspace in _UNTAGGED:
        args.append(("src_colorspace", Colorspace.ITU709 if is_hd(width, height) else Colorspace.ITU601))
    # other tags (YCgCo, BT.2020 constant luminance, ...): what swscale makes of the frame's own tag
    return tuple(args)


class PlayerYuv:
    """RGB pictures of one size as limited-range yuv420p frames in the matrix players assume for that size, for an
    encoder whose stream :meth:`tag` also names it: a player that reads the tag and one that guesses agree.

    Why: FFmpeg converts RGB for an encoder with BT.601 at every size and names no matrix, so players showed an
    exported HD video's colours off (an RGB green 230 became 208).  One swscale context serves the whole file."""

    def __init__(self, width: int, height: int) -> None:
        self._hd = is_hd(width, height)
        self._reformatter = VideoReformatter()

    def tag(self, stream: "av.video.stream.VideoStream") -> None:
        """Name the matrix and range in ``stream`` (before its first frame: H.264 writes them into its header)."""
        stream.codec_context.colorspace = _SPC_BT709 if self._hd else _SPC_SMPTE170M
        stream.codec_context.color_range = _LIMITED

    def frame(self, picture: np.ndarray) -> "av.VideoFrame":
        """An (H, W, 3) uint8 RGB picture of the size given, converted."""
        return self._reformatter.reformat(av.VideoFrame.from_ndarray(picture, format="rgb24"), format="yuv420p",
                                          dst_colorspace=Colorspace.ITU709 if self._hd else Colorspace.ITU601,
                                          dst_color_range=ColorRange.MPEG)
