"""Names as real copies spell them: spaces and other characters in split files, another Unicode form of the
same name, Something-Something's label list with its brackets, Kinetics CSVs written by other tools, and one
file name in two classes."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from core.data import discover_dataset, make_split
from core.errors import DatasetError
from core.evaluation.test_set import select_test_set


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def rel(dataset, part) -> list[str]:  # noqa: ANN001
    return sorted(dataset.relative(s) for s in part)


# ----------------------------------------------------------------------------- official split files


HMDB = {  # class -> (video, flag): names with spaces, brackets, quotes, '#', '&' and a non-ASCII letter
    "brush hair": [("my clip 01_brush_hair_u_nm_np1_ba_goo_0.avi", "1"), ("Café [HD] & co_brush_hair_u_nm_np1_fr_goo_0.avi", "2"),
                   ("#1 'best'_brush_hair_h_nm_np1_le_goo_0.avi", "0")],
    "cartwheel": [("Schlag die Bank!_cartwheel_f_cm_np1_le_med_0.avi", "2"), ("(Rad) x_cartwheel_f_cm_np1_ba_bad_8.avi", "1")],
}


def hmdb_with_spaces(tmp_path: Path) -> Path:
    root, splits = tmp_path / "hmdb51", tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for name, videos in HMDB.items():
        for video, _flag in videos:
            touch(root / name / video)
        (splits / f"{name}_test_split1.txt").write_text("".join(f"{v}\t{flag} \r\n" for v, flag in videos), encoding="utf-8")
    return root


def test_hmdb51_split_lines_whose_names_hold_spaces_are_read_as_one_name_and_its_flag(tmp_path: Path):
    dataset = discover_dataset(hmdb_with_spaces(tmp_path))
    split = make_split(dataset, val_fraction=0.0)
    assert split.scheme == "hmdb51"
    assert rel(dataset, split.train) == ["brush hair/my clip 01_brush_hair_u_nm_np1_ba_goo_0.avi", "cartwheel/(Rad) x_cartwheel_f_cm_np1_ba_bad_8.avi"]
    assert rel(dataset, split.test) == ["brush hair/Café [HD] & co_brush_hair_u_nm_np1_fr_goo_0.avi",
                                        "cartwheel/Schlag die Bank!_cartwheel_f_cm_np1_le_med_0.avi"]
    assert any("brush hair/#1 'best'_brush_hair_h_nm_np1_le_goo_0.avi" in note for note in split.notes)  # flag 0: in no part


def test_a_hmdb51_line_without_its_flag_is_still_an_error_naming_the_line(tmp_path: Path):
    root = hmdb_with_spaces(tmp_path)
    path = tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt"
    path.write_text("Schlag die Bank!_cartwheel_f_cm_np1_le_med_0.avi\n" + path.read_text())
    with pytest.raises(DatasetError, match="line 1: expected '<video>.avi <0|1|2>'"):
        make_split(discover_dataset(root))


def test_split_files_name_videos_in_another_unicode_form_than_the_disk(tmp_path: Path):
    """A copy unpacked on macOS spells 'é' as e + combining accent (NFD); the split files spell it as one letter."""
    root = hmdb_with_spaces(tmp_path)
    cafe = "Café [HD] & co_brush_hair_u_nm_np1_fr_goo_0.avi"
    (root / "brush hair" / cafe).rename(root / "brush hair" / unicodedata.normalize("NFD", cafe))
    dataset = discover_dataset(root)
    split = make_split(dataset, val_fraction=0.0)
    assert [s.path.name for s in split.test if s.label_name == "brush hair"] == [unicodedata.normalize("NFD", cafe)]


def test_ucf101_lists_whose_names_hold_spaces(tmp_path: Path):
    root, lists = tmp_path / "UCF", tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    for name in ("Apply Eye Makeup", "Archery"):
        for clip in ("g01 c01", "g02 c01", "g03 c01"):
            touch(root / name / f"v_{name} {clip}.avi")
    (lists / "classInd.txt").write_text("1 Apply Eye Makeup\n2 Archery\n")
    (lists / "trainlist01.txt").write_text("".join(f"{n}/v_{n} {c}.avi {i}\n" for i, n in ((1, "Apply Eye Makeup"), (2, "Archery"))
                                                   for c in ("g02 c01", "g03 c01")))
    (lists / "testlist01.txt").write_text("Apply Eye Makeup/v_Apply Eye Makeup g01 c01.avi\nArchery/v_Archery g01 c01.avi\n")
    dataset = discover_dataset(root)
    assert dataset.classes == ("Apply Eye Makeup", "Archery")
    split = make_split(dataset, val_fraction=0.0)
    assert split.scheme == "ucf101"
    assert rel(dataset, split.test) == ["Apply Eye Makeup/v_Apply Eye Makeup g01 c01.avi", "Archery/v_Archery g01 c01.avi"]
    assert len(split.train) == 4


# ----------------------------------------------------------------------------- Something-Something


def ssv2_folder(tmp_path: Path, labels: dict[str, str]) -> Path:
    (tmp_path / "labels.json").write_text(json.dumps(labels, indent=1))
    (tmp_path / "train.json").write_text(json.dumps([
        {"id": "1", "template": "Pushing [something] from left to right"},
        {"id": "2", "template": "Putting [something] into [something]"},
        {"id": "3", "template": "[Something] falling like a rock"},
    ]))
    (tmp_path / "validation.json").write_text(json.dumps([{"id": "4", "template": "Pushing [something] from left to right"}]))
    for ident in "1234":
        touch(tmp_path / "videos" / f"{ident}.webm")
    return tmp_path


@pytest.mark.parametrize("bracketed", [False, True], ids=["as released", "label list in template form"])
def test_something_something_labels_in_template_form_are_the_same_classes(tmp_path: Path, bracketed: bool):
    names = ["Pushing [something] from left to right", "Putting [something] into [something]", "[Something] falling like a rock"]
    labels = {(n if bracketed else n.replace("[", "").replace("]", "")): str(i) for i, n in enumerate(names)}
    dataset = discover_dataset(ssv2_folder(tmp_path, labels))
    assert dataset.classes == ("Pushing something from left to right", "Putting something into something", "Something falling like a rock")
    assert [(s.path.name, s.label_name) for s in sorted(dataset.samples, key=lambda s: s.path.name)] == [
        ("1.webm", "Pushing something from left to right"), ("2.webm", "Putting something into something"),
        ("3.webm", "Something falling like a rock"), ("4.webm", "Pushing something from left to right")]


def test_a_bad_index_in_the_label_list_is_said_at_its_line(tmp_path: Path):
    ssv2_folder(tmp_path, {"Pushing something from left to right": "0", "Putting something into something": "1",
                           "Something falling like a rock": "one"})
    with pytest.raises(DatasetError, match="line 4: class 'Something falling like a rock' has index 'one'"):
        discover_dataset(tmp_path)


def test_two_label_names_that_are_one_class_are_an_error(tmp_path: Path):
    ssv2_folder(tmp_path, {"Pushing something from left to right": "0", "Pushing [something] from left to right": "1",
                           "Putting something into something": "2", "Something falling like a rock": "3"})
    with pytest.raises(DatasetError, match="line 3: class 'Pushing \\[something\\] from left to right' is class 0 "
                                           "'Pushing something from left to right' again"):
        discover_dataset(tmp_path)


# ----------------------------------------------------------------------------- Kinetics CSVs from other tools


def test_kinetics_csv_with_quoted_labels_float_times_and_columns_in_another_order(tmp_path: Path):
    (tmp_path / "train.csv").write_text(
        'split,time_end,youtube_id,time_start,label\r\n'
        'train,20.0,aaa,10.0,"passing American football (in game), slow"\r\n'
        'train,10.5,bbb,0.5,"say ""cheese"""\r\n'
        'train,11,ccc,1,"passing American football (in game), slow"\r\n')
    for name in ("aaa_000010_000020", "bbb_000000_000010", "ccc_000001_000011"):
        touch(tmp_path / "videos" / f"{name}.mp4")
    dataset = discover_dataset(tmp_path)
    assert dataset.classes == ("passing American football (in game), slow", 'say "cheese"')
    assert [(s.path.stem, s.label_name) for s in dataset.samples] == [
        ("aaa_000010_000020", "passing American football (in game), slow"),
        ("ccc_000001_000011", "passing American football (in game), slow"), ("bbb_000000_000010", 'say "cheese"')]


