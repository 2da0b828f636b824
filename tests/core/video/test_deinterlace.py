"""Interlaced video is deinterlaced (frame count, indices and times unchanged; the same pixels after a seek as in
order); progressive video never passes through the filter; cache keys change only for deinterlaced files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import main
from core.flow.cache import video_identity
from core.video import container, open_video
from media import line_to_line, write_interlaced, write_video

CONTAINERS = ("mp4", "mkv", "avi", "ts")  # timestamps, timestamps, counted with restart points, counted from the start


def test_interlaced_frames_no_longer_comb(tmp_path: Path) -> None:
    path = write_interlaced(tmp_path / "tff.mp4")
    with open_video(path) as video, open_video(path, deinterlace=False) as stored:
        assert video.info.interlaced and video.info.deinterlaced
        assert stored.info.interlaced and not stored.info.deinterlaced
        combed = [line_to_line(stored.read(i)) for i in range(len(stored))]
        smooth = [line_to_line(video.read(i)) for i in range(len(video))]
    assert min(combed) > 60  # as stored: each line jumps ~87 levels from its neighbours
    assert max(smooth) < 3  # deinterlaced: as smooth as one field


def test_deinterlacing_keeps_frame_count_and_times(tmp_path: Path) -> None:
    path = write_interlaced(tmp_path / "tff.mkv", 30)
    with open_video(path) as video, open_video(path, deinterlace=False) as stored:
        assert len(video) == len(stored) == 30
        np.testing.assert_array_equal(video.timestamps, stored.timestamps)
        assert video.info.fps == stored.info.fps and video.info.duration_s == stored.info.duration_s


@pytest.mark.parametrize("suffix", CONTAINERS)
def test_a_deinterlaced_frame_after_a_seek_is_the_frame_read_in_order(tmp_path: Path, suffix: str) -> None:
    """bwdif makes frame i from frames i-1..i+1: a seek to a keyframe must feed it the frame before as well."""
    path = write_interlaced(tmp_path / f"tff.{suffix}", 30, keyint=4)
    with open_video(path, cache_bytes=0) as video:
        in_order = [video.read(i).copy() for i in range(len(video))]
    with open_video(path, cache_bytes=0) as video:
        assert video.info.deinterlaced
        for i in (20, 8, 16, 12, 4, 29, 24, 0, 28, 9, 1):  # keyframes, backward jumps, the last frame
            np.testing.assert_array_equal(video.read(i), in_order[i], err_msg=f"frame {i}")


def test_progressive_video_never_passes_through_the_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "progressive.mp4", 12)
    with open_video(path, deinterlace=False) as stored:
        expected = [stored.read(i).copy() for i in range(len(stored))]

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a progressive stream was deinterlaced")

    monkeypatch.setattr(container, "deinterlaced", refused)
    with open_video(path) as video:
        assert not video.info.interlaced and not video.info.deinterlaced
        for i in (7, 0, 11, 3):
            np.testing.assert_array_equal(video.read(i), expected[i])


def test_only_deinterlaced_files_get_new_cache_keys(tmp_path: Path) -> None:
    """Reader version 5 changes the pictures of deinterlaced files only: the flow cached for every other file
    (version 4's pictures, bit for bit) keeps its key."""
    progressive = write_video(tmp_path / "progressive.mp4", 4)
    woven = write_interlaced(tmp_path / "tff.mp4", 4)
    assert video_identity(progressive)["reader"] == 4
    assert video_identity(woven)["reader"] == 5
    assert video_identity(woven, deinterlace=False)["reader"] == 4  # the frames as stored: version 4's pictures
    assert video_identity(tmp_path)["reader"] == 4  # a folder (of no images here) is never interlaced


def test_info_no_deinterlace_reads_the_frames_as_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = write_interlaced(tmp_path / "tff.mp4", 4)
    assert main.main(["info", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["deinterlaced"] is True
    assert main.main(["info", "--no-deinterlace", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["deinterlaced"] is False
