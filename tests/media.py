"""Videos made by the tests: every frame carries its own index, so a read proves
which frame it returned (exact seeking), whatever the codec did to the pixels;
and a folder of frames panning by a known motion, for lengths the flow states."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

BITS = 10  # frame indices up to 1023
BAR_HEIGHT = 16


def index_frame(index: int, width: int = 128, height: int = 64) -> np.ndarray:
    """An RGB frame: BITS black/white bars on top encode ``index``; a moving texture below
    gives the encoder real motion (so it uses P- and B-frames)."""
    frame = np.zeros((height, width, 3), np.uint8)
    bar_w = width // BITS
    for bit in range(BITS):
        if (index >> bit) & 1:
            frame[:BAR_HEIGHT, bit * bar_w : (bit + 1) * bar_w] = 255
    yy, xx = np.mgrid[0 : height - BAR_HEIGHT, 0:width]
    texture = 127 + 100 * np.sin((xx + 3 * index) / 5.0) * np.cos((yy + 2 * index) / 7.0)
    frame[BAR_HEIGHT:, :, 0] = texture.astype(np.uint8)
    frame[BAR_HEIGHT:, :, 1] = (255 - texture).astype(np.uint8)
    frame[BAR_HEIGHT:, :, 2] = (index * 37) % 256
    return frame


def decode_index(frame: np.ndarray) -> int:
    """Read back the index drawn by :func:`index_frame` (after any lossy codec)."""
    width = frame.shape[1]
    bar_w = width // BITS
    value = 0
    for bit in range(BITS):
        patch = frame[2 : BAR_HEIGHT - 2, bit * bar_w + 2 : (bit + 1) * bar_w - 2]
        if patch.mean() > 127:
            value |= 1 << bit
    return value


def write_video(
    path: Path,
    frames: int = 40,
    *,
    codec: str = "libx264",
    fmt: str | None = None,
    fps: int = 25,
    size: tuple[int, int] = (128, 64),
    options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    mirror: tuple[bool, bool] = (False, False),
    time_base_pts: list[int] | None = None,
) -> Path:
    """Write an index-encoded video.  ``time_base_pts`` gives explicit timestamps
    (in 1/1000 s) for variable-frame-rate files; ``rotation`` (counter-clockwise degrees) and
    ``mirror`` (left-right, top-bottom after it) go into the display matrix."""
    width, height = size
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = options
        if time_base_pts is not None:
            from fractions import Fraction

            stream.time_base = Fraction(1, 1000)
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=mirror[0], vflip=mirror[1])
        for i in range(frames):
            img = index_frame(i, width, height)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if time_base_pts is not None:
                frame.pts = time_base_pts[i]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def mux_pictures(out: "av.container.OutputContainer", stream: "av.video.stream.VideoStream", pictures: "Iterable[np.ndarray]",
                 *, format: str = "rgb24") -> None:
    """Encode each picture (an (H, W, 3) uint8 RGB array, or one PyAV takes as ``format``), frame i at pts i, into
    ``stream`` and flush the encoder: a file's whole stream."""
    for index, picture in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(picture, format=format)
        frame.pts = index
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def panning_frames(folder: Path, side: int, step: float, frames: int = 5) -> Path:
    """PNG frames (side x side) of a smooth texture moving ``step`` video px right a frame: the same picture at
    every size (its grain scales with the frame), so a video over 480 lines, analysed smaller, has the same flow
    at the analysis size as one of 480 (960 at 480: each length half)."""
    rng = np.random.default_rng(3)
    grain = side / 240  # blur in pixels: one look whatever the size
    width = side + int(step * frames) + 8
    texture = cv2.GaussianBlur(rng.integers(0, 256, (side, width)).astype(np.float32), (0, 0), 2.0 * grain)
    texture = np.clip((texture - texture.mean()) * 5 + 128, 0, 255).astype(np.uint8)
    folder.mkdir()
    for i in range(frames):
        x = int(round(i * step))
        frame = texture[:, width - side - x: width - x]  # the content moves right by ``step`` a frame
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.repeat(frame[..., None], 3, axis=2))
    return folder


def woven_picture(index: int, width: int = 128, height: int = 96, shift: int = 6) -> np.ndarray:
    """An interlaced camera's frame ``index``: vertical stripes moving right by 4 pixels a frame, the even lines
    (top field) caught at one moment and the odd lines (bottom field) ``shift`` pixels later, so a woven frame combs
    (neighbouring lines differ by ~87 levels on average) and each field alone is smooth from line to line."""
    xx = np.arange(width)[None, :].repeat(height, 0)
    top = 127 + 100 * np.sin((xx + 4 * index) / 4.0)
    bottom = 127 + 100 * np.sin((xx + 4 * index + shift) / 4.0)
    grey = top.copy()
    grey[1::2] = bottom[1::2]
    return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)


