"""Per-video results of an evaluation: one JSON line per video, read back without recomputing.

``eval`` writes ``videos.jsonl`` beside ``metrics.json``: a header line (format,
checkpoint, dataset, the model's classes) then one line per scored video (its
path relative to the dataset and absolute, true class, prediction, confidence,
whether it is right, the top 5, the flow the model used, its flow-noise summary
and the first frame of its worst clip, numbered as in the file; and for an untrimmed Kinetics
video, the annotated seconds that were scored).  The noise summary is the one the
viewer's flow survey stores (:mod:`core.data.flow_noise`: eval surveys every
scored video unless told not to; then only videos surveyed on this machine have
one), with the survey's flow method in the header.  The viewer's dataset panel
opens the file, so a run on a GPU server can be browsed on a laptop.  Written
atomically.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from core.errors import InputError
from core.progress import CancelToken

RESULTS_NAME = "videos.jsonl"
FORMAT = "twostream-video-results"
VERSION = 1
TOP = 5


class VideoResultsError(InputError):
    """A per-video results file is malformed (names the file and the line)."""


@dataclass(frozen=True)
class VideoRecord:
    """One video's outcome."""

    video: str  # relative to the dataset root
    path: str  # absolute, as scored
    true: str
    predicted: str
    confidence: float
    top5: tuple[tuple[str, float], ...]
    flow: dict[str, Any] | None = None  # method, fell_back, note (None: an RGB-only model)
    flow_noise: dict[str, Any] | None = None  # max, mean, noisy_pairs, noisiest_pair (None: not surveyed)
    worst_frame: int | None = None  # first frame of the clip that scored the true class lowest, when known
    segment: tuple[float, float] | None = None  # the annotated seconds scored of an untrimmed video (Kinetics), else the whole file

    @property
    def correct(self) -> bool:
        return self.predicted == self.true

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["correct"] = self.correct
        data["top5"] = [{"label": label, "prob": round(prob, 6)} for label, prob in self.top5]
        data["confidence"] = round(self.confidence, 6)
        if self.segment is None:
            del data["segment"]  # files of whole videos read as before
        return data


@dataclass(frozen=True)
class VideoResults:
    """A results file: what was scored, with what, and each video's record."""

    checkpoint: str
    dataset: str
    class_names: tuple[str, ...]
    records: tuple[VideoRecord, ...]
    header: dict[str, Any] = field(default_factory=dict)


def record_of(relative: str, path: Path, class_names: Sequence[str], true_index: int, probabilities: Sequence[float],
              flow: dict[str, Any] | None, flow_noise: dict[str, Any] | None = None, worst_frame: int | None = None,
              segment: tuple[float, float] | None = None) -> VideoRecord:
    """A record from one video's (or its annotated ``segment``'s) mean class probabilities (in the model's class order)."""
    order = sorted(range(len(probabilities)), key=lambda i: -float(probabilities[i]))
    top = tuple((class_names[i], float(probabilities[i])) for i in order[:TOP])
    span = None if segment is None else (float(segment[0]), float(segment[1]))
    return VideoRecord(video=relative, path=os.fspath(path), true=class_names[true_index], predicted=top[0][0],
                       confidence=top[0][1], top5=top, flow=flow, flow_noise=flow_noise, worst_frame=worst_frame, segment=span)


