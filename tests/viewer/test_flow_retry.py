"""A chunk whose flow failed for a passing cause (memory, a read error of a network drive that came back) is asked
again when the user comes back to it, or presses Try again on the flow view's message; one whose cause stays (frames
of another size) is not asked again.  Before, any failure stood until the video was opened again.  Try again also
measures again the motion sample that sets a newly opened video's colour radius, when its cause may pass."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import viewer.flow_controller as flow_controller
from core.errors import VideoError
from core.flow.scale import measure_motion_scale
from core.progress import CancelToken
from core.video import open_video
from media import write_video
from viewer.flow_chunks import compute_chunk
from viewer.main_window import MainWindow


class FlakyChunks:
    """``compute_chunk`` that raises ``error`` for the view's requests of chunks in ``failing``: once each when
    ``times`` is 1, always when ``None``; records the chunks the view asked for (the scan's calls, which hear cache
    hits, pass through unrecorded)."""

    def __init__(self, error: BaseException, failing: set[int], times: int | None) -> None:
        self.error, self.failing, self.times = error, failing, times
        self.view_calls: list[int] = []

    def __call__(self, video, chunk, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN204
        if "cache_hit" not in kwargs:
            self.view_calls.append(chunk)
            if chunk in self.failing and (self.times is None or self.view_calls.count(chunk) <= self.times):
                raise self.error
        return compute_chunk(video, chunk, *args, **kwargs)


def _open(qtbot, window: MainWindow, path: Path, chunks: FlakyChunks, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(flow_controller, "compute_chunk", chunks)
    window.open_video(str(path))
    panel = window.flow_status.panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.text().startswith("No dis flow for frames 0-1"), timeout=30000)
    assert window.flow_view.current_image() is None and chunks.view_calls == [0]


def _fresh_picture(window: MainWindow, path: Path, pair: int) -> np.ndarray:
    """Pair ``pair``'s flow picture computed here and now, as the view would draw it."""
    flow = window.flow
    with open_video(path) as video:
        frames = compute_chunk(video, pair // flow_controller.CHUNK_PAIRS, flow.method, device=flow.device, encoding=flow.encoding,
                               video_pixels=flow.video_pixels, cancel=CancelToken())
    return next(f.image for f in frames if f.pair == pair)


def _go_to(qtbot, window: MainWindow, frame: int) -> None:  # noqa: ANN001
    window.state.set_frame(frame)
    qtbot.waitUntil(lambda: window.rgb_view.caption.text() == f"frame {frame}", timeout=10000)


@pytest.mark.parametrize("error", [OSError(errno.EIO, "Input/output error"), MemoryError()], ids=["read-error", "out-of-memory"])
def test_coming_back_to_a_frame_whose_flow_failed_for_a_passing_cause_computes_it(qtbot, window: MainWindow, tmp_path: Path,  # noqa: ANN001
                                                                                   monkeypatch, error: BaseException) -> None:
    path = write_video(tmp_path / "clip.mp4", 40)
    chunks = FlakyChunks(error, {0}, times=1)
    _open(qtbot, window, path, chunks, monkeypatch)
    assert window.flow_status.retry_button.isVisible()
    _go_to(qtbot, window, 20)  # another chunk: computed
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.flow.current().pair == 20, timeout=30000)
    _go_to(qtbot, window, 0)  # back: asked again, once
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.flow.current().pair == 0, timeout=30000)
    assert chunks.view_calls == [0, 1, 0]
    assert np.array_equal(window.flow_view.current_image(), _fresh_picture(window, path, 0))
    assert not window.flow_status.panel.isVisible() and window.flow_view.caption.text().startswith("flow 0 -> 1, dis")


def test_try_again_on_the_flow_view_computes_a_chunk_that_failed_for_a_passing_cause(qtbot, window: MainWindow, tmp_path: Path,  # noqa: ANN001
                                                                                      monkeypatch) -> None:
    path = write_video(tmp_path / "clip.mp4", 12)
    chunks = FlakyChunks(VideoError("frame 3 cannot be decoded: Input/output error", path, transient=True), {0}, times=1)
    _open(qtbot, window, path, chunks, monkeypatch)
    _go_to(qtbot, window, 3)  # within the failed chunk: not asked again (scrubbing gave an error at every frame)
    qtbot.waitUntil(lambda: window.flow_status.panel.text().startswith("No dis flow for frames 3-4"), timeout=10000)
    assert chunks.view_calls == [0]
    button = window.flow_status.retry_button
    assert button.isVisible() and button.text() == "Try again"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert chunks.view_calls == [0, 0] and window.flow.current().pair == 3
    assert np.array_equal(window.flow_view.current_image(), _fresh_picture(window, path, 3))


