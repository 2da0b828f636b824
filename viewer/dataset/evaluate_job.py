"""The dataset panel's evaluation (worker side): the chosen checkpoint over the rows, cached per video."""

from __future__ import annotations

from pathlib import Path

from core.errors import DatasetError
from viewer.dataset.rows import Row


def evaluate_rows(rows: list[Row], checkpoint: str, device: str, cancel, progress) -> str:  # noqa: ANN001
    """Score the rows whose class the model knows; each record is handed over as ``(row, "record", record)``."""
    from core.evaluation.panel_scoring import DEFAULT_PANEL_CLIPS, score_videos
    from core.evaluation.record_cache import RecordCache
    from core.inference import default_flow_backend
    from core.models.checkpoint import open_classifier, read_checkpoint_info

    info = read_checkpoint_info(checkpoint)
    names = set(info.config.class_names)
    scorable = [r for r in rows if r.true in names]
    if not scorable:
        theirs = ", ".join(list(info.config.class_names)[:5])
        ours = ", ".join(sorted({r.true for r in rows})[:5])
        raise DatasetError(f"none of the dataset's classes ({ours}, ...) is a class of this model ({theirs}, ...)", checkpoint)
    cache = RecordCache(checkpoint, info.config.class_names)
    classifier = open_classifier(checkpoint, device=device, flow_backend=default_flow_backend(), batch_size=DEFAULT_PANEL_CLIPS)
    row_of = {Path(r.path).resolve(): r for r in scorable}

    def relay(done: int, total: int, message: str = "", partial=None) -> None:  # noqa: ANN001
        if partial is not None:
            progress(done, total, message, partial=(row_of[Path(partial.path)], "record", partial))
        else:
            progress(done, total, message)

    records, failed = score_videos(classifier, [(r.path, r.relative, r.true) for r in scorable], cache,
                                   cancel=cancel, progress=relay)
    right = sum(1 for r in records if r.predicted == r.true)
    skipped = len(rows) - len(scorable)
    tail = (f"; {skipped} videos of classes the model lacks left out" if skipped else "") + (f"; {len(failed)} unreadable" if failed else "")
    return f"evaluated {len(records)} videos with {Path(checkpoint).name}: {right} right ({right / max(1, len(records)):.1%}){tail}"
