"""Train / validation / test splits: the official ones when their files are there.

* UCF101: ``trainlist0N.txt`` (``"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"``,
  1-based label) and ``testlist0N.txt`` (``"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"``).
* HMDB51: ``<class>_test_split<N>.txt`` with ``"<video>.avi <0|1|2>"`` lines:
  1 = train, 2 = test, 0 = not used in this split.
* Otherwise a seeded split, stratified by class.

The official splits have no validation set; early stopping needs one, so it is
carved out of the training part, stratified by class and by source video: clips
of one UCF101 group (``v_<Class>_g08_c01``) come from one long video, as do
HMDB51 clips named ``<source>_<action>_<body>_<camera>_<people>_<view>_<quality>_<n>``
with the same source (HMDB51's own splits keep them on one side), and splitting
them would leak near-duplicates into validation.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from core.data.dataset import Dataset, Sample, folded, folder_entries, listed, read_annotation_text, split_search_dirs
from core.errors import DatasetError, InputError
from core.gil import let_waiting_threads_in

SCHEMES = ("auto", "ucf101", "hmdb51", "stratified", "annotations")
_UCF_GROUP = re.compile(r"_g(\d+)_c\d+$", re.IGNORECASE)
# HMDB51's meta tags after the source video and action: visible body part, camera motion, people, viewpoint, quality, clip
_HMDB_CLIP = re.compile(r"^(?P<source>.+)_[fhul]_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    """Three disjoint lists of samples and how they were chosen."""

    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]
    scheme: str  # "ucf101", "hmdb51" or "stratified"
    description: str  # one line for logs and metrics files
    notes: tuple[str, ...] = ()  # e.g. classes too small to appear in every part

    def parts(self) -> dict[str, tuple[Sample, ...]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def without(self, paths: Iterable[str | os.PathLike[str]]) -> "Split":
        """The same split minus some videos (e.g. the unreadable ones)."""
        drop = {Path(p) for p in paths}
        keep = lambda part: tuple(s for s in part if s.path not in drop)  # noqa: E731
        return Split(keep(self.train), keep(self.val), keep(self.test), self.scheme, self.description, self.notes)

    def to_dict(self, dataset: Dataset) -> dict:
        """JSON-ready: paths relative to the dataset root, for checkpoints and metrics."""
        return {
            "scheme": self.scheme,
            "description": self.description,
            "notes": list(self.notes),
            "fingerprint": self.fingerprint(dataset),
            **{name: [dataset.relative(s) for s in part] for name, part in self.parts().items()},
        }

    def fingerprint(self, dataset: Dataset) -> str:
        """A short hash of which video (or annotated segment of one) is in which part with which label: a
        resumed run or an evaluation can check it uses the same split."""
        digest = hashlib.sha256()
        for name, part in self.parts().items():
            for sample in sorted(part, key=lambda s: dataset.relative(s)):
                seconds = "" if sample.segment is None else f"\t{float(sample.segment[0])!r}-{float(sample.segment[1])!r}"
                digest.update(f"{name}\t{dataset.relative(sample)}\t{sample.label_index}{seconds}\n".encode("utf-8"))
        return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------- lookup of listed videos


class _Index:
    """Finds the sample a split file names: exact path, then case-insensitive (and in any Unicode form),
    then the same name with another video extension (re-encoded datasets)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.exact: dict[str, Sample] = {}
        self.by_folded: dict[str, Sample] = {}
        self.stems: dict[str, list[Sample]] = {}
        for sample in dataset.samples:
            rel = dataset.relative(sample)
            self.exact[rel] = sample
            self.by_folded[folded(rel)] = sample
            self.stems.setdefault(folded(rel.rsplit(".", 1)[0]), []).append(sample)

    def find(self, rel: str) -> Sample | None:
        rel = rel.replace("\\", "/")
        rel = rel[2:] if rel.startswith("./") else rel
        hit = self.exact.get(rel) or self.by_folded.get(folded(rel))
        if hit is not None:
            return hit
        same_stem = self.stems.get(folded(rel.rsplit(".", 1)[0]), [])
        return same_stem[0] if len(same_stem) == 1 else None


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """The file's non-blank lines, stripped, with their numbers."""
    text = read_annotation_text(path, "the split file")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _last_field(line: str) -> tuple[str, str]:
    """``"Class/my video.avi 1"`` -> ``("Class/my video.avi", "1")``: a name may hold spaces (a copy renamed, HMDB51's
    titles), the number after it never does (``("line", "")`` for a line of one field)."""
    fields = line.rsplit(None, 1)
    return (fields[0], fields[1]) if len(fields) == 2 else (line, "")


