"""A frame image written again while its folder is open is shown as it is now, never from before."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from viewer.main_window import MainWindow


def test_going_back_to_a_frame_written_again_shows_the_new_picture(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((24, 32, 3), 30 * (i + 1), np.uint8))
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.video.shown_index == 0, timeout=10000)
    window.state.set_frame(1)
    qtbot.waitUntil(lambda: window.video.shown_index == 1, timeout=10000)
    assert int(window.video.current_frame[0, 0, 0]) == 60
    window.state.set_frame(2)
    qtbot.waitUntil(lambda: window.video.shown_index == 2, timeout=10000)

    frame_1 = folder / "001.png"
    cv2.imwrite(str(frame_1), np.full((24, 32, 3), 200, np.uint8))  # re-extracted in place (ffmpeg -y)
    stat = frame_1.stat()
    os.utime(frame_1, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # however coarse the file system's clock
    window.state.set_frame(1)
    qtbot.waitUntil(lambda: window.video.shown_index == 1, timeout=10000)
    assert int(window.video.current_frame[0, 0, 0]) == 200
