"""Per-video results: ``eval`` writes videos.jsonl beside metrics.json, and it reads back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main
from core.data.flow_noise import survey_video
from core.evaluation.video_results import RESULTS_NAME, VideoResultsError, read_video_results
from dataset_helpers import FAVOURED, synth_with_checkpoint


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("videoresults")
    synth, checkpoint = synth_with_checkpoint(root)
    out = root / "eval"
    with pytest.MonkeyPatch.context() as patch:  # the per-test cache folder does not exist yet: the survey's store goes here
        patch.setenv("TWOSTREAM_CACHE_DIR", str(root / "cache"))
        assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out), "--device", "cpu", "--json"]) == 0
    return synth, checkpoint, out


def test_eval_writes_one_line_per_test_video_matching_metrics(evaluated, capsys):
    synth, checkpoint, out = evaluated
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["files"]["videos"] == str(out / RESULTS_NAME)
    results = read_video_results(out / RESULTS_NAME)
    assert results.checkpoint == str(checkpoint) and Path(results.dataset) == synth.resolve()
    assert [r.video for r in results.records] == [v["video"] for v in metrics["videos"]]
    assert len(results.records) == 10
    for record, video in zip(results.records, metrics["videos"]):
        assert record.true == video["label"] == record.video.split("/")[0]
        assert record.predicted == video["predicted"] == FAVOURED
        assert record.confidence == pytest.approx(video["probability"], abs=1e-6)
        assert record.correct == (record.true == FAVOURED)
        assert record.top5[0] == (FAVOURED, pytest.approx(record.confidence)) and len(record.top5) == 5
        assert Path(record.path) == (synth / record.video).resolve() and Path(record.path).is_file()
        assert record.flow == {"method": "dis", "fell_back": False, "note": ""}
        assert record.flow_noise == survey_video(record.path, "dis", device="cpu").to_dict()  # eval surveyed every video
        assert record.flow_noise["pairs"] == 11  # 12 frames
        assert record.worst_frame == 4  # one clip a video: its first frame (4 frames centred in 12)
    assert results.header["flow_noise_method"] == "dis"
    assert sum(r.correct for r in results.records) == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda lines: ["{}"] + lines[1:], "line 1: not a per-video results file"),
        (lambda lines: lines[:2] + ["{not json"], "line 3: not valid JSON"),
        (lambda lines: lines[:1] + [lines[1].replace('"confidence": 0.', '"confidence": 7')], "line 2: confidence must be a probability"),
        (lambda lines: lines[:1] + [lines[1].replace(f'"predicted": "{FAVOURED}"', '"predicted": "Juggle"')], "line 2: predicted class 'Juggle'"),
        (lambda lines: [], "is empty"),
        (lambda lines: lines[:1] + [lines[1].replace('"top5"', '"segment": [3, 1], "top5"')], r"line 2: segment must be \[start, end\]"),
    ],
)
def test_malformed_results_name_file_and_line(evaluated, tmp_path, edit, message):
    lines = (evaluated[2] / RESULTS_NAME).read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(edit(lines)))
    with pytest.raises(VideoResultsError, match=message) as err:
        read_video_results(bad)
    assert err.value.path == str(bad)


HEAD = '{"format": "twostream-video-results", "version": 1, "class_names": ["a", "b"]}'
RECORD = '{"video": "a/v.mp4", "path": "/d/a/v.mp4", "true": "a", "predicted": "b", "confidence": %s}'


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD + "\n" + RECORD % ("1" + "0" * 400), "line 2: a number is too large"),  # float() overflowed
        (HEAD + "\n" + RECORD % ("1" + "0" * 5000), "line 2: not valid JSON"),  # Python's limit on an int's digits: ValueError
        (HEAD + "\n" + "[" * 100000, "line 2: not valid JSON"),
    ],
    ids=["400-digits", "5000-digits", "nested"],
)
def test_results_with_huge_numbers_or_deep_nesting_are_errors_naming_file_and_line(tmp_path, text, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text)
    with pytest.raises(VideoResultsError, match=message) as err:
        read_video_results(bad)
    assert err.value.path == str(bad)


def test_a_results_file_saved_again_with_a_byte_order_mark_reads(tmp_path):
    """A Windows editor saves UTF-8 with a BOM; the dataset files' readers accept it, so does this one."""
    path = tmp_path / "videos.jsonl"
    path.write_text("\ufeff" + HEAD + "\r\n" + RECORD % "0.5" + "\r\n", encoding="utf-8")
    assert [r.predicted for r in read_video_results(path).records] == ["b"]


def test_without_the_survey_flow_noise_comes_from_the_store_when_a_video_was_surveyed(evaluated, tmp_path):
    from core.data.flow_survey import FlowSurveyStore, default_survey_root, summarise_noise

    synth, checkpoint, _out = evaluated
    surveyed = next(r for r in read_video_results(_out / RESULTS_NAME).records)
    store = FlowSurveyStore(default_survey_root(), "dis")  # the checkpoint's flow method
    summary = summarise_noise([0.1, 0.6, float("nan"), 0.4])
    store.put(surveyed.path, summary)
    store.save()
    out = tmp_path / "again"
    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out), "--device", "cpu",
                      "--no-flow-survey"]) == 0
    records = {r.video: r for r in read_video_results(out / RESULTS_NAME).records}
    assert records[surveyed.video].flow_noise == {"pairs": 4, "max_noise": 0.6, "mean_noise": pytest.approx(1.1 / 3),
                                                  "noisy_pairs": 2, "noisiest_pair": 1}
    assert all(r.flow_noise is None for v, r in records.items() if v != surveyed.video)


def test_ctrl_c_in_the_flow_survey_writes_no_file_and_keeps_what_was_surveyed(evaluated, tmp_path, monkeypatch, capsys):
    from core.data import flow_noise
    from core.data.flow_survey import FlowSurveyStore, default_survey_root

    synth, checkpoint, _out = evaluated
    surveyed = []
    real = flow_noise.survey_video

    def interrupt_on_second_video(path, *args, **kwargs):  # noqa: ANN001
        if surveyed:
            raise KeyboardInterrupt
        surveyed.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(flow_noise, "survey_video", interrupt_on_second_video)
    out = tmp_path / "out"
    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out), "--device", "cpu"]) == 130
    assert "interrupted" in capsys.readouterr().err and not out.exists()
    assert FlowSurveyStore(default_survey_root(), "dis").get(surveyed[0]) is not None  # a rerun starts after it
