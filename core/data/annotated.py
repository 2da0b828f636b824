"""What the annotation-file layouts share: finding the video an annotation names, and
building a :class:`~core.data.dataset.Dataset` whose split comes from the files.

Kinetics (``core.data.kinetics``) and Something-Something (``core.data.ssv2``)
each turn their files into :class:`Entry` rows (video reference, label, part,
file and line); this module finds each row's video on disk and builds the
dataset.  An annotation naming a video that is not on disk is listed in the
dataset's notes and left out (a Kinetics copy always misses some deleted
YouTube videos); a malformed annotation is a :class:`DatasetError` naming its
file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from core.data.dataset import Dataset, Sample, listed, one_sample_per_file
from core.errors import DatasetError

# Part names the files use, mapped to the split's parts.
PART_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validate": "val", "validation": "val",
    "test": "test", "testing": "test",
}
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".gif", ".mpg", ".mpeg")


@dataclass(frozen=True)
class Entry:
    """One annotated video, before it is found on disk."""

    references: tuple[str, ...]  # relative paths or file stems to look for, best first
    label: str
    part: str | None  # "train", "val", "test" or None (no split given)
    file: Path
    line: int
    segment: tuple[float, float] | None = None  # the seconds annotated, used when only a whole video is found


def part_name(value: str, file: Path, line: int) -> str:
    """``"validate"`` -> ``"val"``; anything unknown is an annotation error."""
    part = PART_NAMES.get(value.strip().lower())
    if part is None:
        raise DatasetError(f"line {line}: unknown split {value!r} (expected one of {', '.join(sorted(set(PART_NAMES)))})", file)
    return part


def part_from_file_name(file: Path) -> str | None:
    """``train.csv`` -> ``"train"``, ``kinetics400_val.csv`` -> ``"val"``; ``None`` when the name says nothing."""
    words = file.stem.lower().replace("-", "_").split("_")
    for word in reversed(words):
        if word in PART_NAMES:
            return PART_NAMES[word]
    return None


def _folder_key(name: str) -> str:
    """A label as a folder name spells it, whichever way (``arm_wrestling``, ``Arm wrestling``)."""
    return " ".join(name.replace("_", " ").split()).casefold()


class VideoFinder:
    """Finds an annotation's video: a relative path under one of ``path_roots`` first, then by
    file stem anywhere below ``walk_roots`` (indexed once, on the first stem lookup; the walk
    is kept to folders the user named or the annotations' own, never their parents).  A stem
    found more than once is the file in a folder named as the annotation's label (the downloaders'
    ``<split>/<label>/<clip>``), else the first in the walk, and the reference is kept in
    :attr:`ambiguous` with every file of its name, for the dataset's notes."""

    def __init__(self, path_roots: Sequence[Path], walk_roots: Sequence[Path]) -> None:
        self.path_roots = [f for f in dict.fromkeys(path_roots) if f.is_dir()]
        self.folders = [f for f in dict.fromkeys(walk_roots) if f.is_dir()]
        self._stems: dict[str, Path] | None = None
        self._more: dict[str, list[Path]] = {}  # stem -> the other files of that stem, in walk order
        self.ambiguous: dict[str, tuple[Path, ...]] = {}  # reference -> its files (the one used first)

    def root_of(self, videos: Sequence[Path]) -> Path:
        """The folder that recorded paths are relative to: the first of the roots given (videos folder, the
        annotations' folder, its parent) that holds every video, so that it does not change with which of
        the annotated videos happen to be on disk; their common folder when no root holds them all."""
        for folder in dict.fromkeys([*self.folders, *self.path_roots]):
            if all(p.is_relative_to(folder) for p in videos):
                return folder
        return Path(os.path.commonpath([str(p.parent) for p in videos]))

    def find(self, reference: str, label: str | None = None) -> Path | None:
        """The file ``reference`` names (``label``: the annotation's class, which picks among files of one name)."""
        # string operations, no Path objects, until a file is found: Kinetics-400's 246,534 training rows, most of
        # them not on disk, are that many look-ups (their Path objects were two thirds of a 7 s listing)
        ref = reference.replace("\\", "/").strip()
        if not ref:
            return None
        name = ref.rpartition("/")[2]
        stem, suffix = os.path.splitext(name)
        is_video = suffix.lower() in VIDEO_SUFFIXES and bool(stem)
        if "/" in ref or is_video:
            for folder in self.path_roots:
                candidate = folder / ref
                if candidate.is_file():
                    return candidate
        key = stem if is_video else name
        first = self._stem_index().get(key)
        more = self._more.get(key) if first is not None else None
        if not more:
            return first
        files = [first, *more]
        if label is not None:
            own = [f for f in files if _folder_key(f.parent.name) == _folder_key(label)]
            if len(own) == 1:
                return own[0]
        self.ambiguous[reference] = tuple(files)
        return first

    def _stem_index(self) -> dict[str, Path]:
        if self._stems is None:
            stems: dict[str, Path] = {}
            for folder in self.folders:
                visited: set[str] = set()
                for base, dirs, files in os.walk(folder, followlinks=True):  # a linked split folder is common
                    real = os.path.realpath(base)
                    if real in visited:  # a link back up the tree: walked already
                        dirs[:] = []
                        continue
                    visited.add(real)
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in sorted(files):
                        path = Path(base, name)
                        if not name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES:
                            if stems.setdefault(path.stem, path) is not path:
                                self._more.setdefault(path.stem, []).append(path)
            self._stems = stems
        return self._stems


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _where(entry: Entry) -> str:
    return f"{entry.references[0]} ({entry.file.name} line {entry.line})"


