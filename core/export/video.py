"""Frames streamed into an H.264 MP4, atomically, with progress and cancellation.

Unlike :func:`core.synth.writer.write_mp4` (an array in memory), frames come
from an iterator one at a time, so a long clip with overlays never has to fit
in memory.  yuv420p needs even sides: an odd-sized frame gets one extra row or
column repeated from its edge (nothing is cut off).  A cancelled or failed
export leaves no file behind.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Callable, Iterable

import numpy as np

from core.export.target import export_target
from core.video.base import local_file
from core.progress import CancelToken, check, report

DEFAULT_CRF = 18  # visually lossless: overlays and flow colours stay faithful after 4:2:0


def even_frame(frame: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) frame to even sides by repeating its last row/column."""
    pad_y, pad_x = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_y or pad_x:
        frame = np.pad(frame, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def write_mp4_stream(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    total: int,
    fps: float,
    crf: int = DEFAULT_CRF,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
) -> tuple[int, int, int]:
    """Encode RGB uint8 frames (all one size) with libx264 into ``path``.

    ``total`` is the expected count, for progress only.  Returns the number of
    frames written and the encoded (height, width).
    """
    import av

    from core.video.colour import PlayerYuv  # PyAV only when a video is written

    if not fps or fps <= 0 or not np.isfinite(fps):
        raise ValueError(f"fps must be positive, got {fps}")
    rate = Fraction(float(fps)).limit_denominator(1001)
    written, size = 0, (0, 0)
    with export_target(path, suffixes=(".mp4",)) as tmp:
        with av.open(local_file(tmp), "w", format="mp4") as container:
            stream = None
            for frame in frames:
                check(cancel)
                frame = np.asarray(frame)
                if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                    raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.dtype} {frame.shape}")
                frame = even_frame(frame)
                if stream is None:
                    size = frame.shape[:2]
                    stream = container.add_stream("libx264", rate=rate, options={"crf": str(int(crf)), "preset": "veryfast"})
                    stream.height, stream.width = size
                    stream.pix_fmt = "yuv420p"
                    to_yuv = PlayerYuv(size[1], size[0])
                    to_yuv.tag(stream)
                elif frame.shape[:2] != size:
                    raise ValueError(f"frame {written} is {frame.shape[1]}x{frame.shape[0]}, the first was {size[1]}x{size[0]}: all frames must have one size")
                for packet in stream.encode(to_yuv.frame(frame)):
                    container.mux(packet)
                written += 1
                report(progress, written, total, f"encoded frame {written}/{total}")
            if stream is None:
                raise ValueError("no frames to write")
            for packet in stream.encode():
                container.mux(packet)
        check(cancel)  # cancelled while flushing: still nothing left behind
    return written, int(size[0]), int(size[1])
