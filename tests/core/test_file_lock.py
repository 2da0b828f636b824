"""The inter-process lock the shared stores hold around read-merge-write: one holder at a time, a bounded wait
with a message that names the lock file, and no stale lock left by a writer that was killed while holding it."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from core import file_lock
from core.file_lock import LockTimeout, lock_file, locked
from store_writers import hold_lock

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the Windows path is checked through fcntl standing in for msvcrt")


def second_holder_waits(store: Path) -> list[str]:
    """The order in which a holder and a second taker (a thread) got through."""
    order: list[str] = []

    def take() -> None:
        with locked(store):
            order.append("second")

    with locked(store):
        second = threading.Thread(target=take)
        second.start()
        second.join(0.2)  # it cannot get in while the first holds the lock
        order.append("first done")
    second.join()
    return order


def test_a_second_holder_waits_then_gets_the_lock(tmp_path: Path) -> None:
    assert second_holder_waits(tmp_path / "store.json") == ["first done", "second"]


def test_a_lock_held_too_long_is_an_error_naming_the_lock_file(tmp_path: Path) -> None:
    store = tmp_path / "store.json"
    with locked(store):
        with pytest.raises(LockTimeout, match=r"another process held this lock for over 0\.05 s") as raised:
            with locked(store, wait_s=0.05):
                pass
    assert raised.value.path == str(tmp_path / ".store.json.lock") == str(lock_file(store))


def test_a_writer_killed_while_holding_the_lock_leaves_it_free(tmp_path: Path) -> None:
    store = tmp_path / "store.json"
    spawn = multiprocessing.get_context("spawn")
    holding = spawn.Event()
    holder = spawn.Process(target=hold_lock, args=(str(store), holding))
    holder.start()
    try:
        assert holding.wait(60)
        with pytest.raises(LockTimeout):  # held by a live process
            with locked(store, wait_s=0.05):
                pass
    finally:
        holder.kill()
        holder.join(60)
    with locked(store, wait_s=5):  # the system released it with its process: no stale lock to detect or delete
        pass


class FlockAsMsvcrt:
    """``msvcrt.locking`` of byte 0, played by ``fcntl.flock``: checks that the Windows path locks one byte at the
    file's start, and unlocks it."""

    LK_NBLCK, LK_UNLCK = 2, 0

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (mode, bytes, position)
        self._flock = file_lock.fcntl

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append((mode, nbytes, os.lseek(fd, 0, os.SEEK_CUR)))
        flock = self._flock
        flock.flock(fd, flock.LOCK_UN if mode == self.LK_UNLCK else flock.LOCK_EX | flock.LOCK_NB)  # held: OSError


def test_on_windows_the_lock_is_the_first_byte_of_the_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FlockAsMsvcrt()
    monkeypatch.setattr(file_lock, "msvcrt", fake)
    monkeypatch.setattr(file_lock, "fcntl", None)
    store = tmp_path / "store.json"
    assert second_holder_waits(store) == ["first done", "second"]
    with locked(store):
        with pytest.raises(LockTimeout):
            with locked(store, wait_s=0.05):
                pass
    assert {(mode, nbytes, position) for mode, nbytes, position in fake.calls} == {(2, 1, 0), (0, 1, 0)}
    assert fake.calls[-1] == (0, 1, 0)  # released last
