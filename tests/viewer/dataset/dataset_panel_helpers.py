"""Steps the dataset-panel tests share: wait for a channel, list a dataset, read the shown rows, write a results file."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import Qt

from core.evaluation.video_results import VideoRecord, results_text
from core.synth import CLASS_NAMES

WAIT_MS = 60000


def finished(qtbot, window, channel: str) -> str:  # noqa: ANN001
    """Wait for ``channel``'s job to end; its message."""
    with qtbot.waitSignal(window.dataset.controller.finished, timeout=WAIT_MS, check_params_cb=lambda c, _m: c == channel) as blocker:
        pass
    return blocker.args[1]


def export_messages(controller) -> list[str]:  # noqa: ANN001
    """The messages of the dataset exports that end from now on, in the order they end."""
    messages: list[str] = []
    controller.finished.connect(lambda channel, message: channel == "dataset-export" and messages.append(message))
    return messages


def hold_table_writes(monkeypatch, *, written_first: bool = False) -> tuple[threading.Event, threading.Event]:  # noqa: ANN001
    """Hold every dataset table export at its writer; ``(reached, release)``: ``reached`` is set when one gets there
    (with ``written_first``, once it has written its file), which then waits for ``release``."""
    import viewer.dataset.controller as controller_module

    reached, release = threading.Event(), threading.Event()
    real = controller_module.write_table_csv

    def held(path, rows, cancel, progress):  # noqa: ANN001, ANN202
        if written_first:
            real(path, rows, cancel, progress)
        reached.set()
        assert release.wait(WAIT_MS / 1000)
        if not written_first:
            real(path, rows, cancel, progress)

    monkeypatch.setattr(controller_module, "write_table_csv", held)
    return reached, release


def open_listed(qtbot, window, path, videos=None) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.dataset.controller.listed, timeout=WAIT_MS):
        window.dataset.open_dataset(str(path), None if videos is None else str(videos))


def cell_text(window, row: int, column: int) -> str:  # noqa: ANN001
    proxy = window.dataset.controller.proxy
    return proxy.data(proxy.index(row, column))


def shown(window) -> list[str]:  # noqa: ANN001
    """The Video column of the rows the table shows, top to bottom, as the view reads it."""
    proxy = window.dataset.controller.proxy
    return [proxy.data(proxy.index(i, 0)) for i in range(proxy.rowCount())]


def record(relative: str, predicted: str, confidence: float, *, root: str, flow_noise: dict[str, Any] | None = None,
           worst_frame: int | None = None) -> VideoRecord:
    """A record as another machine wrote it: its absolute path is under ``root`` there."""
    true = relative.split("/")[0]
    rest = (1.0 - confidence) / (len(CLASS_NAMES) - 1)
    top = tuple([(predicted, confidence)] + [(name, rest) for name in CLASS_NAMES if name != predicted][:4])
    return VideoRecord(relative, f"{root}/{relative}", true, predicted, confidence, top, None, flow_noise, worst_frame)


def write_results(path: Path, records: Sequence[VideoRecord], *, root: str, checkpoint: str = "/srv/gpu/runs/model.safetensors") -> Path:
    path.write_text(results_text(checkpoint, root, CLASS_NAMES, records))
    return path


def double_click_first_row(qtbot, window) -> None:  # noqa: ANN001
    """Open the first shown row as a user does (a press, then a double click) and wait for the video."""
    table, proxy = window.dataset.panel.table, window.dataset.controller.proxy
    centre = table.visualRect(proxy.index(0, 0)).center()
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
