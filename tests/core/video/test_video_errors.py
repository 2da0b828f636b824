"""Bad input gives a one-line VideoError naming the file, or the documented behaviour."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from core.errors import VideoError
from core.sampling import clip_indices
from core.video import open_video
from media import decode_index, index_frame, mux_pictures, write_video
from paths import SHARED


def _one_line_naming(err: pytest.ExceptionInfo[VideoError], path: Path) -> str:
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    return text


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist") as err:
        open_video(tmp_path / "nope.mp4")
    _one_line_naming(err, tmp_path / "nope.mp4")


def test_links_that_lead_nowhere_say_so(tmp_path: Path) -> None:
    dangling = tmp_path / "clip.mp4"
    dangling.symlink_to("moved.mp4")
    with pytest.raises(VideoError, match="clip.mp4: is a link to moved.mp4, which does not exist"):
        open_video(dangling)
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    with pytest.raises(VideoError, match="a.mp4: is a loop of symbolic links"):
        open_video(tmp_path / "a.mp4")


def test_hidden_files_in_a_frame_folder_are_no_frames(tmp_path: Path) -> None:
    """macOS leaves ``._frame_0001.png`` resource forks beside frames copied to a shared drive: they refused the
    folder ("not a readable image"), and would have been frames."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"frame_{i:04d}.png"), index_frame(i)[:, :, ::-1])
        (tmp_path / f"._frame_{i:04d}.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    with open_video(tmp_path) as video:
        assert len(video) == 3 and [decode_index(video.read(i)) for i in range(3)] == [0, 1, 2]


def test_a_frame_written_again_in_place_is_read_anew(tmp_path: Path) -> None:
    """``cv2.imwrite`` over a folder's frame while it is open: the reader's memory cache gave the old picture, and
    flow of it went into the disk cache under the new images' key."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), index_frame(i)[:, :, ::-1])
    with open_video(tmp_path) as video:
        assert [decode_index(video.read(i)) for i in range(3)] == [0, 1, 2]
        time.sleep(0.01)
        cv2.imwrite(str(tmp_path / "frame_1.png"), index_frame(7)[:, :, ::-1])
        assert decode_index(video.read(1)) == 7 and decode_index(video.read(2)) == 2


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VideoError, match="folder with no images") as err:
        open_video(tmp_path)
    _one_line_naming(err, tmp_path)


def test_non_video_file(tmp_path: Path) -> None:
    path = tmp_path / "report.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoError, match="not a video file") as err:
        open_video(path)
    _one_line_naming(err, path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.avi"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match="empty") as err:
        open_video(path)
    _one_line_naming(err, path)


def test_single_image_file_points_to_folder(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), index_frame(1))
    with pytest.raises(VideoError, match="folder"):
        open_video(path)


def test_truncated_mp4_without_index(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.mp4", 40).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(full[: len(full) // 2])  # the index ('moov') is at the end: gone
    with pytest.raises(VideoError) as err:
        open_video(path)
    text = _one_line_naming(err, path)
    assert "truncated MP4" in text and "moov" in text and "not a video" not in text


def test_mp4_whose_index_never_came_is_called_incomplete(tmp_path: Path) -> None:
    """Every box whole but no 'moov' after the data (a recorder stopped before writing it)."""
    full = write_video(tmp_path / "full.mp4", 40).read_bytes()
    moov = full.index(b"moov") - 4  # the box starts with its 4-byte size
    path = tmp_path / "unfinished.mp4"
    path.write_bytes(full[:moov])
    with pytest.raises(VideoError) as err:
        open_video(path)
    text = _one_line_naming(err, path)
    assert "incomplete MP4" in text and "moov" in text


@pytest.mark.parametrize("keep", [0.6, 0.9])
def test_truncated_avi_reads_what_is_there(tmp_path: Path, keep: float) -> None:
    """An AVI cut short opens with the frames that survive, each one exact; reading
    a damaged frame raises VideoError, never crashes or hangs."""
    full = write_video(tmp_path / "full.avi", 40, codec="mjpeg", fmt="avi", pix_fmt="yuvj420p").read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(full[: int(len(full) * keep)])
    try:
        video = open_video(path)
    except VideoError as err:
        assert str(path) in str(err)
        return
    with video:
        assert 0 < len(video) <= 40
        good = 0
        for i in range(len(video)):
            try:
                frame = video.read(i)
            except VideoError as err:
                assert str(path) in str(err)
                continue
            assert decode_index(frame) == i
            good += 1
        assert good >= int(40 * keep) - 3


def _write_audio(path: Path, fmt: str, codec: str) -> None:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=16000, layout="mono")
        samples = (np.sin(np.arange(16000) / 10.0) * 10000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("name,fmt,codec", [("sound.wav", "wav", "pcm_s16le"), ("sound.mkv", "matroska", "pcm_s16le")])
def test_audio_only_file(tmp_path: Path, name: str, fmt: str, codec: str) -> None:
    path = tmp_path / name
    _write_audio(path, fmt, codec)
    with pytest.raises(VideoError, match="no video stream") as err:
        open_video(path)
    assert "audio only" in _one_line_naming(err, path)


def test_huge_resolution_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_video(tmp_path / "big.mp4", 3, size=(640, 480))
    with pytest.raises(VideoError, match="larger than the supported") as err:
        open_video(path, max_pixels=320 * 240)
    _one_line_naming(err, path)


def test_grayscale_video_becomes_three_equal_channels(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gray.mkv", 6, codec="ffv1", fmt="matroska", pix_fmt="gray")
    with open_video(path) as video:
        frame = video.read(4)
    assert frame.shape == (64, 128, 3)
    np.testing.assert_array_equal(frame[..., 0], frame[..., 1])
    np.testing.assert_array_equal(frame[..., 1], frame[..., 2])
    assert decode_index(frame) == 4


def test_alpha_video_drops_alpha(tmp_path: Path) -> None:
    path = write_video(tmp_path / "alpha.mkv", 6, codec="ffv1", fmt="matroska", pix_fmt="bgra")
    with open_video(path) as video:
        frame = video.read(5)
    assert frame.shape == (64, 128, 3)
    np.testing.assert_array_equal(frame, index_frame(5))  # lossless: exact pixels


def test_image_sequence_natural_order_gray_and_alpha(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        img = cv2.cvtColor(index_frame(i), cv2.COLOR_RGB2BGR)
        if i % 3 == 1:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif i % 3 == 2:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
        cv2.imwrite(str(folder / f"frame_{i}.png"), img)  # frame_2 must come before frame_10
    (folder / "readme.txt").write_text("not a frame")
    with open_video(folder) as video:
        assert len(video) == 12 and video.info.container == "image-sequence"
        frames = [video.read(i) for i in (11, 10, 2, 0)]
    assert [decode_index(f) for f in frames] == [11, 10, 2, 0]
    assert all(f.shape == (64, 128, 3) for f in frames)
    np.testing.assert_array_equal(frames[3], index_frame(0))


def test_image_sequence_with_a_mismatched_frame(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), index_frame(0))
    cv2.imwrite(str(folder / "0002.png"), index_frame(1, width=64))
    (folder / "0003.png").write_bytes(b"garbage")
    with open_video(folder) as video:
        with pytest.raises(VideoError, match="first frame is 128x64"):
            video.read(1)
        with pytest.raises(VideoError, match="not a readable image") as err:
            video.read(2)
    assert "0003.png" in str(err.value)


def test_video_shorter_than_a_clip_pads_with_the_last_frame(tmp_path: Path) -> None:
    path = write_video(tmp_path / "short.mp4", 10)
    with open_video(path) as video:
        clip = clip_indices(0, len(video), length=16, stride=1)
        frames = video.read_clip(clip.indices)
    assert clip.padded == 6
    assert [decode_index(f) for f in frames] == list(range(10)) + [9] * 6


def test_real_shared_gif_opens(tmp_path: Path) -> None:
    gif = SHARED / "data" / "videos" / "v_CricketShot_g04_c01_rgb_i3d.gif"
    if not gif.exists():
        pytest.skip("../shared/data is absent")
    copy = tmp_path / "clip.gif"
    shutil.copy(gif, copy)
    with open_video(copy) as video:
        assert video.info.width == 224 and len(video) == 79


def crafted_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` with almost no data: a decompression bomb's shape."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "position,side,message",
    [(0, 30000, "declares an image far larger than the supported 67 Mpx"), (2, 30000, "declares an image far larger"),
     (1, 9000, r"frame size 9000x9000 \(81 Mpx\) is larger than the supported 67 Mpx")],
    ids=["first frame", "a later frame", "just over the limit"],
)
def test_an_image_declaring_a_huge_size_is_refused_from_its_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, position: int, side: int, message: str) -> None:
    """A PNG of a few hundred bytes declaring 30000x30000 (or 9000x9000) pixels is refused before
    OpenCV decodes a pixel of it."""
    folder = tmp_path / "frames"
    folder.mkdir()
    small = np.zeros((16, 16, 3), np.uint8)
    for i in range(4):
        path = folder / f"frame_{i}.png"
        if i == position:
            path.write_bytes(crafted_png(side, side))
        else:
            cv2.imwrite(str(path), small)
    decoded: list[int] = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: (decoded.append(data.size), real(data, flags))[1])
    with pytest.raises(VideoError, match=message) as err:
        with open_video(str(folder)) as video:
            video.read_clip(list(range(len(video))))
    assert str(folder / f"frame_{position}.png") in str(err.value)
    assert all(size < 1000 for size in decoded) and len(decoded) == position  # only the small frames before it were decoded


def test_a_corrupt_image_is_one_line_on_stderr_and_nothing_else(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """OpenCV's own log lines (written to the stderr file descriptor) stay silent."""
    import main

    folder = tmp_path / "frames"
    folder.mkdir()
    ok, encoded = cv2.imencode(".png", np.full((32, 32, 3), 90, np.uint8))
    broken = bytearray(encoded.tobytes())
    broken[60:] = b"\xff" * (len(broken) - 60)  # pixel data destroyed, header intact
    (folder / "frame_0.png").write_bytes(bytes(broken))
    assert main.main(["info", str(folder)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"error: {folder / 'frame_0.png'}: is not a readable image"]


def test_a_frame_size_ffmpeg_refuses_is_named_not_called_0x0(tmp_path: Path) -> None:
    # a 7 KB MJPEG AVI whose headers declare 20000x20000: FFmpeg leaves the size 0x0 ("an invalid frame size 0x0" before)
    import struct

    path = tmp_path / "huge.avi"
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        mux_pictures(out, stream, [np.full((64, 64, 3), 100, np.uint8)])
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 20000, 20000)
    strf = data.find(b"strf")
    data[strf + 12 : strf + 20] = struct.pack("<ii", 20000, 20000)
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="frame size FFmpeg cannot use") as err:
        open_video(path)
    _one_line_naming(err, path)
