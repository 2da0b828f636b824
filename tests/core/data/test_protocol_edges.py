"""The official protocols at their edges: names the real downloads use, splits that must not leak,
and what a reader must say rather than silently drop (each case was found reading real layouts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data import discover_dataset, group_key, make_split
from core.errors import DatasetError
from core.evaluation.test_set import select_test_set
from test_splits import hmdb51, ucf101


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


HEADER = "label,youtube_id,time_start,time_end,split\n"


def crawler_folder(root: Path) -> Path:
    """The ActivityNet crawler's file names: kinetics-400_train.csv, kinetics-400_val.csv, videos/ beside them."""
    (root / "kinetics-400_train.csv").write_text(HEADER + "abseiling,aaa,0,10,train\nabseiling,aab,0,10,train\nzumba,zzz,0,10,train\n"
                                                 "yoga,yyy,0,10,train\nzumba,zzy,0,10,train\n")
    (root / "kinetics-400_val.csv").write_text(HEADER + "abseiling,vaa,0,10,val\nzumba,vzz,0,10,val\n")
    for name in ("aaa", "aab", "zzz", "zzy"):
        touch(root / "videos" / "train" / f"{name}_000000_000010.mp4")
    for name in ("vaa", "vzz"):
        touch(root / "videos" / "val" / f"{name}_000000_000010.mp4")
    return root


def test_the_crawlers_prefixed_csvs_make_a_kinetics_folder_with_every_annotated_class(tmp_path: Path):
    dataset = discover_dataset(crawler_folder(tmp_path))
    assert dataset.layout == "kinetics" and [f.name for f in dataset.annotation_files] == ["kinetics-400_train.csv", "kinetics-400_val.csv"]
    assert dataset.classes == ("abseiling", "yoga", "zumba")  # yoga's one video is missing: it keeps its index
    assert dataset.counts() == {"abseiling": 3, "yoga": 0, "zumba": 3}
    assert any("1 classes have no video on disk" in note and "yoga" in note for note in dataset.notes)
    assert {s.part for s in dataset.samples} == {"train", "val"}


def test_a_results_csv_beside_class_folders_does_not_make_them_kinetics(tmp_path: Path):
    for name in ("a", "b"):
        touch(tmp_path / name / f"{name}1.mp4")
    (tmp_path / "scores_test.csv").write_text("video,top1,score\na/a1.mp4,a,0.9\n")
    assert discover_dataset(tmp_path).layout == "folders"


def test_recorded_paths_do_not_depend_on_which_videos_are_on_disk(tmp_path: Path):
    full = discover_dataset(crawler_folder(tmp_path))
    recorded = {"train": [], "val": [], "test": [full.relative(s) for s in full.samples if s.part == "val"]}
    for path in (tmp_path / "videos" / "train").iterdir():  # an evaluation machine holding the validation videos only
        path.unlink()
    partial = discover_dataset(tmp_path)
    assert partial.root == full.root == tmp_path
    chosen = select_test_set(partial, {"split": recorded})
    assert sorted(partial.relative(s) for s in chosen.samples) == sorted(recorded["test"]) and chosen.missing == ()


def test_a_copy_laid_out_otherwise_is_matched_by_unique_file_name(tmp_path: Path):
    full = discover_dataset(crawler_folder(tmp_path))
    recorded = {"train": [], "val": [], "test": ["elsewhere/" + s.path.name for s in full.samples if s.part == "val"]}
    chosen = select_test_set(full, {"split": recorded})
    assert sorted(s.path.name for s in chosen.samples) == ["vaa_000000_000010.mp4", "vzz_000000_000010.mp4"]


def test_labels_differing_in_case_are_an_error_and_inner_spaces_are_one_class(tmp_path: Path):
    touch(tmp_path / "v" / "a.mp4"), touch(tmp_path / "v" / "b.mp4"), touch(tmp_path / "v" / "c.mp4")
    csv = tmp_path / "clips.csv"
    csv.write_text("label,path\nair drumming,v/a.mp4\nair  drumming,v/b.mp4\nyoga,v/c.mp4\n")
    assert discover_dataset(csv).classes == ("air drumming", "yoga")
    csv.write_text("label,path\nair drumming,v/a.mp4\nAir drumming,v/b.mp4\n")
    with pytest.raises(DatasetError, match=r"line 3: label 'Air drumming' differs only in case from 'air drumming' \(clips.csv line 2\)"):
        discover_dataset(csv)


def test_an_untrimmed_video_is_said_and_two_of_its_segments_are_a_clear_error(tmp_path: Path):
    touch(tmp_path / "videos" / "aaa.mp4")
    touch(tmp_path / "videos" / "bbb_000000_000010.mp4")
    csv = tmp_path / "train.csv"
    csv.write_text(HEADER + "x,aaa,120,130,train\ny,bbb,0,10,train\n")
    assert any("found only as the whole untrimmed video" in n and "aaa_000120_000130 (train.csv line 2)" in n for n in discover_dataset(tmp_path).notes)
    csv.write_text(HEADER + "x,aaa,120,130,train\nx,aaa,30,40,train\n")
    with pytest.raises(DatasetError, match="annotated twice .*both found only as this whole video"):
        discover_dataset(tmp_path)


