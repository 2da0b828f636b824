"""A results file's records and the table's Kinetics rows (annotated seconds of an untrimmed file): a record lands
on a row only for the same seconds; a record of the whole file (as files written before records kept their
segment are) is another video, listed as a row of its own, not a result of the row's segment."""

from __future__ import annotations

from pathlib import Path

from core.evaluation.video_results import VideoResults, read_video_results, record_of, results_text
from viewer.dataset.results_merge import merge_results
from viewer.dataset.rows import Row

NAMES = ("jump", "run")


def test_records_land_on_rows_of_their_own_seconds_only(tmp_path: Path) -> None:
    video = tmp_path / "kinetics" / "abc.mp4"
    rows = [Row(video, "train/abc.mp4", "jump", "test", segment=(2.0, 12.0))]
    segment = record_of("train/abc.mp4", video, NAMES, 0, [0.7, 0.3], None, worst_frame=70, segment=(2.0, 12.0))
    whole = record_of("train/abc.mp4", video, NAMES, 0, [0.2, 0.8], None, worst_frame=400)
    other = record_of("train/abc.mp4", video, NAMES, 0, [0.6, 0.4], None, worst_frame=100, segment=(3.0, 13.0))
    file = tmp_path / "videos.jsonl"
    file.write_text(results_text("model.pt", tmp_path / "kinetics", NAMES, [whole, segment, other]))
    results = read_video_results(file)
    assert [r.segment for r in results.records] == [None, (2.0, 12.0), (3.0, 13.0)]  # written and read back
    assert '"segment"' not in file.read_text().splitlines()[1]  # whole videos' lines as before

    merge = merge_results(rows, results)
    assert [(row.segment, record.predicted, record.worst_frame) for row, record, _ in merge.matched] == [((2.0, 12.0), "jump", 70)]
    assert sorted((row.segment or (0.0, 0.0), row.record.worst_frame) for row in merge.added) == [((0.0, 0.0), 400), ((3.0, 13.0), 100)]
    assert all(row.path == video for row in merge.added)


def test_a_record_of_a_segment_finds_its_row_by_relative_path_on_another_machine(tmp_path: Path) -> None:
    rows = [Row(tmp_path / "k" / "abc.mp4", "train/abc.mp4", "jump", "test", segment=(2.0, 12.0))]
    server = Path("/srv/k/train/abc.mp4")
    records = (record_of("train/abc.mp4", server, NAMES, 0, [0.9, 0.1], None, segment=(2.0, 12.0)),
               record_of("train/abc.mp4", server, NAMES, 0, [0.1, 0.9], None))
    merge = merge_results(rows, VideoResults("model.pt", "/srv/k", NAMES, records))
    assert [(row is rows[0], record.predicted) for row, record, _ in merge.matched] == [(True, "jump")]
    assert [(str(row.path), row.segment, row.record.predicted) for row in merge.added] == [(str(server), None, "run")]


def test_the_panels_scoring_hands_each_record_to_the_row_of_its_own_seconds(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A table may list a file whole (a row a results file added) beside a Kinetics row of its segment: each
    scored record goes to its own row (the segment's went to the whole file's row)."""
    import types

    import core.evaluation.panel_scoring as panel_scoring
    import core.evaluation.record_cache as record_cache
    import core.models.checkpoint as checkpoint
    from viewer.dataset.evaluate_job import EvaluationRequest, evaluate_rows

    video = tmp_path / "abc.mp4"
    video.write_bytes(b"x")
    monkeypatch.setattr(checkpoint, "read_checkpoint_info", lambda _path: types.SimpleNamespace(
        config=types.SimpleNamespace(class_names=list(NAMES)), extra={}))
    monkeypatch.setattr(record_cache, "RecordCache", lambda *_args, **_kwargs: types.SimpleNamespace(unsaved=""))

    def score(_classifier, videos, _cache, clips=3, cancel=None, progress=None):  # noqa: ANN001, ANN202
        records = [record_of(relative, Path(path).resolve(), NAMES, 0, [0.9, 0.1], None, segment=segment)
                   for path, relative, _true, segment in videos]
        for n, record in enumerate(records, start=1):
            progress(n, len(records), record.video, partial=record)
        return records, []

    monkeypatch.setattr(panel_scoring, "score_videos", score)
    segment_row = Row(video, "abc.mp4", "jump", "test", segment=(2.0, 7.0))
    whole_row = Row(video, "abc.mp4", "jump", "test")
    handed: list[tuple[object, object]] = []
    evaluate_rows(EvaluationRequest((segment_row, whole_row), "model.safetensors", "all", "cpu", None), None,
                  lambda _done, _total, _message="", partial=None: partial and handed.append((partial[0].segment, partial[2].segment)))
    assert handed == [((2.0, 7.0), (2.0, 7.0)), (None, None)]
