"""Kinetics CSV and Something-Something JSON datasets: one reader (discover_dataset) for every layout."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.data import discover_dataset, make_split
from core.errors import DatasetError
from paths import SHARED


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def kinetics(tmp_path: Path) -> Path:
    """A folder of train.csv / validate.csv in the ActivityNet downloader's naming."""
    (tmp_path / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,aaa,10,20,train\n"
        "abseiling,aab,0,10,train\n"
        "arm wrestling,bbb,5,15,train\n"
        "arm wrestling,bbc,1,11,train\n"
        "arm wrestling,gone,1,11,train\n"
    )
    (tmp_path / "validate.csv").write_text("label,youtube_id,time_start,time_end\nabseiling,ccc,3,13\narm wrestling,ddd,0,10\n")
    for name in ("aaa_000010_000020", "aab_000000_000010", "bbb_000005_000015", "bbc_000001_000011"):
        touch(tmp_path / "videos" / "train" / f"{name}.mp4")
    touch(tmp_path / "videos" / "val" / "ccc_000003_000013.mp4")
    touch(tmp_path / "videos" / "val" / "ddd.mkv")  # a copy named by its id alone
    return tmp_path


def test_kinetics_folder_reads_labels_ids_and_split_and_lists_missing_videos(tmp_path: Path):
    dataset = discover_dataset(kinetics(tmp_path))
    assert dataset.layout == "kinetics" and dataset.classes == ("abseiling", "arm wrestling")
    assert dataset.root == tmp_path  # the annotations' folder, whichever of their videos are on disk
    assert [(dataset.relative(s), s.label_name, s.part) for s in dataset.samples] == [
        ("videos/train/aaa_000010_000020.mp4", "abseiling", "train"),
        ("videos/train/aab_000000_000010.mp4", "abseiling", "train"),
        ("videos/val/ccc_000003_000013.mp4", "abseiling", "val"),
        ("videos/train/bbb_000005_000015.mp4", "arm wrestling", "train"),
        ("videos/train/bbc_000001_000011.mp4", "arm wrestling", "train"),
        ("videos/val/ddd.mkv", "arm wrestling", "val"),
    ]
    missing, untrimmed = dataset.notes
    assert "1 annotated videos are not on disk" in missing and "gone_000001_000011 (train.csv line 6)" in missing
    assert untrimmed.startswith("1 annotations were found only as the whole untrimmed video") and "ddd_000000_000010 (validate.csv line 3)" in untrimmed
    assert "only their annotated seconds are used" in untrimmed
    # the whole video keeps its annotated seconds; trimmed downloads are their segment already
    assert [s.segment for s in dataset.samples] == [None, None, None, None, None, (0.0, 10.0)]
    split = make_split(dataset, val_fraction=0.0)
    assert split.scheme == "annotations"  # auto picks the files' split
    assert sorted(s.path.stem for s in split.test) == ["ccc_000003_000013", "ddd"]  # no test list: validation is the test part
    assert len(split.train) == 4 and not split.val
    whole = replace(split, test=tuple(replace(s, segment=None) for s in split.test))  # the untrimmed video used whole
    assert whole.fingerprint(dataset) != split.fingerprint(dataset)  # a run made so is not resumed on the segment
    assert dataset.notes[0] in split.notes


def test_kinetics_csv_with_paths_resolves_against_its_parent_and_videos_folder(tmp_path: Path):
    touch(tmp_path / "data" / "videos" / "a.avi")
    touch(tmp_path / "data" / "videos" / "b.mp4")
    csv = tmp_path / "data" / "labels" / "clips.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text('path,label\nvideos/a.avi,"flipping pancake"\nb.mp4,archery\n')
    dataset = discover_dataset(csv, videos=tmp_path / "data" / "videos")
    assert [(s.path.name, s.label_name, s.part) for s in dataset.samples] == [("b.mp4", "archery", None), ("a.avi", "flipping pancake", None)]
    assert make_split(dataset).scheme == "stratified"  # no split given: the seeded one


@pytest.mark.parametrize(
    "text, message",
    [
        ("youtube_id,time_start,time_end\naaa,1,2\n", "line 1: no label column"),
        ("label,youtube_id,time_start,time_end\nx,aaa,5,2\n", "line 2: time_end 2 is not after time_start 5"),
        ("label,youtube_id,time_start,time_end\nx,aaa,abc,2\n", "line 2: time_start 'abc' is not a number"),
        ("label,youtube_id\nx,aaa\n,bbb\n", "line 3: empty label"),
        ("label,youtube_id,split\nx,aaa,holdout\n", "line 2: unknown split 'holdout'"),
        ("label,youtube_id\nx,aaa,extra\n", "line 2: 3 fields, the header has 2"),
        ("label,note\nx,y\n", "line 1: no video column"),
    ],
)
def test_bad_kinetics_rows_name_file_and_line(tmp_path: Path, text: str, message: str):
    touch(tmp_path / "aaa.mp4")
    csv = tmp_path / "ann.csv"
    csv.write_text(text)
    with pytest.raises(DatasetError, match=message) as err:
        discover_dataset(csv)
    assert err.value.path == str(csv)


