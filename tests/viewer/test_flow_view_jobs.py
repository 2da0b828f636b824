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
            compute_chunk(video, 1, FAST_METHOD, device="cpu", encoding=FlowEncoding("fixed", 5.0), video_pixels=1.0, cancel=cancel)
    assert reads == [16, 17]


def test_flow_work_reads_through_its_own_decoders_and_playback_through_the_videos(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.scan_label.text().endswith("complete"), timeout=30000)
    shown = window.video.video
    readers = window.video.opened.readers.opened
    assert set(readers) == {"flow", "scan"} and [len(held) for held in readers.values()] == [1, 1]
    assert all(reader is not shown and reader.path == shown.path for reader in (*readers["flow"], *readers["scan"]))
    assert readers["flow"][0] is not readers["scan"][0]


def test_a_view_job_that_replaced_one_still_reading_reads_through_another_decoder(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A jump to another chunk cancels the view's job, which finishes its read while the new job starts: the two
    read through one decoder, each read pulling it back to its own keyframe."""
    real, readers, release = compute_chunk, [], threading.Event()

    def gated(video, chunk, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        readers.append((chunk, video))
        if chunk == 0:
            release.wait(20)  # the first job still holds its reader
            video.read(3)
        return real(video, chunk, *args, **kwargs)

    monkeypatch.setattr(flow_controller, "compute_chunk", gated)
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    qtbot.waitUntil(lambda: [chunk for chunk, _ in readers] == [0], timeout=30000)
    window.state.set_frame(20)  # chunk 1
    qtbot.waitUntil(lambda: [chunk for chunk, _ in readers][:2] == [0, 1], timeout=30000)
    release.set()
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.flow.current().pair == 20, timeout=30000)
    (_, first), (_, second) = readers[:2]
    assert first is not second and first is not window.video.video and second is not window.video.video
