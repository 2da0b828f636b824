"""The videos a long run could not read: skipped on the spot, listed at the end.

A training or feature-extraction run over thousands of clips must not die on
one bad file; it records the file here and goes on, and the final report (and
metrics JSON) says which files were left out and why.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator


class SkippedVideos:
    """An ordered, de-duplicated list of ``(path, reason)``; safe to share between threads.

    A file that fails in every epoch is listed once, with its first reason.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, str] = {}
        self._lock = threading.Lock()

    def add(self, path: str | os.PathLike[str], reason: str | BaseException) -> None:
        text = reason if isinstance(reason, str) else (str(reason) or type(reason).__name__)
        text = " ".join(text.split())
        named = f"{os.fspath(path)}: "
        if text.startswith(named) and len(text) > len(named):  # our errors name their file: the list names it once
            text = text[len(named):]
        with self._lock:
            self._entries.setdefault(Path(path), text)

    def extend(self, other: "SkippedVideos | list[tuple[str | os.PathLike[str], str]]") -> None:
        """Merge another collector (e.g. one rank's, or one worker's)."""
        for path, reason in list(other):
            self.add(path, reason)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and Path(path) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self) -> Iterator[tuple[Path, str]]:
        with self._lock:
            return iter(list(self._entries.items()))

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(path for path, _ in self)

    def to_list(self) -> list[dict[str, str]]:
        """JSON-ready, for metrics files."""
        return [{"path": os.fspath(path), "reason": reason} for path, reason in self]

    def summary(self, said: "set[Path] | frozenset[Path]" = frozenset()) -> str:
        """The end-of-run report (empty when nothing was skipped); ``said``: paths the report has already
        named in a warning of their own, left out here (they stay in :meth:`to_list`)."""
        entries = [(path, reason) for path, reason in self if path not in said]
        if not entries:
            return ""
        noun = "video was" if len(entries) == 1 else "videos were"
        return "\n".join([f"{len(entries)} {noun} skipped:", *(f"  {path}: {reason}" for path, reason in entries)])  # each says why
