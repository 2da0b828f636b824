"""A legend row changes shape with the labels it has: no label is made (and polished) again on every video."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

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


def test_a_note_without_room_is_elided_and_whole_in_its_tooltip_never_cut_mid_word(qtbot) -> None:  # noqa: ANN001
    """At 1280 px with the inconsistency key on, the crop's note ran past the row's edge and read
    "shaded: outside the model's 112x112 px centre crop (it never see"."""
    note = "shaded: outside the model's 112x112 px centre crop (it never sees that part)"
    window = QWidget()  # the row in a narrower window, as under the views (alone, a top-level widget grows to fit)
    qtbot.addWidget(window)
    row = LegendRow(HINT)
    QVBoxLayout(window).addWidget(row)
    window.resize(700, 30)
    window.show()
    row.set_entries([scale_entry(INCONSISTENCY_SCALE)], lead="Overlay on the flow view:", note=note)
    qtbot.wait(20)
    shown = [w for w in row.findChildren(QLabel) if w.isVisible() and w.text()]
    assert shown and all(w.fontMetrics().horizontalAdvance(w.text()) <= w.contentsRect().width() for w in shown)  # no label cuts its text
    assert row.note_label.shown_text().endswith("…") and row.note_label.toolTip() == note
    window.resize(1400, 30)  # room enough: the note whole
    qtbot.wait(20)
    assert row.note_label.shown_text() == f"  {note}"


def test_the_note_follows_a_palette_change_as_the_hints_do(qtbot) -> None:  # noqa: ANN001
    """The note's grey was read from the palette once, when the row was built: a palette changed later (a dark
    theme) left it in the old grey, where the hint label it replaced followed through its foreground role."""
    from PySide6.QtGui import QColor

    row = LegendRow(HINT)
    qtbot.addWidget(row)
    row.resize(600, 30)
    row.show()
    row.set_entries([], note="shaded: outside the model's crop")
    palette = row.palette()
    palette.setColor(QPalette.ColorRole.Mid, QColor(255, 0, 0))
    palette.setColor(QPalette.ColorRole.Window, QColor(255, 255, 255))
    row.setPalette(palette)
    qtbot.wait(20)
    image = row.note_label.grab().toImage()
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    assert any(p.red() > 200 and p.green() < 80 and p.blue() < 80 for p in pixels)  # the text in the palette's new Mid