def test_a_clip_name_under_two_label_folders_is_found_in_its_own_labels_folder(tmp_path: Path):
    """The downloader's layout is <split>/<label>/<id>_<start>_<end>.mp4; a copy holding one name under two labels
    (a clip downloaded for both, or misfiled) gave the row whichever came first in the walk."""
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end\nzumba,aaa,0,10\nabseiling,bbb,0,10\nzumba,ccc,0,10\n")
    touch(tmp_path / "videos" / "abseiling" / "aaa_000000_000010.mp4")  # first in the walk, another label's folder
    touch(tmp_path / "videos" / "zumba" / "aaa_000000_000010.mp4")
    touch(tmp_path / "videos" / "abseiling" / "bbb_000000_000010.mp4")
    touch(tmp_path / "videos" / "zumba" / "ccc_000000_000010.mp4")
    dataset = discover_dataset(tmp_path)
    assert [(dataset.relative(s), s.label_name) for s in dataset.samples] == [
        ("videos/abseiling/bbb_000000_000010.mp4", "abseiling"),
        ("videos/zumba/aaa_000000_000010.mp4", "zumba"), ("videos/zumba/ccc_000000_000010.mp4", "zumba")]


def test_a_clip_name_found_twice_in_no_folder_of_its_label_is_said(tmp_path: Path):
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end\nzumba,aaa,0,10\nabseiling,bbb,0,10\n")
    touch(tmp_path / "videos" / "part1" / "aaa_000000_000010.mp4")
    touch(tmp_path / "videos" / "part2" / "aaa_000000_000010.mp4")
    touch(tmp_path / "videos" / "part1" / "bbb_000000_000010.mp4")
    dataset = discover_dataset(tmp_path)
    assert [dataset.relative(s) for s in dataset.samples] == ["videos/part1/bbb_000000_000010.mp4", "videos/part1/aaa_000000_000010.mp4"]
    assert any(note.startswith("1 annotated videos have more than one file of their name") and "videos/part2/aaa_000000_000010.mp4" in note
               for note in dataset.notes), dataset.notes


