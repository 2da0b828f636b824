"""The flow view's caption says how its colours are scaled now: locking the radius in use (or unlocking it) keeps
the picture, and the caption follows at once."""

from __future__ import annotations

from pathlib import Path

from media import write_video
from viewer.main_window import MainWindow


def test_locking_the_radius_in_use_relabels_the_caption(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Locking keeps the radius in use, so no picture is redrawn: the caption said "(auto)" beside a locked radius
    (and "(locked)" once unlocked again) until the next frame."""
    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=30000)
    caption = window.flow_view.caption
    assert "(auto)" in caption.text()
    radius = window.flow.encoding.max_radius

    window.colour_scale_ui.lock_action.setChecked(True)
    assert window.flow.encoding.max_radius == radius and not window.flow.auto_radius
    assert f"colours saturate at {radius:g} px (locked)" in caption.text(), caption.text()

    window.colour_scale_ui.lock_action.setChecked(False)
    assert window.flow.auto_radius and window.flow.encoding.max_radius == radius
    assert f"colours saturate at {radius:g} px (auto)" in caption.text(), caption.text()