def _missing(path: Path, number: int, rel: str, dataset: Dataset) -> DatasetError:
    """The error for a listed video that is not a sample: not in the folder, or a link to another entry's file
    (one file is one sample: which class and part it is in must be said once)."""
    kept = dataset.left_out_as(rel.replace("\\", "/").removeprefix("./"))
    if kept is not None:
        return DatasetError(f"line {number} names {rel}, which is the same file as {kept} (a link to it) and so is left "
                            f"out: list the video once, as {kept}", path)
    return DatasetError(f"line {number} names {rel}, which is not in {dataset.root}", path)


# ----------------------------------------------------------------------------- UCF101


def _find_file(dataset: Dataset, name: str, split_dir: str | os.PathLike[str] | None) -> Path | None:
    for folder in split_search_dirs(dataset.root, split_dir):
        if (folder / name).is_file():
            return folder / name
    return None


def _ucf_list(path: Path, dataset: Dataset, index: _Index, labelled: bool) -> list[Sample]:
    samples: list[Sample] = []
    expected = "'Class/video.avi LABEL'" if labelled else "'Class/video.avi'"
    for number, line in _read_lines(path):
        rel, label = _last_field(line)
        if not labelled and not label.isdigit():  # a test list names the video alone (its name may hold spaces)
            rel, label = line, ""
        if (labelled and not label) or "/" not in rel.replace("\\", "/"):
            raise DatasetError(f"line {number}: expected {expected}, got {line!r}", path)
        sample = index.find(rel)
        if sample is None:
            raise _missing(path, number, rel, dataset)
        if label:
            if not label.isdigit() or not 1 <= int(label) <= dataset.num_classes:
                raise DatasetError(
                    f"line {number}: label {label!r} is not a class index 1..{dataset.num_classes}", path
                )
            if int(label) - 1 != sample.label_index:
                hint = "" if dataset.class_index_file is not None else (
                    f"; without a classInd.txt the classes are numbered in sorted order, which is not UCF101's:"
                    f" put the dataset's classInd.txt beside {path.name}")
                raise DatasetError(
                    f"line {number}: label {label} ({dataset.classes[int(label) - 1]}) contradicts "
                    f"the folder of {rel} ({sample.label_name}){hint}",
                    path,
                )
        samples.append(sample)
    if not samples:
        raise DatasetError("lists no videos", path)
    return samples


def _ucf101(dataset: Dataset, number: int, split_dir: str | os.PathLike[str] | None) -> tuple[list[Sample], list[Sample], str]:
    train_name, test_name = f"trainlist{number:02d}.txt", f"testlist{number:02d}.txt"
    train_file = _find_file(dataset, train_name, split_dir)
    test_file = _find_file(dataset, test_name, split_dir)
    for name, found in ((train_name, train_file), (test_name, test_file)):
        if found is None:
            where = split_search_dirs(dataset.root, split_dir)[0]
            raise DatasetError(f"UCF101 split {number} needs {name}, which is missing", where / name)
    assert train_file is not None and test_file is not None
    index = _Index(dataset)
    train = _ucf_list(train_file, dataset, index, labelled=True)
    test = _ucf_list(test_file, dataset, index, labelled=False)
    both = {s.path for s in train} & {s.path for s in test}
    if both:
        clash = dataset.relative(next(s for s in test if s.path in both))
        raise DatasetError(f"{clash} is listed both here and in {train_file.name}", test_file)
    return _unique(train), _unique(test), f"UCF101 official split {number} ({train_file.name}, {test_file.name})"


