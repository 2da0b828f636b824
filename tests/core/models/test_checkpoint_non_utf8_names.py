"""Checkpoints and training states saved under a name whose bytes are not UTF-8 (copied from an older system's
Latin-1 disk) load back: safetensors opens UTF-8 paths only, so such files are read through their descriptor."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.models import build_model, load_checkpoint, read_checkpoint_info, save_checkpoint
from core.training.state import TrainState, load_state, save_state, state_path
from non_utf8_names import non_utf8_path, only_where_names_need_not_be_utf8
from test_checkpoint import tiny_config

pytestmark = only_where_names_need_not_be_utf8


def test_a_checkpoint_saved_under_a_name_that_is_not_utf8_loads_back(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = tiny_config()
    model = build_model(config).eval()
    path = save_checkpoint(non_utf8_path(tmp_path, b"model\xff.safetensors"), model, extra={"epoch": 2})
    assert os.listdir(os.fsencode(tmp_path)) == [b"model\xff.safetensors"]  # that name, no temporary left beside it
    assert read_checkpoint_info(path).extra == {"epoch": 2}
    loaded, loaded_config = load_checkpoint(path, "cpu")
    assert loaded_config == config
    expected = model.state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in loaded.state_dict().items())


def test_a_training_state_saved_beside_such_a_checkpoint_loads_back(tmp_path: Path) -> None:
    """``train --out model\\xff.safetensors`` ran, but the next run (resuming) stopped: "the training state cannot be
    read (Path ... is not valid UTF-8); pass --fresh to start over"."""
    state = TrainState.fresh({"settings": {"epochs": 3}})
    state.model_state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    state.epoch, state.history = 1, [{"epoch": 1, "loss": 0.5}]
    path = state_path(non_utf8_path(tmp_path, b"model\xff.safetensors"))
    save_state(path, state)
    assert os.listdir(os.fsencode(tmp_path)) == [b"model\xff.train-state.safetensors"]
    loaded = load_state(path)
    assert loaded.epoch == 1 and loaded.history == [{"epoch": 1, "loss": 0.5}] and loaded.meta == {"settings": {"epochs": 3}}
    assert torch.equal(loaded.model_state["w"], state.model_state["w"])
