"""What a training run hands back, and what it writes into the checkpoint's ``extra``.

Evaluation rebuilds the run's test set from the checkpoint alone:
:func:`training_record` reads the dataset root, the split (paths relative to
the root, and its fingerprint) and the settings back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from core.data import SkippedVideos, Split
from core.errors import InputError
from core.models.domain import EXTRA_DOMAIN, domain_record  # what the model was trained on: dataset, classes, synthetic, date
from core.training.memory import PeakMemory, peak_memory
from core.training.settings import TrainSettings

# Keys of the checkpoint's ``extra`` written by training.
EXTRA_SETTINGS = "train_settings"
EXTRA_DATASET_ROOT = "dataset_root"
EXTRA_SPLIT = "split"  # Split.to_dict(dataset): scheme, description, notes, fingerprint, train/val/test paths
EXTRA_SPLIT_FINGERPRINT = "split_fingerprint"
EXTRA_BEST_EPOCH = "best_epoch"
EXTRA_HISTORY = "history"
EXTRA_COMMAND = "command"
EXTRA_SKIPPED = "skipped"
EXTRA_BACKBONE_WEIGHTS = "backbone_weights"  # per stream: where its weights came from
EXTRA_COLOUR_PCA = "colour_pca"  # --augment jitter: the training frames' RGB components (core.training.colour_pca)


def checkpoint_extra(
    *, settings: TrainSettings, dataset: Any, split: Split, best_epoch: int, history: list[dict[str, Any]],
    command: str | None, skipped: SkippedVideos, weights_sources: Any, colour_pca: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What every trainer records in its best checkpoint, so that ``eval`` can rebuild the test set
    and a reader can tell how the model was made (``colour_pca``: ``--augment jitter``'s components
    and how they were computed, under :data:`EXTRA_COLOUR_PCA`; left out without it)."""
    extra = {
        EXTRA_SETTINGS: settings.to_dict(),
        EXTRA_DATASET_ROOT: str(dataset.root.resolve()),
        EXTRA_SPLIT: split.to_dict(dataset),
        EXTRA_SPLIT_FINGERPRINT: split.fingerprint(dataset),
        EXTRA_BEST_EPOCH: best_epoch,
        EXTRA_HISTORY: history,
        EXTRA_COMMAND: command,
        EXTRA_SKIPPED: skipped.to_list(),
        EXTRA_BACKBONE_WEIGHTS: weights_sources,
        EXTRA_DOMAIN: domain_record(dataset, dataset.classes),
    }
    if colour_pca is not None:
        extra[EXTRA_COLOUR_PCA] = dict(colour_pca)
    return extra


def untrained_classes_note(class_names: tuple[str, ...] | list[str], trained: list[Any]) -> str | None:
    """The note for the classes none of whose videos the run trains on (``trained``: the samples it does, readable),
    or None: the model keeps their outputs, cannot learn them, and their validation and test videos only count
    as errors, which a reader of the accuracy must be told."""
    from core.data.dataset import listed

    present = {sample.label_index for sample in trained}
    missing = [name for index, name in enumerate(class_names) if index not in present]
    if not missing:
        return None
    which = f"class {missing[0]} has" if len(missing) == 1 else f"{len(missing)} classes have"
    return (f"{which} no training video (none in the training part, or none readable): the model cannot learn "
            f"{'it' if len(missing) == 1 else 'them'}, and {'its' if len(missing) == 1 else 'their'} validation and test "
            f"videos count as errors{'' if len(missing) == 1 else ': ' + listed(missing)}")


def add_recorded_skips(checkpoint: Path, skipped: SkippedVideos) -> None:
    """A finished run's skipped videos, as its checkpoint recorded them, added to ``skipped``."""
    from core.models.checkpoint import read_checkpoint_info

    if checkpoint.exists():
        for item in read_checkpoint_info(checkpoint).extra.get(EXTRA_SKIPPED, []):
            skipped.add(item["path"], item["reason"])


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The outcome of :func:`core.training.train`.

    ``checkpoint`` is the best epoch's checkpoint (the ``out`` path);
    ``history`` has one dict per epoch run so far (this call and any resumed
    earlier ones): ``epoch`` (1-based), ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (``None`` without a validation part) and
    ``seconds``.  ``already_finished`` is True when the call found a finished
    run and trained nothing.  ``peak`` is the run's peak memory, read when the result was
    made, i.e. at the end of the run (measured here, so that every trainer reports it;
    :func:`core.training.train` starts the peaks afresh).
    """

    checkpoint: Path
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]]
    skipped: SkippedVideos
    split: Split
    config: Any  # the family's config
    resumed_from_epoch: int = 0
    already_finished: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    peak: PeakMemory = field(default_factory=peak_memory)

    @property
    def best(self) -> dict[str, Any]:
        """The history entry of the best epoch."""
        return next(h for h in self.history if h["epoch"] == self.best_epoch)


@dataclass(frozen=True)
class TrainingRecord:
    """The training facts a checkpoint carries (``None`` fields when absent)."""

    settings: TrainSettings | None
    dataset_root: Path | None
    split: dict[str, Any] | None
    split_fingerprint: str | None
    best_epoch: int | None
    history: list[dict[str, Any]]
    command: str | None
    skipped: list[dict[str, str]]


def training_record(checkpoint: str | os.PathLike[str] | Mapping[str, Any]) -> TrainingRecord | None:
    """The record of a checkpoint written by :func:`core.training.train` (a path, or its
    ``extra`` dict); ``None`` for a checkpoint made some other way."""
    if isinstance(checkpoint, Mapping):
        extra = dict(checkpoint)
    else:
        from core.models.checkpoint import read_checkpoint_info

        extra = read_checkpoint_info(checkpoint).extra
    if EXTRA_SETTINGS not in extra:
        return None
    root = extra.get(EXTRA_DATASET_ROOT)
    kinds = {EXTRA_DATASET_ROOT: (str, type(None)), EXTRA_SPLIT: (dict, type(None)), EXTRA_SPLIT_FINGERPRINT: (str, type(None)),
             EXTRA_BEST_EPOCH: (int, type(None)), EXTRA_HISTORY: (list,), EXTRA_COMMAND: (str, type(None)), EXTRA_SKIPPED: (list,)}
    for key, allowed in kinds.items():
        if key in extra and not isinstance(extra[key], allowed):
            raise InputError(f"the checkpoint's training record is damaged: {key} is a {type(extra[key]).__name__}")
    return TrainingRecord(
        settings=TrainSettings.from_dict(extra[EXTRA_SETTINGS]),
        dataset_root=Path(root) if root else None,
        split=extra.get(EXTRA_SPLIT),
        split_fingerprint=extra.get(EXTRA_SPLIT_FINGERPRINT),
        best_epoch=extra.get(EXTRA_BEST_EPOCH),
        history=list(extra.get(EXTRA_HISTORY, [])),
        command=extra.get(EXTRA_COMMAND),
        skipped=list(extra.get(EXTRA_SKIPPED, [])),
    )
