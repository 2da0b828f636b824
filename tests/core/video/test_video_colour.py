"""Colours as a player shows them: the YUV matrix and range a stream names, and for an untagged stream the one
players assume (BT.709 for HD, BT.601 below); the videos we write name the matrix they use.  Expected colours come
from the standards' matrices, here."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import av
import numpy as np
import pytest

from core.export.video import write_mp4_stream
from core.synth.writer import write_mp4
from core.video import open_video

# (Kr, Kb) of each standard's luma: Y' = Kr R' + (1 - Kr - Kb) G' + Kb B'
BT601, BT709, BT2020 = (0.299, 0.114), (0.2126, 0.0722), (0.2627, 0.0593)
FCC, SMPTE240M = (0.30, 0.11), (0.212, 0.087)
# FFmpeg's AVColorSpace and AVColorRange tags
SPC_BT709, SPC_FCC, SPC_BT470BG, SPC_SMPTE170M, SPC_SMPTE240M, SPC_BT2020_NCL = 1, 4, 5, 6, 7, 9
LIMITED, FULL = 1, 2
COLOUR = (130, 230, 50)  # a saturated green: each pair of matrices tested gives it colours 18 or more levels apart
TOLERANCE = 3  # swscale's fast conversion rounds; a wrong matrix is 8 or more off


def _ycbcr(rgb: tuple[int, int, int], matrix: tuple[float, float], full: bool) -> tuple[int, int, int]:
    """8-bit Y, Cb, Cr of an RGB colour: limited range puts Y in 16..235 and chroma in 16..240, full in 0..255."""
    kr, kb = matrix
    r, g, b = (c / 255 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    pb, pr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    if full:
        return round(255 * y), round(128 + 255 * pb), round(128 + 255 * pr)
    return round(16 + 219 * y), round(128 + 224 * pb), round(128 + 224 * pr)


def _rgb(ycbcr: tuple[int, int, int], matrix: tuple[float, float], full: bool) -> np.ndarray:
    """The RGB colour (0..255, unrounded) that 8-bit Y, Cb, Cr stand for under ``matrix``."""
    kr, kb = matrix
    luma, cb, cr = ycbcr
    scale = (255, 255) if full else (219, 224)
    y = (luma - (0 if full else 16)) / scale[0]
    pb, pr = (cb - 128) / scale[1], (cr - 128) / scale[1]
    r, b = y + 2 * (1 - kr) * pr, y + 2 * (1 - kb) * pb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.array([r, g, b]) * 255, 0, 255)


def _flat_video(path: Path, size: tuple[int, int], ycbcr: tuple[int, int, int], *, codec: str = "libx264",
                colorspace: int | None = None, color_range: int | None = None, pix_fmt: str = "yuv420p") -> Path:
    """Three frames of one colour given as Y, Cb, Cr samples (not converted from RGB by FFmpeg), tagged only as asked."""
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = {"libx264": {"qp": "0"}, "mjpeg": {"q:v": "1"}}.get(codec, {})
        if colorspace is not None:
            stream.codec_context.colorspace = colorspace
        if color_range is not None:
            stream.codec_context.color_range = color_range
        for _ in range(3):
            frame = av.VideoFrame(width, height, pix_fmt)
            for plane, value in zip(frame.planes, ycbcr):
                plane.update(np.full(plane.buffer_size, value, np.uint8))
            if colorspace is not None:
                frame.colorspace = colorspace
            if color_range is not None:
                frame.color_range = color_range
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _shown(path: Path) -> np.ndarray:
    with open_video(path) as video:
        frame = video.read(1)
    return frame[frame.shape[0] // 2, frame.shape[1] // 2].astype(np.float64)


def _check(path: Path, ycbcr: tuple[int, int, int], matrix: tuple[float, float], other: tuple[float, float], full: bool) -> None:
    want, wrong = _rgb(ycbcr, matrix, full), _rgb(ycbcr, other, full)
    assert np.abs(want - wrong).max() >= 8  # the case tells the right matrix from the one it would fall back to
    got = _shown(path)
    assert np.abs(got - want).max() <= TOLERANCE, f"shown {got}, {matrix} gives {want.round()}, {other} would give {wrong.round()}"


@pytest.mark.parametrize("size,matrix", [
    ((320, 240), BT601),
    ((1024, 576), BT601),  # square-pixel PAL: still SD
    ((1280, 720), BT709),
    ((960, 720), BT709),  # 4:3 HD: over 576 lines
    ((1920, 1080), BT709),
], ids=["320x240", "1024x576", "1280x720", "960x720", "1920x1080"])
def test_untagged_video_is_converted_as_players_do_hd_with_bt709(tmp_path: Path, size: tuple[int, int], matrix: tuple[float, float]) -> None:
    # swscale's default is BT.601 at every size: untagged HD came out with colours 14 or more levels off what players show
    ycbcr = _ycbcr(COLOUR, matrix, full=False)
    path = _flat_video(tmp_path / "untagged.mp4", size, ycbcr)
    _check(path, ycbcr, matrix, BT709 if matrix == BT601 else BT601, full=False)


@pytest.mark.parametrize("tag,matrix,size", [
    (SPC_BT709, BT709, (320, 240)),
    (SPC_SMPTE170M, BT601, (1280, 720)),
    (SPC_BT470BG, BT601, (1280, 720)),
    (SPC_BT2020_NCL, BT2020, (320, 240)),
    (SPC_FCC, FCC, (1280, 720)),
    (SPC_SMPTE240M, SMPTE240M, (320, 240)),
], ids=["bt709-sd", "smpte170m-hd", "bt470bg-hd", "bt2020-sd", "fcc-hd", "smpte240m-sd"])
def test_a_tagged_matrix_wins_over_the_guess_from_the_size(tmp_path: Path, tag: int, matrix: tuple[float, float], size: tuple[int, int]) -> None:
    ycbcr = _ycbcr(COLOUR, matrix, full=False)
    path = _flat_video(tmp_path / "tagged.mp4", size, ycbcr, colorspace=tag, color_range=LIMITED)
    _check(path, ycbcr, matrix, BT709 if size[0] >= 1280 else BT601, full=False)


@pytest.mark.parametrize("codec,suffix,size,tag,matrix", [
    ("libx264", ".mp4", (1280, 720), None, BT709),  # H.264's full-range flag: decoded as yuvj420p
    ("ffv1", ".mkv", (320, 240), SPC_BT709, BT709),  # yuv420p with a full-range tag
    ("libx264", ".mp4", (320, 240), None, BT601),
], ids=["h264-hd-untagged", "ffv1-bt709", "h264-sd-untagged"])
def test_full_range_is_converted_as_full_range(tmp_path: Path, codec: str, suffix: str, size: tuple[int, int], tag: int | None,
                                              matrix: tuple[float, float]) -> None:
    ycbcr = _ycbcr(COLOUR, matrix, full=True)
    path = _flat_video(tmp_path / f"full{suffix}", size, ycbcr, codec=codec, colorspace=tag, color_range=FULL)
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).color_range == FULL
    want = _rgb(ycbcr, matrix, full=True)
    assert np.abs(want - _rgb(ycbcr, matrix, full=False)).max() >= 8  # read as limited range it would be off
    assert np.abs(_shown(path) - want).max() <= TOLERANCE


def test_motion_jpeg_is_full_range_bt601_even_at_hd_size(tmp_path: Path) -> None:
    # JPEG's YCbCr (JFIF) is BT.601 at full range whatever the size: the decoder says so, and yuvj420p frames are full range
    ycbcr = _ycbcr(COLOUR, BT601, full=True)
    path = _flat_video(tmp_path / "mjpeg.avi", (1280, 720), ycbcr, codec="mjpeg", pix_fmt="yuvj420p")
    _check(path, ycbcr, BT601, BT709, full=True)


def test_an_rgb_stream_is_not_given_a_matrix(tmp_path: Path) -> None:
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[...] = COLOUR
    with av.open(str(tmp_path / "rgb.mkv"), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        for _ in range(2):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="bgr0")))
        out.mux(stream.encode())
    with open_video(tmp_path / "rgb.mkv") as video:
        np.testing.assert_array_equal(video.read(1), picture)


def _export(path: Path, pictures: np.ndarray) -> None:
    write_mp4_stream(path, iter(pictures), total=len(pictures), fps=25)


@pytest.mark.parametrize("write", [_export, write_mp4], ids=["export", "synth"])
@pytest.mark.parametrize("size,matrix,tag", [((1280, 720), BT709, SPC_BT709), ((320, 240), BT601, SPC_SMPTE170M)], ids=["hd", "sd"])
def test_videos_we_write_name_their_matrix_and_use_the_one_players_assume(tmp_path: Path, write: Callable[[Path, np.ndarray], None],
                                                                          size: tuple[int, int], matrix: tuple[float, float], tag: int) -> None:
    # FFmpeg converted RGB with BT.601 at every size and named no matrix: players showed exported HD video off
    width, height = size
    pictures = np.zeros((3, height, width, 3), np.uint8)
    pictures[...] = COLOUR
    path = tmp_path / "written.mp4"
    write(path, pictures)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.colorspace, frame.color_range) == (tag, LIMITED)
        samples = [int(np.frombuffer(plane, np.uint8)[0]) for plane in frame.planes]
    assert np.abs(np.array(samples) - _ycbcr(COLOUR, matrix, full=False)).max() <= 2  # a player that ignores the tag agrees
    assert np.abs(_shown(path) - COLOUR).max() <= TOLERANCE
