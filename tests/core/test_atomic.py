"""Atomic writes: the old file survives a failed write; new files get normal permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.atomic import atomic_open, atomic_path, write_text


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w", encoding="utf-8") as handle:
            handle.write("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left behind


def test_new_file_respects_umask_and_existing_mode_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    old = os.umask(0o022)
    try:
        write_text(target, "x")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o600)
    write_text(target, "y")
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_text() == "y"


def test_atomic_path_keeps_the_suffix_for_format_sniffing_writers(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "clip.mp4") as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"data")
    assert (tmp_path / "clip.mp4").read_bytes() == b"data"
