"""A dataset's flow quality, one summary per video, kept on disk so a survey resumes.

The dataset panel walks every video's frame pairs (through the flow cache, so
pairs the viewer already computed cost nothing) and keeps, per video and flow
method, the largest and mean noise score, how many pairs are noisy and which
pair is the noisiest.  :class:`FlowSurveyStore` holds those summaries in one
JSON file per method, written atomically; a video's entry is keyed by its
path, size and modification time, so an edited video is surveyed again, and by
the flow engine's version and the method's settings
(:func:`core.flow.settings.flow_identity`), so a changed method is too.

Saving reads the file, merges and writes it back under an inter-process lock
(:mod:`core.file_lock`): the viewer's scan and ``eval``'s survey saving at the
same instant keep both's summaries.  A save also drops what will never be looked
up again: the entries of videos deleted since (their folder still there: a
drive that is not mounted now keeps its videos' summaries) or edited since (the
key's size or modification time is not the file's now).  Entries of older flow
settings or reader versions cannot be told from those of another process's
settings, so a bound covers them: each entry records when it was last put or
looked up, and a save keeps the :data:`MAX_SURVEY_ENTRIES` most recently used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from core.store_save import MergedStore

NOISY_SCORE = 0.35  # a pair whose noise score is above this counts as noisy (the timeline's default threshold)
MAX_SURVEY_ENTRIES = 50_000  # per flow method: UCF101, HMDB51 and Kinetics-400's validation videos together (~17 MB)
USED = "used"  # an entry's field: when it was last put or looked up (seconds since the epoch)
# a key of a file that could be read: resolved path, size, modification time, then the reader's version and the rest
_FILE_KEY = re.compile(r"(?P<path>.+)\|(?P<size>\d+)\|(?P<mtime>-?\d+)\|reader", re.DOTALL)


@dataclass(frozen=True)
class FlowSummary:
    """One video's flow quality over all its pairs."""

    pairs: int
    max_noise: float
    mean_noise: float
    noisy_pairs: int
    noisiest_pair: int  # frame index of the pair's first frame

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Any) -> "FlowSummary | None":
        try:
            summary = FlowSummary(int(data["pairs"]), float(data["max_noise"]), float(data["mean_noise"]),
                                  int(data["noisy_pairs"]), int(data["noisiest_pair"]))
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: Infinity or a 400-digit number
            return None
        return summary if math.isfinite(summary.max_noise) and math.isfinite(summary.mean_noise) else None


def summarise_noise(scores: Sequence[float], threshold: float = NOISY_SCORE, first: int = 0) -> FlowSummary:
    """The summary of one video's per-pair noise scores (NaN scores are left out); ``first``: the frame the
    first score's pair starts on (a segment of a file: pairs are named by the file's frames)."""
    valid = [(first + i, float(s)) for i, s in enumerate(scores) if not math.isnan(float(s))]
    if not valid:
        return FlowSummary(len(scores), 0.0, 0.0, 0, first)
    worst = max(valid, key=lambda item: item[1])
    return FlowSummary(len(scores), worst[1], sum(s for _, s in valid) / len(valid), sum(1 for _, s in valid if s > threshold), worst[0])


def video_key(path: str | os.PathLike[str], segment: tuple[float, float] | None = None) -> str:
    """Path, size, modification time and the reader's version (:func:`file_key`): an edited video, or one whose
    frames a reader fix renumbers, is a new entry; a ``segment`` of it (seconds) is another entry than the whole file."""
    from core.video.reader_version import pictures_version

    resolved, status = _resolved_stat(path)  # stat'ed once a key: the reader's version takes this stat
    part = "" if segment is None else f"|{float(segment[0])!r}-{float(segment[1])!r}s"
    return f"{_key_of(resolved, status)}|reader{pictures_version(resolved, status=status)}{part}"


def file_key(path: str | os.PathLike[str]) -> str:
    """Resolved path, size and modification time (the path alone when it cannot be read)."""
    return _key_of(*_resolved_stat(path))


def _resolved_stat(path: str | os.PathLike[str]) -> tuple[Path, os.stat_result | None]:
    """``path`` resolved, and its stat (``None`` when it cannot be read)."""
    resolved = Path(path).resolve()
    try:
        return resolved, resolved.stat()
    except OSError:
        return resolved, None


def _key_of(resolved: Path, status: os.stat_result | None) -> str:
    return str(resolved) if status is None else f"{resolved}|{status.st_size}|{status.st_mtime_ns}"