def test_a_label_holding_a_line_break_is_one_label_and_later_lines_keep_their_numbers(tmp_path: Path):
    """Only CR and LF end a CSV line: a quoted label may span two (one label, its break a space, as other stray
    spaces), and U+2028 inside a label is a character (it was split into a row of one field)."""
    for name in ("a", "b", "c"):
        touch(tmp_path / f"{name}.mp4")
    csv = tmp_path / "ann.csv"
    csv.write_text('label,path\n"long\njump",a.mp4\nlong\u2028jump,b.mp4\nhigh jump,c.mp4\n', encoding="utf-8")
    dataset = discover_dataset(csv)
    assert dataset.classes == ("high jump", "long jump") and [s.label_name for s in dataset.samples] == ["high jump", "long jump", "long jump"]
    csv.write_text('label,path\n"long\njump",a.mp4\nhigh jump,c.mp4,extra\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 4: 3 fields, the header has 2"):  # the physical line
        discover_dataset(csv)


def test_a_class_whose_videos_are_all_missing_is_named_with_the_missing_files(tmp_path: Path):
    touch(tmp_path / "a1.mp4")
    touch(tmp_path / "a2.mp4")
    csv = tmp_path / "ann.csv"
    csv.write_text("label,path\nrun,a1.mp4\nrun,a2.mp4\nwalk,gone.mp4\n")
    with pytest.raises(DatasetError, match=r"one class only \(run\).*; walk: no video on disk .*gone.mp4 \(ann.csv line 4\)"):
        discover_dataset(csv).check_trainable()


def test_kinetics_with_no_video_on_disk_is_an_error_naming_the_file(tmp_path: Path):
    (tmp_path / "train.csv").write_text("label,youtube_id\nx,nothere\n")
    with pytest.raises(DatasetError, match="none of the annotated videos is on disk .e.g. nothere, train.csv line 2"):
        discover_dataset(tmp_path)


def ssv2(tmp_path: Path) -> Path:
    (tmp_path / "labels.json").write_text(json.dumps({"Pushing something from left to right": "1", "Holding something next to something": "0"}))
    (tmp_path / "train.json").write_text(json.dumps([
        {"id": "1", "label": "holding a cup next to a pen", "template": "Holding [something] next to [something]"},
        {"id": "2", "label": "pushing a box from left to right", "template": "Pushing [something] from left to right"},
        {"id": "3", "template": "Holding [something] next to [something]"},
    ], indent=1))
    (tmp_path / "validation.json").write_text(json.dumps([{"id": "4", "template": "Pushing [something] from left to right"}]))
    (tmp_path / "test.json").write_text(json.dumps([{"id": "5"}]))  # unlabelled, as released
    for ident in "12345":
        touch(tmp_path / "videos" / f"{ident}.webm")
    return tmp_path


def test_something_something_folder_uses_the_label_order_and_templates(tmp_path: Path):
    dataset = discover_dataset(ssv2(tmp_path))
    assert dataset.layout == "something-something"
    assert dataset.classes == ("Holding something next to something", "Pushing something from left to right")
    assert [(s.path.name, s.label_index, s.part) for s in dataset.samples] == [
        ("1.webm", 0, "train"), ("3.webm", 0, "train"), ("2.webm", 1, "train"), ("4.webm", 1, "val")]
    assert dataset.notes == ("test.json is unlabelled: left out",)
    split = make_split(dataset, val_fraction=0.0)
    assert [s.path.name for s in split.test] == ["4.webm"]


def test_something_something_bad_entries_name_file_and_line(tmp_path: Path):
    ssv2(tmp_path)
    (tmp_path / "train.json").write_text('[\n {"id": "1", "template": "Holding [something] next to [something]"},\n {"id": "2", "template": "Juggling [something]"}\n]')
    with pytest.raises(DatasetError, match="line 3: label 'Juggling something' is not one of the 2 classes") as err:
        discover_dataset(tmp_path)
    assert err.value.path == str(tmp_path / "train.json")
    (tmp_path / "train.json").write_text('[\n {"id": "1"},\n {"id": "2", "template": "x"}\n]')
    with pytest.raises(DatasetError, match="line 2: video 1 has no template or label"):
        discover_dataset(tmp_path)
    (tmp_path / "train.json").write_text('[\n {"id": "1",\n')
    with pytest.raises(DatasetError, match="not valid JSON"):
        discover_dataset(tmp_path)
    (tmp_path / "labels.json").write_text('{"a": "0", "b": "0"}')
    with pytest.raises(DatasetError, match="class 'b' has index '0'"):
        discover_dataset(tmp_path)


def test_something_something_entries_are_found_on_their_lines_reading_the_text_once(tmp_path: Path):
    """Each entry's line was counted from the file's start: quadratic, about 15 minutes for the official
    train.json's 168,913 entries (one JSON line of 30 MB).  Counted now over the text between entries only."""
    from core.data.ssv2 import _Lines, read_part

    class CountingText(str):
        scanned = 0

        def count(self, sub, start=0, end=None):  # noqa: ANN001, ANN201
            stop = len(self) if end is None else end
            CountingText.scanned += max(0, stop - start)
            return super().count(sub, start, end if end is not None else len(self))

    items = [{"id": str(i), "label": "holding a cup next to a pen", "template": "Holding [something] next to [something]",
              "placeholders": ["a cup", "a pen"]} for i in range(2000)]
    text = CountingText(json.dumps(items, indent=1))  # pretty-printed: 9 lines an entry, after "[" alone
    lines = _Lines(text)
    found = [lines.next(json.dumps(str(i))) for i in range(2000)]
    assert found[::500] == [3, 4503, 9003, 13503] and found[-1] == 3 + 9 * 1999
    assert CountingText.scanned <= len(text)  # each character looked at once, however many entries
    (tmp_path / "train.json").write_text(json.dumps(items[:50], indent=1))
    assert [e.line for e in read_part(tmp_path / "train.json", "train")][::10] == [3, 93, 183, 273, 363]


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, '{"a": 1' + "0" * 5000 + "}"])
def test_something_something_json_nested_too_deep_or_with_a_huge_number_is_an_error_naming_it(tmp_path: Path, text: str):
    ssv2(tmp_path)
    (tmp_path / "labels.json").write_text(text)
    with pytest.raises(DatasetError, match="not valid JSON") as err:
        discover_dataset(tmp_path)
    assert err.value.path == str(tmp_path / "labels.json")


