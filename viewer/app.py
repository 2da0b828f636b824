"""QApplication set-up: one window, errors routed to the notifier."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from viewer.main_window import MainWindow
from viewer.settings import APPLICATION, ORGANIZATION


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Two-Stream Viewer")
    return app  # type: ignore[return-value]


def run_viewer(video: str | None) -> int:
    app = create_application()
    window = MainWindow()
    window.notifier.install_excepthooks()
    window.show()
    if video:
        window.open_video(video)
    return app.exec()
