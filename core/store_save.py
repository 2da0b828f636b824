"""Saving a cache store: one that cannot be written costs its file, never the work its entries record.

The dataset panel's flow survey and evaluation save their store (:mod:`core.data.flow_survey`,
:mod:`core.evaluation.record_cache`) as they go.  With a cache folder that cannot be written (a read-only share, a
full disk) the first save raised a bare ``PermissionError``, which ended the survey or evaluation as failed, after
(or in the middle of) the work; the entries are still good in memory, so the work goes on and the save says why not.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError


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
        except (LockUnavailable, LockTimeout) as err:  # its lock file, beside the store, says why (named)
            self.unsaved = str(err)
        else:
            self.unsaved = ""
        return self.unsaved


def not_kept(unsaved: str) -> str:
    """A status line's tail when a store could not be written: what it holds is shown all the same, and is computed
    again next time."""
    return f"; not kept for next time ({unsaved})" if unsaved else ""
