"""The timeline redraws cheaply: coalesced partial scans, a magnitude axis in coarse steps, cached axes;
an empty timeline shows no frame numbers (it showed -0.4 ... 0.4)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QGraphicsItem

from core.video.base import VideoInfo
from viewer.state import ViewerState
from viewer.widgets.timeline import SCAN_REDRAW_MS, Timeline, nice_ceiling
from staging_helpers import settle


def test_nice_ceiling_rounds_up_to_coarse_steps() -> None:
    assert nice_ceiling(1.0) == 1.0
    assert nice_ceiling(1.01) == 1.2
    assert nice_ceiling(2.6) == 3.0
    assert nice_ceiling(8.5) == pytest.approx(10.0)
    assert nice_ceiling(0.031) == pytest.approx(0.04)
    assert nice_ceiling(123.0) == pytest.approx(150.0)
    for value in np.geomspace(1e-3, 1e3, 97):
        top = nice_ceiling(float(value))
        assert value <= top * (1 + 1e-9) and value / top >= 0.75 - 1e-9  # covers it, curve keeps >= 75% of the height
    with pytest.raises(ValueError, match="-1"):
        nice_ceiling(-1.0)


def _info(frames: int) -> VideoInfo:
    fields = {f.name: None for f in dataclasses.fields(VideoInfo)}
    fields.update(path="clip.mp4", frames=frames, fps=25.0, width=64, height=48, duration_s=frames / 25.0, codec="h264", rotation=0)
    return VideoInfo(**fields)


def test_partial_scans_are_coalesced_and_a_complete_scan_is_drawn_at_once(qtbot) -> None:  # noqa: ANN001
    state = ViewerState()
    timeline = Timeline(state)
    qtbot.addWidget(timeline)
    state.set_video(_info(9))
    state.reset_scan(8)
    for name in ("left", "right", "bottom"):
        assert timeline.plot.getPlotItem().getAxis(name).cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache
    state.update_scan(0, np.array([0.1, 0.2], np.float32), np.array([1.0, 2.0], np.float32))
    state.update_scan(2, np.array([0.3], np.float32), np.array([2.6], np.float32))
    _x, y = timeline.noise_curve.getData()
    assert np.isnan(y).all()  # not drawn yet: both chunks wait for one redraw
    qtbot.waitUntil(lambda: np.isfinite(timeline.noise_curve.getData()[1]).sum() == 3, timeout=SCAN_REDRAW_MS * 20)
    assert timeline.magnitude_box.viewRange()[1] == pytest.approx([0.0, 3.0 * 1.06])  # 2.6 * 1.05 -> 3, and room for the label "3"
    state.update_scan(3, np.full(5, 0.4, np.float32), np.full(5, 9.0, np.float32))  # completes the scan
    _x, y = timeline.noise_curve.getData()
    assert np.allclose(y, state.flow_noise)  # at once, no timer
    assert timeline.magnitude_box.viewRange()[1] == pytest.approx([0.0, 10.0 * 1.06])
    state.reset_scan(8)  # a new method: cleared at once
    assert np.isnan(timeline.noise_curve.getData()[1]).all()


def test_an_empty_timeline_has_no_frame_ticks_and_a_video_gets_its_frames(qtbot) -> None:  # noqa: ANN001
    state = ViewerState()
    timeline = Timeline(state)
    qtbot.addWidget(timeline)
    axis = timeline.plot.getPlotItem().getAxis("bottom")
    x_min, x_max = timeline.plot.getPlotItem().vb.viewRange()[0]
    assert axis.style["showValues"] is False
    assert x_min > -0.1 and x_max > 0.9  # not a zero-width range around 0
    state.set_video(_info(40))
    settle(qtbot)  # the frame axis comes a turn after the video (its own repaint)
    x_min, x_max = timeline.plot.getPlotItem().vb.viewRange()[0]
    assert axis.style["showValues"] is True and -1 < x_min <= 0 and 39 <= x_max < 40
    ticks = [value for _spacing, values in axis.tickValues(x_min, x_max, 600) for value in values]
    assert ticks and min(ticks) >= 0 and max(ticks) <= 39
    state.reset_scan(39)
    state.update_scan(0, np.full(39, 0.5, np.float32), np.full(39, 2.0, np.float32))
    assert len(timeline.noise_curve.getData()[1]) == 39
    state.set_video(_info(12))  # another video: the first one's curves go at once, before its axis is fitted
    assert timeline.noise_curve.getData()[1] is None or len(timeline.noise_curve.getData()[1]) == 0
    settle(qtbot)
    assert 11 <= timeline.plot.getPlotItem().vb.viewRange()[0][1] < 12
    state.set_video(None)
    settle(qtbot)
    assert axis.style["showValues"] is False


def test_a_video_arriving_does_not_re_lay_the_plot_out(qtbot) -> None:  # noqa: ANN001
    """Frame numbers appearing, and a window whose views grow around it, leave the plot's size and its axes' room
    as they were: a relayout redraws every axis on the first paint of a new video (a GUI stall)."""
    state = ViewerState()
    timeline = Timeline(state)
    qtbot.addWidget(timeline)
    timeline.resize(900, 400)
    timeline.show()
    item = timeline.plot.getPlotItem()

    def layout() -> list[tuple[float, float]]:
        qtbot.wait(10)
        return [(timeline.plot.height(), 0.0)] + [(item.getAxis(n).width(), item.getAxis(n).height()) for n in ("left", "right", "bottom")]

    empty = layout()
    state.set_video(_info(400))
    assert layout() == empty
    timeline.resize(900, 250)  # the window's other widgets take space: the plot keeps its height
    assert layout() == empty
