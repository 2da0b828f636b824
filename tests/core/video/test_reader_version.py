"""A reader fix that renumbers some files' frames makes every cache built on the old numbering a miss:
flow, tokens (keyed on the video's identity), flow-noise summaries and scored records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.flow_survey import FlowSurveyStore, summarise_noise
from core.evaluation.record_cache import RecordCache
from core.evaluation.video_results import VideoRecord
from core.flow.cache import FlowCache, compute_flow_cached
from core.video import base
from media import write_video


def _next_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "READER_VERSION", base.READER_VERSION + 1)


def test_flow_cached_by_an_older_reader_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "v.mp4", 4)
    cache = FlowCache(tmp_path / "cache")
    first, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)
    assert not hit and compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)[1]
    _next_reader(monkeypatch)
    again, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)
    assert not hit
    np.testing.assert_array_equal(again.forward, first.forward)  # the same frames here: the same flow, recomputed
    assert compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)[1]


def test_noise_summaries_and_records_of_an_older_reader_are_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "v.mp4", 4)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    store = FlowSurveyStore(tmp_path / "survey", "dis")
    store.put(video, summarise_noise([0.1, 0.7]))
    store.save()
    records = RecordCache(checkpoint, ["a", "b"], root=tmp_path / "records")
    record = VideoRecord(video="v.mp4", path=str(video), true="a", predicted="b", confidence=0.6, top5=(("b", 0.6), ("a", 0.4)))
    records.put(record)
    records.save()
    assert FlowSurveyStore(tmp_path / "survey", "dis").get(video) is not None
    assert RecordCache(checkpoint, ["a", "b"], root=tmp_path / "records").get(video) == record
    _next_reader(monkeypatch)
    assert FlowSurveyStore(tmp_path / "survey", "dis").get(video) is None
    renewed = RecordCache(checkpoint, ["a", "b"], root=tmp_path / "records")
    assert renewed.file == records.file  # the checkpoint's cache file stays the same: only its videos are new
    assert renewed.get(video) is None


@pytest.mark.parametrize("next_reader", [False, True], ids=["hdr-interlaced", "a-later-reader"])
def test_an_interlaced_file_read_as_stored_is_keyed_apart_from_it_deinterlaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                            next_reader: bool) -> None:
    """``--no-deinterlace`` gives other pictures than the default, also for an HDR (or alpha) file and under any later
    reader version: its flow must not be the deinterlaced pictures' flow from the cache, nor the other way round."""
    from core.flow.cache import video_identity
    from core.video import reader_version

    video = write_video(tmp_path / "v.mp4", 4)
    monkeypatch.setattr(reader_version, "_file_changes", lambda *_args: (True, not next_reader))  # interlaced (and HDR)
    if next_reader:
        _next_reader(monkeypatch)
    assert reader_version.pictures_version(video, deinterlace=False) != reader_version.pictures_version(video, deinterlace=True)
    assert video_identity(video, deinterlace=False) != video_identity(video, deinterlace=True)
    assert reader_version.pictures_version(video) == (base.READER_VERSION if next_reader else reader_version.HDR_AND_ALPHA_VERSION)


def test_a_second_look_at_a_large_dataset_opens_no_video_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are asked for every video on every look (the survey's and the panel's stores): with room for 4,096 files
    the header cache held none of UCF101's 13,320 when a sweep came round again, and every video was opened again."""
    from core.video import container, reader_version
    from core.video.picture import StreamLook

    videos = tmp_path / "videos"
    videos.mkdir()
    paths = [videos / f"v{i:05d}.mp4" for i in range(13_320)]
    for path in paths:
        path.touch()
    opened: list[str] = []
    monkeypatch.setattr(container, "header_pictures", lambda path: (opened.append(path), (False, StreamLook()))[1])
    reader_version._file_changes.cache_clear()
    try:
        for _sweep in range(2):
            assert {reader_version.pictures_version(path) for path in paths} == {reader_version.DEINTERLACING_VERSION - 1}
        assert len(opened) == len(paths)  # each video's header once
    finally:
        reader_version._file_changes.cache_clear()
