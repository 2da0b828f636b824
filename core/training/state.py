"""The resumable training state: written atomically after every epoch, beside the checkpoint.

``CKPT.safetensors`` gets ``CKPT.train-state.safetensors``: the trainable
weights of the last finished epoch (frozen backbones are rebuilt from their
seed or file, and their fingerprint is checked), Adam's moments and step
counts, and as JSON metadata the epoch, the early-stopping bookkeeping, the
history, the settings and the split fingerprint.  Randomness needs no saved
state: every epoch draws from generators seeded by ``(seed, epoch)``, so a
resumed run repeats exactly what an uninterrupted one would have done.
Plain safetensors: loading runs no code.

An epoch that improved writes two files, the state and the best checkpoint
(:func:`save_epoch`): the state first, with SIGINT and SIGTERM held until both
are written.  A crash between them (SIGKILL, power) leaves a state whose last
epoch is its best, so the resumed run writes the checkpoint from the state's
weights (:func:`checkpoint_to_rewrite`) instead of training that epoch again,
which on a GPU or another device may come out otherwise and leave the file
holding weights of an epoch the run does not report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from core.atomic import atomic_path, sweep_orphans
from core.errors import CheckpointError
from core.utf8_name import utf8_name

STATE_FORMAT = "twostream-train-state"
STATE_VERSION = 1
STATE_SUFFIX = ".train-state.safetensors"


def state_path(checkpoint: Path) -> Path:
    """``run.safetensors`` -> ``run.train-state.safetensors`` (same folder)."""
    return checkpoint.with_name(checkpoint.name.removesuffix(".safetensors") + STATE_SUFFIX)


@dataclass
class TrainState:
    """Everything a resumed run needs besides the data and the frozen backbones."""

    epoch: int  # the last finished epoch (1-based; 0: none yet)
    best_epoch: int
    best_monitor: float  # the lowest validation (or, without one, training) loss so far
    bad_epochs: int  # epochs since the last improvement
    finished: bool
    stopped_early: bool
    history: list[dict[str, Any]]
    meta: dict[str, Any]  # settings, split fingerprint, dataset root, backbone fingerprints
    model_state: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizer_state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fresh(cls, meta: dict[str, Any]) -> "TrainState":
        """The state of a run before its first epoch."""
        return cls(epoch=0, best_epoch=0, best_monitor=math.inf, bad_epochs=0, finished=False, stopped_early=False, history=[], meta=meta)

    def record_epoch(self, entry: dict[str, Any], *, epochs: int, patience: int) -> bool:
        """Add a finished epoch's log entry (``epoch``, ``train_loss``, ``val_loss``, ...) and apply
        early stopping on the validation loss (the training loss without validation); True when
        this epoch is the best so far (its weights are the checkpoint's)."""
        self.history.append(entry)
        self.epoch = int(entry["epoch"])
        monitor = entry["val_loss"] if entry["val_loss"] is not None else entry["train_loss"]
        improved = monitor < self.best_monitor
        if improved:
            self.best_monitor, self.best_epoch, self.bad_epochs = monitor, self.epoch, 0
        else:
            self.bad_epochs += 1
        self.settle(epochs=epochs, patience=patience)
        return improved

    def settle(self, *, epochs: int, patience: int) -> None:
        """Whether the run is done after its last epoch under these ``epochs`` and ``patience`` (both may change
        between an interrupted run and its continuation): what an uninterrupted run with them decided there.
        Patience that ran out on the last of fewer epochs stops a run given more; more patience after an early
        stop goes on; a run with fewer epochs than it trained stays as it was (:func:`resumable_state` refuses
        one that had not finished)."""
        if 1 <= self.epoch < epochs:
            self.stopped_early = self.finished = self.bad_epochs >= patience
        elif self.epoch == epochs:
            self.finished = True


def finished_line(checkpoint: Path, state: TrainState, patience: int) -> str:
    """The log line of a rerun that finds its run finished."""
    how = f", stopped early: no better loss in its last {state.bad_epochs} epochs, --patience {patience}" if state.stopped_early else ""
    return f"{checkpoint}: this run already finished ({state.epoch} epochs, best epoch {state.best_epoch}{how}); pass --fresh to train again"


def epoch_line(entry: dict[str, Any], epochs: int, improved: bool) -> str:
    """The one log line per epoch."""
    val = "" if entry["val_loss"] is None else f"  val loss {entry['val_loss']:.4f} acc {100 * entry['val_acc']:5.1f}%"
    best = "  *best" if improved else ""
    return (f"epoch {entry['epoch']:>3}/{epochs}  loss {entry['train_loss']:.4f} acc {100 * entry['train_acc']:5.1f}%"
            f"{val}  {entry['seconds']:.1f} s{best}")


def save_state(path: Path, state: TrainState) -> None:
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v.detach().to("cpu").contiguous() for k, v in state.model_state.items()}
    optim = state.optimizer_state
    per_param: dict[str, list[str]] = {}
    for index, values in optim.get("state", {}).items():
        per_param[str(index)] = []
        for name, value in values.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{index}.{name}"] = tensor.detach().to("cpu").contiguous().clone()
            per_param[str(index)].append(name)
    header = {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "digest": tensors_digest(tensors),
        "epoch": state.epoch,
        "best_epoch": state.best_epoch,
        "best_monitor": state.best_monitor,
        "bad_epochs": state.bad_epochs,
        "finished": state.finished,
        "stopped_early": state.stopped_early,
        "history": state.history,
        "meta": state.meta,
        "optimizer": {"param_groups": optim.get("param_groups", []), "state_keys": per_param},
    }
    from safetensors.torch import save_file

    sweep_orphans(path.parent, path.name)  # what an earlier save killed mid-write left behind
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"state": json.dumps(header, sort_keys=True)})


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive while the block runs act when it ends (their own handlers, then: Ctrl-C's
    KeyboardInterrupt, the command line's unwinding, or the default ending of the process), so files written
    together are never left one new and one old by them.  Outside the main thread (where handlers cannot be set)
    the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held: dict[int, Any] = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is None:  # a handler set outside Python: left as it is
            continue
        held[number] = signal.signal(number, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for number, handler in held.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(caught):
            signal.raise_signal(number)


def save_epoch(state_file: Path, state: TrainState, *, improved: bool, write_checkpoint: Callable[[], None]) -> None:
    """The files a finished epoch writes: the training state, then, when the epoch improved, its best checkpoint
    (``write_checkpoint``), with SIGINT and SIGTERM held until both are written.  The state goes first: a crash
    between the two leaves a state whose last epoch (its weights) is the best one, from which a resumed run writes
    the checkpoint (:func:`checkpoint_to_rewrite`)."""
    with deferred_signals():
        save_state(state_file, state)
        if improved:
            write_checkpoint()


def checkpoint_to_rewrite(checkpoint: Path, state: TrainState, config: Any) -> bool:
    """Whether a resumed run must write its best checkpoint again from the state's weights before going on.

    The checkpoint beside the state must be this run's (its model config, and its recorded history the
    state's) at the state's best epoch.  When it is not (missing, unreadable, another run's, an earlier epoch's:
    a crash between the two files of :func:`save_epoch`) and the state's last epoch is its best, the state holds
    the best weights: True.  A checkpoint one epoch ahead of the state (written first by earlier versions) is
    left to the epoch trained again.  Otherwise the best epoch's weights are gone, and going on would report a
    best epoch the file does not hold: an :class:`~core.errors.InputError`, before any work.
    """
    from core.errors import InputError

    if state.best_epoch == 0:  # no epoch has improved yet: there is no best checkpoint to have
        return False
    recorded = _recorded_best_epoch(checkpoint, state, config)
    if recorded == state.best_epoch:
        return False
    if state.best_epoch == state.epoch:
        return True
    if recorded == state.epoch + 1:
        return False
    if not checkpoint.exists():
        raise InputError(f"cannot resume: the checkpoint of best epoch {state.best_epoch} is missing (the training state holds the "
                         f"weights of epoch {state.epoch} only); put it back or pass --fresh to start over", checkpoint)
    found = "another run's checkpoint" if recorded is None else f"epoch {recorded}'s"
    raise InputError(f"cannot resume: the checkpoint here is not this run's best epoch {state.best_epoch} ({found}); put it "
                     "back or pass --fresh to start over", checkpoint)


def _recorded_best_epoch(checkpoint: Path, state: TrainState, config: Any) -> int | None:
    """The best epoch a checkpoint records when it is this run's (``config``, and a history agreeing with the
    state's on their common epochs, every loss to the last bit); None for a missing, unreadable or foreign one."""
    from core.models.checkpoint import read_checkpoint_info

    try:
        info = read_checkpoint_info(checkpoint)
    except (CheckpointError, OSError):
        return None
    best, history = info.extra.get("best_epoch"), info.extra.get("history")
    if info.config != config or isinstance(best, bool) or not isinstance(best, int) or not isinstance(history, list) or len(history) != best:
        return None
    common = min(len(history), len(state.history))
    same = json.dumps(history[:common], sort_keys=True) == json.dumps(state.history[:common], sort_keys=True)
    return best if same else None


def load_state(path: Path) -> TrainState:
    """Read a state file; a damaged or foreign one is a :class:`CheckpointError` (rerun with --fresh).  A name that
    is not UTF-8 (beside a ``train --out`` named so) is opened through its descriptor (:mod:`core.utf8_name`)."""
    from safetensors import SafetensorError, safe_open

    try:
        with utf8_name(path) as name, safe_open(name, framework="pt", device="cpu") as handle:
            header = json.loads((handle.metadata() or {}).get("state", "null"))
            if not isinstance(header, dict) or header.get("format") != STATE_FORMAT:
                raise CheckpointError("is not a training state file written by this program; remove it or pass --fresh", path)
            if header.get("version") != STATE_VERSION:
                raise CheckpointError(f"training state version {header.get('version')!r} is not supported; pass --fresh", path)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RecursionError) as err:
        raise CheckpointError(f"the training state cannot be read ({' '.join(str(err).split())}); pass --fresh to start over", path) from None
    if "digest" in header and header["digest"] != tensors_digest(tensors):  # states written before digests have none
        raise CheckpointError("the training state is damaged (its weights do not match their checksum); pass --fresh to start over", path)
    try:
        return _state_from(header, tensors)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"the training state is damaged ({type(err).__name__}: {err}); pass --fresh to start over", path) from None


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """A SHA-256 over the tensors' names, types, shapes and bytes: a state whose weights a flipped bit changed
    resumed silently into another model (its header and sizes still read)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}\n".encode("utf-8"))
        if value.numel():
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def videos_fingerprint(paths: Sequence[Path]) -> str:
    """A short hash of each video file's path, size and modification time: videos replaced or edited in place under
    the same names (a dataset generated again, re-encoded) are other data, which a resumed run must not mix with
    the epochs already trained (their best epoch was chosen on the old videos)."""
    from core.data.flow_survey import file_key

    digest = hashlib.sha256()
    for path in sorted({os.fspath(p) for p in paths}):
        digest.update(f"{file_key(path)}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def _state_from(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> TrainState:
    """The state a header and its tensors describe; a field of the wrong type raises."""
    def whole(name: str) -> int:
        value = header[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        return value

    def flag(name: str) -> bool:
        if not isinstance(header[name], bool):
            raise ValueError(f"{name} must be true or false, got {header[name]!r}")
        return header[name]

    if not isinstance(header["history"], list) or not isinstance(header["meta"], dict):
        raise ValueError("history must be a list and meta an object")
    model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    optim_header = header.get("optimizer", {})
    optim_state = {
        int(index): {name: tensors[f"optim.{index}.{name}"] for name in names}
        for index, names in optim_header.get("state_keys", {}).items()
    }
    return TrainState(
        epoch=whole("epoch"),
        best_epoch=whole("best_epoch"),
        best_monitor=float(header["best_monitor"]),
        bad_epochs=whole("bad_epochs"),
        finished=flag("finished"),
        stopped_early=flag("stopped_early"),
        history=list(header["history"]),
        meta=dict(header["meta"]),
        model_state=model_state,
        optimizer_state={"state": optim_state, "param_groups": optim_header.get("param_groups", [])},
    )


def begin_run(state: TrainState | None, meta: dict[str, Any], *, restore: Callable[[TrainState], None],
              log: Callable[[str], None], state_file: Path) -> TrainState:
    """The state a run goes on from: the resumable one (``restore`` puts its weights and optimiser
    back), or a fresh one; either way with this run's ``meta``."""
    if state is not None:
        restore(state)
        log(f"resuming after epoch {state.epoch} (best epoch {state.best_epoch}) from {state_file}")
    else:
        state = TrainState.fresh(meta)
    state.meta = meta
    return state