# ----------------------------------------------------------------------------- HMDB51

HMDB_TRAIN, HMDB_TEST, HMDB_UNUSED = 1, 2, 0


def _hmdb51(dataset: Dataset, number: int, split_dir: str | os.PathLike[str] | None) -> tuple[list[Sample], list[Sample], str]:
    index = _Index(dataset)
    train: list[Sample] = []
    test: list[Sample] = []
    for name in dataset.classes:
        file_name = f"{name}_test_split{number}.txt"
        path = _find_file(dataset, file_name, split_dir)
        if path is None:
            where = split_search_dirs(dataset.root, split_dir)[0]
            raise DatasetError(f"HMDB51 split {number} needs a split file for class {name!r}, which is missing", where / file_name)
        entries = 0
        flags: dict[Path, tuple[int, int]] = {}  # video -> (flag, line): one video, one state
        for line_number, line in _read_lines(path):
            video, flag_text = _last_field(line)
            if flag_text not in {"0", "1", "2"}:
                raise DatasetError(f"line {line_number}: expected '<video>.avi <0|1|2>', got {line!r}", path)
            rel = f"{name}/{video}"
            sample = index.find(rel)
            if sample is None:
                raise _missing(path, line_number, rel, dataset)
            flag = int(flag_text)
            earlier = flags.setdefault(sample.path, (flag, line_number))
            if earlier[0] != flag:
                raise DatasetError(f"line {line_number}: {video} is marked {flag} here but {earlier[0]} at line {earlier[1]}"
                                   " (a video is in one state per split: 1 train, 2 test, 0 unused)", path)
            if flag == HMDB_TRAIN:
                train.append(sample)
            elif flag == HMDB_TEST:
                test.append(sample)
            entries += 1
        if not entries:
            raise DatasetError("lists no videos", path)
    return _unique(train), _unique(test), f"HMDB51 official split {number} (<class>_test_split{number}.txt)"


def _unique(samples: Sequence[Sample]) -> list[Sample]:
    seen: set[Path] = set()
    out = []
    for sample in samples:
        if sample.path not in seen:
            seen.add(sample.path)
            out.append(sample)
    return out


# ----------------------------------------------------------------------------- seeded, stratified


def group_key(sample: Sample) -> str | None:
    """The source video a clip was cut from, when its name says: ``"g08"`` for UCF101-style names
    (``v_Class_g08_c01``), the source and action for HMDB51-style ones
    (``April_09_brush_hair_u_nm_np1_ba_goo_0`` -> ``"April_09_brush_hair"``); else ``None``."""
    match = _UCF_GROUP.search(sample.path.stem)
    if match:
        return f"g{int(match.group(1)):02d}"
    match = _HMDB_CLIP.match(sample.path.stem)
    return match.group("source") if match else None


def _units(samples: Sequence[Sample]) -> list[list[Sample]]:
    """Clips that must stay together: each UCF101 group or HMDB51 source video is one unit (even a class's
    only one: its clips are never split), every clip without such a name a unit of its own."""
    groups: dict[str, list[Sample]] = {}
    singles: list[list[Sample]] = []
    for sample in samples:
        key = group_key(sample)
        if key is None:
            singles.append([sample])
        else:
            groups.setdefault(key, []).append(sample)
    return [groups[k] for k in sorted(groups)] + singles


