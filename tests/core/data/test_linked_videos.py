"""Links in a dataset: a symbolic or hard link to a video is that video, one sample, never a second one
that a split could put in another part (train on the file, test on its link).  Every layout is read
this way; an annotated segment of a file is still a sample of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data import discover_dataset, make_split
from core.errors import DatasetError
from test_splits import ucf101


def touch(path: Path) -> Path:
    """An empty placeholder video: listing and splitting never decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def linked_classes(root: Path, clips: int = 10) -> Path:
    """``Approach/a00..a09.mp4``, ``Recede/r00..r09.mp4`` and ``Recede/dup00..dup09.mp4``: relative links
    to the Approach videos, as a researcher building a dataset by hand makes them."""
    for i in range(clips):
        touch(root / "Approach" / f"a{i:02d}.mp4")
        touch(root / "Recede" / f"r{i:02d}.mp4")
        link(root / "Recede" / f"dup{i:02d}.mp4", f"../Approach/a{i:02d}.mp4")
    return root


def test_a_link_to_another_classs_video_is_left_out_and_said(tmp_path: Path):
    dataset = discover_dataset(linked_classes(tmp_path))
    names = [dataset.relative(s) for s in dataset.samples]
    assert names == [f"Approach/a{i:02d}.mp4" for i in range(10)] + [f"Recede/r{i:02d}.mp4" for i in range(10)]
    assert dataset.counts() == {"Approach": 10, "Recede": 10}
    assert dataset.notes[0].startswith("10 videos are the same file as another video (a link to it) and are left out")
    assert "Recede/dup00.mp4 (same file as Approach/a00.mp4)" in dataset.notes[0] and "and 5 more" in dataset.notes[0]
    assert dataset.notes[1].startswith("10 of the videos left out as the same file are under another class")
    assert "label is ambiguous: Recede/dup00.mp4 (Recede; kept as Approach)" in dataset.notes[1]
    assert dataset.left_out_as("Recede/dup03.mp4") == "Approach/a03.mp4" and dataset.left_out_as("Recede/r03.mp4") is None


@pytest.mark.parametrize("seed", range(4))
def test_no_split_puts_one_file_in_two_parts(tmp_path: Path, seed: int):
    dataset = discover_dataset(linked_classes(tmp_path))
    split = make_split(dataset, scheme="stratified", seed=seed, test_fraction=0.3, val_fraction=0.2)
    files = {name: [os.path.realpath(s.path) for s in part] for name, part in split.parts().items()}
    every = [f for part in files.values() for f in part]
    assert len(every) == len(set(every)) == 20
    assert any("are the same file as another video" in note for note in split.notes)  # train, eval and the viewer print these


def test_the_video_itself_is_kept_rather_than_a_link_to_it_sorted_first(tmp_path: Path):
    touch(tmp_path / "Zoom" / "z.mp4")
    touch(tmp_path / "Zoom" / "y.mp4")
    link(tmp_path / "Approach" / "linked.mp4", "../Zoom/z.mp4")
    touch(tmp_path / "Approach" / "a.mp4")
    dataset = discover_dataset(tmp_path)
    assert [dataset.relative(s) for s in dataset.samples] == ["Approach/a.mp4", "Zoom/y.mp4", "Zoom/z.mp4"]
    assert dataset.same_files == (("Approach/linked.mp4", "Zoom/z.mp4"),)
    assert "Approach/linked.mp4 (Approach; kept as Zoom)" in dataset.notes[1]


def test_a_hard_link_in_the_same_class_is_one_video_without_an_ambiguous_label(tmp_path: Path):
    touch(tmp_path / "walk" / "a.mp4")
    touch(tmp_path / "walk" / "b.mp4")
    os.link(tmp_path / "walk" / "a.mp4", tmp_path / "walk" / "a_copy.mp4")
    touch(tmp_path / "run" / "r.mp4")
    dataset = discover_dataset(tmp_path)
    assert [dataset.relative(s) for s in dataset.samples] == ["run/r.mp4", "walk/a.mp4", "walk/b.mp4"]
    assert dataset.notes == ("1 videos are the same file as another video (a link to it) and are left out, so that no file is two "
                             "samples: walk/a_copy.mp4 (same file as walk/a.mp4)",)


