"""Errors with a passing cause (a drive gone for a while, memory, a lock, a stopped job) are told from those that
fail again when asked again: the viewer asks again for the first kind only."""

from __future__ import annotations

import errno
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.errors import Cancelled, FlowError, VideoError, is_transient
from core.file_lock import LockTimeout, LockUnavailable
from core.video import open_video
from media import index_frame


@pytest.mark.parametrize("error", [
    OSError(errno.EIO, "Input/output error"),
    PermissionError(errno.EACCES, "Permission denied"),
    TimeoutError(errno.ETIMEDOUT, "Connection timed out"),
    InterruptedError(errno.EINTR, "Interrupted system call"),
    MemoryError(),
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("MPS backend out of memory (MPS allocated: 17.8 GB)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 1125899906842624 bytes. Error code 12 (Cannot allocate memory)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:72] data. DefaultCPUAllocator: not enough memory: you tried to allocate "
                 "1125899906842624 bytes."),
    Cancelled("stopped"),
    LockTimeout("another process held this lock for over 30 s", "/data/.store.lock"),
    VideoError("frame 3 cannot be decoded: Input/output error", "/net/clip.mp4", transient=True),
])
def test_passing_causes_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    FileNotFoundError(errno.ENOENT, "No such file or directory"),
    OSError(errno.ENOENT, "No such file or directory"),
    FlowError("frames of 20x4 are too small for flow"),
    VideoError("frame 3 is 64x48 but the video's first frame is 32x32", "/data/clip.mp4"),
    LockUnavailable("cannot open this lock file", "/data/.store.lock"),
    ValueError("a bug"),
    RuntimeError("shapes do not match"),
])
def test_causes_that_stay_are_permanent(error: BaseException) -> None:
    assert not is_transient(error)


def test_the_host_memory_torch_cannot_get_is_transient() -> None:
    """torch's CPU allocator raises a plain RuntimeError, no OutOfMemoryError: flow or a model on the CPU that ran
    out of memory was a failure for good, not worth asking again once memory is freed."""
    try:
        torch.empty(1 << 50, dtype=torch.uint8)  # a pebibyte: past any machine's memory and address space
    except RuntimeError as err:
        assert is_transient(err)
    else:
        pytest.skip("this machine allocated a pebibyte")


def _frames(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"frame_{i:04d}.png"), index_frame(i)[:, :, ::-1])
    return folder


def test_a_frame_the_drive_failed_to_give_is_a_transient_video_error(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The read of frame 2 fails with EIO (a network drive that went away): the error says so and is worth asking
    again; a frame deleted since the folder was listed is not."""
    folder = _frames(tmp_path / "frames", 4)
    real = np.fromfile

    def drive_gone(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if str(file).endswith("frame_0002.png"):
            raise OSError(errno.EIO, "Input/output error")
        return real(file, *args, **kwargs)

    with open_video(folder) as video:
        monkeypatch.setattr(np, "fromfile", drive_gone)
        with pytest.raises(VideoError, match="frame_0002.png: cannot be read \\(Input/output error\\)") as err:
            video.read(2)
        assert is_transient(err.value)
        monkeypatch.setattr(np, "fromfile", real)
        (folder / "frame_0003.png").unlink()
        with pytest.raises(VideoError, match="frame_0003.png: cannot be read") as err:
            video.read(3)
        assert not is_transient(err.value)
