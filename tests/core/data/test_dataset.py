"""Discovering a dataset: class folders of videos, class order, bad layouts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.data import VIDEO_EXTENSIONS, SkippedVideos, discover_dataset, read_class_index
from core.errors import DatasetError, VideoError


def make_tree(root: Path, layout: dict[str, list[str]]) -> Path:
    """Empty placeholder files: discovery and split parsing never decode."""
    for folder, files in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in files:
            (root / folder / name).write_bytes(b"")
    return root


def test_classes_sorted_samples_ordered_and_labelled(tmp_path: Path):
    make_tree(tmp_path, {"walk": ["b.avi", "a.mp4"], "Jump": ["x.mkv"], "run": ["r.webm", "s.MOV", "t.m4v"]})
    dataset = discover_dataset(tmp_path)
    assert dataset.classes == ("Jump", "run", "walk")  # plain sort, as UCF101's own index is
    assert [(dataset.relative(s), s.label_index, s.label_name) for s in dataset.samples] == [
        ("Jump/x.mkv", 0, "Jump"),
        ("run/r.webm", 1, "run"),
        ("run/s.MOV", 1, "run"),
        ("run/t.m4v", 1, "run"),
        ("walk/a.mp4", 2, "walk"),
        ("walk/b.avi", 2, "walk"),
    ]
    assert dataset.counts() == {"Jump": 1, "run": 3, "walk": 2}
    assert dataset.class_index_file is None and dataset.num_classes == 3 and len(dataset) == 6
    assert set(VIDEO_EXTENSIONS) == {".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v"}


def test_other_files_hidden_files_and_split_folders_are_not_videos(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "walk": ["a.avi", "notes.txt", "thumb.jpg", ".a.avi.x1.tmp.avi"],  # an interrupted atomic write
            "ucfTrainTestlist": ["trainlist01.txt"],
            "annotations": ["boxes.json", "readme.md"],
            ".cache": [],
        },
    )
    (tmp_path / "walk" / "sub").mkdir()
    dataset = discover_dataset(tmp_path)
    assert dataset.classes == ("walk",)
    assert [s.path.name for s in dataset.samples] == ["a.avi"]


def test_class_index_sets_the_order_one_based_with_crlf(tmp_path: Path):
    make_tree(tmp_path, {"ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01.avi"], "Archery": ["v_Archery_g01_c01.avi"], "YoYo": ["v_YoYo_g01_c01.avi"]})
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").write_bytes(b"1 YoYo\r\n2 ApplyEyeMakeup\r\n3 Archery\r\n")
    dataset = discover_dataset(tmp_path)
    assert dataset.classes == ("YoYo", "ApplyEyeMakeup", "Archery")
    assert {s.label_name: s.label_index for s in dataset.samples} == {"YoYo": 0, "ApplyEyeMakeup": 1, "Archery": 2}
    assert dataset.class_index_file == tmp_path / "ucfTrainTestlist" / "classInd.txt"


def test_class_index_beside_the_video_folder_as_ucf101_unpacks(tmp_path: Path):
    root = make_tree(tmp_path / "UCF-101", {"b": ["1.avi"], "a": ["2.avi"]})
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").write_text("1 b\n2 a\n")
    assert discover_dataset(root).classes == ("b", "a")
    other = tmp_path / "lists"
    other.mkdir()
    (other / "classInd.txt").write_text("1 a\n2 b\n")
    assert discover_dataset(root, split_dir=other).classes == ("a", "b")


def test_read_class_index_parses_ucf101s_format(tmp_path: Path):
    path = tmp_path / "classInd.txt"
    path.write_text("1 ApplyEyeMakeup\n2 ApplyLipstick\n3 Archery\n\n")
    assert read_class_index(path) == ("ApplyEyeMakeup", "ApplyLipstick", "Archery")


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 ApplyEyeMakeup\nArchery\n", "line 2: expected '<index> <class name>'"),
        ("1 ApplyEyeMakeup\nx Archery\n", "line 2: expected"),
        ("1 A\n1 B\n", "line 2: index 1 appears twice"),
        ("1 A\n2 A\n", "line 2: class 'A' appears twice"),
        ("1 A\n3 B\n", "indices must run 1..2"),
        ("0 A\n1 B\n", "indices must run 1..2"),
        ("\n\n", "lists no classes"),
    ],
)
def test_malformed_class_index_names_file_and_line(tmp_path: Path, text: str, message: str):
    make_tree(tmp_path, {"A": ["a.avi"], "B": ["b.avi"]})
    (tmp_path / "classInd.txt").write_text(text)
    with pytest.raises(DatasetError, match=message) as err:
        discover_dataset(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "classInd.txt") + ": ")
    assert "\n" not in str(err.value)


def test_class_index_and_folders_must_agree(tmp_path: Path):
    make_tree(tmp_path, {"A": ["a.avi"], "B": ["b.avi"]})
    (tmp_path / "classInd.txt").write_text("1 A\n2 B\n3 C\n")
    with pytest.raises(DatasetError, match="is listed in classInd.txt but does not exist") as err:
        discover_dataset(tmp_path)
    assert str(tmp_path / "C") in str(err.value)
    (tmp_path / "classInd.txt").write_text("1 A\n")
    with pytest.raises(DatasetError, match="holds videos but is not a class of"):
        discover_dataset(tmp_path)


def test_a_class_folder_named_with_other_case_than_class_ind_is_that_class_with_a_note(tmp_path: Path):
    """UCF101's classInd.txt says HandstandPushups where its videos say v_HandStandPushups_...: a copy whose folders
    are named from the videos stopped with "HandstandPushups: is listed in classInd.txt but does not exist"."""
    from core.data import make_split

    videos = make_tree(tmp_path / "UCF-101", {"ApplyEyeMakeup": [f"v_ApplyEyeMakeup_g0{g}_c01.avi" for g in (1, 8)],
                                              "HandStandPushups": [f"v_HandStandPushups_g0{g}_c01.avi" for g in (1, 8)]})
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n")
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                                          "HandstandPushups/v_HandStandPushups_g08_c01.avi 2\n")
    (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nHandstandPushups/v_HandStandPushups_g01_c01.avi\n")
    dataset = discover_dataset(videos)
    assert dataset.classes == ("ApplyEyeMakeup", "HandstandPushups")
    assert [(dataset.relative(s), s.label_index, s.label_name) for s in dataset.samples][2:] == [
        ("HandStandPushups/v_HandStandPushups_g01_c01.avi", 1, "HandstandPushups"),
        ("HandStandPushups/v_HandStandPushups_g08_c01.avi", 1, "HandstandPushups")]
    assert dataset.notes == ("1 classes of classInd.txt are folders named with other upper/lower case: "
                             "HandstandPushups is the folder HandStandPushups",)
    split = make_split(dataset, val_fraction=0.0)
    assert [dataset.relative(s) for s in split.test] == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
                                                         "HandStandPushups/v_HandStandPushups_g01_c01.avi"]
    make_tree(videos, {"HandstandPushups": ["v_HandstandPushups_g02_c01.avi"]})  # both spellings: the exact one is the class
    with pytest.raises(DatasetError, match="holds videos but is not a class of") as err:
        discover_dataset(videos)
    assert str(videos / "HandStandPushups") in str(err.value)


@pytest.mark.parametrize(
    "layout, bad, message",
    [
        ({"walk": ["a.avi"], "run": []}, "run", "class folder holds no videos"),
        ({"walk": ["a.avi"], "run": ["clip.flv", "clip.3gp"]}, "run", "class folder holds no videos"),
        ({"UCF-101/walk": ["a.avi"]}, "UCF-101", "is this folder the dataset root?"),
    ],
)
def test_a_class_folder_without_videos_is_named(tmp_path: Path, layout: dict, bad: str, message: str):
    make_tree(tmp_path, layout)
    with pytest.raises(DatasetError, match=message) as err:
        discover_dataset(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / bad}: ")


def test_missing_file_or_empty_root(tmp_path: Path):
    with pytest.raises(DatasetError, match="dataset folder does not exist"):
        discover_dataset(tmp_path / "nope")
    (tmp_path / "file.avi").write_bytes(b"")
    with pytest.raises(DatasetError, match="is not a folder"):
        discover_dataset(tmp_path / "file.avi")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no class folders of videos"):
        discover_dataset(empty)
    with pytest.raises(DatasetError, match="split folder does not exist"):
        make_tree(tmp_path / "d", {"a": ["x.avi"]})
        discover_dataset(tmp_path / "d", split_dir=tmp_path / "missing")


# ----------------------------------------------------------------------------- SkippedVideos


def test_skipped_videos_lists_each_file_once_in_order():
    skipped = SkippedVideos()
    assert not skipped and skipped.summary() == ""
    skipped.add("/d/b.avi", "cannot decode frame 12")
    skipped.add(Path("/d/a.avi"), ValueError("moov atom not found\n(truncated)"))
    skipped.add("/d/b.avi", "another epoch, same file")
    assert len(skipped) == 2 and "/d/a.avi" in skipped and Path("/d/b.avi") in skipped
    assert list(skipped) == [(Path("/d/b.avi"), "cannot decode frame 12"), (Path("/d/a.avi"), "moov atom not found (truncated)")]
    assert skipped.summary() == (
        "2 videos were skipped:\n  /d/b.avi: cannot decode frame 12\n  /d/a.avi: moov atom not found (truncated)"
    )
    assert skipped.to_list()[1] == {"path": "/d/a.avi", "reason": "moov atom not found (truncated)"}
    other = SkippedVideos()
    other.add("/d/c.avi", RuntimeError())
    skipped.extend(other)
    skipped.extend([("/d/d.avi", "empty file")])
    assert skipped.paths == (Path("/d/b.avi"), Path("/d/a.avi"), Path("/d/c.avi"), Path("/d/d.avi"))
    assert dict(skipped)[Path("/d/c.avi")] == "RuntimeError"


def test_an_error_that_names_its_file_is_listed_with_the_file_named_once():
    skipped = SkippedVideos()
    skipped.add("/d/e.avi", VideoError("file is empty", "/d/e.avi"))
    assert list(skipped) == [(Path("/d/e.avi"), "file is empty")]


def test_skipped_videos_is_safe_to_share_between_threads():
    skipped = SkippedVideos()

    def worker(k: int) -> None:
        for i in range(200):
            skipped.add(f"/v/{(k * 200 + i) % 500}.avi", f"worker {k}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(skipped) == 500