def test_links_to_distinct_files_and_equal_copies_are_all_videos(tmp_path: Path):
    """A dataset built of links into a pool of videos is common: each link is a video of its own."""
    for name in ("p1", "p2", "p3"):
        touch(tmp_path / "pool" / f"{name}.mp4")
    link(tmp_path / "ds" / "walk" / "w1.mp4", str(tmp_path / "pool" / "p1.mp4"))
    link(tmp_path / "ds" / "walk" / "w2.mp4", "../../pool/p2.mp4")
    link(tmp_path / "ds" / "run" / "r1.mp4", str(tmp_path / "pool" / "p3.mp4"))
    touch(tmp_path / "ds" / "run" / "r2.mp4")  # the same (empty) bytes as every other: a copy is not a link
    dataset = discover_dataset(tmp_path / "ds")
    assert len(dataset) == 4 and dataset.notes == () and dataset.same_files == ()


def test_dangling_and_duplicate_links_are_both_said(tmp_path: Path):
    touch(tmp_path / "a" / "a1.mp4")
    touch(tmp_path / "b" / "b1.mp4")
    link(tmp_path / "b" / "gone.mp4", "../moved.mp4")
    link(tmp_path / "b" / "again.mp4", "b1.mp4")
    dataset = discover_dataset(tmp_path)
    assert len(dataset) == 2
    assert dataset.notes[0] == "1 videos are links to missing files and are left out: b/gone.mp4"
    assert dataset.notes[1].endswith("b/again.mp4 (same file as b/b1.mp4)")


def test_an_official_list_naming_a_left_out_link_names_the_line_and_the_video_kept(tmp_path: Path):
    root = ucf101(tmp_path)
    link(root / "ApplyLipstick" / "v_ApplyLipstick_g09_c01.avi", "../ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi")
    train_list = tmp_path / "ucfTrainTestlist" / "trainlist01.txt"
    train_list.write_bytes(train_list.read_bytes() + b"ApplyLipstick/v_ApplyLipstick_g09_c01.avi 2\r\n")
    dataset = discover_dataset(root)
    with pytest.raises(DatasetError, match=r"trainlist01.txt: line \d+ names ApplyLipstick/v_ApplyLipstick_g09_c01.avi, which is the "
                                           r"same file as ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi \(a link to it\)"):
        make_split(dataset)


HEADER = "label,youtube_id,time_start,time_end,split\n"


def test_kinetics_rows_whose_videos_are_one_file_are_one_sample(tmp_path: Path):
    (tmp_path / "train.csv").write_text(HEADER + "abseiling,aaa,0,10,train\nzumba,zzz,0,10,train\n")
    (tmp_path / "val.csv").write_text(HEADER + "abseiling,vvv,0,10,val\n")
    touch(tmp_path / "videos" / "aaa_000000_000010.mp4")
    touch(tmp_path / "videos" / "zzz_000000_000010.mp4")
    link(tmp_path / "videos" / "vvv_000000_000010.mp4", "aaa_000000_000010.mp4")  # the val row is the train row's file
    dataset = discover_dataset(tmp_path)
    assert [(dataset.relative(s), s.part) for s in dataset.samples] == [("videos/aaa_000000_000010.mp4", "train"),
                                                                            ("videos/zzz_000000_000010.mp4", "train")]
    assert dataset.notes == ("1 videos are the same file as another video (a link to it) and are left out, so that no file is two "
                             "samples: videos/vvv_000000_000010.mp4 (same file as videos/aaa_000000_000010.mp4)",)


def test_kinetics_segments_of_one_linked_file_stay_separate_samples(tmp_path: Path):
    """Two annotated stretches of one untrimmed video are two samples, found through links or not."""
    (tmp_path / "train.csv").write_text(HEADER + "abseiling,aaa,0,10,train\nzumba,bbb,30,40,train\n")
    touch(tmp_path / "videos" / "aaa.mp4")
    link(tmp_path / "videos" / "bbb.mp4", "aaa.mp4")
    dataset = discover_dataset(tmp_path)
    assert [(s.path.name, s.segment) for s in dataset.samples] == [("aaa.mp4", (0.0, 10.0)), ("bbb.mp4", (30.0, 40.0))]
    assert not any("same file" in note for note in dataset.notes)