class FlowSurveyStore(MergedStore):
    """Summaries of one flow method, in ``root/flow-survey-<method>.json``; safe to share between threads and
    processes.  One file for the viewer's survey and ``eval``'s: a save keeps what another writer saved meanwhile,
    and at most ``max_entries``, the most recently used."""

    def __init__(self, root: str | os.PathLike[str], method: str, *, max_entries: int = MAX_SURVEY_ENTRIES) -> None:
        self.file = Path(root) / f"flow-survey-{method}.json"
        self.max_entries = max_entries
        self._flow = _flow_digest(method)
        self._lock = threading.Lock()
        self._entries = self._loaded()
        self._new: set[str] = set()  # the keys put or looked up here since the last save

    def _on_disk(self) -> dict[str, dict[str, Any]]:
        """The file's summaries; none when it is absent or damaged (a cache, rebuilt by surveying again), an
        ``OSError`` when it cannot be read."""
        raw = self._file_bytes()
        try:
            data = json.loads(raw.decode("utf-8")) if raw is not None else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = {}
        if isinstance(data, dict) and isinstance(data.get("videos"), dict):
            return {k: v for k, v in data["videos"].items() if FlowSummary.from_dict(v) is not None}
        return {}

    def get(self, path: str | os.PathLike[str], segment: tuple[float, float] | None = None) -> FlowSummary | None:
        key = self._key(path, segment)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = {**entry, USED: _now()}  # in use: the last to be pruned
                self._new.add(key)
        return None if entry is None else FlowSummary.from_dict(entry)

    def put(self, path: str | os.PathLike[str], summary: FlowSummary, segment: tuple[float, float] | None = None) -> None:
        key = self._key(path, segment)
        with self._lock:
            self._entries[key] = {**summary.to_dict(), USED: _now()}
            self._new.add(key)

    def _key(self, path: str | os.PathLike[str], segment: tuple[float, float] | None) -> str:
        return f"{video_key(path, segment)}|flow{self._flow}"

    def _text(self) -> str:
        return json.dumps({"format": "twostream-flow-survey", "videos": self._entries}, sort_keys=True)

    def _stale(self, keys: list[str]) -> set[str]:
        """Those of videos deleted or edited since: a stat each (50,000 on a network drive outlast LOCK_WAIT_S), before
        the file's lock, so another writer waits for the merge and the write only."""
        return {key for key in keys if not _video_unchanged(key)}

    def _bounded(self, entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The least recently used beyond :attr:`max_entries` go."""
        return _most_recently_used(entries, self.max_entries)


def _now() -> float:
    """When an entry is used (apart, so a test sets the clock)."""
    return time.time()


def _video_unchanged(key: str) -> bool:
    """Whether the video of ``key`` is still there as it was when summarised: ``False`` when it was deleted (from a
    folder that is there: an unmounted drive's videos are kept) or its size or modification time changed; ``True`` too
    when that cannot be told (a key of a file that could not be read, a file that cannot be read now)."""
    parts = _FILE_KEY.match(key)
    if parts is None:
        return True
    path = Path(parts["path"])
    try:
        stat = path.stat()
    except FileNotFoundError:
        return not path.parent.is_dir()
    except OSError:
        return True
    return (str(stat.st_size), str(stat.st_mtime_ns)) == (parts["size"], parts["mtime"])


def _most_recently_used(entries: dict[str, dict[str, Any]], count: int) -> dict[str, dict[str, Any]]:
    """The ``count`` entries used last (an entry of a file written before entries kept their use counts as oldest)."""
    if len(entries) <= count:
        return entries

    def used(key: str) -> float:
        try:
            stamp = float(entries[key].get(USED, 0.0))
        except (TypeError, ValueError, OverflowError):
            return 0.0
        return stamp if math.isfinite(stamp) else 0.0

    return {key: entries[key] for key in sorted(entries, key=lambda k: (used(k), k), reverse=True)[:count]}


def _flow_digest(method: str) -> str:
    """The flow engine's version and ``method``'s settings, hashed: noise summaries of flow that
    older settings made are misses (a name the engine does not know is keyed by itself alone)."""
    from core.errors import FlowError
    from core.flow.engine import normalize_method
    from core.flow.settings import flow_identity

    try:
        identity: Any = flow_identity(normalize_method(method))
    except FlowError:
        identity = method
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def default_survey_root() -> Path:
    """Beside the flow cache."""
    from core.flow.cache import default_cache_root

    return default_cache_root().parent / "flow-survey"
