"""The panel's evaluation scores what ``eval`` scores (the checkpoint's recorded split, not the dataset's
default one), answers a second look from its cache without loading the model, and rescores an edited video."""

from __future__ import annotations

import os

import main
from core.data import discover_dataset, make_split
from core.evaluation.video_results import RESULTS_NAME, read_video_results
from core.training.result import EXTRA_SETTINGS, EXTRA_SPLIT
from core.training.settings import TrainSettings
from dataset_helpers import biased_checkpoint
from dataset_panel_helpers import finished, open_listed

SPLIT = dict(seed=9, test_fraction=0.5, val_fraction=0.2)  # not make_split's defaults (seed 0, 0.2, 0.1)


def test_the_test_part_is_the_split_recorded_in_the_checkpoint_as_eval_scores_it(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, _checkpoint, _root = data
    dataset = discover_dataset(synth)
    split = make_split(dataset, **SPLIT)
    recorded = {dataset.relative(s) for s in split.parts()["test"]}
    trained = {dataset.relative(s) for s in split.parts()["train"]}
    default = {dataset.relative(s) for s in make_split(dataset).parts()["test"]}
    assert recorded != default and len(recorded) == 20
    checkpoint = biased_checkpoint(tmp_path / "resplit.safetensors",
                                   extra={EXTRA_SETTINGS: TrainSettings(**SPLIT).to_dict(), EXTRA_SPLIT: split.to_dict(dataset)})
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="test")
    message = finished(qtbot, window, "dataset-eval")
    assert message.startswith("evaluated 20 videos with resplit.safetensors") and "the split recorded in the checkpoint" in message
    scored = {r.relative for r in controller.rows if r.record is not None}
    assert scored == recorded
    # the Split column now tells the checkpoint's parts, so the split filter shows what was scored
    assert {r.relative for r in controller.rows if r.split == "test"} == recorded
    assert {r.relative for r in controller.rows if r.split == "train"} == trained

    out = tmp_path / "eval-out"
    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out), "--device", "cpu"]) == 0
    assert {r.video for r in read_video_results(out / RESULTS_NAME).records} == scored  # the command line scores the same videos


def test_a_second_look_comes_from_the_cache_without_the_model_and_an_edited_video_is_rescored(qtbot, window, data, monkeypatch):  # noqa: ANN001
    import core.evaluation.panel_scoring as scoring
    import core.models.checkpoint as checkpoints

    synth, checkpoint, _root = data
    controller = window.dataset.controller
    opened, scored = [], []
    real_open, real_score = checkpoints.open_classifier, scoring.score_video
    monkeypatch.setattr(checkpoints, "open_classifier", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    monkeypatch.setattr(scoring, "score_video", lambda *a, **k: scored.append(a[2]) or real_score(*a, **k))
    open_listed(qtbot, window, synth)
    controller.evaluate(checkpoint, part="test")
    assert finished(qtbot, window, "dataset-eval").startswith("evaluated 10 videos")
    assert len(opened) == 1 and len(scored) == 10
    first = {r.relative: (r.record.predicted, round(r.record.confidence, 5), r.record.worst_frame) for r in controller.rows if r.record}

    opened.clear(), scored.clear()
    for row in controller.rows:
        row.record = None
    controller.evaluate(checkpoint, part="test")
    message = finished(qtbot, window, "dataset-eval")
    assert message.startswith("evaluated 10 videos") and "all from the cache" in message
    assert opened == [] and scored == []  # the model was never constructed
    assert {r.relative: (r.record.predicted, round(r.record.confidence, 5), r.record.worst_frame) for r in controller.rows if r.record} == first

    edited = next(r for r in controller.rows if r.record is not None)
    stat = os.stat(edited.path)
    os.utime(edited.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: a new video as far as the cache knows
    controller.evaluate(checkpoint, part="test")
    message = finished(qtbot, window, "dataset-eval")
    assert message.startswith("evaluated 10 videos") and "all from the cache" not in message
    assert len(opened) == 1 and scored == [edited.relative]


def test_another_models_evaluation_replaces_the_predictions_shown(qtbot, window, data, tmp_path):  # noqa: ANN001
    """Every video scored by model A, then the test part by model B: the table, per-class accuracy and confusion
    matrix hold B's predictions only (A's stayed on the rows B did not score, counted as one model's)."""
    from core.synth import CLASS_NAMES

    synth, model_a, _root = data
    other = next(c for c in CLASS_NAMES if c != "Approach")
    model_b = biased_checkpoint(tmp_path / "b.safetensors", favoured=other, extra=_recorded_split(synth))
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.evaluate(model_a, part="all")
    assert finished(qtbot, window, "dataset-eval").startswith(f"evaluated {len(controller.rows)} videos")
    controller.evaluate(model_b, part="test")
    message = finished(qtbot, window, "dataset-eval")
    scored = [r for r in controller.rows if r.record is not None]
    assert message.startswith(f"evaluated {len(scored)} videos with b.safetensors") and 0 < len(scored) < len(controller.rows)
    assert {r.record.predicted for r in scored} == {other}
    assert controller.confusion()[1].sum() == len(scored) == sum(n for _name, _share, n in controller.per_class_accuracy())
    controller.evaluate(model_a, part="all")  # back to A: its predictions again, every row (from its cache)
    finished(qtbot, window, "dataset-eval")
    assert all(r.record is not None and r.record.predicted == "Approach" for r in controller.rows)


def _recorded_split(synth) -> dict:  # noqa: ANN001
    dataset = discover_dataset(synth)
    split = make_split(dataset, **SPLIT)
    return {EXTRA_SETTINGS: TrainSettings(**SPLIT).to_dict(), EXTRA_SPLIT: split.to_dict(dataset)}