# ----------------------------------------------------------------------------- one file name in two classes


def test_a_recorded_test_video_gone_from_disk_is_not_replaced_by_a_trained_video_of_its_name(tmp_path: Path):
    """Matching by file name is for a copy laid out otherwise; a name that the recorded split lists under its own
    path (here in train, under another class) is that video, never a stand-in for a missing one."""
    for name in ("Archery", "Bowling"):
        for clip in ("a.mp4", "b.mp4", "c.mp4"):
            touch(tmp_path / name / clip)
    dataset = discover_dataset(tmp_path)
    recorded = {"train": ["Archery/a.mp4", "Bowling/b.mp4", "Archery/b.mp4"], "val": [],
                "test": ["Bowling/a.mp4", "Archery/c.mp4", "Bowling/c.mp4"]}
    (tmp_path / "Bowling" / "a.mp4").unlink()  # the test video is gone; Archery/a.mp4 is the one trained on
    chosen = select_test_set(discover_dataset(tmp_path), {"split": recorded})
    assert rel(dataset, chosen.samples) == ["Archery/c.mp4", "Bowling/c.mp4"]
    assert chosen.missing == ("Bowling/a.mp4",) and chosen.seen_in_training == ()


def test_a_class_index_name_in_another_unicode_form_than_its_folder_is_that_folder(tmp_path: Path):
    for name in (unicodedata.normalize("NFD", "Café"), "Tea"):
        touch(tmp_path / "data" / name / "a.avi")
    (tmp_path / "data" / "classInd.txt").write_text("1 Tea\n2 Café\n", encoding="utf-8")  # as one letter
    dataset = discover_dataset(tmp_path / "data")
    assert dataset.classes == ("Tea", "Café") and [s.label_index for s in dataset.samples] == [0, 1]
