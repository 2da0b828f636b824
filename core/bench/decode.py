"""``bench decode``: milliseconds per frame the video reader spends on SDR and on HDR video of one size.

Why: HDR frames (PQ, HLG) are tone-mapped to SDR on the CPU (:mod:`core.video.hdr`), which decides how fast an
HDR video plays in the viewer and how fast flow and classification decode it.  Three clips of the same size,
content and codec are written (SDR 8-bit BT.709; 10-bit BT.2020 PQ; 10-bit HLG) and each is read frame by frame
through :func:`core.video.open_video` with its frame cache off ("read": decoding and conversion), and its
decoded frames are converted again on their own ("convert": the YUV to RGB picture only).  The ratio columns
are each row's time over the SDR clip's at the same thread count, and over the same clip's at the fewest threads
(HDR frames are tone-mapped in strips that share the threads, :func:`core.video.hdr.tone_map`), measured in the
same run: the clips and thread counts take turns, ``--repeats`` times, and each row keeps its best turn, so a
burst of other work on the machine hits no row alone.  OpenCV and torch threads are set to each count of
``--threads`` in turn, and back to what they were at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from core.wording import counted

# (label, pixel format, AVColorTransferCharacteristic, AVColorPrimaries, AVColorSpace) of the three clips
_CLIPS = (("SDR 8-bit BT.709", "yuv420p", 1, 1, 1), ("HDR 10-bit PQ", "yuv420p10le", 16, 9, 9),
          ("HDR 10-bit HLG", "yuv420p10le", 18, 9, 9))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import positive_int

    parser.add_argument("--size", default="1920x1080", help="frame size WxH, even sides (default 1920x1080)")
    parser.add_argument("--frames", type=positive_int, default=24, help="frames per clip (default 24)")
    parser.add_argument("--threads", default="1,2", help="OpenCV and torch thread counts to measure at (default 1,2)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="turns each clip takes; its best counts (default 3)")


def _size(text: str) -> tuple[int, int]:
    from core.errors import InputError

    try:
        width, height = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must be WxH, e.g. 1920x1080, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise InputError(f"--size needs even sides of at least 16, got {text!r}")
    return width, height


def _pictures(count: int, width: int, height: int) -> list[Any]:
    """(Y, Cb, Cr) planes in [0, 1] / [-0.5, 0.5] of moving soft shapes with fine texture and noise: smooth
    gradients as in camera footage, every code level reached, nothing a codec finds trivial."""
    import numpy as np

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / height, x / width
    half_y, half_x = y[::2, ::2], x[::2, ::2]
    pictures = []
    for t in range(count):
        phase = 0.15 * t
        luma = 0.5 + 0.3 * np.sin(7 * x + phase) * np.cos(5 * y - phase) + 0.15 * np.sin(60 * x * y + 3 * phase)
        luma += rng.normal(0, 0.01, luma.shape).astype(np.float32)
        blue = 0.25 * np.sin(4 * half_x - phase) * np.cos(3 * half_y)
        red = 0.25 * np.cos(3 * half_x + 2 * half_y + phase)
        pictures.append((np.clip(luma, 0, 1), blue, red))
    return pictures


def _write(path: Path, pictures: list[Any], pixel_format: str, transfer: int, primaries: int, matrix: int) -> Path:
    """The pictures as limited-range YUV 4:2:0 at 8 or 10 bits, tagged, by libx265 (ffv1 where absent)."""
    import av
    import numpy as np

    bits = 10 if pixel_format.endswith("10le") else 8
    step = 1 << (bits - 8)
    codec = "libx265" if "libx265" in av.codecs_available else "ffv1"
    height, width = pictures[0][0].shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        if codec == "libx265":
            stream.options = {"preset": "ultrafast", "crf": "16", "x265-params": "log-level=error"}
        ctx = stream.codec_context
        ctx.color_trc, ctx.color_primaries, ctx.colorspace, ctx.color_range = transfer, primaries, matrix, 1
        dtype = np.uint16 if bits > 8 else np.uint8
        for index, (luma, blue, red) in enumerate(pictures):
            y = np.rint((16 + 219 * luma) * step).astype(dtype)
            chroma = [np.rint((128 + 224 * c) * step).astype(dtype).reshape(-1) for c in (blue, red)]
            frame = av.VideoFrame.from_ndarray(np.concatenate([y, np.concatenate(chroma).reshape(height // 2, width)]),
                                               format=pixel_format)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _read_ms(path: Path) -> float:
    """Milliseconds per frame of reading every frame in order, frame cache off, after the first."""
    from core.video import open_video

    with open_video(path, cache_bytes=0) as video:
        video.read(0)
        start = time.perf_counter()
        for index in range(1, len(video)):
            video.read(index)
        return (time.perf_counter() - start) * 1000 / max(1, len(video) - 1)


def _convert_ms(path: Path) -> float:
    """Median milliseconds of converting one decoded frame to the reader's RGB picture."""
    import av
    from av.video.reformatter import VideoReformatter

    from core.video.picture import frame_to_rgb, stream_look

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        look = stream_look(stream)
        frames = list(container.decode(stream))
    reformatter = VideoReformatter()
    frame_to_rgb(frames[0], look, reformatter)  # tables built, caches warm
    times = []
    for frame in frames:
        start = time.perf_counter()
        frame_to_rgb(frame, look, reformatter)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from core.bench.timing import format_table, positive_counts

    width, height = _size(args.size)
    thread_counts = positive_counts(args.threads, "--threads", "thread counts")
    pictures = _pictures(args.frames, width, height)
    rows = []
    previous = cv2.getNumThreads(), torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as folder:
        clips = [(label, _write(Path(folder) / f"clip{i}.mkv", pictures, *tags)) for i, (label, *tags) in enumerate(_CLIPS)]
        best = {(threads, label): (float("inf"), float("inf")) for threads in thread_counts for label, _ in clips}
        try:
            for _ in range(args.repeats):
                for threads in thread_counts:
                    cv2.setNumThreads(threads)
                    torch.set_num_threads(threads)
                    for label, path in clips:
                        read, convert = best[threads, label]
                        best[threads, label] = (min(read, _read_ms(path)), min(convert, _convert_ms(path)))
        finally:
            cv2.setNumThreads(previous[0])
            torch.set_num_threads(previous[1])
    base = min(thread_counts)
    for threads in thread_counts:
        sdr_read, sdr_convert = best[threads, clips[0][0]]
        for label, _ in clips:
            read, convert = best[threads, label]
            first_read, first_convert = best[base, label]
            rows.append([label, threads, read, f"{read / sdr_read:.2f}x", f"{read / first_read:.2f}x", convert,
                         f"{convert / sdr_convert:.1f}x", f"{convert / first_convert:.2f}x"])
    print(f"video reader at {width}x{height}, {args.frames} frames per clip, best of {args.repeats} turns; "
          f"ratios against the SDR clip at the same thread count, and against the same clip at {counted(base, 'thread')}")
    print(format_table(["clip", "threads", "read ms/frame", "read vs SDR", f"read vs {counted(base, 'thread')}", "convert ms/frame",
                        "convert vs SDR", f"convert vs {counted(base, 'thread')}"], rows))
    return 0
