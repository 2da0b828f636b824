"""Atomic writes: the old file survives a failed write; new files get normal permissions."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from core.atomic import atomic_open, atomic_path, retry_busy, write_text


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


def test_a_save_killed_mid_write_leaves_a_temporary_the_next_save_sweeps(tmp_path):
    """A process killed (SIGKILL) while writing a checkpoint leaves its hidden temporary; the next
    save of that checkpoint removes it, and keeps a live writer's temporary."""
    import signal
    import subprocess
    import sys
    import textwrap

    import torch

    from core.atomic import orphan_temporaries
    from core.models.checkpoint import save_checkpoint
    from core.models.convnet import ConvNetConfig, build_convnet
    from paths import REPO

    target = tmp_path / "model.safetensors"
    script = textwrap.dedent(f"""
        import os, signal, sys
        import safetensors.torch
        from core.models.convnet import ConvNetConfig, build_convnet
        from core.models.checkpoint import save_checkpoint

        def killed(tensors, filename, metadata=None):
            open(filename, "wb").write(b"half of a checkpoint")
            os.kill(os.getpid(), signal.SIGKILL)

        safetensors.torch.save_file = killed
        config = ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={{"width": 4}}, input_size=32, flow_length=2)
        save_checkpoint({str(target)!r}, build_convnet(config))
    """)
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120)
        assert done.returncode == -signal.SIGKILL
    orphans = orphan_temporaries(tmp_path, target.name)
    assert len(orphans) == 1 and not target.exists()  # each killed save swept the one before it
    live = tmp_path / f".{target.name}.{os.getpid()}.abcdefgh.tmp.safetensors"  # this process's own: a write in progress
    live.write_bytes(b"writing")
    config = ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={"width": 4}, input_size=32, flow_length=2)
    torch.manual_seed(0)
    save_checkpoint(target, build_convnet(config))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name])


@pytest.mark.skipif(os.name == "nt", reason="Windows's files can be busy: a PermissionError is tried again there")
def test_a_permission_error_is_tried_once_where_files_cannot_be_busy() -> None:
    """Unpatched, on Linux and macOS: tried 20 times, 0.05 s apart, before the same error."""
    calls = []

    def refused() -> None:
        calls.append(1)
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        retry_busy(refused)
    assert len(calls) == 1
