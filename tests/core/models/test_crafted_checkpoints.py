"""A crafted checkpoint cannot make loading allocate without bound, run long or predict from garbage.

Every config field is type- and range-checked before anything is built (the error names the field
and the value), and the tensor names and shapes in the file's header are compared with the model
built on the meta device before any weight is read.  On the command line each case is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import main
from core.errors import CheckpointError
from core.models.checkpoint import load_checkpoint, save_checkpoint
from core.models.convnet import ConvNetConfig, build_convnet
from core.models.repflow import RepFlowConfig, build_repflow
from core.models.transformer import TransformerConfig, build_transformer

CLASSES = ["a", "b", "c"]


def edited(path: Path, out: Path, change: Callable[[dict], Any], *, raw: str | None = None) -> Path:
    """A copy of ``path`` whose config JSON is changed (or replaced by ``raw`` text)."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    data = json.loads(metadata["config"])
    change(data)
    metadata["config"] = raw if raw is not None else json.dumps(data)
    save_file(load_file(str(path)), str(out), metadata=metadata)
    return out


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("crafted")
    torch.manual_seed(0)
    transformer = TransformerConfig.create(backbone="tiny", class_names=CLASSES, backbone_options={"dim": 16}, input_size=32,
                                           clip_length=8, fusion={"heads": 2, "head_dim": 8, "depth": 1})
    convnet = ConvNetConfig.create(backbone="tiny", class_names=CLASSES, backbone_options={"width": 8}, input_size=32, flow_length=2)
    repflow = RepFlowConfig.create(backbone="tiny", class_names=CLASSES, backbone_options={"width": 8}, input_size=32, clip_length=4)
    return {
        "transformer": save_checkpoint(folder / "transformer.safetensors", build_transformer(transformer)),
        "convnet": save_checkpoint(folder / "convnet.safetensors", build_convnet(convnet)),
        "repflow": save_checkpoint(folder / "repflow.safetensors", build_repflow(repflow)),
    }


def fusion(**values: Any) -> Callable[[dict], None]:
    return lambda data: data["fusion"].update(values)


def field(**values: Any) -> Callable[[dict], None]:
    return lambda data: data.update(values)


CASES = [
    ("transformer", fusion(depth=10**9), "fusion depth must be an integer from 1 to 48, got 1000000000"),
    ("transformer", fusion(heads=10**6), "fusion heads must be an integer from 1 to 64, got 1000000"),
    ("transformer", fusion(head_dim=10**7), "fusion head_dim must be an integer from 1 to 512"),
    ("transformer", fusion(mlp_ratio=1e9), "fusion mlp_ratio must be a finite number in (0, 16]"),
    ("transformer", fusion(heads=64, head_dim=512, depth=48), "would hold about"),
    ("transformer", fusion(spatial_pool=5), "spatial_pool 5 is larger than the 2x2 token grid"),
    ("transformer", fusion(rgb_time_pool="yes"), "fusion rgb_time_pool must be true or false, got 'yes'"),
    ("transformer", field(clip_length=10**7), "clip_length must be an integer from 1 to 512, got 10000000"),
    ("transformer", field(input_size=10**6), "input_size must be an integer from 16 to 1024, got 1000000"),
    ("transformer", field(frame_stride=1.5), "frame_stride must be an integer from 1 to 64, got 1.5"),
    ("transformer", field(std=[float("inf"), 1, 1]), "std (R) must be a finite number in [0.001, 10], got inf"),
    ("transformer", field(mean=["0.4", 0.4, 0.4]), "mean (R) must be a finite number in [-10, 10], got '0.4'"),
    ("transformer", field(std=[0.2, 0.2]), "std must be 3 numbers (R, G, B), got (0.2, 0.2)"),
    ("transformer", field(class_names=["a", 7, "c"]), "class_names must hold non-empty strings"),
    ("transformer", field(backbone_options={"dim": 10**8}), "tiny backbone option dim must be an integer from 8 to 2048"),
    ("transformer", field(backbone_options=[1, 2]), "backbone_options must be an object"),
    ("convnet", field(flow_length=10**6), "flow_length must be an integer from 1 to 64, got 1000000"),
    ("convnet", field(test_snippets=10**9), "test_snippets must be an integer from 1 to 250"),
    ("convnet", field(backbone_options={"width": 10**6}), "tiny backbone width must be an integer from 4 to 1024"),
    ("convnet", field(flow_bound=float("nan")), "flow_bound must be a finite number in [0, 1000], got nan"),
    ("repflow", field(iterations=10**8), "iterations must be an integer from 1 to 200"),
    ("repflow", field(clip_length=10**6), "clip_length must be an integer from 1 to 512"),
    ("repflow", field(theta=-1.0), "theta must be a finite number in (0, 100], got -1.0"),
]


@pytest.mark.parametrize("family,change,message", CASES, ids=[f"{c[0]}-{c[2][:28]}" for c in CASES])
def test_a_bad_config_field_is_named_before_anything_is_built(checkpoints, tmp_path, family, change, message) -> None:  # noqa: ANN001
    path = edited(checkpoints[family], tmp_path / "crafted.safetensors", change)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_deeply_nested_config_is_refused_in_one_line(checkpoints, tmp_path) -> None:  # noqa: ANN001
    nested = '{"backbone": "tiny", "class_names": ["a"], "backbone_options": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = edited(checkpoints["transformer"], tmp_path / "nested.safetensors", lambda data: None, raw=nested)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(path)


def test_shapes_are_compared_from_the_header_before_any_weight_is_read(checkpoints, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A config whose model has other shapes than the file's tensors is refused from the header alone."""
    path = edited(checkpoints["convnet"], tmp_path / "other.safetensors", field(flow_length=3))
    import safetensors.torch

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the weights were read before their shapes were checked")

    monkeypatch.setattr(safetensors.torch, "load_file", no_reading)
    with pytest.raises(CheckpointError, match=r"weights do not fit a convnet tiny/late model: flow_stream.trunk.conv1.weight has shape \(8, 4, 3, 3\), expected \(8, 6, 3, 3\)"):
        load_checkpoint(path)


@pytest.mark.parametrize("change", [fusion(depth=10**9), field(std=[float("inf"), 1.0, 1.0])], ids=["depth", "inf-std"])
def test_the_command_line_says_one_line_and_exits_2(checkpoints, tmp_path, capsys, change) -> None:  # noqa: ANN001
    from media import write_video

    path = edited(checkpoints["transformer"], tmp_path / "crafted.safetensors", change)
    video = write_video(tmp_path / "clip.mp4", 12, size=(48, 32))
    assert main.main(["classify", str(video), "--checkpoint", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: bad model config in the checkpoint: ")


def test_a_pickle_that_carries_code_is_refused_in_one_line_on_stderr(tmp_path, capfd) -> None:  # noqa: ANN001
    """Nothing else on the stderr file descriptor (no library warning before our line), and the code never runs."""
    import os

    from media import write_video

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    evil = tmp_path / "model.pt"
    torch.save({"weights": Payload()}, evil)
    video = write_video(tmp_path / "clip.mp4", 12, size=(48, 32))
    capfd.readouterr()
    assert main.main(["classify", str(video), "--checkpoint", str(evil), "--device", "cpu"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"error: {evil}: is a PyTorch pickle that carries code, refused: it could run code when loaded; checkpoints are .safetensors files"]
    assert not (tmp_path / "ran").exists()