def test_shared_clips_labels_csv_opens_with_its_17_true_classes():
    csv, videos = SHARED / "data" / "labels" / "clips_labels.csv", SHARED / "data" / "videos"
    if not csv.is_file() or not videos.is_dir():
        pytest.skip(f"the shared clips are absent ({csv})")
    dataset = discover_dataset(csv, videos=videos)
    assert len(dataset) == 17 and not dataset.notes
    truth = {s.path.name: s.label_name for s in dataset.samples}
    assert truth["v_ApplyEyeMakeup_g01_c01.avi"] == "ApplyEyeMakeup"
    assert truth["mmaction2_demo.mp4"] == "arm wrestling"
    assert truth["ntu_S001C001P001R001A001_rgb.avi"] == "drink water"
    assert truth["hmdb51_jump_Documentario_Le_Parkour_Londrina_jump_f_cm_np1_ri_bad_6.mp4"] == "jump"
    assert len(dataset.classes) == 16  # CricketShot twice (RGB and flow pictures)


def test_video_look_ups_of_a_kinetics_sized_csv_make_no_path_objects_for_videos_not_on_disk(tmp_path: Path, monkeypatch):
    """Kinetics-400's 246,534 training rows are as many look-ups, most of them for deleted YouTube videos: six Path
    objects each made two thirds of a 7 s listing.  A name is a path, a file name or a bare id, as before."""
    import core.data.annotated as annotated

    touch(tmp_path / "train" / "abc_000001_000011.mp4")
    touch(tmp_path / "train" / "x.y.MKV")
    finder = annotated.VideoFinder(path_roots=[tmp_path], walk_roots=[tmp_path])
    assert finder.find("abc_000001_000011") == tmp_path / "train" / "abc_000001_000011.mp4"  # an id: by stem, anywhere
    assert finder.find("other/abc_000001_000011.avi") == tmp_path / "train" / "abc_000001_000011.mp4"
    assert finder.find("train\\x.y.MKV") == tmp_path / "train" / "x.y.MKV"  # a path as Windows writes it
    assert finder.find("x.y") == tmp_path / "train" / "x.y.MKV" and finder.find(".mp4") is None and finder.find(" ") is None
    made = []
    monkeypatch.setattr(annotated, "Path", lambda *parts: made.append(parts) or Path(*parts))
    assert [finder.find(f"gone{i:06d}_000000_000010") for i in range(1000)] == [None] * 1000
    assert made == []


def test_an_annotation_file_too_large_to_be_one_is_refused_before_it_is_read(tmp_path: Path):
    """A video or archive picked by mistake was read whole into memory before its text was found wanting."""
    from core.data.dataset import MAX_ANNOTATION_BYTES
    from core.data.kinetics import read_entries

    huge = tmp_path / "train.csv"
    with huge.open("wb") as file:
        file.truncate(MAX_ANNOTATION_BYTES + 1)  # sparse: no disk used
    with pytest.raises(DatasetError, match=r"MB: too large for the annotation file .*is it the right file\?") as err:
        list(read_entries(huge, []))
    assert err.value.path == str(huge)


def test_a_csv_without_line_ends_is_not_read_whole_to_find_its_header(tmp_path: Path):
    import tracemalloc

    from core.data.kinetics import split_files

    with (tmp_path / "kinetics_val.csv").open("wb") as file:
        file.truncate(256 * 1024 * 1024)  # sparse, one "line" of NUL bytes
    tracemalloc.start()
    try:
        assert split_files(tmp_path) == []
        assert tracemalloc.get_traced_memory()[1] < 16 * 1024 * 1024
    finally:
        tracemalloc.stop()