def _carve(
    samples: Sequence[Sample], fractions: Sequence[float], seed: int, dataset: Dataset
) -> tuple[list[list[Sample]], list[str]]:
    """Split ``samples`` class by class into ``len(fractions) + 1`` parts; the
    last part (training) takes the rest and always keeps at least one unit.

    Each part with a non-zero fraction gets at least one unit of a class while
    the class has units to spare, earlier parts first: with two clips, one
    trains and one tests.  A class's shuffle depends on the seed and its name
    only, so adding a class leaves the others' split unchanged.
    """
    parts: list[list[Sample]] = [[] for _ in range(len(fractions) + 1)]
    notes: list[str] = []
    by_class: dict[int, list[Sample]] = {}
    for sample in samples:
        by_class.setdefault(sample.label_index, []).append(sample)
    for label in sorted(by_class):
        name = dataset.classes[label]
        units = _units(sorted(by_class[label], key=lambda s: s.path.name))
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])
        units = [units[i] for i in rng.permutation(len(units))]
        let_waiting_threads_in()  # numpy's many short GIL releases would keep the viewer's GUI thread out (core.gil)
        start = 0
        short = False
        for part, fraction in enumerate(fractions):
            wanted = max(1, int(math.floor(fraction * len(units) + 0.5))) if fraction > 0 else 0
            take = max(0, min(wanted, len(units) - start - 1))
            short = short or (wanted > 0 and take == 0)
            for unit in units[start : start + take]:
                parts[part].extend(unit)
            start += take
        if short:
            kind = "groups" if any(group_key(unit[0]) for unit in units) else "clips"
            notes.append(f"class {name} has too few {kind} ({len(units)}) to appear in every part")
        for unit in units[start:]:
            parts[-1].extend(unit)
    return parts, notes


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise InputError(f"{name} must be in [0, 1), got {value}")


