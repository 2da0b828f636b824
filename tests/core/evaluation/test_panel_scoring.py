"""The dataset panel's scoring: records cached per checkpoint and video, kept when cancelled, reused on resume;
the flow survey's store resumes the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data import discover_dataset
from core.data.flow_survey import FlowSurveyStore, summarise_noise
from core.errors import Cancelled
from core.evaluation import panel_scoring
from core.evaluation.record_cache import RecordCache
from core.models.checkpoint import open_classifier, read_checkpoint_info
from core.progress import CancelToken
from core.sampling import uniform_clip_starts
from dataset_helpers import FAVOURED, synth_with_checkpoint


def test_a_cancelled_scoring_keeps_its_records_and_a_second_run_scores_only_the_rest(tmp_path: Path, monkeypatch):
    synth, checkpoint = synth_with_checkpoint(tmp_path, clips_per_class=1)
    dataset = discover_dataset(synth)
    videos = [(s.path, dataset.relative(s), s.label_name) for s in dataset.samples][:4]
    names = read_checkpoint_info(checkpoint).config.class_names
    classifier = open_classifier(checkpoint, device="cpu")
    token, seen = CancelToken(), []

    def progress(done, total, message="", partial=None):  # noqa: ANN001
        seen.append(partial)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        panel_scoring.score_videos(classifier, videos, RecordCache(checkpoint, names, tmp_path / "c"), clips=2, cancel=token, progress=progress)
    assert len(seen) == 2 and all(r.predicted == FAVOURED for r in seen)
    first_start = uniform_clip_starts(12, 2, classifier.config.clip_length, classifier.config.frame_stride)[0]
    assert seen[0].worst_frame == first_start == 2  # every clip scores the true class alike: the first clip is the worst
    cache = RecordCache(checkpoint, names, tmp_path / "c")  # read back from disk
    assert len(cache) == 2
    scored = []
    real = panel_scoring.score_video
    monkeypatch.setattr(panel_scoring, "score_video", lambda *a, **k: scored.append(a[2]) or real(*a, **k))
    records, failed = panel_scoring.score_videos(classifier, videos, cache, clips=2)
    assert [r.video for r in records] == [v[1] for v in videos] and not failed
    assert scored == [videos[2][1], videos[3][1]]  # only the two the cancelled run had not reached
    assert [r.correct for r in records] == [v[2] == FAVOURED for v in videos]


def test_survey_store_persists_and_forgets_an_edited_video(tmp_path: Path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    store = FlowSurveyStore(tmp_path / "s", "dis")
    summary = summarise_noise([0.2, 0.9, 0.1])
    assert (summary.max_noise, summary.noisy_pairs, summary.noisiest_pair, summary.pairs) == (0.9, 1, 1, 3)
    store.put(video, summary)
    store.save()
    assert FlowSurveyStore(tmp_path / "s", "dis").get(video) == summary
    assert FlowSurveyStore(tmp_path / "s", "tvl1").get(video) is None  # per method
    os.utime(video, ns=(1, 1))
    assert FlowSurveyStore(tmp_path / "s", "dis").get(video) is None  # edited: surveyed again
    (tmp_path / "s" / "flow-survey-dis.json").write_text("{broken")
    assert FlowSurveyStore(tmp_path / "s", "dis").get(video) is None  # a damaged store is a cache miss


def test_survey_store_forgets_summaries_of_a_method_whose_settings_changed(tmp_path: Path, monkeypatch):
    """Noise scores come from the method's flow: a summary made before its defaults changed is surveyed again."""
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    store = FlowSurveyStore(tmp_path / "s", "dis")
    store.put(video, summarise_noise([0.2, 0.9]))
    store.save()
    monkeypatch.setattr("core.flow.classical.DIS_PATCH_STRIDE", 8)
    assert FlowSurveyStore(tmp_path / "s", "dis").get(video) is None
    monkeypatch.undo()
    assert FlowSurveyStore(tmp_path / "s", "dis").get(video) is not None


