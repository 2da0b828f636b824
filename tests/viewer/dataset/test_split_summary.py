"""The summary line names the split the Split column shows and counts what the split filter shows.

A checkpoint trained on another copy of a dataset records a split with the same words as the folder's own
("stratified split, seed 0: test 0.2, validation 0.1") but other videos in each part; after Evaluate the Split column
followed the checkpoint's split while the line still gave the folder's sizes: "10 test" above a "test" filter that
showed 9 rows.
"""

from __future__ import annotations

from core.data import discover_dataset, make_split
from core.training.result import EXTRA_SETTINGS, EXTRA_SPLIT
from core.training.settings import TrainSettings
from dataset_helpers import biased_checkpoint
from dataset_panel_helpers import WAIT_MS, finished, open_listed
from viewer.dataset.split_summary import part_sizes

OWN = "stratified split, seed 0: test 0.2, validation 0.1"  # the folder's own split: 10 train, 10 val, 10 test


def shown_per_part(window) -> dict[str, int]:  # noqa: ANN001
    """The rows the table shows with the split box at each part, as a user counts them."""
    panel, counts = window.dataset.panel, {}
    for part in ("train", "val", "test"):
        panel.split_box.setCurrentIndex(panel.split_box.findData(part))
        counts[part] = window.dataset.controller.proxy.rowCount()
    panel.split_box.setCurrentIndex(0)
    return counts


def test_the_summary_names_the_split_the_column_shows_and_counts_what_the_filter_shows(qtbot, window, data, tmp_path):  # noqa: ANN001
    synth = data[0]
    dataset = discover_dataset(synth)
    recorded = make_split(dataset).to_dict(dataset)  # the same settings and words, one test video trained on elsewhere
    recorded["train"].append(recorded["test"].pop(0))
    checkpoint = biased_checkpoint(tmp_path / "elsewhere.safetensors",
                                   extra={EXTRA_SETTINGS: TrainSettings().to_dict(), EXTRA_SPLIT: recorded})
    summary = window.dataset.panel.summary

    open_listed(qtbot, window, synth)
    assert summary.text() == f"30 videos, 10 classes (folders); Split column: the dataset's own split ({OWN}): 10 train, 10 val, 10 test"
    assert shown_per_part(window) == {"train": 10, "val": 10, "test": 10}

    window.dataset.controller.evaluate(checkpoint, part="test")
    assert finished(qtbot, window, "dataset-eval").startswith("evaluated 9 videos with elsewhere.safetensors")
    assert shown_per_part(window) == {"train": 11, "val": 10, "test": 9}
    assert summary.text() == (f"30 videos, 10 classes (folders); Split column: the split recorded in elsewhere.safetensors ({OWN}): "
                              "11 train, 10 val, 9 test, as Evaluate and eval use it; the dataset's own split: 10 train, 10 val, 10 test")
    assert {r.relative for r in window.dataset.controller.rows if r.record is not None} == set(recorded["test"])

    # listed again with the checkpoint chosen: its predictions and its split come back, and the line says so
    controller = window.dataset.controller
    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS, check_params_cb=lambda channel, _m: channel == "dataset-eval") as told:
        controller.open_dataset(str(synth), checkpoint=checkpoint)  # tells of the cached predictions once listed
    assert told.args[1].startswith("9 predictions of elsewhere.safetensors")
    assert shown_per_part(window) == {"train": 11, "val": 10, "test": 9}
    assert "Split column: the split recorded in elsewhere.safetensors" in summary.text() and "11 train, 10 val, 9 test" in summary.text()


def test_rows_in_no_part_are_counted_apart() -> None:
    """An official split's unused videos, or videos a checkpoint's split does not list, show under "all splits" only."""
    assert part_sizes(["train", "test", "", "test", ""]) == "1 train, 0 val, 2 test, 2 in no part"
    assert part_sizes(["val"]) == "0 train, 1 val, 0 test"
