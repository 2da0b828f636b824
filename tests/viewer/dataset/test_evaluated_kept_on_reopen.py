"""Predictions the panel scored itself come back when the dataset is listed again, in this window or a new one with the
same model chosen, from the record cache and without the model: a reopening showed none of them, although every one
sat in the cache keyed by checkpoint and video.  A video edited since, or another model, gets none."""

from __future__ import annotations

import os

from dataset_helpers import biased_checkpoint
from dataset_panel_helpers import WAIT_MS, finished, open_listed
from viewer.main_window import MainWindow


def shown(controller) -> dict[str, tuple[str, float, str]]:  # noqa: ANN001
    """Each scored row's prediction, confidence and split."""
    return {r.relative: (r.record.predicted, round(r.record.confidence, 6), r.split) for r in controller.rows if r.record is not None}


def test_a_reopened_dataset_shows_the_predictions_scored_before_without_scoring(qtbot, window, data, monkeypatch):  # noqa: ANN001
    import core.evaluation.panel_scoring as scoring
    import core.models.checkpoint as checkpoints

    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="test")
    assert finished(qtbot, window, "dataset-eval").startswith("evaluated 10 videos")
    scored = shown(controller)
    assert len(scored) == 10 and {split for _p, _c, split in scored.values()} == {"test"}
    opened, rescored = [], []
    real_open, real_score = checkpoints.open_classifier, scoring.score_video
    monkeypatch.setattr(checkpoints, "open_classifier", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    monkeypatch.setattr(scoring, "score_video", lambda *a, **k: rescored.append(a[2]) or real_score(*a, **k))
    messages: list[str] = []
    controller.finished.connect(lambda channel, message: messages.append(message) if channel == "dataset-eval" else None)

    open_listed(qtbot, window, synth)  # the same folder again
    assert shown(controller) == scored  # the Split column as the checkpoint records it, as after the evaluation
    assert int(controller.confusion()[1].sum()) == 10
    assert messages[-1] == "10 predictions of biased.safetensors from its earlier evaluations (Evaluate scores the rest)"

    second = MainWindow(show_dialogs=False, checkpoint=checkpoint)  # a new session, the same model chosen
    qtbot.addWidget(second)
    second.show()
    try:
        open_listed(qtbot, second, synth)
        assert shown(second.dataset.controller) == scored
    finally:
        second.close()
    assert opened == [] and rescored == []  # all from the cache: no model, no scoring

    edited = next(r for r in controller.rows if r.record is not None)
    stat = os.stat(edited.path)
    os.utime(edited.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: its record is stale
    open_listed(qtbot, window, synth)
    assert shown(controller) == {name: value for name, value in scored.items() if name != edited.relative}
    assert messages[-1] == "9 predictions of biased.safetensors from its earlier evaluations (Evaluate scores the rest)"
    controller.evaluate(checkpoint, part="test")
    finished(qtbot, window, "dataset-eval")
    assert rescored == [edited.relative] and shown(controller) == scored


def test_another_models_cache_is_not_shown(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="all")
    finished(qtbot, window, "dataset-eval")
    other = biased_checkpoint(tmp_path / "other.safetensors", favoured="RedBall")  # never evaluated
    with qtbot.waitSignal(controller.listed, timeout=WAIT_MS):
        controller.open_dataset(str(synth), checkpoint=str(other))
    assert shown(controller) == {}
    with qtbot.waitSignal(controller.listed, timeout=WAIT_MS):
        controller.open_dataset(str(synth))  # no model chosen
    assert shown(controller) == {}


def test_predictions_scored_on_another_device_are_not_shown(qtbot, window, data, monkeypatch):  # noqa: ANN001
    """The cache was keyed by the checkpoint and its flow alone: with the Classification panel on a GPU (half precision),
    a reopened dataset showed the predictions scored on the CPU in float32 as that GPU's."""
    import torch

    synth, checkpoint, _root = data
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="test", device="cpu")
    finished(qtbot, window, "dataset-eval")
    scored = shown(controller)
    assert len(scored) == 10
    with monkeypatch.context() as gpu:  # a machine with a CUDA card chosen (only listed: no model runs)
        gpu.setattr(torch.cuda, "is_available", lambda: True)
        gpu.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
        gpu.setattr(window.classify, "device", "cuda")
        open_listed(qtbot, window, synth)
        assert shown(controller) == {}
    open_listed(qtbot, window, synth)  # the CPU again: its own predictions
    assert shown(controller) == scored
