"""A video whose frames change size midway (joined recordings, an adaptive stream saved whole): the frames before
the change read; the first frame of another size is a one-line error naming it.  Clips of such a video once
failed deep in numpy ("all input arrays must have the same shape"), exit 1, with no file named."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import pytest

import main
from core.errors import VideoError
from core.video import open_video
from media import decode_index, index_frame


def size_changing_video(path: Path) -> Path:
    """10 frames of 128x64 then 10 of 160x96, as PNG pictures in a MOV (each packet its own size)."""
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("png", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "rgb24"
        for i in range(20):
            size = (128, 64) if i < 10 else (160, 96)
            ok, data = cv2.imencode(".png", index_frame(i, *size)[:, :, ::-1])
            assert ok
            packet = av.Packet(data.tobytes())
            packet.stream, packet.pts, packet.dts, packet.time_base, packet.is_keyframe = stream, i, i, Fraction(1, 25), True
            out.mux(packet)
    return path


def test_the_first_frame_of_another_size_is_an_error_naming_it(tmp_path: Path) -> None:
    path = size_changing_video(tmp_path / "joined.mov")
    with open_video(path, cache_bytes=0) as video:
        assert (video.info.width, video.info.height) == (128, 64)
        assert [decode_index(video.read(i)) for i in range(10)] == list(range(10))
        with pytest.raises(VideoError, match=r"joined\.mov: frame 10 is 160x96 but the video's first frame is 128x64"):
            video.read(12)


def test_flow_of_such_a_video_is_exit_2_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = size_changing_video(tmp_path / "joined.mov")
    assert main.main(["flow", str(path), "--method", "farneback", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: frame 10 is 160x96") and not (tmp_path / "out").exists()
