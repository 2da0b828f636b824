"""Flow metrics and predictions as CSV (a spreadsheet) or JSON (a script), chosen by suffix.

Rows are plain dicts with fixed field orders, so both formats carry the same
numbers; NaN (a measure that does not exist, e.g. consistency without backward
flow) becomes an empty CSV cell and a JSON ``null``, never the string "nan".
Flow metrics' lengths (motion, forward-backward error) are in the video's
pixels, also where the flow was computed smaller: the JSON's ``units`` says so
and README for the CSV (a comment line would break spreadsheets).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import fields
from typing import Any, Iterable, Mapping, Sequence

from core.export.target import export_target
from core.flow.quality import LENGTH_FIELDS, PairQuality

SUFFIXES = (".csv", ".json")
QUALITY_FIELDS = tuple(f.name for f in fields(PairQuality))
FLOW_METRIC_FIELDS = ("pair", "frame", "next_frame", *QUALITY_FIELDS, "method_used")
FLOW_METRIC_UNITS = {**{name: "video pixels" for name in LENGTH_FIELDS}, "warp_error_mean": "grey levels (0-255)"}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return _clean(value.item())  # numpy scalars
    return value


def flow_metric_rows(qualities: Sequence[PairQuality], *, first_pair: int = 0, method_used: Sequence[str] | str = "") -> list[dict[str, Any]]:
    """One row per pair: its index, the two frames, every :class:`PairQuality` measure, the method used.  The
    lengths are written as given: give them in the video's pixels (:meth:`PairQuality.in_video_pixels`), as the
    file says (:data:`FLOW_METRIC_UNITS`)."""
    methods = [method_used] * len(qualities) if isinstance(method_used, str) else list(method_used)
    if len(methods) != len(qualities):
        raise ValueError(f"{len(qualities)} pairs need as many method names, got {len(methods)}")
    rows = []
    for k, (quality, method) in enumerate(zip(qualities, methods)):
        pair = first_pair + k
        row: dict[str, Any] = {"pair": pair, "frame": pair, "next_frame": pair + 1}
        row.update({name: _clean(getattr(quality, name)) for name in QUALITY_FIELDS})
        row["method_used"] = method
        rows.append(row)
    return rows


def prediction_rows(clips: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per classified clip (a :class:`core.prediction.Prediction`): frames, label, every class's probability."""
    rows = []
    for clip in clips:
        row: dict[str, Any] = {
            "start": int(clip.start),
            "first_frame": int(min(clip.frame_indices)),
            "last_frame": int(max(clip.frame_indices)),
            "label": clip.top[0][0],
            "probability": float(clip.top[0][1]),
            "flow_method": clip.flow_method or "",
            "flow_fell_back": bool(clip.flow_fell_back),
        }
        row.update({f"p_{name}": float(p) for name, p in zip(clip.class_names, clip.probabilities)})
        rows.append(row)
    return rows


def _clip_dict(clip: Any) -> dict[str, Any]:
    return {
        "start": int(clip.start),
        "frame_indices": [int(i) for i in clip.frame_indices],
        "flow_frame_indices": None if clip.flow_frame_indices is None else [int(i) for i in clip.flow_frame_indices],
        "padded": int(clip.padded),
        "label": clip.top[0][0],
        "probability": float(clip.top[0][1]),
        "top": [{"label": name, "probability": float(p)} for name, p in clip.top],
        "probabilities": {name: float(p) for name, p in zip(clip.class_names, clip.probabilities)},
        "flow_method": clip.flow_method,
        "flow_fell_back": bool(clip.flow_fell_back),
        "flow_note": clip.flow_note,
        "timings_ms": {k: float(v) for k, v in clip.timings_ms.items()},
    }


def predictions_to_dict(prediction: Any, *, video: str | None = None, checkpoint: str | None = None) -> dict[str, Any]:
    """A :class:`~core.prediction.Prediction` (one clip) or :class:`~core.prediction.VideoPrediction`
    (sliding windows) as a JSON-ready dict; the clips are always under ``"clips"``."""
    clips = list(getattr(prediction, "clips", None) or [prediction])
    out: dict[str, Any] = {"video": video, "checkpoint": checkpoint, "class_names": list(prediction.class_names)}
    out["label"] = prediction.top[0][0]
    out["probability"] = float(prediction.top[0][1])
    out["top"] = [{"label": name, "probability": float(p)} for name, p in prediction.top]
    out["clips"] = [_clip_dict(c) for c in clips]
    return out


def _write_csv(path: str | os.PathLike[str], rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    _write_text(path, buffer.getvalue())


def _write_text(path: str | os.PathLike[str], text: str) -> None:
    with export_target(path, suffixes=SUFFIXES) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _json_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False, default=_clean) + "\n"


def write_flow_metrics(path: str | os.PathLike[str], rows: list[dict[str, Any]], *, video: str | None = None, method: str | None = None) -> None:
    """Rows from :func:`flow_metric_rows` as ``.csv`` or ``.json`` (by the suffix), atomically."""
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    if suffix == "json":
        _write_text(path, _json_text({"video": video, "method": method, "fields": list(FLOW_METRIC_FIELDS), "units": FLOW_METRIC_UNITS, "pairs": [{k: _clean(r.get(k)) for k in FLOW_METRIC_FIELDS} for r in rows]}))
    else:
        _write_csv(path, rows, FLOW_METRIC_FIELDS)


def write_predictions(path: str | os.PathLike[str], prediction: Any, *, video: str | None = None, checkpoint: str | None = None) -> None:
    """A prediction as ``.json`` (everything, per clip) or ``.csv`` (one row per clip), atomically."""
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    if suffix == "json":
        _write_text(path, _json_text(predictions_to_dict(prediction, video=video, checkpoint=checkpoint)))
    else:
        rows = prediction_rows(list(getattr(prediction, "clips", None) or [prediction]))
        columns = list(rows[0]) if rows else ["start"]
        _write_csv(path, rows, columns)
