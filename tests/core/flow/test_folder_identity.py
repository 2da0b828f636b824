"""A folder of frames' flow-cache identity: its images listed once a key (the frames' digest and the alpha look
once listed it each), and the keys the same values as before that change (the flow already cached stays valid)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.flow.cache import flow_cache_key, video_identity

FRAME_TIME_NS = 1_700_000_000_123_456_789


def _frames(folder: Path) -> Path:
    """Three "frames" of fixed bytes, names and times (the identity reads names, sizes and times; no picture)."""
    folder.mkdir()
    for index in range(3):
        frame = folder / f"frame_{index:03d}.png"
        frame.write_bytes(b"not decoded" * (index + 1))
        os.utime(frame, ns=(FRAME_TIME_NS, FRAME_TIME_NS + index))
    (folder / "notes.txt").write_text("not a frame")
    return folder


def test_a_key_lists_the_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``video_identity`` listed a folder twice: for the frames' digest and again for whether any has alpha."""
    folder = _frames(tmp_path / "frames")
    listed = []
    real = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: listed.append(self) or real(self))
    video_identity(folder)
    assert listed == [folder.resolve()]  # was [folder, folder]


def test_a_key_stats_each_frame_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame's size and time were asked for twice a key (the digest's, then the alpha look's), beside the
    listing's look at whether it is a file: a flow request on a folder of 10,000 frames on a network drive made
    30,000 calls where 20,000 do."""
    folder = _frames(tmp_path / "frames")
    stated = []
    real = Path.stat
    monkeypatch.setattr(Path, "stat", lambda self, **kwargs: stated.append(self.name) or real(self, **kwargs))
    video_identity(folder)
    frames = sorted(name for name in stated if name.startswith("frame_"))
    assert frames == ["frame_000.png"] * 2 + ["frame_001.png"] * 2 + ["frame_002.png"] * 2  # was each three times


def test_a_folders_key_is_the_one_computed_before_it_was_listed_once(tmp_path: Path) -> None:
    """Pinned values computed before the change: the flow cached for every folder keeps its key."""
    identity = video_identity(_frames(tmp_path / "frames"))
    assert identity == {"path": str((tmp_path / "frames").resolve()), "reader": 4,
                        "frames": "a4768e23bb2442f1f7f4d98b05438fd5e0eb7d8704e5be32efd716b8fa2370f3"}
    key = flow_cache_key(video={**identity, "path": "/videos/frames"}, indices=[0, 1, 2], size=(64, 64), method="farneback")
    assert key == "f0c6b089da5bfee0988d76b46e0df4661a5de142"