# Settings that may change between an interrupted run and its continuation.
RESUMABLE_CHANGES = ("epochs", "patience", "device", "extract_workers", "flow_batch")
SAME_DATA = (("dataset_root", "dataset folder"), ("split_fingerprint", "split (videos added, removed or moved)"),
             ("videos", "videos (files replaced or edited under the same names)"))
KEYS_ADDED_LATER = frozenset({"videos"})  # absent from states written before: not compared


def resumable_state(state_file: Path, settings: Any, meta: dict[str, Any], must_match: Sequence[tuple[str, str]] = SAME_DATA) -> TrainState | None:
    """The interrupted run's state beside the checkpoint, or None when there is none.

    Its settings (but :data:`RESUMABLE_CHANGES`) and each ``meta`` key of
    ``must_match`` (key, what it is) must equal this run's, else an
    :class:`~core.errors.InputError` says what differs.  A run that finished
    its epochs without stopping early goes on when more epochs are asked for.
    """
    from core.errors import InputError
    from core.training.settings import TrainSettings

    if not state_file.exists():
        return None
    state = load_state(state_file)
    saved = TrainSettings.from_dict(state.meta.get("settings", {}))
    changed = settings.differences(saved, ignore=RESUMABLE_CHANGES)
    if changed:
        raise InputError(f"the training state beside this checkpoint was made with other settings ({', '.join(changed)} differ); pass --fresh to start over", state_file)
    for key, what in must_match:
        if key in KEYS_ADDED_LATER and key not in state.meta:
            continue
        if state.meta.get(key) != meta[key]:
            raise InputError(f"cannot resume: the {what} differs from the interrupted run's; pass --fresh to start over", state_file)
    state.settle(epochs=settings.epochs, patience=settings.patience)  # as an uninterrupted run with these would stand
    if not state.finished and state.epoch > settings.epochs:
        raise InputError(f"the interrupted run has trained {state.epoch} epochs already, more than --epochs {settings.epochs}: pass --epochs "
                         f"{state.epoch} or more to go on, or --fresh to start over", state_file)
    return state
