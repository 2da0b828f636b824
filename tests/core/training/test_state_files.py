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


@pytest.mark.parametrize("extra", [{"train_settings": {}, "history": "all good"}, {"train_settings": {}, "split": [1, 2]},
                                   {"train_settings": {}, "best_epoch": "3"}], ids=["history", "split", "best_epoch"])
def test_a_training_record_of_the_wrong_shape_is_refused(extra: dict) -> None:
    with pytest.raises(InputError, match="the checkpoint's training record is damaged"):
        training_record(extra)