def write_interlaced(path: Path, frames: int = 30, *, keyint: int = 4) -> Path:
    """An interlaced H.264 stream (top field first, field-coded, a keyframe every ``keyint`` frames) of
    :func:`woven_picture` frames; its header names the field order, as cameras' and broadcast files' do."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = 128, 96
        stream.pix_fmt = "yuv420p"
        stream.options = {"flags": "+ildct+ilme", "crf": "10",
                          "x264-params": f"tff=1:keyint={keyint}:min-keyint={keyint}:scenecut=0"}
        mux_pictures(out, stream, (woven_picture(i) for i in range(frames)))
    return path


def line_to_line(frame: np.ndarray) -> float:
    """The mean absolute difference between neighbouring lines: large where fields woven together comb."""
    return float(np.abs(np.diff(frame.astype(np.float64), axis=0)).mean())


# AVColorTransferCharacteristic and AVColorPrimaries tags of HDR video (HDR10's PQ, broadcast and phone HLG).
TRC_PQ, TRC_HLG, PRIMARIES_BT2020, SPACE_BT2020_NCL = 16, 18, 9, 9


def write_hdr_greys(path: Path, signals: "Iterable[float]", *, transfer: int = TRC_PQ, frames: int = 3) -> Path:
    """A lossless 10-bit HEVC stream tagged BT.2020 with an HDR ``transfer``: vertical grey strips 16 pixels wide,
    one per non-linear ``signals`` value in [0, 1] (limited range: luma 64 + 876 * signal, chroma neutral, so each
    strip's R'G'B' decodes to exactly its signal)."""
    levels = [int(round(64 + 876 * s)) for s in signals]
    width, height = 16 * len(levels), 32
    luma = np.repeat(np.array(levels, np.uint16), 16)[None, :].repeat(height, 0)
    chroma = np.full((height // 2, width), 512, np.uint16)  # the two quarter-size planes' values, packed in H / 2 rows
    planes = np.concatenate([luma, chroma])  # yuv420p10le as PyAV takes it: one (H * 3 / 2, W) array
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p10le"
        stream.options = {"x265-params": "lossless=1:log-level=error"}
        ctx = stream.codec_context
        ctx.color_trc, ctx.color_primaries, ctx.colorspace, ctx.color_range = transfer, PRIMARIES_BT2020, SPACE_BT2020_NCL, 1
        mux_pictures(out, stream, [planes] * frames, format="yuv420p10le")
    return path


RANGE_LIMITED, RANGE_FULL = 1, 2  # AVColorRange


def random_yuv_frame(pixel_format: str, height: int, width: int, seed: int = 0, color_range: int = RANGE_LIMITED) -> av.VideoFrame:
    """A BT.2020 frame of a planar 10- or 12-bit ``pixel_format`` whose every plane holds random codes over its whole
    range (0-1023 at 10 bits: footroom, headroom and all)."""
    frame = av.VideoFrame(width, height, pixel_format)
    top = 1 << int(pixel_format[-4:-2])
    rng = np.random.default_rng(seed)
    for plane in frame.planes:
        plane.update(rng.integers(0, top, plane.buffer_size // 2, dtype=np.uint16).astype("<u2").tobytes())
    frame.colorspace, frame.color_range = SPACE_BT2020_NCL, color_range
    return frame


def alpha_picture(colour: tuple[int, int, int] = (200, 60, 30), width: int = 64, height: int = 32) -> np.ndarray:
    """An (H, W, 4) RGBA picture of one ``colour``: transparent (alpha 0) on the left quarter, half transparent
    (alpha 128) on the second, opaque (alpha 255) on the right half."""
    picture = np.empty((height, width, 4), np.uint8)
    picture[..., :3] = colour
    picture[..., 3] = 255
    picture[:, : width // 4, 3] = 0
    picture[:, width // 4 : width // 2, 3] = 128
    return picture


def alpha_colour(index: int) -> tuple[int, int, int]:
    """The colour of :func:`write_alpha`'s frame ``index``: its blue tells the frame."""
    return 200, 60, 10 + 20 * index


def write_alpha(path: Path, codec: str, pix_fmt: str, frames: int = 3, *, options: dict[str, str] | None = None) -> Path:
    """Frames of :func:`alpha_picture` in :func:`alpha_colour` encoded by ``codec`` (which must keep alpha) as
    ``pix_fmt``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, pix_fmt
        stream.options = options or {}
        mux_pictures(out, stream, (alpha_picture(alpha_colour(i)) for i in range(frames)), format="rgba")
    return path