def build_dataset(
    entries: Iterable[Entry],
    finder: VideoFinder,
    *,
    classes: Sequence[str] | None,
    layout: str,
    sources: Sequence[Path],
    where: Path,
    fallback_note: str | None = None,
) -> Dataset:
    """The dataset of the ``entries`` found on disk, classes in ``classes`` order (or the sorted labels of
    every entry, found or not: a class whose videos are all missing keeps its index).

    ``fallback_note``: what it means that an entry was found by a later reference than its first (for
    Kinetics: the untrimmed video, of which the sample keeps the entry's ``segment``); such entries are
    listed in a note.
    """
    entries = list(entries)
    found: list[tuple[Entry, Path]] = []
    whole: set[int] = set()  # entries found as the whole video their segment is part of (by id())
    missing: list[Entry] = []
    fallbacks: list[Entry] = []
    seen: dict[Path, Entry] = {}
    for entry in entries:
        hits = ((n, p) for n, p in enumerate(finder.find(ref, entry.label) for ref in entry.references) if p is not None)
        which, path = next(hits, (0, None))
        if path is None:
            missing.append(entry)
            continue
        earlier = seen.get(path)
        if earlier is not None:
            both = " (both found only as this whole video: give each segment its own file)" if which > 0 else ""
            raise DatasetError(
                f"line {entry.line}: {entry.references[0]} is annotated twice (first at {earlier.file.name} line {earlier.line}){both}",
                entry.file,
            )
        if which > 0:
            fallbacks.append(entry)
            whole.add(id(entry))
        seen[path] = entry
        found.append((entry, path))
    if not found:
        looked = ", ".join(str(f) for f in finder.folders) or "no existing folder"
        example = f" (e.g. {missing[0].references[0]}, {missing[0].file.name} line {missing[0].line})" if missing else ""
        raise DatasetError(f"none of the annotated videos is on disk{example}; looked in {looked}", where)
    names = tuple(classes) if classes is not None else tuple(sorted({e.label for e in entries}))
    index = {name: i for i, name in enumerate(names)}
    for entry, _ in found:
        if entry.label not in index:
            raise DatasetError(f"line {entry.line}: label {entry.label!r} is not one of the {len(names)} classes", entry.file)
    root = finder.root_of([p for _, p in found])
    order = sorted(found, key=lambda item: (index[item[0].label], item[1].relative_to(root).as_posix()))
    samples = tuple(Sample(path=p, label_index=index[e.label], label_name=e.label, part=e.part,
                           segment=e.segment if id(e) in whole else None) for e, p in order)
    samples, same_files, duplicates = one_sample_per_file(samples, root)  # rows naming links to one video file
    notes = []
    if missing:
        notes.append(f"{len(missing)} annotated videos are not on disk and are left out: {listed([_where(m) for m in missing])}")
    if classes is None:
        empty = sorted(set(names) - {e.label for e, _ in found})
        if empty:
            notes.append(f"{len(empty)} classes have no video on disk (kept, so class indices follow the annotations): {listed(empty)}")
    if fallbacks and fallback_note:
        notes.append(f"{len(fallbacks)} annotations {fallback_note}: {listed([_where(f) for f in fallbacks])}")
    twice = []
    for entry, path in found:
        files = next((finder.ambiguous[ref] for ref in entry.references if path in finder.ambiguous.get(ref, ())), ())
        if files:
            others = ", ".join(_shown(f, root) for f in files if f != path)
            twice.append(f"{_where(entry)}: {_shown(path, root)}, not {others}")
    if twice:
        notes.append(f"{len(twice)} annotated videos have more than one file of their name, none of them in a folder named as "
                     f"their label; the first found is used: {listed(twice)}")
    return Dataset(root=root, classes=names, samples=samples, layout=layout, annotation_files=tuple(sources),
                   notes=(*notes, *duplicates), same_files=same_files)
