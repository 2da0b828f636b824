"""The flow survey without Qt (core.data.flow_noise), which ``eval`` runs for videos.jsonl: its summary
equals the one the viewer's Scan flow stores for the same video and method, each computed from an
empty flow cache; it resumes through the survey store, lists unreadable videos and stops when cancelled."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data import flow_noise
from core.data.flow_survey import FlowSurveyStore, default_survey_root
from core.errors import Cancelled
from core.progress import CancelToken
from core.synth.writer import write_mp4


def textured_video(path: Path, frames: int, height: int, width: int, seed: int = 0) -> Path:
    """A drifting texture with a burst of noise in a few frames, so pairs differ in noise."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (height + frames * 2, width + frames * 2, 3)).astype(np.float32), (0, 0), 3)
    clip = np.stack([base[2 * t:2 * t + height, t:t + width] for t in range(frames)])
    clip[frames // 2] = rng.uniform(0, 255, clip[0].shape)  # a broken frame: both its pairs are noisy
    write_mp4(path, np.clip(clip, 0, 255).astype(np.uint8))
    return path


def viewer_survey(path: Path, method: str) -> object:
    """What the dataset panel's Scan flow stores for ``path`` (the viewer's own job, run in this thread)."""
    from viewer.dataset.flow_survey_job import survey_rows
    from viewer.dataset.rows import Row

    handed: list = []
    surveyed = survey_rows([Row(path, path.name, "x", "test")], method, "cpu", CancelToken(),
                           lambda done, total, message="", partial=None: handed.append(partial))
    assert surveyed.surveyed == 1 and not surveyed.unreadable
    summary = handed[-1][2]
    assert FlowSurveyStore(default_survey_root(), method).get(path) == summary
    return summary


@pytest.mark.parametrize("frames, height, width", [(12, 32, 48), (19, 482, 484)])  # one chunk; two chunks of downscaled frames
def test_summary_equals_the_viewer_surveys(tmp_path: Path, monkeypatch, frames, height, width):
    video = textured_video(tmp_path / "v.mp4", frames, height, width)
    monkeypatch.setenv("TWOSTREAM_CACHE_DIR", str(tmp_path / "viewer-cache"))
    expected = viewer_survey(video, "dis")
    monkeypatch.setenv("TWOSTREAM_CACHE_DIR", str(tmp_path / "eval-cache"))  # nothing cached: computed again from the frames
    summaries, failed = flow_noise.survey_videos([video], "dis", device="cpu")
    assert not failed and summaries == {video: expected}
    assert expected.pairs == frames - 1 and expected.noisy_pairs == 2  # the pairs into and out of the broken frame
    assert expected.noisiest_pair in (frames // 2 - 1, frames // 2)
    assert FlowSurveyStore(default_survey_root(), "dis").get(video) == expected  # kept for the viewer


def test_cancelled_survey_keeps_what_it_surveyed_and_a_rerun_opens_only_the_rest(tmp_path: Path, monkeypatch):
    videos = [textured_video(tmp_path / f"v{i}.mp4", 6, 24, 24, seed=i) for i in range(3)]
    token, seen = CancelToken(), []

    def progress(done, total, message=""):  # noqa: ANN001
        seen.append(done)
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        flow_noise.survey_videos(videos, "dis", device="cpu", cancel=token, progress=progress)
    store = FlowSurveyStore(default_survey_root(), "dis")  # read back from disk
    assert store.get(videos[0]) is not None and store.get(videos[1]) is None
    opened = []
    real = flow_noise.survey_video
    monkeypatch.setattr(flow_noise, "survey_video", lambda path, *a, **k: opened.append(path) or real(path, *a, **k))
    summaries, failed = flow_noise.survey_videos(videos, "dis", device="cpu")
    assert opened == videos[1:] and list(summaries) == videos and not failed
    assert summaries[videos[0]] == store.get(videos[0])


def test_an_unreadable_video_is_listed_and_the_rest_surveyed(tmp_path: Path):
    good = textured_video(tmp_path / "good.mp4", 6, 24, 24)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    summaries, failed = flow_noise.survey_videos([bad, good], "dis", device="cpu")
    assert list(summaries) == [good] and summaries[good].pairs == 5
    assert [path for path, _ in failed] == [bad] and failed[0][1]


@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,
    '{"videos": {"k": {"pairs": Infinity, "max_noise": 1, "mean_noise": 1, "noisy_pairs": 1, "noisiest_pair": 1}}}',
    '{"videos": {"k": {"pairs": 1, "max_noise": 1' + "0" * 400 + ', "mean_noise": 1, "noisy_pairs": 1, "noisiest_pair": 1}}}',
], ids=["nested", "infinity", "400-digits"])
def test_a_damaged_survey_store_is_surveyed_again_not_a_crash(tmp_path: Path, text: str) -> None:
    """The store is a cache: JSON nested too deep (RecursionError) or numbers no int or float holds (OverflowError)
    read as no entry."""
    (tmp_path / "flow-survey-dis.json").write_text(text)
    store = FlowSurveyStore(tmp_path, "dis")
    assert store._entries == {}
