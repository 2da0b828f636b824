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


def test_a_cache_opened_in_this_process_starts_with_the_records_another_has_not_saved_yet(tmp_path: Path) -> None:
    """An evaluation saves its cache every 20 s: one opened meanwhile (a reopened dataset) read the file alone."""
    from core.evaluation.video_results import record_of

    scoring = RecordCache(CHECKPOINT, CLASSES, tmp_path)
    saved, unsaved = tmp_path / "saved.mp4", tmp_path / "unsaved.mp4"
    scoring.put(record_of("saved.mp4", saved, CLASSES, 0, [0.9, 0.1], None))
    scoring.save()
    scoring.put(record_of("unsaved.mp4", unsaved, CLASSES, 1, [0.3, 0.7], None))
    opened = RecordCache(CHECKPOINT, CLASSES, tmp_path)
    assert [getattr(opened.get(video), "predicted", None) for video in (saved, unsaved)] == ["a", "b"]
    assert opened.pending() == {}  # the evaluation's to save, not this one's
    other_file = RecordCache(CHECKPOINT, CLASSES, tmp_path / "elsewhere")
    assert other_file.get(unsaved) is None
    scoring.save()
    assert scoring.pending() == {} and RecordCache(CHECKPOINT, CLASSES, tmp_path).get(unsaved) is not None