def test_a_segment_is_scored_cached_and_named_apart_from_its_whole_video(tmp_path: Path):
    """An untrimmed Kinetics video: the panel scores its annotated seconds, names the worst clip by the file's
    frames, and never hands the whole video's record for the segment (or the other way round)."""
    synth, checkpoint = synth_with_checkpoint(tmp_path, clips_per_class=1)
    sample = discover_dataset(synth).samples[0]
    names = read_checkpoint_info(checkpoint).config.class_names
    classifier = open_classifier(checkpoint, device="cpu")
    cache = RecordCache(checkpoint, names, tmp_path / "c")
    segment = (0.2, 0.44)  # frames 5..10 of the 12 at 25 fps
    records, failed = panel_scoring.score_videos(classifier, [(sample.path, "v", sample.label_name, segment)], cache, clips=2)
    assert not failed and 5 <= records[0].worst_frame <= 10
    assert cache.get(sample.path, segment) == records[0] and cache.get(sample.path) is None
    whole, _ = panel_scoring.score_videos(classifier, [(sample.path, "v", sample.label_name)], cache, clips=2)
    assert whole[0].worst_frame == 2 and cache.get(sample.path) == whole[0]
    assert records[0].segment == segment and whole[0].segment is None
    reread = RecordCache(checkpoint, names, tmp_path / "c")  # the whole file and its segment are two videos, kept both
    kept = reread.get(sample.path, segment), reread.get(sample.path)
    assert [(r.segment, r.worst_frame) for r in kept] == [(segment, records[0].worst_frame), (None, 2)]


def test_a_video_listed_again_under_another_class_or_name_is_not_handed_its_old_verdict(tmp_path: Path, monkeypatch):
    """The cache is keyed by checkpoint and file: a video moved to another class in the annotation is scored
    against its new class (its worst clip answers that class); one listed under another name keeps its scores."""
    synth, checkpoint = synth_with_checkpoint(tmp_path, clips_per_class=1)
    sample = discover_dataset(synth).samples[0]
    names = read_checkpoint_info(checkpoint).config.class_names
    classifier = open_classifier(checkpoint, device="cpu")
    cache = RecordCache(checkpoint, names, tmp_path / "c")
    first, _ = panel_scoring.score_videos(classifier, [(sample.path, "a/v.mp4", FAVOURED)], cache, clips=2)
    assert first[0].true == FAVOURED and first[0].correct
    other = next(n for n in names if n != FAVOURED)
    scored = []
    real = panel_scoring.score_video
    monkeypatch.setattr(panel_scoring, "score_video", lambda *a, **k: scored.append(a[3]) or real(*a, **k))
    relabelled, _ = panel_scoring.score_videos(classifier, [(sample.path, "a/v.mp4", other)], cache, clips=2)
    assert scored == [other] and relabelled[0].true == other and not relabelled[0].correct
    renamed, _ = panel_scoring.score_videos(classifier, [(sample.path, "b/v.mp4", other)], cache, clips=2)
    assert scored == [other]  # the same file and class under another name: its scores are reused
    assert renamed[0].video == "b/v.mp4" and renamed[0].predicted == relabelled[0].predicted


def test_records_scored_with_other_flow_settings_are_not_reused(tmp_path: Path, monkeypatch):
    """A flow default that changes (as TV-L1's did twice) changes every score made from that flow: the panel's
    records are kept per flow identity, as the flow and token caches are."""
    synth, checkpoint = synth_with_checkpoint(tmp_path, clips_per_class=1)
    sample = discover_dataset(synth).samples[0]
    names = read_checkpoint_info(checkpoint).config.class_names
    classifier = open_classifier(checkpoint, device="cpu")
    cache = RecordCache(checkpoint, names, tmp_path / "c", flow_method="dis")
    panel_scoring.score_videos(classifier, [(sample.path, "v", sample.label_name)], cache, clips=2)
    assert RecordCache(checkpoint, names, tmp_path / "c", flow_method="dis").get(sample.path) is not None
    from core.flow import classical

    monkeypatch.setattr(classical, "DIS_PRESET", "another")
    assert RecordCache(checkpoint, names, tmp_path / "c", flow_method="dis").get(sample.path) is None
    assert RecordCache(checkpoint, names, tmp_path / "c", flow_method="farneback").get(sample.path) is None


