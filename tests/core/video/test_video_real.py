"""The reader on real dataset files (UCF101 AVI with packed B-frames, Kinetics MP4, MKV, 1080p AVI)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from core.video import open_video
from paths import SHARED as SHARED_ROOT

SHARED = SHARED_ROOT / "data" / "videos"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/videos is absent (real clips live outside the repository)")

EXPECTED = {
    # clip: (frames, fps, width, height, codec)
    "v_ApplyEyeMakeup_g01_c01.avi": (164, 25.0, 320, 240, "mpeg4"),
    "v_Basketball_g01_c01.avi": (141, 29.97, 320, 240, "mpeg4"),
    "mmaction2_demo.mp4": (280, 28.0, 340, 256, "h264"),
    "abseiling_k400.mp4": (250, 25.0, 454, 256, "h264"),
    "decord_flipping_a_pancake.mkv": (310, 30.0, 426, 240, "h264"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_of_real_clips(name: str) -> None:
    frames, fps, width, height, codec = EXPECTED[name]
    with open_video(SHARED / name) as video:
        info = video.info
    assert (info.frames, info.width, info.height, info.codec) == (frames, width, height, codec)
    assert info.fps == pytest.approx(fps, abs=0.01)


@pytest.mark.parametrize("name", ["v_ApplyEyeMakeup_g01_c01.avi", "mmaction2_demo.mp4"])
def test_seeking_matches_sequential_decode_on_real_clips(name: str) -> None:
    with open_video(SHARED / name) as video:
        sequential = {i: f.copy() for i, f in video.iter_frames() if i % 7 == 0 or i in (188, 189, 230)}
    with open_video(SHARED / name, cache_bytes=0) as video:
        for i in sorted(sequential, reverse=True):
            np.testing.assert_array_equal(video.read(i), sequential[i], err_msg=f"{name} frame {i}")


def test_every_shared_clip_opens() -> None:
    """Every clip listed in the labels file opens and its last frame decodes."""
    labels = SHARED.parent / "labels" / "clips_labels.csv"
    paths = [SHARED.parent / row["path"] for row in csv.DictReader(labels.open())]
    assert len(paths) == 17
    for path in paths:
        with open_video(path) as video:
            last = video.read(len(video) - 1)
            assert len(video) > 10 and last.ndim == 3 and last.shape[2] == 3, path.name
