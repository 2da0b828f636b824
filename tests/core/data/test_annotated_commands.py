"""``ablate`` and ``eval`` on the annotation layouts (a Kinetics-style CSV folder, a Something-Something
JSON folder), and ``--videos`` for annotations whose videos live in another folder: each run trains a
tiny model on the files' training list and tests it on their validation list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main
from core.evaluation.video_results import RESULTS_NAME, read_video_results
from core.models.checkpoint import read_checkpoint_info
from core.training import train
from core.training.result import EXTRA_SPLIT
from training_helpers import small_settings, write_colour_dataset

# small_settings on the command line (ablate adds the order-free RGB stream itself); one epoch.
TINY = ["--tiny-dim", "16", "--heads", "2", "--head-dim", "8", "--depth", "1", "--input-size", "32", "--clip-length", "8",
        "--epochs", "1", "--batch-size", "4", "--lr", "3e-3", "--val-fraction", "0", "--test-fraction", "0", "--device", "cpu"]


def colour_videos(folder: Path) -> list[Path]:
    """Three colour classes, three videos each; ``*_2`` are the validation list."""
    write_colour_dataset(folder, videos_per_class=3)
    return sorted(folder.rglob("*.mp4"))


def kinetics_csvs(annotations: Path, videos: list[Path], prefix: str) -> list[str]:
    """``train.csv`` and ``val.csv`` in ``annotations``, paths ``prefix<class>/<file>``; returns the validation videos' names."""
    annotations.mkdir(parents=True, exist_ok=True)
    rows = {part: [v for v in videos if v.stem.endswith("_2") == (part == "val")] for part in ("train", "val")}
    for part, chosen in rows.items():
        (annotations / f"{part}.csv").write_text("label,path\n" + "".join(f"{v.parent.name},{prefix}{v.parent.name}/{v.name}\n" for v in chosen))
    return sorted(v.name for v in rows["val"])


def something_something(root: Path) -> list[str]:
    """labels.json, train.json and validation.json beside ``videos/``; returns the validation ids."""
    videos = colour_videos(root / "videos")
    (root / "labels.json").write_text(json.dumps({"Blue": "0", "Green": "1", "Red": "2"}))
    items = [{"id": v.stem, "template": v.parent.name} for v in videos]
    (root / "train.json").write_text(json.dumps([i for i in items if not i["id"].endswith("_2")]))
    (root / "validation.json").write_text(json.dumps([i for i in items if i["id"].endswith("_2")]))
    return sorted(i["id"] for i in items if i["id"].endswith("_2"))


def ablate(data: Path, out: Path, *extra: str) -> dict:
    code = main.main(["ablate", str(data), *TINY, "--variants", "rgb,fusion", "--out", str(out), "--cache-dir", str(out.parent / "tokens"),
                      *extra])
    assert code == 0
    return json.loads((out / "ablation.json").read_text())


def names_tested_by(checkpoint: str | Path) -> list[str]:
    return sorted(Path(v).name for v in read_checkpoint_info(checkpoint).extra[EXTRA_SPLIT]["test"])


def test_ablate_on_a_kinetics_csv_folder_tests_every_variant_on_the_validation_list(tmp_path: Path, capsys):
    val = kinetics_csvs(tmp_path, colour_videos(tmp_path / "clips"), "clips/")
    result = ablate(tmp_path, tmp_path / "out")
    assert list(result["variants"]) == ["rgb", "fusion"] and result["class_names"] == ["Blue", "Green", "Red"]
    assert result["split"]["videos"] == 3 and result["split"]["train_videos"] == 6
    for entry in result["variants"].values():
        assert names_tested_by(entry["checkpoint"]) == val  # the CSVs' split, not a seeded one of the videos folder
        assert 0.0 <= entry["top1"] <= entry["top5"] <= 1.0


def test_ablate_on_a_something_something_folder_tests_every_variant_on_the_validation_list(tmp_path: Path, capsys):
    val = something_something(tmp_path)
    result = ablate(tmp_path, tmp_path / "out")
    assert list(result["variants"]) == ["rgb", "fusion"] and result["split"]["videos"] == 3
    for entry in result["variants"].values():
        assert names_tested_by(entry["checkpoint"]) == [f"{i}.mp4" for i in val]
        assert 0.0 <= entry["top1"] <= entry["top5"] <= 1.0


