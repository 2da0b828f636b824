"""A dataset reopened while its evaluation runs shows every record the evaluation finished before: the records are
saved every 20 s, and the reopened listing read the file alone, so the records of the last seconds were missing."""

from __future__ import annotations

import math
import threading

from dataset_panel_helpers import WAIT_MS, finished, open_listed


def test_a_dataset_reopened_mid_evaluation_shows_the_records_finished_before(qtbot, window, data, monkeypatch):  # noqa: ANN001
    import core.evaluation.panel_scoring as scoring

    synth, checkpoint, _root = data
    controller = window.dataset.controller
    monkeypatch.setattr(scoring, "SAVE_EVERY_S", math.inf)  # the last save lies further back than this run
    started, third, release = [], threading.Event(), threading.Event()
    real = scoring.score_video

    def held_at_the_third(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started.append(args[2])  # the video's relative path
        if len(started) == 3:
            third.set()
            assert release.wait(WAIT_MS / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "score_video", held_at_the_third)
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="test")
    try:
        qtbot.waitUntil(third.is_set, timeout=WAIT_MS)  # two records finished, the third being scored
        open_listed(qtbot, window, synth)  # stops the evaluation; its worker is still at the third video
        assert sorted(r.relative for r in controller.rows if r.record is not None) == sorted(started[:2])
    finally:
        release.set()
    assert finished(qtbot, window, "dataset-eval") == "evaluation cancelled: results so far are kept"
