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
from core.data.dataset import read_annotation_text
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


def _load(file: Path) -> tuple[Any, str]:
    """The file's JSON and its text (which error messages search for an entry's line)."""
    text = read_annotation_text(file, "the annotation file")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as err:
        raise DatasetError(f"line {err.lineno}: not valid JSON ({err.msg})", file) from None
    except RecursionError:
        raise DatasetError("not valid JSON (nested too deeply)", file) from None
    except ValueError as err:  # a number of more than 4300 digits
        raise DatasetError(f"not valid JSON ({err})", file) from None


class _Lines:
    """The 1-based lines of successive occurrences in ``text`` (for error messages): each search goes on from the
    last one found, and the line breaks are counted over the text between them only (counted from the start for
    each entry, Something-Something's 169,000-entry train.json took minutes to read)."""

    def __init__(self, text: str) -> None:
        self.text, self.at, self.line = text, 0, 1

    def next(self, needle: str) -> int:
        """The line of ``needle``'s next occurrence (the last line found when there is none)."""
        found = self.text.find(needle, self.at)
        if found >= 0:
            self.line += self.text.count("\n", self.at, found)
            self.at = found + 1
        return self.line


def read_labels(file: Path) -> tuple[str, ...]:
    """Class names in index order, as :func:`template_class` writes them: a label list in the templates' own form
    (``"Pushing [something] from left to right"``) names the same classes as the released one."""
    data, text = _load(file)
    if not isinstance(data, dict) or not data:
        raise DatasetError("line 1: expected an object of class name -> index", file)
    by_index: dict[int, str] = {}
    index_of: dict[str, int] = {}
    for name, value in data.items():
        number = str(value)
        if not number.isdigit() or int(number) in by_index:
            line = _Lines(text).next(json.dumps(name))
            raise DatasetError(f"line {line}: class {name!r} has index {value!r}: expected a distinct number", file)
        label = template_class(name)
        if label in index_of:
            line = _Lines(text).next(json.dumps(name))
            raise DatasetError(f"line {line}: class {name!r} is class {index_of[label]} {by_index[index_of[label]]!r} again", file)
        by_index[int(number)], index_of[label] = label, int(number)
    if sorted(by_index) != list(range(len(by_index))):
        raise DatasetError(f"class indices must run 0..{len(by_index) - 1} without gaps", file)
    return tuple(by_index[i] for i in range(len(by_index)))


def template_class(template: str) -> str:
    """``"Holding [something] next to [something]"`` -> ``"Holding something next to something"``."""
    return " ".join(template.replace("[", "").replace("]", "").split())


def read_part(file: Path, part: str | None) -> list[Entry] | None:
    """The labelled videos of one part file; ``None`` for an unlabelled test list (ids only)."""
    data, text = _load(file)
    if not isinstance(data, list):
        raise DatasetError("line 1: expected a list of {id, template} objects", file)
    if part == "test" and all(isinstance(i, dict) and "template" not in i and "label" not in i for i in data):
        return None
    lines = _Lines(text)
    entries = []
    for item in data:
        ident = item.get("id") if isinstance(item, dict) else None
        line = lines.next(json.dumps(str(ident)) if ident is not None else "{")
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
