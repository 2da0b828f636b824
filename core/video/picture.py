"""A decoded frame as the 8-bit RGB picture a player shows: the stream's YUV matrix (:mod:`core.video.colour`),
HDR tone-mapped to SDR (:mod:`core.video.hdr`) and alpha composited over black (:mod:`core.video.alpha`).

Which of these apply is read from the stream's header once (:func:`stream_look`), not from each frame, so that the
reader and the cache keys (:mod:`core.video.reader_version`, which opens no decoder) agree on what a file's pictures
are.  An SDR stream without alpha takes swscale's RGB as before, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from core.video.alpha import has_alpha, over_black, side_alpha_decoder
from core.video.colour import rgb_conversion
from core.video.hdr import hdr_to_sdr, hdr_transfer, tone_map
from core.video.rgb_planes import yuv_codes

_UNSPECIFIED_PRIMARIES = 2  # AVColorPrimaries


@dataclass(frozen=True)
class StreamLook:
    """What the header says a stream's pictures need beyond the YUV matrix."""

    hdr: str | None = None  # "pq" or "hlg": tone-mapped to SDR BT.709
    primaries: int = _UNSPECIFIED_PRIMARIES  # AVColorPrimaries: BT.2020 unless tagged BT.709 (HDR only)
    alpha: bool = False  # composited over black
    decoder: str | None = None  # the decoder that reads the alpha (VP8/VP9 in WebM), where FFmpeg's own drops it

    @property
    def converted(self) -> bool:
        """Whether the pictures differ from swscale's RGB (reader version 6 changed them)."""
        return self.hdr is not None or self.alpha


def stream_look(stream: "av.video.stream.VideoStream") -> StreamLook:
    """The stream's :class:`StreamLook`, from the tags and pixel format FFmpeg read while probing the file."""
    ctx = stream.codec_context
    if ctx is None:
        return StreamLook()
    primaries = int(getattr(ctx, "color_primaries", 0) or _UNSPECIFIED_PRIMARIES)
    decoder = side_alpha_decoder(stream)
    return StreamLook(hdr_transfer(ctx), primaries, decoder is not None or has_alpha(str(ctx.pix_fmt or "")), decoder)


def alpha_decoder(stream: "av.video.stream.VideoStream", look: StreamLook) -> "av.CodecContext | None":
    """A decoder of the stream that keeps its alpha, where FFmpeg's own (the stream's) drops it; else ``None``."""
    if look.decoder is None:
        return None
    decoder = av.CodecContext.create(look.decoder, "r")
    decoder.width, decoder.height = stream.codec_context.width, stream.codec_context.height
    decoder.thread_type = "AUTO"
    return decoder


def frame_to_rgb(frame: "av.VideoFrame", look: StreamLook, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """``frame`` as an (H, W, 3) uint8 RGB array; ``reformatter``: the swscale context to convert with (``None``:
    the frame's own).  Raises ``ValueError`` or ``av.error.FFmpegError`` where swscale cannot convert it."""
    convert = rgb_conversion(frame)  # the stream's matrix and range, or a player's guess
    if look.hdr and not look.alpha:  # straight from the decoder's YUV planes where they are planar (see rgb_planes)
        codes = yuv_codes(frame, convert)
        if codes is not None:
            return tone_map(codes, look.hdr, look.primaries)
    layout = ("rgba64le" if look.alpha else "rgb48le") if look.hdr else ("rgba" if look.alpha else "rgb24")
    converted = reformatter.reformat(frame, format=layout, **convert) if reformatter else frame.reformat(format=layout, **convert)
    array = converted.to_ndarray(format=layout)
    if not look.converted:
        return array
    rgb = hdr_to_sdr(array[..., :3], look.hdr, look.primaries) if look.hdr else array[..., :3]
    return over_black(rgb, array[..., 3], 65535 if look.hdr else 255) if look.alpha else np.ascontiguousarray(rgb)