def test_a_chunk_that_failed_for_good_is_not_asked_again(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Frames of another size fail again however often they are asked: no Try again, and coming back says why."""
    path = write_video(tmp_path / "clip.mp4", 40)
    chunks = FlakyChunks(VideoError("frame 3 is 64x48 but the video's first frame is 128x64", path), {0, 1}, times=None)
    _open(qtbot, window, path, chunks, monkeypatch)
    panel, flow = window.flow_status.panel, window.flow
    assert not window.flow_status.retry_button.isVisible()
    _go_to(qtbot, window, 20)
    qtbot.waitUntil(lambda: panel.text().startswith("No dis flow for frames 20-21"), timeout=30000)
    _go_to(qtbot, window, 0)
    flow.try_again()  # what a Try again would do, were it offered
    qtbot.waitUntil(lambda: panel.text().startswith("No dis flow for frames 0-1") and not flow._throttle.isActive()
                    and not window.jobs.is_busy("flow"), timeout=10000)
    assert chunks.view_calls == [0, 1] and flow.current() is None and not window.flow_status.retry_button.isVisible()
    assert panel.text() == f"No dis flow for frames 0-1: {path}: frame 3 is 64x48 but the video's first frame is 128x64"


class FlakyMotionSample:
    """``measure_motion_scale`` that raises ``error`` on its first ``times`` calls (always when ``None``), then measures."""

    def __init__(self, error: BaseException, times: int | None) -> None:
        self.error, self.times, self.calls = error, times, 0

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        self.calls += 1
        if self.times is None or self.calls <= self.times:
            raise self.error
        return measure_motion_scale(*args, **kwargs)


def _open_failing_sample(qtbot, window: MainWindow, path: Path, sample: FlakyMotionSample, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(flow_controller, "measure_motion_scale", sample)
    window.open_video(str(path))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("flow-prepare"), timeout=30000)
    _go_to(qtbot, window, 5)  # moved on: the view still says why (it said "measuring", for good)
    qtbot.waitUntil(lambda: window.flow_status.panel.text().startswith("No dis flow for frames 5-6: "), timeout=10000)
    assert sample.calls == 1 and window.flow.scale is None and window.flow.current() is None


def test_try_again_measures_again_a_motion_sample_that_failed_for_a_passing_cause(qtbot, window: MainWindow, tmp_path: Path,  # noqa: ANN001
                                                                                   monkeypatch) -> None:
    """The job that measures a video's motion for its colours failed on a read error of a network drive: before, only
    opening the video again helped (no Try again, and nothing was ever computed)."""
    path = write_video(tmp_path / "clip.mp4", 12)
    sample = FlakyMotionSample(OSError(errno.EIO, "Input/output error"), times=1)
    _open_failing_sample(qtbot, window, path, sample, monkeypatch)
    assert window.flow_status.panel.text() == "No dis flow for frames 5-6: [Errno 5] Input/output error"
    button = window.flow_status.retry_button
    assert button.isVisible() and button.text() == "Try again"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    assert sample.calls == 2 and window.flow.scale is not None and window.flow.current().pair == 5
    assert np.array_equal(window.flow_view.current_image(), _fresh_picture(window, path, 5))
    assert not window.flow_status.panel.isVisible() and "not started" not in window.scan_label.text()


def test_a_motion_sample_that_failed_for_good_is_not_measured_again(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = write_video(tmp_path / "clip.mp4", 12)
    sample = FlakyMotionSample(VideoError("frame 3 cannot be decoded: invalid data", path), times=None)
    _open_failing_sample(qtbot, window, path, sample, monkeypatch)
    assert not window.flow_status.retry_button.isVisible()
    window.flow.try_again()  # what a Try again would do, were it offered
    assert sample.calls == 1 and not window.jobs.is_busy("flow-prepare") and window.flow.scale is None
    assert window.flow_status.panel.text() == f"No dis flow for frames 5-6: {path}: frame 3 cannot be decoded: invalid data"
