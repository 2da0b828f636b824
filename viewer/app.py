"""QApplication set-up: one window, errors routed to the notifier."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from viewer.collector import install_gui_collector
from viewer.jobs import set_worker_niceness
from viewer.main_window import MainWindow
from viewer.settings import APPLICATION, ORGANIZATION
from viewer.warmup import freeze_startup_objects, preload_worker_modules


# Python hands the GIL over every 5 ms by default: a worker running Python (TV-L1's loop of
# torch calls, a model's modules, a dataset listing) can keep the GUI thread waiting that long
# per handover.  And the GUI thread hands over often: the event loop runs with the GIL released
# and takes it back for every Python callback (a table cell's data(), each pyqtgraph item's
# paint), so one paint can wait out dozens of intervals.  At 1 ms, listing 13,320 videos stalled
# the window 10-70 ms; at 0.2 ms 5-23 ms (bench ui's dataset rows, alternating runs).  Two
# Python-bound threads lose nothing at 0.2 ms (0.415 vs 0.417 s) and 14% at 0.1 ms.
GUI_SWITCH_INTERVAL_S = 0.0002
WORKER_NICENESS = 5  # workers yield the CPU to the GUI thread when both want it (Linux)


def create_application(argv: list[str] | None = None) -> QApplication:
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    set_worker_niceness(WORKER_NICENESS)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Two-Stream Viewer")
    preload_worker_modules()
    install_gui_collector(app)  # Qt objects die on this thread only (see viewer.collector)
    return app  # type: ignore[return-value]


def run_viewer(video: str | None, *, frame: int = 0, checkpoint: str | None = None, classify: bool = False, raft_weights: str | None = None,
               dataset: str | None = None, dataset_videos: str | None = None) -> int:
    app = create_application()
    window = MainWindow(checkpoint=checkpoint)
    freeze_startup_objects()
    window.notifier.install_excepthooks()
    window.show()
    if raft_weights:
        window.raft_weights_ui.load(raft_weights)  # checked in a worker, remembered, as Flow > Load RAFT weights...
    if video:
        window.open_video(video, (lambda _video: _start_at(window, frame, classify)) if frame or classify else None)
    if dataset:
        window.dataset.open_dataset(dataset, dataset_videos)  # listed in a worker, shown in the Dataset dock
    return app.exec()


def _start_at(window: MainWindow, frame: int, classify: bool) -> None:
    """Go to ``frame`` (clamped to the video) and classify its clip when asked, once the video is open."""
    window.state.set_frame(min(frame, max(0, window.state.frame_count - 1)))
    if classify:
        window.classify.classify_clip()
