"""Files named with bytes that are not UTF-8 (copied from an older system's Latin-1 disk), for the tests that check
such names are opened and shown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

only_where_names_need_not_be_utf8 = pytest.mark.skipif(
    sys.platform in ("darwin", "win32"), reason="macOS and Windows file systems hold no names that are not UTF-8")


def non_utf8_path(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a ``name`` of raw bytes, decoded as ``os.fsdecode`` keeps them (surrogate escapes)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