def test_eval_on_a_something_something_folder_scores_its_validation_list(tmp_path: Path, capsys):
    val = something_something(tmp_path)
    checkpoint = train(tmp_path, small_settings(epochs=1, val_fraction=0.0), tmp_path / "s.safetensors").checkpoint
    out = tmp_path / "eval"
    assert main.main(["eval", str(tmp_path), "--checkpoint", str(checkpoint), "--clips", "2", "--out", str(out), "--device", "cpu", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["test_set"]["source"] == "checkpoint" and sorted(Path(v["video"]).stem for v in metrics["videos"]) == val
    records = read_video_results(out / RESULTS_NAME).records
    assert sorted(Path(r.path).stem for r in records) == val
    assert all(r.flow_noise["pairs"] == 9 and r.worst_frame is not None for r in records)  # 10-frame videos, surveyed


def test_videos_option_finds_the_videos_of_annotations_kept_elsewhere(tmp_path: Path, capsys):
    val = kinetics_csvs(tmp_path / "annotations", colour_videos(tmp_path / "store"), "")
    annotations, store = tmp_path / "annotations", tmp_path / "store"
    checkpoint = tmp_path / "k.safetensors"
    args = ["train", str(annotations), "--videos", str(store), *TINY, "--out", str(checkpoint)]
    assert main.main(args) == 0
    assert names_tested_by(checkpoint) == val
    assert main.main(args) == 0 and "already finished" in capsys.readouterr().out  # the run resumes with the same --videos
    out = tmp_path / "eval"
    assert main.main(["eval", str(annotations), "--videos", str(store), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(out),
                      "--device", "cpu", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert sorted(Path(v["video"]).name for v in metrics["videos"]) == val
    assert all(Path(r.path).is_relative_to(store.resolve()) for r in read_video_results(out / RESULTS_NAME).records)
    # Without --videos the CSVs' paths lead nowhere.
    assert main.main(["eval", str(annotations), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "e2"), "--device", "cpu"]) == 2
    assert "none of the annotated videos is on disk" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "eval", "ablate"])
def test_a_bad_videos_folder_is_one_line_naming_it_and_exit_2(tmp_path: Path, capsys, command):
    kinetics_csvs(tmp_path / "annotations", [], "")
    missing = tmp_path / "nowhere"
    rest = {"train": ["--out", str(tmp_path / "x.safetensors")], "eval": ["--checkpoint", str(tmp_path / "x.safetensors")],
            "ablate": ["--out", str(tmp_path / "out")]}[command]
    assert main.main([command, str(tmp_path / "annotations"), "--videos", str(missing), *rest]) == 2
    assert capsys.readouterr().err == f"error: {missing}: videos folder does not exist or is not a folder\n"
    folders = write_colour_dataset(tmp_path / "folders", videos_per_class=1)
    assert main.main([command, str(folders), "--videos", str(tmp_path / "annotations"), *rest]) == 2
    assert "--videos is for an annotation file's videos" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "out").exists()


def test_train_and_eval_print_the_annotated_videos_that_are_not_on_disk(tmp_path: Path, capsys):
    kinetics_csvs(tmp_path, colour_videos(tmp_path / "clips"), "clips/")
    with (tmp_path / "val.csv").open("a") as rows:
        rows.write("Blue,clips/Blue/gone.mp4\n")
    checkpoint = tmp_path / "k.safetensors"
    assert main.main(["train", str(tmp_path), *TINY, "--out", str(checkpoint)]) == 0
    said = "note: 1 annotated videos are not on disk and are left out: clips/Blue/gone.mp4 (val.csv line 5)"
    assert said in capsys.readouterr().out
    assert main.main(["eval", str(tmp_path), "--checkpoint", str(checkpoint), "--clips", "1", "--out", str(tmp_path / "e"), "--device", "cpu"]) == 0
    assert said in capsys.readouterr().out