def make_split(
    dataset: Dataset,
    *,
    scheme: str = "auto",
    official_split: int = 1,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    split_dir: str | os.PathLike[str] | None = None,
) -> Split:
    """Train / validation / test parts of ``dataset``.

    ``scheme="auto"`` uses UCF101's ``trainlist0N``/``testlist0N`` or HMDB51's
    ``<class>_test_splitN`` files when present (N = ``official_split``) and a
    seeded stratified split otherwise; ``test_fraction`` only applies then.
    ``val_fraction`` is always carved from the training part.
    """
    if scheme not in SCHEMES:
        raise InputError(f"split scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if official_split < 1:
        raise InputError(f"the official split number must be >= 1, got {official_split}")
    _check_fraction("validation fraction", val_fraction)
    _check_fraction("test fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise InputError(f"validation + test fractions must leave clips to train on, got {val_fraction} + {test_fraction}")
    if not dataset.samples:
        raise DatasetError("holds no videos", dataset.root)
    given = dataset.given_parts
    if scheme == "auto":
        scheme = "annotations" if given is not None else _detect_scheme(dataset, official_split, split_dir)

    if scheme == "annotations":
        train, val, test, description, notes = _annotated(dataset, given, val_fraction, test_fraction, seed)
    elif scheme == "stratified":
        (test, val, train), notes = _carve(dataset.samples, [test_fraction, val_fraction], seed, dataset)
        description = f"stratified split, seed {seed}: test {test_fraction:g}, validation {val_fraction:g}"
    else:
        reader = _ucf101 if scheme == "ucf101" else _hmdb51
        official_train, test, description = reader(dataset, official_split, split_dir)
        (val, train), notes = _carve(official_train, [val_fraction], seed, dataset)
        notes = [*notes, *_in_no_part(dataset, [*official_train, *test], scheme, description)]
        description += f"; validation {val_fraction:g} of train, seed {seed}"
    if not train:
        raise DatasetError(f"the split leaves no videos to train on ({description})", dataset.root)
    order = {s.path: i for i, s in enumerate(dataset.samples)}
    ordered = lambda part: tuple(sorted(part, key=lambda s: order[s.path]))  # noqa: E731
    return Split(ordered(train), ordered(val), ordered(test), scheme, description, (*dataset.notes, *notes))


def _in_no_part(dataset: Dataset, placed: list[Sample], scheme: str, description: str) -> list[str]:
    """A note naming the videos of the folder that an official split puts in no part (HMDB51 marks about a third
    of each class 0, unused; a video missing from UCF101's lists): trained and tested on by nobody, said once."""
    placed_paths = {s.path for s in placed}
    left = [dataset.relative(s) for s in dataset.samples if s.path not in placed_paths]
    if not left:
        return []
    why = "their split files mark them 0, unused" if scheme == "hmdb51" else "its lists name them nowhere"
    count = f"{len(left)} videos are" if len(left) != 1 else "1 video is"
    return [f"{count} in no part of {description.split(' (')[0]} ({why}): {listed(left)}"]


def require_official(split: Split, number: int, dataset: Dataset) -> str:
    """``split``'s scheme when it is an official one (``ucf101``/``hmdb51``); when official split ``number``
    was asked for and the folder has no official split files, a :class:`DatasetError` (never a silent
    seeded split, and nothing to average over for ``--splits``)."""
    if split.scheme in ("ucf101", "hmdb51"):
        return split.scheme
    raise DatasetError(f"official split {number} was asked for, but the folder has no official split files (UCF101 "
                       f"trainlist{number:02d}.txt/testlist{number:02d}.txt or HMDB51 <class>_test_split{number}.txt; "
                       "--split-dir DIR when they are elsewhere)", dataset.root)


def _annotated(dataset: Dataset, given: dict[str, tuple[Sample, ...]] | None, val_fraction: float, test_fraction: float, seed: int):
    """The annotation files' own split.  Without a labelled test list (Something-Something and
    Kinetics publish none) the validation list is the test part, and validation is carved from
    train as for the official UCF101 splits; with neither list, both are carved from train."""
    if given is None:
        raise DatasetError(f"the annotation files give no split (no split column or part file names) for {dataset.layout}", dataset.root)
    files = ", ".join(f.name for f in dataset.annotation_files)
    if not given["test"] and not given["val"]:
        (test, val, train), carved = _carve(given["train"], [test_fraction, val_fraction], seed, dataset)
        description = (f"the annotations' split ({files}): no validation or test list, so test {test_fraction:g} and "
                       f"validation {val_fraction:g} of train, seed {seed}")
        return train, val, test, description, carved
    if given["test"] and given["val"]:
        return list(given["train"]), list(given["val"]), list(given["test"]), f"the annotations' split ({files})", []
    test = given["test"] or given["val"]
    (val, train), carved = _carve(given["train"], [val_fraction], seed, dataset)
    which = "test list" if given["test"] else "validation list (as the test part)"
    description = f"the annotations' split ({files}): their {which}; validation {val_fraction:g} of train, seed {seed}"
    return train, val, list(test), description, carved


def _detect_scheme(dataset: Dataset, number: int, split_dir: str | os.PathLike[str] | None) -> str:
    """The official scheme whose split ``number`` files are there, else ``"stratified"``; official files of
    other splits only are an error (the user asked for split ``number``, not a seeded split)."""
    found = official_split_numbers(dataset, split_dir)
    for scheme, numbers in found.items():
        if number in numbers:
            return scheme
    if found:
        have = "; ".join(f"{scheme} split {', '.join(map(str, sorted(numbers)))}" for scheme, numbers in found.items())
        raise DatasetError(f"has no files of official split {number}, only of {have}", split_search_dirs(dataset.root, split_dir)[0])
    return "stratified"


_UCF_LIST = re.compile(r"^(?:train|test)list(\d+)\.txt$", re.IGNORECASE)
_HMDB_FILE = re.compile(r"_test_split(\d+)\.txt$", re.IGNORECASE)


def official_split_numbers(dataset: Dataset, split_dir: str | os.PathLike[str] | None) -> dict[str, set[int]]:
    """The official split numbers whose files are in the split folders, per scheme (``ucf101``, ``hmdb51``)."""
    found: dict[str, set[int]] = {}
    for folder in split_search_dirs(dataset.root, split_dir):  # existing folders only
        for entry in folder_entries(folder):
            for scheme, pattern in (("ucf101", _UCF_LIST), ("hmdb51", _HMDB_FILE)):
                match = pattern.search(entry.name)
                if match and entry.is_file():
                    found.setdefault(scheme, set()).add(int(match.group(1)))
    return found
