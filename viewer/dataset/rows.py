"""The dataset panel's rows: one per video, plain Python (the Qt model renders them).

A row starts with what the listing knows (path, class, split); frames and
duration arrive from the lazy metadata reads, flow quality from the survey,
and the prediction from an evaluation or a per-video results file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.data.flow_survey import FlowSummary
from core.evaluation.video_results import VideoRecord

COLUMNS = ("Video", "Class", "Split", "Frames", "Duration (s)", "Max noise", "Mean noise", "Noisy pairs",
           "Prediction", "Confidence", "Correct")
(COL_VIDEO, COL_CLASS, COL_SPLIT, COL_FRAMES, COL_DURATION, COL_MAX_NOISE, COL_MEAN_NOISE, COL_NOISY,
 COL_PREDICTION, COL_CONFIDENCE, COL_CORRECT) = range(len(COLUMNS))


@dataclass
class Row:
    path: Path
    relative: str
    true: str
    split: str
    frames: int | None = None
    duration: float | None = None
    meta_error: str = ""
    noise: FlowSummary | None = None
    record: VideoRecord | None = None
    noise_from_results: bool = False  # the noise came with a results file, not from this panel's survey
    segment: tuple[float, float] | None = None  # the annotated seconds of an untrimmed video (Kinetics): all the panel uses
    first_frame: int | None = None  # the file's frame the segment starts on (None until its metadata is read)

    @property
    def correct(self) -> bool | None:
        return None if self.record is None else self.record.predicted == self.true

    def start_frame(self) -> int | None:
        """Where the viewer opens this video (frames as the file numbers them): the noisiest pair this panel's
        survey found, else the prediction's worst window, else the noisiest pair a results file names, else
        the first frame (of the annotated segment, for an untrimmed video: ``None`` while its metadata is
        unread, so that the viewer finds it from the file's timestamps instead of showing the file's frame 0)."""
        noisy = self.noise is not None and self.noise.pairs > 0
        if noisy and not self.noise_from_results:
            return self.noise.noisiest_pair
        if self.record is not None and self.record.worst_frame is not None:
            return self.record.worst_frame
        if noisy:
            return self.noise.noisiest_pair
        if self.first_frame is None:
            return 0 if self.segment is None else None
        return self.first_frame

    def text(self, column: int) -> str:
        """What the cell shows."""
        if column == COL_VIDEO:
            return self.relative
        if column == COL_CLASS:
            return self.true
        if column == COL_SPLIT:
            return self.split
        if column == COL_FRAMES:
            return self.meta_error and "unreadable" or ("" if self.frames is None else str(self.frames))
        if column == COL_DURATION:
            return "" if self.duration is None else f"{self.duration:.2f}"
        if column in (COL_MAX_NOISE, COL_MEAN_NOISE, COL_NOISY):
            if self.noise is None:
                return ""
            return {COL_MAX_NOISE: f"{self.noise.max_noise:.3f}", COL_MEAN_NOISE: f"{self.noise.mean_noise:.3f}",
                    COL_NOISY: str(self.noise.noisy_pairs)}[column]
        if self.record is None:
            return ""
        if column == COL_PREDICTION:
            return self.record.predicted
        if column == COL_CONFIDENCE:
            return f"{self.record.confidence:.1%}"
        return "yes" if self.correct else "no"

    def sort_key(self, column: int) -> Any:
        """A key that sorts numbers as numbers and puts unknown values last."""
        missing = (1, 0.0)
        values = {
            COL_FRAMES: self.frames, COL_DURATION: self.duration,
            COL_MAX_NOISE: None if self.noise is None else self.noise.max_noise,
            COL_MEAN_NOISE: None if self.noise is None else self.noise.mean_noise,
            COL_NOISY: None if self.noise is None else self.noise.noisy_pairs,
            COL_CONFIDENCE: None if self.record is None else self.record.confidence,
            COL_CORRECT: None if self.correct is None else int(self.correct),
        }
        if column in values:
            value = values[column]
            return missing if value is None or (isinstance(value, float) and math.isnan(value)) else (0, value)
        text = self.text(column)
        return (0, text.casefold()) if text else (1, "")


def noise_of(flow_noise: Mapping[str, Any] | None) -> FlowSummary | None:
    """A results file's ``flow_noise`` as a summary: the survey's own field names (``max_noise``, ...)
    or the short ones (``max``, ``mean``, ``noisy_pairs``, ``noisiest_pair``); ``None`` when unusable."""
    if not isinstance(flow_noise, Mapping):
        return None
    summary = FlowSummary.from_dict(flow_noise)
    if summary is not None or "max" not in flow_noise:
        return summary
    noisiest = flow_noise.get("noisiest_pair", 0)
    return FlowSummary.from_dict({
        "max_noise": flow_noise.get("max"), "mean_noise": flow_noise.get("mean"), "noisy_pairs": flow_noise.get("noisy_pairs", 0),
        "noisiest_pair": noisiest,
        "pairs": flow_noise.get("pairs", noisiest + 1 if isinstance(noisiest, int) else 0),  # at least up to the noisiest
    })


def snapshot(rows: Sequence[Row]) -> list[Row]:
    """Copies of ``rows`` as they are now (about 1 µs a row, on the GUI thread), for a worker to
    read while jobs go on updating the originals."""
    return [Row(**vars(row)) for row in rows]


def table_csv(rows: Sequence[Row]) -> str:
    """The table as CSV text, every column, in the given row order.  Records end in CRLF (RFC 4180), so that a field
    holding either line-break character is quoted (with LF alone, a bare CR in a file name split its row in two);
    write the text as bytes (:func:`write_table_csv`), or newline translation changes the line breaks inside fields."""
    import csv
    import io

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*COLUMNS, "Noisiest pair", "Worst window", "Path"])
    for row in rows:
        noisiest = "" if row.noise is None else row.noise.noisiest_pair
        worst = "" if row.record is None or row.record.worst_frame is None else row.record.worst_frame
        writer.writerow([*(row.text(c) for c in range(len(COLUMNS))), noisiest, worst, str(row.path)])
    return out.getvalue()
