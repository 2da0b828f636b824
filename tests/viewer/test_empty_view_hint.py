"""With no video open the frame views said nothing: two dark rectangles, and the status line's "Open a video with
File > Open" was replaced within a second by the model's load message.  Now the empty views say how to open one,
and the hint goes as soon as a frame is shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from media import write_video
from viewer.main_window import MainWindow


def _light_pixels(window: MainWindow) -> int:
    """Pixels of the RGB view's picture area bright enough to be text (its background is #202124)."""
    view = window.rgb_view
    image = view.grab(view.graphics.geometry()).toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * image.height())
    rows = pixels.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    return int((rows.min(axis=2) > 150).sum())


def test_the_empty_views_say_how_to_open_a_video_until_a_frame_is_shown(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    qtbot.wait(50)
    assert _light_pixels(window) > 200  # words over the dark view (before: none, an empty dark rectangle)
    assert "File > Open Video" in window.rgb_view.hint.text() and "drop" in window.rgb_view.hint.text()
    assert window.rgb_view.hint.isVisible() and window.flow_view.hint.isVisible()

    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: window.rgb_view.current_image() is not None, timeout=10000)
    assert not window.rgb_view.hint.isVisible() and not window.flow_view.hint.isVisible()
