"""Per-video results kept per checkpoint, so the dataset panel's second look at a video is instant.

One per-video results file (:mod:`core.evaluation.video_results`' format) per
checkpoint, named by a hash of the checkpoint's path, size and modification
time (a retrained checkpoint starts afresh), under the cache folder.  Entries
are keyed by the video's absolute path.  A damaged file is a cache miss.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Sequence

from core.data.flow_survey import video_key
from core.evaluation.video_results import VideoRecord, VideoResultsError, read_video_results, results_text


def default_record_root() -> Path:
    from core.flow.cache import default_cache_root

    return default_cache_root().parent / "dataset-eval"


class RecordCache:
    """The cached records of one checkpoint; safe to share between threads."""

    def __init__(self, checkpoint: str | os.PathLike[str], class_names: Sequence[str], root: str | os.PathLike[str] | None = None) -> None:
        self.checkpoint = Path(checkpoint)
        self.class_names = tuple(class_names)
        digest = hashlib.sha256(video_key(checkpoint).encode("utf-8")).hexdigest()[:20]
        self.file = Path(root if root is not None else default_record_root()) / f"{digest}.jsonl"
        self._lock = threading.Lock()
        self._records: dict[str, VideoRecord] = {}
        if self.file.is_file():
            try:
                self._records = read_video_results(self.file).by_path()
            except VideoResultsError:
                self._records = {}  # a damaged cache: scored again

    def get(self, path: str | os.PathLike[str]) -> VideoRecord | None:
        with self._lock:
            return self._records.get(os.path.normpath(os.fspath(Path(path).resolve())))

    def put(self, record: VideoRecord) -> None:
        with self._lock:
            self._records[os.path.normpath(record.path)] = record

    def __len__(self) -> int:
        return len(self._records)

    def save(self) -> None:
        from core.atomic import write_text

        with self._lock:
            records = list(self._records.values())
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.file, results_text(self.checkpoint, "", self.class_names, records))
