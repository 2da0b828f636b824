"""Which videos an evaluation scores: every part says what reading the dataset left out, and
"seen in training" compares files, so a link to a trained video is caught under its other name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data import discover_dataset, make_split
from core.evaluation.test_set import PARTS, select_test_set
from core.training.result import EXTRA_SETTINGS, EXTRA_SPLIT

CLASSES = ("a", "b")


def touch(path: Path) -> Path:
    """An empty placeholder video: choosing a test set never decodes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def plain(root: Path, clips: int = 10) -> Path:
    for name in CLASSES:
        for i in range(clips):
            touch(root / name / f"{name}{i}.mp4")
    return root


def recorded(root: Path) -> dict:
    """A checkpoint's ``extra`` recording the default split of the folder as it is now."""
    dataset = discover_dataset(root)
    return {EXTRA_SPLIT: make_split(dataset, seed=0).to_dict(dataset), EXTRA_SETTINGS: {"seed": 0}}


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("how", ["checkpoint", "given", "default"])
def test_every_part_says_which_videos_are_links_to_missing_files(tmp_path: Path, part: str, how: str):
    root = plain(tmp_path / "ds")
    extra = recorded(root) if how != "default" else {}
    os.symlink(tmp_path / "moved.mp4", root / "b" / "b9_link.mp4")
    dataset = discover_dataset(root)
    test_set = select_test_set(dataset, extra, part=part, scheme="stratified" if how == "given" else None)
    assert "1 videos are links to missing files and are left out: b/b9_link.mp4" in test_set.notes
    assert "1 videos are links to missing files" in test_set.to_dict()["notes"][-1]


def test_every_part_says_which_links_are_one_file(tmp_path: Path):
    root = plain(tmp_path / "ds")
    os.symlink("../a/a0.mp4", root / "b" / "b_dup.mp4")
    dataset = discover_dataset(root)
    for part in PARTS:
        notes = select_test_set(dataset, {}, part=part).notes
        assert any(n.endswith("so that no file is two samples: b/b_dup.mp4 (same file as a/a0.mp4)") for n in notes), part
        assert any("b/b_dup.mp4 (b; kept as a)" in n for n in notes), part


def test_a_given_split_catches_test_videos_trained_on_under_a_links_name(tmp_path: Path):
    """A checkpoint trained before links were one sample recorded the link; a split given now tests the file."""
    root = plain(tmp_path / "ds")
    dataset = discover_dataset(root)
    split = make_split(dataset, scheme="stratified", seed=1)
    tested = split.test[0]
    os.symlink(f"../{dataset.relative(tested)}", root / "b" / "zz_link.mp4")
    trained = [dataset.relative(s) for s in split.test[1:]] + ["b/zz_link.mp4"]
    extra = {EXTRA_SPLIT: {"train": trained, "val": [], "test": [dataset.relative(s) for s in split.train]}}
    test_set = select_test_set(discover_dataset(root), extra, scheme="stratified", seed=1)
    assert dataset.relative(tested) in test_set.seen_in_training
    assert len(test_set.seen_in_training) == len(split.test)


def test_a_recorded_test_link_is_scored_as_the_video_and_flagged_when_the_video_trained(tmp_path: Path):
    """An old checkpoint recorded a video in train and a link to it in test: eval scores the video once and says it trained on it."""
    root = plain(tmp_path / "ds", clips=3)
    os.symlink("../a/a0.mp4", root / "b" / "b_dup.mp4")
    extra = {EXTRA_SPLIT: {"train": ["a/a0.mp4", "a/a1.mp4", "b/b0.mp4", "b/b1.mp4"], "val": [],
                       "test": ["b/b_dup.mp4", "a/a2.mp4", "b/b2.mp4"]}}
    test_set = select_test_set(discover_dataset(root), extra)
    assert [s.path.relative_to(root).as_posix() for s in test_set.samples] == ["a/a0.mp4", "a/a2.mp4", "b/b2.mp4"]
    assert test_set.missing == () and test_set.seen_in_training == ("a/a0.mp4",)
