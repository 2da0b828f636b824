"""The picture a player shows: display matrices that mirror, the video stream it picks, the pixel shape it states."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from core.errors import VideoError
from core.video import open_video
from core.video.orientation import OddOrientation, Orientation, from_display_matrix
from media import decode_index, index_frame, mux_pictures, write_video


def _shown(stored: np.ndarray, ccw: int, hflip: bool, vflip: bool) -> np.ndarray:
    """What FFmpeg shows for a display matrix set by ``set_display_rotation(ccw, hflip, vflip)``."""
    shown = np.rot90(stored, k=(ccw // 90) % 4)
    if hflip:
        shown = shown[:, ::-1]
    return shown[::-1] if vflip else shown


@pytest.mark.parametrize("ccw,hflip,vflip", [(0, True, False), (0, False, True), (90, True, False), (270, False, True), (180, True, False)])
def test_mirroring_display_matrix_is_applied(tmp_path: Path, ccw: int, hflip: bool, vflip: bool) -> None:
    # frame.rotation alone read a left-right mirror as a half turn (upside down) and missed a top-bottom one
    plain = write_video(tmp_path / "plain.mp4", 4, options={"crf": "0"}, pix_fmt="yuv444p")
    turned = write_video(tmp_path / "turned.mp4", 4, options={"crf": "0"}, pix_fmt="yuv444p", rotation=ccw, mirror=(hflip, vflip))
    with open_video(plain) as video:
        stored = video.read(2)
    with open_video(turned) as video:
        frame = video.read(2)
        info = video.info
    want = _shown(stored, ccw, hflip, vflip)
    assert frame.shape == want.shape and np.abs(frame.astype(int) - want).max() <= 2
    assert Orientation(info.rotation, info.mirrored).apply(stored).shape == want.shape
    assert info.mirrored != ((ccw // 90) % 2 == 0 and hflip and vflip) and (info.width, info.height) == (want.shape[1], want.shape[0])


def test_display_matrix_at_an_odd_angle_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write_video(tmp_path / "tilted.mp4", 3, rotation=45)
    with pytest.raises(VideoError, match="turns the picture 315 degrees clockwise, not a multiple of 90") as err:
        open_video(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def _matrix(a: float, b: float, c: float, d: float) -> bytes:
    return (np.array([a, b, 0, c, d, 0, 0, 0, 1]) * 65536).astype(np.int32).tobytes()


def test_display_matrix_reading() -> None:
    assert from_display_matrix(_matrix(1, 0, 0, 1)) == Orientation()
    assert from_display_matrix(_matrix(-1, 0, 0, 1)) == Orientation(0, mirrored=True)
    assert from_display_matrix(_matrix(1, 0, 0, -1)) == Orientation(180, mirrored=True)
    assert from_display_matrix(_matrix(0, 1, -1, 0)) == Orientation(90)  # an iPhone held upright
    assert from_display_matrix(_matrix(0, 2, -2, 0)) == Orientation(90)  # scale aside
    assert from_display_matrix(_matrix(0.9995, 0.0314, -0.0314, 0.9995)) == Orientation()  # 1.8 degrees: upright
    with pytest.raises(OddOrientation):
        from_display_matrix(_matrix(0.866, 0.5, -0.5, 0.866))


def _still_then_film(path: Path) -> Path:
    """A one-frame picture as stream 0 (not marked as a cover), the 10-frame film as stream 1."""
    with av.open(str(path), "w", format="matroska") as out:
        still = out.add_stream("mjpeg", rate=1)
        still.width, still.height, still.pix_fmt = 256, 256, "yuvj420p"
        film = out.add_stream("libx264", rate=25)
        film.width, film.height, film.pix_fmt = 128, 64, "yuv420p"
        mux_pictures(out, still, [np.full((256, 256, 3), 200, np.uint8)])
        mux_pictures(out, film, (index_frame(i) for i in range(10)))
    return path


def test_the_stream_a_player_shows_is_read_not_a_still_before_it(tmp_path: Path) -> None:
    with open_video(_still_then_film(tmp_path / "still_first.mkv")) as video:
        assert (len(video), video.info.width, video.info.height) == (10, 128, 64)
        assert [decode_index(video.read(i)) for i in (0, 9)] == [0, 9]


def _anamorphic(path: Path, ccw: int | None = None) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(32, 27)
        if ccw is not None:
            stream.set_display_rotation(ccw)
        mux_pictures(out, stream, (index_frame(i) for i in range(3)))
    return path


def test_non_square_pixels_are_stated_and_frames_stay_as_stored(tmp_path: Path) -> None:
    with open_video(_anamorphic(tmp_path / "dvd.mp4")) as video:
        assert video.info.sample_aspect_ratio == pytest.approx(32 / 27, abs=1e-6)
        assert video.read(0).shape == (64, 128, 3)
    with open_video(_anamorphic(tmp_path / "dvd_portrait.mp4", ccw=90)) as video:
        assert video.info.sample_aspect_ratio == pytest.approx(27 / 32, abs=1e-6)  # turned: a shown pixel is tall
    with open_video(write_video(tmp_path / "square.mp4", 3)) as video:
        assert video.info.sample_aspect_ratio == 1.0


def test_an_interlaced_file_says_so_and_a_progressive_one_does_not(tmp_path: Path) -> None:
    """Woven fields comb on motion, which the flow view shows as noise: the user is told why."""
    woven = write_video(tmp_path / "tff.mp4", 4, size=(128, 64), options={"x264-params": "interlaced=1:tff=1", "crf": "10"})
    with open_video(woven) as video:
        assert video.info.interlaced and [decode_index(video.read(i)) for i in (0, 3)] == [0, 3]
    with open_video(write_video(tmp_path / "progressive.mp4", 4)) as video:
        assert not video.info.interlaced


def _with_exif_orientation(jpeg: bytes, value: int) -> bytes:
    """``jpeg`` with an EXIF APP1 segment put after its SOI marker, as cameras write it: a big-endian TIFF header
    and one IFD holding a single entry, Orientation (tag 274, one SHORT) = ``value``."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, value, 0)  # the value left-justified in the 4-byte field
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload + jpeg[2:]


