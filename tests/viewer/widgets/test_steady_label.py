"""Text that changes on every frame repaints its box and never re-lays-out the window."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from viewer.widgets.steady_label import SteadyLabel


class LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_new_text_lays_nothing_out_where_a_qlabel_does(qtbot) -> None:  # noqa: ANN001
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    steady, plain = SteadyLabel("frame 0 / 124", chars=20), QLabel("frame 0 / 124")
    layout.addWidget(steady)
    layout.addWidget(plain)
    window.resize(300, 100)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    requests = LayoutRequests()
    window.installEventFilter(requests)
    height = steady.height()
    for i in range(1, 30):
        steady.setText(f"frame {i} / 124   {'long ' * (i % 4)}")
        QApplication.processEvents()
    assert requests.count == 0 and steady.height() == height and steady.text().startswith("frame 29 / 124")
    plain.setText("frame 1 / 124")
    QApplication.processEvents()
    assert requests.count >= 1  # what the steady label spares


def test_a_long_text_is_elided_to_its_box_and_wraps_on_more_lines(qtbot) -> None:  # noqa: ANN001
    one = SteadyLabel("x" * 400, chars=10)
    two = SteadyLabel(" ".join(["word"] * 8), chars=10, lines=2)
    for label in (one, two):
        qtbot.addWidget(label)
        label.resize(2 * label.fontMetrics().horizontalAdvance("word word word word word word"), label.height())
    assert one.shown_text().endswith("…") and len(one.shown_text()) < 400 and one.text() == "x" * 400
    assert two.shown_text() == " ".join(["word"] * 8)  # fits on two lines
    two.setText(" ".join(["word"] * 40))
    assert two.shown_text().endswith("…") and len(two.shown_text()) < len(two.text())
    assert two.height() > one.height()


def test_a_new_font_resizes_the_box_once(qtbot) -> None:  # noqa: ANN001
    label = SteadyLabel("status", lines=1)
    qtbot.addWidget(label)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)
    assert label.height() == label.fontMetrics().lineSpacing() + 2
