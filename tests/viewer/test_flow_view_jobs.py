"""The flow view's jobs: asked once per chunk, stopped between frames, read through a decoder of their own."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import viewer.flow_controller as flow_controller
from core.errors import Cancelled
from core.progress import CancelToken
from media import write_video
from viewer.flow_chunks import compute_chunk
from viewer.flow_job import FAST_METHOD
from viewer.main_window import MainWindow


def test_moving_within_the_chunk_being_computed_does_not_start_it_again(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Playback asked again at every frame, cancelling the job that was computing that very chunk: on a 4K file
    no flow was ever shown, and the cancelled jobs held the workers."""
    real, started, release = compute_chunk, [], threading.Event()

    def gated(video, chunk, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        started.append(chunk)
        release.wait(20)
        return real(video, chunk, *args, **kwargs)

    monkeypatch.setattr(flow_controller, "compute_chunk", gated)
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    qtbot.waitUntil(lambda: started == [0], timeout=30000)
    for frame in (1, 2, 3, 5, 8):  # within chunk 0, each past the 40 ms throttle
        window.state.set_frame(frame)
        qtbot.wait(80)
    assert started == [0]
    release.set()
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert window.flow.current().pair == 8 and started[0] == 0


def test_a_cancelled_chunk_stops_reading_frames(tmp_path: Path) -> None:
    from core.flow import FlowEncoding
    from core.video import open_video

    cancel, reads = CancelToken(), []
    with open_video(write_video(tmp_path / "clip.mp4", 40)) as video:
        real_read = video.read

        def read(index: int) -> np.ndarray:
            reads.append(index)
            if len(reads) == 2:
                cancel.cancel()  # the user moved on while the second frame decoded
            return real_read(index)

        video.read = read  # type: ignore[method-assign]
        with pytest.raises(Cancelled):
            compute_chunk(video, 1, FAST_METHOD, device="cpu", encoding=FlowEncoding("fixed", 5.0), cancel=cancel)
    assert reads == [16, 17]


def test_flow_work_reads_through_its_own_decoders_and_playback_through_the_videos(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.scan_label.text().endswith("complete"), timeout=30000)
    shown = window.video.video
    readers = window.flow._readers.opened
    assert set(readers) == {"flow", "scan"}
    assert all(reader is not shown and reader.path == shown.path for reader in readers.values())
    assert readers["flow"] is not readers["scan"]
