"""A dataset is a folder of class sub-folders of videos (the UCF101 / HMDB51 layout),
or annotation files that name the videos (Kinetics CSVs, Something-Something JSON);
:func:`core.data.layouts.discover_dataset` reads every layout, this module the first.

Class order is alphabetical, or the order of a ``classInd.txt`` when there is
one (``"1 ApplyEyeMakeup"``: 1-based, as UCF101 ships it), so label indices
match the official ones.  Only the listing happens here; a video that cannot
be decoded is the reader's business (the training loop skips and lists it).
Entries that are one file (a symbolic or hard link to another entry's video) are
one sample, the others left out with a note (:func:`one_sample_per_file`), so a
linked video never lands in both the train and the test part.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from core.errors import DatasetError, cannot_be_read

if TYPE_CHECKING:
    from core.video import Video

VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v")
CLASS_INDEX_NAME = "classInd.txt"
# Where the official split files usually live, relative to the dataset root or its parent.
SPLIT_FOLDER_NAMES: tuple[str, ...] = ("ucfTrainTestlist", "testTrainMulti_7030_splits")
_METADATA_SUFFIXES = frozenset({".txt", ".json", ".csv", ".md", ".rar", ".zip", ".pkl", ".yaml", ".yml"})


@dataclass(frozen=True)
class Sample:
    """One video and its label."""

    path: Path
    label_index: int
    label_name: str
    part: str | None = None  # "train", "val" or "test" when annotation files give the split
    segment: tuple[float, float] | None = None  # the annotated seconds of an untrimmed video (Kinetics), else the whole file

    def open(self, **options: object) -> "Video":
        """The sample's video: the annotated segment when there is one (:func:`core.video.open_segment`)."""
        from core.video import open_segment

        return open_segment(self.path, self.segment, **options)


@dataclass(frozen=True)
class Dataset:
    """The videos under ``root``, in a stable order (class, then file name)."""

    root: Path
    classes: tuple[str, ...]
    samples: tuple[Sample, ...]
    class_index_file: Path | None = None  # the classInd.txt the class order came from, if any
    layout: str = "folders"  # "folders", "kinetics" or "something-something"
    annotation_files: tuple[Path, ...] = ()  # the files an annotated layout was read from
    notes: tuple[str, ...] = ()  # what reading left out (annotated videos not on disk, links to nothing or to another entry's file)
    same_files: tuple[tuple[str, str], ...] = ()  # (entry left out, the video kept): relative paths of one file listed twice

    @property
    def given_parts(self) -> dict[str, tuple[Sample, ...]] | None:
        """The split the annotation files give (``None`` when they give none): part -> samples."""
        if not self.samples or any(s.part is None for s in self.samples):
            return None
        return {part: tuple(s for s in self.samples if s.part == part) for part in ("train", "val", "test")}

    def with_notes(self, notes: Iterable[str]) -> "Dataset":
        from dataclasses import replace

        return replace(self, notes=self.notes + tuple(notes))

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def relative(self, sample: Sample) -> str:
        """``Class/video.avi``: the sample's path as the split files write it."""
        return sample.path.relative_to(self.root).as_posix()

    def left_out_as(self, rel: str) -> str | None:
        """The kept video whose file the entry ``rel`` is (a link left out: one file, one sample), else ``None``."""
        return self._kept_for.get(rel.casefold())

    @cached_property
    def _kept_for(self) -> dict[str, str]:
        return {dropped.casefold(): kept for dropped, kept in self.same_files}

    def check_trainable(self) -> None:
        """Training tells classes apart: videos of fewer than two classes are an error (often a folder read
        as another layout than meant, e.g. an annotation folder's ``videos/`` taken for the one class)."""
        present = sorted({s.label_name for s in self.samples})
        if len(present) < 2:
            absent = [name for name in self.classes if name not in present]
            why = f"; {listed(absent)}: no video on disk" if absent else ""
            missing = next((note for note in self.notes if "not on disk" in note), "")  # names the annotation file and line
            raise DatasetError(f"has videos of one class only ({', '.join(present) or 'none'}): training needs at least two{why}"
                               + (f" ({missing})" if missing else ""), self.root)

    def counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.classes}
        for sample in self.samples:
            counts[sample.label_name] += 1
        return counts


def folded(text: str) -> str:
    """``text`` compared without case and whatever Unicode form spells it (a copy unpacked on macOS names 'é' as e and
    a combining accent, the split files and class lists as one letter)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def listed(names: Sequence[str], limit: int = 5) -> str:
    """``"a, b, c, d, e and 7 more"``: the first ``limit`` of ``names`` for a one-line note or error."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file()


def folder_entries(folder: Path) -> list[Path]:
    """What ``folder`` holds; a folder that cannot be listed (no permission, a drive gone) is a :class:`DatasetError`
    naming it, not a bare ``PermissionError``."""
    try:
        return list(folder.iterdir())
    except OSError as err:
        raise DatasetError(cannot_be_read(err), folder) from None


