"""The exports in progress, each with its own Cancel: the one running and those waiting their turn.

Before, only the running export could be cancelled (its progress dialog's Cancel, or the dataset panel's Cancel,
which stops every export): one asked for by mistake behind a long MP4 could only be let run.  The list renders its
queues (:class:`~viewer.export_queue.ExportQueue`) and holds no state of its own: it is built again whenever one of
them changes.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from viewer.export_queue import ExportQueue, QueuedExport

NOTHING = "No export is running or waiting."


def described(entry: QueuedExport) -> str:
    """One export in words, with where it stands: running, waiting its turn, or cancelling (its worker not ended)."""
    return f"{entry.title} ({'cancelling' if entry.cancelling else 'running' if entry.running else 'waiting'})"


class ExportList(QWidget):
    """One row per export in progress of ``queues`` (in that order): what it writes, where it stands, and Cancel."""

    def __init__(self, queues: Sequence[ExportQueue], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportList")
        self.queues = tuple(queues)
        self._rows = QVBoxLayout()
        self.empty = QLabel(NOTHING)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._rows)
        layout.addWidget(self.empty)
        layout.addStretch(1)
        self.buttons: list[QPushButton] = []  # each row's Cancel, in the rows' order
        self.labels: list[QLabel] = []
        for queue in self.queues:
            queue.changed.connect(self.refresh)
        self.refresh()

    def texts(self) -> list[str]:
        """The rows as shown."""
        return [label.text() for label in self.labels]

    def refresh(self) -> None:
        """The rows again, from the queues as they are now."""
        while self._rows.count():
            row = self._rows.takeAt(0).widget()
            row.setParent(None)
            row.deleteLater()
        self.buttons, self.labels = [], []
        for queue in self.queues:
            for entry in queue.entries():
                self._add_row(queue, entry)
        self.empty.setVisible(not self.labels)

    def _add_row(self, queue: ExportQueue, entry: QueuedExport) -> None:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(described(entry))
        button = QPushButton("Cancel")
        button.setObjectName("cancelExport")
        button.setEnabled(not entry.cancelling)  # asked once already: its end is told when its worker ends
        button.setToolTip("Stop this export (a waiting one never starts); the others go on")
        button.clicked.connect(lambda _checked=False, ticket=entry.ticket: queue.cancel(ticket))
        layout.addWidget(label, 1)
        layout.addWidget(button)
        self._rows.addWidget(row)
        self.buttons.append(button)
        self.labels.append(label)


class ExportsDialog(QDialog):
    """File > Export > Exports in progress…: the list in a window of its own, left open while the user works."""

    def __init__(self, queues: Sequence[ExportQueue], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportsDialog")
        self.setWindowTitle("Exports in progress")
        self.setModal(False)
        self.list = ExportList(queues, self)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(close)
        self.resize(520, 200)
