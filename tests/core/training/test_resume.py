"""A resumed run ends where an uninterrupted one with the same settings ends, and the checkpoint beside its
state is always the state's best epoch: patience and epochs changed on resume, a kill between the two files an
epoch writes, a crash between them on a machine whose rerun of an epoch comes out otherwise (a GPU, another
device), and a checkpoint replaced by another run's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from core.errors import InputError
from core.models.checkpoint import read_checkpoint_info
from core.synth import generate_dataset
from core.training import TrainSettings, train
from core.training.state import load_state, state_path
from training_helpers import small_settings, write_colour_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    return write_colour_dataset(tmp_path_factory.mktemp("colours") / "data")


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("resume") / "synth"
    generate_dataset(data, clips_per_class=3, size=32, frames=10, seed=5)
    return data


def convnet(**changes) -> TrainSettings:
    base = dict(model="convnet", tiny_width=8, input_size=32, flow_length=2, snippets=1, epochs=4, batch_size=8, lr=3e-3,
                patience=50, device="cpu", val_fraction=0.34, test_fraction=0.0)
    base.update(changes)
    return TrainSettings(**base)


FAMILIES = {"transformer": ("core.models.transformer.train.trainer", "_Run"), "convnet": ("core.training.end_to_end", "_FamilyRun")}
_REAL_EVALUATE: dict[str, object] = {}


def script_validation(monkeypatch, family: str, losses: list[float]) -> None:
    """Each validation pass of ``family``'s trainer reports the next of ``losses`` (its accuracy stays real)."""
    import importlib

    module, name = FAMILIES[family]
    run_class = getattr(importlib.import_module(module), name)
    scripted = iter(losses)
    evaluate = _REAL_EVALUATE.setdefault(family, run_class._evaluate)  # not a script set earlier in the test
    monkeypatch.setattr(run_class, "_evaluate", lambda run, *args: (next(scripted), evaluate(run, *args)[1]))


def data_and_settings(family: str, colours: Path, synth: Path, **changes):
    return (colours, small_settings(**changes)) if family == "transformer" else (synth, convnet(**changes))


def weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def same_weights(a: Path, b: Path) -> bool:
    x, y = weights(a), weights(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


# -- epochs and patience changed on resume ----------------------------------------------------------


def test_more_epochs_after_patience_ran_out_on_the_last_epoch_stop_where_an_uninterrupted_run_stops(colours, tmp_path, monkeypatch):
    """--epochs 4 --patience 2: epochs 3 and 4 did not improve, so the run ended with all epochs run.  Rerun with
    --epochs 10, it trained epoch 5, and kept it as the best: an uninterrupted --epochs 10 run stops after epoch 4."""
    losses = [1.0, 0.8, 0.9, 0.95, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    script_validation(monkeypatch, "transformer", list(losses))
    whole = train(colours, small_settings(epochs=10, patience=2), tmp_path / "whole.safetensors")
    assert whole.stopped_early and whole.epochs_run == 4 and whole.best_epoch == 2

    script_validation(monkeypatch, "transformer", list(losses))
    first = train(colours, small_settings(epochs=4, patience=2), tmp_path / "parts.safetensors")
    assert not first.stopped_early and first.epochs_run == 4
    resumed = train(colours, small_settings(epochs=10, patience=2), tmp_path / "parts.safetensors")
    assert (resumed.epochs_run, resumed.best_epoch, resumed.stopped_early) == (4, 2, True)
    assert read_checkpoint_info(resumed.checkpoint).extra["best_epoch"] == 2
    assert same_weights(resumed.checkpoint, whole.checkpoint)


def test_more_patience_after_an_early_stop_goes_on_from_the_last_epoch(colours, tmp_path, monkeypatch):
    """A run that stopped early was "already finished" whatever --patience the rerun gave: the only way on was
    --fresh, every epoch trained again.  With more patience it goes on as an uninterrupted run with it would."""
    losses = [1.0, 0.8, 0.9, 0.95, 0.5, 0.6]
    script_validation(monkeypatch, "transformer", list(losses))
    whole = train(colours, small_settings(epochs=6, patience=3), tmp_path / "whole.safetensors")
    assert not whole.stopped_early and whole.best_epoch == 5

    script_validation(monkeypatch, "transformer", list(losses))
    first = train(colours, small_settings(epochs=6, patience=2), tmp_path / "parts.safetensors")
    assert first.stopped_early and first.epochs_run == 4
    assert train(colours, small_settings(epochs=6, patience=2), tmp_path / "parts.safetensors").already_finished
    resumed = train(colours, small_settings(epochs=6, patience=3), tmp_path / "parts.safetensors")
    assert resumed.resumed_from_epoch == 4 and resumed.epochs_run == 6 and resumed.best_epoch == 5 and not resumed.stopped_early
    assert same_weights(resumed.checkpoint, whole.checkpoint)


def test_less_patience_on_resume_stops_without_another_epoch(colours, tmp_path, monkeypatch):
    """Interrupted after epoch 4 with two epochs gone without a better loss, rerun with --patience 2: it trained
    epoch 5 (and kept it, as it improved), where an uninterrupted run with --patience 2 had stopped at epoch 4."""
    from core.errors import Cancelled
    from core.progress import CancelToken

    script_validation(monkeypatch, "transformer", [1.0, 0.8, 0.9, 0.95, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    cancel = CancelToken()
    log = lambda line: cancel.cancel() if line.startswith("epoch   4/") else None  # noqa: E731
    with pytest.raises(Cancelled):
        train(colours, small_settings(epochs=10, patience=5), tmp_path / "m.safetensors", cancel=cancel, log=log)
    assert load_state(state_path(tmp_path / "m.safetensors")).bad_epochs == 2
    resumed = train(colours, small_settings(epochs=10, patience=2), tmp_path / "m.safetensors")
    assert (resumed.epochs_run, resumed.best_epoch, resumed.stopped_early) == (4, 2, True)


# -- the two files an epoch writes --------------------------------------------------------------------


@pytest.mark.parametrize("family", ["transformer", "convnet"])
def test_ctrl_c_while_an_epoch_is_written_leaves_checkpoint_and_state_of_the_same_epoch(family, colours, synth, tmp_path, monkeypatch):
    """SIGINT (or SIGTERM) that lands between the best checkpoint and the training state: the checkpoint held epoch
    2 while the state said the run had finished epoch 1 with its best at 1; both are now written before it acts."""
    import core.models.checkpoint as checkpoint_module
    from core.models.transformer.train import trainer

    data, settings = data_and_settings(family, colours, synth, epochs=3)
    real = checkpoint_module.save_checkpoint
    saves = []

    def save_then_interrupt(*args, **kwargs):
        out = real(*args, **kwargs)
        saves.append(1)
        if len(saves) == 2:  # epoch 2's best checkpoint is on disk
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", save_then_interrupt)
    monkeypatch.setattr(trainer, "save_checkpoint", save_then_interrupt)
    script_validation(monkeypatch, family, [1.0, 0.8, 0.7])
    out = tmp_path / "m.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train(data, settings, out)
    state = load_state(state_path(out))
    assert state.epoch == state.best_epoch == read_checkpoint_info(out).extra["best_epoch"] == 2


@pytest.mark.parametrize("family", ["transformer", "convnet"])
def test_a_crash_between_the_two_files_keeps_the_best_checkpoint_of_the_reported_epoch(family, colours, synth, tmp_path, monkeypatch):
    """A crash (SIGKILL, power) between an improved epoch's checkpoint and its state: the rerun trained that epoch
    again, and where the rerun came out otherwise (a GPU, a resume on another device) and did not improve, the run
    reported its earlier best epoch while the file held the lost attempt's weights."""
    import core.models.checkpoint as checkpoint_module
    import core.training.end_to_end as end_to_end
    import core.training.state as state_module
    from core.models.transformer.train import trainer

    data, settings = data_and_settings(family, colours, synth, epochs=4)
    script_validation(monkeypatch, family, [1.0, 0.8, 0.5, 0.9])
    whole = train(data, settings, tmp_path / "whole.safetensors")
    assert whole.best_epoch == 3

    writes: list[str] = []

    class Crash(BaseException):
        pass

    def crashing(name, real):
        def write(*args, **kwargs):
            writes.append(name)
            if len(writes) == 6:  # the second file of epoch 3 (epochs 1-3 each improve: two files each)
                raise Crash()
            return real(*args, **kwargs)
        return write

    save_checkpoint = crashing("checkpoint", checkpoint_module.save_checkpoint)
    monkeypatch.setattr(checkpoint_module, "save_checkpoint", save_checkpoint)
    monkeypatch.setattr(trainer, "save_checkpoint", save_checkpoint)
    for module in (state_module, trainer, end_to_end):  # wherever the trainers look it up
        if hasattr(module, "save_state"):
            monkeypatch.setattr(module, "save_state", crashing("state", module.save_state))
    # validation of the same epoch comes out otherwise on the rerun (as on a GPU): 0.9, not 0.5
    script_validation(monkeypatch, family, [1.0, 0.8, 0.5, 0.9, 0.95])
    out = tmp_path / "m.safetensors"
    with pytest.raises(Crash):
        train(data, settings, out)
    resumed = train(data, settings, out)
    assert resumed.epochs_run == 4
    assert read_checkpoint_info(out).extra["best_epoch"] == resumed.best_epoch
    if resumed.best_epoch == whole.best_epoch:
        assert same_weights(out, whole.checkpoint)


def test_a_checkpoint_replaced_by_another_runs_is_refused_before_training(colours, tmp_path, monkeypatch):
    """The state said best epoch 1 and the epochs after it did not improve, so the file beside it was never written
    again: another run's checkpoint of the same model there was reported as this run's best, and eval scored it."""
    script_validation(monkeypatch, "transformer", [1.0, 1.2, 1.3, 1.4, 1.5])
    out = tmp_path / "m.safetensors"
    train(colours, small_settings(epochs=2), out)
    other = train(colours, small_settings(epochs=1, lr=1e-2), tmp_path / "other.safetensors")
    out.write_bytes(other.checkpoint.read_bytes())
    with pytest.raises(InputError, match=r"m\.safetensors: .*not this run's best epoch .*pass --fresh"):
        train(colours, small_settings(epochs=4), out)
    out.unlink()
    with pytest.raises(InputError, match=r"m\.safetensors: .*checkpoint of best epoch 1 is missing.*pass --fresh"):
        train(colours, small_settings(epochs=4), out)


def test_an_out_naming_another_runs_training_state_is_refused(colours, tmp_path):
    """``--out m.train-state.safetensors`` (the name beside ``m.safetensors`` that tab completion offers) trained a new
    model into run m's training state: m could only start over (--fresh) after that."""
    out = tmp_path / "m.safetensors"
    train(colours, small_settings(epochs=1), out)
    state = state_path(out).read_bytes()
    with pytest.raises(InputError, match=r"m\.train-state\.safetensors: is the name of a training state .*give the checkpoint"):
        train(colours, small_settings(epochs=1), state_path(out))
    assert state_path(out).read_bytes() == state
    assert train(colours, small_settings(epochs=2), out).epochs_run == 2
