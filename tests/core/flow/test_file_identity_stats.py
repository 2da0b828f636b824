"""A video file's cache keys (the flow cache's identity, the flow survey's key) stat the file once past resolving
its path: the key's size and time and the reader's version (:mod:`core.video.reader_version`) share that stat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data.flow_survey import video_key
from core.flow.cache import video_identity
from media import write_video


def _stats_of(video: Path, monkeypatch: pytest.MonkeyPatch, key) -> int:
    """How many times ``key(video)`` stat'ed ``video`` (after a first call: the header read is remembered)."""
    key(video)
    real = os.stat
    stated: list[str] = []
    monkeypatch.setattr(os, "stat", lambda path, *args, **kwargs: stated.append(os.fspath(path)) or real(path, *args, **kwargs))
    key(video)
    monkeypatch.setattr(os, "stat", real)
    return stated.count(str(video.resolve()))


def test_the_flow_cache_identity_stats_a_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolving, then the identity's stat, an ``is_dir`` and the reader version's stat: four a key, where two do."""
    video = write_video(tmp_path / "v.mp4", 4)
    assert _stats_of(video, monkeypatch, video_identity) == 2  # was 4


def test_the_survey_key_stats_a_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolving, then the key's stat and the reader version's: three a key, where two do."""
    video = write_video(tmp_path / "v.mp4", 4)
    assert _stats_of(video, monkeypatch, video_key) == 2  # was 3
