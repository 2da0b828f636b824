"""A finished scan is kept: switching back to a method already scanned shows its noise at once,
with no flow computed (it used to read, colour and score every pair again: ~1 s on the sample)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import viewer.flow_controller as flow_controller
from media import write_video
from viewer.flow_chunks import ChunkQuality
from viewer.main_window import MainWindow
from viewer.scan_memo import ScanMemo, scan_key, whole_scan


def _scanned(win: MainWindow, pairs: int) -> bool:
    return win.state.flow_noise.size == pairs and bool(np.isfinite(win.state.flow_noise).all()) and not win.jobs.is_busy("flow-scan")


def test_switching_back_to_a_scanned_method_computes_nothing(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = write_video(tmp_path / "clip.mp4", 20)
    window.method_box.setCurrentText("dis")
    window.open_video(str(path))
    qtbot.waitUntil(lambda: _scanned(window, 19) and window.flow.current() is not None, timeout=30000)
    dis_noise = window.state.flow_noise.copy()
    window.method_box.setCurrentText("farneback")
    qtbot.waitUntil(lambda: _scanned(window, 19) and window.flow.current() is not None and window.flow.method == "farneback", timeout=30000)
    assert not np.array_equal(window.state.flow_noise, dis_noise)

    computed: list[tuple[str, int]] = []
    real = flow_controller.compute_chunk

    def counting(video, chunk, method, **kwargs):  # noqa: ANN001, ANN202
        computed.append((method, chunk))
        return real(video, chunk, method, **kwargs)

    monkeypatch.setattr(flow_controller, "compute_chunk", counting)
    window.method_box.setCurrentText("dis")
    qtbot.waitUntil(lambda: _scanned(window, 19) and window.flow.current() is not None, timeout=10000)
    assert computed == [] and np.array_equal(window.state.flow_noise, dis_noise)
    assert np.array_equal(window.timeline.noise_curve.getData()[1], dis_noise)

    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the file changed: its scan is not reused
    window.method_box.setCurrentText("farneback")
    qtbot.waitUntil(lambda: _scanned(window, 19) and window.flow.method == "farneback" and window.flow.current() is not None, timeout=30000)
    assert any(method == "farneback" for method, _chunk in computed)


def test_a_scan_is_kept_only_when_every_pair_is_there(tmp_path: Path) -> None:
    def part(first: int, values: list[float]) -> ChunkQuality:
        v = np.asarray(values, np.float32)
        return ChunkQuality("dis", first, v, v * 10, v * 20)

    assert whole_scan([part(0, [0.1, 0.2])], 4) is None  # pairs 2-3 missing: a cancelled scan
    whole = whole_scan([part(2, [0.3, 0.4]), part(0, [0.1, 0.2])], 4)
    assert whole is not None and whole.first_pair == 0
    assert np.allclose(whole.noise, [0.1, 0.2, 0.3, 0.4]) and np.allclose(whole.magnitude_p95, [2, 4, 6, 8])

    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    memo = ScanMemo(capacity=2)
    keys = [scan_key(str(video), method, "auto", None) for method in ("dis", "tvl1", "farneback")]
    assert scan_key(str(tmp_path / "missing.mp4"), "dis", "auto", None) is None
    for key in keys:
        memo.put(key, whole)
    assert memo.get(keys[0]) is None and memo.get(keys[2]) is whole  # the oldest went
    assert scan_key(str(video), "raft-small", "auto", "a.pth") != scan_key(str(video), "raft-small", "auto", "b.pth")


def test_a_folder_whose_frames_were_written_again_is_another_video_for_the_memo(tmp_path: Path) -> None:
    """The memo keyed a folder on its own size and time, which frames written again in place keep: reopening it
    showed the old frames' curve."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"frame_{i}.png"), np.full((32, 32, 3), 40 * i, np.uint8))
    before = scan_key(str(folder), "dis", "cpu", None)
    times = os.stat(folder)
    cv2.imwrite(str(folder / "frame_1.png"), np.full((32, 32, 3), 200, np.uint8))
    os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert before is not None and scan_key(str(folder), "dis", "cpu", None) != before
    assert scan_key(str(tmp_path / "gone"), "dis", "cpu", None) is None


def test_a_scan_that_fails_says_so_on_its_line(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The line under the timeline went on counting pairs ("32/63 pairs, about under a second left") for good."""
    from core.errors import VideoError

    real = flow_controller.compute_chunk

    def damaged_second_chunk(video, chunk, method, **kwargs):  # noqa: ANN001, ANN202
        if chunk == 1:
            raise VideoError("is not a readable image", "frame_40.png")
        return real(video, chunk, method, **kwargs)

    monkeypatch.setattr(flow_controller, "compute_chunk", damaged_second_chunk)
    window.notifier.show_dialogs = False
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("flow-scan"), timeout=30000)
    assert window.scan_label.text() == "flow scan (dis) stopped: frame_40.png: is not a readable image"


def test_flow_pictures_kept_for_scrubbing_stay_within_their_byte_budget(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The store was capped at 600 pairs whatever their size: 854x480 pairs took 2.7 GB.  Now its bytes are capped
    too, and the chunk on screen always stays."""
    from viewer.flow_chunks import CHUNK_PAIRS

    monkeypatch.setattr(flow_controller, "MAX_STORED_BYTES", 1)  # any budget below one chunk: only the chunk shown stays
    window.open_video(str(write_video(tmp_path / "clip.mp4", 3 * CHUNK_PAIRS + 1)))
    for frame in (0, CHUNK_PAIRS + 2, 2 * CHUNK_PAIRS + 5):
        window.state.set_frame(frame)
        qtbot.waitUntil(lambda: window.flow.frame_index == frame and window.flow.current() is not None, timeout=30000)  # the frame on screen's
        pairs = sorted(pair for _method, pair in window.flow._store)
        first = frame // CHUNK_PAIRS * CHUNK_PAIRS
        assert pairs == list(range(first, first + CHUNK_PAIRS)), (frame, pairs)


def test_the_scan_can_be_stopped_and_resumed(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Long work can be cancelled: a 30,000-frame video's scan took minutes with nothing to stop it."""
    import threading
    import time

    real = flow_controller.compute_chunk
    held = threading.Event()

    def slow_after_the_first(video, chunk, method, *, cancel, **kwargs):  # noqa: ANN001, ANN202
        while chunk > 0 and not held.is_set():
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        return real(video, chunk, method, cancel=cancel, **kwargs)

    monkeypatch.setattr(flow_controller, "compute_chunk", slow_after_the_first)
    window.open_video(str(write_video(tmp_path / "clip.mp4", 40)))
    button = window.timeline.scan_button
    qtbot.waitUntil(lambda: button.isVisible() and window.flow.scanning, timeout=30000)
    assert button.text() == "Stop scan"
    button.click()
    assert not window.flow.scanning and button.isVisible() and button.text() == "Resume scan"
    assert window.scan_label.text().startswith("flow scan (dis) stopped at ") and window.scan_label.text().endswith("/39 pairs")
    held.set()
    button.click()
    qtbot.waitUntil(lambda: _scanned(window, 39), timeout=30000)
    assert window.scan_label.text() == "flow scan (dis) complete" and not button.isVisible()
