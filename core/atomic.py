"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every export, cache entry and checkpoint goes through here, so a crash or a
full disk never destroys what the user had.  A write goes to a hidden
temporary beside the target, named with the writer's process id; a process
killed mid-write (SIGKILL, power loss) leaves that temporary behind, and
:func:`sweep_orphans` removes the ones whose writer is gone (the next save of
the same file does it, and the caches sweep their folders when opened).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, Iterator, TypeVar

# ".<target name>.<pid>.<random>.tmp<suffix>"; temporaries from before the pid was in the name
# (".<target name>.<random>.tmp<suffix>") count as orphans once a day old
_TEMPORARY = re.compile(r"^\.(?P<target>.+?)\.(?:(?P<pid>\d+)\.)?(?P<random>[a-z0-9_]{8})\.tmp(?P<suffix>\.[^.]*)?$")
UNNAMED_ORPHAN_AGE_S = 24 * 3600
# ".<folder name>.<pid>.<random>.partial": a folder being written; ".old": the one it replaces
_STAGED = re.compile(r"^\.(?P<target>.+?)\.(?P<pid>\d+)\.(?P<random>[a-z0-9_]{8})\.(?P<kind>partial|old)$")


# A file another process has open cannot be replaced on Windows, nor opened while it is being replaced: tried again
# this many times, this long apart (about a second; a store's reader holds its file for milliseconds), where files
# can be busy (:func:`files_can_be_busy`)
BUSY_TRIES = 20
BUSY_PAUSE_S = 0.05
Result = TypeVar("Result")

# A temporary's name holds its target's: a long target name is cut to this many bytes plus a hash, so the
# temporary stays within the file system's 255 bytes a name.
STAGED_NAME_BYTES = 150


def staged_stem(name: str) -> str:
    """The part of a temporary's or staging folder's name that names its target (``name``, or when long,
    its first bytes and a hash of it: unique, and short enough for the rest of the temporary's name)."""
    encoded = os.fsencode(name)
    if len(encoded) <= STAGED_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:12]
    return os.fsdecode(encoded[: STAGED_NAME_BYTES - 16]) + "~" + digest  # a character cut in two stays bytes (surrogates)


def _final_mode(target: Path, new: int = 0o666) -> int:
    """Keep an existing file's (or folder's) permissions; a new one gets the usual ones, ``new`` less
    the umask (mkstemp's are 0600, mkdtemp's 0700)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return new & ~umask


def files_can_be_busy() -> bool:
    """Whether this system refuses, for a moment, to replace or open a file another process has open or is replacing,
    with a ``PermissionError`` (Windows).  Elsewhere that error is the file's permissions, which waiting never changes:
    tried again, an unreadable store cost about a second each time it was opened or saved, for nothing."""
    return os.name == "nt"


def retry_busy(action: Callable[[], Result]) -> Result:
    """``action()``, tried again after a pause while it raises ``PermissionError``, :data:`BUSY_TRIES` times in all;
    the last try's error is raised.  On Windows ``os.replace`` over a file another process has open (a store's reader,
    which reads outside the store's lock) raises it, as does opening a file another process is replacing.  Tried once
    where files cannot be busy (:func:`files_can_be_busy`)."""
    if not files_can_be_busy():
        return action()
    for _ in range(BUSY_TRIES - 1):
        try:
            return action()
        except PermissionError:
            time.sleep(BUSY_PAUSE_S)
    return action()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, wait_if_busy: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    For writers that want a file name (``cv2.imwrite``, ``safetensors``,
    ``matplotlib``).  The temporary keeps the final suffix so such writers
    pick the right format.  ``wait_if_busy``: a rename refused for permission is
    tried again for about a second on Windows (:func:`retry_busy`), for a file that
    other processes read as it is written (a shared store); other writers fail at once
    (an export over a file open in another program: nothing to wait for, and
    the viewer would freeze).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{staged_stem(target.name)}.{os.getpid()}.", suffix=f".tmp{target.suffix[:16]}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _final_mode(target))
        if wait_if_busy:
            retry_busy(lambda: os.replace(tmp, target))
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def orphan_temporaries(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """The temporaries in ``folder`` (of the file called ``name``, or of any) whose writer is gone."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or (name is not None and match["target"] != staged_stem(name)) or not entry.is_file(follow_symlinks=False):
            continue
        if match["pid"] is not None:
            if not _writer_alive(int(match["pid"])):
                found.append(Path(entry.path))
        elif now - entry.stat(follow_symlinks=False).st_mtime > UNNAMED_ORPHAN_AGE_S:
            found.append(Path(entry.path))
    return found


def sweep_orphans(folder: str | os.PathLike[str], name: str | None = None) -> int:
    """Remove what :func:`orphan_temporaries` finds; returns how many went."""
    removed = 0
    for path in orphan_temporaries(folder, name):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; when the block succeeds it replaces ``path``
    whole, so ``path`` holds the old complete result or the new one, never a mix, and nothing an
    earlier, larger result left behind.  The swap is two renames: a crash between them leaves the
    old folder staged aside, and the next call puts it back before anything else.  A ``path`` that is
    a symbolic link is written through: the folder it points to is replaced, the link stays."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_staged_folders(target.parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{staged_stem(target.name)}.{os.getpid()}.", suffix=".partial", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, _final_mode(target, new=0o777))
        if target.exists():
            old = staging.with_name(staging.name.removesuffix(".partial") + ".old")
            os.rename(target, old)
            os.rename(staging, target)
            _remove(old)
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a folder tree, or a file or link (which ``rmtree`` refuses), whatever is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def sweep_staged_folders(folder: str | os.PathLike[str], name: str) -> int:
    """Clear what :func:`atomic_folder` calls for ``name`` left when their process died: a half
    written staging folder goes; an old result staged aside is put back if nothing replaced it."""
    swept = 0
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return 0
    for entry in entries:
        match = _STAGED.match(entry.name)
        if match is None or match["target"] != staged_stem(name) or _writer_alive(int(match["pid"])) or not entry.is_dir(follow_symlinks=False):
            continue
        target = Path(folder) / name
        if match["kind"] == "old" and not target.exists():
            os.rename(entry.path, target)
        else:
            shutil.rmtree(entry.path, ignore_errors=True)
        swept += 1
    return swept


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None, *,
                wait_if_busy: bool = False) -> Iterator[IO]:
    """``open(path, mode)`` that only replaces ``path`` when the block succeeds (``wait_if_busy``: see :func:`atomic_path`)."""
    if "r" in mode or "a" in mode:
        raise ValueError(f"atomic_open is for writing, got mode {mode!r}")
    with atomic_path(path, wait_if_busy=wait_if_busy) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike[str], text: str, *, wait_if_busy: bool = False) -> None:
    with atomic_open(path, "w", encoding="utf-8", wait_if_busy=wait_if_busy) as handle:
        handle.write(text)
