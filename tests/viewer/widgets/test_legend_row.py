"""A legend row changes shape with the labels it has: no label is made (and polished) again on every video."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel

from core.export.heatmap import INCONSISTENCY_SCALE, WARP_ERROR_SCALE
from core.export.legend import scale_entry
from viewer.widgets.heat_legend import LegendRow

HINT = "nothing shown"


def test_shapes_come_and_go_without_new_labels_and_hints_read_as_hints(qtbot) -> None:  # noqa: ANN001
    row = LegendRow(HINT)
    qtbot.addWidget(row)
    row.show()
    assert row.texts() == [HINT]
    two = [scale_entry(INCONSISTENCY_SCALE), scale_entry(WARP_ERROR_SCALE)]
    row.set_entries(two, lead="flow:", note="border: outside the crop")
    made = row.findChildren(QLabel)
    shown = [w for _kind, w in row._widgets]
    assert row.texts()[0] == "flow:" and row.texts()[-1] == "  border: outside the crop"
    assert sum(1 for w in shown if w.pixmap() is not None and not w.pixmap().isNull()) == 2  # one gradient per entry
    row.set_entries([], note="")  # back to the hint alone: the other labels hide, empty
    assert row.texts() == [HINT]
    hint_label = row._widgets[0][1]
    assert hint_label.foregroundRole() == QPalette.ColorRole.Mid and hint_label.isVisible()
    assert sum(1 for w in made if w.isVisible()) == 1
    row.set_entries(two[:1], lead="flow:", note="")  # another shape: the same labels again
    assert row.findChildren(QLabel) == made
    texts = row.texts()
    assert texts[0] == "flow:" and any(INCONSISTENCY_SCALE.label in t for t in texts) and HINT not in texts
    assert all(w.foregroundRole() == QPalette.ColorRole.WindowText for kind, w in row._widgets if kind == "text")
