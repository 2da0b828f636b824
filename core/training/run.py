"""``train``: one call for every model family; the family's record says how it trains."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from core.errors import CheckpointError

from core.export.target import check_writable
from core.models.checkpoint import read_checkpoint_info
from core.models.registry import family
from core.progress import CancelToken
import core.training.memory as memory
from core.training.result import TrainResult
from core.training.run_lock import training_lock
from core.training.settings import TrainSettings
from core.training.state import STATE_SUFFIX, state_path


def train(
    dataset_root: str | os.PathLike[str],
    settings: TrainSettings,
    out: str | os.PathLike[str],
    *,
    resume: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[..., None] | None = None,
    cancel: CancelToken | None = None,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
) -> TrainResult:
    """Train a model of family ``settings.model`` on the dataset at ``dataset_root`` and write the
    best checkpoint to ``out`` (.safetensors).

    ``resume``: continue from ``out``'s training state when there is one (the
    settings, except ``epochs``/``patience``/``device``, and the split must be
    the same); a finished run returns at once with ``already_finished``.
    ``resume=False`` starts over.  ``cache_dir``: where the run caches what it
    computes once (the transformer's token grids, the end-to-end trainer's flow).
    ``progress(done, total, message)``, ``log(line)``: what the run reports.
    ``command``: recorded in the checkpoint.  The transformer trains on cached
    token grids of frozen backbones and runs under ``torchrun`` too
    (:mod:`core.models.transformer.train.trainer`); the ResNet families train end
    to end in one process (:mod:`core.training.end_to_end`).

    Raises :class:`~core.errors.DatasetError` for a bad data folder,
    :class:`~core.errors.InputError` for bad settings,
    :class:`~core.errors.WeightsUnavailable` when pretrained weights cannot be
    had, :class:`~core.errors.Cancelled` when ``cancel`` fires (the state of the
    last finished epoch stays on disk).
    """
    settings.validate()
    check_output(out, resume=resume)
    memory.reset_peaks()  # the result's peak is this run's, not an earlier one's in this process (--splits)
    with training_lock(out):  # a second run into the same checkpoint is refused, not mixed in
        result = family(settings.model).train(dataset_root, settings, out, resume=resume, cache_dir=cache_dir, progress=progress,
                                              cancel=cancel, log=log, command=command)
        verify_checkpoint(result)
    return result


def check_output(out: str | os.PathLike[str], *, resume: bool) -> None:
    """Refuse, before any work, a checkpoint path a run must not write: a training state's name, an unwritable
    place, or (resuming) a checkpoint with no state beside it.  ``train --splits`` checks every split's first."""
    if Path(out).name.endswith(STATE_SUFFIX):  # m.train-state.safetensors: the new checkpoint would replace run m's state
        raise CheckpointError(f"is the name of a training state (the one beside {Path(out).name.removesuffix(STATE_SUFFIX)}.safetensors), "
                              "not of a checkpoint: give the checkpoint's own name", out)
    check_writable(out, folder=False)  # before any work: not after the first epoch
    if resume:
        check_not_another_checkpoint(Path(out))


def check_not_another_checkpoint(out: Path) -> None:
    """A file at ``out`` with no training state beside it is no run to resume: a checkpoint copied or kept on its
    own (the bundled demo model, another run's best epoch) that the first epoch would overwrite.  Refused unless
    the run starts over (``resume=False``, ``--fresh``)."""
    if out.is_file() and not state_path(out).exists():
        raise CheckpointError(f"exists, with no training state beside it ({state_path(out).name}) to resume: training would "
                              "overwrite it; give another --out, or pass --fresh to replace it", out)


def verify_checkpoint(result: TrainResult) -> None:
    """The checkpoint a run reports exists and reads as a checkpoint of the run's config at its best epoch: a state
    file saying "finished" beside a deleted, damaged or other checkpoint must not end in "done"."""
    path = Path(result.checkpoint)
    if not path.is_file():
        what = "the run's state says it finished, but" if result.already_finished else "training ended, but"
        raise CheckpointError(f"{what} its checkpoint is missing; rerun with --fresh to train again", path)
    try:
        info = read_checkpoint_info(path)
    except CheckpointError as err:
        raise CheckpointError(f"the run's checkpoint is unreadable ({err.problem}); rerun with --fresh to train again", path) from None
    if info.config != result.config:
        raise CheckpointError("the checkpoint beside the run's state holds another model; rerun with --fresh to train again", path)
    recorded = info.extra.get("best_epoch")
    if result.best_epoch and recorded != result.best_epoch:
        raise CheckpointError(f"the checkpoint holds epoch {recorded}, not the run's best epoch {result.best_epoch}; rerun with --fresh "
                              "to train again", path)
