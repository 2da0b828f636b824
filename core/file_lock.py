"""One writer at a time across processes: the lock that a store's read-merge-write holds.

Stores shared between processes (the flow survey's, which the viewer's scan and
``eval`` both save; the dataset panel's records, which two viewer windows save)
read the file, merge in what they hold and write it back.  Two processes doing
that at the same instant each merged into the file as it was before the other
wrote, and the later write lost the earlier one's entries.  Holding this lock
around the three steps serialises them.

The lock is the operating system's lock on a hidden file beside the store
(``fcntl.flock`` on POSIX, ``msvcrt.locking`` of its first byte on Windows),
which the system releases when its process ends however it ends: a writer that
crashed or was killed never leaves a stale lock behind, so there is nothing to
detect or clean up.  The file itself stays (removing it while another process
waits on it would hand out two locks); it is empty.  The system's lock needs no
write access, so a lock file another user made (a shared folder) is opened to
read; one that cannot be opened or locked at all (a read-only folder, a network
drive whose lock service is down) is a :class:`LockUnavailable` naming it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import IO, Callable, Iterator

from core.atomic import staged_stem
from core.errors import InputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

LOCK_WAIT_S = 30.0  # a read-merge-write takes milliseconds: a lock held this long is stuck
POLL_S = 0.01


class LockTimeout(InputError):
    """Another writer held a store's lock for longer than :data:`LOCK_WAIT_S`."""

    transient = True  # asked again later, the lock may be free


class LockUnavailable(InputError):
    """A store's lock file cannot be opened (a read-only folder) or the system cannot lock it (NFS without locks)."""


def lock_file(target: str | os.PathLike[str]) -> Path:
    """``.videos.json.lock`` beside ``videos.json`` (hidden, empty, never removed)."""
    target = Path(target)
    return target.with_name(f".{staged_stem(target.name)}.lock")


@contextlib.contextmanager
def locked(target: str | os.PathLike[str], wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold ``target``'s inter-process lock for the block (``target``'s folder is made when absent); a
    :class:`LockTimeout` naming the lock file after ``wait_s`` seconds of waiting (a process holding it that long is
    stuck: ending it frees the lock), a :class:`LockUnavailable` when it cannot be opened or locked."""
    path = lock_file(target)
    take, release = _system_lock()
    with _opened(path) as handle:
        deadline = time.monotonic() + wait_s
        while not _taken(take, handle, path):
            if time.monotonic() > deadline:
                raise LockTimeout(f"another process held this lock for over {wait_s:g} s (a writer of the file beside it "
                                  "is stuck, or on a network drive its machine went away: end that writer, or "
                                  "delete this lock file once none runs)", path)
            time.sleep(POLL_S)
        try:
            yield
        finally:
            release(handle)


def _opened(path: Path) -> IO[bytes]:
    """The lock file, made when absent; opened to read when this user may not write it (another user's)."""
    from core.export.target import describe_os_error

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return open(path, "a+b")
        except PermissionError:
            if not path.is_file():
                raise
            return open(path, "rb")
    except OSError as err:
        raise LockUnavailable(f"cannot open this lock file ({describe_os_error(err)})", path) from None


def _taken(take: Callable[[IO[bytes]], bool], handle: IO[bytes], path: Path) -> bool:
    """Whether ``take`` got the lock (``False``: another holds it); a system that cannot lock the file is an error."""
    try:
        return take(handle)
    except OSError as err:
        raise LockUnavailable(f"the system cannot lock this file ({err.strerror or err}: on a network drive, its lock "
                              "service may be down)", path) from None


def _system_lock() -> tuple[Callable[[IO[bytes]], bool], Callable[[IO[bytes]], None]]:
    """This system's (try to take without waiting, release) pair on an open lock file."""
    if fcntl is not None:
        return _take_flock, lambda handle: fcntl.flock(handle, fcntl.LOCK_UN)
    if msvcrt is not None:
        return _take_first_byte, _release_first_byte
    raise OSError("no file locks on this system (neither fcntl nor msvcrt)")


def _take_flock(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_first_byte(handle: IO[bytes]) -> bool:
    """Windows: lock byte 0 (past the end of the empty file, which Windows allows); held elsewhere is an OSError."""
    handle.seek(0)
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _release_first_byte(handle: IO[bytes]) -> None:
    handle.seek(0)
    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