def test_a_linked_videos_folder_is_walked(tmp_path: Path):
    touch(tmp_path / "store" / "aaa_000000_000010.mp4")
    touch(tmp_path / "store" / "bbb_000000_000010.mp4")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "videos").symlink_to(tmp_path / "store")
    (tmp_path / "store" / "loop").symlink_to(tmp_path / "store")  # a link back up the tree is walked once
    (tmp_path / "k" / "train.csv").write_text(HEADER + "x,aaa,0,10,train\ny,bbb,0,10,train\n")
    assert len(discover_dataset(tmp_path / "k", videos=tmp_path / "k" / "videos")) == 2


def test_only_a_train_list_carves_test_and_validation_from_it(tmp_path: Path):
    rows = "".join(f"{c},{c}{i},0,10,train\n" for c in "xy" for i in range(10))
    (tmp_path / "train.csv").write_text(HEADER + rows)
    for c in "xy":
        for i in range(10):
            touch(tmp_path / "videos" / f"{c}{i}_000000_000010.mp4")
    split = make_split(discover_dataset(tmp_path), val_fraction=0.1, test_fraction=0.2)
    assert (len(split.train), len(split.val), len(split.test)) == (14, 2, 4)
    assert "no validation or test list" in split.description


def test_a_split_number_without_its_files_is_an_error_not_a_seeded_split(tmp_path: Path):
    dataset = discover_dataset(ucf101(tmp_path))
    with pytest.raises(DatasetError, match="has no files of official split 2, only of ucf101 split 1"):
        make_split(dataset, official_split=2)
    with pytest.raises(DatasetError, match="official split 2 was asked for, but the folder has no official split files"):
        for name in ("a", "b"):  # no split files at all
            touch(tmp_path / "elsewhere" / "plain" / name / f"{name}1.mp4")
        select_test_set(discover_dataset(tmp_path / "elsewhere" / "plain"), {}, official_split=2)


def test_a_ucf_group_is_never_split_even_when_it_is_its_classs_only_one(tmp_path: Path):
    for c in range(1, 5):
        touch(tmp_path / "Lonely" / f"v_Lonely_g08_c{c:02d}.avi")
    for g in range(1, 4):
        touch(tmp_path / "Mixed" / f"v_Mixed_g{g:02d}_c01.avi")
        touch(tmp_path / "Mixed" / f"v_Mixed_g{g:02d}_c02.avi")
    touch(tmp_path / "Mixed" / "v_Mixed_g11_c01 copy.avi")
    split = make_split(discover_dataset(tmp_path), val_fraction=0.2, test_fraction=0.3, seed=0)
    for name in ("Lonely", "Mixed"):
        placed: dict[str, set[str]] = {}
        for part, samples in split.parts().items():
            for s in samples:
                if s.label_name == name and group_key(s):
                    placed.setdefault(group_key(s), set()).add(part)
        assert all(len(parts) == 1 for parts in placed.values()), (name, placed)
    assert {s.path.name for s in split.train if s.label_name == "Lonely"} == {f"v_Lonely_g08_c{c:02d}.avi" for c in range(1, 5)}
    assert any("class Lonely has too few groups (1)" in note for note in split.notes)


def test_an_hmdb_video_marked_train_and_test_is_an_error(tmp_path: Path):
    root = hmdb51(tmp_path)
    split_file = tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt"
    split_file.write_text(split_file.read_text() + "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi 2\n")
    with pytest.raises(DatasetError, match=r"line 4: Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi is marked 2 here but 1 at line 3"):
        make_split(discover_dataset(root))


def test_one_class_cannot_train_and_links_to_nothing_are_said(tmp_path: Path):
    touch(tmp_path / "videos" / "a.mp4")
    with pytest.raises(DatasetError, match=r"has videos of one class only \(videos\): training needs at least two"):
        discover_dataset(tmp_path).check_trainable()
    touch(tmp_path / "other" / "b.mp4")
    os.symlink(tmp_path / "gone.mp4", tmp_path / "other" / "c.mp4")
    dataset = discover_dataset(tmp_path)
    dataset.check_trainable()
    assert dataset.notes == ("1 videos are links to missing files and are left out: other/c.mp4",)


def test_a_missing_class_index_is_named_when_the_split_file_disagrees(tmp_path: Path):
    for name in ("HammerThrow", "Hammering"):
        touch(tmp_path / "UCF" / name / f"v_{name}_g01_c01.avi")
    (tmp_path / "UCF" / "trainlist01.txt").write_text("Hammering/v_Hammering_g01_c01.avi 1\nHammerThrow/v_HammerThrow_g01_c01.avi 2\n")
    (tmp_path / "UCF" / "testlist01.txt").write_text("Hammering/v_Hammering_g01_c01.avi\n")
    with pytest.raises(DatasetError, match="without a classInd.txt the classes are numbered in sorted order"):
        make_split(discover_dataset(tmp_path / "UCF"))


def test_an_empty_recorded_test_part_says_what_to_do(tmp_path: Path):
    dataset = discover_dataset(crawler_folder(tmp_path))
    recorded = {"train": [dataset.relative(s) for s in dataset.samples], "val": [], "test": []}  # trained with --test-fraction 0
    with pytest.raises(DatasetError, match="the test part of the split recorded in the checkpoint is empty .* choose another with --part"):
        select_test_set(dataset, {"split": recorded})
