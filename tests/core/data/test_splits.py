"""Splits: UCF101's and HMDB51's official files (in their shipped formats), and
the seeded stratified fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data import Dataset, Sample, discover_dataset, group_key, make_split
from core.errors import DatasetError, InputError

UCF_CLASSES = ("ApplyEyeMakeup", "ApplyLipstick", "HandstandPushups")


def ucf101(tmp_path: Path, groups: int = 6, clips: int = 2) -> Path:
    """UCF101 as it unpacks: UCF-101/<Class>/v_<Class>_gXX_cYY.avi beside
    ucfTrainTestlist/ (CRLF line ends, as shipped).  Split 1 tests on groups 1-2.
    HandstandPushups keeps UCF101's quirk: files are named v_HandStandPushups_*."""
    root = tmp_path / "UCF-101"
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    train, test = [], []
    for label, name in enumerate(UCF_CLASSES, start=1):
        (root / name).mkdir(parents=True)
        file_stem = "HandStandPushups" if name == "HandstandPushups" else name
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                video = f"v_{file_stem}_g{g:02d}_c{c:02d}.avi"
                (root / name / video).write_bytes(b"")
                if g <= 2:
                    test.append(f"{name}/{video}")
                else:
                    train.append(f"{name}/{video} {label}")
    (lists / "classInd.txt").write_bytes("".join(f"{i} {n}\r\n" for i, n in enumerate(UCF_CLASSES, start=1)).encode())
    (lists / "trainlist01.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
    (lists / "testlist01.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())
    return root


HMDB_VIDEOS = {
    "brush_hair": [
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
        "April_09_brush_hair_u_nm_np1_ba_goo_1.avi",
        "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi",
        "Aussie_Brush_hair_brush_hair_u_cm_np1_fr_goo_0.avi",
    ],
    "cartwheel": [
        "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi",
        "Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi",
        "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi",
    ],
}
HMDB_FLAGS = {"brush_hair": ["1", "1", "2", "0"], "cartwheel": ["2", "1", "1"]}


def hmdb51(tmp_path: Path) -> Path:
    """hmdb51/<class>/<video>.avi and testTrainMulti_7030_splits/<class>_test_split1.txt
    with "video.avi 1 " lines (the trailing space is as shipped)."""
    root = tmp_path / "hmdb51"
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for name, videos in HMDB_VIDEOS.items():
        (root / name).mkdir(parents=True)
        for video in videos:
            (root / name / video).write_bytes(b"")
        lines = [f"{v} {flag} " for v, flag in zip(videos, HMDB_FLAGS[name])]
        (splits / f"{name}_test_split1.txt").write_text("\n".join(lines) + "\n")
    return root


def rel(dataset: Dataset, part: tuple[Sample, ...]) -> list[str]:
    return [dataset.relative(s) for s in part]


# ----------------------------------------------------------------------------- UCF101


def test_a_ucf101_video_its_lists_name_nowhere_is_said_to_be_in_no_part(tmp_path: Path):
    root = ucf101(tmp_path)
    stray = next(p for p in sorted(root.iterdir()) if p.is_dir())
    (stray / f"v_{stray.name}_g99_c01.avi").write_bytes(b"")
    split = make_split(discover_dataset(root), val_fraction=0.0)
    assert any(note.startswith("1 video is in no part of UCF101") and note.endswith(f"{stray.name}/v_{stray.name}_g99_c01.avi")
               for note in split.notes), split.notes


def test_ucf101_official_split_with_validation_carved_by_group(tmp_path: Path):
    dataset = discover_dataset(ucf101(tmp_path))
    assert dataset.classes == UCF_CLASSES
    split = make_split(dataset, val_fraction=0.25, seed=0)
    assert split.scheme == "ucf101"
    assert "trainlist01.txt" in split.description and "testlist01.txt" in split.description
    assert {group_key(s) for s in split.test} == {"g01", "g02"}
    assert len(split.test) == 3 * 2 * 2
    assert len(split.train) + len(split.val) == 3 * 4 * 2
    for name in UCF_CLASSES:  # one of four training groups per class goes to validation, whole
        val_groups = {group_key(s) for s in split.val if s.label_name == name}
        train_groups = {group_key(s) for s in split.train if s.label_name == name}
        assert len(val_groups) == 1 and len(train_groups) == 3 and not val_groups & train_groups
    assert {s.label_index for s in split.test if s.path.name.startswith("v_HandStandPushups")} == {2}
    assert split.notes == ()


def test_ucf101_split_number_picks_the_files(tmp_path: Path):
    root = ucf101(tmp_path)
    lists = tmp_path / "ucfTrainTestlist"
    (lists / "trainlist02.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\nApplyLipstick/v_ApplyLipstick_g01_c01.avi 2\n")
    (lists / "testlist02.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi\n")
    dataset = discover_dataset(root)
    split = make_split(dataset, official_split=2, val_fraction=0.0)
    assert rel(dataset, split.train) == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "ApplyLipstick/v_ApplyLipstick_g01_c01.avi"]
    assert rel(dataset, split.test) == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi"]
    with pytest.raises(DatasetError, match="UCF101 split 3 needs trainlist03.txt, which is missing"):
        make_split(dataset, scheme="ucf101", official_split=3)


def test_ucf101_lists_match_re_encoded_files_and_case(tmp_path: Path):
    root = ucf101(tmp_path, groups=3, clips=1)
    for video in (root / "ApplyLipstick").iterdir():
        video.rename(video.with_suffix(".mp4"))  # converted from .avi; the lists still say .avi
    lists = tmp_path / "ucfTrainTestlist"
    text = (lists / "testlist01.txt").read_text().replace("ApplyEyeMakeup/v_ApplyEyeMakeup_g01", "applyeyemakeup/v_applyeyemakeup_g01")
    (lists / "testlist01.txt").write_text(text)
    dataset = discover_dataset(root)
    split = make_split(dataset, val_fraction=0.0)
    assert "ApplyLipstick/v_ApplyLipstick_g03_c01.mp4" in rel(dataset, split.train)
    assert "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi" in rel(dataset, split.test)


@pytest.mark.parametrize(
    "list_name, line, message",
    [
        ("trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi", "line 1: expected 'Class/video.avi LABEL'"),
        ("trainlist01.txt", "v_ApplyEyeMakeup_g03_c01.avi 1", "line 1: expected 'Class/video.avi LABEL'"),
        ("trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi one", "line 1: label 'one' is not a class index 1..3"),
        ("trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi 4", "line 1: label '4' is not a class index"),
        ("trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi 2", r"line 1: label 2 \(ApplyLipstick\) contradicts the folder"),
        ("trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g99_c01.avi 1", "line 1 names ApplyEyeMakeup/v_ApplyEyeMakeup_g99_c01.avi, which is not in"),
        ("testlist01.txt", "ApplyEyeMakeup/v_Missing_g01_c01.avi", "line 1 names ApplyEyeMakeup/v_Missing_g01_c01.avi, which is not in"),
        ("testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi", "is listed both here and in trainlist01.txt"),
        ("testlist01.txt", "", "lists no videos"),
    ],
)
def test_ucf101_malformed_lists_name_the_file(tmp_path: Path, list_name: str, line: str, message: str):
    root = ucf101(tmp_path)
    path = tmp_path / "ucfTrainTestlist" / list_name
    body = path.read_text().splitlines()
    path.write_text("\n".join([line, *body]) + "\n" if line else "\n")
    with pytest.raises(DatasetError, match=message) as err:
        make_split(discover_dataset(root))
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_ucf101_missing_test_list(tmp_path: Path):
    root = ucf101(tmp_path)
    (tmp_path / "ucfTrainTestlist" / "testlist01.txt").unlink()
    with pytest.raises(DatasetError, match="UCF101 split 1 needs testlist01.txt, which is missing"):
        make_split(discover_dataset(root))


# ----------------------------------------------------------------------------- HMDB51


def test_hmdb51_official_split_train_test_and_unused(tmp_path: Path):
    dataset = discover_dataset(hmdb51(tmp_path))
    assert dataset.classes == ("brush_hair", "cartwheel")
    split = make_split(dataset, val_fraction=0.0)
    assert split.scheme == "hmdb51" and "HMDB51 official split 1" in split.description
    assert rel(dataset, split.train) == [
        "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
        "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1.avi",
        "cartwheel/Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi",
        "cartwheel/Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi",
    ]
    assert rel(dataset, split.test) == [
        "brush_hair/Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi",
        "cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi",
    ]
    assert split.val == ()  # flag 0 (Aussie_Brush_hair...) is in no part, and a note says so
    assert "1 video is in no part of HMDB51 official split 1 (their split files mark them 0, unused): " \
           "brush_hair/Aussie_Brush_hair_brush_hair_u_cm_np1_fr_goo_0.avi" in split.notes
    with_val = make_split(dataset, val_fraction=0.3)
    # brush_hair's two training clips are of one source video (April_09): they stay together, in training; each
    # of cartwheel's is of its own video, and one goes to validation
    assert rel(dataset, with_val.val) == ["cartwheel/Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi"]
    assert set(with_val.val) | set(with_val.train) == set(split.train)
    assert "class brush_hair has too few groups (1) to appear in every part" in with_val.notes


def test_validation_carved_from_hmdb51_keeps_the_clips_of_one_source_video_together(tmp_path: Path):
    """HMDB51 names a clip ``<source video>_<action>_<body>_<camera>_<people>_<view>_<quality>_<n>``, and its official
    splits keep a source video's clips on one side; validation carved from training split them, so the best epoch
    was chosen on near-copies of training clips (as UCF101's gNN groups would be, which were kept together)."""
    tags = ["u_nm_np1_ba_goo", "h_cm_np1_fr_med", "f_nm_np2_le_bad"]
    for name in ("brush_hair", "cartwheel"):
        for source in ("April_09", "Beth_at_home", "Chris", "Dana_films", "Eve"):
            for n in range(3):
                (tmp_path / "hmdb" / name).mkdir(parents=True, exist_ok=True)
                (tmp_path / "hmdb" / name / f"{source}_{name}_{tags[n]}_{n}.avi").write_bytes(b"")
    dataset = discover_dataset(tmp_path / "hmdb")
    assert group_key(dataset.samples[0]) == "April_09_brush_hair"
    split = make_split(dataset, val_fraction=0.2, test_fraction=0.2, seed=3)
    parts = [{group_key(s) for s in part} for part in (split.train, split.val, split.test)]
    assert [len(p) for p in parts] == [6, 2, 2]  # of the 10 source videos, one per class in each held-out part
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


@pytest.mark.parametrize(
    "line, message",
    [
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi 3", "line 1: expected '<video>.avi <0|1|2>'"),
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "line 1: expected '<video>.avi <0|1|2>'"),
        ("Not_there_brush_hair_u_nm_np1_ba_goo_0.avi 1", "line 1 names brush_hair/Not_there_brush_hair_u_nm_np1_ba_goo_0.avi, which is not in"),
    ],
)
def test_hmdb51_malformed_split_files_name_file_and_line(tmp_path: Path, line: str, message: str):
    root = hmdb51(tmp_path)
    path = tmp_path / "testTrainMulti_7030_splits" / "brush_hair_test_split1.txt"
    path.write_text(line + "\n" + path.read_text())
    with pytest.raises(DatasetError, match=message) as err:
        make_split(discover_dataset(root))
    assert str(err.value).startswith(f"{path}: ")


