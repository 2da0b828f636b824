"""One training run per checkpoint: a second run into the same ``--out`` is refused, not mixed in.

Two runs into one checkpoint once both ended in "done": each reported its own best epoch, and the
file and its training state held whichever wrote last.  The lock is the operating system's advisory
file lock, which it releases when the process ends, however it ends (a crash, SIGKILL): a dead
run never blocks the next.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Iterator

from core.atomic import staged_stem
from core.errors import InputError


def lock_path(checkpoint: Path) -> Path:
    """``.run.safetensors.lock`` beside ``run.safetensors`` while a run writes it (hidden; it holds the process's id;
    a killed run leaves it, unlocked, and the next run takes it over)."""
    return checkpoint.with_name(f".{staged_stem(checkpoint.name)}.lock")


@contextlib.contextmanager
def training_lock(checkpoint: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``checkpoint``'s lock while the block runs; when another process holds it, an :class:`InputError`
    names the checkpoint and that process.  Under ``torchrun`` rank 0 holds it for every rank."""
    if int(os.environ.get("RANK", "0") or 0) != 0:
        yield
        return
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): runs are trusted not to share an --out
        yield
        return
    target = Path(checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target), "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(handle)
            raise InputError(f"another training run{owner} is writing this checkpoint: wait for it to end, or choose another --out",
                             target) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:  # removed while still held (a run starting now makes a new file: this one is done); closing releases it
            with contextlib.suppress(OSError):
                lock_path(target).unlink()


def _owner(handle: IO[str]) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f" (process {pid})" if pid.isdigit() else ""
