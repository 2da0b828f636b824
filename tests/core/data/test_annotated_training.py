"""train and eval read the annotation layouts through the one reader: a Kinetics-style CSV folder and a
Something-Something JSON folder train a model and evaluate it on their own validation list."""

from __future__ import annotations

import json
from pathlib import Path

import main
from core.models.checkpoint import read_checkpoint_info
from core.training import train
from core.training.result import EXTRA_SPLIT
from training_helpers import small_settings, write_colour_dataset


def colour_videos(root: Path) -> list[Path]:
    write_colour_dataset(root / "clips", videos_per_class=3)
    return sorted((root / "clips").rglob("*.mp4"))


def test_kinetics_csv_folder_trains_and_evaluates_on_its_validation_list(tmp_path: Path, capsys):
    videos = colour_videos(tmp_path)
    val = [v for v in videos if v.stem.endswith("_2")]
    (tmp_path / "train.csv").write_text("label,path\n" + "".join(f"{v.parent.name},clips/{v.parent.name}/{v.name}\n" for v in videos if v not in val))
    (tmp_path / "val.csv").write_text("label,path\n" + "".join(f"{v.parent.name},clips/{v.parent.name}/{v.name}\n" for v in val))
    result = train(tmp_path, small_settings(epochs=1, val_fraction=0.0), tmp_path / "k.safetensors")
    split = read_checkpoint_info(result.checkpoint).extra[EXTRA_SPLIT]
    assert split["scheme"] == "annotations" and sorted(split["test"]) == sorted(f"clips/{v.parent.name}/{v.name}" for v in val)  # as the CSV names them
    assert main.main(["eval", str(tmp_path), "--checkpoint", str(result.checkpoint), "--clips", "1", "--out", str(tmp_path / "e"),
                      "--device", "cpu", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["test_set"]["source"] == "checkpoint" and sorted(v["video"] for v in metrics["videos"]) == sorted(split["test"])


def test_something_something_folder_trains(tmp_path: Path):
    videos = colour_videos(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps({"Blue": "0", "Green": "1", "Red": "2"}))
    items = [{"id": v.stem, "template": v.parent.name} for v in videos]
    (tmp_path / "train.json").write_text(json.dumps([i for i in items if not i["id"].endswith("_2")]))
    (tmp_path / "validation.json").write_text(json.dumps([i for i in items if i["id"].endswith("_2")]))
    (tmp_path / "clips").rename(tmp_path / "videos")
    result = train(tmp_path, small_settings(epochs=1, val_fraction=0.0), tmp_path / "s.safetensors")
    assert result.split.scheme == "annotations" and len(result.split.train) == 6 and len(result.split.test) == 3
    assert result.config.class_names == ("Blue", "Green", "Red")
