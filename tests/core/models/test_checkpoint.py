"""Checkpoints: exact round trips, and a clear one-line refusal for every bad file."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from core.errors import CheckpointError
from core.models import build_model, load_checkpoint, read_checkpoint_info, save_checkpoint
from core.models.transformer.config import TransformerConfig


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def tiny_config(classes=("walk", "run", "jump"), variant="fusion") -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny",
        class_names=list(classes),
        variant=variant,
        backbone_options={"dim": 16},
        input_size=32,
        clip_length=4,
        fusion={"heads": 2, "head_dim": 8, "depth": 1},
        flow_method="farneback",
        flow_encoding={"normalization": "clip", "max_radius": 7.5},
    )


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("variant", ["fusion", "concat", "rgb"])
def test_save_then_load_gives_identical_outputs_and_config(tmp_path, variant):
    config = tiny_config(variant=variant)
    model = build_model(config).eval()
    path = save_checkpoint(tmp_path / "model.safetensors", model, extra={"epoch": 3, "val_acc": 0.5})
    loaded, loaded_config = load_checkpoint(path, "cpu")
    assert loaded_config == config
    assert loaded_config.flow_encoding == {"normalization": "clip", "max_radius": 7.5}
    assert loaded_config.flow_frames == "t_plus_one"
    assert not loaded.training
    rgb, flow = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(rgb, flow), loaded(rgb, flow))
    info = read_checkpoint_info(path)
    assert info.extra == {"epoch": 3, "val_acc": 0.5}
    assert info.num_tensors == len(model.state_dict())
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left no temporary behind


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"weights": Payload()}))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = one_line(err)
    assert text.startswith(f"{path}: is a PyTorch pickle")
    assert "could run code" in text
    assert not marker.exists()
    # the same bytes under a .safetensors name are not unpickled either
    disguised = tmp_path / "evil.safetensors"
    disguised.write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match="PyTorch pickle"):
        load_checkpoint(disguised)
    assert not marker.exists()


def test_bare_pytorch_weights_are_refused_for_lacking_a_config(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(build_model(tiny_config()).state_dict(), path)
    with pytest.raises(CheckpointError, match="bare weights without a model config"):
        load_checkpoint(path)


def test_missing_empty_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="file does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # once read as an empty file; a device such as /dev/zero as an endless one
    with pytest.raises(CheckpointError, match=r"pipe.safetensors: is not a regular file"):
        load_checkpoint(fifo)
    from core.weights import load_state_dict_file

    with pytest.raises(CheckpointError, match=r"pipe.safetensors: is not a regular file"):
        load_state_dict_file(fifo)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty \(0 bytes\)"):
        load_checkpoint(empty)
    good = save_checkpoint(tmp_path / "good.safetensors", build_model(tiny_config()))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(truncated)
    assert one_line(err).startswith(f"{truncated}: not a readable safetensors checkpoint")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_checkpoint(garbage)


def _rewrite(src, dst, *, tensors=None, config=None, drop=(), add=None):
    """Copy a checkpoint, changing its tensors or its config metadata."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as handle:
        metadata = dict(handle.metadata())
        state = {k: handle.get_tensor(k) for k in handle.keys()}
    for key in drop:
        del state[key]
    state.update(add or {})
    state.update(tensors or {})
    if config is not None:
        metadata["config"] = json.dumps(config)
    save_file(state, str(dst), metadata=metadata)
    return dst


def test_wrong_class_count_keys_and_shapes_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", build_model(tiny_config()))
    config = read_checkpoint_info(path).config.to_dict()
    config["class_names"] = ["a", "b", "c", "d", "e"]
    bad = _rewrite(path, tmp_path / "classes.safetensors", config=config)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad)
    assert "wrong class count: the classifier has 3 outputs but the config lists 5 class names" in one_line(err)

    bad = _rewrite(path, tmp_path / "keys.safetensors", drop=["class_tokens"], add={"extra.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad)
    text = one_line(err)
    assert "1 missing keys (e.g. ['class_tokens'])" in text and "1 unexpected keys (e.g. ['extra.weight'])" in text

    bad = _rewrite(path, tmp_path / "shape.safetensors", tensors={"time_embed": torch.zeros(5, 16)})
    with pytest.raises(CheckpointError, match=r"time_embed has shape \(5, 16\), expected \(2, 16\)"):
        load_checkpoint(bad)

    nan = _rewrite(path, tmp_path / "nan.safetensors", tensors={"space_embed": torch.full((4, 16), float("nan"))})
    with pytest.raises(CheckpointError, match=r"non-finite weights \(NaN or inf\) in space_embed"):
        load_checkpoint(nan)

    whole = _rewrite(path, tmp_path / "int32.safetensors", tensors={"space_embed": torch.ones(4, 16, dtype=torch.int32)})
    with pytest.raises(CheckpointError, match="space_embed holds int32 values, expected floating-point weights"):
        load_checkpoint(whole)  # loading converted them without a word: every class came out at 1/N


def test_a_file_named_as_a_pickle_is_said_to_be_neither_and_safetensors_under_any_name_loads(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello, not weights\n")
    with pytest.raises(CheckpointError, match="is not a checkpoint: neither a PyTorch file nor a .safetensors one"):
        load_checkpoint(text)  # it was called a PyTorch pickle
    good = save_checkpoint(tmp_path / "good.safetensors", build_model(tiny_config()))
    renamed = tmp_path / "good.pth"
    renamed.write_bytes(good.read_bytes())
    assert load_checkpoint(renamed)[1].class_names == ("walk", "run", "jump")


def test_bad_or_missing_config_metadata(tmp_path):
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="no Two-Stream Viewer model config"):
        load_checkpoint(plain)
    path = save_checkpoint(tmp_path / "m.safetensors", build_model(tiny_config()))
    config = read_checkpoint_info(path).config.to_dict()
    config["variant"] = "late"
    bad = _rewrite(path, tmp_path / "variant.safetensors", config=config)
    with pytest.raises(CheckpointError, match="bad model config in the checkpoint: unknown variant 'late'"):
        load_checkpoint(bad)
    config["variant"] = "fusion"
    config["format_version"] = 99
    bad = _rewrite(path, tmp_path / "version.safetensors", config=config)
    with pytest.raises(CheckpointError, match="format version 99 is not supported"):
        load_checkpoint(bad)


def test_save_refuses_a_pickle_suffix_and_a_mismatched_config(tmp_path):
    model = build_model(tiny_config())
    with pytest.raises(CheckpointError, match="saved as .safetensors files"):
        save_checkpoint(tmp_path / "m.pt", model)
    with pytest.raises(ValueError, match="does not describe this model"):
        save_checkpoint(tmp_path / "m.safetensors", model, tiny_config(classes=("a", "b")))