def test_records_reach_the_disk_while_the_scoring_runs_not_only_at_its_end(tmp_path: Path, monkeypatch):
    """The cache was written once, when the job ended: a viewer killed (or a machine that went down) hours into a
    dataset's scoring lost every record of the run."""
    from core.evaluation.video_results import record_of

    names = ("a", "b")
    videos = [(tmp_path / f"{i}.mp4", f"a/{i}.mp4", "a") for i in range(4)]
    for path, _relative, _true in videos:
        path.write_bytes(b"x")
    monkeypatch.setattr(panel_scoring, "score_video", lambda _c, path, relative, true, *_a, **_k:
                        record_of(relative, Path(path).resolve(), names, names.index(true), [0.8, 0.2], None))
    monkeypatch.setattr(panel_scoring, "SAVE_EVERY_S", 0.0)
    on_disk = []

    def progress(done, total, message="", partial=None):  # noqa: ANN001
        on_disk.append(len(RecordCache("model.safetensors", names, tmp_path / "c")))  # what a killed viewer would find

    panel_scoring.score_videos(None, videos, RecordCache("model.safetensors", names, tmp_path / "c"), progress=progress)
    assert on_disk == [1, 2, 3, 4]


def test_two_writers_of_one_survey_store_keep_each_others_summaries(tmp_path: Path):
    """The viewer's scan and eval's survey share the store's file; each saved its own copy over it, so the summaries
    the other had saved since it was read were lost."""
    videos = [tmp_path / f"{name}.mp4" for name in ("a", "b", "c")]
    for video in videos:
        video.write_bytes(b"x")
    viewer, command = FlowSurveyStore(tmp_path / "s", "dis"), FlowSurveyStore(tmp_path / "s", "dis")
    viewer.put(videos[0], summarise_noise([0.1]))
    command.put(videos[1], summarise_noise([0.2]))
    command.save()
    viewer.put(videos[2], summarise_noise([0.3]))
    viewer.save()
    stored = FlowSurveyStore(tmp_path / "s", "dis")
    assert [stored.get(v).max_noise for v in videos] == [0.1, 0.2, 0.3]


def test_two_windows_scoring_with_one_checkpoint_keep_each_others_records(tmp_path: Path):
    """Two viewer windows score with one checkpoint: the second had read the record file before the first saved, and
    its save wrote its own copy over the file, so the first window's records were lost (a second look scored them again)."""
    from core.evaluation.video_results import record_of

    names = ("a", "b")
    videos = [tmp_path / f"{name}.mp4" for name in ("first", "second", "edited")]
    for video in videos:
        video.write_bytes(b"x")
    first, second = RecordCache("model.safetensors", names, tmp_path / "c"), RecordCache("model.safetensors", names, tmp_path / "c")
    first.put(record_of("first.mp4", videos[0].resolve(), names, 0, [0.9, 0.1], None))
    first.put(record_of("edited.mp4", videos[2].resolve(), names, 0, [0.9, 0.1], None))
    first.save()
    videos[2].write_bytes(b"xy")  # edited since the first window scored it: the second scores it again
    second.put(record_of("second.mp4", videos[1].resolve(), names, 1, [0.3, 0.7], None))
    second.put(record_of("edited.mp4", videos[2].resolve(), names, 1, [0.2, 0.8], None))
    second.save()
    stored = RecordCache("model.safetensors", names, tmp_path / "c")
    assert [getattr(stored.get(v), "predicted", None) for v in videos] == ["a", "b", "b"]
    assert len(stored) == 3  # the edited video's old record went
    assert [getattr(second.get(v), "predicted", None) for v in videos] == ["a", "b", "b"]  # the saving window has both


def test_a_window_saving_again_keeps_the_record_another_window_scored_since(tmp_path: Path):
    """A window's next save (every 20 s while it scores) wrote its records again over those another window had saved
    since: a video that window scored after an edit lost its new record to the old one, and was scored again."""
    from core.evaluation.video_results import record_of

    names = ("a", "b")
    video = tmp_path / "edited.mp4"
    video.write_bytes(b"x")
    first = RecordCache("model.safetensors", names, tmp_path / "c")
    first.put(record_of("edited.mp4", video.resolve(), names, 0, [0.9, 0.1], None))
    first.save()
    video.write_bytes(b"xy")
    second = RecordCache("model.safetensors", names, tmp_path / "c")
    second.put(record_of("edited.mp4", video.resolve(), names, 1, [0.2, 0.8], None))
    second.save()
    first.save()
    assert getattr(RecordCache("model.safetensors", names, tmp_path / "c").get(video), "predicted", None) == "b"
    assert getattr(first.get(video), "predicted", None) == "b"
