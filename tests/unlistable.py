"""A folder that cannot be listed, as one without read permission is: simulated, since the tests run as root, who may
list anything."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest


def make_unlistable(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Listing ``folder`` raises ``PermissionError`` (EACCES) from now on in this test."""
    real = Path.iterdir

    def iterdir(path: Path):  # noqa: ANN202
        if path == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "iterdir", iterdir)