def _videos_in(folder: Path) -> list[Path]:
    # Hidden files are skipped: they include the temporaries of interrupted atomic writes.
    return sorted(p for p in folder_entries(folder) if is_video_file(p))


def _broken_links(folder: Path) -> list[Path]:
    """Video names in ``folder`` that are links to nothing (a moved or unmounted copy): said, not silently dropped."""
    return sorted(p for p in folder_entries(folder) if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_symlink() and not p.exists())


def file_identity(path: Path) -> tuple[int, int] | str:
    """The file an entry leads to: device and inode, so a symbolic or a hard link to a video is that video; the
    resolved path where the file system numbers no inodes, or the file went since it was listed (the reader says so)."""
    try:
        info = path.stat()
    except OSError:
        return os.path.realpath(path)
    return (info.st_dev, info.st_ino) if info.st_ino else os.path.realpath(path)


def one_sample_per_file(samples: Sequence[Sample], root: Path) -> tuple[tuple[Sample, ...], tuple[tuple[str, str], ...], list[str]]:
    """``samples`` with each file once, the pairs (entry left out, video kept) and notes saying so.

    Links are how datasets are built, but one file listed twice would weigh double in training and could land in
    both train and test.  Of each file the entry that is no symbolic link is kept (the video where it lives), else
    the first in order; the others are left out with a note, and a second note when one is under another class
    (its label is ambiguous).  An annotated segment is a sample of its own: other seconds of one file are no duplicate.
    """
    by_file: dict[tuple[object, object], list[int]] = {}
    for position, sample in enumerate(samples):
        by_file.setdefault((file_identity(sample.path), sample.segment), []).append(position)
    kept_for: dict[int, Sample] = {}  # position left out -> the sample kept
    for positions in by_file.values():
        if len(positions) == 1:
            continue
        kept = next((samples[p] for p in positions if not samples[p].path.is_symlink()), samples[positions[0]])
        kept_for.update({p: kept for p in positions if samples[p] is not kept})
    if not kept_for:
        return tuple(samples), (), []
    rel = lambda sample: sample.path.relative_to(root).as_posix()  # noqa: E731
    pairs = tuple((rel(samples[p]), rel(kept)) for p, kept in sorted(kept_for.items()))
    notes = [f"{len(pairs)} videos are the same file as another video (a link to it) and are left out, so that no file is "
             "two samples: " + listed([f"{dropped} (same file as {kept})" for dropped, kept in pairs])]
    other_class = [f"{rel(samples[p])} ({samples[p].label_name}; kept as {kept.label_name})"
                   for p, kept in sorted(kept_for.items()) if samples[p].label_name != kept.label_name]
    if other_class:
        notes.append(f"{len(other_class)} of the videos left out as the same file are under another class than the video "
                     "kept, so that file's label is ambiguous: " + listed(other_class))
    return tuple(s for p, s in enumerate(samples) if p not in kept_for), pairs, notes


