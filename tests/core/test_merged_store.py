"""The read-merge-write both shared stores (the flow survey's, the panel's records) save with, on a tiny store."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from core.store_save import MergedStore


class _Store(MergedStore):
    """Numbers by name in a JSON file; ``stale``: names left out unless put here since the last save; ``limit``:
    the highest numbers kept."""

    def __init__(self, file: Path, stale: set[str] = frozenset(), limit: int = 100) -> None:
        self.file, self.stale, self.limit = file, set(stale), limit
        self._lock = threading.Lock()
        self._entries = self._on_disk()
        self._new: set[str] = set()

    def put(self, name: str, number: int) -> None:
        self._entries[name] = number
        self._new.add(name)

    def _on_disk(self) -> dict[str, Any]:
        return json.loads(self.file.read_text()) if self.file.is_file() else {}

    def _text(self) -> str:
        return json.dumps(self._entries, sort_keys=True)

    def _stale(self, keys: list[str]) -> set[str]:
        return self.stale & set(keys)

    def _bounded(self, entries: dict[str, Any]) -> dict[str, Any]:
        return dict(sorted(entries.items(), key=lambda item: -item[1])[: self.limit])


def test_a_save_keeps_what_another_store_saved_since_it_read_the_file(tmp_path: Path) -> None:
    file = tmp_path / "cache" / "numbers.json"
    first, second = _Store(file), _Store(file)
    first.put("a", 1)
    second.put("b", 2)
    assert (first.save(), second.save()) == ("", "")
    assert json.loads(file.read_text()) == {"a": 1, "b": 2}
    assert second._entries == {"a": 1, "b": 2} and first._new == second._new == set()
    first.put("b", 3)  # put here after the other's save: this store's number wins
    first.save()
    assert json.loads(file.read_text()) == {"a": 1, "b": 3}


def test_stale_entries_go_unless_put_here_and_the_bound_applies_after(tmp_path: Path) -> None:
    file = tmp_path / "numbers.json"
    file.write_text(json.dumps({"old": 9, "gone": 8, "kept": 1}))
    store = _Store(file, stale={"old", "gone"}, limit=2)
    store.put("old", 7)  # put again: kept although stale
    store.put("new", 5)
    store.save()
    assert json.loads(file.read_text()) == {"old": 7, "new": 5}  # "gone" stale, "kept" beyond the bound
    assert store._new == set()
