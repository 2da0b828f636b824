"""The table holds one model's predictions: a results file of another model, opened while an evaluation runs, is not
mixed with the evaluation's records as they keep arriving."""

from __future__ import annotations

import threading
from pathlib import Path

from core.evaluation.video_results import VideoRecord
from dataset_helpers import FAVOURED
from dataset_panel_helpers import finished, open_listed, record, write_results

SERVER = "/srv/gpu/datasets/synth"


def test_a_results_file_opened_during_an_evaluation_of_another_model_stops_it(qtbot, window, data, tmp_path, monkeypatch):  # noqa: ANN001
    import core.evaluation.panel_scoring as scoring

    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    first_scored, release = threading.Event(), threading.Event()

    def score_videos(classifier, videos, cache, *, clips=3, cancel=None, progress=None):  # noqa: ANN001, ANN202
        records = []
        for i, (path, relative, true, segment) in enumerate(videos):
            if i == 1:
                first_scored.set()
                release.wait(10)  # the results file is opened meanwhile
            scored = VideoRecord(relative, str(Path(path).resolve()), true, "Evaluated", 0.9, (("Evaluated", 0.9),), segment=segment)
            records.append(scored)
            progress(i + 1, len(videos), "", partial=scored)
        return records, []

    monkeypatch.setattr(scoring, "score_videos", score_videos)
    window.dataset.evaluate("test")
    assert first_scored.wait(30)
    qtbot.waitUntil(lambda: any(r.record is not None for r in controller.rows), timeout=10000)
    results = write_results(tmp_path / "videos.jsonl", [record("RedBall/RedBall_0001.mp4", FAVOURED, 0.7, root=SERVER)], root=SERVER)
    controller.open_results(str(results))  # another model's predictions (the server's checkpoint)
    finished(qtbot, window, "dataset-results")
    release.set()
    qtbot.waitUntil(lambda: not window.jobs.is_busy("dataset-eval"), timeout=30000)
    qtbot.wait(100)  # any record the evaluation still handed over is in
    predicted = {r.relative: r.record.predicted for r in controller.rows if r.record is not None}
    assert predicted == {"RedBall/RedBall_0001.mp4": FAVOURED}, predicted  # the file's model only
    assert controller.confusion()[0] == sorted({"RedBall", FAVOURED}, key=[*controller.classes].index)
    assert window.dataset.panel.status.text() == f"evaluation with {Path(checkpoint).name} stopped: the table holds another model's predictions now"
