"""`bench playback` plays the real window twice, shared decoder and decoders of their own (no timing is asserted)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from core.video import open_video
from core.video.worker_readers import WorkerReaders
from media import write_video
from viewer import jobs
from viewer.bench import playback


def test_bench_playback_plays_an_upscaled_copy_to_its_end_in_both_rows(qtbot, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    video = write_video(tmp_path / "clip.mp4", 12)
    parser = argparse.ArgumentParser()
    playback.add_arguments(parser)
    args = parser.parse_args(["--video", str(video), "--upscale", "320x160", "--frames", "10", "--seconds", "20"])
    interval = sys.getswitchinterval()
    try:
        assert playback.run(args) == 0
    finally:  # the window's application tunes the process: undo it for the other tests
        sys.setswitchinterval(interval)
        jobs.set_worker_niceness(0)
    out = capsys.readouterr().out
    assert "clip_320x160.mp4: 10 frames, 320x160" in out
    scenarios = ("one decoder for every job (before)", "a decoder per kind of work (now)")
    shown = {name: line[len(name):].split()[0] for line in out.splitlines() for name in scenarios if line.startswith(name)}
    assert shown == dict.fromkeys(scenarios, "9")  # both played every frame after the first
    assert not WorkerReaders.share_one_decoder  # the bench's switch is put back


def test_the_upscaled_copy_holds_the_source_frames_at_the_new_size(tmp_path: Path) -> None:
    import cv2

    video = write_video(tmp_path / "clip.mp4", 8, options={"crf": "0"})
    copy = playback.upscaled_copy(video, (256, 128), 5, tmp_path)
    with open_video(video) as source, open_video(copy) as scaled:
        assert (len(scaled), scaled.info.width, scaled.info.height) == (5, 256, 128)
        expected = cv2.resize(source.read(4), (256, 128), interpolation=cv2.INTER_CUBIC).astype(int)
        assert abs(scaled.read(4).astype(int) - expected).mean() < 4  # crf 20: near, not equal


@pytest.mark.parametrize("size", ["3x4", "640", "0x0", "641x360"])
def test_a_size_that_h264_cannot_take_is_refused(size: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        playback._size(size)
