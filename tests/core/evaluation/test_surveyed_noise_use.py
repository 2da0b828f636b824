"""``eval`` without its own survey fills the flow-noise column from the flow survey's store; the store keeps the
summaries used last.  A look-up marked its summary used in memory only, never saved: a summary eval read run after
run, but nobody surveyed again, was the first the store's bound pruned."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.data import flow_survey
from core.data.flow_survey import FlowSurveyStore, default_survey_root, summarise_noise
from core.evaluation.evaluate import VideoResult
from core.evaluation.video_results import read_video_results, write_video_results

CLASSES = ("a", "b")


def _evaluation(root: Path, relative: str) -> SimpleNamespace:
    """What write_video_results reads of an Evaluation: one video scored with DIS flow."""
    video = VideoResult(relative, 0, np.array([[0.7, 0.3]]), ("dis",), False, "", (0,))
    return SimpleNamespace(checkpoint=root / "m.safetensors", dataset_root=root, class_names=CLASSES, clips_per_video=1,
                           videos=(video,), requested_flow_method="dis", crops=1, test_set=SimpleNamespace(to_dict=dict))


def test_a_summary_eval_looks_up_is_kept_before_those_nobody_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(1, 100))
    monkeypatch.setattr(flow_survey, "_now", lambda: float(next(clock)))
    videos = {name: tmp_path / "data" / f"{name}.mp4" for name in ("oldest", "second", "third", "new")}
    full = FlowSurveyStore(default_survey_root(), "dis", max_entries=3)  # at its limit
    for name in ("oldest", "second", "third"):
        full.put(videos[name], summarise_noise([0.5, 0.1]))
    full.save()

    out = write_video_results(tmp_path / "videos.jsonl", _evaluation(tmp_path / "data", "oldest.mp4"))
    assert read_video_results(out).records[0].flow_noise == summarise_noise([0.5, 0.1]).to_dict()  # looked up

    later = FlowSurveyStore(default_survey_root(), "dis", max_entries=3)
    later.put(videos["new"], summarise_noise([0.2]))  # one more: one summary goes
    later.save()
    kept = {name for name, video in videos.items() if FlowSurveyStore(default_survey_root(), "dis").get(video) is not None}
    assert kept == {"oldest", "third", "new"}


def test_a_look_up_that_finds_nothing_writes_no_store(tmp_path: Path) -> None:
    """Only a use is saved: an eval whose videos were never surveyed leaves the store as it was (here: no file)."""
    write_video_results(tmp_path / "videos.jsonl", _evaluation(tmp_path / "data", "never-surveyed.mp4"))
    assert not FlowSurveyStore(default_survey_root(), "dis").file.exists()


def test_a_store_that_cannot_be_written_is_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = tmp_path / "data" / "v.mp4"
    store = FlowSurveyStore(default_survey_root(), "dis")
    store.put(video, summarise_noise([0.3]))
    store.save()

    def refused(_store: FlowSurveyStore) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FlowSurveyStore, "_write", refused)
    notes: list[str] = []
    out = write_video_results(tmp_path / "videos.jsonl", _evaluation(tmp_path / "data", "v.mp4"), note=notes.append)
    assert json.loads(out.read_text().splitlines()[1])["flow_noise"]["max_noise"] == 0.3  # the results are written
    assert notes == [f"when the flow survey summaries were last used is not kept ({store.file}: cannot write: permission denied)"]
