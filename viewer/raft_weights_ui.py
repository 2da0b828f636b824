"""Flow > Load RAFT weights…: pick a RAFT weights file once; the viewer remembers it.

The file is checked in a worker (every key and shape, either release's
layout) and its size (RAFT-large or RAFT-small) is read from it, so the user
never has to say which model it is for.  ``main.py VIDEO --raft-weights PATH``
goes through the same path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu

from core.flow.raft_weights import display_name, identify_raft_weights
from viewer import settings as app_settings

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

WEIGHTS_FILTER = "RAFT weights (*.pth *.pt *.safetensors);;All files (*)"


class RaftWeightsUi(QObject):
    loaded = Signal(str, str)  # variant, path

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        for variant, path in app_settings.raft_weights().items():
            window.flow.set_raft_weights(variant, path)
        self.load_action = QAction("Load &RAFT weights…", window)
        self.load_action.setObjectName("loadRaftWeights")
        self.load_action.setToolTip("Use a RAFT weights file (torchvision's or the original release's .pth) for RAFT flow; remembered")
        self.load_action.triggered.connect(self.choose)
        self.menu = self._flow_menu()
        self.menu.addAction(self.load_action)

    def _flow_menu(self) -> QMenu:
        """The Flow menu, before Help."""
        bar = self.window.menuBar()
        menu = QMenu("F&low", self.window)
        menu.setObjectName("flowMenu")
        help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_action is None:
            bar.addMenu(menu)
        else:
            bar.insertMenu(help_action, menu)
        return menu

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Load RAFT weights", app_settings.last_folder(), WEIGHTS_FILTER)
        if path:
            self.load(path)

    def load(self, path: str) -> int:
        """Check ``path`` in the background, then remember it and show RAFT flow with it."""
        path = str(Path(path).expanduser())
        self.window.notifier.notice(f"Checking RAFT weights {path} ...")

        def work(cancel, progress):  # noqa: ANN001
            return identify_raft_weights(path)

        return self.window.jobs.submit("raft-weights", work, lambda variant: self._use(variant, path),
                                       on_error=lambda e, t: self.window.notifier.error("Cannot use these RAFT weights", e, t))

    def _use(self, variant: str, path: str) -> None:
        app_settings.set_raft_weights(variant, path)
        self.window.flow.set_raft_weights(variant, path)
        self.window.method_box.setCurrentText(variant)
        self.window.notifier.notice(f"{display_name(variant)} weights loaded from {Path(path).name}: flow now uses {variant}")
        self.loaded.emit(variant, path)
