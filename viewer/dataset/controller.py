"""The dataset panel's behaviour: listing, lazy metadata, flow survey, evaluation, results, exports.

Every piece of work is a plain function run by the window's :class:`JobRunner`
on its own channel; partial results (one video's metadata, flow summary or
prediction) update rows in place on the GUI thread and repaint just that row.
Exports take a snapshot of the rows on the GUI thread and wait their turn in an
:class:`~viewer.export_queue.ExportQueue`, so a second export never cancels the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.data import Dataset
from core.data.ground_truth import normalise
from core.evaluation.video_results import VideoResults
from viewer.collector import exempt_long_lived
from viewer.dataset.cached_predictions import CachedPredictions, cached_predictions
from viewer.dataset.evaluate_job import EvaluationRequest, SplitChanges
from viewer.dataset.results_merge import ResultsMerge, kept_message, merge_results
from viewer.dataset.rows import Row, snapshot, table_csv
from viewer.dataset.split_summary import DatasetSummary, SplitSource, part_sizes
from viewer.dataset.table_model import DatasetFilterProxy, DatasetTableModel, RowFilter
from viewer.export_queue import Export, ExportQueue
from viewer.jobs import JobRunner
from viewer.notifier import Notifier

METADATA_BATCH = 48  # videos per metadata job: the visible rows and a screenful more
EXPORT_CHANNEL = "dataset-export"  # the exports' queue's: no other job runs on it
CHANNELS = ("dataset-open", "dataset-meta", "dataset-flow", "dataset-eval", "dataset-results")  # the jobs on the rows


@dataclass(frozen=True)
class Listing:
    """What opening a dataset gives: its rows and what its one-line description says."""

    rows: list[Row]
    summary: DatasetSummary
    classes: tuple[str, ...]
    labels: dict[str, str]  # normalised path -> true class (made in the worker: 13,320 path resolutions)
    positions: dict[int, int]  # id(row) -> its index, for the table model (made in the worker too)
    dataset: Dataset  # what evaluation selects its videos from (the checkpoint's split of it)
    carried: tuple[tuple[str, ResultsMerge], ...] = ()  # the results files read before, matched to these rows
    cached: CachedPredictions | None = None  # else the chosen checkpoint's predictions scored before, from its cache


def list_dataset(path: str, videos: str | None, cancel, progress,  # noqa: ANN001
                 carried: Sequence[tuple[str, VideoResults]] = (), checkpoint: str | None = None, device: str = "cpu") -> Listing:
    """Read any dataset layout and its default split (what ``train`` would use); no video is opened.  The results
    files whose predictions the table held (``carried``: the file's path, its results) are matched to the new rows;
    without them, ``checkpoint``'s cached records (what this panel scored with it on ``device`` before) are."""
    from core.data import discover_dataset, make_split

    dataset = discover_dataset(path, videos=videos)
    progress(1, 3, "splitting")
    split = make_split(dataset)
    part_of = {s.path: name for name, part in split.parts().items() for s in part}
    rows = [Row(s.path, dataset.relative(s), s.label_name, part_of.get(s.path, ""), segment=s.segment) for s in dataset.samples]
    all_notes = split.notes  # the dataset's own, then the split's (classes too small for every part)
    notes = f"; {len(all_notes)} note{'' if len(all_notes) == 1 else 's'}: {all_notes[0]}" if all_notes else ""
    summary = DatasetSummary(f"{len(rows)} videos, {len(dataset.classes)} classes ({dataset.layout})",
                             SplitSource("the dataset's own split", split.description), part_sizes(r.split for r in rows), notes)
    kept = tuple((name, merge_results(rows, results)) for name, results in carried)
    cached = None
    if checkpoint is not None and not kept:
        progress(2, 3, "predictions scored before")
        cached = cached_predictions(rows, dataset, checkpoint, device, cancel)
    listing = Listing(rows, summary, dataset.classes, {normalise(r.path): r.true for r in rows}, {id(r): i for i, r in enumerate(rows)},
                      dataset, kept, cached)
    exempt_long_lived()  # here, not on the GUI thread: its collector's next pass would walk every new object once more
    return listing


def read_results(path: str, rows: list[Row], cancel, progress) -> ResultsMerge:  # noqa: ANN001
    """A per-video results file and where its records go among ``rows`` (worker)."""
    from core.evaluation.video_results import read_video_results

    results = read_video_results(path)
    cancel.raise_if_cancelled()
    return merge_results(rows, results)


def write_table_csv(path: str, rows: list[Row], cancel, progress) -> None:  # noqa: ANN001
    """Format a snapshot of the shown rows and write it atomically, byte for byte (worker: 118 ms for 13,320 rows)."""
    from core.atomic import write_bytes

    text = table_csv(rows)
    cancel.raise_if_cancelled()
    write_bytes(path, text.encode("utf-8"))


def read_metadata(rows: list[Row], cancel, progress) -> None:  # noqa: ANN001
    """Frames and duration of each row from its headers, or of its annotated segment (worker): handed over
    as partial results."""
    from core.data.metadata import header_metadata
    from core.errors import InputError

    for done, row in enumerate(rows, start=1):
        cancel.raise_if_cancelled()
        try:
            if row.segment is None:
                result = (row, *header_metadata(row.path), "", 0)
            else:
                frames, duration, first = segment_metadata(row.path, row.segment)
                result = (row, frames, duration, "", first)
        except InputError as err:
            result = (row, None, None, err.problem, 0)
        progress(done, len(rows), "", partial=result)


def segment_metadata(path: Path, segment: tuple[float, float]) -> tuple[int, float, int]:
    """An annotated segment's frames, duration and first frame in the file (its packets are indexed: no decoding
    beyond the first frame)."""
    from core.video import file_span, open_segment

    with open_segment(path, segment) as video:
        return len(video), float(video.info.duration_s), file_span(video)[1]


class DatasetController(QObject):
    listed = Signal(str)  # the dataset's one-line summary
    summaryChanged = Signal(str)  # the same line once the Split column shows another split
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
        self.dataset: Dataset | None = None  # None: no dataset open (a results file alone, or nothing)
        self._summary: DatasetSummary | None = None  # the listed dataset's, for its summary line
        self._split_shown: SplitSource | None = None  # the split the Split column shows; None: the dataset's own
        self.classes: tuple[str, ...] = ()
        self.labels: dict[str, str] = {}  # normalised path -> true class, for the prediction panel; replaced, never changed in place
        self._pending: dict[int, Row] = {}
        self._predictions_of: str | None = None  # the model the rows' predictions come from (a checkpoint's path)
        self._evaluating: str | None = None  # the checkpoint the last evaluation started scores with
        self._meta_timer = QTimer(self)
        self._meta_timer.setSingleShot(True)
        self._meta_timer.setInterval(30)
        self._meta_timer.timeout.connect(self._read_pending_metadata)
        self.exports = ExportQueue(jobs, EXPORT_CHANNEL, self)  # one at a time: a second export never cancels the first
        self._after_listing: list[Callable[[], None]] = []  # asked for while a dataset is listed: done on its rows
        self._results_files: list[str] = []  # the results files read: no export is written over one
        # the results files whose predictions the rows hold (the model of _predictions_of): put on a new listing's rows
        self._results_shown: list[tuple[str, VideoResults]] = []

    # -- listing ----------------------------------------------------------------------
    def open_dataset(self, path: str, videos: str | None = None, *, checkpoint: str | Path | None = None, device: str = "cpu") -> None:
        """List ``path`` in a worker; the jobs on the last listing's rows stop (exports asked for are written:
        each holds what it writes).  The rows get the predictions of the results files the table showed, else those
        the panel scored before with ``checkpoint`` (the Classification panel's model) on ``device`` (its device)."""
        self._after_listing.clear()
        for channel in CHANNELS:
            self.jobs.cancel(channel)
        failed = self._job_failed("dataset-open", "Cannot open the dataset")
        carried = tuple(self._results_shown)
        chosen = None if checkpoint is None else str(checkpoint)

        def not_listed(error: BaseException, trace: str) -> None:
            failed(error, trace)
            self._run_after_listing()  # on the rows the table still holds

        self.jobs.submit(
            "dataset-open", lambda cancel, progress: list_dataset(path, videos, cancel, progress, carried, chosen, device),
            lambda listing: self._listed(path, listing),
            on_error=not_listed,
            on_progress=lambda d, n, m: self.progressed.emit("dataset-open", d, n, m),
            on_cancelled=lambda: self.finished.emit("dataset-open", "listing cancelled"),
        )

    def _listed(self, path: str, listing: Listing) -> None:
        self.source, self.classes, self.dataset = path, listing.classes, listing.dataset
        self._summary, self._split_shown = listing.summary, None
        self._pending.clear()
        self._predictions_of = str(listing.carried[0][1].results.checkpoint) if listing.carried else None
        self.labels = listing.labels
        for _name, merge in listing.carried:  # a results file's predictions stay on the rows of their videos
            self._put_records(merge)
        if listing.cached is not None:  # those scored here before, as the checkpoint's evaluation left them
            self._predictions_of = listing.cached.checkpoint
            for row, record in listing.cached.matched:
                row.record = record
            for row, part in listing.cached.split.changes:
                row.split = part
            self._split_shown = listing.cached.split.source
        self.model.set_rows(listing.rows, listing.positions)
        self.listed.emit(self.summary_line())  # the panel applies its filters to the new rows
        self.recordsChanged.emit()
        if listing.carried:
            self.finished.emit("dataset-results", "; ".join(kept_message(name, merge) for name, merge in listing.carried))
        elif listing.cached is not None:
            self.finished.emit("dataset-eval", listing.cached.message())
        self._run_after_listing()

    def _when_listed(self, action: Callable[[], None]) -> bool:
        """Whether ``action`` waits for the listing in progress, to be done on its rows once they are in: done on
        the rows of then, a scan's or an evaluation's results landed on rows the listing then replaced (lost), and a
        results file's records were added beside the listing's rows (each video twice)."""
        if not self.jobs.is_busy("dataset-open"):
            return False
        self._after_listing.append(action)
        return True

    def _run_after_listing(self) -> None:
        waiting, self._after_listing = self._after_listing, []
        for action in waiting:
            action()

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

    def _metadata_arrived(self, result: tuple[Row, int | None, float | None, str, int]) -> None:
        row, row.frames, row.duration, row.meta_error, row.first_frame = result
        self.model.row_changed(row)

    def _metadata_done(self) -> None:
        if self._pending:
            self._meta_timer.start()

    # -- flow survey ------------------------------------------------------------------
    def scan_flow(self, method: str = "dis", device: str = "cpu") -> None:
        from viewer.dataset.flow_survey_job import survey_rows

        if self._when_listed(lambda: self.scan_flow(method, device)):
            return
        rows = list(self.proxy.visible_rows())
        self.jobs.submit(
            "dataset-flow", lambda cancel, progress: survey_rows(rows, method, device, cancel, progress),
            lambda done: self.finished.emit("dataset-flow", done.message()),
            on_error=self._job_failed("dataset-flow", "Flow survey failed"),
            on_progress=lambda d, n, m: self.progressed.emit("dataset-flow", d, n, m),
            on_partial=self._row_updated,
            on_cancelled=lambda: self.finished.emit("dataset-flow", "flow survey cancelled: Scan flow resumes it"),
        )

    def _job_failed(self, channel: str, title: str) -> Callable[[BaseException, str], None]:
        """The error in a dialog, and the dock's status line saying so (not an earlier job's "complete")."""
        def failed(error: BaseException, trace: str) -> None:
            self.notifier.error(title, error, trace)
            self.finished.emit(channel, f"{title.lower()}: see the message")
        return failed

    def _row_updated(self, update: tuple[Row, str, object]) -> None:
        row, field_name, value = update
        setattr(row, field_name, value)
        if field_name == "noise":
            row.noise_from_results = False  # surveyed here: the panel's own figures win
        self.model.row_changed(row)
        if field_name == "record":
            self.recordsChanged.emit()

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, checkpoint: str | Path, *, part: str = "test", device: str = "cpu") -> None:
        """Score ``part`` of the split recorded in ``checkpoint`` (what ``eval`` scores), cached per video."""
        from viewer.dataset.evaluate_job import evaluate_rows

        if self._when_listed(lambda: self.evaluate(checkpoint, part=part, device=device)):
            return
        self._predictions_from(str(checkpoint))
        request = EvaluationRequest(tuple(self.rows), str(checkpoint), part, device, self.dataset)
        self._evaluating = str(checkpoint)
        self.jobs.submit(
            "dataset-eval", lambda cancel, progress: evaluate_rows(request, cancel, progress),
            lambda message: self.finished.emit("dataset-eval", message),
            on_error=self._job_failed("dataset-eval", "Evaluation failed"),
            on_progress=lambda d, n, m: self.progressed.emit("dataset-eval", d, n, m),
            on_partial=self._evaluation_partial,
            on_cancelled=self._evaluation_cancelled,
        )

    def _evaluation_cancelled(self) -> None:
        if self._evaluating is not None and self._predictions_of != self._evaluating:
            self.finished.emit("dataset-eval", f"evaluation with {Path(self._evaluating).name} stopped: the table holds another "
                                               "model's predictions now")
        else:
            self.finished.emit("dataset-eval", "evaluation cancelled: results so far are kept")

    def _predictions_from(self, checkpoint: str) -> None:
        """The rows hold one model's predictions: another model's are cleared before this one's arrive (kept, the
        table, the per-class accuracy and the confusion matrix counted two models' answers as one)."""
        if self._predictions_of is not None and self._predictions_of != checkpoint:
            for row in self.rows:
                row.record = None
            self._results_shown = []
            self.model.all_changed()
            self.recordsChanged.emit()
        self._predictions_of = checkpoint
        if self.jobs.is_busy("dataset-eval") and self._evaluating != checkpoint:  # its records would land among this model's
            self.jobs.cancel("dataset-eval")

    def _evaluation_partial(self, update: SplitChanges | tuple[Row, str, object]) -> None:
        if not isinstance(update, SplitChanges):
            self._row_updated(update)
            return
        for row, part in update.changes:  # the Split column follows the checkpoint's recorded split
            row.split = part
        if update.changes:
            self.proxy.refilter()
            self.model.all_changed()
        if update.source is not None:
            self._split_shown = update.source
        if self._summary is not None:  # a table read from a results file alone keeps its line
            self.summaryChanged.emit(self.summary_line())

    def summary_line(self) -> str:
        """The listed dataset in one line, naming the split the Split column shows and counting its parts on the
        rows (what the split filter shows); "" without a listed dataset."""
        if self._summary is None:
            return ""
        return self._summary.line((r.split for r in self.rows), self._split_shown)

    def cancel(self) -> None:
        """The panel's Cancel: every job stops; each export waiting its turn is told "export cancelled" now, the one
        being written when its worker ends."""
        self.exports.cancel_all()
        self._after_listing.clear()
        for channel in ("dataset-flow", "dataset-eval", "dataset-open", "dataset-results"):
            self.jobs.cancel(channel)

    # -- a per-video results file -----------------------------------------------------
    def open_results(self, path: str) -> None:
        """Put a per-video results file's records on the rows (matched in a worker; while a dataset is being listed,
        on its rows once they are in)."""
        if self._when_listed(lambda: self.open_results(path)):
            return
        self._results_files = [*dict.fromkeys([*self._results_files, path])]
        rows = list(self.rows)  # matched in the worker; a new listing cancels this job
        self.jobs.submit(
            "dataset-results", lambda cancel, progress: read_results(path, rows, cancel, progress),
            lambda merge: self._results_read(path, merge),
            on_error=self._job_failed("dataset-results", "Cannot open the per-video results"),
            on_cancelled=lambda: self.finished.emit("dataset-results", "reading the per-video results cancelled"),
        )

    def _results_read(self, path: str, merge: ResultsMerge) -> None:
        results = merge.results
        self._predictions_from(str(results.checkpoint))
        self._results_shown = [(name, r) for name, r in self._results_shown if name != path] + [(path, results)]
        self._put_records(merge)
        fresh = not self.rows
        if merge.added:  # videos the table does not list (no dataset open, or another one)
            if fresh:
                self.source, self.classes, self.dataset = results.dataset, results.class_names, None
                self._summary = self._split_shown = None  # the line says where the rows came from
            # a new mapping, never changed in place (readers notice by identity); what the table knew stays
            self.labels = {**merge.labels, **self.labels}
            self.model.add_rows(list(merge.added))
        if fresh and merge.added:
            self.listed.emit(f"{len(merge.added)} videos from the results file of {results.dataset or 'an unnamed dataset'}")
        self.proxy.refilter()
        self.model.all_changed()
        self.recordsChanged.emit()
        elsewhere = f"; {merge.by_relative} matched by their path in the dataset" if merge.by_relative else ""
        added = f"; {len(merge.added)} not in the table, added" if merge.added and not fresh else ""
        relabelled = f"; {merge.other_class} of another class than its row (relabelled since it was scored?), left out" if merge.other_class else ""
        self.finished.emit("dataset-results", f"{len(results.records)} predictions read from the results file ({results.checkpoint})"
                                              f"{elsewhere}{added}{relabelled}")

    @staticmethod
    def _put_records(merge: ResultsMerge) -> None:
        """A results file's records and noise figures on the rows they matched."""
        for row, record, noise in merge.matched:
            row.record = record
            if noise is not None and (row.noise is None or row.noise_from_results):  # never over this panel's own survey
                row.noise, row.noise_from_results = noise, True

    # -- figures ----------------------------------------------------------------------
    def figure_rows(self) -> list[Row]:
        """The rows the confusion matrix and per-class accuracy count: those the table's filters let through, the
        confusion cell's aside (a click on a cell lists exactly its count).  Judged afresh, not from the table's
        verdicts, which wait for the end of a job to take in its new predictions."""
        criteria = self.proxy.criteria.without_cell()
        return list(self.rows) if criteria == RowFilter() else [r for r in self.rows if criteria.accepts(r)]

    def confusion(self, rows: Sequence[Row] | None = None) -> tuple[list[str], np.ndarray]:
        """Class names (true or predicted by a scored row) and the counts, rows true, columns predicted (one pass);
        of ``rows``, by default :meth:`figure_rows`."""
        pairs = [(r.true, r.record.predicted) for r in (self.figure_rows() if rows is None else rows) if r.record is not None]
        seen = {name for pair in pairs for name in pair}
        names = [c for c in self.classes if c in seen] + sorted(seen - set(self.classes))
        index = {n: i for i, n in enumerate(names)}
        matrix = np.zeros((len(names), len(names)), np.int64)
        for true, predicted in pairs:
            matrix[index[true], index[predicted]] += 1
        return names, matrix

    def per_class_accuracy(self, rows: Sequence[Row] | None = None) -> list[tuple[str, float, int]]:
        """(class, share right, videos scored) in class order (one pass), of ``rows`` (by default :meth:`figure_rows`)."""
        right: dict[str, int] = {}
        scored: dict[str, int] = {}
        for r in (self.figure_rows() if rows is None else rows):
            if r.record is not None:
                scored[r.true] = scored.get(r.true, 0) + 1
                right[r.true] = right.get(r.true, 0) + int(r.record.predicted == r.true)
        order = [c for c in self.classes if c in scored] + sorted(set(scored) - set(self.classes))
        return [(name, right[name] / scored[name], scored[name]) for name in order]

    # -- exports ----------------------------------------------------------------------
    def export_csv(self, path: str) -> None:
        rows = snapshot(self.proxy.visible_rows())  # the table as shown now; formatted in the worker
        self._export(path, "the table", lambda cancel, progress: write_table_csv(path, rows, cancel, progress), f"table written to {path}")

    def export_confusion(self, path: str) -> None:
        from core.atomic import write_bytes
        from core.evaluation.confusion_plot import confusion_png

        names, matrix = self.confusion()
        if not names:
            self.notifier.error("Nothing to export", "no video has a prediction yet: evaluate first, or open a results file")
            return
        title = f"{Path(self.source or '').name}: {int(np.trace(matrix))}/{int(matrix.sum())} right"
        self._export(path, "the confusion matrix", lambda cancel, progress: write_bytes(path, confusion_png(matrix, names, title=title)),
                     f"confusion matrix written to {path}")

    def in_progress(self) -> str:
        """What the export being written (marked "(cancelling)" until its worker ends) and those waiting their turn
        write, in words; "" when none."""
        return "; ".join(self.exports.in_progress())

    def exports_in_progress(self) -> int:
        """Exports being written or waiting their turn that closing the window would drop (it asks first); one
        cancelled, still winding down, is not counted."""
        return len(self.exports.unfinished())

    def _export(self, path: str, what: str, write: Callable[..., Any], message: str) -> None:
        """Exports wait their turn: a second one never cancels the first.  Each job checks its target first, before
        any work: whether it can be written and is none of the files the table was read from (the dataset's
        annotations or class index, a results file: a one-line error naming it); in the worker, since the check
        probes the folder with a temporary file (a network drive may stall)."""
        from core.export.target import check_writable, storage_failures_named

        read_from = list(self._results_files)
        if self.dataset is not None:
            read_from += [*self.dataset.annotation_files, *([self.dataset.class_index_file] if self.dataset.class_index_file else [])]

        def work(cancel, progress):  # noqa: ANN001, ANN202
            check_writable(path, folder=False, inputs=read_from)
            with storage_failures_named(path):
                return write(cancel, progress)

        self.exports.add(Export(
            f"Exporting {what} to {Path(path).name}", work,
            on_written=lambda _none: self.finished.emit(EXPORT_CHANNEL, message),
            on_failed=lambda error, trace: self.notifier.error("Export failed", error, trace),
            on_cancelled=lambda: self.finished.emit(EXPORT_CHANNEL, "export cancelled"),
        ))
