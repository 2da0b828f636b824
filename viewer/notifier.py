"""The one place every error goes: the status bar, a dialog, and the log.

Worker errors, Qt's and Python's excepthooks all end here, so nothing is
swallowed and the app keeps working.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import CoreError, InputError

log = logging.getLogger("twostream.viewer")


def describe(error: BaseException) -> str:
    """One line for the user: our own errors speak for themselves."""
    if isinstance(error, (InputError, CoreError)):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Notifier(QObject):
    """Shows errors and notices; thread-safe through a queued signal."""

    errorRaised = Signal(str, str)  # title, message
    noticeRaised = Signal(str)

    def __init__(self, parent_widget: QWidget | None = None, show_dialogs: bool = True) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self.show_dialogs = show_dialogs
        self.last_error: str | None = None
        self.errorRaised.connect(self._show_error)

    def error(self, title: str, error: BaseException | str, trace: str = "") -> None:
        message = error if isinstance(error, str) else describe(error)
        if trace and not isinstance(error, (InputError, CoreError)):
            log.error("%s: %s\n%s", title, message, trace)
        self.errorRaised.emit(title, message)

    def notice(self, message: str) -> None:
        self.noticeRaised.emit(message)

    @Slot(str, str)
    def _show_error(self, title: str, message: str) -> None:
        self.last_error = message
        self.noticeRaised.emit(f"{title}: {message}")
        if self.show_dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self._parent)
            box.setObjectName("errorDialog")
            box.open()  # window-modal, does not block the event loop

    def install_excepthooks(self) -> None:
        """Route uncaught exceptions (GUI thread and other threads) here."""

        def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
            self.error("Unexpected error", value, "".join(traceback.format_exception(kind, value, tb)))

        sys.excepthook = hook
        threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)  # type: ignore[arg-type]
