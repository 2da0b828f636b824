"""Video with an alpha channel (QuickTime Animation, PNG or ProRes 4444 in MOV, FFV1, VP8/VP9 in WebM, ...)
composited over black.

Why: the RGB conversion dropped the alpha, so a transparent pixel showed whatever colour its encoder left under it
(often a bright key colour or the last opaque colour), which the flow and the models took for picture content.
Over black, as a player with no backdrop of its own shows it (mpv's default): a transparent pixel is black, an
opaque one keeps its colour, and one in between is its colour scaled by its alpha, in the encoded values (as
browsers and players blend).

WebM keeps a VP8/VP9 stream's alpha in a second bitstream beside the picture (``alpha_mode`` 1), which FFmpeg's own
decoders ignore; libvpx's decoders read it, as ``ffmpeg -c:v libvpx-vp9 -i`` does.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.format import VideoFormat

# The decoders that read the alpha of a WebM stream whose alpha_mode is 1.
SIDE_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}


def has_alpha(pixel_format: str) -> bool:
    """Whether frames of ``pixel_format`` (``"yuva420p"``, ``"argb"``, ...) carry an alpha component."""
    try:
        return any(component.is_alpha for component in VideoFormat(pixel_format).components)
    except (ValueError, TypeError):  # no pixel format known (an unprobed stream): nothing to composite
        return False


def side_alpha_decoder(stream: "av.video.stream.VideoStream") -> str | None:
    """The decoder that gives a VP8/VP9 stream's alpha, for a stream that has one, where this FFmpeg has it."""
    name = SIDE_ALPHA_DECODERS.get(str(getattr(stream.codec_context, "name", "") or ""))
    if name is None or str(stream.metadata.get("alpha_mode", "")) != "1":
        return None
    try:
        av.codec.Codec(name, "r")
    except (ValueError, av.error.FFmpegError):  # a build without libvpx: the picture without its alpha, as before
        return None
    return name


def over_black(rgb: np.ndarray, alpha: np.ndarray, opaque: int) -> np.ndarray:
    """(H, W, 3) uint8 ``rgb`` scaled by (H, W) ``alpha`` (``opaque``: its fully opaque value), rounded, uint8."""
    scaled = rgb.astype(np.uint32) * alpha.astype(np.uint32)[..., None]
    return ((scaled + opaque // 2) // opaque).astype(np.uint8)
