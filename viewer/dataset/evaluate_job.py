"""The dataset panel's evaluation (worker side): the chosen checkpoint over the rows, cached per video.

The videos are those ``eval`` would score: the chosen part of the split recorded in
the checkpoint (:func:`core.evaluation.test_set.select_test_set`), not the dataset's
default split, so the panel and the command line agree on a model's accuracy.
Cached records come first and the model is only opened when a video is not cached
(or was edited since), so a second look at a scored dataset costs no model load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from core.data import Dataset
from core.errors import DatasetError
from core.store_save import not_kept
from viewer.dataset.rows import Row
from viewer.dataset.split_summary import SplitSource

if TYPE_CHECKING:
    from core.evaluation.test_set import TestSet

SPLIT_PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class EvaluationRequest:
    """What the GUI thread hands the worker; the worker reads nothing else."""

    rows: tuple[Row, ...]  # every row of the table
    checkpoint: str
    part: str  # "test", "val", "train" or "all"
    device: str
    dataset: Dataset | None  # the open dataset; None for a table read from a results file alone


@dataclass(frozen=True)
class SplitChanges:
    """Rows whose Split column the checkpoint's recorded split relabels (a partial result), and that split in words
    (``None``: the rows keep their own parts)."""

    changes: tuple[tuple[Row, str], ...]
    source: SplitSource | None = None


class ModelOnFirstUse:
    """Stands in for the classifier and opens it the first time a video needs scoring."""

    def __init__(self, open_model: Callable[[], Any]) -> None:
        self._open_model = open_model
        self._model: Any = None

    @property
    def opened(self) -> bool:
        return self._model is not None

    def __getattr__(self, name: str) -> Any:  # only names the instance lacks: the classifier's
        if self._model is None:
            self._model = self._open_model()
        return getattr(self._model, name)


def recorded_split_dir(extra: Mapping[str, Any]) -> str | None:
    """The split folder training used while it is still there (as ``eval`` does)."""
    from core.evaluation.test_set import recorded_settings

    folder = recorded_settings(extra).get("split_dir")
    return folder if isinstance(folder, str) and folder and Path(folder).is_dir() else None


def chosen_rows(request: EvaluationRequest, extra: Mapping[str, Any]) -> tuple[list[Row], str, SplitChanges]:
    """The rows to score, where they came from, and the Split column as the checkpoint records it."""
    from core.evaluation.test_set import select_test_set

    rows = list(request.rows)
    if request.dataset is None:  # rows from a results file: their own parts
        return [r for r in rows if request.part == "all" or r.split == request.part] or rows, "the listed videos", SplitChanges(())
    split_dir = recorded_split_dir(extra)
    test_set = select_test_set(request.dataset, extra, part=request.part, split_dir=split_dir)
    # a video is its path and its segment: a results file may add the whole file beside a Kinetics row's segment of it
    by_video = {(r.path, r.segment): r for r in rows}
    chosen = [by_video[(s.path, s.segment)] for s in test_set.samples if (s.path, s.segment) in by_video]
    part_of: dict[tuple[Path, tuple[float, float] | None], str] = {}
    source = None
    for part in SPLIT_PARTS:
        try:
            part_set = select_test_set(request.dataset, extra, part=part, split_dir=split_dir)
        except DatasetError:
            continue  # an empty part (no validation videos, say)
        part_of.update({(s.path, s.segment): part for s in part_set.samples})
        source = split_source(part_set, request.checkpoint)
    listed = {(s.path, s.segment) for s in request.dataset.samples}  # rows a results file added keep their own part
    changes = tuple((r, part_of.get((r.path, r.segment), "")) for r in rows
                    if (r.path, r.segment) in listed and r.split != part_of.get((r.path, r.segment), ""))
    return chosen, test_set.summary(), SplitChanges(changes, source)


def split_source(part_set: TestSet, checkpoint: str) -> SplitSource:
    """The split ``part_set`` is a part of, named for the summary line."""
    from core.evaluation.test_set import SOURCE_CHECKPOINT

    name = Path(checkpoint).name
    if part_set.source == SOURCE_CHECKPOINT:
        return SplitSource(f"the split recorded in {name}", part_set.description)
    return SplitSource(f"the split Evaluate makes for {name}, which records none", part_set.description)


def evaluate_rows(request: EvaluationRequest, cancel, progress) -> str:  # noqa: ANN001
    """Score the chosen rows whose class the model knows; each record is handed over as ``(row, "record", record)``."""
    from core.evaluation.panel_scoring import score_videos
    from core.evaluation.panel_settings import PANEL_PRECISION, scoring_settings
    from core.evaluation.record_cache import checkpoint_records
    from core.inference import default_flow_backend
    from core.models.checkpoint import open_classifier, read_checkpoint_info

    checkpoint = request.checkpoint
    info = read_checkpoint_info(checkpoint)
    names = set(info.config.class_names)
    if not any(r.true in names for r in request.rows):
        theirs = ", ".join(list(info.config.class_names)[:5])
        ours = ", ".join(sorted({r.true for r in request.rows})[:5])
        raise DatasetError(f"none of the dataset's classes ({ours}, ...) is a class of this model ({theirs}, ...)", checkpoint)
    rows, source, relabel = chosen_rows(request, info.extra)
    if relabel.changes or relabel.source is not None:  # the summary line names the split even when no row changes part
        progress(0, len(rows), "the checkpoint's split", partial=relabel)
    scorable = [r for r in rows if r.true in names]
    scoring = scoring_settings(request.device)  # what the records are scored with: their cache is that setting's
    cache = checkpoint_records(checkpoint, info.config, scoring=scoring)
    classifier = ModelOnFirstUse(lambda: open_classifier(checkpoint, device=request.device, flow_backend=default_flow_backend(),
                                                         batch_size=scoring.clips, precision=PANEL_PRECISION))
    row_of = {(Path(r.path).resolve(), r.segment): r for r in scorable}  # a file's segment and the whole file are two rows

    def relay(done: int, total: int, message: str = "", partial=None) -> None:  # noqa: ANN001
        if partial is not None:
            progress(done, total, message, partial=(row_of[(Path(partial.path), partial.segment)], "record", partial))
        else:
            progress(done, total, message)

    records, failed = score_videos(classifier, [(r.path, r.relative, r.true, r.segment) for r in scorable], cache,
                                   clips=scoring.clips, cancel=cancel, progress=relay)
    return summary(records, failed, skipped=len(rows) - len(scorable), checkpoint=checkpoint, source=source,
                   loaded=classifier.opened) + not_kept(cache.unsaved)


def summary(records: Sequence[Any], failed: Sequence[Any], *, skipped: int, checkpoint: str, source: str, loaded: bool) -> str:
    """The status line after an evaluation."""
    right = sum(1 for r in records if r.predicted == r.true)
    tail = (f"; {skipped} videos of classes the model lacks left out" if skipped else "") + (f"; {len(failed)} unreadable" if failed else "")
    cached = "" if loaded else "; all from the cache"
    return (f"evaluated {len(records)} videos with {Path(checkpoint).name}: {right} right ({right / max(1, len(records)):.1%}){tail}{cached}"
            f" — {source}")
