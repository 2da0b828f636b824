"""The predictions the panel scored before with a checkpoint, found again for a new listing's rows (worker side).

Listing a dataset again, in this window or in a new session, made new rows without predictions, although every
video scored with the chosen checkpoint sat in its record cache.  Here the cache answers each row (keyed by the
checkpoint, its flow and weights, how the panel scores on the chosen device (clips per video, device kind and
precision), the video's file and reader version, its segment: an edited video, other flow settings, or another
device, find nothing and are scored again by Evaluate), and the Split column is given the checkpoint's
recorded split, as its evaluation gives it.  No model is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from core.data import Dataset
from core.evaluation.video_results import VideoRecord
from viewer.dataset.evaluate_job import EvaluationRequest, SplitChanges, chosen_rows
from viewer.dataset.rows import Row

CANCEL_EVERY = 256  # rows between two looks at the cancel token


@dataclass(frozen=True)
class CachedPredictions:
    """A checkpoint's cached records matched to rows, and the Split column its recorded split gives."""

    checkpoint: str
    matched: tuple[tuple[Row, VideoRecord], ...]
    split: SplitChanges

    def message(self) -> str:
        return f"{len(self.matched)} predictions of {Path(self.checkpoint).name} from its earlier evaluations (Evaluate scores the rest)"


def cached_predictions(rows: Sequence[Row], dataset: Dataset, checkpoint: str, device: str, cancel) -> CachedPredictions | None:  # noqa: ANN001
    """The records ``checkpoint``'s cache holds for ``rows`` as they are now, as Evaluate scores them on ``device``
    (``None`` when it holds none, or the checkpoint cannot be read: the listing goes on without predictions)."""
    from core.errors import InputError
    from core.evaluation.panel_scoring import reusable_record
    from core.evaluation.panel_settings import scoring_settings
    from core.evaluation.record_cache import checkpoint_records
    from core.models.checkpoint import read_checkpoint_info

    try:
        info = read_checkpoint_info(checkpoint)
        scoring = scoring_settings(device)
    except InputError:
        return None  # moved or damaged since it was chosen (the Classification panel says so), or a device gone
    cache = checkpoint_records(checkpoint, info.config, scoring=scoring)
    if not len(cache):
        return None
    names = set(info.config.class_names)
    matched = []
    for i, row in enumerate(rows):
        if i % CANCEL_EVERY == 0:
            cancel.raise_if_cancelled()
        if row.true in names and (record := reusable_record(cache.get(row.path, row.segment), row.relative, row.true)) is not None:
            matched.append((row, record))
    if not matched:
        return None
    try:
        _chosen, _source, split = chosen_rows(EvaluationRequest(tuple(rows), checkpoint, "all", "cpu", dataset), info.extra)
    except InputError:
        split = SplitChanges(())  # the recorded split does not fit this dataset: Evaluate says why
    return CachedPredictions(checkpoint, tuple(matched), split)
