"""Something-Something-style JSON annotations: a label list and per-part video lists.

``labels.json`` (or ``something-something-v2-labels.json``) maps each class
name to its index (``{"Approaching something with your camera": "0", ...}``);
``train.json`` / ``validation.json`` (and a labelled ``test.json`` when there
is one) list ``{"id": "78687", "template": "Holding [something] next to
[something]", "label": "holding potato next to ..."}``.  The class is the
template with its brackets removed (as the label list writes it); the video is
``<id>.webm`` (any video suffix) below the videos folder (``videos``,
``20bn-something-something-v2`` or the annotations' folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.data.annotated import Entry, VideoFinder, build_dataset
from core.errors import DatasetError

LABEL_FILE_NAMES = ("labels.json", "something-something-v2-labels.json")
PART_FILE_NAMES = {"train": ("train.json", "something-something-v2-train.json"),
                   "val": ("validation.json", "something-something-v2-validation.json"),
                   "test": ("test.json", "something-something-v2-test.json")}
VIDEO_FOLDER_NAMES = ("videos", "20bn-something-something-v2")


def label_file(folder: Path) -> Path | None:
    """The label list in ``folder`` when it sits beside at least one part file."""
    labels = next((folder / n for n in LABEL_FILE_NAMES if (folder / n).is_file()), None)
    has_part = any((folder / n).is_file() for names in PART_FILE_NAMES.values() for n in names)
    return labels if labels is not None and has_part else None


def _load(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read the annotation file ({err})", file) from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"line {err.lineno}: not valid JSON ({err.msg})", file) from None


def _line_of(text: str, needle: str, start: int) -> tuple[int, int]:
    """The 1-based line of ``needle``'s next occurrence from ``start`` (for error messages)."""
    at = text.find(needle, start)
    at = start if at < 0 else at
    return text.count("\n", 0, at) + 1, at + 1


class _LineCursor:
    """Lines of successive entries of one file, each counted from the previous one's: counting from the
    file's start for every entry was quadratic (Something-Something v2's train.json, 168,913 entries
    in 30 MB, took about 15 minutes to list)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line = 1

    def next_line(self, needle: str) -> int:
        """The line of ``needle``'s next occurrence (where the last one was, when there is none)."""
        found = self.text.find(needle, self.at)
        if found >= 0:
            self.line += self.text.count("\n", self.at, found)
            self.at = found + 1
        return self.line


def read_labels(file: Path) -> tuple[str, ...]:
    """Class names in index order."""
    data = _load(file)
    if not isinstance(data, dict) or not data:
        raise DatasetError("line 1: expected an object of class name -> index", file)
    by_index: dict[int, str] = {}
    for name, value in data.items():
        text = str(value)
        if not text.isdigit() or int(text) in by_index:
            line, _ = _line_of(file.read_text(encoding="utf-8-sig"), json.dumps(name), 0)
            raise DatasetError(f"line {line}: class {name!r} has index {value!r}: expected a distinct number", file)
        by_index[int(text)] = " ".join(str(name).split())
    if sorted(by_index) != list(range(len(by_index))):
        raise DatasetError(f"class indices must run 0..{len(by_index) - 1} without gaps", file)
    return tuple(by_index[i] for i in range(len(by_index)))


def template_class(template: str) -> str:
    """``"Holding [something] next to [something]"`` -> ``"Holding something next to something"``."""
    return " ".join(template.replace("[", "").replace("]", "").split())


def read_part(file: Path, part: str | None) -> list[Entry] | None:
    """The labelled videos of one part file; ``None`` for an unlabelled test list (ids only)."""
    data = _load(file)
    if not isinstance(data, list):
        raise DatasetError("line 1: expected a list of {id, template} objects", file)
    if part == "test" and all(isinstance(i, dict) and "template" not in i and "label" not in i for i in data):
        return None
    cursor = _LineCursor(file.read_text(encoding="utf-8-sig"))
    entries = []
    for item in data:
        ident = item.get("id") if isinstance(item, dict) else None
        line = cursor.next_line(json.dumps(str(ident)) if ident is not None else "{")
        if not isinstance(item, dict) or not isinstance(ident, (str, int)) or not str(ident).strip():
            raise DatasetError(f"line {line}: expected an object with an id, got {json.dumps(item)[:60]}", file)
        template = item.get("template", item.get("label"))
        if not isinstance(template, str) or not template.strip():
            raise DatasetError(f"line {line}: video {ident} has no template or label", file)
        entries.append(Entry((str(ident).strip(),), template_class(template), part, file, line))
    return entries


def read_ssv2(source: Path, videos: Path | None = None):
    """The dataset of a Something-Something folder (or its label list's path)."""
    folder = source.parent if source.is_file() else source
    labels = source if source.is_file() else label_file(folder)
    if labels is None:
        raise DatasetError(f"holds no Something-Something label list ({', '.join(LABEL_FILE_NAMES)}) beside a train or validation list", source)
    classes = read_labels(labels)
    files, entries, notes = [labels], [], []
    for part, names in PART_FILE_NAMES.items():
        file = next((folder / n for n in names if (folder / n).is_file()), None)
        if file is None:
            continue
        part_entries = read_part(file, part)
        if part_entries is None:
            notes.append(f"{file.name} is unlabelled: left out")
            continue
        files.append(file)
        entries.extend(part_entries)
    if not entries:
        raise DatasetError("lists no labelled videos", source)
    roots = [videos] if videos is not None else [folder / n for n in VIDEO_FOLDER_NAMES if (folder / n).is_dir()] or [folder]
    finder = VideoFinder(path_roots=roots, walk_roots=roots)
    return build_dataset(entries, finder, classes=classes, layout="something-something", sources=files, where=source).with_notes(notes)
