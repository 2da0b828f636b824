"""``bench playback``: frames a user sees per second while the viewer computes flow behind playback.

The real :class:`~viewer.main_window.MainWindow` opens offscreen on a video with
a cold flow cache and plays it from frame 0: the flow view's chunks, the
whole-video scan and the motion sample all run meanwhile, as when a user opens
a video and presses play.  Two rows in one run, each in a fresh window:

* ``one decoder for every job (before)``: flow and scan read through the
  video's own decoder, as the viewer did before :mod:`core.video.worker_readers`;
* ``a decoder per kind of work (now)``.

On a 4K file with long GOPs the shared decoder jumps between playback and the
flow jobs, each jump decoding from a keyframe.  ``--upscale 3840x2160`` writes a
temporary copy of the video at that size (H.264, 250-frame GOPs, B-frames, as
cameras record) so a real clip can show it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GAP_MS = 100.0  # a frame shown this long after the one before is a visible stall at any playback rate


def _size(text: str) -> tuple[int, int]:
    """An argparse type: ``WIDTHxHEIGHT``, both even (H.264 4:2:0 needs them so)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 3840x2160, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2 or width * height > 8192 * 8192:
        raise argparse.ArgumentTypeError(f"{text}: width and height must be even, at least 16, and at most 8K together")
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import positive_float, positive_int
    from viewer.bench.ui import _readable_video

    def one_method(text: str) -> str:
        from core.bench.timing import flow_methods

        methods = flow_methods(text, "--flow-method")
        if len(methods) != 1:
            raise argparse.ArgumentTypeError(f"one flow method, got {text!r}")
        return methods[0]

    parser.set_defaults(runs_qt=True)
    parser.add_argument("--video", metavar="PATH", type=_readable_video, default=None, help="video to play (default: the bundled sample)")
    parser.add_argument("--upscale", metavar="WxH", type=_size, default=None, help="play a copy resized to this size (e.g. 3840x2160)")
    parser.add_argument("--frames", type=positive_int, default=240, metavar="N", help="with --upscale: frames copied from the start (default 240)")
    parser.add_argument("--seconds", type=positive_float, default=20.0, help="longest a row plays (default 20 s; it stops at the last frame)")
    parser.add_argument("--flow-method", type=one_method, default="dis", help="the flow computed behind playback (default dis)")


@dataclass(frozen=True)
class PlayedRow:
    """What one row of playback showed."""

    scenario: str
    shown: int  # frames shown after the first
    seconds: float  # from pressing play to the last frame shown
    longest_gap_ms: float
    gaps_over: int  # gaps longer than GAP_MS

    @property
    def fps(self) -> float:
        return self.shown / self.seconds if self.seconds > 0 else 0.0


def upscaled_copy(source: Path, size: tuple[int, int], frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of ``source`` resized to ``size``, as a camera would write them."""
    import av
    import cv2

    from core.video import open_video
    from core.video.colour import PlayerYuv

    target = folder / f"{source.stem}_{size[0]}x{size[1]}.mp4"
    with open_video(source) as video, av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=max(1, round(video.info.fps or 25)))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20", "bframes": "3", "keyint": "250"}
        to_yuv = PlayerYuv(*size)
        to_yuv.tag(stream)
        for index in range(min(frames, len(video))):
            picture = cv2.resize(video.read(index), size, interpolation=cv2.INTER_CUBIC)
            out.mux(stream.encode(to_yuv.frame(picture)))
        out.mux(stream.encode())
    return target


def play_once(video: Path, scenario: str, seconds: float, method: str, cache: Path) -> PlayedRow:
    """Open ``video`` in a fresh window (cold flow cache ``cache``), play it; the gaps between shown frames."""
    from viewer.bench.ui import wait_until
    from viewer.jobs import wait_for_all_jobs
    from viewer.main_window import MainWindow

    os.environ["TWOSTREAM_CACHE_DIR"] = str(cache)
    window = MainWindow(show_dialogs=False)
    window.resize(1280, 800)
    window.show()
    window.method_box.setCurrentText(method)
    shown: list[float] = []
    opened: list[bool] = []
    try:
        window.open_video(str(video), lambda _video: opened.append(True))
        wait_until(lambda: bool(opened) and window.video.shown_index == 0, 60.0)
        window.video.frameReady.connect(lambda _index, _frame: shown.append(time.perf_counter()))
        start = time.perf_counter()
        window.state.set_playing(True)
        wait_until(lambda: not window.state.playing or time.perf_counter() - start >= seconds, seconds + 1.0)
        window.state.set_playing(False)
    finally:
        window.close()
        wait_for_all_jobs(30000)
    times = [start, *shown]
    gaps = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
    return PlayedRow(scenario, len(shown), (shown[-1] - start) if shown else 0.0, max(gaps, default=0.0),
                     sum(g > GAP_MS for g in gaps))


def run(args: argparse.Namespace) -> int:
    from core.bench.timing import format_table
    from core.errors import InputError
    from core.resources import SAMPLE_VIDEO
    from core.video import open_video
    from core.video.worker_readers import WorkerReaders
    from viewer.app import create_application
    from viewer.bench.ui import quiet_offscreen_warnings

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    quiet_offscreen_warnings()
    video = Path(args.video) if args.video else SAMPLE_VIDEO
    if not video.exists():
        raise InputError("video does not exist", video)
    if args.frames < 2:
        raise InputError(f"--frames must be at least 2, got {args.frames}")
    with tempfile.TemporaryDirectory(prefix="bench-playback-") as scratch_name:
        scratch = Path(scratch_name)
        os.environ["XDG_CONFIG_HOME"] = str(scratch / "config")  # default preferences, the user's untouched
        app = create_application()
        if args.upscale is not None:
            print(f"writing {args.upscale[0]}x{args.upscale[1]} copy of {video.name} ...", flush=True)
            video = upscaled_copy(video, args.upscale, args.frames, scratch)
        with open_video(video) as opened:
            info = opened.info
        print(f"{video.name}: {info.frames} frames, {info.width}x{info.height}, {info.fps:.3g} fps, {info.codec}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; flow {args.flow_method} behind playback, cold cache")
        rows = []
        for shared, scenario in ((True, "one decoder for every job (before)"), (False, "a decoder per kind of work (now)")):
            WorkerReaders.share_one_decoder = shared
            try:
                rows.append(play_once(video, scenario, args.seconds, args.flow_method, scratch / f"cache-{len(rows)}"))
            finally:
                WorkerReaders.share_one_decoder = False
        app.processEvents()
    before = rows[0]
    table = [[r.scenario, str(r.shown), f"{r.seconds:.1f}", f"{r.fps:.1f}", f"{r.fps / before.fps:.2f}x" if before.fps else "-",
              f"{r.longest_gap_ms:.0f}", str(r.gaps_over)] for r in rows]
    print(format_table(["playback", "frames shown", "s", "frames/s", "vs before", "longest gap ms", f"gaps > {GAP_MS:.0f} ms"], table))
    print(f"the video's own rate: {info.fps:.3g} frames/s")
    return 0
