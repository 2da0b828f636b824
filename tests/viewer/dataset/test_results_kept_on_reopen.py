"""Predictions read from a results file stay on the rows of their videos when a dataset is opened again (the same
folder, or after another one): every reopening dropped them, and the table, accuracy and confusion matrix emptied
until the file was found and opened once more."""

from __future__ import annotations

from dataset_helpers import FAVOURED
from dataset_panel_helpers import finished, open_listed, record, write_results
from training_helpers import write_colour_dataset

SERVER = "/srv/gpu/datasets/synth"


def predictions(controller) -> dict[str, str]:  # noqa: ANN001
    return {r.relative: r.record.predicted for r in controller.rows if r.record is not None}


def test_reopening_a_dataset_keeps_the_predictions_read_from_a_results_file(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth, checkpoint, _root = data
    controller = window.dataset.controller
    messages: list[str] = []
    controller.finished.connect(lambda channel, message: messages.append(message) if channel == "dataset-results" else None)
    open_listed(qtbot, window, synth)
    results = write_results(tmp_path / "videos.jsonl", [
        record("RedBall/RedBall_0001.mp4", "RedBall", 0.9, root=SERVER,
               flow_noise={"max": 0.61, "mean": 0.2, "noisy_pairs": 4, "noisiest_pair": 3}),
        record("MoveLeft/MoveLeft_0002.mp4", FAVOURED, 0.5, root=SERVER),
        record("Recede/Recede_0009.mp4", FAVOURED, 0.6, root=SERVER),  # not in this dataset: a row of its own
    ], root=SERVER)
    controller.open_results(str(results))
    finished(qtbot, window, "dataset-results")
    assert len(controller.rows) == 31 and len(predictions(controller)) == 3
    kept = {"RedBall/RedBall_0001.mp4": "RedBall", "MoveLeft/MoveLeft_0002.mp4": FAVOURED}

    open_listed(qtbot, window, synth)  # the same folder again
    assert len(controller.rows) == 30  # the listing's rows: the file's own row is not added again
    assert predictions(controller) == kept
    assert next(r for r in controller.rows if r.relative == "RedBall/RedBall_0001.mp4").noise.max_noise == 0.61
    assert int(controller.confusion()[1].sum()) == 2
    assert messages[-1] == "2 of the 3 predictions read from videos.jsonl kept; not shown: 1 of videos this dataset does not list"
    assert window.dataset.panel.status.text() == messages[-1]

    open_listed(qtbot, window, write_colour_dataset(tmp_path / "colours", videos_per_class=1))  # another dataset
    assert predictions(controller) == {}
    assert messages[-1] == ("the 3 predictions read from videos.jsonl are not shown: none is of a video of this dataset "
                            "(they return when a dataset with their videos is opened)")
    open_listed(qtbot, window, synth)  # and back
    assert predictions(controller) == kept

    controller.evaluate(checkpoint)  # another model's predictions replace the file's: they are not carried any more
    finished(qtbot, window, "dataset-eval")
    evaluated = predictions(controller)
    assert evaluated and "RedBall/RedBall_0001.mp4" not in evaluated
    shown = len(messages)
    open_listed(qtbot, window, synth)
    assert predictions(controller) == evaluated and len(messages) == shown  # the evaluation's, from its cache: not the file's