def _camera_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A landscape JPEG as stored, with a red block in its top left corner (BGR for OpenCV's encoder)."""
    picture = np.full((height, width, 3), 90, np.uint8)
    picture[:12, :16] = (0, 0, 255)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return encoded.tobytes()


def _folder(root: Path, name: str, images: list[bytes]) -> Path:
    folder = root / name
    folder.mkdir()
    for n, data in enumerate(images):
        (folder / f"frame_{n:04d}.jpg").write_bytes(data)
    return folder


def _stored(root: Path, jpeg: bytes) -> np.ndarray:
    with open_video(_folder(root, "plain", [jpeg])) as video:
        return video.read(0)


def test_a_camera_jpeg_with_exif_orientation_6_is_shown_upright(tmp_path: Path) -> None:
    # cv2.imdecode(IMREAD_UNCHANGED) applies no EXIF orientation: a phone's portrait photos were shown lying down
    jpeg = _camera_jpeg()
    stored = _stored(tmp_path, jpeg)
    with open_video(_folder(tmp_path, "camera", [_with_exif_orientation(jpeg, 6), _with_exif_orientation(jpeg, 6)])) as video:
        shown = video.read(1)
        assert (video.info.width, video.info.height) == (48, 64)
    np.testing.assert_array_equal(shown, np.rot90(stored, k=-1))  # a quarter turn clockwise
    assert shown[:16, -12:, 0].mean() > 200 and shown[:16, -12:, 1:].mean() < 60  # the red corner is now top right


@pytest.mark.parametrize("value", range(1, 9))
def test_every_exif_orientation_is_applied_as_the_standard_says(tmp_path: Path, value: int) -> None:
    jpeg = _camera_jpeg()
    stored = _stored(tmp_path, jpeg)
    want = {1: stored, 2: stored[:, ::-1], 3: stored[::-1, ::-1], 4: stored[::-1], 5: stored.transpose(1, 0, 2),
            6: np.rot90(stored, k=-1), 7: stored[::-1, ::-1].transpose(1, 0, 2), 8: np.rot90(stored, k=1)}[value]
    with open_video(_folder(tmp_path, "tagged", [_with_exif_orientation(jpeg, value)])) as video:
        np.testing.assert_array_equal(video.read(0), want)


def test_frames_of_a_folder_agree_on_their_size_as_shown(tmp_path: Path) -> None:
    jpeg = _camera_jpeg()
    portrait = _camera_jpeg(48, 64)  # stored upright already: the same size as the tagged one shown
    with open_video(_folder(tmp_path, "mixed", [_with_exif_orientation(jpeg, 6), portrait, jpeg])) as video:
        assert video.read(1).shape == (64, 48, 3)
        with pytest.raises(VideoError, match="has size 64x48 but the sequence's first frame is 48x64"):
            video.read(2)
