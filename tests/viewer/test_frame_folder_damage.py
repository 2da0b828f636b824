"""A folder of frames that cannot be read, or damaged while it is open: a frame deleted (or one that cannot be read)
is one line naming the image and why, like a damaged image; the frames around it still show."""

from __future__ import annotations

from pathlib import Path

import cv2

from media import decode_index, index_frame
from unlistable import make_unlistable
from viewer.main_window import MainWindow


def test_a_frame_deleted_while_the_folder_is_open_is_named_with_why(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """It was "Cannot read frame: FileNotFoundError: [Errno 2] No such file or directory: '.../0003.png'", an
    unexpected error whose traceback was logged."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"{i:04d}.png"), index_frame(i)[:, :, ::-1])
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.video.shown_index == 0, timeout=10000)
    (folder / "0003.png").unlink()
    window.state.set_frame(3)
    qtbot.waitUntil(lambda: any(e.startswith("Cannot read frame") for e in errors), timeout=10000)
    assert [e for e in errors if e.startswith("Cannot read frame")] == [f"Cannot read frame: {folder / '0003.png'}: cannot be read (No such file or directory)"]
    window.state.set_frame(4)
    qtbot.waitUntil(lambda: window.video.shown_index == 4, timeout=10000)
    assert decode_index(window.video.current_frame) == 4


def test_a_folder_that_cannot_be_listed_is_named_with_why(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """No permission to list it was "Cannot open video:
    PermissionError: [Errno 13] Permission denied: '.../frames'"."""
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0000.png"), index_frame(0)[:, :, ::-1])
    make_unlistable(monkeypatch, folder)
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=10000)
    assert window.notifier.last_error == f"{folder}: cannot be read (Permission denied)"