def test_hmdb51_missing_class_file(tmp_path: Path):
    root = hmdb51(tmp_path)
    (tmp_path / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt").unlink()
    with pytest.raises(DatasetError, match="needs a split file for class 'cartwheel'") as err:
        make_split(discover_dataset(root))
    assert "cartwheel_test_split1.txt" in str(err.value)


# ----------------------------------------------------------------------------- stratified


def plain(tmp_path: Path, counts: dict[str, int]) -> Dataset:
    for name, count in counts.items():
        (tmp_path / name).mkdir(parents=True)
        for i in range(count):
            (tmp_path / name / f"{name}_{i:03d}.mp4").write_bytes(b"")
    return discover_dataset(tmp_path)


def test_stratified_split_shares_and_coverage(tmp_path: Path):
    dataset = plain(tmp_path, {"a": 20, "b": 10, "c": 2, "d": 1})
    split = make_split(dataset, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert split.scheme == "stratified"
    count = lambda part, name: sum(1 for s in part if s.label_name == name)  # noqa: E731
    assert [(count(split.train, n), count(split.val, n), count(split.test, n)) for n in "abcd"] == [
        (14, 2, 4),
        (7, 1, 2),
        (1, 0, 1),  # two clips: one trains, one tests
        (1, 0, 0),  # one clip: training only, and said so
    ]
    assert split.notes == (
        "class c has too few clips (2) to appear in every part",
        "class d has too few clips (1) to appear in every part",
    )
    everything = split.train + split.val + split.test
    assert len(everything) == len(set(everything)) == len(dataset)


def test_stratified_split_is_seeded_and_stable_when_classes_are_added(tmp_path: Path):
    dataset = plain(tmp_path / "one", {"a": 20, "b": 10})
    first = make_split(dataset, seed=3)
    assert make_split(dataset, seed=3) == first
    assert first.fingerprint(dataset) == make_split(dataset, seed=3).fingerprint(dataset)
    other = make_split(dataset, seed=4)
    assert {s.path for s in other.test} != {s.path for s in first.test}
    assert other.fingerprint(dataset) != first.fingerprint(dataset)
    grown = plain(tmp_path / "two", {"a": 20, "b": 10, "aa": 5})
    again = make_split(grown, seed=3)
    assert [s.path.name for s in again.test if s.label_name == "a"] == [s.path.name for s in first.test if s.label_name == "a"]


def test_the_split_lets_a_thread_waiting_for_the_gil_in_once_per_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each class's seeded numpy generator releases the GIL in short bursts, which CPython's handover counts as
    switches: without a real yield per class the viewer's GUI thread waited 20 ms while a worker split UCF101."""
    import core.data.splits as splits

    calls: list[int] = []
    monkeypatch.setattr(splits, "let_waiting_threads_in", lambda: calls.append(1))
    make_split(plain(tmp_path, {"a": 4, "b": 3, "c": 2}), seed=0)
    assert len(calls) == 3


def test_stratified_split_keeps_ucf101_groups_together(tmp_path: Path):
    (tmp_path / "Kick").mkdir()
    for g in range(1, 11):
        for c in range(1, 4):
            (tmp_path / "Kick" / f"v_Kick_g{g:02d}_c{c:02d}.avi").write_bytes(b"")
    dataset = discover_dataset(tmp_path)
    split = make_split(dataset, val_fraction=0.1, test_fraction=0.2)
    groups = [{group_key(s) for s in part} for part in (split.train, split.val, split.test)]
    assert [len(g) for g in groups] == [7, 1, 2]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


def test_split_helpers(tmp_path: Path):
    dataset = plain(tmp_path, {"a": 5, "b": 5})
    split = make_split(dataset, val_fraction=0.2, test_fraction=0.2)
    data = split.to_dict(dataset)
    assert data["scheme"] == "stratified" and data["fingerprint"] == split.fingerprint(dataset)
    assert sorted(data["train"] + data["val"] + data["test"]) == sorted(dataset.relative(s) for s in dataset.samples)
    dropped = split.without([split.train[0].path, str(split.test[0].path)])
    assert len(dropped.train) == len(split.train) - 1 and len(dropped.test) == len(split.test) - 1
    assert dropped.val == split.val


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scheme": "kinetics"}, "split scheme must be one of"),
        ({"val_fraction": -0.1}, "validation fraction must be in"),
        ({"test_fraction": 1.0}, "test fraction must be in"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must leave clips to train on"),
        ({"official_split": 0}, "official split number must be >= 1"),
    ],
)
def test_bad_split_arguments(tmp_path: Path, kwargs: dict, message: str):
    dataset = plain(tmp_path, {"a": 4})
    with pytest.raises(InputError, match=message):
        make_split(dataset, **kwargs)


def test_auto_detects_by_files_and_explicit_schemes_need_them(tmp_path: Path):
    dataset = plain(tmp_path / "plain", {"a": 4, "b": 4})
    assert make_split(dataset).scheme == "stratified"
    with pytest.raises(DatasetError, match="needs trainlist01.txt"):
        make_split(dataset, scheme="ucf101")
    with pytest.raises(DatasetError, match="needs a split file for class 'a'"):
        make_split(dataset, scheme="hmdb51")
    assert make_split(discover_dataset(hmdb51(tmp_path / "h")), val_fraction=0).scheme == "hmdb51"
    assert make_split(discover_dataset(ucf101(tmp_path / "u"))).scheme == "ucf101"
    empty = Dataset(root=tmp_path, classes=("a",), samples=())
    with pytest.raises(DatasetError, match="holds no videos"):
        make_split(empty)
