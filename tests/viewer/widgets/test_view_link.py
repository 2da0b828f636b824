"""Linked zoom and pan: a wheel zoom or a drag in one view shows the same part of the frame in the
other, also when the other's image is smaller (flow at analysis size); unlinked, the other stays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from viewer.widgets.frame_view import FrameView
from viewer.widgets.view_link import ViewLink


def wheel(view: FrameView, at: QPoint, steps: int) -> None:
    viewport = view.graphics.viewport()
    event = QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


@pytest.fixture
def views(qtbot):  # noqa: ANN001, ANN201
    host = QWidget()
    row = QHBoxLayout(host)
    rgb, flow = FrameView("RGB"), FrameView("flow")
    row.addWidget(rgb, 1)
    row.addWidget(flow, 1)
    host.resize(900, 400)
    qtbot.addWidget(host)
    host.show()
    qtbot.waitExposed(host)
    rgb.set_frame(np.zeros((240, 320, 3), np.uint8))
    flow.set_frame(np.zeros((120, 160, 3), np.uint8))  # half size, as flow at analysis size
    yield rgb, flow
    host.close()


def test_zoom_in_one_view_shows_the_same_part_in_the_other(qtbot, views) -> None:  # noqa: ANN001
    rgb, flow = views
    link = ViewLink(rgb, flow)
    before = flow.visible_fractions()
    wheel(rgb, QPoint(120, 150), 3)  # zoom in on the RGB view
    zoomed = rgb.visible_fractions()
    assert zoomed[2] - zoomed[0] < 0.9 * (before[2] - before[0])  # the wheel really zoomed
    assert np.allclose(flow.visible_fractions(), zoomed, atol=0.02)
    rgb.view_box.translateBy(x=40.0, y=0.0)  # a pan, as a drag does, then the signal a drag sends
    rgb.view_box.sigRangeChangedManually.emit(rgb.view_box.state["mouseEnabled"])
    assert np.allclose(flow.visible_fractions(), rgb.visible_fractions(), atol=0.02)
    wheel(flow, QPoint(200, 100), -1)  # and back the other way
    assert np.allclose(rgb.visible_fractions(), flow.visible_fractions(), atol=0.02)

    link.set_enabled(False)
    kept = flow.visible_fractions()
    wheel(rgb, QPoint(120, 150), 2)
    assert not np.allclose(rgb.visible_fractions(), kept, atol=0.02) and np.allclose(flow.visible_fractions(), kept)
    link.set_enabled(True)  # relinking aligns the second view with the first at once
    assert np.allclose(flow.visible_fractions(), rgb.visible_fractions(), atol=0.02)


def test_the_view_reports_the_pixel_under_the_mouse_once_per_pixel(qtbot, views) -> None:  # noqa: ANN001
    rgb, _flow = views
    seen: list[tuple[float, float]] = []
    rgb.hovered.connect(lambda x, y: seen.append((x, y)))
    vb = rgb.view_box
    rgb._mouse_moved(vb.mapViewToScene(QPointF(100.4, 50.2)))
    rgb._mouse_moved(vb.mapViewToScene(QPointF(100.7, 50.6)))  # the same pixel: nothing new to say
    rgb._mouse_moved(vb.mapViewToScene(QPointF(101.2, 50.6)))
    rgb._mouse_moved(vb.mapViewToScene(QPointF(400.0, 50.0)))  # beyond the 320 px wide frame
    assert [(int(x), int(y)) for x, y in seen] == [(100, 50), (101, 50), (-1, -1)]
    assert seen[0] == pytest.approx((100.4, 50.2), abs=0.05)


def test_the_flow_view_keeps_the_linked_zoom_while_it_waits_for_a_pair(qtbot, views) -> None:  # noqa: ANN001
    """Scrubbing clears the flow view until each pair's flow arrives; the flow coming back must not undo the zoom
    (it refitted the whole frame every time). Another video (``refit``) opens whole."""
    rgb, flow = views
    ViewLink(rgb, flow)
    wheel(rgb, QPoint(120, 150), 3)
    zoomed = rgb.visible_fractions()
    assert zoomed[2] - zoomed[0] < 0.9
    flow.set_frame(None)  # waiting for the next pair
    flow.set_frame(np.zeros((120, 160, 3), np.uint8))
    assert np.allclose(flow.visible_fractions(), zoomed, atol=0.02)
    for view in (rgb, flow):
        view.refit()
    rgb.set_frame(np.zeros((240, 320, 3), np.uint8))
    full = rgb.visible_fractions()
    assert full[2] - full[0] >= 0.99 and full[3] - full[1] >= 0.99