def split_search_dirs(root: Path, split_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for ``classInd.txt`` and split files, most specific first."""
    if split_dir is not None:
        folder = Path(split_dir)
        if not folder.is_dir():
            raise DatasetError("split folder does not exist or is not a folder", folder)
        return [folder]
    dirs = [root]
    for base in (root, root.parent):
        dirs.extend(base / name for name in SPLIT_FOLDER_NAMES)
    return [d for d in dirs if d.is_dir()]


def find_class_index(root: Path, split_dir: str | os.PathLike[str] | None = None) -> Path | None:
    for folder in split_search_dirs(root, split_dir):
        candidate = folder / CLASS_INDEX_NAME
        if candidate.is_file():
            return candidate
    return None


# The largest lists published (Kinetics-700's CSV, Something-Something's train.json) are about 30 MB: a file past this
# is a video or an archive picked by mistake, which was read whole into memory before its text was found wanting.
MAX_ANNOTATION_BYTES = 512 * 1024 * 1024


def read_annotation_text(path: Path, what: str) -> str:
    """The text of an annotation, split or class-index file (``what`` names it in errors); a :class:`DatasetError`
    naming the file for one that cannot be read or is too large to be one."""
    try:
        size = path.stat().st_size
        if size > MAX_ANNOTATION_BYTES:
            raise DatasetError(f"is {size / 2**20:,.0f} MB: too large for {what} (the largest published lists are about "
                               "30 MB); is it the right file?", path)
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read {what} ({err})", path) from None


def read_class_index(path: Path) -> tuple[str, ...]:
    """Class names in label order from ``"<1-based index> <name>"`` lines."""
    text = read_annotation_text(path, "the class index")
    by_index: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(None, 1)  # a class folder's name may hold spaces
        if not fields:
            continue
        if len(fields) != 2 or not fields[0].isdigit():
            raise DatasetError(f"line {number}: expected '<index> <class name>', got {line.strip()!r}", path)
        index, name = int(fields[0]), fields[1].strip()
        if index in by_index:
            raise DatasetError(f"line {number}: index {index} appears twice", path)
        if name in by_index.values():
            raise DatasetError(f"line {number}: class {name!r} appears twice", path)
        by_index[index] = name
    if not by_index:
        raise DatasetError("lists no classes", path)
    if sorted(by_index) != list(range(1, len(by_index) + 1)):
        raise DatasetError(f"indices must run 1..{len(by_index)} without gaps, got {sorted(by_index)[:5]}...", path)
    return tuple(by_index[i] for i in range(1, len(by_index) + 1))


def _class_folders(root: Path, ignore: Iterable[Path]) -> dict[str, list[Path]]:
    """Sub-folder name -> its videos, for every sub-folder that can be a class."""
    ignored = {p.resolve() for p in ignore}
    folders: dict[str, list[Path]] = {}
    for child in sorted(folder_entries(root)):
        if not child.is_dir() or child.name.startswith(".") or child.name in SPLIT_FOLDER_NAMES:
            continue
        if child.resolve() in ignored:
            continue
        videos = _videos_in(child)
        if videos:
            folders[child.name] = videos
            continue
        entries = [p for p in folder_entries(child) if not p.name.startswith(".")]
        if entries and all(p.is_file() and p.suffix.lower() in _METADATA_SUFFIXES for p in entries):
            continue  # a folder of notes or split files, not a class
        if any(p.is_dir() and _videos_in(p) for p in entries):
            raise DatasetError(
                "holds no videos, but its sub-folders do: is this folder the dataset root?", child
            )
        raise DatasetError(f"class folder holds no videos (looked for {', '.join(VIDEO_EXTENSIONS)})", child)
    return folders


def _folders_by_class(folders: dict[str, list[Path]], classes: Sequence[str],
                      class_index: Path) -> tuple[dict[str, str], dict[str, list[Path]], list[str]]:
    """Class -> folder name and class -> videos, with a class of ``classes`` found in the one folder whose name
    differs from it only in case (UCF101's ``classInd.txt`` says ``HandstandPushups`` where copies named from
    the videos, ``v_HandStandPushups_g01_c01.avi``, have ``HandStandPushups/``) or Unicode form, and a note
    naming each such."""
    folder_of = {name: name for name in folders}
    by_case: dict[str, list[str]] = {}
    for folder in folders:
        by_case.setdefault(folded(folder), []).append(folder)
    wanted = set(classes)
    renamed = []
    for name in classes:
        if name in folders:
            continue
        others = [f for f in by_case.get(folded(name), []) if f not in wanted]
        if len(others) == 1:
            folder_of.pop(others[0])
            folder_of[name] = others[0]
            renamed.append(f"{name} is the folder {others[0]}")
    if not renamed:
        return folder_of, folders, []
    notes = [f"{len(renamed)} classes of {class_index.name} are folders named with other upper/lower case: {listed(renamed)}"]
    return folder_of, {name: folders[folder] for name, folder in folder_of.items()}, notes


def discover_class_folders(root: str | os.PathLike[str], *, split_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """List the videos under ``root/<class>/`` (:func:`core.data.layouts.discover_dataset` reads every layout).

    ``split_dir`` is where ``classInd.txt`` and the split files are, when not
    in ``root``, ``root/ucfTrainTestlist`` or beside ``root``.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise DatasetError("dataset folder does not exist", root_path)
    if not root_path.is_dir():
        raise DatasetError("is not a folder (a dataset is a folder of class sub-folders of videos)", root_path)
    folders = _class_folders(root_path, ignore=[] if split_dir is None else [Path(split_dir)])
    folder_of = {name: name for name in folders}  # class -> its folder's name
    notes: list[str] = []
    class_index = find_class_index(root_path, split_dir)
    if class_index is not None:
        classes = read_class_index(class_index)
        folder_of, folders, notes = _folders_by_class(folders, classes, class_index)
        for name in classes:
            if name not in folders:
                folder = root_path / name
                problem = "class folder holds no videos" if folder.is_dir() else f"is listed in {class_index.name} but does not exist"
                raise DatasetError(problem, folder)
        extra = sorted(set(folders) - set(classes))
        if extra:
            raise DatasetError(f"holds videos but is not a class of {class_index}", root_path / extra[0])
    else:
        classes = tuple(sorted(folders))
    if not classes:
        raise DatasetError(
            f"holds no class folders of videos (expected {root_path}/<class>/<video>{VIDEO_EXTENSIONS[0]})", root_path
        )
    samples = tuple(
        Sample(path=video, label_index=index, label_name=name)
        for index, name in enumerate(classes)
        for video in folders[name]
    )
    broken = [link for name in classes for link in _broken_links(root_path / folder_of[name])]
    if broken:
        notes.append(f"{len(broken)} videos are links to missing files and are left out: "
                     + listed([p.relative_to(root_path).as_posix() for p in broken]))
    samples, same_files, duplicates = one_sample_per_file(samples, root_path)
    return Dataset(root=root_path, classes=classes, samples=samples, class_index_file=class_index,
                   notes=(*notes, *duplicates), same_files=same_files)
