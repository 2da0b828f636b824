"""The Classification dock at 1280x800 with the demo model on a real video: the result fits without scrolling."""

from __future__ import annotations

from media import write_video
from viewer.main_window import MainWindow


def test_a_classified_clip_fits_the_dock_at_1280x800_beside_the_synthetic_model_caveat(qtbot, window: MainWindow, tmp_path) -> None:  # noqa: ANN001
    """The caveat "trained on synthetic shapes" wrapped to four lines and pushed the dock's panel 28 px past its
    scroll area: the timings line under the bars was cut in half at the dock's edge.  Now the caveat is one line
    (the whole of it in its tooltip) and the result, timings included, is in sight."""
    window.resize(1280, 800)
    window.open_video(str(write_video(tmp_path / "real.mp4", 30)))  # no sidecar, no synthetic dataset near it
    badge, panel = window.dataset.badge, window.classify_ui.prediction_panel
    qtbot.waitUntil(lambda: window.classify.classify_state.model.ready and badge.note_label.isVisible(), timeout=20000)
    window.classify.classify_clip()
    qtbot.waitUntil(lambda: window.classify.classify_state.prediction is not None, timeout=20000)
    window.grab()  # lay the window out as a paint would
    assert window.height() == 800 and panel.timings_label.text().startswith("ms: ")
    sight = panel.parentWidget()  # the dock's scroll area's viewport
    timings = panel.timings_label
    top, bottom = timings.mapTo(sight, timings.rect().topLeft()), timings.mapTo(sight, timings.rect().bottomRight())
    assert sight.rect().contains(top) and sight.rect().contains(bottom), (top, bottom, sight.rect())
    assert sight.rect().contains(panel.bars.mapTo(sight, panel.bars.rect().bottomRight()))
    assert "are not real actions" in badge.note_label.toolTip()  # the whole caveat, a hover away
