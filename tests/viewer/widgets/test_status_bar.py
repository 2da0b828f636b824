"""A status message too long for the room before the permanent widgets ends in "…", whole in the tooltip: Qt cut
it mid-word against them ("... invalid JSON in header: I" beside "device CPU")."""

from __future__ import annotations

from PySide6.QtCore import Qt

from viewer.main_window import MainWindow

LONG = ("Cannot load checkpoint: /tmp/broken.safetensors: not a readable safetensors checkpoint (Error while "
        "deserializing header: invalid JSON in header: EOF while parsing a value at line 1 column 0)")


def test_a_long_message_is_drawn_elided_before_the_device_line(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    window.resize(1280, 800)
    bar = window.statusBar()
    device = window.classify_ui.status_label
    qtbot.wait(20)  # laid out at that width
    bar.showMessage(LONG)  # no event loop from here to the grabs: no other message (the model's load) comes between
    room = device.x() - 2 - 6  # Qt's message room: from 6 px to 2 px before the first permanent widget shown
    elided = bar.fontMetrics().elidedText(LONG, Qt.TextElideMode.ElideRight, room)
    assert elided.endswith("…") and elided != LONG
    drawn = bar.grab().toImage()
    bar.showMessage(elided)  # what a user should see: the same picture
    assert bar.grab().toImage() == drawn
    assert bar.toolTip() == elided  # the tooltip follows the message
    bar.showMessage(LONG)
    assert bar.toolTip() == LONG
