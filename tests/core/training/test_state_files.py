"""A training state file or a checkpoint's training record with fields of the wrong type is data gone
bad: one line naming the file (exit 2 on the command line), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from core.errors import CheckpointError, InputError
from core.training.result import training_record
from core.training.state import TrainState, load_state, save_state


def rewritten_state(path: Path, out: Path, **changes) -> Path:
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    header = json.loads(metadata["state"])
    header.update(changes)
    metadata["state"] = json.dumps(header)
    save_file(load_file(str(path)), str(out), metadata=metadata)
    return out


@pytest.mark.parametrize("changes", [{"epoch": "x"}, {"finished": "yes"}, {"bad_epochs": -3}, {"history": {}}, {"best_monitor": "low"}],
                         ids=["epoch", "finished", "bad_epochs", "history", "best_monitor"])
def test_a_state_field_of_the_wrong_type_is_a_one_line_error(tmp_path: Path, changes: dict) -> None:
    state = TrainState.fresh({"settings": {}})
    state.model_state = {"w": torch.zeros(2)}
    path = tmp_path / "run.state"
    save_state(path, state)
    assert load_state(path).epoch == 0
    bad = rewritten_state(path, tmp_path / "bad.state", **changes)
    with pytest.raises(CheckpointError, match="the training state is damaged") as caught:
        load_state(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


def test_a_state_whose_header_is_nested_too_deep_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.state"
    save_file({"w": torch.zeros(1)}, str(bad), metadata={"state": "[" * 100000 + "]" * 100000})  # json.loads: RecursionError
    with pytest.raises(CheckpointError, match="the training state cannot be read") as caught:
        load_state(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("extra", [{"train_settings": {}, "history": "all good"}, {"train_settings": {}, "split": [1, 2]},
                                   {"train_settings": {}, "best_epoch": "3"}], ids=["history", "split", "best_epoch"])
def test_a_training_record_of_the_wrong_shape_is_refused(extra: dict) -> None:
    with pytest.raises(InputError, match="the checkpoint's training record is damaged"):
        training_record(extra)


def _saved_state(path: Path, *, epoch: int = 3, meta: dict | None = None) -> Path:
    from core.training.settings import TrainSettings

    state = TrainState.fresh({"settings": TrainSettings(epochs=6).to_dict(), "dataset_root": "/data", "split_fingerprint": "abc",
                              **(meta or {})})
    state.epoch = state.best_epoch = epoch
    state.model_state = {"head.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4), "head.bias": torch.zeros(3)}
    save_state(path, state)
    return path


def test_a_state_whose_weights_changed_on_disk_is_refused(tmp_path: Path) -> None:
    """One flipped bit in a weight resumed silently into another model (the header and sizes still read)."""
    path = _saved_state(tmp_path / "run.train-state.safetensors")
    assert torch.equal(load_state(path).model_state["head.weight"], torch.arange(12, dtype=torch.float32).reshape(3, 4))
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"run.train-state.safetensors: the training state is damaged \(its weights do not match"):
        load_state(path)


def _meta(videos: str | None) -> dict:
    from core.training.settings import TrainSettings

    meta = {"settings": TrainSettings(epochs=6).to_dict(), "dataset_root": "/data", "split_fingerprint": "abc"}
    return meta if videos is None else {**meta, "videos": videos}


def test_resuming_on_videos_replaced_under_the_same_names_is_refused(tmp_path: Path) -> None:
    """A dataset generated again in place: the run went on, its best epoch chosen on the old videos."""
    from core.training.settings import TrainSettings
    from core.training.state import SAME_DATA, resumable_state, videos_fingerprint

    video = tmp_path / "a.mp4"
    video.write_bytes(b"first recording")
    before = videos_fingerprint([video])
    path = _saved_state(tmp_path / "run.state", meta={"videos": before})
    assert resumable_state(path, TrainSettings(epochs=6), _meta(before), SAME_DATA).epoch == 3
    video.write_bytes(b"another recording")
    after = videos_fingerprint([video])
    assert after != before
    with pytest.raises(InputError, match=r"cannot resume: the videos \(files replaced or edited under the same names\) differ"):
        resumable_state(path, TrainSettings(epochs=6), _meta(after), SAME_DATA)
    older = _saved_state(tmp_path / "older.state")  # written before videos were fingerprinted: resumed as before
    assert resumable_state(older, TrainSettings(epochs=6), _meta(after), SAME_DATA).epoch == 3


def test_resuming_with_fewer_epochs_than_already_trained_is_refused(tmp_path: Path) -> None:
    """It printed "done (all epochs run): best epoch 5 of 5" for --epochs 3, and so again on every rerun."""
    from core.training.settings import TrainSettings
    from core.training.state import SAME_DATA, resumable_state

    path = _saved_state(tmp_path / "run.state", epoch=5)
    with pytest.raises(InputError, match=r"has trained 5 epochs already, more than --epochs 3: pass --epochs 5 or more"):
        resumable_state(path, TrainSettings(epochs=3), _meta(None), SAME_DATA)
    assert resumable_state(path, TrainSettings(epochs=5), _meta(None), SAME_DATA).epoch == 5
