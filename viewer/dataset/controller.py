"""The dataset panel's behaviour: listing, lazy metadata, flow survey, evaluation, results, exports.

Every piece of work is a plain function run by the window's :class:`JobRunner`
on its own channel; partial results (one video's metadata, flow summary or
prediction) update rows in place on the GUI thread and repaint just that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.data.ground_truth import normalise
from viewer.collector import exempt_long_lived
from viewer.dataset.rows import Row, table_csv
from viewer.dataset.table_model import DatasetFilterProxy, DatasetTableModel
from viewer.jobs import JobRunner
from viewer.notifier import Notifier

METADATA_BATCH = 48  # videos per metadata job: the visible rows and a screenful more
CHANNELS = ("dataset-open", "dataset-meta", "dataset-flow", "dataset-eval", "dataset-results", "dataset-export")


@dataclass(frozen=True)
class Listing:
    """What opening a dataset gives: its rows and a one-line description."""

    rows: list[Row]
    summary: str
    classes: tuple[str, ...]
    labels: dict[str, str]  # normalised path -> true class (made in the worker: 13,320 path resolutions)
    positions: dict[int, int]  # id(row) -> its index, for the table model (made in the worker too)


def list_dataset(path: str, videos: str | None, cancel, progress) -> Listing:  # noqa: ANN001
    """Read any dataset layout and its default split (what ``train`` would use); no video is opened."""
    from core.data import discover_dataset, make_split

    dataset = discover_dataset(path, videos=videos)
    progress(1, 3, "splitting")
    split = make_split(dataset)
    part_of = {s.path: name for name, part in split.parts().items() for s in part}
    rows = [Row(s.path, dataset.relative(s), s.label_name, part_of.get(s.path, "")) for s in dataset.samples]
    notes = f"; {len(dataset.notes)} notes: {dataset.notes[0]}" if dataset.notes else ""
    summary = f"{len(rows)} videos, {len(dataset.classes)} classes ({dataset.layout}); {split.description}{notes}"
    listing = Listing(rows, summary, dataset.classes, {normalise(r.path): r.true for r in rows}, {id(r): i for i, r in enumerate(rows)})
    exempt_long_lived()  # here, not on the GUI thread: its collector's next pass would walk every new object once more
    return listing


def read_metadata(rows: list[Row], cancel, progress) -> None:  # noqa: ANN001
    """Frames and duration of each row from its headers (worker): handed over as partial results."""
    from core.data.metadata import header_metadata
    from core.errors import InputError

    for done, row in enumerate(rows, start=1):
        cancel.raise_if_cancelled()
        try:
            frames, duration = header_metadata(row.path)
            result = (row, frames, duration, "")
        except InputError as err:
            result = (row, None, None, err.problem)
        progress(done, len(rows), "", partial=result)


class DatasetController(QObject):
    listed = Signal(str)  # the dataset's one-line summary
    progressed = Signal(str, int, int, str)  # channel, done, total, message
    finished = Signal(str, str)  # channel, a message for the status line
    recordsChanged = Signal()  # predictions arrived: accuracy and confusion are stale

    def __init__(self, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.notifier = notifier
        self.model = DatasetTableModel(self)
        self.proxy = DatasetFilterProxy(self.model, self)
        self.model.metadata_wanted = self.want_metadata
        self.source: str | None = None
        self.classes: tuple[str, ...] = ()
        self.labels: dict[str, str] = {}  # normalised path -> true class, for the prediction panel
        self._pending: dict[int, Row] = {}
        self._meta_timer = QTimer(self)
        self._meta_timer.setSingleShot(True)
        self._meta_timer.setInterval(30)
        self._meta_timer.timeout.connect(self._read_pending_metadata)

    # -- listing ----------------------------------------------------------------------
    def open_dataset(self, path: str, videos: str | None = None) -> None:
        for channel in CHANNELS:
            self.jobs.cancel(channel)
        self.jobs.submit(
            "dataset-open", lambda cancel, progress: list_dataset(path, videos, cancel, progress),
            lambda listing: self._listed(path, listing),
            on_error=lambda e, t: self.notifier.error("Cannot open the dataset", e, t),
            on_progress=lambda d, n, m: self.progressed.emit("dataset-open", d, n, m),
        )

    def _listed(self, path: str, listing: Listing) -> None:
        self.source, self.classes = path, listing.classes
        self._pending.clear()
        self.labels = listing.labels
        self.model.set_rows(listing.rows, listing.positions)
        self.listed.emit(listing.summary)  # the panel applies its filters to the new rows
        self.recordsChanged.emit()

    @property
    def rows(self) -> list[Row]:
        return self.model.rows

    # -- lazy metadata ----------------------------------------------------------------
    def want_metadata(self, row: Row) -> None:
        self._pending.setdefault(id(row), row)
        if not self._meta_timer.isActive() and not self.jobs.is_busy("dataset-meta"):
            self._meta_timer.start()

    def _read_pending_metadata(self) -> None:
        batch = list(self._pending.values())[-METADATA_BATCH:]  # the latest asked: what is on screen now
        for row in batch:
            self._pending.pop(id(row), None)
        if not batch:
            return
        self.jobs.submit(
            "dataset-meta", lambda cancel, progress: read_metadata(batch, cancel, progress), lambda _none: self._metadata_done(),
            on_error=lambda e, t: self.notifier.error("Reading video metadata failed", e, t), on_partial=self._metadata_arrived,
        )

    def _metadata_arrived(self, result: tuple[Row, int | None, float | None, str]) -> None:
        row, row.frames, row.duration, row.meta_error = result
        self.model.row_changed(row)

    def _metadata_done(self) -> None:
        if self._pending:
            self._meta_timer.start()

    # -- flow survey ------------------------------------------------------------------
    def scan_flow(self, method: str = "dis", device: str = "cpu") -> None:
        from viewer.dataset.flow_survey_job import survey_rows

        rows = list(self.proxy.visible_rows())
        self.jobs.submit(
            "dataset-flow", lambda cancel, progress: survey_rows(rows, method, device, cancel, progress),
            lambda done: self.finished.emit("dataset-flow", f"flow survey complete: {done} videos"),
            on_error=lambda e, t: self.notifier.error("Flow survey failed", e, t),
            on_progress=lambda d, n, m: self.progressed.emit("dataset-flow", d, n, m),
            on_partial=self._row_updated,
            on_cancelled=lambda: self.finished.emit("dataset-flow", "flow survey cancelled: Scan flow resumes it"),
        )

    def _row_updated(self, update: tuple[Row, str, object]) -> None:
        row, field_name, value = update
        setattr(row, field_name, value)
        self.model.row_changed(row)
        if field_name == "record":
            self.recordsChanged.emit()

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, checkpoint: str | Path, *, part: str = "test", device: str = "cpu") -> None:
        from viewer.dataset.evaluate_job import evaluate_rows

        rows = [r for r in self.rows if part == "all" or r.split == part] or list(self.rows)
        self.jobs.submit(
            "dataset-eval", lambda cancel, progress: evaluate_rows(rows, str(checkpoint), device, cancel, progress),
            lambda message: self.finished.emit("dataset-eval", message),
            on_error=lambda e, t: self.notifier.error("Evaluation failed", e, t),
            on_progress=lambda d, n, m: self.progressed.emit("dataset-eval", d, n, m),
            on_partial=self._row_updated,
            on_cancelled=lambda: self.finished.emit("dataset-eval", "evaluation cancelled: results so far are kept"),
        )

    def cancel(self) -> None:
        for channel in ("dataset-flow", "dataset-eval", "dataset-open", "dataset-results", "dataset-export"):
            self.jobs.cancel(channel)

    # -- a per-video results file -----------------------------------------------------
    def open_results(self, path: str) -> None:
        from core.evaluation.video_results import read_video_results

        self.jobs.submit(
            "dataset-results", lambda cancel, progress: read_video_results(path), self._results_read,
            on_error=lambda e, t: self.notifier.error("Cannot open the per-video results", e, t),
        )

    def _results_read(self, results) -> None:  # noqa: ANN001
        by_path = {normalise(r.path): r for r in results.records}
        matched = 0
        for row in self.rows:
            record = by_path.pop(normalise(row.path), None)
            if record is not None:
                row.record, matched = record, matched + 1
        if not self.rows or by_path:  # videos the table does not list (no dataset open, or another one)
            extra = [Row(Path(r.path), r.video, r.true, "test", record=r) for r in by_path.values()]
            if not self.rows:
                self.source, self.classes = results.dataset, results.class_names
            self.labels.update({normalise(r.path): r.true for r in extra})
            self.model.set_rows(self.rows + extra)
        self.proxy.refilter()
        self.model.all_changed()
        self.recordsChanged.emit()
        self.finished.emit("dataset-results", f"{len(results.records)} predictions read from the results file ({results.checkpoint})")

    # -- figures ----------------------------------------------------------------------
    def confusion(self) -> tuple[list[str], np.ndarray]:
        """Class names (true or predicted by a scored row) and the counts, rows true, columns predicted (one pass)."""
        pairs = [(r.true, r.record.predicted) for r in self.rows if r.record is not None]
        seen = {name for pair in pairs for name in pair}
        names = [c for c in self.classes if c in seen] + sorted(seen - set(self.classes))
        index = {n: i for i, n in enumerate(names)}
        matrix = np.zeros((len(names), len(names)), np.int64)
        for true, predicted in pairs:
            matrix[index[true], index[predicted]] += 1
        return names, matrix

    def per_class_accuracy(self) -> list[tuple[str, float, int]]:
        """(class, share right, videos scored) in class order (one pass)."""
        right: dict[str, int] = {}
        scored: dict[str, int] = {}
        for r in self.rows:
            if r.record is not None:
                scored[r.true] = scored.get(r.true, 0) + 1
                right[r.true] = right.get(r.true, 0) + int(r.record.predicted == r.true)
        order = [c for c in self.classes if c in scored] + sorted(set(scored) - set(self.classes))
        return [(name, right[name] / scored[name], scored[name]) for name in order]

    # -- exports ----------------------------------------------------------------------
    def export_csv(self, path: str) -> None:
        from core.atomic import write_text

        text = table_csv(self.proxy.visible_rows())
        self._export(lambda cancel, progress: write_text(path, text), f"table written to {path}")

    def export_confusion(self, path: str) -> None:
        from core.atomic import write_bytes
        from core.evaluation.confusion_plot import confusion_png

        names, matrix = self.confusion()
        if not names:
            self.notifier.error("Nothing to export", "no video has a prediction yet: evaluate first, or open a results file")
            return
        title = f"{Path(self.source or '').name}: {int(np.trace(matrix))}/{int(matrix.sum())} right"
        self._export(lambda cancel, progress: write_bytes(path, confusion_png(matrix, names, title=title)), f"confusion matrix written to {path}")

    def _export(self, work, message: str) -> None:  # noqa: ANN001
        self.jobs.submit("dataset-export", work, lambda _none: self.finished.emit("dataset-export", message),
                         on_error=lambda e, t: self.notifier.error("Export failed", e, t))

