"""Per-video results kept per checkpoint, so the dataset panel's second look at a video is instant.

One per-video results file (:mod:`core.evaluation.video_results`' format) per
checkpoint, named by a hash of the checkpoint's path, size and modification
time (a retrained checkpoint starts afresh), of the flow engine's identity
for the checkpoint's flow method (a changed flow default scores afresh, as the
flow and token caches recompute), for a RAFT method, of the weights files
RAFT loads (other weights are other flow, as for the flow cache), and of how the
panel scored (clips per video, device kind and precision:
:mod:`core.evaluation.panel_settings`), under the cache folder.  Entries
are keyed by the video's path, size and modification time
(:func:`core.data.flow_survey.video_key`, kept in the file's header), so an
edited or replaced video is scored again.  A video is its path and, for an
untrimmed Kinetics video, its annotated segment: the whole file and a segment
of it are two records.  A damaged file, or one written before the header kept
those keys, is a cache miss.  Two viewer windows scoring with one checkpoint
share its file: a save merges the records put here into the file as it is now,
under the file's inter-process lock (:mod:`core.file_lock`), so neither
window's records are lost to the other's save.  An evaluation saves every
20 s (:mod:`core.evaluation.panel_scoring`): a cache opened in this process
while another of the same file holds records not saved yet starts with those
too, so a dataset reopened while its evaluation runs shows every record the
evaluation finished before.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any, Sequence

from core.data.flow_survey import file_key, video_key
from core.evaluation.panel_settings import PanelScoring
from core.evaluation.video_results import VideoRecord, VideoResultsError, parse_video_results, results_text
from core.store_save import MergedStore

KEYS_FIELD = "video_keys"  # header field: the record's identity (:func:`_identity`) -> its video_key when it was scored
Segment = tuple[float, float] | None
Entries = dict[str, tuple[str, VideoRecord]]  # the record's identity -> (its video_key, the record)
_OPEN: "weakref.WeakSet[RecordCache]" = weakref.WeakSet()  # this process's caches, whose unsaved records a new one starts with
_OPEN_LOCK = threading.Lock()


def _identity(path: str, segment: Segment) -> str:
    """Which video a record is of: its absolute path, and its segment's seconds when it has one."""
    return path if segment is None else f"{path}#{float(segment[0])!r}-{float(segment[1])!r}"


def flow_key(flow_method: str | None) -> str:
    """The flow engine's identity of ``flow_method`` (nothing for a model that reads no precomputed flow)."""
    if flow_method is None:
        return ""
    from core.flow.settings import flow_identity

    try:
        return json.dumps(flow_identity(flow_method), sort_keys=True)
    except ValueError:  # a method without known settings: its name
        return flow_method


def weights_key(flow_method: str | None) -> str:
    """The RAFT weights the panel's flow loads for ``flow_method`` (the hub cache's files: by path, size and time);
    nothing for a method without weights, so the files of caches written before this was keyed keep their names."""
    from core.flow.cache import weights_identity

    weights = None if flow_method is None else weights_identity(flow_method, None)
    return "" if weights is None else f"|raft-weights{json.dumps(weights)}"


def default_record_root() -> Path:
    from core.flow.cache import default_cache_root

    return default_cache_root().parent / "dataset-eval"


class RecordCache(MergedStore):
    """The cached records of one checkpoint; safe to share between threads and processes."""

    def __init__(self, checkpoint: str | os.PathLike[str], class_names: Sequence[str], root: str | os.PathLike[str] | None = None,
                 flow_method: str | None = None, scoring: PanelScoring = PanelScoring()) -> None:
        self.checkpoint = Path(checkpoint)
        self.class_names = tuple(class_names)
        material = f"{file_key(checkpoint)}|{flow_key(flow_method)}{weights_key(flow_method)}{scoring.key()}"
        digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]
        self.file = Path(root if root is not None else default_record_root()) / f"{digest}.jsonl"
        self._lock = threading.Lock()
        # first what is not saved yet, then the file: a record saved meanwhile left the unsaved for the file before
        unsaved = _unsaved_elsewhere(self.file)
        self._entries: Entries = {**self._loaded(), **unsaved}  # one entry per video
        self._records = {key: record for key, record in self._entries.values()}  # video_key -> record
        self._new: set[str] = set()  # the identities put here since the last save
        with _OPEN_LOCK:
            _OPEN.add(self)

    def pending(self) -> Entries:
        """The records put here that are not in the file yet (saved with the next save)."""
        with self._lock:
            return {name: self._entries[name] for name in self._new if name in self._entries}

    def _on_disk(self) -> Entries:
        """The file's records by identity (none when it is absent, damaged or keeps no keys; an ``OSError`` when it
        cannot be read)."""
        raw = self._file_bytes()
        if raw is None:
            return {}
        try:
            results = parse_video_results(raw.decode("utf-8-sig"), self.file)  # a BOM: saved again by an editor
        except (UnicodeDecodeError, VideoResultsError):
            return {}  # a damaged cache: scored again
        keys = results.header.get(KEYS_FIELD)
        if not isinstance(keys, dict):
            return {}
        identities = {_identity(r.path, r.segment): r for r in results.records}
        return {name: (keys[name], r) for name, r in identities.items() if isinstance(keys.get(name), str)}

    def get(self, path: str | os.PathLike[str], segment: Segment = None) -> VideoRecord | None:
        """The record of the video at ``path`` (its ``segment`` when given) as it is now (``None`` when absent or
        edited since).  A video never scored is answered without its key (which opens the file's header)."""
        names = {_identity(os.fspath(path), segment), _identity(str(Path(path).resolve()), segment)}
        with self._lock:
            if names.isdisjoint(self._entries):
                return None
        key = video_key(path, segment)
        with self._lock:
            return self._records.get(key)

    def put(self, record: VideoRecord, segment: Segment = None) -> None:
        """Keep ``record``, keyed by its video's identity now (the record was just scored from it, or from its ``segment``;
        an edited video's old record goes)."""
        key, name = video_key(record.path, segment), _identity(record.path, segment)
        with self._lock:
            stale = self._entries.get(name)
            if stale is not None:
                self._records.pop(stale[0], None)
            self._entries[name] = (key, record)
            self._records[key] = record
            self._new.add(name)

    def _set(self, entries: Entries) -> None:
        self._entries = entries
        self._records = {key: record for key, record in entries.values()}

    def __len__(self) -> int:
        return len(self._records)

    def _text(self) -> str:
        records, keys = [r for _key, r in self._entries.values()], {name: key for name, (key, _r) in self._entries.items()}
        return results_text(self.checkpoint, "", self.class_names, records, **{KEYS_FIELD: keys})


def _unsaved_elsewhere(file: Path) -> Entries:
    """The records this process's other caches of ``file`` hold unsaved (an evaluation running now)."""
    with _OPEN_LOCK:
        caches = [cache for cache in _OPEN if cache.file == file]
    return {name: entry for cache in caches for name, entry in cache.pending().items()}


def checkpoint_records(checkpoint: str | os.PathLike[str], config: Any, root: str | os.PathLike[str] | None = None, *,
                       scoring: PanelScoring) -> RecordCache:
    """The record cache of ``checkpoint`` scored with ``scoring``, whose model ``config`` says which flow it reads."""
    flow_method = getattr(config, "flow_method", None) if getattr(config, "uses_flow", False) else None
    return RecordCache(checkpoint, config.class_names, root, flow_method=flow_method, scoring=scoring)
