"""HDR video (PQ, HLG) is tone-mapped to SDR BT.709 instead of being shown as if its signal were BT.709's; video with
an alpha channel is composited over black instead of losing its alpha; SDR, opaque video is read as before, bit for
bit, and only the files the reader now converts get new cache keys."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

import main
from core.flow.cache import video_identity
from core.video import open_video
from core.video.colour import rgb_conversion
from media import TRC_HLG, TRC_PQ, alpha_colour, write_alpha, write_hdr_greys, write_video

needs_x265 = pytest.mark.skipif("libx265" not in av.codecs_available,
                                reason="this FFmpeg build has no libx265 to write a 10-bit HDR clip")

# Expected SDR codes, worked out by hand from the standards: PQ 0.40 is 32.4 nits (SMPTE ST 2084), below the roll-off's
# knee (about 90 nits), so it is shown at 32.4 / 203 of SDR white, 255 * 0.160 ** (1 / 2.4) = 119 in BT.1886.  PQ
# 0.5807 is 203 nits, HDR reference white (BT.2408), rolled off to 159 nits (BT.2390's EETF): 230.  1000 nits (PQ
# 0.7518), the source peak, is SDR white.  Before, the signal was taken for BT.709's: 0.40 gave 101, 0.5807 146, 0.7518 190.
PQ_SIGNALS = (0.0, 0.40, 0.5807, 0.7518)
PQ_EXPECTED = (0, 119, 230, 255)


def _strips(frame: np.ndarray, count: int) -> list[np.ndarray]:
    """The RGB of each 16-pixel strip's centre."""
    return [frame[frame.shape[0] // 2, 16 * i + 8] for i in range(count)]


@needs_x265
def test_pq_video_is_tone_mapped_to_sdr(tmp_path: Path) -> None:
    path = write_hdr_greys(tmp_path / "pq.mp4", PQ_SIGNALS)
    with open_video(path) as video:
        for i in (0, 2, 1):
            for rgb, expected in zip(_strips(video.read(i), len(PQ_SIGNALS)), PQ_EXPECTED):
                assert np.all(np.abs(rgb.astype(int) - expected) <= 2), (rgb, expected)
        assert video.info.hdr == "pq"


def test_bt2020_to_bt709_is_the_published_matrix() -> None:
    """BT.2087's linear-light conversion, to its four decimals; white stays white."""
    from core.video.hdr import bt2020_to_bt709

    published = [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]
    np.testing.assert_allclose(bt2020_to_bt709(), published, atol=6e-5)
    np.testing.assert_allclose(bt2020_to_bt709().sum(axis=1), 1.0, atol=1e-12)


@needs_x265
def test_hlg_reference_white_is_shown_as_pq_reference_white(tmp_path: Path) -> None:
    """HLG 0.75 is reference white on the 1000-nit display BT.2100 assumes (203 nits, as PQ 0.5807); HLG 0.5 is
    1/12 of scene light, 1000 * (1/12) ** 1.2 = 50.8 nits there: 255 * (50.8 / 203) ** (1 / 2.4) = 143."""
    path = write_hdr_greys(tmp_path / "hlg.mkv", (0.5, 0.75), transfer=TRC_HLG)
    with open_video(path) as video:
        half, white = _strips(video.read(0), 2)
        transfer = video.info.hdr
    assert np.all(np.abs(half.astype(int) - 143) <= 2), half
    assert np.all(np.abs(white.astype(int) - 230) <= 2), white
    assert transfer == "hlg"


@needs_x265
def test_info_reports_hdr_and_alpha(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["info", str(write_hdr_greys(tmp_path / "pq.mp4", PQ_SIGNALS))]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["hdr"] == "pq" and info["alpha"] is False
    assert main.main(["info", str(write_alpha(tmp_path / "qtrle.mov", "qtrle", "argb"))]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["hdr"] == "" and info["alpha"] is True


# VP9 in WebM keeps its alpha in a second bitstream, which only libvpx's decoder reads (FFmpeg's own drops it).
ALPHA_CODECS = [("mov", "qtrle", "argb"), ("mov", "png", "rgba"), ("mkv", "ffv1", "yuva420p"),
                ("mov", "prores_ks", "yuva444p10le"), ("webm", "libvpx-vp9", "yuva420p")]


def _assert_over_black(frame: np.ndarray, index: int, lossy: int) -> None:
    """Frame ``index`` of :func:`write_alpha`: black where transparent, its colour where opaque, half between."""
    colour = np.array(alpha_colour(index))
    transparent, half, opaque = (frame[16, x].astype(int) for x in (8, 24, 48))
    assert transparent.tolist() == [0, 0, 0], f"frame {index}"
    assert np.all(np.abs(opaque - colour) <= lossy), (index, opaque, colour)
    assert np.all(np.abs(half - colour * 128 / 255) <= lossy + 1), (index, half)


@pytest.mark.parametrize(("suffix", "codec", "pix_fmt"), ALPHA_CODECS)
def test_alpha_is_composited_over_black(tmp_path: Path, suffix: str, codec: str, pix_fmt: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} codec")
    path = write_alpha(tmp_path / f"alpha.{suffix}", codec, pix_fmt)
    lossy = 0 if codec in ("qtrle", "png") else 3  # RGB codecs keep the colour exactly; YUV ones round it
    with open_video(path) as video:
        _assert_over_black(video.read(1), 1, lossy)
        assert video.info.alpha


@pytest.mark.skipif("libvpx-vp9" not in av.codecs_available, reason="this FFmpeg build has no libvpx-vp9")
def test_vp9_alpha_after_a_seek(tmp_path: Path) -> None:
    """libvpx's decoder is the reader's own, not the stream's: after seeks and backward jumps it gives each frame,
    alpha and all."""
    path = write_alpha(tmp_path / "alpha.webm", "libvpx-vp9", "yuva420p", 12, options={"g": "4", "crf": "4", "b:v": "0"})
    with open_video(path, cache_bytes=0) as video:
        assert len(video) == 12
        for i in (9, 2, 11, 0, 5, 4, 6):
            _assert_over_black(video.read(i), i, 3)


def test_sdr_opaque_video_is_read_as_before(tmp_path: Path) -> None:
    """Neither tone mapping nor compositing touches an SDR file without alpha: its frames are swscale's RGB."""
    path = write_video(tmp_path / "sdr.mp4", 6, pix_fmt="yuv420p")
    with av.open(str(path)) as container:
        expected = [f.reformat(format="rgb24", **rgb_conversion(f)).to_ndarray() for f in container.decode(video=0)]
    with open_video(path) as video:
        for i in (3, 0, 5):
            np.testing.assert_array_equal(video.read(i), expected[i])
        assert video.info.hdr == "" and not video.info.alpha


@needs_x265
def test_only_converted_files_get_new_cache_keys(tmp_path: Path) -> None:
    """Reader version 6 changes the pictures of HDR and alpha files only: every other file keeps its key."""
    assert video_identity(write_video(tmp_path / "sdr.mp4", 4))["reader"] == 4
    assert video_identity(write_hdr_greys(tmp_path / "pq.mp4", PQ_SIGNALS, transfer=TRC_PQ))["reader"] == 6
    assert video_identity(write_alpha(tmp_path / "qtrle.mov", "qtrle", "argb"))["reader"] == 6
