"""The flow survey store shared by the viewer's scan and ``eval``: two processes saving at the same instant keep
both's summaries (without the lock each merged into the file as it was before the other wrote, and one writer's
last five summaries were lost: 75 of 80 survived, run after run), and the store keeps the most recently used
summaries, not every key it ever held.  The dataset panel's record cache takes the same lock (its two writers are
in core/evaluation/test_panel_scoring.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data import flow_survey
from core.data.flow_survey import FlowSurveyStore, summarise_noise
from store_writers import WRITERS, run_two_writers, survey_writer, video_names


def test_two_processes_saving_at_once_keep_every_summary(tmp_path: Path) -> None:
    assert run_two_writers(survey_writer, tmp_path) == [0, 0]
    store = FlowSurveyStore(tmp_path, "dis")
    assert [name for writer in WRITERS for name in video_names(writer) if store.get(tmp_path / name) is None] == []


def test_a_save_keeps_the_most_recently_used_summaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(1, 100))
    monkeypatch.setattr(flow_survey, "_now", lambda: float(next(clock)))
    videos = {name: tmp_path / f"{name}.mp4" for name in ("old", "looked-up", "middle", "new")}
    store = FlowSurveyStore(tmp_path / "s", "dis", max_entries=3)
    for name in ("old", "looked-up", "middle"):
        store.put(videos[name], summarise_noise([0.1]))
    store.save()
    assert store.get(videos["looked-up"]) is not None  # used again: now the most recent of the three
    store.put(videos["new"], summarise_noise([0.2]))
    store.save()
    reread = FlowSurveyStore(tmp_path / "s", "dis", max_entries=3)
    assert {name for name, video in videos.items() if reread.get(video) is not None} == {"looked-up", "middle", "new"}
    assert store.get(videos["old"]) is None  # the saving store forgot it too


def test_entries_of_an_older_store_without_use_times_go_first(tmp_path: Path) -> None:
    """A store written before entries kept their use: its summaries still read, and are the first to go."""
    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    store = FlowSurveyStore(tmp_path, "dis", max_entries=1)
    store.put(old, summarise_noise([0.1]))
    store.save()
    data = json.loads(store.file.read_text())
    data["videos"] = {key: {k: v for k, v in entry.items() if k != "used"} for key, entry in data["videos"].items()}
    store.file.write_text(json.dumps(data))
    assert FlowSurveyStore(tmp_path, "dis").get(old) == summarise_noise([0.1])
    writer = FlowSurveyStore(tmp_path, "dis", max_entries=1)
    writer.put(new, summarise_noise([0.2]))
    writer.save()
    assert [FlowSurveyStore(tmp_path, "dis").get(v) is not None for v in (old, new)] == [False, True]


def test_a_save_drops_the_summaries_of_videos_deleted_or_edited_since(tmp_path: Path) -> None:
    """Summaries of deleted or edited videos were kept for ever (an edited video is a new key; the old one is never
    looked up again); a video whose folder is gone (a drive that is not mounted now) keeps its summary."""
    videos = {name: tmp_path / "data" / f"{name}.mp4" for name in ("kept", "deleted", "edited")}
    videos["unmounted"] = tmp_path / "drive" / "unmounted.mp4"
    for video in videos.values():
        video.parent.mkdir(exist_ok=True)
        video.write_bytes(b"x")
    first = FlowSurveyStore(tmp_path / "s", "dis")
    for video in videos.values():
        first.put(video, summarise_noise([0.1]))
    first.save()
    videos["deleted"].unlink()
    videos["edited"].write_bytes(b"xy")
    videos["unmounted"].unlink()
    videos["unmounted"].parent.rmdir()
    later = FlowSurveyStore(tmp_path / "s", "dis")
    later.put(videos["edited"], summarise_noise([0.2]))  # surveyed again: its new key
    later.save()
    stored = json.loads(later.file.read_text())["videos"]
    summarised = sorted((Path(key.split("|")[0]).name, entry["max_noise"]) for key, entry in stored.items())
    assert summarised == [("edited.mp4", 0.2), ("kept.mp4", 0.1), ("unmounted.mp4", 0.1)]


def test_a_store_saves_again_after_its_own_new_summaries_were_pruned(tmp_path: Path) -> None:
    store = FlowSurveyStore(tmp_path, "dis", max_entries=1)
    for name in ("a", "b"):
        store.put(tmp_path / f"{name}.mp4", summarise_noise([0.1]))
    store.save()
    store.save()  # the pruned summary is not looked for among those to write again
    assert len(json.loads(store.file.read_text())["videos"]) == 1


def test_the_videos_are_looked_at_before_the_lock_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save stated every summarised video (50,000 at most) while it held the store's lock: on a network drive that
    outlasts LOCK_WAIT_S, and the other writer's save failed with "another process held this lock ... is stuck"."""
    from core.file_lock import LockTimeout, locked

    video = tmp_path / "data" / "v.mp4"
    video.parent.mkdir()
    video.write_bytes(b"x")
    store = FlowSurveyStore(tmp_path / "s", "dis")
    store.put(video, summarise_noise([0.1]))
    store.save()
    looked_at_under_lock: list[bool] = []
    real = flow_survey._video_unchanged

    def looked_at(key: str) -> bool:
        try:
            with locked(store.file, wait_s=0):
                looked_at_under_lock.append(False)
        except LockTimeout:
            looked_at_under_lock.append(True)
        return real(key)

    monkeypatch.setattr(flow_survey, "_video_unchanged", looked_at)
    later = FlowSurveyStore(tmp_path / "s", "dis")
    later.put(tmp_path / "data" / "w.mp4", summarise_noise([0.2]))
    video.unlink()
    later.save()
    assert looked_at_under_lock and not any(looked_at_under_lock)
    assert [Path(key.split("|")[0]).name for key in json.loads(later.file.read_text())["videos"]] == ["w.mp4"]  # still pruned
