"""Saving a cache store: one that cannot be written costs its file, never the work its entries record.

The dataset panel's flow survey and evaluation save their store (:mod:`core.data.flow_survey`,
:mod:`core.evaluation.record_cache`) as they go.  With a cache folder that cannot be written (a read-only share, a
full disk) the first save raised a bare ``PermissionError``, which ended the survey or evaluation as failed, after
(or in the middle of) the work; the entries are still good in memory, so the work goes on and the save says why not.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.errors import InputError, cannot_be_read


class StoreUnreadable(InputError):
    """A store's file is there but cannot be read (after :func:`core.atomic.retry_busy`, on Windows): a save does not
    write over it, since what other writers saved there would be lost with it."""


class SavedOrSaysWhy:
    """A store with a ``file`` and a ``_write`` (its read-merge-write) whose :meth:`save` never raises for the disk."""

    file: Path
    unsaved = ""  # why the last save wrote nothing, in one line naming the file; "" when it wrote

    def _write(self) -> None:
        raise NotImplementedError

    def save(self) -> str:
        """Write the file; ``""`` when written, else :attr:`unsaved` (``"FILE: cannot write: permission denied"``):
        the entries stay here, and the work that puts them goes on."""
        from core.export.target import describe_os_error
        from core.file_lock import LockTimeout, LockUnavailable

        try:
            self._write()
        except OSError as err:
            self.unsaved = str(InputError(describe_os_error(err), self.file))
        except (LockUnavailable, LockTimeout, StoreUnreadable) as err:  # the file or its lock file says why (named)
            self.unsaved = str(err)
        else:
            self.unsaved = ""
        return self.unsaved


class MergedStore(SavedOrSaysWhy):
    """A store shared between processes, whose :meth:`_write` merges the entries put here (:attr:`_new`) into the
    file as it is now, under the file's inter-process lock (:mod:`core.file_lock`): another writer's entries, saved
    since this store read the file or at the same instant, are kept.

    A store gives :meth:`_on_disk` (the file's entries, ``{}`` when absent or damaged, an ``OSError`` when it cannot
    be read: read it with :meth:`_file_bytes`) and :meth:`_text` (its entries as the file's text); it may leave out
    entries that will never be looked up again (:meth:`_stale`, :meth:`_bounded`) and keep state derived from its
    entries (:meth:`_set`).  It starts from :meth:`_loaded`.

    Readers read outside the lock (a store being made, in any process): on Windows the file cannot be replaced while
    one has it open, nor opened while it is being replaced, so there both the write's rename and the read are tried
    again for about a second (:func:`core.atomic.retry_busy`); elsewhere a refusal is the file's permissions, said at
    once."""

    _entries: dict[str, Any]  # key -> entry
    _new: set[str]  # the keys put (or used) here since the last save
    _lock: threading.Lock

    def _on_disk(self) -> dict[str, Any]:
        raise NotImplementedError

    def _file_bytes(self) -> bytes | None:
        """The file's bytes; ``None`` when there is none yet.  Busy (see the class) is tried again; an ``OSError`` when
        it cannot be read even so, never "nothing saved": a save would write the file's entries away."""
        from core.atomic import retry_busy

        try:
            return retry_busy(self.file.read_bytes)
        except FileNotFoundError:
            return None

    def _loaded(self) -> dict[str, Any]:
        """The file's entries for a store being made; none when it cannot be read now (a cache: what it holds is
        computed again, and a save reads the file again before it writes, so nothing there is lost)."""
        try:
            return self._on_disk()
        except OSError:
            return {}

    def _text(self) -> str:
        """The file's text for :attr:`_entries` (called holding :attr:`_lock`)."""
        raise NotImplementedError

    def _stale(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` to leave out of the file unless put here since the last save (called before the file's
        lock is taken, so a slow look does not keep another writer waiting); none by default."""
        return set()

    def _bounded(self, entries: dict[str, Any]) -> dict[str, Any]:
        """The merged ``entries`` the file keeps; all by default."""
        return entries

    def _set(self, entries: dict[str, Any]) -> None:
        self._entries = entries

    def _write(self) -> None:
        from core.atomic import write_text
        from core.file_lock import locked

        with self._lock:
            held = list(self._entries)
        stale = self._stale(held)  # what another writer added meanwhile is looked at by the next save
        with locked(self.file):
            try:
                on_disk = self._on_disk()
            except OSError as err:
                raise StoreUnreadable(f"{cannot_be_read(err)}: not written over, so as not to lose what it holds", self.file) from None
            with self._lock:
                saved = {key: self._entries[key] for key in self._new}
                merged = {**self._entries, **on_disk, **saved}
                self._set(self._bounded({key: entry for key, entry in merged.items() if key in saved or key not in stale}))
                text = self._text()
            write_text(self.file, text, wait_if_busy=True)
            with self._lock:
                # on disk now (or left out): a later save takes the file's entry, which may be newer (another writer's)
                self._new -= {key for key, entry in saved.items() if self._entries.get(key, entry) is entry}


def not_kept(unsaved: str) -> str:
    """A status line's tail when a store could not be written: what it holds is shown all the same, and is computed
    again next time."""
    return f"; not kept for next time ({unsaved})" if unsaved else ""
