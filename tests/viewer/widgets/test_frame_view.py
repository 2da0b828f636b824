"""A frame of a new size is fitted before the next paint, not in it: pyqtgraph applied the new range while
painting, which changed the scene again and repainted the whole window a second time."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from viewer.widgets.frame_view import FrameView


def _frame(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


@pytest.fixture
def view(qtbot) -> FrameView:  # noqa: ANN001
    """A shown 400x300 view holding a 64x48 frame."""
    shown = FrameView("RGB")
    qtbot.addWidget(shown)
    shown.resize(400, 300)
    shown.show()
    qtbot.waitExposed(shown)
    shown.set_frame(_frame(48, 64))
    return shown


def test_a_new_frame_size_is_fitted_before_the_paint(qtbot, view: FrameView) -> None:  # noqa: ANN001
    qtbot.wait(50)  # painted: the first size's transform is in place
    view.set_frame(_frame(100, 400))  # wide: the whole width fits the box, no event processed since
    box = view.view_box.boundingRect()
    left = view.view_box.childGroup.mapToParent(QPointF(0, 0))
    right = view.view_box.childGroup.mapToParent(QPointF(400, 0))
    assert abs(left.x() - box.left()) < 1.0 and abs(right.x() - box.right()) < 1.0  # what the next paint draws is the new fit
    rows = view.view_box.childGroup.mapToParent(QPointF(0, 100)).y() - view.view_box.childGroup.mapToParent(QPointF(0, 0)).y()
    assert abs(rows - box.width() / 4) < 1.0  # aspect kept: 100 rows are a quarter of 400 columns


def test_a_frame_of_the_same_size_keeps_the_users_zoom(view: FrameView) -> None:
    view.view_box.setRange(xRange=(10, 20), yRange=(10, 20), padding=0)
    zoomed = view.view_box.viewRange()
    view.set_frame(np.full((48, 64, 3), 200, np.uint8))
    assert view.view_box.viewRange() == zoomed
    assert int(view.current_image()[0, 0, 0]) == 200


def test_non_square_pixels_are_drawn_at_their_aspect(qtbot, view: FrameView) -> None:  # noqa: ANN001
    view.set_pixel_aspect(2.0)  # each pixel twice as wide as tall
    view.set_frame(_frame(48, 64))
    group = view.view_box.childGroup
    width = group.mapToParent(QPointF(64, 0)).x() - group.mapToParent(QPointF(0, 0)).x()
    height = group.mapToParent(QPointF(0, 48)).y() - group.mapToParent(QPointF(0, 0)).y()
    assert abs(width / height - 128 / 48) < 0.02
    assert view.image_size() == (48, 64)  # the image stays in its own pixels
    with pytest.raises(ValueError, match="positive"):
        view.set_pixel_aspect(0.0)
