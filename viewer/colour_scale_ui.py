"""The flow colours' scale in the toolbar: the radius, a lock, per-pair normalisation.

Unlocked (the default) each video gets its own radius, measured from a sample
of its pairs before its first flow picture and kept while it is open.  Lock
keeps the radius in use for every video from then on (the same motion, the
same colour, across videos); per pair colours each pair on its own largest
motion (every picture uses the whole wheel; colours are not comparable between
pairs).  The choice persists.  The radius is in the video's pixels, whatever
size its flow is computed at: a locked radius colours the same on-screen
motion alike on every video (settings saved before this held analysis pixels
and are read as video pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSignalBlocker
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

from viewer import settings as app_settings

if TYPE_CHECKING:
    from viewer.main_window import MainWindow


class ColourScaleUi(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window, self.flow, self.box = window, window.flow, window.radius_box
        self.lock_action = QAction("Lock", window)
        self.lock_action.setObjectName("lockColourRadius")
        self.lock_action.setCheckable(True)
        self.lock_action.setToolTip("Keep this colour radius for every video (unlocked: each video's own, measured before its first picture)")
        self.lock_action.toggled.connect(self._on_lock)
        self.per_pair_action = QAction("Per pair", window)
        self.per_pair_action.setObjectName("perPairColours")
        self.per_pair_action.setCheckable(True)
        self.per_pair_action.setToolTip("Colour each pair on its own largest motion (colours are then not comparable between pairs)")
        self.per_pair_action.toggled.connect(self._on_per_pair)
        self._insert_after_radius(window.findChild(QToolBar, "flowToolbar"))
        self.box.valueChanged.connect(self._on_radius)
        scale, radius = app_settings.colour_scale()
        if radius > 0:
            self.box.setValue(radius)
        self.per_pair_action.setChecked(scale == "pair")

    def _insert_after_radius(self, bar: QToolBar | None) -> None:
        if bar is None:
            return
        actions = bar.actions()
        radius = next((i for i, a in enumerate(actions) if bar.widgetForAction(a) is self.box), None)
        before = actions[radius + 1] if radius is not None and radius + 1 < len(actions) else None
        bar.insertAction(before, self.lock_action)
        bar.insertAction(before, self.per_pair_action)

    def _on_lock(self, locked: bool) -> None:
        self.box.setValue(self.flow.radius_in_use() if locked else 0.0)  # locked: the radius in use, for every video

    def _on_radius(self, value: float) -> None:
        with QSignalBlocker(self.lock_action):
            self.lock_action.setChecked(value > 0)
        self._save()

    def _on_per_pair(self, on: bool) -> None:
        self.flow.set_per_pair(on)
        self.box.setEnabled(not on)
        self.lock_action.setEnabled(not on)
        self._save()

    def _save(self) -> None:
        app_settings.set_colour_scale("pair" if self.per_pair_action.isChecked() else "video", self.box.value())
