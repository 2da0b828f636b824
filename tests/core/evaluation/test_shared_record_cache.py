"""The dataset panel's record cache of one checkpoint, saved by two viewer windows at the same instant: both
windows' records are kept (without the merge and the lock, the later save wrote its own records over the file and
the other window's were scored again on the next look)."""

from __future__ import annotations

from pathlib import Path

from core.evaluation.record_cache import RecordCache
from store_writers import CHECKPOINT, CLASSES, WRITERS, record_writer, run_two_writers, video_names


def test_two_processes_saving_at_once_keep_every_record(tmp_path: Path) -> None:
    assert run_two_writers(record_writer, tmp_path) == [0, 0]
    cache = RecordCache(CHECKPOINT, CLASSES, tmp_path)
    assert [name for writer in WRITERS for name in video_names(writer) if cache.get(tmp_path / name) is None] == []
    assert len(cache) == 80
