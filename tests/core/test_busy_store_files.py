"""The shared stores (the flow survey's, the dataset panel's records) on Windows, where a file another process has open
cannot be replaced (``os.replace`` raises ``PermissionError``) and a file being replaced cannot be opened for a moment:
their readers read outside the lock, so a save failed ("cannot write: permission denied") whenever one was reading,
and a read that failed under the lock was taken for an empty file, which the save then wrote over (another process's
entries lost).  Both are tried again for about a second; a file that stays unreadable is not written over.  Simulated
here on any system, declared one whose files can be busy; on one whose files cannot (Linux, macOS: the refusal is the
file's permissions), each is tried once."""

from __future__ import annotations

import errno
import os
import pathlib
from pathlib import Path
from typing import Any, Callable

import pytest

from core import atomic
from core.data.flow_survey import FlowSurveyStore, summarise_noise
from core.evaluation.record_cache import RecordCache
from core.evaluation.video_results import record_of

CLASSES = ("a", "b")


class _Survey:
    def __init__(self, root: Path) -> None:
        self.root, self.store = root, FlowSurveyStore(root, "dis")

    def put(self, name: str) -> None:
        self.store.put(self.root / name, summarise_noise([0.5]))

    def has(self, name: str) -> bool:
        return self.store.get(self.root / name) is not None


class _Records:
    def __init__(self, root: Path) -> None:
        self.root, self.store = root, RecordCache("model.safetensors", CLASSES, root)

    def put(self, name: str) -> None:
        self.store.put(record_of(name, self.root / name, CLASSES, 0, [0.9, 0.1], None))

    def has(self, name: str) -> bool:
        return self.store.get(self.root / name) is not None


STORES = pytest.mark.parametrize("make", [_Survey, _Records], ids=["flow-survey", "records"])


@pytest.fixture(autouse=True)
def _files_can_be_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows's behaviour, on any system, without its pauses."""
    monkeypatch.setattr(atomic, "files_can_be_busy", lambda: True)
    monkeypatch.setattr(atomic, "BUSY_PAUSE_S", 0.0)


def _busy(refusals: int | None) -> Callable[[], None]:
    """A call that raises Windows's error for a busy file the first ``refusals`` times (always: ``None``)."""
    calls = []

    def call() -> None:
        calls.append(1)
        if refusals is None or len(calls) <= refusals:
            raise PermissionError(errno.EACCES, "Permission denied")

    call.calls = calls  # type: ignore[attr-defined]
    return call


def _refuse_replace(monkeypatch: pytest.MonkeyPatch, refusals: int | None) -> list[int]:
    real, busy = os.replace, _busy(refusals)

    def replace(source: Any, target: Any) -> None:
        busy()
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    return busy.calls  # type: ignore[attr-defined]


def _refuse_reading(monkeypatch: pytest.MonkeyPatch, file: Path, refusals: int | None) -> list[int]:
    real, busy = pathlib.Path.open, _busy(refusals)

    def opened(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == file:
            busy()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", opened)
    return busy.calls  # type: ignore[attr-defined]


@STORES
def test_a_save_waits_for_a_reader_that_holds_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    store = make(tmp_path)
    store.put("clip.mp4")
    calls = _refuse_replace(monkeypatch, 3)
    assert store.store.save() == ""  # was "FILE: cannot write: permission denied"
    assert len(calls) == 4
    monkeypatch.undo()
    assert make(tmp_path).has("clip.mp4")


@STORES
def test_a_file_held_past_the_wait_is_the_usual_one_line_error_and_the_entries_stay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    store = make(tmp_path)
    store.put("clip.mp4")
    calls = _refuse_replace(monkeypatch, None)
    assert store.store.save() == f"{store.store.file}: cannot write: permission denied"
    assert len(calls) == atomic.BUSY_TRIES
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{store.store.file.name}.lock"]  # no temporary left behind
    monkeypatch.undo()
    assert store.has("clip.mp4") and store.store.save() == "" and make(tmp_path).has("clip.mp4")


@STORES
def test_a_file_being_replaced_while_a_store_reads_it_is_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    saved = make(tmp_path)
    saved.put("clip.mp4")
    saved.store.save()
    calls = _refuse_reading(monkeypatch, saved.store.file, 2)
    assert make(tmp_path).has("clip.mp4")  # was read as an empty store
    assert len(calls) == 3


@STORES
def test_a_file_that_cannot_be_read_is_not_written_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    """Read as empty, the save wrote the file again with this store's entries only: the other writer's were gone."""
    other, this = make(tmp_path), make(tmp_path)
    other.put("other.mp4")
    other.store.save()
    before = other.store.file.read_bytes()
    this.put("this.mp4")
    _refuse_reading(monkeypatch, this.store.file, None)
    assert this.store.save() == f"{this.store.file}: cannot be read (Permission denied): not written over, so as not to lose what it holds"
    monkeypatch.undo()
    assert this.store.file.read_bytes() == before
    assert this.store.save() == ""  # readable again: both writers' entries
    again = make(tmp_path)
    assert again.has("other.mp4") and again.has("this.mp4")


@STORES
def test_where_files_cannot_be_busy_an_unreadable_store_is_tried_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    """On Linux and macOS a refusal is the file's permissions: tried 20 times, 0.05 s apart, it cost about a second
    each time the store was opened or saved, for the same error."""
    saved = make(tmp_path)
    saved.put("other.mp4")
    saved.store.save()
    monkeypatch.setattr(atomic, "files_can_be_busy", lambda: False)
    reads = _refuse_reading(monkeypatch, saved.store.file, None)
    this = make(tmp_path)
    assert len(reads) == 1 and not this.has("other.mp4")  # opened: read once, found nothing
    this.put("this.mp4")
    assert this.store.save() == f"{this.store.file}: cannot be read (Permission denied): not written over, so as not to lose what it holds"
    assert len(reads) == 2  # the save's read, once


@STORES
def test_where_files_cannot_be_busy_an_unwritable_store_is_replaced_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    store = make(tmp_path)
    store.put("clip.mp4")
    monkeypatch.setattr(atomic, "files_can_be_busy", lambda: False)
    replaces = _refuse_replace(monkeypatch, None)
    assert store.store.save() == f"{store.store.file}: cannot write: permission denied"
    assert len(replaces) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{store.store.file.name}.lock"]  # no temporary left behind
