"""A class with no training video (an annotation or official split that trains none of it, or all of its training
videos unreadable) keeps its index, so every label stays right, and the run says it in a note: the model cannot
learn it, and its validation and test videos can only count as errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.training import TrainSettings, train
from training_helpers import small_settings, write_colour_dataset

NOTE = "class Green has no training video (none in the training part, or none readable): the model cannot learn it"


def test_a_class_the_split_trains_none_of_is_named_in_a_note(tmp_path: Path):
    write_colour_dataset(tmp_path / "clips", videos_per_class=3)
    videos = sorted((tmp_path / "clips").rglob("*.mp4"))
    rows = lambda vs: "label,path\n" + "".join(f"{v.parent.name},clips/{v.parent.name}/{v.name}\n" for v in vs)  # noqa: E731
    (tmp_path / "train.csv").write_text(rows([v for v in videos if v.parent.name != "Green" and not v.stem.endswith("_2")]))
    (tmp_path / "test.csv").write_text(rows([v for v in videos if v.parent.name == "Green" or v.stem.endswith("_2")]))
    lines: list[str] = []
    result = train(tmp_path, small_settings(epochs=1, val_fraction=0.0), tmp_path / "m.safetensors", log=lines.append)
    assert result.config.class_names == ("Blue", "Green", "Red")  # Red keeps index 2
    assert any(NOTE in note for note in result.notes)
    assert any(line.startswith("note: ") and NOTE in line for line in lines)


@pytest.mark.usefixtures("one_torch_thread")
def test_a_class_whose_training_videos_are_all_unreadable_is_named_in_a_note(tmp_path: Path):
    data = write_colour_dataset(tmp_path / "data", videos_per_class=4)
    for video in (data / "Green").glob("*.mp4"):
        video.write_bytes(b"not a video")
    settings = TrainSettings(model="convnet", tiny_width=8, input_size=32, flow_length=2, snippets=1, epochs=1, batch_size=8,
                             device="cpu", val_fraction=0.25, test_fraction=0.0)
    result = train(data, settings, tmp_path / "c.safetensors")
    assert len(result.skipped) == 4 and any(NOTE in note for note in result.notes)