def worst_clip_start(clip_probabilities: np.ndarray, true_index: int, starts: Sequence[int], crops: int = 1) -> int | None:
    """The first frame of the clip that gave the true class the lowest probability (its ``crops``
    views averaged; rows are crop-major, as eval scores them): where to look first.  ``None``
    when the starts are unknown."""
    scores = np.asarray(clip_probabilities, dtype=np.float64)
    if not len(starts) or len(starts) != len(scores) or crops < 1 or len(scores) % crops:
        return None
    per_clip = scores[:, true_index].reshape(crops, len(scores) // crops).mean(axis=0)
    return int(starts[int(np.argmin(per_clip))])


NoiseLookup = Callable[[Path, "tuple[float, float] | None"], "dict[str, Any] | None"]  # (video path, its segment) -> summary


def records_of(evaluation: Any, flow_noise: NoiseLookup | None = None) -> list[VideoRecord]:
    """The records of a :class:`core.evaluation.evaluate.Evaluation` (``flow_noise``: a video's (or its
    annotated segment's) noise summary when known, e.g. from :func:`survey_noise` or the dataset panel's
    flow survey)."""
    out = []
    uses_flow = evaluation.requested_flow_method is not None
    for video in evaluation.videos:
        path = Path(evaluation.dataset_root) / video.relative
        flow = {"method": ", ".join(video.flow_methods), "fell_back": video.flow_fell_back, "note": video.flow_note} if uses_flow else None
        worst = worst_clip_start(video.clip_probabilities, video.label, video.clip_starts, evaluation.crops)
        out.append(record_of(video.relative, path.resolve(), evaluation.class_names, video.label, video.probabilities.tolist(),
                             flow, flow_noise(path, video.segment) if flow_noise else None, worst, video.segment))
    return out


def results_text(checkpoint: str | os.PathLike[str], dataset: str | os.PathLike[str], class_names: Sequence[str],
                 records: Iterable[VideoRecord], **header: Any) -> str:
    """The file's text: a header line, then one line per record."""
    head = {"format": FORMAT, "version": VERSION, "checkpoint": os.fspath(checkpoint), "dataset": os.fspath(dataset),
            "class_names": list(class_names), **header}
    lines = [json.dumps(head, sort_keys=True)] + [json.dumps(r.to_dict(), sort_keys=True) for r in records]
    return "\n".join(lines) + "\n"


def write_video_results(path: str | os.PathLike[str], evaluation: Any,
                        flow_noise: NoiseLookup | None = None, *, noise_method: str | None = None,
                        note: Callable[[str], None] | None = None) -> Path:
    """Write ``evaluation``'s per-video results to ``path`` atomically.  ``flow_noise`` (with the
    flow method it surveyed, ``noise_method``: see :func:`survey_noise`); by default the summaries
    the dataset panel's flow survey stored for the model's flow method, when a video was surveyed
    on this machine (their use is saved in the survey's store once the file is written; ``note``
    hears why it could not be, when it could not)."""
    from core.atomic import write_text

    stored = None
    if flow_noise is None and evaluation.requested_flow_method is not None:
        flow_noise = stored = SurveyedNoise(evaluation.requested_flow_method)
    if noise_method is None and flow_noise is not None:
        noise_method = evaluation.requested_flow_method

    text = results_text(evaluation.checkpoint, Path(evaluation.dataset_root).resolve(), evaluation.class_names,
                        records_of(evaluation, flow_noise), clips_per_video=evaluation.clips_per_video,
                        test_set=evaluation.test_set.to_dict(), flow_noise_method=noise_method)
    target = Path(path)
    write_text(target, text)
    unsaved = stored.keep_use() if stored is not None else ""
    if unsaved and note is not None:
        note(f"when the flow survey summaries were last used is not kept ({unsaved})")
    return target


def survey_method(evaluation: Any) -> str:
    """The flow method whose noise a video's record summarises: the model's, else the panel's default."""
    from core.data.flow_noise import DEFAULT_SURVEY_METHOD

    return evaluation.requested_flow_method or DEFAULT_SURVEY_METHOD


def survey_noise(evaluation: Any, *, device: str = "auto", raft_weights: str | None = None, cancel: CancelToken | None = None,
                 progress: Callable[..., None] | None = None, note: Callable[[str], None] | None = None
                 ) -> tuple[NoiseLookup, list[tuple[Path, str]]]:
    """Every scored video's flow-noise summary for :func:`write_video_results` (a lookup by the path
    :func:`records_of` asks with) and the videos that could not be surveyed.  One more pass over each
    video's pairs, through the flow cache and the viewer's survey store (see :mod:`core.data.flow_noise`);
    ``note`` hears why that store could not be written (a read-only cache folder), when it could not."""
    from core.data.flow_noise import survey_videos
    from core.data.flow_survey import FlowSurveyStore, default_survey_root

    method = survey_method(evaluation)
    store = FlowSurveyStore(default_survey_root(), method)
    paths = [Path(evaluation.dataset_root) / video.relative for video in evaluation.videos]
    segments = {path: video.segment for path, video in zip(paths, evaluation.videos) if video.segment is not None}
    summaries, failed = survey_videos(paths, method, device=device, raft_weights=raft_weights, store=store,
                                      cancel=cancel, progress=progress, segments=segments)
    if store.unsaved and note is not None:
        note(f"flow survey summaries not kept for next time ({store.unsaved})")

    def lookup(path: Path, _segment: tuple[float, float] | None = None) -> dict[str, Any] | None:
        summary = summaries.get(path)  # surveyed with the video's own segment above
        return None if summary is None else summary.to_dict()

    return lookup, failed


class SurveyedNoise:
    """A lookup of the flow survey's stored summary of a video or its segment (``None`` when it was not surveyed).

    A look-up is a use: the store keeps the summaries used last, and one that ``eval`` reads run after run but
    nobody surveys again was the first to be pruned while its use stayed in memory.  :meth:`keep_use` saves it,
    once, after every look-up (a save rewrites the whole store: never one per video)."""

    def __init__(self, method: str) -> None:
        from core.data.flow_survey import FlowSurveyStore, default_survey_root

        self.store = FlowSurveyStore(default_survey_root(), method)
        self.found = 0  # look-ups that found a summary: uses to save

    def __call__(self, path: Path, segment: tuple[float, float] | None = None) -> dict[str, Any] | None:
        summary = self.store.get(path, segment)
        if summary is None:
            return None
        self.found += 1
        return summary.to_dict()

    def keep_use(self) -> str:
        """Save when the summaries found were used (merged into the store's file under its lock); ``""`` when saved
        or nothing was found, else why the store could not be written."""
        return self.store.save() if self.found else ""


def read_video_results(path: str | os.PathLike[str]) -> VideoResults:
    """Read a results file; any malformed line is a :class:`VideoResultsError` naming it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a BOM: saved again by a Windows editor
    except (OSError, UnicodeDecodeError) as err:
        raise VideoResultsError(f"cannot read the per-video results ({err})", file) from None
    return parse_video_results(text, file)


def parse_video_results(text: str, file: Path) -> VideoResults:
    """The results file ``file`` whose ``text`` the caller read (a shared store reads its file itself: one that
    cannot be read is not one that is damaged); any malformed line is a :class:`VideoResultsError` naming it."""
    lines = text.splitlines()
    if not lines:
        raise VideoResultsError("is empty: expected a header line and one line per video", file)
    head = _json_line(lines[0], 1, file)
    if head.get("format") != FORMAT:
        raise VideoResultsError(f"line 1: not a per-video results file (format {head.get('format')!r}, expected {FORMAT!r})", file)
    if not isinstance(head.get("version"), int) or head["version"] > VERSION:
        raise VideoResultsError(f"line 1: version {head.get('version')!r} is newer than this program reads ({VERSION})", file)
    names = head.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise VideoResultsError("line 1: class_names must be a list of names", file)
    known = set(names)
    records = []
    for number, text in enumerate(lines[1:], start=2):
        if text.strip():
            try:
                records.append(_record(_json_line(text, number, file), number, file, known))
            except OverflowError:  # a number of 400 digits where a probability or a second goes
                raise VideoResultsError(f"line {number}: a number is too large", file) from None
    return VideoResults(str(head.get("checkpoint", "")), str(head.get("dataset", "")), tuple(names), tuple(records), head)


def _json_line(text: str, number: int, file: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:  # ValueError: JSONDecodeError, or a number of more than 4300 digits
        raise VideoResultsError(f"line {number}: not valid JSON ({getattr(err, 'msg', err)})", file) from None
    if not isinstance(data, dict):
        raise VideoResultsError(f"line {number}: expected a JSON object", file)
    return data


def _record(data: Mapping[str, Any], number: int, file: Path, known: set[str]) -> VideoRecord:
    for key in ("video", "path", "true", "predicted"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise VideoResultsError(f"line {number}: {key} must be a non-empty string", file)
    for key in ("true", "predicted"):
        if data[key] not in known:
            raise VideoResultsError(f"line {number}: {key} class {data[key]!r} is not one of the header's classes", file)
    confidence = data.get("confidence")
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool) or not (math.isfinite(confidence) and 0 <= confidence <= 1):
        raise VideoResultsError(f"line {number}: confidence must be a probability, got {confidence!r}", file)
    top = data.get("top5", [])
    if not isinstance(top, list) or not all(isinstance(t, dict) and isinstance(t.get("label"), str)
                                            and isinstance(t.get("prob"), (int, float)) for t in top):
        raise VideoResultsError(f"line {number}: top5 must be a list of {{label, prob}}", file)
    flow, noise = data.get("flow"), data.get("flow_noise")
    for key, value in (("flow", flow), ("flow_noise", noise)):
        if value is not None and not isinstance(value, dict):
            raise VideoResultsError(f"line {number}: {key} must be an object or null", file)
    worst = data.get("worst_frame")
    if worst is not None and (not isinstance(worst, int) or isinstance(worst, bool) or worst < 0):
        raise VideoResultsError(f"line {number}: worst_frame must be a frame index or null, got {worst!r}", file)
    return VideoRecord(data["video"], data["path"], data["true"], data["predicted"], float(confidence),
                       tuple((t["label"], float(t["prob"])) for t in top), flow, noise, worst, _segment(data.get("segment"), number, file))


def _segment(value: Any, number: int, file: Path) -> tuple[float, float] | None:
    """A record's segment: absent or null for a whole video, else [start, end] seconds with 0 <= start < end."""
    if value is None:
        return None
    numbers = value if isinstance(value, list) and len(value) == 2 else []
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers) or not numbers \
            or not 0 <= numbers[0] < numbers[1]:
        raise VideoResultsError(f"line {number}: segment must be [start, end] seconds with 0 <= start < end, got {value!r}", file)
    return float(numbers[0]), float(numbers[1])
