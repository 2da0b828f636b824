"""File > Export > Exports in progress…: every export running or waiting its turn, File > Export's and the dataset
panel's, each with its own Cancel (:mod:`viewer.widgets.export_list`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from viewer.widgets.export_list import ExportsDialog

if TYPE_CHECKING:
    from viewer.main_window import MainWindow


class ExportsUi(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.dialog: ExportsDialog | None = None  # made when first shown
        self.show_action = QAction("Exports in &progress…", window)
        self.show_action.setObjectName("showExports")
        self.show_action.setToolTip("The exports running and those waiting their turn, each with its own Cancel")
        self.show_action.triggered.connect(self.show)
        menu = window.findChild(QMenu, "exportMenu")
        menu.addSeparator()
        menu.addAction(self.show_action)

    def show(self) -> ExportsDialog:
        if self.dialog is None:
            self.dialog = ExportsDialog([self.window.export.exports, self.window.dataset.controller.exports], self.window)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog
