"""Kinetics-style annotation CSVs: one row per clip, a label and the clip's video.

The video is a ``path`` column (relative to the videos folder, the CSV's folder
or its parent), or a ``youtube_id`` with ``time_start``/``time_end`` (the
ActivityNet downloader's ``<id>_<start:06d>_<end:06d>.mp4``, or ``<id>.<ext>``),
found anywhere below the videos folder.  The split is a ``split`` column, else the
file's name (``train.csv``, ``val.csv``/``validate.csv``, ``test.csv``, or with the
ActivityNet crawler's prefix: ``kinetics-400_train.csv``); a folder holding such
files is read whole.  A file without labels (Kinetics' unlabelled test list) is
left out with a note: it cannot be scored.  Class indices are the sorted labels of
every row, found on disk or not (the official label map's order).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Iterator

from core.data.annotated import Entry, VideoFinder, build_dataset, part_from_file_name, part_name
from core.data.dataset import folder_entries, read_annotation_text
from core.errors import DatasetError

LABEL_COLUMNS = ("label", "class", "action", "class_name")
PATH_COLUMNS = ("path", "video", "video_path", "filename", "file")
ID_COLUMNS = ("youtube_id", "youtubeid", "yt_id", "id")
START_COLUMNS = ("time_start", "start", "start_s")
END_COLUMNS = ("time_end", "end", "end_s")
SPLIT_COLUMNS = ("split", "subset", "part")
SPLIT_FILE_STEMS = ("train", "val", "validate", "validation", "test")
HEADER_LIMIT = 64 * 1024  # characters of a CSV's first line read to find its header


def split_files(folder: Path) -> list[Path]:
    """The Kinetics split CSVs directly in ``folder``, train first: ``train.csv``, ``val.csv`` ..., and
    prefixed names (``kinetics-400_val.csv``) whose header names a label or a video column (so that
    other CSVs, such as a results table, never make a folder of class folders look like Kinetics)."""
    if not folder.is_dir():
        return []
    order = {part: n for n, part in enumerate(("train", "val", "test"))}
    found = []
    for path in folder_entries(folder):
        part = part_from_file_name(path) if path.suffix.lower() == ".csv" and path.is_file() else None
        if part is not None and (path.stem.lower() in SPLIT_FILE_STEMS or _has_annotation_header(path)):
            found.append((order[part], path.name, path))
    return [path for _, _, path in sorted(found)]


def _has_annotation_header(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = next(csv.reader([handle.readline(HEADER_LIMIT)]), [])  # a video named .csv has no line to end
    except OSError:
        return False
    return _column(header, LABEL_COLUMNS) is not None or _column(header, ID_COLUMNS) is not None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _seconds(value: str, what: str, file: Path, line: int) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise DatasetError(f"line {line}: {what} {value!r} is not a number of seconds", file) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise DatasetError(f"line {line}: {what} {value!r} is not a time in seconds", file)
    return seconds


def read_entries(file: Path, notes: list[str]) -> Iterator[Entry]:
    """The rows of one annotation CSV as :class:`Entry` objects (``notes`` gets what was left out)."""
    text = read_annotation_text(file, "the annotation file")
    rows = _csv_rows(text, file)
    if not rows or not any(cell.strip() for cell in rows[0][1]):
        raise DatasetError("line 1: expected a header row (label and path, or label and youtube_id)", file)
    header = rows[0][1]
    label, path, ident = _column(header, LABEL_COLUMNS), _column(header, PATH_COLUMNS), _column(header, ID_COLUMNS)
    start, end, split = _column(header, START_COLUMNS), _column(header, END_COLUMNS), _column(header, SPLIT_COLUMNS)
    file_part = part_from_file_name(file)
    if label is None:
        if file_part == "test":
            notes.append(f"{file.name} has no label column (an unlabelled test list): left out")
            return
        raise DatasetError(f"line 1: no label column (one of {', '.join(LABEL_COLUMNS)}) in the header {header}", file)
    if path is None and ident is None:
        raise DatasetError(f"line 1: no video column (one of {', '.join(PATH_COLUMNS + ID_COLUMNS)}) in the header {header}", file)
    for number, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DatasetError(f"line {number}: {len(row)} fields, the header has {len(header)}", file)
        name = " ".join(row[label].split())  # as Something-Something's reader: stray inner spaces are not a new class
        if not name:
            raise DatasetError(f"line {number}: empty label", file)
        part = part_name(row[split], file, number) if split is not None and row[split].strip() else file_part
        references, segment = _references(row, path, ident, start, end, file, number)
        yield Entry(references, name, part, file, number, segment)


def _csv_rows(text: str, file: Path) -> list[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on.  Only CR and LF end a line: a quoted field may hold one (the
    label is then one line), and Unicode's other line breaks (U+2028 in a label) are characters, as for any CSV tool."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, line = [], 1
    try:
        for row in reader:
            rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as err:
        raise DatasetError(f"line {line}: not readable as CSV ({err})", file) from None
    return rows


def _references(row: list[str], path: int | None, ident: int | None, start: int | None, end: int | None,
                file: Path, number: int) -> tuple[tuple[str, ...], tuple[float, float] | None]:
    """The file names to look for, best first, and the annotated seconds (for the whole video, the last name)."""
    if path is not None and row[path].strip():
        return (row[path].strip(),), None
    if ident is None or not row[ident].strip():
        raise DatasetError(f"line {number}: no video path or youtube id", file)
    video_id = row[ident].strip()
    if start is None or end is None or not row[start].strip() or not row[end].strip():
        return (video_id,), None
    t0 = _seconds(row[start], "time_start", file, number)
    t1 = _seconds(row[end], "time_end", file, number)
    if t1 <= t0:
        raise DatasetError(f"line {number}: time_end {row[end]} is not after time_start {row[start]}", file)
    return (f"{video_id}_{int(t0):06d}_{int(t1):06d}", video_id), (t0, t1)


def read_kinetics(source: Path, videos: Path | None = None):
    """The dataset a Kinetics-style CSV (or a folder of ``train.csv``/``val.csv``/``test.csv``) describes."""
    files = [source] if source.is_file() else split_files(source)
    if not files:
        raise DatasetError(f"holds no annotation CSV ({', '.join(s + '.csv' for s in SPLIT_FILE_STEMS)})", source)
    folder = files[0].parent
    extra = [] if videos is None else [videos]
    finder = VideoFinder(path_roots=[*extra, folder, folder.parent], walk_roots=extra or [folder])
    notes: list[str] = []
    entries = [entry for file in files for entry in read_entries(file, notes)]
    if not entries:
        raise DatasetError("lists no labelled videos", source)
    _check_label_case(entries)
    dataset = build_dataset(entries, finder, classes=None, layout="kinetics", sources=files, where=source,
                            fallback_note="were found only as the whole untrimmed video <id>.<ext>: only their annotated seconds are used")
    return dataset.with_notes(notes)


def _check_label_case(entries: list[Entry]) -> None:
    """Labels that differ only in case are one class misspelt, not two: an error naming both lines."""
    first: dict[str, Entry] = {}
    for entry in entries:
        earlier = first.setdefault(entry.label.casefold(), entry)
        if earlier.label != entry.label:
            raise DatasetError(f"line {entry.line}: label {entry.label!r} differs only in case from {earlier.label!r} "
                               f"({earlier.file.name} line {earlier.line})", entry.file)
