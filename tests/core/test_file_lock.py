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
    assert "network drive" in str(raised.value)  # a dead NFS client holds it too: there is no process to end then


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


def refusing_writes(real_open, errno_code: int):  # noqa: ANN001, ANN201 - open() with its own signature
    """``open`` as on a folder or lock file this user cannot write: opening for writing fails with ``errno_code``."""

    def fake(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        if any(flag in mode for flag in "wa+x"):
            raise PermissionError(errno_code, os.strerror(errno_code), str(file))
        return real_open(file, mode, *args, **kwargs)

    return fake


def test_a_lock_file_this_user_cannot_write_still_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user's lock file (made 0644 beside a store in a shared, group-writable folder) is opened to read:
    the system's lock needs no write access, so the save goes on."""
    import builtins
    import errno

    store = tmp_path / "store.json"
    lock_file(store).touch()
    monkeypatch.setattr(file_lock, "open", refusing_writes(builtins.open, errno.EACCES), raising=False)
    assert second_holder_waits(store) == ["first done", "second"]


def test_a_lock_file_that_cannot_be_made_is_a_one_line_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import errno

    store = tmp_path / "store.json"  # a read-only folder: no lock file there yet, and none can be made
    monkeypatch.setattr(file_lock, "open", refusing_writes(builtins.open, errno.EROFS), raising=False)
    with pytest.raises(file_lock.LockUnavailable) as raised:
        with locked(store):
            pass
    assert str(raised.value) == f"{lock_file(store)}: cannot open this lock file (cannot write: the file system is read-only)"


def test_a_lock_the_system_cannot_give_is_a_one_line_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An NFS mount whose lock daemon is gone answers flock with ENOLCK: an error naming the lock file, not an OSError."""
    import errno

    def no_locks(_fd: int, _operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    class NoLocks:
        LOCK_EX, LOCK_NB, LOCK_UN = 2, 4, 8
        flock = staticmethod(no_locks)

    store = tmp_path / "store.json"
    monkeypatch.setattr(file_lock, "fcntl", NoLocks)
    with pytest.raises(file_lock.LockUnavailable) as raised:
        with locked(store):
            pass
    assert str(raised.value) == f"{lock_file(store)}: the system cannot lock this file ({os.strerror(errno.ENOLCK)}: on a network drive, its lock service may be down)"


def test_a_store_whose_folder_cannot_be_made_says_so_in_one_line(tmp_path: Path) -> None:
    """Both shared stores made their folder before taking the lock: a folder path through a file (or a read-only
    drive) ended the save with a bare NotADirectoryError / FileExistsError, not an error naming the folder."""
    from core.data.flow_survey import FlowSurveyStore, summarise_noise
    from core.evaluation.record_cache import RecordCache
    from core.evaluation.video_results import record_of

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder goes")
    survey = FlowSurveyStore(blocker / "survey", "dis")
    survey.put(tmp_path / "v.mp4", summarise_noise([0.1]))
    records = RecordCache("model.safetensors", ("a", "b"), blocker / "records")
    records.put(record_of("v.mp4", tmp_path / "v.mp4", ("a", "b"), 0, [0.9, 0.1], None))
    for store in (survey, records):  # the save says why it wrote nothing (the work that made the entries goes on)
        assert store.save() == (f"{lock_file(store.file)}: cannot open this lock file "
                                "(cannot write: a part of the folder path is a file, not a folder)")
        with pytest.raises(file_lock.LockUnavailable, match="cannot open this lock file"):
            with file_lock.locked(store.file):
                pass
