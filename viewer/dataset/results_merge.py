"""Put a per-video results file's records on the table's rows, also when it was written on another machine.

``eval`` on a GPU server names each video by its absolute path there and by its path
relative to the dataset root (the header's ``dataset``); on a laptop the same dataset
lives elsewhere.  A record lands on the row with its absolute path, else the row with
its relative path (the record's own, or its path under the header's root), else the
one row whose last two path parts, or file name, are the record's; a row of another
class than the record's, or of another segment (a Kinetics row is the annotated seconds
of an untrimmed file; a record of the whole file, as files written before records kept
their segment are, is not its result), is never its video.  A record of a row's own
path (absolute, or in the dataset) scored as another class is of a video relabelled
since: its prediction answers the old label, and it is left out (counted).  A
record that matches no row is a video the table does not list: it becomes a row of
its own.  Plain Python, run in the worker (13,320 path resolutions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from core.data.flow_survey import FlowSummary
from core.data.ground_truth import normalise
from core.evaluation.video_results import VideoRecord, VideoResults
from viewer.dataset.rows import Row, noise_of


@dataclass(frozen=True)
class ResultsMerge:
    """A results file and where its records go."""

    results: VideoResults
    matched: tuple[tuple[Row, VideoRecord, FlowSummary | None], ...]  # a row of the table, its record, the record's noise
    added: tuple[Row, ...]  # rows for the records no row matched
    labels: dict[str, str]  # normalised path -> true class of the added rows
    by_relative: int  # how many matched by a relative path or a tail, not by the absolute path
    other_class: int = 0  # records of a row's video (its path, absolute or in the dataset) scored as another class: left out


def _parts(path: str) -> tuple[str, ...]:
    """A path's parts whatever machine wrote it (``\\`` or ``/``), without ``.`` parts."""
    return tuple(p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in (".", ""))


def _under(path: str, root: str) -> tuple[str, ...] | None:
    """``path``'s parts below ``root`` (``None`` when it is not under it)."""
    full, base = _parts(path), _parts(root)
    return full[len(base):] if base and len(full) > len(base) and full[:len(base)] == base else None


def _unique_tails(rows: Iterable[Row], length: int) -> dict[tuple[str, ...], Row]:
    """Rows by their last ``length`` path parts, for the tails that name one row only."""
    seen: dict[tuple[str, ...], Row | None] = {}
    for row in rows:
        tail = _parts(row.relative)[-length:]
        seen[tail] = None if tail in seen else row
    return {tail: row for tail, row in seen.items() if row is not None}


def merge_results(rows: Sequence[Row], results: VideoResults) -> ResultsMerge:
    """Match ``results``' records to ``rows`` (see the module docstring); no row is ever added twice."""
    by_path = {(normalise(r.path), r.segment): r for r in rows}
    by_relative = {(_parts(r.relative), r.segment): r for r in rows}
    tails: list[dict[tuple[str, ...], Row]] | None = None  # made on the first record that needs them

    def same_video(row: Row | None, record: VideoRecord) -> bool:
        return row is not None and row.true == record.true and row.segment == record.segment

    chosen: dict[int, tuple[Row, VideoRecord, FlowSummary | None]] = {}
    unmatched: dict[tuple[str, tuple[float, float] | None], VideoRecord] = {}
    relative_matches = 0
    other_class = 0
    known = set(results.class_names)
    for record in results.records:
        row = by_path.get((normalise(record.path), record.segment))
        if row is None:
            ends, under = _parts(record.video), _under(record.path, results.dataset)
            candidates = [by_relative.get((ends, record.segment)), by_relative.get((under, record.segment)) if under else None]
            if not any(same_video(c, record) for c in candidates):
                # the video's own path in the dataset, labelled with another of the file's classes (of a class the
                # file does not know, the row is of another dataset laid out alike: the record is a video of its own)
                named = next((c for c in candidates if c is not None), None)
                if named is not None and named.true in known:
                    other_class += 1
                    continue
                tails = tails if tails is not None else [_unique_tails(rows, 2), _unique_tails(rows, 1)]
                candidates += [t.get(ends[-n:]) for n, t in zip((2, 1), tails) if len(ends) >= n]
            row = next((c for c in candidates if same_video(c, record)), None)  # the same class and seconds, or not the same video
            relative_matches += row is not None and id(row) not in chosen
        elif not same_video(row, record):  # the row's own file, scored when it had another label (corrected since)
            other_class += 1
            continue
        if row is None:
            unmatched[(normalise(record.path), record.segment)] = record  # the same video twice in a file: one row
        else:
            chosen[id(row)] = (row, record, noise_of(record.flow_noise))
    added = tuple(Row(Path(r.path), r.video, r.true, "test", noise=noise_of(r.flow_noise), record=r, noise_from_results=True,
                      segment=r.segment) for r in unmatched.values())
    return ResultsMerge(results, tuple(chosen.values()), added, {normalise(r.path): r.true for r in added}, relative_matches,
                        other_class)


def kept_message(path: str, merge: ResultsMerge) -> str:
    """What became of a results file's predictions when a new listing replaced the rows they were on: kept on the
    rows of their videos; those of videos the listing lacks are not added as rows of their own (they return with a
    listing that has them)."""
    records, kept, name = len(merge.results.records), len(merge.matched), Path(path).name
    if not kept:
        return (f"the {records} predictions read from {name} are not shown: none is of a video of this dataset "
                "(they return when a dataset with their videos is opened)")
    left = [f"{len(merge.added)} of videos this dataset does not list"] if merge.added else []
    left += [f"{merge.other_class} of another class than their row (relabelled since?)"] if merge.other_class else []
    return f"{kept} of the {records} predictions read from {name} kept" + (f"; not shown: {', '.join(left)}" if left else "")
