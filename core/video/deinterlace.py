"""Deinterlacing: the two fields of an interlaced frame were taken 1/50 s (or 1/60 s) apart, and woven together
they comb along every moving edge, which optical flow and the models see as noise.

FFmpeg's ``bwdif`` rebuilds each frame's second field from its first and from the neighbouring frames' fields.
Run in ``send_frame`` mode it gives one frame per input frame with the input's timestamp, so frame count, indices
and times do not change; with ``deint=interlaced`` a frame the decoder flags progressive (mixed content) passes
through untouched.  Output frame ``i`` depends on input frames ``i - 1``, ``i`` and ``i + 1`` only: a reader that
feeds the filter from frame ``i - 1`` on gets the pixels a sequential pass gets.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import av
import av.filter

FILTER = "bwdif"
FILTER_OPTIONS = "mode=send_frame:parity=auto:deint=interlaced"
# AVFieldOrder values of a stream whose frames are fields woven together (TT, BB, TB, BT); 0 is unknown, 1 progressive.
_WOVEN_FIELD_ORDERS = frozenset({2, 3, 4, 5})


def woven_stream(stream: "av.video.stream.VideoStream") -> bool:
    """Whether the stream's header says its frames are interlaced (FFmpeg reads it while probing the file)."""
    return int(getattr(stream.codec_context, "field_order", 0) or 0) in _WOVEN_FIELD_ORDERS


def deinterlaced(frames: Iterator["av.VideoFrame"], time_base: Fraction) -> Iterator["av.VideoFrame"]:
    """``frames`` deinterlaced, one out for each in, in the same order, each one frame later than its input (the
    filter waits for the next field); the last comes when ``frames`` ends.  A function, not a method: see
    ``container._decoded_frames``."""
    graph: av.filter.Graph | None = None
    for frame in frames:
        if graph is None:
            graph = _graph(frame, time_base)
        graph.push(frame)
        yield from _ready(graph, time_base)
    if graph is not None:
        graph.push(None)
        yield from _ready(graph, time_base)


def _graph(frame: "av.VideoFrame", time_base: Fraction) -> av.filter.Graph:
    graph = av.filter.Graph()
    aspect = frame.sample_aspect_ratio if getattr(frame, "sample_aspect_ratio", None) else Fraction(1, 1)
    source = graph.add("buffer", video_size=f"{frame.width}x{frame.height}", pix_fmt=str(int(frame.format)),
                       time_base=str(time_base), pixel_aspect=f"{aspect.numerator}/{aspect.denominator}")
    deinterlace = graph.add(FILTER, FILTER_OPTIONS)
    sink = graph.add("buffersink")
    source.link_to(deinterlace)
    deinterlace.link_to(sink)
    graph.configure()
    return graph


def _ready(graph: av.filter.Graph, time_base: Fraction) -> Iterator["av.VideoFrame"]:
    """The frames the filter has finished, their timestamps back in the stream's time base (the filter halves its
    time base, for the frames its field mode makes between two)."""
    while True:
        try:
            frame = graph.vpull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        if frame.pts is not None and frame.time_base is not None and frame.time_base != time_base:
            frame.pts = int(Fraction(frame.pts) * frame.time_base / time_base)
            frame.time_base = time_base
        yield frame
